//! 特定健診: insurers' submissions (archives and single documents, over HTTP and from their folder), validation
//! reports, replacement and deletion, `TKKsiquc01` retrieval with consent, the patient view, and hostile archives.

use std::io::Write;

use chrono::NaiveDate;
use onshi_checkup::synthetic::{self, Example};

use crate::app::{child, tree, wait_for, TestApp, MED};
use onshi_platform::testkit::http;

fn archive(docs: Vec<String>) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let date = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
    synthetic::archive(&mut out, MED, "01130012", date, docs).unwrap();
    out.into_inner()
}

async fn submit(s: &TestApp, body: &[u8]) -> http::Reply {
    http::send(&s.addr, "POST", "/checkup/v1/submissions", &[], body).await
}

fn tkk(category: u8) -> Vec<u8> {
    format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{MED}</MedicalInstitutionCode><InsurerNumber>01130012\
         </InsurerNumber><InsuranceCardSymbol>12345678</InsuranceCardSymbol><InsuredPersonIdentificationNumber>1\
         </InsuredPersonIdentificationNumber><BranchNumber>00</BranchNumber><ArbitraryFileIdentifier>tkk-1\
         </ArbitraryFileIdentifier></MessageHeader><MessageBody><FileCategory>{category}</FileCategory>\
         </MessageBody></XmlMsg>"
    )
    .into_bytes()
}

