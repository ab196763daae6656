//! mTLS on the facility-facing endpoints, with real TLS handshakes: a valid terminal certificate is accepted;
//! no certificate, another CA's certificate, a revoked or expired one, and facility A's certificate used for
//! facility B are refused with the right answer; the sandbox switch lets a request without a certificate in.

use std::time::Duration;

use crate::app::{TestApp, MED, NOW, PHARMACY};
use onshi_platform::config::{AuthMode, Config};
use onshi_platform::testkit::{http, https};
use onshi_wire::xml::{self, Element};

async fn sim(auth: AuthMode) -> TestApp {
    let config = Config {
        auth,
        tls_bind: Some("127.0.0.1:0".into()),
        ..Config::default()
    };
    TestApp::with(config, NOW).await
}

/// Issues a terminal certificate through the portal API; returns (cert, key, sha256).
async fn issue(s: &TestApp, code: &str, valid_days: i64) -> (String, String, String) {
    let c = s.issue_certificate(code, valid_days).await;
    (c.cert_pem, c.key_pem, c.sha256)
}

fn request() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    )
    .unwrap()
}

async fn post(s: &TestApp, cert: Option<(String, String)>) -> Result<(u16, Element), String> {
    let r = https::send(
        &s.tls(),
        &s.ca().await,
        cert,
        "POST",
        "/oqs/v1/req/OQSsiquc01req_t.xml",
        &[],
        &request(),
    )
    .await?;
    Ok((
        r.status,
        xml::parse(&r.body, &Default::default())
            .map_err(|e| e.to_string())?
            .root,
    ))
}

