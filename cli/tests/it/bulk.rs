//! The two-step bulk flows through the bulk engine: 一括照会 (`OQSmuquc01/02`) over HTTP and the folder — the
//! receipt, 処理中 while the job is held, the results in file order with their counts, a job left queued by a crash
//! processed again, and the refusals (the same file twice, another facility's or an unknown number, expired
//! results, a malformed or oversize file).

use std::time::Duration;

use onshi_wire::xml::Element;

use crate::app::{child, tree, wait_for, TestApp, DENTAL, MED};
use onshi_platform::testkit::http;

fn demo_file() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSmuquc01req_demo_clinic.xml"),
    )
    .unwrap()
}

fn poll_file(facility: &str, number: &str) -> Vec<u8> {
    format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{facility}</MedicalInstitutionCode></MessageHeader>\
         <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
    )
    .into_bytes()
}

async fn post(s: &TestApp, name: &str, body: &[u8]) -> (u16, Element) {
    let r = s.post_file(name, body).await;
    (r.status, tree(&r.body))
}

fn header(t: &Element) -> &Element {
    child(t, &["MessageHeader"])
}

/// Polls step 2 until the job is no longer 処理中; returns the answer.
async fn until_done(s: &TestApp, facility: &str, number: &str) -> Element {
    for _ in 0..200 {
        let (_, t) = post(s, "OQSmuquc02req_p.xml", &poll_file(facility, number)).await;
        if header(&t).value("SegmentOfResult") != Some("2") {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the bulk job never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_query_is_received_processed_and_downloaded_in_file_order() {
    let s = TestApp::start().await;
    // 佐藤 健一 has the clinic's 照会番号 P-0042: his unit carries it.
    let siimm = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiimm01req_sato_kenichi.xml"),
    )
    .unwrap();
    let (_, t) = post(&s, "OQSsiimm01req_r.xml", &siimm).await;
    assert_eq!(header(&t).value("SegmentOfResult"), Some("1"));
    let (status, receipt) = post(&s, "OQSmuquc01req_1.xml", &demo_file()).await;
    assert_eq!(status, 200);
    let h = header(&receipt);
    assert_eq!(h.value("SegmentOfResult"), Some("1"));
    assert_eq!(
        h.value("ArbitraryFileIdentifier"),
        Some("demo-muquc-clinic")
    );
    let number = child(&receipt, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    assert_eq!(number.len(), 20);
    assert_eq!(
        child(&receipt, &["MessageBody"]).value("ReceptionDateTime"),
        Some("20261121100000")
    );

    let t = until_done(&s, MED, &number).await;
    let h = header(&t);
    assert_eq!(h.value("SegmentOfResult"), Some("1"));
    assert_eq!(h.value("ReceptionNumber"), Some(number.as_str()));
    assert_eq!(h.value("QualificationConfirmationDate"), Some("20261120"));
    assert_eq!(
        h.value("ArbitraryFileIdentifier"),
        Some("demo-muquc-clinic")
    );
    assert_eq!(
        (
            h.value("NumberOfProcessingResult"),
            h.value("NumberOfNormalProcessing"),
            h.value("NumberOfError")
        ),
        (Some("7"), Some("6"), Some("1"))
    );
    let units: Vec<&Element> = child(&t, &["MessageBody"])
        .children_named("BulkConfirmUnit")
        .collect();
    let ids: Vec<&str> = units
        .iter()
        .map(|u| {
            u.child("QualificationConfirmSearchInfo")
                .unwrap()
                .value("ArbitraryIdentifier")
                .unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "P0001_yamada_taro",
            "P0002_yamada_hanako",
            "P0003_sato_kenichi",
            "P0004_ito_old",
            "P0005_nakamura_misaki",
            "P0006_nobody",
            "P0007_bad_insurer"
        ],
        "file order, each person's own key echoed"
    );
    let validity: Vec<Option<&str>> = units
        .iter()
        .map(|u| u.value("QualificationValidity"))
        .collect();
    assert_eq!(
        validity,
        [
            Some("1"),
            Some("1"),
            Some("1"),
            Some("3"),
            Some("1"),
            Some("4"),
            None
        ]
    );
    let references: Vec<Option<&str>> = units.iter().map(|u| u.value("ReferenceNumber")).collect();
    assert_eq!(
        references,
        [None, None, Some("P-0042"), None, None, None, None]
    );
    let taro = units[0].child("ResultOfQualificationConfirmation").unwrap();
    assert_eq!(taro.value("Name"), Some("山田　太郎"));
    // 佐藤 consented to 限度額 in the file: the certificate comes with the result.
    assert!(units[2]
        .child("ResultOfQualificationConfirmation")
        .unwrap()
        .child("LimitApplicationCertificateRelatedInfo")
        .is_some());
    assert!(units[5]
        .child("ResultOfQualificationConfirmation")
        .is_none());
    assert_eq!(units[6].value("ProcessingResultStatus"), Some("2"));
    assert_eq!(units[6].value("ProcessingResultCode"), Some("EP0002"));

    // A job left queued (its processing rolled back by a crash) is processed again; while its row is held it is
    // 処理中.
    let mut hold = s.core.pool.begin().await.unwrap();
    sqlx::query(
        "UPDATE eligibility.bulk_jobs SET state = 'queued', done_at = NULL WHERE number = $1",
    )
    .bind(&number)
    .execute(&mut *hold)
    .await
    .unwrap();
    sqlx::query("DELETE FROM eligibility.bulk_results WHERE number = $1")
        .bind(&number)
        .execute(&mut *hold)
        .await
        .unwrap();
    hold.commit().await.unwrap();
    let mut lock = s.core.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM eligibility.bulk_jobs WHERE number = $1 FOR UPDATE")
        .bind(&number)
        .execute(&mut *lock)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (_, t) = post(&s, "OQSmuquc02req_p.xml", &poll_file(MED, &number)).await;
    assert_eq!(header(&t).value("SegmentOfResult"), Some("2"), "処理中");
    assert_eq!(header(&t).value("ReceptionNumber"), Some(number.as_str()));
    assert!(t.child("MessageBody").is_none());
    lock.commit().await.unwrap();
    let again = until_done(&s, MED, &number).await;
    assert_eq!(header(&again).value("NumberOfNormalProcessing"), Some("6"));

    // The same file again; another facility asking for this number; an unknown number.
    let (_, dup) = post(&s, "OQSmuquc01req_2.xml", &demo_file()).await;
    assert_eq!(header(&dup).value("ErrorCode"), Some("EC0018"));
    assert!(header(&dup)
        .value("ErrorMessage")
        .unwrap()
        .contains(&number));
    let (_, other) = post(&s, "OQSmuquc02req_o.xml", &poll_file(DENTAL, &number)).await;
    assert_eq!(header(&other).value("ErrorCode"), Some("EC0016"));
    let (_, unknown) = post(
        &s,
        "OQSmuquc02req_u.xml",
        &poll_file(MED, "20261121100000999999"),
    )
    .await;
    assert_eq!(header(&unknown).value("ErrorCode"), Some("EC0016"));

    // Results are kept 7 simulated days.
    let r = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"advance": "8d"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let (_, expired) = post(&s, "OQSmuquc02req_e.xml", &poll_file(MED, &number)).await;
    assert_eq!(header(&expired).value("ErrorCode"), Some("EC0017"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_files_come_through_the_folder_and_bad_ones_are_refused_whole() {
    let s = TestApp::start().await;
    let fac = s.folder(MED);
    std::fs::write(fac.join("req/OQSmuquc01req_f.xml"), demo_file()).unwrap();
    let receipt = tree(&wait_for(&fac.join("res/OQSmuquc01res_f.xml")).await);
    let number = child(&receipt, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    let mut answer = None;
    for n in 0..100 {
        std::fs::write(
            fac.join(format!("req/OQSmuquc02req_f{n}.xml")),
            poll_file(MED, &number),
        )
        .unwrap();
        let t = tree(&wait_for(&fac.join(format!("res/OQSmuquc02res_f{n}.xml"))).await);
        if header(&t).value("SegmentOfResult") == Some("1") {
            answer = Some(t);
            break;
        }
    }
    let t = answer.expect("the job finished");
    assert_eq!(
        child(&t, &["MessageBody"])
            .children_named("BulkConfirmUnit")
            .count(),
        7
    );

    // Malformed, no persons, over the size limit: refused whole, nothing queued.
    let before: (i64,) = sqlx::query_as("SELECT count(*) FROM eligibility.bulk_jobs")
        .fetch_one(&s.core.pool)
        .await
        .unwrap();
    let text = String::from_utf8(demo_file()).unwrap();
    let (_, t) = post(
        &s,
        "OQSmuquc01req_m.xml",
        text.replace("</MessageBody>", "").as_bytes(),
    )
    .await;
    assert_eq!(header(&t).value("ErrorCode"), Some("EC0001"));
    let empty = text
        .split("<QualificationConfirmSearchInfo>")
        .next()
        .unwrap()
        .to_string()
        + "</MessageBody></XmlMsg>";
    let (_, t) = post(&s, "OQSmuquc01req_n.xml", empty.as_bytes()).await;
    assert_eq!(header(&t).value("ErrorCode"), Some("EC0015"));
    let big = vec![b' '; onshi_platform::config::limits::BULK_FILE + 1];
    let r = s.post_file("OQSmuquc01req_b.xml", &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(header(&tree(&r.body)).value("ErrorCode"), Some("EC0009"));
    let after: (i64,) = sqlx::query_as("SELECT count(*) FROM eligibility.bulk_jobs")
        .fetch_one(&s.core.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    s.stop().await;
}

/// The scrape of `/metrics` after one query and one bulk job: messages by facility type, bulk jobs by state and
/// their durations, the pool, feed lag and memory — and never a facility code or a person in a label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_by_facility_type_and_show_bulk_jobs_pool_and_feed_lag() {
    let s = TestApp::start().await;
    let single = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    )
    .unwrap();
    assert_eq!(
        s.post_file("OQSsiquc01req_m.xml", &single).await.status,
        200
    );
    let (_, receipt) = post(&s, "OQSmuquc01req_1.xml", &demo_file()).await;
    let number = child(&receipt, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    until_done(&s, MED, &number).await;

    // The gauges are refreshed every second.
    let mut text = String::new();
    for _ in 0..100 {
        text = http::get(&s.addr, "/metrics").await.text();
        if text.contains("onshi_bulk_jobs{state=\"done\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for line in [
        "onshi_messages_total{facility=\"medical\",message=\"OQSsiquc01\",outcome=\"validity_1\",transport=\"http\"} 1",
        "onshi_bulk_jobs{state=\"queued\"} 0",
        "onshi_bulk_jobs{state=\"running\"} 0",
        "onshi_bulk_job_seconds_count{kind=\"OQSmuquc\"} 1",
        "onshi_feed_lag_rows{feed=\"insurer\"} 0",
        "onshi_feed_lag_rows{feed=\"portal\"} 0",
    ] {
        assert!(text.contains(line), "{line} is missing from:\n{text}");
    }
    for gauge in [
        "onshi_db_pool_connections{state=\"open\"}",
        "onshi_db_pool_connections{state=\"idle\"}",
        "onshi_process_resident_bytes",
    ] {
        let value: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(gauge))
            .unwrap_or_else(|| panic!("{gauge} is missing"))
            .trim()
            .parse()
            .unwrap();
        assert!(value >= 0.0);
    }
    assert!(!text.contains(MED), "a facility code in a label");
    s.stop().await;
}

/// The results of a done job zipped (`--bulk-results-zip always`): `….zip` over HTTP (`application/zip`) and in
/// `res/`, holding `OQSmuquc02res_<受付番号>.xml`; 処理中 and refusals stay XML; `over:<bytes>` zips only larger ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipped_results_hold_the_xml_under_the_reception_number() {
    use onshi_platform::config::{BulkZip, Config};
    let mut config = Config::default();
    config.eligibility.bulk_results_zip = BulkZip::Always;
    let s = TestApp::with(config, crate::app::NOW).await;
    let (_, receipt) = post(&s, "OQSmuquc01req_z.xml", &demo_file()).await;
    let number = child(&receipt, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    let mut zipped = None;
    for _ in 0..200 {
        let r = s
            .post_file("OQSmuquc02req_z.xml", &poll_file(MED, &number))
            .await;
        assert_eq!(r.status, 200);
        if r.header("content-type") == Some("application/zip") {
            zipped = Some(r);
            break;
        }
        assert_eq!(header(&tree(&r.body)).value("SegmentOfResult"), Some("2"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = zipped.expect("the results, zipped");
    assert!(r
        .header("content-disposition")
        .unwrap()
        .contains("filename=\"OQSmuquc02res_z.zip\""));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.clone())).unwrap();
    assert_eq!(zip.len(), 1);
    let mut entry = zip.by_index(0).unwrap();
    assert_eq!(entry.name(), format!("OQSmuquc02res_{number}.xml"));
    let mut xml = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut xml).unwrap();
    let t = tree(&xml);
    assert_eq!(header(&t).value("ReceptionNumber"), Some(number.as_str()));
    assert_eq!(
        child(&t, &["MessageBody"])
            .children_named("BulkConfirmUnit")
            .count(),
        7
    );
    // The folder door names it .zip too; an unknown number is still an XML refusal.
    let fac = s.folder(MED);
    std::fs::write(
        fac.join("req/OQSmuquc02req_zf.xml"),
        poll_file(MED, &number),
    )
    .unwrap();
    let bytes = wait_for(&fac.join("res/OQSmuquc02res_zf.zip")).await;
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let (_, t) = post(
        &s,
        "OQSmuquc02req_u.xml",
        &poll_file(MED, "00000000000000000000"),
    )
    .await;
    assert_eq!(header(&t).value("ErrorCode"), Some("EC0016"));
    s.stop().await;

    assert_eq!(BulkZip::parse("over:1000"), Some(BulkZip::Over(1000)));
    assert!(BulkZip::Over(1000).applies(1001) && !BulkZip::Over(1000).applies(1000));
    assert_eq!(BulkZip::parse("sometimes"), None);
}

/// 一括照会 over the Web API: the persons as a JSON array under `MessageBody`, the 受付番号 back as JSON, then the
/// results as JSON once the job is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_query_over_the_web_api() {
    use onshi_wire::msg::file_name::MessageKind;
    let s = TestApp::start().await;
    let token = s.login(MED).await;
    let person = |number: &str, branch: &str, birth: &str| {
        serde_json::json!({"QualificationConfirmSearchInfo": {
            "InsurerNumber": "01130012", "InsuredCardSymbol": "12345678", "InsuredIdentificationNumber": number,
            "InsuredBranchNumber": branch, "Birthdate": birth, "LimitApplicationCertificateRelatedConsFlg": "0"}})
    };
    let upload = serde_json::json!({"XmlMsg": {
        "MessageHeader": {"QualificationConfirmationDate": "20261120", "MedicalInstitutionCode": MED,
                          "ArbitraryFileIdentifier": "webapi-bulk"},
        "MessageBody": [person("1", "00", "19800515"), person("1", "01", "19820820")]}});
    let r = s
        .web_api(
            MessageKind::OqsMuquc01,
            &token,
            upload.to_string().as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let number = r.json()["XmlMsg"]["MessageBody"]["ReceptionNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("a ReceptionNumber in {}", r.text()))
        .to_string();
    let poll = serde_json::json!({"XmlMsg": {"MessageHeader": {"MedicalInstitutionCode": MED},
                                             "MessageBody": {"ReceptionNumber": number}}});
    let mut done = None;
    for _ in 0..200 {
        let r = s
            .web_api(MessageKind::OqsMuquc02, &token, poll.to_string().as_bytes())
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let t = onshi_wire::xml::from_json(&r.json()).unwrap();
        if header(&t).value("SegmentOfResult") != Some("2") {
            done = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = done.expect("the job finished");
    assert_eq!(header(&t).value("SegmentOfResult"), Some("1"));
    let units: Vec<&Element> = child(&t, &["MessageBody"])
        .children_named("BulkConfirmUnit")
        .collect();
    assert_eq!(units.len(), 2);
    assert!(units
        .iter()
        .all(|u| u.value("QualificationValidity") == Some("1")));
    s.stop().await;
}
