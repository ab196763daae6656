//! The typed test harness of the integration tests: [`TestApp`] runs the whole simulator in this process on random
//! ports, over a fresh database (on the one PostgreSQL cluster of the test run) with the demo population, the
//! simulated clock frozen at a given time, and the folder interface in a temporary directory. Its methods are the
//! things a vendor does: post a file, drop it in a folder, log in to the Web API, place a card, identify, consent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use onshi::host::{Host, ALL, MIGRATIONS};
use onshi_platform::config::Config;
use onshi_platform::http::Core;
use onshi_platform::testkit::{self, http, https};
use onshi_wire::msg::file_name::{web_api_path, MessageKind, WEB_API_LOGIN};
use onshi_wire::xml::{self, Element};

/// The demo clinic (医科).
pub const MED: &str = "1310112345";
/// The demo pharmacy.
pub const PHARMACY: &str = "1340140233";
/// The demo dental clinic.
pub const DENTAL: &str = "1330130129";
/// The simulated time most tests run at.
pub const NOW: &str = "2026-11-21T10:00:00";
/// The operator's token of every test app.
pub const OPERATOR: &str = "test-operator-token";

/// A terminal certificate and its key, as the portal issues them.
pub struct TerminalCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub sha256: String,
}

impl TerminalCert {
    pub fn pair(&self) -> (String, String) {
        (self.cert_pem.clone(), self.key_pem.clone())
    }
}

/// The whole simulator, started for one test.
pub struct TestApp {
    pub host: Host,
    pub core: Core,
    /// The plain HTTP address.
    pub addr: String,
    /// Root of the folder interface.
    pub folders: tempfile::TempDir,
    /// Where snapshots keep their files.
    pub snapshots: tempfile::TempDir,
}

impl TestApp {
    /// Every service, the folder interface on, the clock frozen at [`NOW`].
    pub async fn start() -> Self {
        Self::with(Config::default(), NOW).await
    }

    /// Every service with `config` (its folder root is replaced by a temporary one), the clock frozen at `now`
    /// (`YYYY-MM-DDTHH:MM:SS`).
    pub async fn with(config: Config, now: &str) -> Self {
        let folders = tempfile::tempdir().unwrap();
        let snapshots = tempfile::tempdir().unwrap();
        let config = Config {
            snapshot_dir: Some(snapshots.path().to_path_buf()),
            folder_root: Some(folders.path().to_path_buf()),
            folder_poll: Duration::from_millis(50),
            operator_token_sha256: Some(onshi_platform::sha256_hex(OPERATOR.as_bytes())),
            chain_key: Some("test-chain-key".into()),
            checkpoint_dir: Some(folders.path().join(".checkpoints")),
            ..config
        };
        let core = testkit::core(MIGRATIONS, config).await;
        core.clock.set_frozen(true).await.unwrap();
        core.clock
            .set(onshi_platform::clock::parse_time(now).unwrap())
            .await
            .unwrap();
        onshi_seed::demo::load(&core).await.unwrap();
        let host = Host::start(core.clone(), ALL, "127.0.0.1:0").await.unwrap();
        Self {
            addr: host.addr.to_string(),
            host,
            core,
            folders,
            snapshots,
        }
    }

    /// The TLS listener's address (configure `tls_bind`).
    pub fn tls(&self) -> String {
        self.host.tls_addr.expect("the TLS listener").to_string()
    }

    /// The simulator CA's certificate (PEM).
    pub async fn ca(&self) -> String {
        onshi_portal::ca(&self.core.pool).await.unwrap().cert_pem
    }

    /// Stops the simulator, after checking every XML answer it gave (as its journal kept them) against the
    /// schema of its message (`wire/xsd/`, with xmllint when installed).
    pub async fn stop(self) {
        validate_answers(&self.host.controls.journal);
        self.host.stop().await;
    }

    /// Makes the eligibility service catch up with the feeds now.
    pub async fn sync(&self) {
        self.host
            .eligibility
            .as_ref()
            .unwrap()
            .sync()
            .await
            .unwrap();
    }

    // ---- request files -------------------------------------------------------------------------------------

