//! The card reader's HTTP handlers, with the consent service in-process on a real PostgreSQL and the eligibility
//! service replaced by a stub of its narrow interface ([`ReaderDirectory`]): the reader's own behaviour — single-use
//! sessions, PIN lockout, refusals in the reader's words, the face result — and nothing of the other services.

use std::sync::Arc;

use actix_web::test;
use serde_json::{json, Value};

use onshi_platform::directory::{
    Answer, CardQuery, CurrentQualification, Directory, FacilityCheck, PersonRef, ReaderDirectory,
};
use onshi_platform::http::Core;
use onshi_platform::pki::PeerCert;
use onshi_platform::testkit;
use onshi_wire::ids::Date;
use onshi_wire::msg::FileError;
use onshi_wire::record::QualificationRecord;
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::Encoding;

use crate::Reader;

const MED: &str = "1310112345";
/// A facility the stub says is not operational.
const CLOSED: &str = "1330130129";

/// Eligibility as the reader sees it: every card holder has 山田 太郎's qualification; one facility is closed.
struct Stub {
    record: Arc<QualificationRecord>,
}

impl Directory for Stub {
    fn person<'a>(&'a self, _: &'a CardQuery) -> Answer<'a, Option<PersonRef>> {
        Box::pin(async { Ok(None) })
    }

    fn facility<'a>(
        &'a self,
        code: &'a str,
        _: Option<&'a str>,
        _: Date,
    ) -> Answer<'a, FacilityCheck> {
        let refused = (code == CLOSED).then_some(ResultKey::InstitutionInactive);
        Box::pin(async move {
            Ok(FacilityCheck {
                encoding: Encoding::Utf8,
                refused,
            })
        })
    }

    fn qualification_only<'a>(&'a self, _: &'a str) -> Answer<'a, bool> {
        Box::pin(async { Ok(false) })
    }
}

impl ReaderDirectory for Stub {
    fn certificate<'a>(
        &'a self,
        _: Option<&'a PeerCert>,
    ) -> Answer<'a, Result<Option<String>, FileError>> {
        Box::pin(async { Ok(Ok(None)) })
    }

    fn current_qualification<'a>(
        &'a self,
        _: &'a str,
        _: Date,
    ) -> Answer<'a, Option<CurrentQualification>> {
        let current = CurrentQualification {
            id: "01130012:12345678:1:00".into(),
            valid: true,
            record: self.record.clone(),
        };
        Box::pin(async move { Ok(Some(current)) })
    }

    fn reference_number<'a>(&'a self, _: &'a str, _: &'a str) -> Answer<'a, Option<String>> {
        Box::pin(async { Ok(Some("P-7".to_string())) })
    }

    fn presented<'a>(&'a self, _: &'a str, _: &'a str, _: chrono::NaiveDateTime) -> Answer<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

async fn reader() -> Arc<Reader> {
    let core: Core = testkit::core_at(
        &[
            onshi_portal::MIGRATIONS,
            onshi_consent::MIGRATIONS,
            crate::MIGRATIONS,
        ],
        "2026-11-21T10:00:00",
    )
    .await;
    let today = core.clock.today();
    for (serial, registered) in [("R1", true), ("R2", false)] {
        let reg = registered.then_some(("01130012:12345678:1:00", today));
        onshi_consent::cards::issue_fixed(&core, serial, "p-1", "1234", today, 10, reg)
            .await
            .unwrap();
    }
    let line = include_str!("../../../seed/demo/01-registrations.jsonl")
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap();
    let record: QualificationRecord = serde_json::from_str(line).unwrap();
    let consent = Arc::new(onshi_consent::port::Local { core: core.clone() });
    let stub = Arc::new(Stub {
        record: Arc::new(record),
    });
    Reader::start(core, stub, consent)
}

macro_rules! post {
    ($app:expr, $uri:expr, $body:expr) => {
        testkit::call_json(
            &$app,
            test::TestRequest::post()
                .uri(&$uri)
                .set_json($body)
                .to_request(),
        )
        .await
    };
}

