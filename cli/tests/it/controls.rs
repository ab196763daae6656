//! The simulator controls end to end, through real files and HTTP: magic values and the operator's forced rules
//! (sequences included) reaching the HTTP and folder answers; fault rules (delay, HTTP status, a dropped connection,
//! a folder answer that never comes, a maintenance window); the journal showing a folder request with the controls
//! that acted; and the refusals of bad rules.

use std::time::{Duration, Instant};

use onshi_platform::testkit::http;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::{child, tree, wait_for, TestApp, MED};

fn yamada(id: &str) -> Vec<u8> {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    )
    .unwrap()
    .replace("demo-yamada_taro", id)
    .into_bytes()
}

fn validity(body: &[u8]) -> Option<String> {
    let t = tree(body);
    child(&t, &["MessageBody"])
        .value("QualificationValidity")
        .map(str::to_string)
}

fn error_code(body: &[u8]) -> Option<String> {
    let t = tree(body);
    child(&t, &["MessageHeader"])
        .value("ErrorCode")
        .map(str::to_string)
}

async fn operator(
    s: &TestApp,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = s.as_operator(method, path, body).await;
    let j = if r.body.is_empty() {
        serde_json::Value::Null
    } else {
        r.json()
    };
    (r.status, j)
}

/// Waits until this process applies the rules just written (they are reloaded on NOTIFY).
async fn applied(s: &TestApp, forced: usize, faults: usize) {
    let c = s.host.controls.clone();
    for _ in 0..200 {
        let r = c.rules();
        if r.forced.len() == forced && r.faults.len() == faults {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the rules were not reloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_values_force_answers_over_http_and_the_folder() {
    let s = TestApp::start().await;
    let r = s
        .post_file("OQSsiquc01req_a.xml", &yamada("demo-plain"))
        .await;
    assert_eq!(validity(&r.body).as_deref(), Some("1"));
    let r = s
        .post_file("OQSsiquc01req_b.xml", &yamada("FORCE-V3-1"))
        .await;
    assert_eq!(validity(&r.body).as_deref(), Some("3"));
    let r = s
        .post_file("OQSsiquc01req_c.xml", &yamada("FORCE-EC0013"))
        .await;
    assert_eq!(error_code(&r.body).as_deref(), Some("EC0013"));
    // The answer still names the request.
    assert_eq!(
        child(&tree(&r.body), &["MessageHeader"]).value("ArbitraryFileIdentifier"),
        Some("FORCE-EC0013")
    );
    let body = s
        .drop_in_folder(
            MED,
            "OQSsiquc01req_d.xml",
            &yamada("FORCE-EP0006"),
            "OQSsiquc01res_d.xml",
        )
        .await;
    let t = tree(&body);
    let b = child(&t, &["MessageBody"]);
    assert_eq!(b.value("ProcessingResultStatus"), Some("2"));
    assert_eq!(b.value("ProcessingResultCode"), Some("EP0006"));
    // The table is served.
    let r = http::send(&s.addr, "GET", "/admin/v1/magic", &[], b"").await;
    assert!(r.text().contains("FORCE-V4"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sequence_forces_an_error_then_success_in_the_folder() {
    let s = TestApp::start().await;
    let (status, rule) = operator(
        &s,
        "POST",
        "/admin/v1/forced",
        serde_json::json!({"facility": MED, "kind": "OQSsiquc01", "person": "1",
            "steps": [{"answer": "EC0016", "times": 1}, {"answer": "validity:2"}, {"answer": "pass"}]}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    applied(&s, 1, 0).await;
    let mut answers = vec![];
    for i in 0..4 {
        let name = format!("OQSsiquc01req_seq{i}.xml");
        let res = format!("OQSsiquc01res_seq{i}.xml");
        answers.push(
            s.drop_in_folder(MED, &name, &yamada(&format!("seq{i}")), &res)
                .await,
        );
    }
    assert_eq!(error_code(&answers[0]).as_deref(), Some("EC0016"));
    assert_eq!(validity(&answers[1]).as_deref(), Some("2"));
    assert_eq!(validity(&answers[2]).as_deref(), Some("1"));
    assert_eq!(validity(&answers[3]).as_deref(), Some("1"));
    // The rule is used up and gone.
    let (_, list) = operator(&s, "GET", "/admin/v1/forced", serde_json::Value::Null).await;
    assert_eq!(list["forced"].as_array().unwrap().len(), 0);
    // The journal shows the folder requests and what forced them.
    let r = s
        .as_operator(
            "GET",
            "/admin/v1/journal?transport=folder&marked=forced",
            serde_json::Value::Null,
        )
        .await;
    let j = r.json();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{j}");
    assert_eq!(
        entries[2]["marks"][0],
        format!("forced:EC0016#{}", rule["id"])
    );
    assert_eq!(entries[2]["facility"], MED);
    assert_eq!(entries[2]["kind"], "OQSsiquc01");
    let id = entries[2]["id"].as_u64().unwrap();
    let r = s
        .as_operator(
            "GET",
            &format!("/admin/v1/journal/{id}"),
            serde_json::Value::Null,
        )
        .await;
    let e = r.json();
    assert!(e["request"]["text"].as_str().unwrap().contains("seq0"));
    assert!(e["answer"]["text"].as_str().unwrap().contains("EC0016"));
    let r = s
        .as_operator(
            "GET",
            &format!("/admin/v1/journal/{id}/request"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.body, yamada("seq0"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_poll_can_be_held_in_processing() {
    let s = TestApp::start().await;
    let file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSmuquc01req_demo_clinic.xml"),
    )
    .unwrap();
    let r = s.post_file("OQSmuquc01req_1.xml", &file).await;
    let number = child(&tree(&r.body), &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    let (status, j) = operator(
        &s,
        "POST",
        "/admin/v1/forced",
        serde_json::json!({"kind": "OQSmuquc02", "steps": [{"answer": "processing", "times": 2}]}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    applied(&s, 1, 0).await;
    let poll = format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{MED}</MedicalInstitutionCode></MessageHeader>\
         <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
    );
    let mut segments = vec![];
    for _ in 0..2 {
        let r = s.post_file("OQSmuquc02req_p.xml", poll.as_bytes()).await;
        segments.push(
            child(&tree(&r.body), &["MessageHeader"])
                .value("SegmentOfResult")
                .map(str::to_string),
        );
    }
    assert_eq!(segments, vec![Some("2".to_string()), Some("2".to_string())]);
    // Then the real answer: done (the job had time to finish).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut last = None;
    for _ in 0..100 {
        let r = s.post_file("OQSmuquc02req_p.xml", poll.as_bytes()).await;
        last = child(&tree(&r.body), &["MessageHeader"])
            .value("SegmentOfResult")
            .map(str::to_string);
        if last.as_deref() == Some("1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last.as_deref(), Some("1"));
    s.stop().await;
}

/// Sends a request on a raw connection and reads until the server closes it.
async fn raw_exchange(addr: &str, name: &str, body: &[u8]) -> Vec<u8> {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /oqs/v1/req/{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(body).await.unwrap();
    let mut raw = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut raw)).await;
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_rules_delay_refuse_drop_and_lose_answers() {
    let s = TestApp::start().await;
    let add = |body: serde_json::Value| {
        let s = &s;
        async move {
            let (status, j) = operator(s, "POST", "/admin/v1/faults", body).await;
            assert_eq!(status, 201, "{j}");
            j["id"].as_i64().unwrap()
        }
    };
    // A delay over HTTP.
    let delay =
        add(serde_json::json!({"transport": "http", "action": {"delay": {"ms": 400}}})).await;
    applied(&s, 0, 1).await;
    let t = Instant::now();
    let r = s.post_file("OQSsiquc01req_a.xml", &yamada("d")).await;
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(validity(&r.body).as_deref(), Some("1"));
    // Changed at run time into a 503, then removed.
    let (status, j) = operator(
        &s,
        "PUT",
        &format!("/admin/v1/faults/{delay}"),
        serde_json::json!({"transport": "http", "action": {"http_status": 503}}),
    )
    .await;
    assert_eq!(status, 200, "{j}");
    let mut got = 0;
    for _ in 0..100 {
        got = s
            .post_file("OQSsiquc01req_a.xml", &yamada("s"))
            .await
            .status;
        if got == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got, 503);
    let (status, _) = operator(
        &s,
        "DELETE",
        &format!("/admin/v1/faults/{delay}"),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    applied(&s, 0, 0).await;
    // A dropped connection: no whole answer.
    add(serde_json::json!({"transport": "http", "kind": "OQSsiquc01", "action": "drop"})).await;
    applied(&s, 0, 1).await;
    let raw = raw_exchange(&s.addr, "OQSsiquc01req_x.xml", &yamada("x")).await;
    assert!(
        !http::is_complete(&raw),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    // A folder answer that never appears: the request is taken, nothing comes.
    add(serde_json::json!({"transport": "folder", "action": "never", "facility": MED})).await;
    applied(&s, 0, 2).await;
    let dir = s.folder(MED);
    std::fs::write(dir.join("req/OQSsiquc01req_n.xml"), yamada("n")).unwrap();
    for _ in 0..200 {
        if !dir.join("req/OQSsiquc01req_n.xml").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!dir.join("req/OQSsiquc01req_n.xml").exists());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!dir.join("res/OQSsiquc01res_n.xml").exists());
    // Every injection is counted and marked in the journal.
    let m = http::send(&s.addr, "GET", "/metrics", &[], b"")
        .await
        .text();
    assert!(
        m.contains(r#"onshi_controls_total{control="fault",what="drop"} 1"#),
        "{m}"
    );
    assert!(m.contains(r#"onshi_controls_total{control="fault",what="never"} 1"#));
    let r = s
        .as_operator(
            "GET",
            "/admin/v1/journal?marked=fault:never",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.json()["entries"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_answers_503_and_holds_folder_requests_until_it_ends() {
    let s = TestApp::start().await; // the clock is frozen at 2026-11-21T10:00:00
    let (status, j) = operator(
        &s,
        "POST",
        "/admin/v1/faults",
        serde_json::json!({"action": "maintenance", "from": "2026-11-21T09:00:00", "to": "2026-11-21T10:30:00"}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    applied(&s, 0, 1).await;
    let r = s.post_file("OQSsiquc01req_m.xml", &yamada("m")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1800"));
    let dir = s.folder(MED);
    std::fs::write(dir.join("req/OQSsiquc01req_w.xml"), yamada("w")).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(dir.join("req/OQSsiquc01req_w.xml").exists(), "held in req/");
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-21T10:30:00").unwrap())
        .await
        .unwrap();
    let body = wait_for(&dir.join("res/OQSsiquc01res_w.xml")).await;
    assert_eq!(validity(&body).as_deref(), Some("1"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_refused_whole_with_the_error_shape() {
    let s = TestApp::start().await;
    for (path, body) in [
        (
            "/admin/v1/forced",
            serde_json::json!({"answer": "validity:9"}),
        ),
        (
            "/admin/v1/forced",
            serde_json::json!({"kind": "OQSsiquc01", "answer": "processing"}),
        ),
        (
            "/admin/v1/forced",
            serde_json::json!({"answer": "EC0013", "surprise": true}),
        ),
        (
            "/admin/v1/faults",
            serde_json::json!({"action": "maintenance"}),
        ),
        (
            "/admin/v1/faults",
            serde_json::json!({"action": {"delay": {"ms": 10_000_000}}}),
        ),
        (
            "/admin/v1/faults",
            serde_json::json!({"action": "drop", "probability": 2}),
        ),
    ] {
        let (status, j) = operator(&s, "POST", path, body.clone()).await;
        assert_eq!(status, 400, "{body} → {j}");
        assert_eq!(j["error"]["code"], "bad_request", "{j}");
    }
    let (status, _) = operator(
        &s,
        "DELETE",
        "/admin/v1/faults/999",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = operator(
        &s,
        "PUT",
        "/admin/v1/faults/abc",
        serde_json::json!({"action": "drop"}),
    )
    .await;
    assert_eq!(status, 400);
    let r = s
        .as_operator(
            "GET",
            "/admin/v1/journal?since=yesterday",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 400);
    let (forced, faults) = (
        s.host.controls.rules().forced.len(),
        s.host.controls.rules().faults.len(),
    );
    assert_eq!((forced, faults), (0, 0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_scenario_passes_its_check() {
    let s = TestApp::start().await;
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots",
            serde_json::json!({"name": "demo"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let remote = onshi::remote::Remote::new(&s.addr, crate::app::OPERATOR);
    let folders = s.folders.path().to_path_buf();
    let mut failed = vec![];
    for sc in onshi::scenarios::all().unwrap() {
        let r = s
            .as_operator(
                "POST",
                &format!("/admin/v1/scenarios/{}/setup", sc.name),
                serde_json::Value::Null,
            )
            .await;
        assert_eq!(r.status, 200, "{}: {}", sc.name, r.text());
        let (remote, folders) = (
            onshi::remote::Remote::new(&s.addr, crate::app::OPERATOR),
            folders.clone(),
        );
        let report =
            tokio::task::spawn_blocking(move || onshi::scenarios::check(&sc, &remote, &folders))
                .await
                .unwrap();
        if !report.passed {
            failed.push(serde_json::to_string_pretty(&report).unwrap());
        }
    }
    drop(remote);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_statistics_count_confirmations_and_views_by_method() {
    let s = TestApp::start().await; // 2026-11-21
    for i in 0..2 {
        let r = s
            .post_file(&format!("OQSsiquc01req_u{i}.xml"), &yamada("u"))
            .await;
        assert_eq!(r.status, 200);
    }
    s.drop_in_folder(
        MED,
        "OQSsiquc01req_uf.xml",
        &yamada("uf"),
        "OQSsiquc01res_uf.xml",
    )
    .await;
    // A refused file counts for nothing.
    s.post_file("OQSsiquc01req_bad.xml", b"<nope/>").await;
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let yzk = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/YZKsiquc01req_yamada_taro.xml"),
    )
    .unwrap();
    assert_eq!(s.post_file("YZKsiquc01req_y.xml", &yzk).await.status, 200);
    let bulk = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSmuquc01req_demo_clinic.xml"),
    )
    .unwrap();
    let persons = String::from_utf8_lossy(&bulk)
        .matches("<QualificationConfirmSearchInfo>")
        .count();
    s.post_file("OQSmuquc01req_b.xml", &bulk).await;

    let r = s
        .as_operator(
            "GET",
            "/admin/v1/statistics?by=facility&month=202611",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let row = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["facility"] == MED)
        .unwrap()
        .clone();
    assert_eq!(row["insurance_card"], 3, "{j}");
    assert_eq!(row["mynumber_card"], 1);
    assert_eq!(row["bulk"], persons as i64);
    assert_eq!(row["mynumber_rate"], 0.25);
    let r = s
        .as_operator(
            "GET",
            "/admin/v1/statistics?month=202611",
            serde_json::Value::Null,
        )
        .await;
    let rows = r.json()["rows"].as_array().unwrap().clone();
    let view = rows
        .iter()
        .find(|r| r["method"] == "view_medication")
        .unwrap();
    assert_eq!(
        (
            view["prefecture"].as_str(),
            view["facility_type"].as_str(),
            view["count"].as_i64()
        ),
        (Some("13"), Some("medical"), Some(1))
    );
    let r = s
        .as_operator(
            "GET",
            "/admin/v1/statistics?by=area&format=csv",
            serde_json::Value::Null,
        )
        .await;
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    let text = r.text();
    assert!(text.lines().next().unwrap().contains("prefecture"));
    assert!(text.contains("insurance_card"));
    let r = s
        .as_operator(
            "GET",
            "/admin/v1/statistics?month=2026-11",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_rule_reaches_the_card_readers_face_result() {
    let s = TestApp::start().await;
    let (status, j) = operator(
        &s,
        "POST",
        "/admin/v1/forced",
        serde_json::json!({"facility": MED, "kind": "OQSsiquc01", "person": "1", "answer": "validity:3"}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    assert_eq!(face_validity(&s).await.as_deref(), Some("3"), "forced");
    assert_eq!(
        face_validity(&s).await.as_deref(),
        Some("1"),
        "then the real answer"
    );
    s.stop().await;
}

/// 山田 太郎's card-reader flow at the clinic; the validity of the face result written.
async fn face_validity(s: &TestApp) -> Option<String> {
    let how = serde_json::json!({"method": "face", "match": true});
    let id = s.place_and_identify(MED, "D000000000000001", how).await;
    let (status, j) = s
        .consent(MED, &id, serde_json::json!({"medication": true}))
        .await;
    assert_eq!(status, 200, "{j}");
    let file = s
        .folder(MED)
        .join("face")
        .join(j["face_file"].as_str().unwrap());
    validity(&wait_for(&file).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_folder_answer_appears_later_and_the_request_is_taken_at_once() {
    let s = TestApp::start().await;
    let (status, j) = operator(
        &s,
        "POST",
        "/admin/v1/faults",
        serde_json::json!({"transport": "folder", "action": {"delay": {"ms": 800}}}),
    )
    .await;
    assert_eq!(status, 201, "{j}");
    applied(&s, 0, 1).await;
    let dir = s.folder(MED);
    let started = Instant::now();
    std::fs::write(dir.join("req/OQSsiquc01req_late.xml"), yamada("late")).unwrap();
    let body = wait_for(&dir.join("res/OQSsiquc01res_late.xml")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert!(!dir.join("req/OQSsiquc01req_late.xml").exists());
    assert_eq!(validity(&body).as_deref(), Some("1"));
    s.stop().await;
}