fn header(t: &Element, name: &str) -> Option<String> {
    t.child("MessageHeader")
        .unwrap()
        .value(name)
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_accepts_the_right_certificate_and_refuses_the_rest() {
    let s = sim(AuthMode::Strict).await;
    let (cert, key, sha) = issue(&s, MED, 365).await;

    // The right certificate: answered.
    let (status, t) = post(&s, Some((cert.clone(), key.clone()))).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        t.child("MessageBody")
            .unwrap()
            .value("QualificationValidity"),
        Some("1")
    );

    // No certificate: the handshake completes, the request is refused with the spec's error answer.
    let (status, t) = post(&s, None).await.unwrap();
    assert_eq!(status, 401);
    assert_eq!(header(&t, "ErrorCode").as_deref(), Some("EC0014"));
    assert!(t.child("MessageBody").is_none(), "nothing disclosed");

    // The plain port in mtls mode refuses the same way.
    let r = http::send(
        &s.addr,
        "POST",
        "/oqs/v1/req/OQSsiquc01req_t.xml",
        &[],
        &request(),
    )
    .await;
    assert_eq!(r.status, 401);

    // Another CA's certificate: refused at the handshake.
    let other = onshi_platform::pki::Ca::generate().unwrap();
    let d = |x| onshi_wire::ids::Date::parse(x).unwrap();
    let foreign = other
        .issue_client(MED, "T1", d("20260101"), d("20301231"))
        .unwrap();
    assert!(post(&s, Some((foreign.cert_pem, foreign.key_pem)))
        .await
        .is_err());

    // Facility A's certificate used for facility B.
    let (pc, pk, _) = issue(&s, PHARMACY, 365).await;
    let (status, t) = post(&s, Some((pc, pk))).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(header(&t, "ErrorCode").as_deref(), Some("EC0012"));
    assert!(t.child("MessageBody").is_none());

    // Revoked: refused once the revocation has reached the eligibility service.
    let r = s
        .as_operator(
            "POST",
            &format!("/portal/v1/facilities/{MED}/certificates/{sha}/revoke"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.host.eligibility.as_ref().unwrap().sync().await.unwrap();
    let (status, t) = post(&s, Some((cert, key))).await.unwrap();
    assert_eq!(status, 401);
    assert!(header(&t, "ErrorMessage").unwrap().contains("revoked"));

    // Expired: validity is judged on the simulated clock, at the handshake.
    let (cert, key, _) = issue(&s, MED, -1).await;
    assert!(post(&s, Some((cert, key))).await.is_err());
    let (cert, key, _) = issue(&s, MED, 10).await;
    assert_eq!(
        post(&s, Some((cert.clone(), key.clone()))).await.unwrap().0,
        200
    );
    s.core
        .clock
        .advance(chrono::TimeDelta::days(30))
        .await
        .unwrap();
    assert!(
        post(&s, Some((cert, key))).await.is_err(),
        "expired once the clock moved on"
    );
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_lets_first_contact_in_and_still_checks_certificates() {
    let s = sim(AuthMode::Sandbox).await;
    let (status, t) = post(&s, None).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        t.child("MessageBody")
            .unwrap()
            .value("QualificationValidity"),
        Some("1")
    );
    // A certificate that is presented is still checked.
    let (pc, pk, _) = issue(&s, PHARMACY, 365).await;
    let (_, t) = post(&s, Some((pc, pk))).await.unwrap();
    assert_eq!(header(&t, "ErrorCode").as_deref(), Some("EC0012"));
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_api_login_needs_the_facility_s_own_certificate_under_mtls() {
    let s = sim(AuthMode::Strict).await;
    let (cert, key, _) = issue(&s, MED, 365).await;
    let login = |code: &'static str, cert: Option<(String, String)>| {
        let s = &s;
        async move {
            let body = serde_json::json!({"MedicalInstitutionCode": code,
                "ClientSecret": onshi_seed::demo::demo_secret(code)});
            https::send(
                &s.tls(),
                &s.ca().await,
                cert,
                "POST",
                "/oqs-api-pro/MSA12020/ILI12020SV01/auth",
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(
        login(MED, Some((cert.clone(), key.clone()))).await.status,
        200
    );
    assert_eq!(login(MED, None).await.status, 401);
    assert_eq!(login(PHARMACY, Some((cert, key))).await.status, 401);
    tokio::time::sleep(Duration::from_millis(10)).await;
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_follow_the_simulated_day_and_revocation_is_permanent() {
    // Before 09:00 JST on the day of issue (before midnight UTC): the certificate is already valid.
    let config = Config {
        auth: AuthMode::Strict,
        tls_bind: Some("127.0.0.1:0".into()),
        ..Config::default()
    };
    let s = TestApp::with(config, "2026-11-21T06:30:00").await;
    let (cert, key, sha) = issue(&s, MED, 365).await;
    assert_eq!(
        post(&s, Some((cert.clone(), key.clone()))).await.unwrap().0,
        200
    );
    // The demo terminal certificates survive moving the clock years back or ahead.
    let dir = tempfile::tempdir().unwrap();
    onshi_seed::demo::terminal_certificates(&s.core, dir.path())
        .await
        .unwrap();
    s.sync().await;
    let demo = |f: &str| std::fs::read_to_string(dir.path().join(MED).join(f)).unwrap();
    let demo_pair = (demo("terminal-1.crt"), demo("terminal-1.key"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join(MED).join("terminal-1.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "private keys are the owner's only");
    for at in ["2021-01-01T08:00:00", "2040-06-01T23:59:00"] {
        s.core
            .clock
            .set(onshi_platform::clock::parse_time(at).unwrap())
            .await
            .unwrap();
        assert_eq!(
            post(&s, Some(demo_pair.clone())).await.unwrap().0,
            200,
            "at {at}"
        );
    }
    // Revoked today; moving the clock back before today does not un-revoke it.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-22T10:00:00").unwrap())
        .await
        .unwrap();
    let r = s
        .as_operator(
            "POST",
            &format!("/portal/v1/facilities/{MED}/certificates/{sha}/revoke"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    s.sync().await;
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-21T12:00:00").unwrap())
        .await
        .unwrap();
    let (status, t) = post(&s, Some((cert, key))).await.unwrap();
    assert_eq!(status, 401);
    assert!(header(&t, "ErrorMessage").unwrap().contains("revoked"));
    s.stop().await;
}