#[actix_web::test]
async fn a_flow_gives_one_face_result_and_its_session_cannot_be_replayed() {
    let r = reader().await;
    let app = onshi_platform::test_app!(r, crate::configure);
    let (status, j) = post!(
        app,
        format!("/reader/v1/{MED}/sessions"),
        json!({"terminal": "T1", "card_serial": "R1"})
    );
    assert_eq!((status, j["next"].as_str()), (201, Some("identify")), "{j}");
    let id = j["session"].as_str().unwrap().to_string();
    let (status, j) = post!(
        app,
        format!("/reader/v1/{MED}/sessions/{id}/identify"),
        json!({"method": "face", "match": true})
    );
    assert_eq!(
        (status, j["next"].as_str()),
        (200, Some("consent")),
        "a registered card skips 初回登録: {j}"
    );
    let consent = format!("/reader/v1/{MED}/sessions/{id}/consent");
    let (status, j) = post!(
        app,
        consent,
        json!({"medication": true, "prescription": "paper"})
    );
    assert_eq!(status, 200, "{j}");
    let xml = j["xml"].as_str().unwrap();
    assert!(
        xml.contains("<ReferenceClassification>1</ReferenceClassification>"),
        "{xml}"
    );
    assert!(
        xml.contains("<ReferenceNumber>P-7</ReferenceNumber>"),
        "{xml}"
    );
    assert!(j["face_file"]
        .as_str()
        .unwrap()
        .starts_with(&format!("OQSsiquc01res_face_{MED}")));
    let (status, j) = post!(app, consent, json!({"medication": true}));
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (409, Some("session_used")),
        "{j}"
    );
    let faces = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("/reader/v1/{MED}/face?after=0"))
            .to_request(),
    )
    .await;
    let faces: Value = serde_json::from_slice(&test::read_body(faces).await).unwrap();
    assert_eq!(faces.as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn an_unregistered_card_registers_and_three_wrong_pins_lock_it() {
    let r = reader().await;
    let app = onshi_platform::test_app!(r, crate::configure);
    let place = |serial: &str| json!({"terminal": "T1", "card_serial": serial});
    let (_, j) = post!(app, format!("/reader/v1/{MED}/sessions"), place("R2"));
    let id = j["session"].as_str().unwrap().to_string();
    let (status, j) = post!(
        app,
        format!("/reader/v1/{MED}/sessions/{id}/identify"),
        json!({"method": "pin", "pin": "1234"})
    );
    assert_eq!((status, j["next"].as_str()), (200, Some("register")), "{j}");
    let (status, j) = post!(
        app,
        format!("/reader/v1/{MED}/sessions/{id}/register"),
        json!({})
    );
    assert_eq!((status, j["next"].as_str()), (200, Some("consent")), "{j}");

    let (_, j) = post!(app, format!("/reader/v1/{MED}/sessions"), place("R1"));
    let id = j["session"].as_str().unwrap().to_string();
    let identify = format!("/reader/v1/{MED}/sessions/{id}/identify");
    let wrong = json!({"method": "pin", "pin": "9999"});
    let (status, j) = post!(app, identify, wrong.clone());
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (401, Some("pin_wrong"))
    );
    post!(app, identify, wrong.clone());
    let (status, j) = post!(app, identify, wrong);
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("card_locked")),
        "{j}"
    );
    let (status, j) = post!(app, format!("/reader/v1/{MED}/sessions"), place("R1"));
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("card_locked")),
        "{j}"
    );
}

#[actix_web::test]
async fn refusals_answer_in_the_reader_s_words() {
    let r = reader().await;
    let app = onshi_platform::test_app!(r, crate::configure);
    let cases = [
        (
            format!("/reader/v1/{CLOSED}/sessions"),
            json!({"terminal": "T1", "card_serial": "R1"}),
            403,
            "facility_inactive",
        ),
        (
            format!("/reader/v1/{MED}/sessions"),
            json!({"terminal": "T1", "card_serial": "NONE"}),
            404,
            "card_unreadable",
        ),
        (
            "/reader/v1/1310112346/sessions".to_string(),
            json!({"terminal": "T1", "card_serial": "R1"}),
            400,
            "bad_request",
        ),
        (
            format!("/reader/v1/{MED}/sessions"),
            json!({"card_serial": "R1"}),
            400,
            "bad_request",
        ),
        (
            format!("/reader/v1/{MED}/sessions/00/identify"),
            json!({"method": "face", "match": true}),
            404,
            "session_unknown",
        ),
        (
            format!("/reader/v1/{MED}/sessions/00/identify"),
            json!({"method": "voice"}),
            400,
            "bad_request",
        ),
        (
            format!("/reader/v1/{MED}/sessions/00/consent"),
            json!({"prescription": "fax"}),
            400,
            "bad_request",
        ),
    ];
    for (uri, body, status, code) in cases {
        let (s, j) = post!(app, uri, body);
        assert_eq!(
            (s, j["error"]["code"].as_str()),
            (status, Some(code)),
            "{uri}: {j}"
        );
        assert!(j["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}
