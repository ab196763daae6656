//! 医療扶助 end to end (issue 15): the welfare office's recipient 小川 茂 (公費負担者番号 12130019, 受給者番号 1234566)
//! confirmed by insurance-card data, by My Number card at the reader, and in the clinic's `OQSmutic` bulk by
//! treatment month — with the month's 医療券・調剤券 in `PublicExpenseResultList`, validity 6 有効（未登録） in a month
//! without a ticket — and bad input: a ticket asked for another month, a bulk file mixing kinds, a recipient number
//! with a wrong check digit, a 医療扶助 card under an insurer number.

use std::time::Duration;

use onshi_platform::testkit::http;
use onshi_wire::xml::Element;

use crate::app::{child, tree, wait_for, TestApp, DENTAL, MED, PHARMACY};

fn demo(name: &str) -> String {
    String::from_utf8(
        onshi_seed::demo::file(&format!("requests/{name}"))
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

/// 小川 茂 confirmed by `facility` on `date`: the body of the answer.
async fn ogawa(s: &TestApp, facility: &str, date: &str) -> Element {
    let body = demo("OQSsiquc01req_ogawa_shigeru.xml")
        .replace(MED, facility)
        .replace("20261121", date);
    let t = tree(
        &s.post_file("OQSsiquc01req_o.xml", body.as_bytes())
            .await
            .body,
    );
    child(&t, &["MessageBody"]).clone()
}

fn tickets(result: &Element) -> Vec<(String, String, String)> {
    result
        .child("PublicExpenseResultList")
        .map(|l| {
            l.children_named("MedicalTicketInfo")
                .map(|t| {
                    (
                        t.value("TicketType").unwrap().to_string(),
                        t.value("MedicalTreatmentMonth").unwrap().to_string(),
                        t.value("DesignatedMedicalInstitutionFlag")
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn mutic(s: &TestApp, facility: &str, month: &str) -> Element {
    let body = demo("OQSmutic01req_demo_clinic.xml")
        .replace(MED, facility)
        .replace("202611", month);
    s.two_step("OQSmutic", facility, body.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_welfare_recipient_is_confirmed_with_the_month_s_tickets() {
    let s = TestApp::start().await;
    // November at the clinic: valid, the welfare office's numbers, both tickets of the month.
    let body = ogawa(&s, MED, "20261121").await;
    assert_eq!(body.value("QualificationValidity"), Some("1"));
    let r = child(&body, &["ResultList", "ResultOfQualificationConfirmation"]);
    assert_eq!(
        (
            r.value("InsuredCardClassification"),
            r.value("InsurerNumber"),
            r.value("InsuredIdentificationNumber"),
            r.value("InsurerName")
        ),
        (
            Some("A1"),
            Some("12130019"),
            Some("1234566"),
            Some("新宿区福祉事務所")
        )
    );
    assert_eq!(
        tickets(r),
        [
            ("01".into(), "202611".into(), "0".into()),
            ("02".into(), "202611".into(), "1".into())
        ]
    );
    let ticket = child(r, &["PublicExpenseResultList", "MedicalTicketInfo"]);
    assert_eq!(ticket.value("InjuryName2"), Some("2型糖尿病"));
    assert_eq!(ticket.value("StatusOfInfecton"), Some("02"));
    // October: October's ticket only; September, none: 6 有効（未登録）, no ticket shown (another month's is not).
    let r = ogawa(&s, MED, "20261015").await;
    let r = child(&r, &["ResultList", "ResultOfQualificationConfirmation"]);
    assert_eq!(tickets(r), [("01".into(), "202610".into(), "0".into())]);
    let body = ogawa(&s, MED, "20260915").await;
    assert_eq!(body.value("QualificationValidity"), Some("6"));
    let r = child(&body, &["ResultList", "ResultOfQualificationConfirmation"]);
    assert!(tickets(r).is_empty());
    // The dental clinic sees the tickets flagged 1 不一致 (not its own).
    let body = ogawa(&s, DENTAL, "20261121").await;
    let r = child(&body, &["ResultList", "ResultOfQualificationConfirmation"]);
    assert!(tickets(r).iter().all(|t| t.2 == "1"));

    // The clinic's bulk by treatment month: him, with the month's tickets; December: nobody.
    let t = mutic(&s, MED, "202611").await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("NumberOfProcessingResult"),
        Some("1")
    );
    let unit = child(&t, &["MessageBody", "BulkConfirmUnit"]);
    assert_eq!(unit.value("QualificationValidity"), Some("1"));
    let r = child(unit, &["ResultOfQualificationConfirmation"]);
    assert_eq!(r.value("Name"), Some("小川　茂"));
    assert_eq!(tickets(r).len(), 2);
    let t = mutic(&s, MED, "202612").await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("NumberOfProcessingResult"),
        Some("0")
    );
    // The recipients found count as bulk confirmations in the usage statistics.
    let mut bulk = serde_json::Value::Null;
    for _ in 0..50 {
        let r = s
            .as_operator(
                "GET",
                "/admin/v1/statistics?by=facility&month=202611",
                serde_json::Value::Null,
            )
            .await;
        bulk = r.json()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["facility"] == MED)
            .map(|r| r["bulk"].clone())
            .unwrap_or_default();
        if bulk == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bulk, 1);
    // Through the clinic's folders as well: the receipt in res/, then the results.
    let fac = s.folder(MED);
    // (Another ArbitraryFileIdentifier: the same file again at the same simulated time is EC0018.)
    std::fs::write(
        fac.join("req/OQSmutic01req_f.xml"),
        demo("OQSmutic01req_demo_clinic.xml").replace("demo-mutic-clinic", "folder"),
    )
    .unwrap();
    let receipt = tree(&wait_for(&fac.join("res/OQSmutic01res_f.xml")).await);
    let number = child(&receipt, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    let poll = format!(
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>{MED}</MedicalInstitutionCode></MessageHeader>\
         <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
    );
    let mut units = 0;
    for i in 0..100 {
        let name = format!("OQSmutic02req_f{i}.xml");
        std::fs::write(fac.join("req").join(&name), &poll).unwrap();
        let t = tree(&wait_for(&fac.join("res").join(name.replace("req_", "res_"))).await);
        if child(&t, &["MessageHeader"]).value("SegmentOfResult") != Some("2") {
            units = t
                .child("MessageBody")
                .map_or(0, |b| b.children_named("BulkConfirmUnit").count());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(units, 1);
    // The pharmacy finds him by its 調剤券.
    let t = mutic(&s, PHARMACY, "202611").await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("NumberOfProcessingResult"),
        Some("1")
    );
    // A bulk file mixing kinds (a home-care flag) is refused whole.
    let mixed = demo("OQSmutic01req_demo_clinic.xml").replace(
        "<MedicalTreatmentMonth>202611</MedicalTreatmentMonth>",
        "<MedicalTreatmentMonth>202611</MedicalTreatmentMonth><MedicalTreatmentFlag>2</MedicalTreatmentFlag>",
    );
    let t = tree(
        &s.post_file("OQSmutic01req_m.xml", mixed.as_bytes())
            .await
            .body,
    );
    assert_eq!(
        child(&t, &["MessageHeader"]).value("SegmentOfResult"),
        Some("9")
    );

    // At the card reader: a new card, 初回登録, the face result with the tickets.
    let (status, card) = s
        .post_json(
            "/consent/v1/cards",
            serde_json::json!({"person_id": "demo-ogawa-shigeru", "pin": "2580"}),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    let serial = card["serial"].as_str().unwrap();
    let pin = serde_json::json!({"method": "pin", "pin": "2580"});
    let id = s.place_and_identify(MED, serial, pin).await;
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/register"),
            serde_json::json!({"register": true}),
        )
        .await;
    assert_eq!(status, 200, "{j}");
    let (status, j) = s.consent(MED, &id, serde_json::json!({})).await;
    assert_eq!(status, 200, "{j}");
    let face = tree(j["xml"].as_str().unwrap().as_bytes());
    let r = child(
        &face,
        &[
            "MessageBody",
            "ResultList",
            "ResultOfQualificationConfirmation",
        ],
    );
    assert_eq!(r.value("InsuredCardClassification"), Some("A1"));
    assert_eq!(tickets(r).len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_recipient_records_are_refused() {
    let s = TestApp::start().await;
    let recipient = |insurer: &str, number: &str, class: &str| {
        serde_json::json!({
            "person_id": "aid-1", "insurer_number": insurer, "insurer_name": "新宿区福祉事務所",
            "card_classification": class, "number": number, "branch": "00", "name": "試験　保護",
            "sex": "2", "birth_date": "19700101", "qualification_date": "20250401"
        })
    };
    for (what, body) in [
        (
            "a wrong check digit",
            recipient("12130019", "1234567", "A1"),
        ),
        (
            "A1 under an insurer number",
            recipient("01130012", "1234566", "A1"),
        ),
        (
            "a 公費負担者番号 on a health-insurance card",
            recipient("12130019", "1234566", "01"),
        ),
    ] {
        let r = http::post_json(&s.addr, "/insurer/v1/qualifications", &body).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text());
    }
    let r = http::post_json(
        &s.addr,
        "/insurer/v1/qualifications",
        &recipient("12130019", "2345676", "A1"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    s.stop().await;
}
