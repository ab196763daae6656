//! The eligibility read model at scale (issue 16): bytes per qualification, the time to build it from the feeds,
//! to write it to its file and to start again from that file, and the `OQSsiquc01` answer rate over HTTP from it
//! against the same at demo scale (1,000 persons), in the same run.
//!
//! `cargo bench -p onshi-benches --bench read_model [-- <persons>]` (default 1,000,000). Uses a private PostgreSQL
//! cluster with normal durability (or `ONSHI_BENCH_DATABASE_URL`). `ONSHI_BENCH_RATE_SECS` sets how long each rate
//! is measured (default 10 s).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onshi::host::{Host, ALL};
use onshi_load::scenario::{self, Person};
use onshi_platform::clock::SimClock;
use onshi_platform::config::Config;
use onshi_platform::http::{Core, Metrics};
use onshi_seed::nation::{self, Options, Scale};
use onshi_wire::record::QualificationRecord;

fn rss_mib() -> f64 {
    onshi_benches::memory_mib("VmRSS")
}

/// What one scale measured.
struct Row {
    persons: u64,
    qualifications: u64,
    load_s: f64,
    build_s: f64,
    bytes: u64,
    rss_delta_mib: f64,
    save_s: f64,
    file_bytes: u64,
    restart_s: f64,
    rate: f64,
}

/// Up to `n` persons of the loaded population, as requests would name them.
async fn sample(pool: &sqlx::PgPool, n: i64, date: &str) -> Vec<Person> {
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM insurer.feed_v1")
        .fetch_one(pool)
        .await
        .unwrap();
    // Every k-th row, spread over the whole feed.
    let every = (rows / n).max(1);
    let records: Vec<(String,)> = sqlx::query_as(
        "SELECT record::text FROM insurer.feed_v1 WHERE version = 1 AND seq % $2 = 0 LIMIT $1",
    )
    .bind(n)
    .bind(every)
    .fetch_all(pool)
    .await
    .unwrap();
    records
        .into_iter()
        .map(|(text,)| {
            let r: QualificationRecord = serde_json::from_str(&text).unwrap();
            Person {
                insurer: r.insurer_number.to_string(),
                symbol: r.symbol.as_str().to_string(),
                number: r.number.as_str().to_string(),
                branch: r.branch.as_string(),
                birth: r.birth_date.compact(),
                date: date.to_string(),
                card: None,
            }
        })
        .collect()
}

/// A facility the eligibility service answers for.
async fn operational_facility(host: &Host, core: &Core) -> String {
    let codes: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT id FROM portal.feed_v1 LIMIT 2000")
        .fetch_all(&core.pool)
        .await
        .unwrap();
    let e = host.eligibility.as_ref().unwrap();
    let today = core.clock.today();
    codes
        .into_iter()
        .map(|(c,)| c)
        .find(|c| e.facility_check(c, None, today).refused.is_none())
        .expect("an operational facility")
}

