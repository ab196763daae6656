//! The documents the simulator serves about itself: the OpenAPI document (checked by a real validator,
//! `openapi-spec-validator` from PyPI, which `.ci/run` installs), the browsable page and the index.

use onshi_platform::testkit::http;

use crate::app::TestApp;

/// Whether an external checker is installed; in CI (where `.ci/run` installs it) its absence fails the test.
pub fn tool_available(check: &mut std::process::Command, what: &str) -> bool {
    let ok = check.output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "{what} is not installed (.ci/run installs it)"
        );
        eprintln!("skipped: {what} is not installed (.ci/run installs it)");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_covers_every_route_and_is_valid() {
    let s = TestApp::start().await;
    let r = http::get(&s.addr, "/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in onshi::host::routes(onshi::host::ALL) {
        let op = &doc["paths"][route.path.as_ref()][route.method.to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} is not in the document",
            route.method,
            route.path
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &r.body).unwrap();
    let mut probe = std::process::Command::new("python3");
    probe.args(["-c", "import openapi_spec_validator"]);
    if tool_available(&mut probe, "openapi-spec-validator") {
        let out = std::process::Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for page in ["/docs", "/"] {
        let r = http::get(&s.addr, page).await;
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    s.stop().await;
}
