//! 一括照会 end to end (issue targets: all results ready ≤ 1 s after the upload for 10,000 persons, ≤ 5 s for
//! 100,000): a bulk file of N persons (the demo personas over and over, each with its own `ArbitraryIdentifier`)
//! posted over HTTP to the in-process services on a real PostgreSQL; then `OQSmuquc02` polled every 10 ms until
//! the job is done, and the results downloaded. `cargo bench -p onshi-benches --bench bulk [-- N]` (default: 10,000
//! then 100,000).

use std::sync::Arc;
use std::time::Instant;

use onshi_platform::config::Config;
use onshi_platform::http::{Core, Metrics};

/// The persons of the demo file, repeated to `n`.
fn bulk_file(n: usize, tag: &str) -> Vec<u8> {
    let demo = include_str!("../../seed/demo/requests/OQSmuquc01req_demo_clinic.xml");
    let head = demo
        .split("<QualificationConfirmSearchInfo>")
        .next()
        .unwrap();
    let persons: Vec<&str> = demo
        .split("<QualificationConfirmSearchInfo>")
        .skip(1)
        .map(|p| p.split("</QualificationConfirmSearchInfo>").next().unwrap())
        .collect();
    let mut out = head.replace("demo-muquc-clinic", tag);
    for i in 0..n {
        let p = persons[i % persons.len()];
        let p = match p.find("<ArbitraryIdentifier>") {
            Some(at) => format!(
                "{}<ArbitraryIdentifier>B{i:07}</ArbitraryIdentifier>\n    ",
                &p[..at]
            ),
            None => p.to_string(),
        };
        out.push_str("<QualificationConfirmSearchInfo>");
        out.push_str(&p);
        out.push_str("</QualificationConfirmSearchInfo>\n");
    }
    out.push_str("  </MessageBody>\n</XmlMsg>\n");
    out.into_bytes()
}

fn value<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let at = xml.find(&open)? + open.len();
    Some(&xml[at..at + xml[at..].find('<')?])
}

fn main() {
    let sizes: Vec<usize> = match std::env::args().skip(1).find_map(|a| a.parse().ok()) {
        Some(n) => vec![n],
        None => vec![10_000, 100_000],
    };
    let server = onshi_benches::BenchServer::start("bulk");
    let rt = onshi_benches::runtime(2);
    rt.block_on(async {
        let pool = server.database("bench", 20).await;
        let clock = onshi_platform::clock::SimClock::connect(&pool).await.unwrap();
        clock.set(onshi_platform::clock::parse_time("2026-11-21T10:00:00").unwrap()).await.unwrap();
        let core = Core { pool, clock, metrics: Metrics::new(), config: Arc::new(Config::default()), tasks: Default::default(), usage: Default::default() };
        onshi_seed::demo::load(&core).await.unwrap();
        let host = onshi::host::Host::start(core.clone(), onshi::host::ALL, "127.0.0.1:0").await.unwrap();
        let addr = host.addr.to_string();
        for n in sizes {
            let file = bulk_file(n, &format!("bench-{n}"));
            // A fresh connection once the file is ready (an idle keep-alive connection is closed after 5 s).
            let mut c = onshi_benches::Conn::open(&addr).await;
            let started = Instant::now();
            let (status, receipt) = c.post("/oqs/v1/req/OQSmuquc01req_bench.xml", "application/xml", &file).await;
            let receipt = String::from_utf8(receipt).unwrap();
            assert_eq!(status, 200, "{receipt}");
            let number = value(&receipt, "ReceptionNumber").unwrap_or_else(|| panic!("{receipt}")).to_string();
            let uploaded = started.elapsed();
            let poll = format!(
                "<XmlMsg><MessageHeader><MedicalInstitutionCode>1310112345</MedicalInstitutionCode></MessageHeader>\
                 <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>"
            );
            // Ready: the job is done (a cheap check of its state, as a client's poll would see it flip).
            loop {
                let (state,): (String,) = sqlx::query_as("SELECT state FROM eligibility.bulk_jobs WHERE number = $1")
                    .bind(&number)
                    .fetch_one(&core.pool)
                    .await
                    .unwrap();
                if state == "done" {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let ready = started.elapsed();
            let (status, result) = c.post("/oqs/v1/req/OQSmuquc02req_bench.xml", "application/xml", poll.as_bytes()).await;
            let result = String::from_utf8(result).unwrap();
            assert_eq!(status, 200);
            assert_eq!(value(&result, "NumberOfProcessingResult"), Some(n.to_string().as_str()));
            let downloaded = started.elapsed();
            println!(
                "bulk {n:>7} persons ({:.1} MB): receipt {:.2} s, all results ready {:.2} s after the upload began \
                 ({:.2} s after the receipt), downloaded {:.2} s ({:.1} MB)",
                file.len() as f64 / 1e6,
                uploaded.as_secs_f64(),
                ready.as_secs_f64(),
                (ready - uploaded).as_secs_f64(),
                downloaded.as_secs_f64(),
                result.len() as f64 / 1e6
            );
        }
        host.stop().await;
    });
    drop(server);
}
