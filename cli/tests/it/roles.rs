//! Roles in strict mode: every route of the route table (`onshi::host::routes`), called by every kind of caller —
//! nobody, the facility in the path, another facility, a patient, an insurer, the operator — facilities over the
//! TLS listener with their real certificates, the others with their tokens. A caller the route does not declare is refused (401 or 403) before the
//! handler; a caller it declares reaches the handler (any other status).

use onshi::host::{routes, ALL};
use onshi_platform::config::{AuthMode, Config};
use onshi_platform::roles::Access;
use onshi_platform::testkit::{http, https};

use crate::app::{TerminalCert, TestApp, MED, NOW, OPERATOR, PHARMACY};

const PERSON: &str = "demo-yamada-taro";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    OwnFacility,
    OtherFacility,
    Patient,
    Insurer,
    Operator,
}

const EVERYONE: [Who; 6] = [
    Who::Nobody,
    Who::OwnFacility,
    Who::OtherFacility,
    Who::Patient,
    Who::Insurer,
    Who::Operator,
];

/// Who a declaration admits.
fn admits(access: Access, who: Who) -> bool {
    match access {
        Access::Public => true,
        Access::Message | Access::Facility => matches!(who, Who::OwnFacility | Who::OtherFacility),
        Access::OwnFacility => who == Who::OwnFacility,
        Access::Insurer => matches!(who, Who::Insurer | Who::Operator),
        Access::OwnPatient => matches!(who, Who::Patient | Who::Operator),
        Access::Operator => who == Who::Operator,
    }
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{code}", MED)
        .replace("{person_id}", PERSON)
        .replace("{file_name}", "OQSsiquc01req_roles.xml")
        .replace("{serial}", "D000000000000003")
        .replace("{number}", "01130012")
        .replace("{sha256}", "00")
        // A qualification of the insurer whose credential the test holds (for sessions and facilities: unknown).
        .replace("{id}", "01130012%3A12345678%3A1%3A00")
}

struct Callers {
    ca: String,
    own: TerminalCert,
    other: TerminalCert,
    own_token: String,
    other_token: String,
    patient: String,
    insurer: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_admits_exactly_its_declared_callers_in_strict_mode() {
    let config = Config {
        auth: AuthMode::Strict,
        tls_bind: Some("127.0.0.1:0".into()),
        ..Config::default()
    };
    let s = TestApp::with(config, NOW).await;
    let own = s.issue_certificate(MED, 365).await;
    let other = s.issue_certificate(PHARMACY, 365).await;
    let ca = s.ca().await;
    let login = |cert: &TerminalCert, code: &str| {
        let body = serde_json::json!({"MedicalInstitutionCode": code, "ClientSecret": format!("demo-secret-{code}")});
        let (tls, ca, pair) = (s.tls(), ca.clone(), cert.pair());
        async move {
            let r = https::send(
                &tls,
                &ca,
                Some(pair),
                "POST",
                onshi_wire::msg::file_name::WEB_API_LOGIN,
                &[],
                body.to_string().as_bytes(),
            )
            .await
            .unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["result"]["idToken"].as_str().unwrap().to_string()
        }
    };
    let own_token = login(&own, MED).await;
    let other_token = login(&other, PHARMACY).await;
    let r = https::send(
        &s.tls(),
        &ca,
        None,
        "POST",
        "/consent/v1/patients/login",
        &[],
        br#"{"card_serial":"D000000000000001","pin":"1234"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["person_id"], PERSON);
    let patient = r.json()["token"].as_str().unwrap().to_string();
    let r = s
        .as_operator(
            "POST",
            "/portal/v1/insurers/01130012/credentials",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let insurer = r.json()["credential"].as_str().unwrap().to_string();
    let c = Callers {
        ca,
        own,
        other,
        own_token,
        other_token,
        patient,
        insurer,
    };

    let table = routes(ALL);
    let mut matrix = Vec::new();
    for route in &table {
        let path = concrete(&route.path);
        let mut row = Vec::new();
        for who in EVERYONE {
            let (cert, token) = match who {
                Who::Nobody => (None, None),
                Who::OwnFacility => (Some(c.own.pair()), Some(c.own_token.clone())),
                Who::OtherFacility => (Some(c.other.pair()), Some(c.other_token.clone())),
                Who::Patient => (None, Some(c.patient.clone())),
                Who::Insurer => (None, Some(c.insurer.clone())),
                Who::Operator => (None, Some(OPERATOR.to_string())),
            };
            let auth = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            // Callers without a certificate use the plain port (as strict mode sees them, the same as TLS
            // without a certificate); facilities use the TLS listener with theirs.
            let r = match cert {
                Some(pair) => https::send(
                    &s.tls(),
                    &c.ca,
                    Some(pair),
                    route.method,
                    &path,
                    &headers,
                    b"{}",
                )
                .await
                .unwrap_or_else(|e| panic!("{} {path} as {who:?}: {e}", route.method)),
                None => http::send(&s.addr, route.method, &path, &headers, b"{}").await,
            };
            let refused = matches!(r.status, 401 | 403);
            assert_eq!(
                refused,
                !admits(route.access, who),
                "{} {path} ({:?}) as {who:?}: {} {}",
                route.method,
                route.access,
                r.status,
                r.text()
            );
            assert!(
                r.status < 500,
                "{} {path} as {who:?}: {} {}",
                route.method,
                r.status,
                r.text()
            );
            row.push(if refused { "—" } else { "✓" });
        }
        matrix.push(format!(
            "| `{} {}` | {:?} | {} |",
            route.method,
            route.path,
            route.access,
            row.join(" | ")
        ));
    }
    assert!(
        table.len() >= 50,
        "the route table has {} routes",
        table.len()
    );
    // The matrix as docs/SECURITY.md shows it (printed with --nocapture).
    println!("| route | access | nobody | own facility | other facility | patient | insurer | operator |");
    println!("|---|---|---|---|---|---|---|---|");
    for line in matrix {
        println!("{line}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insurer_reaches_only_its_own_qualifications() {
    let config = Config {
        auth: AuthMode::Strict,
        ..Config::default()
    };
    let s = TestApp::with(config, NOW).await;
    let r = s
        .as_operator(
            "POST",
            "/portal/v1/insurers/01130012/credentials",
            serde_json::Value::Null,
        )
        .await;
    let auth = format!("Bearer {}", r.json()["credential"].as_str().unwrap());
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let get = |id: &str| {
        let path = format!("/insurer/v1/qualifications/{}", id.replace(':', "%3A"));
        let addr = s.addr.clone();
        async move { http::send(&addr, "GET", &path, &headers, b"").await.status }
    };
    assert_eq!(get("01130012:12345678:1:00").await, 200, "its own");
    assert_eq!(get("06131270:55:1203:00").await, 403, "another insurer's");
    let line = include_str!("../../../seed/demo/01-registrations.jsonl")
        .lines()
        .find(|l| l.contains("06131270"))
        .unwrap();
    let mut foreign: serde_json::Value = serde_json::from_str(line).unwrap();
    foreign["person_id"] = "someone-else".into();
    foreign["number"] = "99999".into();
    let r = http::send(
        &s.addr,
        "POST",
        "/insurer/v1/qualifications",
        &headers,
        foreign.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = http::send(
        &s.addr,
        "POST",
        "/insurer/v1/bulk",
        &headers,
        format!("{foreign}\n").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("not a qualification of this insurer"));
    s.stop().await;
}