/// `OQSsiquc01` answers per second over HTTP, 16 keep-alive connections, for `secs`.
async fn rate(addr: &str, facility: &str, persons: Arc<Vec<Person>>, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..16u64 {
        let (addr, facility, persons, done) = (
            addr.to_string(),
            facility.to_string(),
            persons.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = onshi_benches::Conn::open(&addr).await;
            let mut body = Vec::new();
            let mut n = c;
            while Instant::now() < until {
                body.clear();
                let p = &persons[(n as usize) % persons.len()];
                scenario::siquc01(&mut body, &facility, p, n);
                let (status, answer) = conn
                    .post(
                        &format!("/oqs/v1/req/OQSsiquc01req_b{n}.xml"),
                        "application/xml",
                        &body,
                    )
                    .await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
                done.fetch_add(1, Ordering::Relaxed);
                n += 16;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The whole simulator on `pool`'s database, over connections of its own (a stopped simulator's workers take
/// theirs with them).
async fn start(pool: &sqlx::PgPool, file: &std::path::Path) -> (Host, Core) {
    let mut config = Config::default();
    config.eligibility.read_model = Some(file.to_path_buf());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(20)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let core = Core {
        clock: SimClock::connect(&pool).await.unwrap(),
        pool,
        metrics: Metrics::new(),
        config: Arc::new(config),
        tasks: Default::default(),
        usage: Default::default(),
    };
    let host = Host::start(core.clone(), ALL, "127.0.0.1:0").await.unwrap();
    (host, core)
}

async fn measure(server: &onshi_benches::BenchServer, persons: u64, secs: u64) -> Row {
    let name = format!("bench_rm_{persons}_{}", std::process::id());
    let pool = server.database(&name, 20).await;
    let opts = Options {
        seed: 1,
        scale: Scale::parse(&persons.to_string()).unwrap(),
        threads: 2,
        as_of: nation::default_as_of(),
        decks: None,
        progress: false,
    };
    let t = Instant::now();
    nation::run(&pool, &opts).await.unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let file = std::env::temp_dir().join(format!("{name}.bin"));
    let _ = std::fs::remove_file(&file);

    // 1. Built from the feeds.
    let before = rss_mib();
    let t = Instant::now();
    let (host, core) = start(&pool, &file).await;
    let build_s = t.elapsed().as_secs_f64();
    let rss_delta_mib = rss_mib() - before;
    let e = host.eligibility.clone().unwrap();
    let status = e.status();
    let qualifications = status["qualifications"].as_u64().unwrap();
    let bytes = status["read_model_bytes"].as_u64().unwrap();
    // The start-up write (in the background) makes the file the restart reads; a second write is timed here.
    while !file.exists() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let timed = file.with_extension("timed");
    let (e2, timed2) = (e.clone(), timed.clone());
    let t = Instant::now();
    tokio::task::spawn_blocking(move || e2.write_read_model(&timed2).unwrap())
        .await
        .unwrap();
    let save_s = t.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&timed).unwrap().len();
    std::fs::remove_file(&timed).unwrap();

    // 2. The answer rate from it.
    let date = core.clock.today().compact();
    let people = Arc::new(sample(&pool, 20_000, &date).await);
    let facility = operational_facility(&host, &core).await;
    let rate = rate(&host.addr.to_string(), &facility, people, secs).await;
    drop(e);
    host.stop().await;

    // 3. Started again from the file.
    let t = Instant::now();
    let (host, _) = start(&pool, &file).await;
    let restart_s = t.elapsed().as_secs_f64();
    let again = host.eligibility.as_ref().unwrap().status();
    assert_eq!(again["qualifications"].as_u64(), Some(qualifications));
    host.stop().await;
    let _ = std::fs::remove_file(&file);
    Row {
        persons,
        qualifications,
        load_s,
        build_s,
        bytes,
        rss_delta_mib,
        save_s,
        file_bytes,
        restart_s,
        rate,
    }
}

fn main() {
    let persons = onshi_benches::count_arg(1_000_000);
    let secs = std::env::var("ONSHI_BENCH_RATE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let server = onshi_benches::BenchServer::start("read-model");
    let rt = onshi_benches::runtime(2);
    rt.block_on(async {
        let big = measure(&server, persons, secs).await;
        let demo = measure(&server, 1_000, secs).await;
        println!(
            "| persons | qualifications | load | build from the feeds | read model | per qualification | RSS growth | write | file | restart from the file | OQSsiquc01 answers/s |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for r in [&demo, &big] {
            println!(
                "| {} | {} | {:.1} s | {:.2} s | {:.1} MiB | {:.1} B | {:.0} MiB | {:.2} s | {:.1} MiB | {:.2} s | {:.0} |",
                r.persons,
                r.qualifications,
                r.load_s,
                r.build_s,
                r.bytes as f64 / 1048576.0,
                r.bytes as f64 / r.qualifications as f64,
                r.rss_delta_mib,
                r.save_s,
                r.file_bytes as f64 / 1048576.0,
                r.restart_s,
                r.rate
            );
        }
        println!(
            "rate at {} persons / rate at demo scale = {:.2}",
            big.persons,
            big.rate / demo.rate
        );
    });
}
