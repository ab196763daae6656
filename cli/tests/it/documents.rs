//! The documents the simulator serves about itself: the OpenAPI document (checked by a real validator,
//! `openapi-spec-validator` from PyPI, which `.ci/run` installs), the browsable page and the index.

use onshi_platform::testkit::http;

use crate::app::TestApp;

/// Whether an external checker is installed; in CI (where `.ci/run` installs it) its absence fails the test.
pub fn tool_available(check: &mut std::process::Command, what: &str) -> bool {
    let ok = check.output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "{what} is not installed (.ci/run installs it)"
        );
        eprintln!("skipped: {what} is not installed (.ci/run installs it)");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_covers_every_route_and_is_valid() {
    let s = TestApp::start().await;
    let r = http::get(&s.addr, "/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in onshi::host::routes(onshi::host::ALL) {
        let op = &doc["paths"][route.path.as_ref()][route.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} is not in the document",
            route.method,
            route.path
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &r.body).unwrap();
    let mut probe = std::process::Command::new("python3");
    probe.args(["-c", "import openapi_spec_validator"]);
    if tool_available(&mut probe, "openapi-spec-validator") {
        let out = std::process::Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for page in ["/docs", "/"] {
        let r = http::get(&s.addr, page).await;
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    s.stop().await;
}

/// Every XML file the simulator read and answered in a run of the demo: every demo request (and their answers), the
/// error shape of every message (forced and malformed), 処理中, the bulk results, face results (registered,
/// declined 初回登録, every consent screen), 薬剤情報 with data (XML, both categories) and 特定健診 with data.
/// Returns (file type, instance) pairs: `OQSsiquc01req`, `OQSsiquc01res`, ….
async fn corpus(s: &TestApp) -> Vec<(String, Vec<u8>)> {
    use onshi_wire::msg::file_name::MessageKind;
    let demo = |p: &str| onshi_seed::demo::file(p).unwrap().to_vec();
    let post = |name: String, body: Vec<u8>| {
        let s = &s;
        async move { s.post_file(&name, &body).await }
    };
    // The flows that need data first: claims (12-07), consents, the batch of the 11th, a checkup.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-12-07T09:00:00").unwrap())
        .await
        .unwrap();
    let r = http::send(
        &s.addr,
        "POST",
        "/medication/v1/claims",
        &[],
        &demo("claims/RECEIPTC_1310112345_202611.UKE"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-12-11T06:00:00").unwrap())
        .await
        .unwrap();
    let r = s
        .as_operator(
            "POST",
            "/medication/v1/batches/run",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = http::send(
        &s.addr,
        "POST",
        "/checkup/v1/submissions",
        &[],
        &demo("checkups/1310112345_01130012_202506100_1.zip"),
    )
    .await;
    assert!(r.status < 300, "{}", r.text());
    let every = serde_json::json!({"medication": true, "clinical": true, "surgery": true, "checkup": true,
        "limit_certificate": true, "specific_disease": true, "diagnosis_name": true, "infectious": true, "allergy": true,
        "contraindication": true, "test": true, "prescription_info": true, "prescription": "electronic"});
    let id = s
        .place_and_identify(
            crate::app::MED,
            "D000000000000001",
            serde_json::json!({"method": "face", "match": true}),
        )
        .await;
    assert_eq!(s.consent(crate::app::MED, &id, every.clone()).await.0, 200);
    let pin = serde_json::json!({"method": "pin", "pin": "4567"});
    let id = s
        .place_and_identify(crate::app::MED, "D000000000000004", pin)
        .await;
    assert_eq!(s.consent(crate::app::MED, &id, every).await.0, 200);
    let id = s
        .place_and_identify(
            crate::app::MED,
            "D000000000000003",
            serde_json::json!({"method": "pin", "pin": "3456"}),
        )
        .await;
    let (status, _) = s
        .post_json(
            &format!("/reader/v1/{}/sessions/{id}/register", crate::app::MED),
            serde_json::json!({"register": false}),
        )
        .await;
    assert_eq!(status, 200);
    // Every demo request, then the second steps of the bulk flows.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-21T10:00:00").unwrap())
        .await
        .unwrap();
    // Home care (居宅同意取得型): 山田 太郎 consents for online care on his own device; the nursing station's device
    // reads 高橋 正's card at his home.
    for (person, kinds) in [
        ("demo-yamada-taro", serde_json::json!(["YZK", "SRJ"])),
        ("demo-sato-kenichi", serde_json::json!(["TKK"])),
    ] {
        let (status, _) = s
            .post_json(
                &format!("/consent/v1/persons/{person}/home-consents"),
                serde_json::json!({"facility": crate::app::MED, "kinds": kinds}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (_, code) = s
        .post_json(
            "/reader/v1/1360150013/app/activations",
            serde_json::json!({"device": "tablet"}),
        )
        .await;
    let (_, device) = s
        .post_json(
            "/app/v1/activate",
            serde_json::json!({"activation_code": code["activation_code"]}),
        )
        .await;
    let auth = format!("Bearer {}", device["device_token"].as_str().unwrap());
    let r = http::send(
        &s.addr,
        "POST",
        "/reader/v1/1360150013/app/confirm",
        &[("Content-Type", "application/json"), ("Authorization", &auth)],
        serde_json::json!({"card_serial": "D000000000000006", "identify": {"method": "pin", "pin": "6789"},
            "care": "visit", "consents": {"medication": true, "checkup": true}})
        .to_string()
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A younger visit patient too (no 高齢受給者 elements), and a range nobody consented in (no unit).
    let r = http::send(
        &s.addr,
        "POST",
        "/reader/v1/1360150013/app/confirm",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        serde_json::json!({"card_serial": "D000000000000004", "identify": {"method": "visual"},
            "care": "visit", "consents": {"medication": true}})
        .to_string()
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let nobody = String::from_utf8(demo("requests/OQSmuhvq01req_home_visit.xml"))
        .unwrap()
        .replace("202611", "202610")
        .into_bytes();
    // 医療扶助: a month without a ticket (6 有効（未登録）), a bulk month without recipients, the recipient's card.
    let unregistered = String::from_utf8(demo("requests/OQSsiquc01req_ogawa_shigeru.xml"))
        .unwrap()
        .replace("20261121", "20260915")
        .into_bytes();
    let no_recipients = String::from_utf8(demo("requests/OQSmutic01req_demo_clinic.xml"))
        .unwrap()
        .replace("202611", "202612")
        .into_bytes();
    let (_, card) = s
        .post_json(
            "/consent/v1/cards",
            serde_json::json!({"person_id": "demo-ogawa-shigeru", "pin": "2580"}),
        )
        .await;
    let id = s
        .place_and_identify(
            crate::app::MED,
            card["serial"].as_str().unwrap(),
            serde_json::json!({"method": "pin", "pin": "2580"}),
        )
        .await;
    s.post_json(
        &format!("/reader/v1/{}/sessions/{id}/register", crate::app::MED),
        serde_json::json!({"register": true}),
    )
    .await;
    assert_eq!(
        s.consent(crate::app::MED, &id, serde_json::json!({}))
            .await
            .0,
        200
    );
    let extra = [
        ("requests/OQSmuhvq01req_nobody.xml", nobody),
        (
            "requests/OQSsiquc01req_ogawa_unregistered.xml",
            unregistered,
        ),
        ("requests/OQSmutic01req_nobody.xml", no_recipients),
    ];
    for (path, body) in onshi_seed::demo::FILES
        .iter()
        .filter(|(p, _)| p.starts_with("requests/"))
        .map(|(p, b)| (*p, b.to_vec()))
        .chain(extra)
    {
        let name = path.trim_start_matches("requests/").to_string();
        let mut body = body;
        if name.starts_with("YZK") || name.starts_with("TKK") {
            s.core
                .clock
                .set(onshi_platform::clock::parse_time("2026-12-11T07:00:00").unwrap())
                .await
                .unwrap();
        }
        let r = post(name.clone(), body.clone()).await;
        assert_eq!(r.status, 200, "{name}");
        // The optional elements left out: the answer still pairs (no ArbitraryFileIdentifier), no 枝番 element.
        for tag in ["ArbitraryFileIdentifier", "InsuredBranchNumber"] {
            if let Some(lean) = without(&body, tag) {
                post(name.clone(), lean).await;
            }
        }
        if name.starts_with("YZK") {
            // The other categories: 診療情報 as XML.
            body = String::from_utf8(body)
                .unwrap()
                .replace(
                    "<FileCategory>2</FileCategory>",
                    "<FileCategory>4</FileCategory>",
                )
                .into_bytes();
            post(name.clone(), body).await;
        }
        s.core
            .clock
            .set(onshi_platform::clock::parse_time("2026-11-21T10:00:00").unwrap())
            .await
            .unwrap();
        for (stem, poll) in [
            ("OQSmuquc01", "OQSmuquc02"),
            ("OQSmuimm01", "OQSmuimm02"),
            ("OQSmuhvq01", "OQSmuhvq02"),
            ("OQSmuonq01", "OQSmuonq02"),
            ("OQSmutic01", "OQSmutic02"),
        ] {
            if name.starts_with(stem) {
                let facility = crate::app::tree(&r.body)
                    .child("MessageHeader")
                    .and_then(|h| h.value("MedicalInstitutionCode"))
                    .unwrap()
                    .to_string();
                let t = crate::app::tree(&r.body);
                let number = crate::app::child(&t, &["MessageBody"])
                    .value("ReceptionNumber")
                    .unwrap()
                    .to_string();
                let poll_body = format!("<XmlMsg><MessageHeader><MedicalInstitutionCode>{}</MedicalInstitutionCode>\
                    <ArbitraryFileIdentifier>poll</ArbitraryFileIdentifier></MessageHeader><MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>", facility);
                for _ in 0..100 {
                    let r = post(format!("{poll}req_p.xml"), poll_body.clone().into_bytes()).await;
                    if !String::from_utf8_lossy(&r.body)
                        .contains("<SegmentOfResult>2</SegmentOfResult>")
                    {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                let forced = poll_body.replace(">poll<", ">FORCE-PROCESSING<");
                post(format!("{poll}req_f.xml"), forced.into_bytes()).await;
            }
        }
    }
    // The error shape of every message kind: forced, unreadable, and a header without its facility.
    for kind in MessageKind::ALL {
        let stem = kind.stem();
        let forced = format!("<XmlMsg><MessageHeader><QualificationConfirmationDate>20261120</QualificationConfirmationDate>\
            <MedicalInstitutionCode>{}</MedicalInstitutionCode><ArbitraryFileIdentifier>FORCE-EC0013</ArbitraryFileIdentifier>\
            </MessageHeader><MessageBody/></XmlMsg>", crate::app::MED);
        post(format!("{stem}req_e.xml"), forced.into_bytes()).await;
        post(
            format!("{stem}req_m.xml"),
            b"<XmlMsg><MessageHeader>".to_vec(),
        )
        .await;
        post(
            format!("{stem}req_h.xml"),
            b"<XmlMsg><MessageHeader/><MessageBody/></XmlMsg>".to_vec(),
        )
        .await;
    }
    // 佐藤 健一 consented but has no claims and no checkup: answered without data.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-12-11T07:00:00").unwrap())
        .await
        .unwrap();
    for stem in ["YZKsiquc01", "TKKsiquc01"] {
        let file = String::from_utf8(demo(&format!("requests/{stem}req_yamada_taro.xml")))
            .unwrap()
            .replace(">01130012<", ">06131270<")
            .replace("<InsuranceCardSymbol>12345678<", "<InsuranceCardSymbol>55<")
            .replace(
                "<InsuredPersonIdentificationNumber>1<",
                "<InsuredPersonIdentificationNumber>1203<",
            );
        let r = post(format!("{stem}req_sato.xml"), file.into_bytes()).await;
        assert!(
            String::from_utf8_lossy(&r.body).contains("<ResultCode>1</ResultCode>"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-21T10:00:00").unwrap())
        .await
        .unwrap();
    // Person-level errors echo the search keys as received: each one left out in turn.
    for tag in [
        "InsurerNumber",
        "InsuredCardSymbol",
        "InsuredIdentificationNumber",
        "InsuredBranchNumber",
        "Birthdate",
        "LimitApplicationCertificateRelatedConsFlg",
    ] {
        let lean = without(&demo("requests/OQSsiquc01req_yamada_taro.xml"), tag).unwrap();
        post("OQSsiquc01req_missing.xml".into(), lean).await;
    }
    // A person registered with only the required fields: the optional elements of a result left out.
    let lean = serde_json::json!({
        "person_id": "xsd-1", "insurer_number": "01130012", "insurer_name": "全国健康保険協会東京支部",
        "card_classification": "01", "symbol": "7777", "number": "77", "branch": "00", "personal_family": "1",
        "name": "試験　二郎", "name_kana": "ｼｹﾝ ｼﾞﾛｳ", "sex": "1", "birth_date": "19900101",
        "address": "東京都千代田区一番町", "qualification_date": "20240401"
    });
    let r = http::post_json(&s.addr, "/insurer/v1/qualifications", &lean).await;
    assert_eq!(r.status, 201, "{}", r.text());
    s.sync().await;
    let query = String::from_utf8(demo("requests/OQSsiquc01req_yamada_taro.xml"))
        .unwrap()
        .replace("<InsuredCardSymbol>12345678<", "<InsuredCardSymbol>7777<")
        .replace(
            "<InsuredIdentificationNumber>1<",
            "<InsuredIdentificationNumber>77<",
        )
        .replace("<Birthdate>19800515<", "<Birthdate>19900101<");
    let r = post("OQSsiquc01req_lean.xml".into(), query.into_bytes()).await;
    assert!(String::from_utf8_lossy(&r.body).contains("<QualificationValidity>1<"));
    // Every persona of the single queries in one bulk file, so the bulk results show every shape of a result.
    let mut persons = String::new();
    for (path, body) in onshi_seed::demo::FILES
        .iter()
        .filter(|(p, _)| p.starts_with("requests/OQSsiquc01"))
    {
        let Ok(text) = std::str::from_utf8(body) else {
            continue;
        };
        if path.contains("inactive") {
            continue;
        }
        let (a, b) = (
            text.find("<QualificationConfirmSearchInfo>").unwrap(),
            text.find("</QualificationConfirmSearchInfo>").unwrap(),
        );
        persons.push_str(&text[a..b + "</QualificationConfirmSearchInfo>".len()]);
    }
    let all = format!("<XmlMsg><MessageHeader><QualificationConfirmationDate>20261120</QualificationConfirmationDate>\
        <MedicalInstitutionCode>{}</MedicalInstitutionCode><ArbitraryFileIdentifier>all</ArbitraryFileIdentifier></MessageHeader>\
        <MessageBody>{persons}</MessageBody></XmlMsg>", crate::app::MED);
    let r = post("OQSmuquc01req_all.xml".into(), all.into_bytes()).await;
    let t = crate::app::tree(&r.body);
    let number = crate::app::child(&t, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    let poll = format!("<XmlMsg><MessageHeader><MedicalInstitutionCode>{}</MedicalInstitutionCode></MessageHeader>\
        <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>", crate::app::MED);
    for _ in 0..100 {
        let r = post("OQSmuquc02req_all.xml".into(), poll.clone().into_bytes()).await;
        if !String::from_utf8_lossy(&r.body).contains("<SegmentOfResult>2</SegmentOfResult>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let yamada = String::from_utf8(demo("requests/OQSsiquc01req_yamada_taro.xml")).unwrap();
    post(
        "OQSsiquc01req_p.xml".into(),
        yamada
            .replace("demo-yamada_taro", "FORCE-EP0006")
            .into_bytes(),
    )
    .await;
    // Collected from the journal (requests that were answered without a file-level error, every XML answer) and the
    // face folder.
    let j = s
        .as_operator(
            "GET",
            "/admin/v1/journal?limit=2000",
            serde_json::Value::Null,
        )
        .await
        .json();
    let mut out = vec![];
    for e in j["entries"].as_array().unwrap().iter().rev() {
        let (id, kind) = (e["id"].as_u64().unwrap(), e["kind"].as_str().unwrap());
        if e["transport"] != "http" {
            continue;
        }
        let get = |part: &'static str| {
            let s = &s;
            async move {
                s.as_operator(
                    "GET",
                    &format!("/admin/v1/journal/{id}/{part}"),
                    serde_json::Value::Null,
                )
                .await
                .body
            }
        };
        let clean = !matches!(
            e["outcome"].as_str(),
            Some("file_error" | "unsupported" | "unknown_name" | "person_error")
        ) && !String::from_utf8_lossy(&get("request").await).contains("FORCE-");
        if clean {
            out.push((format!("{kind}req"), get("request").await));
        }
        out.push((format!("{kind}res"), get("answer").await));
    }
    for f in std::fs::read_dir(s.folder(crate::app::MED).join("face")).unwrap() {
        out.push((
            "OQSsiquc01res".to_string(),
            std::fs::read(f.unwrap().path()).unwrap(),
        ));
    }
    // XML only (PDF forms and zipped results are not described by an XSD).
    out.retain(|(_, b)| {
        onshi_wire::xml::parse(b, &Default::default()).is_ok_and(|d| d.root.name == "XmlMsg")
    });
    out
}

/// `bytes` without the element `tag` (its first occurrence), when it has one.
fn without(bytes: &[u8], tag: &str) -> Option<Vec<u8>> {
    let open = format!("<{tag}>").into_bytes();
    let close = format!("</{tag}>").into_bytes();
    let start = bytes
        .windows(open.len())
        .position(|w| w == open.as_slice())?;
    let end = bytes
        .windows(close.len())
        .position(|w| w == close.as_slice())?
        + close.len();
    Some([&bytes[..start], &bytes[end..]].concat())
}

/// Validates files against an XSD with xmllint; returns its complaints.
pub fn xmllint(xsd: &std::path::Path, files: &[std::path::PathBuf]) -> Option<String> {
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(xsd)
        .args(files)
        .output()
        .unwrap();
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_xsds_are_generated_from_every_message_and_validate_them() {
    let s = TestApp::start().await;
    let files = corpus(&s).await;
    let mut by_type: std::collections::BTreeMap<String, Vec<onshi_wire::xml::Element>> =
        Default::default();
    for (t, b) in &files {
        by_type
            .entry(t.clone())
            .or_default()
            .push(onshi_wire::xml::parse(b, &Default::default()).unwrap().root);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wire/xsd");
    let update = std::env::var("ONSHI_UPDATE_XSD").is_ok();
    let mut stale = vec![];
    for (t, trees) in &by_type {
        let xsd = onshi_wire::xsd::infer(t, trees).unwrap();
        let path = dir.join(format!("{t}.xsd"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &xsd).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(xsd.as_str()) {
            stale.push(t.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "wire/xsd is not what the messages generate now: {stale:?} (run with ONSHI_UPDATE_XSD=1)"
    );
    // Stopping checks the journal's answers against the schemas just generated.
    s.stop().await;
    for t in by_type.keys() {
        assert!(
            onshi_wire::xsd::FILES
                .iter()
                .any(|(n, _)| *n == format!("{t}.xsd")),
            "{t}.xsd is not served"
        );
    }
    // Every instance validates with a real validator.
    if tool_available(
        std::process::Command::new("xmllint").arg("--version"),
        "xmllint",
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut per_type: std::collections::BTreeMap<&str, Vec<std::path::PathBuf>> =
            Default::default();
        for (i, (t, b)) in files.iter().enumerate() {
            let p = tmp.path().join(format!("{i}_{t}.xml"));
            std::fs::write(&p, b).unwrap();
            per_type.entry(t).or_default().push(p);
        }
        for (t, paths) in per_type {
            if let Some(why) = xmllint(&dir.join(format!("{t}.xsd")), &paths) {
                panic!("{t}: {why}");
            }
        }
    }
    let r_types = by_type.keys().cloned().collect::<Vec<_>>();
    assert!(
        r_types.contains(&"YZKsiquc01res".to_string())
            && r_types.contains(&"TKKsiquc01res".to_string()),
        "{r_types:?}"
    );
}

/// The container topology (`docker-compose.yml`, `docs/DEPLOY.md`) passes the strongest checks installable here:
/// the Compose Specification's JSON schema (`check-jsonschema --builtin-schema vendor.compose-spec`, PyPI) and
/// docker-compose's own parser (`docker-compose config`, Debian); and every `onshi` command in it is one the
/// binary accepts.
#[test]
fn the_compose_file_is_valid() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let compose = repo.join("docker-compose.yml");
    let run = |c: &mut std::process::Command| {
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut probe = std::process::Command::new("check-jsonschema");
    probe.arg("--version");
    if tool_available(&mut probe, "check-jsonschema") {
        run(std::process::Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(&compose));
    }
    let mut probe = std::process::Command::new("docker-compose");
    probe.arg("version");
    if tool_available(&mut probe, "docker-compose") {
        run(std::process::Command::new("docker-compose")
            .arg("-f")
            .arg(&compose)
            .args(["config", "-q"]));
    }
    // Each service's command, with `--help` appended, parses (clap refuses unknown options first).
    let text = std::fs::read_to_string(&compose).unwrap();
    let mut commands = 0;
    let mut rest = text.as_str();
    while let Some(at) = rest.find("command: [") {
        let end = at + rest[at..].find(']').unwrap();
        let args: Vec<String> = rest[at + 10..end]
            .split(',')
            .map(|a| a.trim().trim_matches('"').to_string())
            .filter(|a| !a.is_empty())
            .collect();
        rest = &rest[end..];
        if args.first().is_some_and(|a| a == "postgres") {
            continue;
        }
        commands += 1;
        run(std::process::Command::new(env!("CARGO_BIN_EXE_onshi"))
            .args(&args)
            .arg("--help"));
    }
    assert_eq!(
        commands, 9,
        "migrate, six services and two eligibility processes"
    );
}
