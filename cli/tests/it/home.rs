//! 資格確認限定型 and 居宅同意取得型 end to end (issue 15): a 施術所 gets qualifications only — through its files and
//! the マイナ資格確認アプリ — and every request for medical information is refused; a visiting nurse's device is
//! activated at the terminal, reads the patient's card with the PIN and records a continuing consent, which the
//! station's `OQSmuhvq` bulk then reports (1, then 2 同意有効期限切れ a year on), and the clinic's data views follow
//! it; a patient consents for オンライン診療 on their own device and the clinic's `OQSmuonq` finds them.

use onshi_platform::testkit::http;

use crate::app::{child, tree, TestApp, MED};

const JUDO: &str = "1370120014";
const NURSING: &str = "1360150013";

fn demo(name: &str) -> Vec<u8> {
    onshi_seed::demo::file(&format!("requests/{name}"))
        .unwrap()
        .to_vec()
}

/// A demo request file sent as if from `facility`.
fn from(name: &str, facility: &str) -> Vec<u8> {
    String::from_utf8(demo(name))
        .unwrap()
        .replace(MED, facility)
        .into_bytes()
}

/// Activates a device for `facility`; returns its token.
async fn device(s: &TestApp, facility: &str) -> String {
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{facility}/app/activations"),
            serde_json::json!({"device": "訪問用タブレット"}),
        )
        .await;
    assert_eq!(status, 201, "{j}");
    let (status, d) = s
        .post_json(
            "/app/v1/activate",
            serde_json::json!({"activation_code": j["activation_code"]}),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    // A code works once.
    let (again, _) = s
        .post_json(
            "/app/v1/activate",
            serde_json::json!({"activation_code": j["activation_code"]}),
        )
        .await;
    assert_eq!(again, 401);
    d["device_token"].as_str().unwrap().to_string()
}

