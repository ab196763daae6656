//! One process per service: the real `onshi` binary started seven times (`onshi serve <service>`, each on its own
//! port with its own health and metrics) on one fresh database, the services reaching each other only over their
//! internal HTTP APIs and the PostgreSQL change feeds; the vendor flows run across them: an insurer registers →
//! the front door answers the qualification; the card reader takes a consent (asking the eligibility and consent
//! processes) → the claims go to the medication process → the front door forwards `YZKsiquc01` there and relays
//! the history; a checkup submitted to the checkup process is retrieved with `TKKsiquc01`. A stopped medication
//! process makes `YZKsiquc01` answer `EC0013` at once (nothing hangs, no 500).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use onshi_platform::testkit::{self, http};

use crate::app::{ephemeral_ports_start, free_port, wait_ready};

const SERVICES: &[&str] = &[
    "insurer",
    "portal",
    "consent",
    "eligibility",
    "medication",
    "checkup",
    "reader",
];

fn demo(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo")
            .join(path),
    )
    .unwrap()
}

/// The seven processes; stopped (SIGINT) when dropped.
struct Fleet {
    home: PathBuf,
    addrs: HashMap<&'static str, String>,
    children: HashMap<&'static str, Child>,
}

impl Fleet {
    fn command(home: &Path, url: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_onshi"));
        c.arg("--home")
            .arg(home)
            .env("DATABASE_URL", url)
            .env("ONSHI_LOG", "warn")
            .stdin(Stdio::null());
        c
    }

    async fn start(home: &Path, url: &str) -> Fleet {
        let demo = Self::command(home, url).arg("demo").output().unwrap();
        assert!(
            demo.status.success(),
            "{}",
            String::from_utf8_lossy(&demo.stderr)
        );
        let addrs: HashMap<&'static str, String> = SERVICES
            .iter()
            .map(|s| (*s, format!("127.0.0.1:{}", free_port())))
            .chain([("tls", format!("127.0.0.1:{}", free_port()))])
            .collect();
        let url_of = |s: &str| format!("http://{}", addrs[s]);
        let mut children = HashMap::new();
        for s in SERVICES {
            // The front door's TLS listener gets its certificate from the portal process.
            let tls = if *s == "eligibility" {
                addrs["tls"].as_str()
            } else {
                "off"
            };
            let child = Self::command(home, url)
                .args(["serve", s, "--bind", &addrs[s], "--tls-bind", tls])
                .args(["--portal-url", &url_of("portal")])
                .args(["--eligibility-url", &url_of("eligibility")])
                .args(["--consent-url", &url_of("consent")])
                .args(["--medication-url", &url_of("medication")])
                .args(["--checkup-url", &url_of("checkup")])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            children.insert(*s, child);
        }
        let mut fleet = Fleet {
            home: home.to_path_buf(),
            addrs,
            children,
        };
        for s in SERVICES {
            fleet.ready(s).await;
        }
        fleet
    }

    async fn ready(&mut self, service: &str) {
        let child = self.children.get_mut(service).expect("a started service");
        wait_ready(&self.addrs[service], child).await;
    }

    fn addr(&self, service: &str) -> &str {
        &self.addrs[service]
    }

    fn stop(&mut self, service: &str) {
        if let Some(mut child) = self.children.remove(service) {
            // SAFETY: sends SIGINT to a child this value started.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for s in SERVICES {
            self.stop(s);
        }
    }
}

