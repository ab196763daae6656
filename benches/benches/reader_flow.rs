//! The whole card-reader flow (issue target: ≥ 2,000 flows/s on 2 cores): place the card, identify by face,
//! give consents → face XML, over HTTP/1.1 with keep-alive against the in-process services on a real
//! PostgreSQL (private cluster, normal durability). `cargo bench -p onshi-benches --bench reader_flow [-- N]`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use onshi_platform::config::Config;
use onshi_platform::http::{Core, Metrics};

/// One keep-alive connection: POST a JSON body, return (status, body).
struct Conn(onshi_benches::Conn);

impl Conn {
    async fn open(addr: &str) -> Self {
        Self(onshi_benches::Conn::open(addr).await)
    }
    async fn post(&mut self, path: &str, body: &str) -> (u16, String) {
        let (status, body) = self.0.post(path, "application/json", body.as_bytes()).await;
        (status, String::from_utf8(body).unwrap())
    }
}

fn field(json: &str, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v[name].as_str().unwrap_or_default().to_string()
}

fn main() {
    let flows = onshi_benches::count_arg(20_000) as usize;
    let server = onshi_benches::BenchServer::start("reader");
    let rt = onshi_benches::runtime(2);
    rt.block_on(async {
        let pool = server.database("bench", 40).await;
        let clock = onshi_platform::clock::SimClock::connect(&pool).await.unwrap();
        let core = Core { pool, clock, metrics: Metrics::new(), config: Arc::new(Config::default()), tasks: Default::default(), usage: Default::default() };
        onshi_seed::demo::load(&core).await.unwrap();
        // One card per concurrent terminal, registered to 山田 太郎's qualification.
        let terminals = 64;
        let today = core.clock.today();
        for t in 0..terminals {
            onshi_consent::cards::issue_fixed(
                &core,
                &format!("B{t:015}"),
                "demo-yamada-taro",
                "1234",
                today,
                10,
                Some(("01130012:12345678:1:00", today)),
            )
            .await
            .unwrap();
        }
        let host = onshi::host::Host::start(core.clone(), onshi::host::ALL, "127.0.0.1:0").await.unwrap();
        let addr = host.addr.to_string();
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..terminals {
            let (addr, done) = (addr.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut c = Conn::open(&addr).await;
                let place = format!(r#"{{"terminal":"T{t}","card_serial":"B{t:015}"}}"#);
                while done.fetch_add(1, Ordering::Relaxed) < flows {
                    let (s1, b1) = c.post("/reader/v1/1310112345/sessions", &place).await;
                    assert_eq!(s1, 201, "{b1}");
                    let id = field(&b1, "session");
                    let (s2, _) = c.post(&format!("/reader/v1/1310112345/sessions/{id}/identify"), r#"{"method":"face","match":true}"#).await;
                    assert_eq!(s2, 200);
                    let (s3, b3) = c
                        .post(
                            &format!("/reader/v1/1310112345/sessions/{id}/consent"),
                            r#"{"medication":true,"checkup":true,"limit_certificate":true,"prescription":"electronic"}"#,
                        )
                        .await;
                    assert_eq!(s3, 200, "{b3}");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!("reader_flow: {flows} flows (place + face + consent → face XML), {terminals} terminals");
        println!("  {secs:.2} s   {:.0} flows/s   ({:.0} HTTP requests/s)", flows as f64 / secs, 3.0 * flows as f64 / secs);
        host.stop().await;
    });
    drop(server);
}
