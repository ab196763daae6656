//! Hostile input through the public doors: nothing a client sends may panic, answer 500, or leave the simulator
//! unable to answer the next request.

use onshi_platform::testkit::http;

use crate::app::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_values_out_of_range_are_refused_and_the_clock_keeps_working() {
    let s = TestApp::start().await;
    for body in [
        serde_json::json!({"advance": "1000000000w"}),
        serde_json::json!({"advance": "-99999999d"}),
        serde_json::json!({"set": "+262142-12-31T23:59:59"}),
        serde_json::json!({"set": "-5000-01-01T00:00:00"}),
        serde_json::json!({"set": "2200-01-01"}),
        serde_json::json!({"set": "1899-12-31"}),
        serde_json::json!({"advance": "9223372036854775807s"}),
    ] {
        let r = http::post_json(&s.addr, "/admin/v1/clock", &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "bad_request", "{body}");
    }
    let r = http::get(&s.addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["clock"]["now"], "2026-11-21T10:00:00");
    let r = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"set": "2199-12-31T23:59:59"}),
    )
    .await;
    assert_eq!(r.status, 200, "the last second of the range is allowed");
    let r = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"advance": "1s"}),
    )
    .await;
    assert_eq!(r.status, 400, "past the range");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_folder_entry_never_stops_the_others() {
    use crate::app::{tree, wait_for, DENTAL, MED};
    let s = TestApp::start().await;
    let good = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    )
    .unwrap();
    // The dental clinic's res/ is a plain file: its answers cannot be written.
    let dental = s.folder(DENTAL);
    std::fs::remove_dir_all(dental.join("res")).unwrap();
    std::fs::write(dental.join("res"), b"not a folder").unwrap();
    std::fs::write(dental.join("req/OQSsiquc01req_d1.xml"), &good).unwrap();
    // Names that used to panic the watcher or make its temporary answer name too long.
    let med = s.folder(MED);
    std::fs::write(med.join("req/OQSsiquc01reqé_x.xml"), &good).unwrap();
    let long = format!("OQSsiquc01req_{}.xml", "x".repeat(236));
    std::fs::write(med.join("req").join(&long), &good).unwrap();
    // A good request of the clinic is answered all the same.
    std::fs::write(med.join("req/OQSsiquc01req_ok.xml"), &good).unwrap();
    let ans = wait_for(&med.join("res/OQSsiquc01res_ok.xml")).await;
    assert_eq!(
        tree(&ans)
            .child("MessageHeader")
            .unwrap()
            .value("SegmentOfResult"),
        Some("1")
    );
    let odd = wait_for(&med.join("res/OQSsiquc01reqé_x.xml.err")).await;
    assert!(odd.starts_with(b"EC0010 "), "{odd:?}");
    let reason = wait_for(&dental.join("failed/OQSsiquc01req_d1.xml.reason.txt")).await;
    assert!(!reason.is_empty());
    assert!(
        dental.join("failed/OQSsiquc01req_d1.xml").exists(),
        "set aside, not lost"
    );
    assert!(!dental.join("req/OQSsiquc01req_d1.xml").exists());
    // Every request of the clinic's req/ was taken; the watcher still answers new ones.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let left: Vec<_> = std::fs::read_dir(med.join("req"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::write(med.join("req/OQSsiquc01req_ok2.xml"), &good).unwrap();
    wait_for(&med.join("res/OQSsiquc01res_ok2.xml")).await;
    assert_eq!(http::get(&s.addr, "/health").await.status, 200);
    let ready = http::get(&s.addr, "/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    let tasks = &ready.json()["tasks"];
    for task in [
        "folder watcher",
        "eligibility: insurer feed",
        "medication claims folder",
    ] {
        assert_eq!(tasks[task]["running"], true, "{task}: {tasks}");
        assert_eq!(tasks[task]["restarts"], 0, "{task}: {tasks}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_file_over_the_limit_in_the_folder_is_refused_unread() {
    use crate::app::{wait_for, MED};
    let s = TestApp::with(
        onshi_platform::config::Config::default(),
        "2026-11-09T10:00:00",
    )
    .await;
    let claims = s.folder(MED).join("claims");
    std::fs::create_dir_all(&claims).unwrap();
    let big = std::fs::File::create(claims.join("BIG.UKE")).unwrap();
    big.set_len(onshi_platform::config::limits::CLAIM_FILE as u64 + 1)
        .unwrap();
    drop(big);
    let report = wait_for(&claims.join("BIG.UKE.result.json")).await;
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["error"]["code"], "payload_too_large", "{report}");
    assert!(!claims.join("BIG.UKE").exists());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn characters_xml_forbids_are_refused_before_anything_is_stored() {
    use crate::app::{tree, MED};
    let s = TestApp::start().await;
    let registration = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{MED}</MedicalInstitutionCode></MessageHeader><MessageBody>\
         <ReferenceNumberRegistrationInfo><ReferenceNumber>P\u{0}1</ReferenceNumber>\
         <InsurerNumber>06131270</InsurerNumber><InsuredCardSymbol>55</InsuredCardSymbol>\
         <InsuredIdentificationNumber>1203</InsuredIdentificationNumber><InsuredBranchNumber>00</InsuredBranchNumber>\
         </ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"
    );
    let good = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    )
    .unwrap();
    for (name, body) in [
        ("OQSsiimm01req_n.xml", registration.clone()),
        (
            "OQSsiimm01req_r.xml",
            registration.replace('\u{0}', "&#x1B;"),
        ),
        (
            "OQSsiquc01req_c.xml",
            good.replace("demo-yamada_taro", "\u{1B}[31m\u{FFFE}"),
        ),
    ] {
        let r = s.post_file(name, body.as_bytes()).await;
        assert_eq!(r.status, 200, "{name}");
        // The answer itself is well-formed XML.
        let t = tree(&r.body);
        assert_eq!(
            t.child("MessageHeader").unwrap().value("ErrorCode"),
            Some("EC0001"),
            "{name}: {}",
            r.text()
        );
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM eligibility.reference_numbers")
        .fetch_one(&s.core.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_stalls_is_answered_408_in_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = onshi_platform::config::Config {
        body_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let s = TestApp::with(config, crate::app::NOW).await;
    let mut c = tokio::net::TcpStream::connect(&s.addr).await.unwrap();
    c.write_all(
        b"POST /oqs/v1/req/OQSsiquc01req_slow.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n<XmlMsg>",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut raw = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(10), c.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server never answered a stalled body");
    let reply = http::parse_reply(&raw).expect("an HTTP answer");
    assert_eq!(reply.status, 408);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bulk_file_posted_three_times_at_once_is_applied_once() {
    let s = TestApp::start().await;
    let first = include_str!("../../../seed/demo/01-registrations.jsonl")
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap();
    let mut file = String::new();
    for n in 0..300 {
        let mut v: serde_json::Value = serde_json::from_str(first).unwrap();
        v["person_id"] = format!("bulk-{n}").into();
        v["number"] = format!("7{n:05}").into();
        file.push_str(&v.to_string());
        file.push('\n');
    }
    let post = || http::send(&s.addr, "POST", "/insurer/v1/bulk", &[], file.as_bytes());
    let (a, b, c) = tokio::join!(post(), post(), post());
    let mut created = 0;
    for r in [&a, &b, &c] {
        assert!(matches!(r.status, 200 | 409), "{} {}", r.status, r.text());
        if r.status == 200 {
            let j = r.json();
            assert_eq!(
                j["created"].as_u64().unwrap() + j["unchanged"].as_u64().unwrap(),
                300,
                "{j}"
            );
            created += j["created"].as_u64().unwrap();
        }
    }
    assert_eq!(created, 300, "every record created exactly once");
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM insurer.qualification_versions WHERE source LIKE 'bulk:%'",
    )
    .fetch_one(&s.core.pool)
    .await
    .unwrap();
    assert_eq!(n, 300);
    s.stop().await;
}

/// Whether `onshi consent verify`'s check finds the logs intact.
async fn logs_intact(s: &TestApp) -> (bool, String) {
    let v = onshi_consent::chain::verify(&onshi_consent::chain::Log::of(&s.core))
        .await
        .unwrap();
    (v.ok, v.broken.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_detect_deletion_recomputation_and_forged_appends() {
    use crate::app::MED;
    // Each attack on a fresh simulator with the same history: three consents, then an access.
    async fn history() -> TestApp {
        let s = TestApp::start().await;
        for serial in ["D000000000000001", "D000000000000004"] {
            let pin = if serial.ends_with('1') {
                "1234"
            } else {
                "4567"
            };
            s.consent_with_pin(MED, serial, pin).await;
        }
        let med = onshi_wire::ids::InstitutionCode::parse(MED).unwrap();
        let now = s.core.clock.now();
        onshi_consent::access::view(
            &s.core,
            "demo-yamada-taro",
            &med,
            &[onshi_consent::Kind::Medication],
            &[],
            now,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(logs_intact(&s).await, (true, String::new()));
        s
    }
    let attacks: &[(&str, &str)] = &[
        ("the last row deleted", "DELETE FROM consent.consents WHERE seq = (SELECT max(seq) FROM consent.consents)"),
        ("every row deleted", "DELETE FROM consent.access_log"),
        (
            "an edit with the chain recomputed (unkeyed)",
            "UPDATE consent.consents SET facility = '1330130129', \
               hash = encode(sha256(convert_to(prev_hash || E'\\n' || 'x', 'UTF8')), 'hex') \
             WHERE seq = (SELECT max(seq) FROM consent.consents)",
        ),
        (
            "a forged consent appended as an old, unkeyed row",
            "INSERT INTO consent.consents (person_id, facility, kind, action, at, available_until, prev_hash, hash, keyed) \
             SELECT 'demo-yamada-taro', '1330130129', 'YZK', 'given', now(), now() + interval '1 day', hash, \
               encode(sha256(convert_to(hash, 'UTF8')), 'hex'), false \
             FROM consent.consents ORDER BY seq DESC LIMIT 1",
        ),
    ];
    for (what, sql) in attacks {
        let s = history().await;
        sqlx::query(sql).execute(&s.core.pool).await.unwrap();
        let (ok, broken) = logs_intact(&s).await;
        assert!(!ok, "{what} went unnoticed");
        assert!(!broken.is_empty(), "{what}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_history_gets_bounded_answers() {
    use crate::app::{tree, MED};
    let s = TestApp::start().await;
    let lines = onshi_platform::config::limits::ANSWER_LINES as i64 + 1;
    // A history larger than an answer carries, as a flood of claims would leave it.
    sqlx::raw_sql(&format!(
        "INSERT INTO medication.claim_files (id, sha256, facility, kind, claim_month, received_at, batch_at, extracted_at, receipts) \
           VALUES (900, 'flood', '{MED}', 'medical', '202611', '2026-11-09', '2026-11-11 05:00', '2026-11-11 05:00', 1); \
         INSERT INTO medication.receipts (id, file_id, receipt_no, claim_key, person_id, birth_date, treatment_month) \
           VALUES (900, 900, 1, 'flood', 'demo-yamada-taro', '1980-05-15', '202610'); \
         INSERT INTO medication.dispensings (receipt_id, person_id, date, facility, in_out, use_class, drug_code, \
           drug_name, dose, quantity, treatment_month, visible_from) \
         SELECT 900, 'demo-yamada-taro', '2026-10-08', '{MED}', '1', '内服', '610406079', 'x', '1', '1', '202610', \
           '2026-11-11 05:00' FROM generate_series(1, {lines})"
    ))
    .execute(&s.core.pool)
    .await
    .unwrap();
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let yzk = format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{MED}</MedicalInstitutionCode><InsurerNumber>01130012\
         </InsurerNumber><InsuranceCardSymbol>12345678</InsuranceCardSymbol><InsuredPersonIdentificationNumber>1\
         </InsuredPersonIdentificationNumber><BranchNumber>00</BranchNumber></MessageHeader><MessageBody>\
         <FileCategory>2</FileCategory></MessageBody></XmlMsg>"
    );
    let r = s.post_file("YZKsiquc01req_flood.xml", yzk.as_bytes()).await;
    let t = tree(&r.body);
    let h = t.child("MessageHeader").unwrap();
    assert_eq!(
        h.value("ResultCode"),
        Some("2"),
        "{}",
        r.text().chars().take(300).collect::<String>()
    );
    assert!(h.value("MessageContents").unwrap().contains("多すぎます"));
    // The patient view pages; its totals cover everything.
    let r = http::get(
        &s.addr,
        "/medication/v1/persons/demo-yamada-taro/medications?limit=100&offset=200",
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["medications"].as_array().unwrap().len(), 100);
    assert_eq!(j["count"], lines);
    assert_eq!(j["next_offset"], 300);
    s.stop().await;
}