/// Posts a request file to the front door.
async fn message(f: &Fleet, name: &str, body: &[u8]) -> String {
    let r = http::send(
        f.addr("eligibility"),
        "POST",
        &format!("/oqs/v1/req/{name}"),
        &[],
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// Sets the shared clock through one process, then waits until every process runs on it (each hears of the
/// change by NOTIFY: a step taken before one has would carry the old time).
async fn set_clock(f: &Fleet, through: &str, at: &str) {
    let r = http::post_json(
        f.addr(through),
        "/admin/v1/clock",
        &serde_json::json!({ "set": at }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for service in f.children.keys() {
        let addr = f.addr(service);
        eventually(
            "the clock reaches every process",
            || async { http::get(addr, "/admin/v1/clock").await.text() },
            |t| t.contains(&at[..13]),
        )
        .await;
    }
}

/// Asks until `check` holds (feeds and clocks reach the other processes within milliseconds, not at once).
async fn eventually<F: std::future::Future<Output = String>>(
    what: &str,
    mut ask: impl FnMut() -> F,
    check: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = ask().await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: never true; last answer: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_flows_run_across_one_process_per_service() {
    let home = tempfile::tempdir().unwrap();
    let url = testkit::fresh_database_url().await;
    let mut f = Fleet::start(home.path(), &url).await;

    // Each process has its own health and metrics, and only its own service's routes.
    for s in SERVICES {
        assert_eq!(http::get(f.addr(s), "/metrics").await.status, 200, "{s}");
    }
    assert_eq!(
        http::get(f.addr("insurer"), "/oqs/v1/req/OQSsiquc01req_x.xml")
            .await
            .status,
        404,
        "the front door is the eligibility process's"
    );

    // Mutual TLS at the front door, with the certificate the portal's CA issued to the demo clinic's terminal.
    let certs = f.home.join("certs");
    let read = |p: &str| std::fs::read_to_string(certs.join(p)).unwrap();
    let endpoint = onshi_platform::client::Endpoint::parse(
        &format!("https://{}", f.addr("tls")),
        Some(&read("ca.crt")),
        Some((
            &read("1310112345/terminal-1.crt"),
            &read("1310112345/terminal-1.key"),
        )),
    )
    .unwrap();
    let mut conn = onshi_platform::client::Conn::new(endpoint);
    let a = conn
        .send(
            "POST",
            "/oqs/v1/req/OQSsiquc01req_yamada_taro.xml",
            &[],
            &demo("requests/OQSsiquc01req_yamada_taro.xml"),
        )
        .await
        .unwrap();
    let body = String::from_utf8_lossy(conn.body(&a)).to_string();
    assert_eq!(a.status, 200, "{body}");
    assert!(
        body.contains("<QualificationValidity>1</QualificationValidity>"),
        "{body}"
    );

    // 1. An insurer registers (insurer process) → the front door answers it (eligibility, over the change feed).
    let person = serde_json::json!({
        "person_id": "mp-1", "insurer_number": "01130012", "insurer_name": "全国健康保険協会東京支部",
        "card_classification": "01", "symbol": "7777", "number": "1", "branch": "00", "personal_family": "1",
        "name": "分散　一郎", "name_kana": "ﾌﾞﾝｻﾝ ｲﾁﾛｳ", "sex": "1", "birth_date": "19900101",
        "address": "東京都千代田区一番町", "qualification_date": "20240401"
    });
    let r = http::post_json(f.addr("insurer"), "/insurer/v1/qualifications", &person).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let query = br#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
<QualificationConfirmationDate>20261120</QualificationConfirmationDate><MedicalInstitutionCode>1310112345</MedicalInstitutionCode>
</MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>01130012</InsurerNumber>
<InsuredCardSymbol>7777</InsuredCardSymbol><InsuredIdentificationNumber>1</InsuredIdentificationNumber>
<Birthdate>19900101</Birthdate><LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#;
    let answer = eventually(
        "the registration answered by the front door",
        || message(&f, "OQSsiquc01req_mp.xml", query),
        |a| a.contains("<QualificationValidity>1</QualificationValidity>"),
    )
    .await;
    assert!(answer.contains("分散　一郎"), "{answer}");

    // 2. Claims to the medication process; the batch of the 11th runs there.
    set_clock(&f, "medication", "2026-12-07T09:00:00").await;
    let r = http::send(
        f.addr("medication"),
        "POST",
        "/medication/v1/claims",
        &[],
        &demo("claims/RECEIPTC_1310112345_202611.UKE"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json()["unmatched"],
        0,
        "every receipt's person found over the network: {}",
        r.text()
    );
    set_clock(&f, "medication", "2026-12-11T06:00:00").await;

    // 3. The card reader process: place the card, face, consent (it asks eligibility and consent over the network).
    let reader = f.addr("reader");
    let r = http::post_json(
        reader,
        "/reader/v1/1310112345/sessions",
        &serde_json::json!({"terminal": "T1", "card_serial": "D000000000000001"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let session = r.json()["session"].as_str().unwrap().to_string();
    let step = |path: &str| format!("/reader/v1/1310112345/sessions/{session}/{path}");
    let r = http::post_json(
        reader,
        &step("identify"),
        &serde_json::json!({"method": "face", "match": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = http::post_json(
        reader,
        &step("consent"),
        &serde_json::json!({"medication": true, "checkup": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let face = r.json()["xml"].as_str().unwrap().to_string();
    assert!(
        face.contains("山田"),
        "the qualification shown came from the eligibility process: {face}"
    );
    let face_dir = f.home.join("folders/1310112345/face");
    assert!(
        std::fs::read_dir(&face_dir).unwrap().count() >= 1,
        "the face XML in the clinic's folder"
    );

    // 4. 薬剤情報: the front door forwards YZKsiquc01 to the medication process and relays its answer.
    let yzk = demo("requests/YZKsiquc01req_yamada_taro.xml");
    let answer = eventually(
        "the medication history through the front door",
        || message(&f, "YZKsiquc01req_yamada_taro.xml", &yzk),
        |a| a.contains("<DrugC>610406079</DrugC>"),
    )
    .await;
    assert!(answer.contains("<MeTrIdCl>21</MeTrIdCl>"), "{answer}");

    // 5. 特定健診: submitted to the checkup process, retrieved through the front door.
    let r = http::send(
        f.addr("checkup"),
        "POST",
        "/checkup/v1/submissions",
        &[],
        &demo("checkups/1310112345_01130012_202506100_1.zip"),
    )
    .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text());
    let tkk = demo("requests/TKKsiquc01req_yamada_taro.xml");
    let answer = message(&f, "TKKsiquc01req_yamada_taro.xml", &tkk).await;
    assert!(answer.contains("9N501"), "{answer}");

    // 6. The medication process stops: YZKsiquc01 is answered at once with EC0013, the others go on.
    f.stop("medication");
    let answer = message(&f, "YZKsiquc01req_yamada_taro.xml", &yzk).await;
    assert!(answer.contains("EC0013"), "{answer}");
    assert!(answer.contains("medication unavailable"), "{answer}");
    let answer = message(&f, "OQSsiquc01req_mp.xml", query).await;
    assert!(
        answer.contains("<QualificationValidity>1</QualificationValidity>"),
        "{answer}"
    );
}

/// The ports the harness gives the processes it starts are outside the kernel's ephemeral range (where outgoing
/// connections and `bind(0)` take theirs) and never given twice.
#[test]
fn the_ports_given_to_started_processes_are_outside_the_ephemeral_range_and_distinct() {
    let ephemeral = ephemeral_ports_start();
    let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
    assert!(ports.iter().all(|p| *p < ephemeral), "{ports:?}");
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), ports.len());
}

/// A front door started before the portal process waits for the certificate of its TLS listener (the processes
/// of one deployment start in any order) instead of ending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_door_started_before_the_portal_waits_for_its_certificate() {
    let home = tempfile::tempdir().unwrap();
    let url = testkit::fresh_database_url().await;
    let demo = Fleet::command(home.path(), &url)
        .arg("demo")
        .output()
        .unwrap();
    assert!(demo.status.success());
    let [front, tls, portal] = [0; 3].map(|_| format!("127.0.0.1:{}", free_port()));
    let serve = |service: &str, bind: &str, tls: &str| {
        Fleet::command(home.path(), &url)
            .args(["serve", service, "--bind", bind, "--tls-bind", tls])
            .args(["--portal-url", &format!("http://{portal}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut children = vec![serve("eligibility", &front, &tls)];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        children[0].try_wait().unwrap().is_none(),
        "the front door ended while the portal was not up"
    );
    children.push(serve("portal", &portal, "off"));
    wait_ready(&portal, &mut children[1]).await;
    wait_ready(&front, &mut children[0]).await;
    assert!(std::net::TcpStream::connect(&tls).is_ok());
    for mut child in children {
        // SAFETY: sends SIGINT to a child this test started.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let _ = child.wait();
    }
}
