//! The insurer's HTTP handlers on a real PostgreSQL (a fresh database per test), called as a client calls them.

use actix_web::test;
use serde_json::{json, Value};

use onshi_platform::http::Core;
use onshi_platform::testkit;

const NOW: &str = "2026-11-21T10:00:00";

/// 山田 太郎's registration from the demo population.
fn registration() -> Value {
    let line = include_str!("../../../seed/demo/01-registrations.jsonl")
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap();
    serde_json::from_str(line).unwrap()
}

async fn core() -> Core {
    testkit::core_at(&[crate::MIGRATIONS], NOW).await
}

#[actix_web::test]
async fn a_qualification_is_created_changed_and_read_as_of_any_date() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/qualifications")
            .set_json(registration())
    );
    assert_eq!(status, 201, "{j}");
    assert_eq!(j["result"], "created");
    let id = j["id"].as_str().unwrap().to_string();
    let enc = id.replace(':', "%3A");
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/qualifications")
            .set_json(registration())
    );
    assert_eq!(status, 409, "the same qualification twice: {j}");
    assert_eq!(j["error"]["code"], "conflict");

    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::patch()
            .uri(&format!("/insurer/v1/qualifications/{enc}"))
            .set_json(
                json!({"address": "東京都港区芝公園四丁目２番８号", "effective_date": "20261101"})
            )
    );
    assert_eq!(
        (status, j["result"].as_str()),
        (200, Some("changed")),
        "{j}"
    );
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::patch()
            .uri(&format!("/insurer/v1/qualifications/{enc}"))
            .set_json(json!({"number": "2"}))
    );
    assert_eq!(status, 400, "identity cannot change: {j}");
    assert!(j["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot change"));

    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri(&format!("/insurer/v1/qualifications/{enc}/versions"))
    );
    assert_eq!((status, j.as_array().map(Vec::len)), (200, Some(2)));
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri(&format!("/insurer/v1/qualifications/{enc}?as_of=20261031"))
    );
    assert_eq!(j["record"]["address"], "東京都千代田区千代田一丁目１番１号");
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri(&format!("/insurer/v1/qualifications/{enc}"))
    );
    assert_eq!(j["record"]["address"], "東京都港区芝公園四丁目２番８号");
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri(&format!("/insurer/v1/qualifications/{enc}?as_of=20000101"))
    );
    assert_eq!(status, 404, "not in force before its qualification date");
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri(&format!("/insurer/v1/qualifications/{enc}?as_of=2026"))
    );
    assert_eq!(status, 400);

    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri(&format!("/insurer/v1/qualifications/{enc}/end"))
            .set_json(json!({"disqualification_date": "20261130", "loss_reason": "03"}))
    );
    assert_eq!(
        (status, j["result"].as_str()),
        (200, Some("changed")),
        "{j}"
    );
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/insurer/v1/feed?after=0")
    );
    assert_eq!((status, j.as_array().map(Vec::len)), (200, Some(3)), "{j}");
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/insurer/v1/qualifications?limit=10")
    );
    assert_eq!(j.as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn bad_records_and_bodies_get_the_error_shape_and_change_nothing() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let mut bad = registration();
    bad["insurer_number"] = json!("01130013");
    bad["birth_date"] = json!("19801340");
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/qualifications")
            .set_json(bad)
    );
    assert_eq!(status, 400, "{j}");
    assert_eq!(j["error"]["code"], "bad_request");
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/qualifications")
            .insert_header(("content-type", "application/json"))
            .set_payload("{\"person_id\":")
    );
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let big = vec![b' '; onshi_platform::config::limits::REGISTRY_RECORD + 1];
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/qualifications")
            .set_payload(big)
    );
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, _) = onshi_platform::test_call!(
        app,
        test::TestRequest::patch()
            .uri("/insurer/v1/qualifications/nope")
            .set_json(json!({"address": "x"}))
    );
    assert_eq!(status, 404);
    // A bulk file with one bad line: 422, every reason, nothing applied.
    let good = registration().to_string();
    let file = format!("{good}\n{{\"person_id\": 1}}\n");
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/bulk")
            .set_payload(file)
    );
    assert_eq!(status, 422, "{j}");
    assert_eq!(j["report"]["errors"][0]["line"], 2);
    let (_, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::get().uri("/insurer/v1/feed?after=0")
    );
    assert_eq!(j.as_array().map(Vec::len), Some(0), "nothing was applied");
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/bulk")
            .set_payload(format!("{good}\n"))
    );
    assert_eq!((status, j["created"].as_u64()), (200, Some(1)), "{j}");
}

#[actix_web::test]
async fn a_bulk_file_of_bad_lines_lists_the_first_thousand_and_counts_them_all() {
    let core = core().await;
    let app = onshi_platform::test_app!(core, crate::configure);
    let file = "{\"person_id\": 1}\n".repeat(1_500);
    let (status, j) = onshi_platform::test_call!(
        app,
        test::TestRequest::post()
            .uri("/insurer/v1/bulk")
            .set_payload(file)
    );
    assert_eq!(status, 422);
    assert_eq!(j["report"]["errors_total"], 1_500);
    assert_eq!(
        j["report"]["errors"].as_array().map(Vec::len),
        Some(crate::MAX_ERRORS_SHOWN)
    );
    assert_eq!(j["report"]["errors"][999]["line"], 1_000);
}
