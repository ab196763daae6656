//! Hostile input through the public doors: nothing a client sends may panic, answer 500, or leave the simulator
//! unable to answer the next request.

use onshi_platform::testkit::http;

use crate::app::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_values_out_of_range_are_refused_and_the_clock_keeps_working() {
    let s = TestApp::start().await;
    for body in [
        serde_json::json!({"advance": "1000000000w"}),
        serde_json::json!({"advance": "-99999999d"}),
        serde_json::json!({"set": "+262142-12-31T23:59:59"}),
        serde_json::json!({"set": "-5000-01-01T00:00:00"}),
        serde_json::json!({"set": "2200-01-01"}),
        serde_json::json!({"set": "1899-12-31"}),
        serde_json::json!({"advance": "9223372036854775807s"}),
    ] {
        let r = http::post_json(&s.addr, "/admin/v1/clock", &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "bad_request", "{body}");
    }
    let r = http::get(&s.addr, "/health").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["clock"]["now"], "2026-11-21T10:00:00");
    let r = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"set": "2199-12-31T23:59:59"}),
    )
    .await;
    assert_eq!(r.status, 200, "the last second of the range is allowed");
    let r = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"advance": "1s"}),
    )
    .await;
    assert_eq!(r.status, 400, "past the range");
    s.stop().await;
}
