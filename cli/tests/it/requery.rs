//! The 2024 rule on re-queries by stored numbers (seed 004): each facility's last presentation per patient (the
//! card at the reader, the insurance card), every 一括照会 person a re-query — allowed in a month with a
//! presentation, flagged in the requery log and the usage statistics without one — and, when set, ID-only single
//! queries and refusals (`requery_unpresented`, nothing disclosed).

use std::time::Duration;

use onshi_platform::config::{Config, RequeryRule, SingleQuery, Unpresented};
use onshi_wire::xml::Element;

use crate::app::{child, tree, TestApp, MED, NOW};

fn demo(name: &str) -> Vec<u8> {
    onshi_seed::demo::file(&format!("requests/{name}"))
        .unwrap()
        .to_vec()
}

/// 山田 太郎 alone in a bulk query of the clinic, confirmed on `date`.
fn bulk_of_taro(date: &str, id: &str) -> Vec<u8> {
    format!(
        "<XmlMsg><MessageHeader><QualificationConfirmationDate>{date}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{MED}</MedicalInstitutionCode><ArbitraryFileIdentifier>{id}</ArbitraryFileIdentifier>\
         </MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>01130012</InsurerNumber>\
         <InsuredCardSymbol>12345678</InsuredCardSymbol><InsuredIdentificationNumber>1</InsuredIdentificationNumber>\
         <InsuredBranchNumber>00</InsuredBranchNumber><Birthdate>19800515</Birthdate>\
         <LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>\
         </QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    )
    .into_bytes()
}

/// Sends a bulk query and waits for its results; returns the person's unit.
async fn bulk(s: &TestApp, body: &[u8]) -> Element {
    let t = s.two_step("OQSmuquc", MED, body).await;
    child(&t, &["MessageBody", "BulkConfirmUnit"]).clone()
}

async fn requeries(s: &TestApp, query: &str) -> Vec<serde_json::Value> {
    let r = s
        .as_operator(
            "GET",
            &format!("/eligibility/v1/requeries{query}"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().as_array().unwrap().clone()
}

async fn usage_of_clinic(s: &TestApp, month: &str) -> serde_json::Value {
    let r = s
        .as_operator(
            "GET",
            &format!("/admin/v1/statistics?by=facility&month={month}"),
            serde_json::Value::Null,
        )
        .await;
    r.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["facility"] == MED)
        .cloned()
        .unwrap_or_default()
}

async fn set_clock(s: &TestApp, at: &str) {
    s.core
        .clock
        .set(onshi_platform::clock::parse_time(at).unwrap())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_requeries_are_flagged_in_months_without_a_presentation() {
    let s = TestApp::start().await;
    // Never presented at the clinic: the re-query is answered (the real system enforces nothing) and flagged.
    let unit = bulk(&s, &bulk_of_taro("20261121", "a")).await;
    assert_eq!(unit.value("ProcessingResultStatus"), Some("1"));
    assert_eq!(unit.value("QualificationValidity"), Some("1"));
    let log = requeries(&s, "?flagged=true").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        (
            log[0]["person_id"].as_str(),
            log[0]["via"].as_str(),
            log[0]["facility"].as_str()
        ),
        (Some("demo-yamada-taro"), Some("bulk"), Some(MED))
    );
    assert!(log[0]["last_presented"].is_null() && log[0]["reception_number"].is_string());
    // He shows his insurance card (a single query): the month's later re-queries rest on it.
    let r = s
        .post_file(
            "OQSsiquc01req_t.xml",
            &demo("OQSsiquc01req_yamada_taro.xml"),
        )
        .await;
    assert_eq!(r.status, 200);
    let _ = bulk(&s, &bulk_of_taro("20261121", "b")).await;
    let allowed = requeries(&s, "?flagged=false").await;
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert_eq!(allowed[0]["last_presented"], "2026-11-21T10:00:00");
    // Next month, before he presents anything: flagged again.
    set_clock(&s, "2026-12-02T09:00:00").await;
    let _ = bulk(&s, &bulk_of_taro("20261202", "c")).await;
    assert_eq!(requeries(&s, "?flagged=true&month=202612").await.len(), 1);
    // His card at the reader in December: a presentation too.
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let _ = bulk(&s, &bulk_of_taro("20261202", "d")).await;
    assert_eq!(requeries(&s, "?flagged=false&month=202612").await.len(), 1);
    // The usage statistics count both, per month.
    for _ in 0..50 {
        if usage_of_clinic(&s, "202612").await["requery"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nov = usage_of_clinic(&s, "202611").await;
    assert_eq!(
        (nov["requery"].as_i64(), nov["requery_unpresented"].as_i64()),
        (Some(1), Some(1)),
        "{nov}"
    );
    let dec = usage_of_clinic(&s, "202612").await;
    assert_eq!(
        (dec["requery"].as_i64(), dec["requery_unpresented"].as_i64()),
        (Some(1), Some(1)),
        "{dec}"
    );
    // Bad filters get the error shape.
    let r = s
        .as_operator(
            "GET",
            "/eligibility/v1/requeries?month=2026-12",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"].as_str().is_some());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_only_requeries_of_a_person_never_presented_can_be_refused() {
    let mut config = Config::default();
    config.eligibility.requery = RequeryRule {
        single_query: SingleQuery::IdOnly,
        unpresented: Unpresented::Refuse,
    };
    let s = TestApp::with(config, NOW).await;
    // An ID-only single query of a person never presented: refused per person, nothing disclosed, logged.
    let r = s
        .post_file(
            "OQSsiquc01req_t.xml",
            &demo("OQSsiquc01req_yamada_taro.xml"),
        )
        .await;
    let t = tree(&r.body);
    let body = child(&t, &["MessageBody"]);
    assert_eq!(body.value("ProcessingResultStatus"), Some("2"));
    assert_eq!(body.value("ProcessingResultCode"), Some("EP0009"));
    assert!(body.child("ResultList").is_none());
    assert!(!String::from_utf8_lossy(&r.body).contains("山田"));
    let log = requeries(&s, "").await;
    assert_eq!(
        (
            log.len(),
            log[0]["via"].as_str(),
            log[0]["flagged"].as_bool(),
            log[0]["refused"].as_bool()
        ),
        (1, Some("single"), Some(true), Some(true))
    );
    // So is his bulk re-query.
    let unit = bulk(&s, &bulk_of_taro("20261121", "a")).await;
    assert_eq!(unit.value("ProcessingResultStatus"), Some("2"));
    assert_eq!(unit.value("ProcessingResultCode"), Some("EP0009"));
    assert!(unit.child("ResultOfQualificationConfirmation").is_none());
    // He presents his My Number card at the reader: the month's re-queries are answered.
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let t = tree(
        &s.post_file(
            "OQSsiquc01req_u.xml",
            &demo("OQSsiquc01req_yamada_taro.xml"),
        )
        .await
        .body,
    );
    assert_eq!(
        child(&t, &["MessageBody"]).value("QualificationValidity"),
        Some("1")
    );
    let unit = bulk(&s, &bulk_of_taro("20261121", "b")).await;
    assert_eq!(unit.value("ProcessingResultStatus"), Some("1"));
    assert_eq!(requeries(&s, "?flagged=false").await.len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presentations_are_written_when_the_process_stops() {
    let s = TestApp::start().await;
    let r = s
        .post_file(
            "OQSsiquc01req_t.xml",
            &demo("OQSsiquc01req_yamada_taro.xml"),
        )
        .await;
    assert_eq!(r.status, 200);
    // Stopped at once, before the write of each second: the stop writes it.
    let pool = s.core.pool.clone();
    s.host.stop().await;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM eligibility.presentations WHERE person_id = 'demo-yamada-taro'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(n, 1);
}