    /// A two-step bulk flow over HTTP: step 1 (`<stem>01req`), then step 2 polled as `facility` until it is no
    /// longer 処理中; returns the step-2 answer.
    pub async fn two_step(&self, stem: &str, facility: &str, body: &[u8]) -> Element {
        let r = self.post_file(&format!("{stem}01req_t.xml"), body).await;
        let receipt = tree(&r.body);
        let number = child(&receipt, &["MessageBody"])
            .value("ReceptionNumber")
            .unwrap_or_else(|| panic!("{}", r.text()))
            .to_string();
        let poll = format!(
            "<XmlMsg><MessageHeader><MedicalInstitutionCode>{facility}</MedicalInstitutionCode></MessageHeader>\
             <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
        );
        for _ in 0..200 {
            let t = tree(
                &self
                    .post_file(&format!("{stem}02req_p.xml"), poll.as_bytes())
                    .await
                    .body,
            );
            if child(&t, &["MessageHeader"]).value("SegmentOfResult") != Some("2") {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the {stem} job never finished");
    }

    /// `POST /oqs/v1/req/<name>` over plain HTTP.
    pub async fn post_file(&self, name: &str, body: &[u8]) -> http::Reply {
        http::send(
            &self.addr,
            "POST",
            &format!("/oqs/v1/req/{name}"),
            &[],
            body,
        )
        .await
    }

    /// `POST /oqs/v1/req/<name>` over the TLS listener with a terminal certificate.
    pub async fn post_file_tls(&self, cert: &TerminalCert, name: &str, body: &[u8]) -> http::Reply {
        https::send(
            &self.tls(),
            &self.ca().await,
            Some(cert.pair()),
            "POST",
            &format!("/oqs/v1/req/{name}"),
            &[],
            body,
        )
        .await
        .unwrap()
    }

    /// The folder of a facility (`<root>/<code>`).
    pub fn folder(&self, code: &str) -> PathBuf {
        self.folders.path().join(code)
    }

    /// Drops a request file in a facility's `req/` and waits for `res/<answer>`; returns the answer's bytes.
    pub async fn drop_in_folder(
        &self,
        code: &str,
        name: &str,
        body: &[u8],
        answer: &str,
    ) -> Vec<u8> {
        let dir = self.folder(code);
        std::fs::write(dir.join("req").join(name), body).unwrap();
        wait_for(&dir.join("res").join(answer)).await
    }

    // ---- the Web API ---------------------------------------------------------------------------------------

    /// Logs a facility in with its demo secret; returns the `idToken`.
    pub async fn login(&self, code: &str) -> String {
        let r = http::post_json(
            &self.addr,
            WEB_API_LOGIN,
            &serde_json::json!({"MedicalInstitutionCode": code, "ClientSecret": format!("demo-secret-{code}")}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["result"]["idToken"].as_str().unwrap().to_string()
    }

    /// Posts a JSON body to the Web API path of `kind` with `Authorization: <token>`.
    pub async fn web_api(&self, kind: MessageKind, token: &str, body: &[u8]) -> http::Reply {
        http::send(
            &self.addr,
            "POST",
            web_api_path(kind).unwrap(),
            &[("Authorization", token)],
            body,
        )
        .await
    }

    // ---- the portal ----------------------------------------------------------------------------------------

    /// Sends a JSON request as the operator.
    pub async fn as_operator(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> http::Reply {
        let auth = format!("Bearer {OPERATOR}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        http::send(
            &self.addr,
            method,
            path,
            &headers,
            body.to_string().as_bytes(),
        )
        .await
    }

    /// Issues a terminal certificate through the portal API (the read model follows before it returns).
    pub async fn issue_certificate(&self, code: &str, valid_days: i64) -> TerminalCert {
        let r = self
            .as_operator(
                "POST",
                &format!("/portal/v1/facilities/{code}/certificates"),
                serde_json::json!({"terminal": "T1", "valid_days": valid_days}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let j = r.json();
        self.sync().await;
        TerminalCert {
            cert_pem: j["cert_pem"].as_str().unwrap().to_string(),
            key_pem: j["key_pem"].as_str().unwrap().to_string(),
            sha256: j["certificate"]["sha256"].as_str().unwrap().to_string(),
        }
    }

    // ---- the card reader -----------------------------------------------------------------------------------

    /// Posts JSON to a path; returns the status and the JSON answer.
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = http::post_json(&self.addr, path, &body).await;
        (r.status, r.json())
    }

    /// Places a card on terminal T1 of a facility's reader.
    pub async fn place_card(&self, facility: &str, serial: &str) -> (u16, serde_json::Value) {
        self.post_json(
            &format!("/reader/v1/{facility}/sessions"),
            serde_json::json!({"terminal": "T1", "card_serial": serial}),
        )
        .await
    }

    /// Identifies the card holder: `{"method":"face","match":…}` or `{"method":"pin","pin":…}`.
    pub async fn identify(
        &self,
        facility: &str,
        session: &str,
        how: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.post_json(
            &format!("/reader/v1/{facility}/sessions/{session}/identify"),
            how,
        )
        .await
    }

    /// Answers the consent screens (e.g. `{"medication":true}`).
    pub async fn consent(
        &self,
        facility: &str,
        session: &str,
        consents: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.post_json(
            &format!("/reader/v1/{facility}/sessions/{session}/consent"),
            consents,
        )
        .await
    }

    /// Places a card and identifies its holder (`how`: the identify body); returns the session.
    pub async fn place_and_identify(
        &self,
        facility: &str,
        serial: &str,
        how: serde_json::Value,
    ) -> String {
        let (_, j) = self.place_card(facility, serial).await;
        let id = j["session"].as_str().unwrap().to_string();
        self.identify(facility, &id, how).await;
        id
    }

    /// The whole flow with a PIN, consenting to medication: place, identify, consent (asserts success).
    pub async fn consent_with_pin(&self, facility: &str, serial: &str, pin: &str) {
        self.consent_to(
            facility,
            serial,
            pin,
            serde_json::json!({"medication": true}),
        )
        .await;
    }

    /// The whole flow with a PIN, answering the consent screens with `consents` (asserts success).
    pub async fn consent_to(
        &self,
        facility: &str,
        serial: &str,
        pin: &str,
        consents: serde_json::Value,
    ) {
        let how = serde_json::json!({"method": "pin", "pin": pin});
        let id = self.place_and_identify(facility, serial, how).await;
        let (status, j) = self.consent(facility, &id, consents).await;
        assert_eq!(status, 200, "{j}");
    }
}

/// Waits for a file to appear and be whole, as a client of the real terminal software does: answers are created
/// under their final name and then written, so the file is taken once it is not empty and has not changed between
/// two reads (the folder interface answers within a fraction of a second).
pub async fn wait_for(path: &Path) -> Vec<u8> {
    let mut last: Option<Vec<u8>> = None;
    for _ in 0..200 {
        match std::fs::read(path) {
            Ok(b) if !b.is_empty() && last.as_ref() == Some(&b) => return b,
            Ok(b) => last = Some(b),
            Err(_) => last = None,
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no whole {} after 5 s", path.display());
}

/// Checks the XML answers of a journal against their message's XSD (the schemas vendors validate with).
fn validate_answers(journal: &onshi_platform::control::journal::Journal) {
    use onshi_platform::control::journal::Query;
    let Ok(entries) = journal.query(&Query {
        limit: Some(usize::MAX),
        ..Default::default()
    }) else {
        return;
    };
    let mut by_type: std::collections::BTreeMap<String, Vec<Vec<u8>>> = Default::default();
    for e in entries
        .iter()
        .filter(|e| e.transport != "webapi" && !e.bodies_cut)
    {
        let Some(answer) = journal.get(e.id).and_then(|f| f.answer) else {
            continue;
        };
        if xml::parse(&answer, &Default::default()).is_ok_and(|d| d.root.name == "XmlMsg") {
            by_type
                .entry(format!("{}res", e.kind))
                .or_default()
                .push(answer);
        }
    }
    if by_type.is_empty()
        || !crate::documents::tool_available(
            std::process::Command::new("xmllint").arg("--version"),
            "xmllint",
        )
    {
        return;
    }
    let xsd_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wire/xsd");
    let tmp = tempfile::tempdir().unwrap();
    for (t, answers) in by_type {
        let xsd = xsd_dir.join(format!("{t}.xsd"));
        assert!(
            xsd.exists(),
            "{t}: no schema (add the message to the XSD corpus, cli/tests/it/documents.rs)"
        );
        let files: Vec<PathBuf> = answers
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let p = tmp.path().join(format!("{t}_{i}.xml"));
                std::fs::write(&p, b).unwrap();
                p
            })
            .collect();
        if let Some(why) = crate::documents::xmllint(&xsd, &files) {
            panic!("an answer does not match {t}.xsd (the corpus of cli/tests/it/documents.rs lacks this shape):\n{why}");
        }
    }
}

/// The tree of an XML answer.
pub fn tree(bytes: &[u8]) -> Element {
    xml::parse(bytes, &Default::default())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
        .root
}

/// The element at a path of child names.
pub fn child<'a>(e: &'a Element, path: &[&str]) -> &'a Element {
    path.iter()
        .fold(e, |e, n| e.child(n).unwrap_or_else(|| panic!("no {n}")))
}

/// A free TCP port on the loopback for a process the test starts, below the kernel's ephemeral range and never
/// handed out twice in one run. (A port from the ephemeral range — `bind(0)` — can be taken by an outgoing
/// connection or another test's listener between this call and the child's bind: the child then finds it in
/// use and exits.)
pub fn free_port() -> u16 {
    use std::hash::BuildHasher;
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let (low, high) = (10_000u16, ephemeral_ports_start().max(10_001));
    let mut given = GIVEN.lock().unwrap();
    loop {
        // A fresh RandomState is randomly keyed: its hash of anything is a random number.
        let random = std::collections::hash_map::RandomState::new().hash_one(0u8);
        let port = low + (random % u64::from(high - low)) as u16;
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

/// The first port of the kernel's ephemeral range (32768 where it cannot be read).
pub fn ephemeral_ports_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// Waits until the onshi process `child` at `addr` answers `GET /ready` with 200 (a minute at most); fails at
/// once when the process has ended.
pub async fn wait_ready(addr: &str, child: &mut std::process::Child) {
    let mut last = String::from("nothing listens there");
    for _ in 0..600 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the process for {addr} ended before it was ready: {status}");
        }
        if std::net::TcpStream::connect(addr).is_ok() {
            let r = http::get(addr, "/ready").await;
            if r.status == 200 {
                return;
            }
            last = format!("{}: {}", r.status, r.text());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{addr} did not become ready within a minute; last answer: {last}");
}
