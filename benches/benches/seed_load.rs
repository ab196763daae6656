//! The synthetic nation's load speed (issue target: 1 million persons generated and loaded in ≤ 30 s on 2 cores),
//! against writing exactly the same rows, generated beforehand, through the same write path (the insurer's
//! `write_versions`; a raw COPY until the lean layout of 2026-12-03), measured in the same run.
//!
//! `cargo bench -p onshi-benches --bench seed_load [-- <persons>]` (default 1,000,000). Uses a private
//! PostgreSQL cluster with normal durability (or `ONSHI_BENCH_DATABASE_URL`).

use std::time::Instant;

use onshi_seed::nation::{self, catalogue::Catalogue, people, Options, Scale};

fn peak_rss_mib() -> u64 {
    onshi_benches::memory_mib("VmHWM") as u64
}

async fn size_mib(pool: &sqlx::PgPool) -> i64 {
    let (b,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await
        .unwrap();
    b / (1024 * 1024)
}

fn main() {
    let persons = onshi_benches::count_arg(1_000_000);
    let threads = 2;
    let server = onshi_benches::BenchServer::start("seed");
    let rt = onshi_benches::runtime(threads);
    rt.block_on(async {
        let suffix = std::process::id();
        // 1. The real thing: generate + load, as `onshi seed` does.
        let full = server.database(&format!("bench_full_{suffix}"), 4).await;
        let opts = Options {
            seed: 1,
            scale: Scale::parse(&persons.to_string()).unwrap(),
            threads,
            as_of: nation::default_as_of(),
            decks: None,
            progress: false,
        };
        let t = Instant::now();
        nation::run(&full, &opts).await.unwrap();
        let t_full = t.elapsed().as_secs_f64();
        let rss_full = peak_rss_mib();
        let size_full = size_mib(&full).await;
        let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM insurer.qualification_versions")
            .fetch_one(&full)
            .await
            .unwrap();

        // 2. The baseline: the same rows, generated beforehand, written alone (same parallelism).
        let raw = server.database(&format!("bench_raw_{suffix}"), 4).await;
        let cat = Catalogue::build();
        let t = Instant::now();
        let recorded = opts.as_of.and_hms_opt(0, 0, 0).unwrap();
        let streams: Vec<_> = nation::plan(persons)
            .into_iter()
            .map(|spec| people::generate(opts.seed, spec, opts.as_of, &cat).versions)
            .collect();
        let t_gen = t.elapsed().as_secs_f64();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(streams));
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..threads {
            let (queue, raw) = (queue.clone(), raw.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some(s) = next else { return };
                    let mut tx = raw.begin().await.unwrap();
                    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await.unwrap();
                    onshi_insurer::STORE.load(&mut tx, s, recorded, "seed:1").await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let t_raw = t.elapsed().as_secs_f64();
        let size_raw = size_mib(&raw).await;

        println!("seed_load: {persons} persons, {rows} qualification versions, {threads} threads");
        println!("  generate + load (onshi seed)      {t_full:8.2} s   {:>9.0} persons/s   db {size_full} MiB   peak RSS {rss_full} MiB", persons as f64 / t_full);
        println!("  baseline: the same rows written alone {t_raw:6.2} s   (db {size_raw} MiB; qualification rows only)");
        println!("  (generation alone, 1 thread:      {t_gen:8.2} s)");
        println!("  ratio full / written alone        {:8.2}", t_full / t_raw);
        let nation = 126_146_000f64 / persons as f64;
        println!(
            "  linear projection to the nation (126,146,000): {:.0} min, {:.0} GiB",
            t_full * nation / 60.0,
            size_full as f64 * nation / 1024.0
        );
    });
    drop(server);
}
