//! The portal's HTTP handlers on a real PostgreSQL (a fresh database per test), called as a client calls them.

use actix_web::test;
use serde_json::{json, Value};

use onshi_platform::http::Core;
use onshi_platform::testkit;

const NOW: &str = "2026-11-21T10:00:00";

fn clinic() -> Value {
    json!({
        "code": "1310112345", "name": "オンシ内科クリニック", "status": "operational",
        "applied_on": "20221001", "ready_on": "20230115", "operational_on": "20230401"
    })
}

async fn core() -> Core {
    testkit::core_at(&[crate::MIGRATIONS], NOW).await
}

#[actix_web::test]
async fn a_facility_is_registered_changed_and_given_credentials() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/portal/v1/facilities")
            .set_json(clinic())
    );
    assert_eq!(
        (status, j["result"].as_str()),
        (201, Some("created")),
        "{j}"
    );
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/portal/v1/facilities")
            .set_json(clinic())
    );
    assert_eq!(status, 409);
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::patch()
            .uri("/portal/v1/facilities/1310112345")
            .set_json(json!({"name": "オンシ内科"}))
    );
    assert_eq!(
        (status, j["result"].as_str()),
        (200, Some("changed")),
        "{j}"
    );
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post().uri("/portal/v1/facilities/1310112345/web-api-credentials")
    );
    assert_eq!(status, 201, "{j}");
    let secret = j["ClientSecret"].as_str().unwrap();
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/portal/v1/facilities/1310112345")
    );
    assert_eq!(j["record"]["name"], "オンシ内科");
    assert_eq!(
        j["record"]["web_api_secret_sha256"].as_str(),
        Some(onshi_platform::sha256_hex(secret.as_bytes()).as_str())
    );
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/portal/v1/facilities/1310112345/versions")
    );
    assert_eq!(j.as_array().map(Vec::len), Some(3));
    let (_, j) =
        onshi_platform::test_call!(app, test::TestRequest::get().uri("/portal/v1/feed?after=0"));
    assert_eq!(j.as_array().map(Vec::len), Some(3));
    let (_, j) =
        onshi_platform::test_call!(app, test::TestRequest::get().uri("/portal/v1/adoption"));
    assert_eq!(j[1]["operational"], 1, "{j}");
}

#[actix_web::test]
async fn what_only_the_portal_sets_is_refused_from_clients() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let mut with_secret = clinic();
    with_secret["web_api_secret_sha256"] = json!("00");
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/portal/v1/facilities")
            .set_json(with_secret)
    );
    assert_eq!(status, 400, "{j}");
    onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/portal/v1/facilities")
            .set_json(clinic())
    );
    for patch in [
        json!({"web_api_secret_sha256": "00"}),
        json!({"effective_date": "20261101"}),
        json!({"code": "1330130129"}),
        json!([1]),
    ] {
        let (status, j) = onshi_platform::test_call!(
            app,
            test::TestRequest::patch()
                .uri("/portal/v1/facilities/1310112345")
                .set_json(&patch)
        );
        assert_eq!(status, 400, "{patch}: {j}");
    }
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/portal/v1/facilities/1310112346")
    );
    assert_eq!(status, 400, "a bad check digit in the path");
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/portal/v1/facilities/1330130129")
    );
    assert_eq!(status, 404);
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/portal/v1/facilities/1310112345/versions")
    );
    assert_eq!(
        j.as_array().map(Vec::len),
        Some(1),
        "nothing refused was written"
    );
}

#[actix_web::test]
async fn terminal_certificates_are_issued_listed_and_revoked_once() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/portal/v1/facilities")
            .set_json(clinic())
    );
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/portal/v1/facilities/1310112345/certificates")
            .set_json(json!({"terminal": "T1", "valid_days": 30}))
    );
    assert_eq!(status, 201, "{j}");
    assert!(j["key_pem"].as_str().unwrap().contains("PRIVATE KEY"));
    let sha = j["certificate"]["sha256"].as_str().unwrap().to_string();
    for bad in [
        json!({"terminal": "T 1"}),
        json!({"terminal": "T1", "valid_days": 5000}),
    ] {
        let (status, _) = onshi_platform::test_call!(
            app,
            test::TestRequest::post()
                .uri("/portal/v1/facilities/1310112345/certificates")
                .set_json(&bad)
        );
        assert_eq!(status, 400, "{bad}");
    }
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/portal/v1/facilities/1310112345/certificates")
    );
    assert_eq!(j.as_array().map(Vec::len), Some(1));
    let revoke = format!("/portal/v1/facilities/1310112345/certificates/{sha}/revoke");
    let (status, j) = onshi_platform::test_call!(app, test::TestRequest::post().uri(&revoke));
    assert_eq!(
        (status, j["revoked_on"].as_str()),
        (200, Some("20261121")),
        "{j}"
    );
    let (status, _) = onshi_platform::test_call!(app, test::TestRequest::post().uri(&revoke));
    assert_eq!(status, 409, "revoked once");
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::post().uri("/portal/v1/facilities/1310112345/certificates/00/revoke")
    );
    assert_eq!(status, 404);
}