async fn count(s: &TestApp, table: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM checkup.{table}"))
        .fetch_one(&s.core.pool)
        .await
        .unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_checked_per_person_stored_once_and_shown_with_consent() {
    let s = TestApp::start().await;
    let good = synthetic::document(&Example::vector_one());
    let unknown_item = good.replace("9N001000000000001", "9N001000000000999");
    let mut stranger = Example::vector_one();
    stranger.number = "999".into();
    let stranger = synthetic::document(&stranger);
    let zip = archive(vec![good.clone(), unknown_item, stranger]);
    let r = submit(&s, &zip).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    assert_eq!(
        (
            j["files"].clone(),
            j["registered"].clone(),
            j["rejected"].clone()
        ),
        (3.into(), 1.into(), 2.into()),
        "{j}"
    );
    let problems = j["problems"].to_string();
    assert!(problems.contains("unknown item code"), "{problems}");
    assert!(problems.contains("9N001000000000999"), "{problems}");
    assert!(problems.contains("no insured person"), "{problems}");
    assert_eq!(
        j["judgments_differ_total"], 0,
        "the submitted judgments are the computed ones"
    );
    assert_eq!(j["archive"]["interaction_type"], "12");
    // The same archive again: its first report, nothing applied twice.
    let again = submit(&s, &zip).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["duplicate"], true);
    // The same person file in another submission (a single document): unchanged.
    let single = submit(&s, good.as_bytes()).await;
    assert_eq!(single.status, 201, "{}", single.text());
    assert_eq!(single.json()["unchanged"], 1);
    assert_eq!(count(&s, "results").await, 1);

    // Retrieval: refused without the 特定健診 consent (and logged), answered with it.
    let refused = tree(&s.post_file("TKKsiquc01req_tkk1.xml", &tkk(2)).await.body);
    assert_eq!(child(&refused, &["MessageHeader", "ResultCode"]).text, "2");
    let (_, j) = s.place_card(MED, "D000000000000001").await;
    let session = j["session"].as_str().unwrap().to_string();
    s.identify(
        MED,
        &session,
        serde_json::json!({"method": "pin", "pin": "1234"}),
    )
    .await;
    let (status, j) = s
        .consent(MED, &session, serde_json::json!({"checkup": true}))
        .await;
    assert_eq!(status, 200, "{j}");
    let r = s.post_file("TKKsiquc01req_tkk2.xml", &tkk(2)).await;
    let t = tree(&r.body);
    assert_eq!(
        child(&t, &["MessageHeader", "ResultCode"]).text,
        "1",
        "{}",
        r.text()
    );
    assert_eq!(
        child(&t, &["MessageHeader", "ArbitraryFileIdentifier"]).text,
        "tkk-1"
    );
    assert_eq!(
        child(&t, &["MessageHeader", "QualificationsInfo", "Birthday"]).text,
        "19800515"
    );
    let info = child(&t, &["MessageBody", "SpecificHealthCheckupInfo"]);
    assert_eq!(info.value("EffectiveTime"), Some("20250601"));
    let items: Vec<_> = child(info, &["HealthCheckupResultAndQuestionInfos"])
        .children_named("HealthCheckupResultAndQuestionInfo")
        .collect();
    let metabo = items
        .iter()
        .find(|i| i.value("ItemCode") == Some("9N501000000000011"))
        .unwrap();
    assert_eq!(metabo.value("DataValue"), Some("2"));
    assert_eq!(metabo.value("DataValueName"), Some("予備群該当"));
    let waist = items
        .iter()
        .find(|i| i.value("ItemCode") == Some("9N016160100000001"))
        .unwrap();
    assert_eq!(
        (waist.value("DataValue"), waist.value("Unit")),
        (Some("90.0"), Some("cm"))
    );
    // The PDF form.
    let pdf = s.post_file("TKKsiquc01req_tkk3.xml", &tkk(1)).await;
    assert!(pdf.body.starts_with(b"%PDF-1.4"), "{}", pdf.text());
    // Every view and the refusal are in the access log.
    let (logged,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM consent.access_log WHERE kind = 'TKK'")
            .fetch_one(&s.core.pool)
            .await
            .unwrap();
    assert_eq!(logged, 3);

    // The patient view: the values over the years.
    let r = s
        .as_operator(
            "GET",
            "/checkup/v1/persons/demo-yamada-taro/results",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let view = r.json();
    assert_eq!(view["checkups"][0]["values"]["bmi"], 26.0);
    assert_eq!(view["checkups"][0]["level"]["label"], "積極的支援");
    assert_eq!(view["trends"]["hba1c"][0]["value"], 5.8);

    // A deletion request removes it; the same request for nothing is rejected.
    let mut delete = Example::vector_one();
    delete.report = "19";
    delete.values.clear();
    let r = submit(&s, synthetic::document(&delete).as_bytes()).await;
    assert_eq!(r.json()["deleted"], 1, "{}", r.text());
    let mut other_day = delete.clone();
    other_day.date = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
    let r = submit(&s, synthetic::document(&other_day).as_bytes()).await;
    assert_eq!(r.json()["rejected"], 1, "{}", r.text());
    assert!(r.text().contains("to delete"), "{}", r.text());
    let t = tree(&s.post_file("TKKsiquc01req_tkk4.xml", &tkk(2)).await.body);
    assert_eq!(child(&t, &["MessageHeader", "ResultCode"]).text, "1");
    assert!(child(&t, &["MessageBody"])
        .child("SpecificHealthCheckupInfo")
        .is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_replaces_the_result_and_disagreeing_judgments_are_reported() {
    let s = TestApp::start().await;
    submit(&s, synthetic::document(&Example::vector_one()).as_bytes()).await;
    let mut corrected = Example::vector_one();
    // The same day again with lower pressure; the insurer's judgments were not updated.
    for (code, v) in corrected.values.iter_mut() {
        if *code == "9A755000000000001" {
            *v = onshi_checkup::cda::Value::Quantity {
                value: "118".into(),
                unit: "mm[Hg]".into(),
            };
        }
    }
    let r = submit(&s, synthetic::document(&corrected).as_bytes()).await;
    let j = r.json();
    assert_eq!(j["replaced"], 1, "{j}");
    // メタボ判定 is now 非該当 (no risk but glucose ≥ 110 … not met); the level stays 積極的支援 (glucose + smoking).
    assert_eq!(j["judgments_differ_total"], 1, "{j}");
    assert_eq!(j["judgments_differ"][0]["item"], "9N501000000000011");
    assert_eq!(
        (
            j["judgments_differ"][0]["submitted"].clone(),
            j["judgments_differ"][0]["computed"].clone()
        ),
        (2.into(), 3.into())
    );
    let (current,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM checkup.results WHERE replaced_by IS NULL AND deleted_at IS NULL",
    )
    .fetch_one(&s.core.pool)
    .await
    .unwrap();
    assert_eq!((current, count(&s, "results").await), (1, 2));
    s.stop().await;
}

/// A ZIP with one entry of this name and content.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        z.start_file(*name, options).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_submissions_are_refused_whole_with_a_reason() {
    let s = TestApp::start().await;
    let root = "1310112345_01130012_202506100_1";
    let doc = synthetic::document(&Example::vector_one());
    let index = synthetic::index(
        MED,
        "01130012",
        NaiveDate::from_ymd_opt(2025, 6, 10).unwrap(),
        12,
        1,
        1,
    );
    let data = format!("{root}/DATA/h131011234520250610010000001.xml");
    let ix = format!("{root}/ix08_V08.xml");
    let bomb = vec![b' '; 900 * 1024];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not a ZIP",
            b"hello, this is not an archive".to_vec(),
            "neither a ZIP",
        ),
        (
            "a truncated ZIP",
            archive(vec![doc.clone()])[..60].to_vec(),
            "cannot be read as ZIP",
        ),
        (
            "path traversal",
            zip_of(&[
                (&format!("{root}/../../etc/passwd"), b"x"),
                (&ix, index.as_bytes()),
            ]),
            "leaves the archive",
        ),
        (
            "absolute name",
            zip_of(&[("/etc/passwd", b"x")]),
            "absolute",
        ),
        (
            "nested archive",
            zip_of(&[
                (&format!("{root}/DATA/inner.zip"), b"PK"),
                (&ix, index.as_bytes()),
            ]),
            "nested archives",
        ),
        (
            "ZIP bomb",
            zip_of(&[(&data, &bomb), (&ix, index.as_bytes())]),
            "ZIP bomb",
        ),
        (
            "no index",
            zip_of(&[(&data, doc.as_bytes())]),
            "ix08_V08.xml (the index) is missing",
        ),
        (
            "count mismatch",
            zip_of(&[
                (&data, doc.as_bytes()),
                (&ix, index.replace("value=\"1\"", "value=\"7\"").as_bytes()),
            ]),
            "totalRecordCount",
        ),
        (
            "bad root name",
            zip_of(&[("submission/DATA/a.xml", doc.as_bytes())]),
            "root folder",
        ),
        (
            "保健指導 archive",
            zip_of(&[
                (&data, doc.as_bytes()),
                (
                    &ix,
                    index
                        .replace("serviceEventType code=\"1\"", "serviceEventType code=\"2\"")
                        .as_bytes(),
                ),
            ]),
            "特定保健指導",
        ),
    ];
    for (label, body, reason) in cases {
        let r = submit(&s, &body).await;
        assert_eq!(r.status, 400, "{label}: {}", r.text());
        assert!(r.text().contains(reason), "{label}: {}", r.text());
    }
    assert_eq!(count(&s, "submissions").await, 0, "nothing stored");
    assert_eq!(count(&s, "results").await, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insurer_folder_takes_submissions() {
    let s = TestApp::start().await;
    let dir = s.folders.path().join("insurers/01130012/checkups");
    std::fs::create_dir_all(&dir).unwrap();
    let name = "1310112345_01130012_202506100_1.zip";
    std::fs::write(
        dir.join(name),
        archive(vec![synthetic::document(&Example::vector_one())]),
    )
    .unwrap();
    let report = wait_for(&dir.join(format!("{name}.result.json"))).await;
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["registered"], 1, "{report}");
    assert!(!dir.join(name).exists());
    // Another insurer's members are not this insurer's to register.
    let other = s.folders.path().join("insurers/06131270/checkups");
    std::fs::create_dir_all(&other).unwrap();
    let mut e = Example::vector_one();
    e.date = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
    std::fs::write(other.join("one.xml"), synthetic::document(&e)).unwrap();
    let report = wait_for(&other.join("one.xml.result.json")).await;
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["rejected"], 1, "{report}");
    assert!(
        report.to_string().contains("not of the submitting insurer"),
        "{report}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_of_the_same_person_apply_one_after_the_other() {
    let s = TestApp::start().await;
    let doc = synthetic::document(&Example::vector_one());
    // The same person file alone and inside an archive, and two corrections of one result, all at once.
    let mut corrected = Example::vector_one();
    for (code, v) in corrected.values.iter_mut() {
        if *code == "9A755000000000001" {
            *v = onshi_checkup::cda::Value::Quantity {
                value: "118".into(),
                unit: "mm[Hg]".into(),
            };
        }
    }
    let (alone, zipped, fixed) = (
        doc.clone().into_bytes(),
        archive(vec![doc.clone()]),
        synthetic::document(&corrected).into_bytes(),
    );
    let replies = tokio::join!(submit(&s, &alone), submit(&s, &zipped), submit(&s, &fixed));
    for r in [replies.0, replies.1, replies.2] {
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let (current,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM checkup.results WHERE replaced_by IS NULL AND deleted_at IS NULL",
    )
    .fetch_one(&s.core.pool)
    .await
    .unwrap();
    assert_eq!(
        current, 1,
        "one current result of the one person, kind and date"
    );
    assert_eq!(
        count(&s, "files").await,
        2,
        "the shared file is stored once"
    );
    s.stop().await;
}
