//! `onshi-load` (the load generator of `load-tests/`) against the whole simulator: every operation of a mix over
//! HTTP with the server's metrics for the window, mutual TLS with one terminal certificate per facility, and the
//! folder door — short open-model runs whose every request must come back answered.

use std::sync::Arc;
use std::time::Duration;

use onshi_load::client::Endpoint;
use onshi_load::driver::{self, Door, Model, Outcomes, Plan};
use onshi_load::folder::Folders;
use onshi_load::profile::Profile;
use onshi_load::scenario::{self, Deck, Mix, Op};
use onshi_load::server::Scraper;
use onshi_platform::config::Config;

use crate::app::{TestApp, NOW};

fn plan(door: Door, mix: &str, connections: usize, rate: f64, secs: u64) -> Plan {
    let deck = Arc::new(Deck::demo());
    let mix = Mix::parse(mix, 5).unwrap();
    let lanes = scenario::lanes(&deck, &mix, connections).unwrap();
    let door = match door {
        Door::Http(e) if e.len() == 1 => Door::Http(vec![e[0].clone(); lanes.len()]),
        d => d,
    };
    Plan {
        door,
        lanes,
        deck,
        profile: Profile::constant(rate, Duration::from_secs(secs)),
        model: Model::Open,
        late_after: Duration::from_millis(500),
        stop_on_saturation: false,
        bulk_persons: 5,
        bulk_poll: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
        threads: 2,
        precise: true,
    }
}

fn assert_all_answered(o: &Outcomes, expected: u64) {
    let all = o.total.all();
    let failures: Vec<_> = o.total.ran().flat_map(|(_, s)| s.failed.iter()).collect();
    assert!(failures.is_empty(), "failures: {failures:?}");
    assert_eq!(all.count(), expected);
    assert_eq!(o.total.unsent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_a_mix_is_answered_and_the_server_metrics_cover_the_window() {
    let s = TestApp::start().await;
    let http = Endpoint::parse(&format!("http://{}", s.addr), None, None).unwrap();
    let scraper = Scraper::start(http.clone(), Duration::from_secs(5)).await;
    let p = plan(
        Door::Http(vec![http]),
        "siquc01=6,reader=1,medication=1,checkup=1,bulk=1",
        3,
        100.0,
        2,
    );
    let o = driver::run(p, |_, _| {}).await.unwrap();
    assert_all_answered(&o, 200);
    for op in [
        Op::Siquc01,
        Op::Reader,
        Op::Medication,
        Op::Checkup,
        Op::Bulk,
    ] {
        assert!(o.total.op(op).count() > 0, "{op:?} never ran");
    }
    // Demo personas: valid, lost, not found … all answered with SegmentOfResult 1; the card reader and bulk too.
    assert_eq!(o.total.op(Op::Siquc01).refusals(), 0);
    assert_eq!(o.total.op(Op::Reader).ok, o.total.op(Op::Reader).count());
    assert_eq!(o.total.op(Op::Bulk).ok, o.total.op(Op::Bulk).count());
    assert!(o.seconds.len() >= 2);
    let w = scraper.finish().await;
    assert!(w.error.is_none(), "{:?}", w.error);
    let by_type: Vec<&String> = w
        .messages
        .keys()
        .filter(|k| k.starts_with("OQSsiquc01 · http · "))
        .collect();
    assert!(
        by_type.iter().any(|k| k.contains(" · medical · ")),
        "{by_type:?}"
    );
    assert!(
        by_type.iter().any(|k| k.contains(" · pharmacy · ")),
        "{by_type:?}"
    );
    assert!(w
        .latency
        .iter()
        .any(|l| l.series == "OQSsiquc01 · http" && l.count > 0.0));
    assert!(!w.resident_bytes.is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_one_terminal_certificate_per_facility() {
    let config = Config {
        tls_bind: Some("127.0.0.1:0".into()),
        ..Config::default()
    };
    let s = TestApp::with(config, NOW).await;
    let ca = s.ca().await;
    let deck = Deck::demo();
    let mut endpoints = Vec::new();
    let lanes = scenario::lanes(&deck, &Mix::parse("siquc01", 1).unwrap(), 3).unwrap();
    for lane in &lanes {
        let cert = s.issue_certificate(&lane.facility, 30).await;
        let (c, k) = cert.pair();
        endpoints.push(
            Endpoint::parse(&format!("https://{}", s.tls()), Some(&ca), Some((&c, &k))).unwrap(),
        );
    }
    let o = driver::run(
        plan(Door::Http(endpoints), "siquc01", 3, 60.0, 1),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_all_answered(&o, 60);
    assert_eq!(o.total.op(Op::Siquc01).refusals(), 0);
    assert_eq!(o.reconnects, 0, "keep-alive over TLS");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_folder_door_answers_every_request_file() {
    let s = TestApp::start().await;
    let folders = Folders::new(s.folders.path()).unwrap();
    let o = driver::run(
        plan(Door::Folder(folders), "siquc01", 3, 20.0, 1),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_all_answered(&o, 20);
    assert_eq!(o.total.op(Op::Siquc01).refusals(), 0);
    s.stop().await;
}
