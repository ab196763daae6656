//! The consent service's HTTP handlers on a real PostgreSQL (a fresh database per test), called as a client
//! calls them.

use actix_web::test;
use serde_json::json;

use onshi_platform::http::Core;
use onshi_platform::testkit;

const NOW: &str = "2026-11-21T10:00:00";

async fn core() -> Core {
    testkit::core_at(&[crate::MIGRATIONS], NOW).await
}

#[actix_web::test]
async fn a_card_is_issued_registered_once_and_reported_lost() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/consent/v1/cards")
            .set_json(json!({"person_id": "p-1", "pin": "1234"}))
    );
    assert_eq!(status, 201, "{j}");
    let serial = j["serial"].as_str().unwrap().to_string();
    assert!(
        j.get("pin_sha256").is_none(),
        "the PIN digest is never shown"
    );
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri(&format!("/consent/v1/cards/{serial}"))
    );
    assert_eq!((status, j["person_id"].as_str()), (200, Some("p-1")), "{j}");
    let register = format!("/consent/v1/cards/{serial}/register");
    let body = json!({"qualification_id": "01130012:12345678:1:00"});
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::post().uri(&register).set_json(&body)
    );
    assert_eq!(status, 200);
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post().uri(&register).set_json(&body)
    );
    assert_eq!(status, 409, "registered once: {j}");
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::post().uri(&format!("/consent/v1/cards/{serial}/lost"))
    );
    assert_eq!(status, 200);
    let (status, _) =
        onshi_platform::test_call!(app, test::TestRequest::get().uri("/consent/v1/cards/NOPE"));
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn bad_requests_are_refused_with_a_reason_and_the_logs_stay_intact() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let cases = [
        (
            "/consent/v1/cards",
            json!({"person_id": "p-1", "pin": "12"}),
        ),
        (
            "/consent/v1/cards",
            json!({"person_id": "p-1", "pin": "1234", "valid_years": 11}),
        ),
        ("/consent/v1/cards", json!({"person_id": "", "pin": "1234"})),
        (
            "/consent/v1/persons/p-1/consents/revoke",
            json!({"facility": "1310112345", "kind": "XXX", "by": "patient"}),
        ),
        (
            "/consent/v1/persons/p-1/consents/revoke",
            json!({"facility": "1310112345", "kind": "YZK", "by": "someone"}),
        ),
        (
            "/admin/v1/disasters",
            json!({"name": "x", "prefectures": [48], "from": "20261101", "to": "20261130"}),
        ),
        (
            "/admin/v1/disasters",
            json!({"name": "x", "prefectures": [13], "from": "20261130", "to": "20261101"}),
        ),
        (
            "/admin/v1/disasters",
            json!({"name": "x", "prefectures": [13], "from": "19000101", "to": "99991231"}),
        ),
        (
            "/admin/v1/disasters",
            json!({"name": " ", "prefectures": [13], "from": "20261101", "to": "20261130"}),
        ),
        (
            "/admin/v1/disasters",
            json!({"name": "x", "prefectures": [13], "from": "2026", "to": "20261130", "extra": 1}),
        ),
    ];
    for (uri, body) in cases {
        let (status, j) =
            onshi_platform::test_call!(app, test::TestRequest::post().uri(uri).set_json(&body));
        assert_eq!(status, 400, "{uri} {body}: {j}");
        assert!(
            j["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{j}"
        );
    }
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/admin/v1/disasters")
            .set_json(json!({
                "name": "令和8年台風", "prefectures": [13], "from": "20261101", "to": "20261130"
            }))
    );
    assert_eq!(status, 201, "{j}");
    let (_, j) =
        onshi_platform::test_call!(app, test::TestRequest::get().uri("/admin/v1/disasters"));
    assert_eq!(j.as_array().map(Vec::len), Some(1));
    let (status, j) =
        onshi_platform::test_call!(app, test::TestRequest::get().uri("/consent/v1/verify"));
    assert_eq!((status, j["ok"].as_bool()), (200, Some(true)), "{j}");
}