async fn confirm(
    s: &TestApp,
    facility: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let r = http::send(
        &s.addr,
        "POST",
        &format!("/reader/v1/{facility}/app/confirm"),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", auth.as_str()),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    (r.status, r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practitioner_gets_qualifications_only() {
    let s = TestApp::start().await;
    // Its files: the qualification is answered.
    let t = tree(
        &s.post_file(
            "OQSsiquc01req_j.xml",
            &from("OQSsiquc01req_yamada_taro.xml", JUDO),
        )
        .await
        .body,
    );
    assert_eq!(
        child(&t, &["MessageBody"]).value("QualificationValidity"),
        Some("1")
    );
    // Medical information: refused, nothing disclosed (even with the patient's consent given elsewhere).
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let r = s
        .post_file(
            "YZKsiquc01req_j.xml",
            &demo("YZKsiquc01req_judo_clinic.xml"),
        )
        .await;
    let t = tree(&r.body);
    let head = child(&t, &["MessageHeader"]);
    assert_eq!(head.value("ResultCode"), Some("2"));
    assert!(head
        .value("MessageContents")
        .unwrap()
        .contains("資格確認限定型"));
    assert!(t.child("MessageBody").is_none_or(|b| b.children.is_empty()));
    let tkk = String::from_utf8(demo("TKKsiquc01req_yamada_taro.xml"))
        .unwrap()
        .replace(MED, JUDO);
    let t = tree(
        &s.post_file("TKKsiquc01req_j.xml", tkk.as_bytes())
            .await
            .body,
    );
    assert_eq!(child(&t, &["MessageHeader"]).value("ResultCode"), Some("2"));
    // The face-recognition reader's consent flow and disaster consents are not for it.
    let (status, j) = s.place_card(JUDO, "D000000000000001").await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("qualification_only"))
    );
    // Nor the home-care bulk queries.
    let t = tree(
        &s.post_file(
            "OQSmuhvq01req_j.xml",
            &String::from_utf8(demo("OQSmuhvq01req_home_visit.xml"))
                .unwrap()
                .replace(NURSING, JUDO)
                .into_bytes(),
        )
        .await
        .body,
    );
    assert_eq!(
        child(&t, &["MessageHeader"]).value("SegmentOfResult"),
        Some("9")
    );
    // The app: the card read with the facility's visual check; the face XML carries the qualification only.
    let token = device(&s, JUDO).await;
    let (status, j) = confirm(
        &s,
        JUDO,
        &token,
        serde_json::json!({"card_serial": "D000000000000004", "identify": {"method": "visual"}}),
    )
    .await;
    assert_eq!((status, j["mode"].as_str()), (200, Some("limited")), "{j}");
    let xml = j["xml"].as_str().unwrap();
    assert!(
        xml.contains("佐藤") && !xml.contains("<PharmacistsInfoConsFlg>1<"),
        "{xml}"
    );
    // Consent screens are refused there.
    let (status, j) = confirm(
        &s,
        JUDO,
        &token,
        serde_json::json!({"card_serial": "D000000000000004", "identify": {"method": "visual"},
            "care": "visit", "consents": {"medication": true}}),
    )
    .await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("qualification_only"))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_visit_consent_continues_until_it_expires() {
    let s = TestApp::start().await;
    let token = device(&s, NURSING).await;
    // Another facility's token, a wrong PIN, an unregistered card: refused.
    let other = device(&s, MED).await;
    let takahashi = |pin: &str| {
        serde_json::json!({"card_serial": "D000000000000006", "identify": {"method": "pin", "pin": pin},
            "care": "visit", "consents": {"medication": true, "checkup": true}})
    };
    assert_eq!(confirm(&s, NURSING, &other, takahashi("6789")).await.0, 403);
    assert_eq!(
        confirm(&s, NURSING, "nonsense", takahashi("6789")).await.0,
        401
    );
    let (status, j) = confirm(&s, NURSING, &token, takahashi("0000")).await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (401, Some("pin_wrong"))
    );
    let (status, j) = confirm(
        &s,
        NURSING,
        &token,
        serde_json::json!({"card_serial": "D000000000000003", "identify": {"method": "visual"}}),
    )
    .await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (409, Some("unregistered"))
    );
    // At his home: the PIN, then the consent screens.
    let (status, j) = confirm(&s, NURSING, &token, takahashi("6789")).await;
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["consent_until"], "20271121100000");
    assert!(j["xml"]
        .as_str()
        .unwrap()
        .contains("<PharmacistsInfoConsFlg>1</PharmacistsInfoConsFlg>"));
    // The station's bulk query by consent date finds him, each kind with its consent.
    let t = s
        .two_step("OQSmuhvq", NURSING, &demo("OQSmuhvq01req_home_visit.xml"))
        .await;
    let head = child(&t, &["MessageHeader"]);
    assert_eq!(head.value("NumberOfProcessingResult"), Some("1"), "{t:?}");
    let unit = child(&t, &["MessageBody", "BulkConfirmUnit"]);
    let result = child(unit, &["ResultOfQualificationConfirmation"]);
    assert_eq!(result.value("Name"), Some("高橋　正"));
    assert_eq!(
        (
            result.value("PharmacistsInfoConsFlg"),
            result.value("SpecificHealthCheckupsInfoConsFlg"),
            result.value("DiagnosisInfoConsFlg")
        ),
        (Some("1"), Some("1"), Some("0"))
    );
    // A range without his consent: nobody.
    let before = String::from_utf8(demo("OQSmuhvq01req_home_visit.xml"))
        .unwrap()
        .replace("20261101", "20261001")
        .replace("20261130", "20261031");
    let t = s.two_step("OQSmuhvq", NURSING, before.as_bytes()).await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("NumberOfProcessingResult"),
        Some("0")
    );
    // A file mixing kinds (online's flag in a visit query): refused whole.
    let mixed = String::from_utf8(demo("OQSmuhvq01req_home_visit.xml"))
        .unwrap()
        .replace(
            "<MedicalTreatmentFlag>2</MedicalTreatmentFlag>",
            "<MedicalTreatmentFlag>3</MedicalTreatmentFlag>",
        );
    let t = tree(
        &s.post_file("OQSmuhvq01req_m.xml", mixed.as_bytes())
            .await
            .body,
    );
    assert_eq!(
        child(&t, &["MessageHeader"]).value("SegmentOfResult"),
        Some("9")
    );
    // The consent continues: the station views his medication in later visits without a card.
    let yzk = String::from_utf8(demo("YZKsiquc01req_yamada_taro.xml"))
        .unwrap()
        .replace(MED, NURSING)
        .replace(
            "<InsurerNumber>01130012</InsurerNumber>",
            "<InsurerNumber>  131201</InsurerNumber>",
        )
        .replace(
            "<InsuranceCardSymbol>12345678</InsuranceCardSymbol>",
            "<InsuranceCardSymbol>練馬</InsuranceCardSymbol>",
        )
        .replace(
            "<InsuredPersonIdentificationNumber>1</InsuredPersonIdentificationNumber>",
            "<InsuredPersonIdentificationNumber>7001</InsuredPersonIdentificationNumber>",
        );
    let ask = || async {
        tree(
            &s.post_file("YZKsiquc01req_v.xml", yzk.as_bytes())
                .await
                .body,
        )
    };
    assert_eq!(
        child(&ask().await, &["MessageHeader"]).value("ResultCode"),
        Some("1")
    );
    // A year on, the consent has expired: the view is refused and the bulk says 2 同意有効期限切れ.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2027-11-22T10:00:00").unwrap())
        .await
        .unwrap();
    let t = ask().await;
    let head = child(&t, &["MessageHeader"]);
    assert_eq!(head.value("ResultCode"), Some("2"));
    assert!(head.value("MessageContents").unwrap().contains("有効期限"));
    let t = s
        .two_step("OQSmuhvq", NURSING, &demo("OQSmuhvq01req_home_visit.xml"))
        .await;
    let result = child(
        &t,
        &[
            "MessageBody",
            "BulkConfirmUnit",
            "ResultOfQualificationConfirmation",
        ],
    );
    assert_eq!(result.value("PharmacistsInfoConsFlg"), Some("2"));
    // A revoked device is refused.
    let devices = http::get(&s.addr, &format!("/reader/v1/{NURSING}/app/devices"))
        .await
        .json();
    let id = devices[0]["id"].as_str().unwrap().to_string();
    let (status, _) = s
        .post_json(
            &format!("/reader/v1/{NURSING}/app/devices/{id}/revoke"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(confirm(&s, NURSING, &token, takahashi("6789")).await.0, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_consents_for_online_care_on_their_own_device() {
    let s = TestApp::start().await;
    let (status, login) = s
        .post_json(
            "/consent/v1/patients/login",
            serde_json::json!({"card_serial": "D000000000000001", "pin": "1234"}),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let person = login["person_id"].as_str().unwrap();
    let path = format!("/consent/v1/persons/{person}/home-consents");
    let (status, j) = s
        .post_json(
            &path,
            serde_json::json!({"facility": MED, "kinds": ["YZK", "SRJ"]}),
        )
        .await;
    assert_eq!(status, 201, "{j}");
    // Bad input: a 施術所, an unknown kind, no kind.
    for bad in [
        serde_json::json!({"facility": JUDO, "kinds": ["YZK"]}),
        serde_json::json!({"facility": MED, "kinds": ["XYZ"]}),
        serde_json::json!({"facility": MED, "kinds": []}),
    ] {
        assert_eq!(s.post_json(&path, bad.clone()).await.0, 400, "{bad}");
    }
    // The clinic's online bulk by examination date finds him.
    let t = s
        .two_step("OQSmuonq", MED, &demo("OQSmuonq01req_online_clinic.xml"))
        .await;
    let result = child(
        &t,
        &[
            "MessageBody",
            "BulkConfirmUnit",
            "ResultOfQualificationConfirmation",
        ],
    );
    assert_eq!(result.value("Name"), Some("山田　太郎"));
    assert_eq!(
        (
            result.value("PharmacistsInfoConsFlg"),
            result.value("DiagnosisInfoConsFlg")
        ),
        (Some("1"), Some("1"))
    );
    // Not a visit consent: the 訪問 bulk does not list him.
    let visit = String::from_utf8(demo("OQSmuhvq01req_home_visit.xml"))
        .unwrap()
        .replace(NURSING, MED);
    let t = s.two_step("OQSmuhvq", MED, visit.as_bytes()).await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("NumberOfProcessingResult"),
        Some("0")
    );
    s.stop().await;
}
