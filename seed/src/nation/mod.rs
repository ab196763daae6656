//! The synthetic nation: `onshi seed --scale <demo|city|large|nation|N> --seed <u64>`.
//!
//! | module | what |
//! |---|---|
//! | [`params`] | the real figures imitated (census, insurers, facilities, My Number rates) |
//! | [`catalogue`] | the insurers (seed-independent) and invented place names |
//! | [`people`] | one chunk of persons, households, qualifications, histories and cards |
//! | [`claims`] | synthetic monthly UKE claim files for the population (`onshi seed claims`) |
//! | [`facilities`] | facilities by prefecture with codes and adoption states |
//! | [`names`] | family and given names with half-width kana |
//! | [`rng`] | the per-chunk deterministic generator |
//! | [`report`] | `--report`: the loaded population against the real figures |
//!
//! The population is cut into chunks of [`people::CHUNK_PERSONS`] persons, each belonging to one prefecture and
//! generated from its own random stream, so the data is the same for a seed and scale whatever the number of
//! threads. Each chunk is loaded with binary COPY through the owning service's store, in one transaction together
//! with its row in `seed.chunks`: a killed load resumes with the missing chunks, without duplicates or gaps.

pub mod catalogue;
pub mod checkups;
pub mod claims;
pub mod facilities;
pub mod names;
pub mod params;
pub mod people;
pub mod report;
pub mod rng;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use sqlx::PgPool;

use onshi_platform::db::Migrations;

use catalogue::Catalogue;
use people::{ChunkSpec, Sample, Stats, CHUNK_PERSONS};

pub const MIGRATIONS: Migrations = Migrations {
    schema: "seed",
    steps: &[(
        "0001_seed",
        include_str!("../../../schema/seed/0001_seed.sql"),
    )],
};

/// Named scales: a clinic's patients, a city, a large prefecture, the nation (2020 census).
pub const SCALES: [(&str, u64); 4] = [
    ("demo", 1_000),
    ("city", 100_000),
    ("large", 5_000_000),
    ("nation", 126_146_000),
];

/// The largest population accepted for `--scale N`.
pub const MAX_PERSONS: u64 = 200_000_000;

/// The date the population describes (fixed so that a seed always gives the same data).
pub fn default_as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, 1).expect("date")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    pub name: String,
    pub persons: u64,
}

impl Scale {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some((name, n)) = SCALES.iter().find(|(name, _)| *name == s) {
            return Ok(Self {
                name: (*name).into(),
                persons: *n,
            });
        }
        let names: Vec<&str> = SCALES.iter().map(|s| s.0).collect();
        let n: u64 = s.replace('_', "").parse().map_err(|_| {
            format!(
                "unknown scale {s:?}: use {} or a number of persons",
                names.join(", ")
            )
        })?;
        if n == 0 {
            return Err("the scale must be at least 1 person".into());
        }
        if n > MAX_PERSONS {
            return Err(format!(
                "{n} persons is more than the simulator generates ({MAX_PERSONS}; Japan has about 126 million)"
            ));
        }
        Ok(Self {
            name: n.to_string(),
            persons: n,
        })
    }
}

/// The chunks of a population: persons shared out to prefectures by population (largest remainder), then cut.
pub fn plan(persons: u64) -> Vec<ChunkSpec> {
    let pop: u64 = params::PREFECTURES.iter().map(|p| u64::from(p.2)).sum();
    let mut per_pref: Vec<u64> = params::PREFECTURES
        .iter()
        .map(|p| persons * u64::from(p.2) / pop)
        .collect();
    let mut order: Vec<usize> = (0..47).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(persons * u64::from(params::PREFECTURES[i].2) % pop),
            i,
        )
    });
    let rest = persons - per_pref.iter().sum::<u64>();
    for &i in order.iter().take(rest as usize) {
        per_pref[i] += 1;
    }
    let mut chunks = Vec::new();
    let mut first = 0u64;
    for (i, &n) in per_pref.iter().enumerate() {
        let mut left = n;
        let mut index = 0;
        while left > 0 {
            let size = left.min(u64::from(CHUNK_PERSONS)) as u32;
            chunks.push(ChunkSpec {
                id: chunks.len() as u32,
                pref: i as u8 + 1,
                index_in_pref: index,
                first_person: first,
                persons: size,
            });
            first += u64::from(size);
            left -= u64::from(size);
            index += 1;
        }
    }
    chunks
}

/// Facility chunks are numbered after the person chunks' range.
pub const FACILITY_CHUNK_BASE: u32 = 1_000_000;

/// What a run asks for.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub scale: Scale,
    pub threads: usize,
    pub as_of: NaiveDate,
    /// Where the test decks go (a directory; created).
    pub decks: Option<PathBuf>,
    /// Print a progress line.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub chunks_total: usize,
    pub chunks_loaded: usize,
    pub chunks_already_loaded: usize,
    pub persons_loaded: u64,
    pub elapsed: Duration,
}

enum Work {
    Persons(ChunkSpec),
    Facilities(u8, [u32; 4]),
}

impl Work {
    fn id(&self) -> u32 {
        match self {
            Work::Persons(c) => c.id,
            Work::Facilities(p, _) => FACILITY_CHUNK_BASE + u32::from(*p),
        }
    }
}

fn disk_full(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "53100")
}

/// The recorded seed run of a database.
#[derive(sqlx::FromRow)]
struct RunRow {
    seed: String,
    scale: String,
    persons: i64,
    as_of: NaiveDate,
}

/// Checks the database is empty of seeds or holds this one; records the run.
async fn claim(pool: &PgPool, opts: &Options, chunks: usize) -> anyhow::Result<()> {
    let existing: Option<RunRow> = sqlx::query_as(
        "SELECT seed::text AS seed, scale, persons, as_of FROM seed.runs WHERE id = 1",
    )
    .fetch_optional(pool)
    .await?;
    match existing {
        None => {
            sqlx::query(
                "INSERT INTO seed.runs (seed, scale, persons, chunks, as_of) VALUES ($1::numeric, $2, $3, $4, $5)",
            )
            .bind(opts.seed.to_string())
            .bind(&opts.scale.name)
            .bind(opts.scale.persons as i64)
            .bind(chunks as i32)
            .bind(opts.as_of)
            .execute(pool)
            .await?;
            Ok(())
        }
        Some(run)
            if run.seed == opts.seed.to_string()
                && run.persons == opts.scale.persons as i64
                && run.as_of == opts.as_of =>
        {
            Ok(())
        }
        Some(RunRow {
            seed,
            scale,
            persons,
            as_of,
        }) => bail!(
            "this database already holds the synthetic nation of seed {seed}, scale {scale} ({persons} persons, \
             as of {as_of}); a database holds one population: use a fresh database (DATABASE_URL or another \
             ONSHI_HOME) for seed {} at scale {}",
            opts.seed,
            opts.scale.name
        ),
    }
}

/// Generates and loads the population (resuming a previous run), then writes the test decks.
pub async fn run(pool: &PgPool, opts: &Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let chunks = plan(opts.scale.persons);
    let fac_counts = facilities::counts(opts.scale.persons);
    let mut work: Vec<Work> = chunks.iter().copied().map(Work::Persons).collect();
    for (i, c) in fac_counts.iter().enumerate() {
        if c.iter().any(|n| *n > 0) {
            work.push(Work::Facilities(i as u8 + 1, *c));
        }
    }
    claim(pool, opts, work.len()).await?;
    let done: Vec<(i32,)> = sqlx::query_as("SELECT chunk FROM seed.chunks")
        .fetch_all(pool)
        .await?;
    let done: std::collections::HashSet<u32> = done.into_iter().map(|(c,)| c as u32).collect();
    let total = work.len();
    let pending: Vec<Work> = work
        .into_iter()
        .filter(|w| !done.contains(&w.id()))
        .collect();
    let mut summary = Summary {
        chunks_total: total,
        chunks_already_loaded: total - pending.len(),
        ..Summary::default()
    };
    let pending_persons: u64 = pending
        .iter()
        .map(|w| match w {
            Work::Persons(c) => u64::from(c.persons),
            Work::Facilities(..) => 0,
        })
        .sum();
    if !pending.is_empty() {
        tracing::info!(
            chunks = pending.len(),
            persons = pending_persons,
            already_loaded = summary.chunks_already_loaded,
            threads = opts.threads,
            "seed: loading"
        );
    }
    let catalogue = Arc::new(Catalogue::build());
    let pending = Arc::new(pending);
    let next = Arc::new(AtomicUsize::new(0));
    let persons_done = Arc::new(AtomicU64::new(0));
    let chunks_done = Arc::new(AtomicUsize::new(0));
    let reporter = (opts.progress && !pending.is_empty()).then(|| {
        let persons_done = persons_done.clone();
        let chunks_done = chunks_done.clone();
        let n_chunks = pending.len();
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                progress_line(
                    persons_done.load(Ordering::Relaxed),
                    pending_persons,
                    chunks_done.load(Ordering::Relaxed),
                    n_chunks,
                    t0.elapsed(),
                );
            }
        })
    });
    let mut tasks = Vec::new();
    for _ in 0..opts.threads.max(1) {
        let (pool, opts, catalogue, pending, next, persons_done, chunks_done) = (
            pool.clone(),
            opts.clone(),
            catalogue.clone(),
            pending.clone(),
            next.clone(),
            persons_done.clone(),
            chunks_done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(w) = pending.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let persons = load_chunk(&pool, &opts, &catalogue, w).await?;
                persons_done.fetch_add(persons, Ordering::Relaxed);
                chunks_done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut first_error = None;
    for t in tasks {
        if let Err(e) = t.await.context("loader task")? {
            first_error.get_or_insert(e);
        }
    }
    if let Some(r) = reporter {
        r.abort();
        progress_line(
            persons_done.load(Ordering::Relaxed),
            pending_persons,
            chunks_done.load(Ordering::Relaxed),
            pending.len(),
            started.elapsed(),
        );
        eprintln!();
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // A large run is finished once its indexes are compacted (a run stopped during that does it when resumed).
    let (unfinished,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM seed.runs WHERE id = 1 AND finished_at IS NULL)",
    )
    .fetch_one(pool)
    .await?;
    if unfinished && opts.scale.persons >= COMPACT_AFTER_PERSONS {
        compact(pool, opts.progress).await?;
    }
    sqlx::query("UPDATE seed.runs SET finished_at = now() WHERE id = 1 AND finished_at IS NULL")
        .execute(pool)
        .await?;
    summary.chunks_loaded = chunks_done.load(Ordering::Relaxed);
    summary.persons_loaded = persons_done.load(Ordering::Relaxed);
    if let Some(dir) = &opts.decks {
        write_decks(pool, dir, opts.as_of).await?;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// A run of at least this many persons rebuilds the big tables' indexes at its end: keys loaded in random order
/// leave index pages about two-thirds full (for the nation ≈ 5 GB of the 60 GB budget).
const COMPACT_AFTER_PERSONS: u64 = 5_000_000;

/// Rebuilds the indexes of the qualification versions and the cards compact, one at a time and online (reads
/// and writes go on).
async fn compact(pool: &PgPool, progress: bool) -> anyhow::Result<()> {
    let t = Instant::now();
    if progress {
        eprintln!("compacting the indexes of qualifications and cards…");
    }
    onshi_insurer::STORE
        .compact(pool)
        .await
        .context("compacting the qualification indexes")?;
    onshi_consent::cards::compact(pool)
        .await
        .context("compacting the card indexes")?;
    tracing::info!(secs = t.elapsed().as_secs(), "seed: indexes compacted");
    Ok(())
}

fn progress_line(done: u64, total: u64, chunks: usize, n_chunks: usize, elapsed: Duration) {
    let frac = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let width = 30;
    let filled = ((frac * width as f64) as usize).min(width);
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let eta = if rate > 0.0 {
        (total.saturating_sub(done)) as f64 / rate
    } else {
        0.0
    };
    eprint!(
        "\r[{}{}] {:5.1}%  {}/{} persons  {}/{} chunks  {:.0} persons/s  ETA {:.0}s   ",
        "#".repeat(filled),
        " ".repeat(width - filled),
        frac * 100.0,
        done,
        total,
        chunks,
        n_chunks,
        rate,
        eta
    );
    let _ = std::io::stderr().flush();
}

/// Generates one chunk (on a blocking thread) and loads it in one transaction with its bookkeeping row.
async fn load_chunk(
    pool: &PgPool,
    opts: &Options,
    cat: &Arc<Catalogue>,
    w: &Work,
) -> anyhow::Result<u64> {
    let (seed, as_of, cat2) = (opts.seed, opts.as_of, cat.clone());
    let recorded_at = as_of.and_hms_opt(0, 0, 0).expect("midnight");
    let id = w.id();
    let source = format!("seed:{seed}");
    let result = match *w {
        Work::Persons(spec) => {
            let (versions, cards, stats, samples) = tokio::task::spawn_blocking(move || {
                let out = people::generate(seed, spec, as_of, &cat2);
                let cards = encode_cards(&out.cards);
                (out.versions, cards, out.stats, out.samples)
            })
            .await?;
            let mut tx = pool.begin().await?;
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
            let r: sqlx::Result<()> = async {
                onshi_insurer::STORE
                    .load(&mut tx, versions, recorded_at, &source)
                    .await?;
                onshi_platform::copy::send(&mut tx, onshi_consent::cards::COPY_CARDS, cards)
                    .await?;
                mark_done(&mut tx, id, u64::from(spec.persons), &stats, &samples).await?;
                Ok(())
            }
            .await;
            match r {
                Ok(()) => tx.commit().await.map(|_| u64::from(spec.persons)),
                Err(e) => Err(e),
            }
        }
        Work::Facilities(pref, counts) => {
            let (rows, states) = tokio::task::spawn_blocking(move || {
                facilities::generate(seed, pref, counts, as_of)
            })
            .await?;
            let stats = Stats {
                facilities: states,
                ..Stats::default()
            };
            let mut tx = pool.begin().await?;
            let r: sqlx::Result<()> = async {
                onshi_portal::STORE
                    .load(&mut tx, rows, recorded_at, &source)
                    .await?;
                mark_done(&mut tx, id, 0, &stats, &[]).await
            }
            .await;
            match r {
                Ok(()) => tx.commit().await.map(|_| 0),
                Err(e) => Err(e),
            }
        }
    };
    result.map_err(|e| {
        if disk_full(&e) {
            anyhow::anyhow!(
                "the disk is full (PostgreSQL could not write chunk {id}); free some space and run the same \
                 command again: it resumes where it stopped"
            )
        } else {
            anyhow::Error::new(e).context(format!("loading chunk {id}"))
        }
    })
}

fn encode_cards(cards: &[people::Card]) -> Vec<u8> {
    let mut c = onshi_platform::copy::BinaryCopy::new();
    for card in cards {
        c.row(7)
            .text(&card.person_id)
            .text(&card.serial)
            .date(card.issued_on)
            .date(card.expires_on)
            .bytea(&onshi_consent::cards::pin_digest(&card.serial, &card.pin))
            .opt_date(card.registered_on)
            .opt_text(card.qualification_id.as_deref());
    }
    c.finish()
}

async fn mark_done(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    chunk: u32,
    persons: u64,
    stats: &Stats,
    samples: &[Sample],
) -> sqlx::Result<()> {
    let samples: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            serde_json::json!({
                "category": s.category, "expected": s.expected, "insurer_number": s.insurer_number,
                "symbol": s.symbol, "number": s.number, "branch": s.branch, "birthdate": s.birthdate,
                "card_serial": s.card.as_ref().map(|c| c.0.clone()), "pin": s.card.as_ref().map(|c| c.1.clone()),
            })
        })
        .collect();
    let mut stats_json = serde_json::to_value(stats).expect("stats serialise");
    stats_json["samples"] = serde_json::Value::Array(samples);
    sqlx::query("INSERT INTO seed.chunks (chunk, persons, stats) VALUES ($1, $2, $3)")
        .bind(chunk as i32)
        .bind(persons as i32)
        .bind(stats_json)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The summed statistics of the loaded chunks.
pub async fn loaded_stats(pool: &PgPool) -> anyhow::Result<Option<(Scale, u64, Stats)>> {
    let run: Option<(String, String, i64)> =
        sqlx::query_as("SELECT seed::text, scale, persons FROM seed.runs WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    let Some((seed, scale, persons)) = run else {
        return Ok(None);
    };
    let rows: Vec<(serde_json::Value,)> =
        sqlx::query_as("SELECT stats FROM seed.chunks ORDER BY chunk")
            .fetch_all(pool)
            .await?;
    let mut total = Stats::default();
    for (v,) in rows {
        let s: Stats = serde_json::from_value(v).context("chunk statistics")?;
        total.add(&s);
    }
    Ok(Some((
        Scale {
            name: scale,
            persons: persons as u64,
        },
        seed.parse().unwrap_or_default(),
        total,
    )))
}

/// Writes one CSV per category of request keys (a replayable test deck), in chunk order.
pub async fn write_decks(pool: &PgPool, dir: &Path, as_of: NaiveDate) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT stats -> 'samples' FROM seed.chunks WHERE chunk < $1 ORDER BY chunk",
    )
    .bind(FACILITY_CHUNK_BASE as i32)
    .fetch_all(pool)
    .await?;
    let facilities: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM portal.feed_v1 WHERE record ->> 'status' = 'operational' ORDER BY id LIMIT 1000",
    )
    .fetch_all(pool)
    .await?;
    let date = as_of.format("%Y%m%d").to_string();
    let mut files: std::collections::BTreeMap<String, String> = Default::default();
    for (samples,) in rows {
        for s in samples.as_array().into_iter().flatten() {
            let cat = s["category"].as_str().unwrap_or("other").to_string();
            let card = cat == "mynumber_registered";
            let f = files.entry(cat).or_insert_with(|| {
                format!(
                    "insurer_number,symbol,number,branch,birthdate,confirmation_date,expected_validity{}\n",
                    if card { ",card_serial,pin" } else { "" }
                )
            });
            let field = |k: &str| s[k].as_str().unwrap_or("").to_string();
            f.push_str(&format!(
                "{},{},{},{},{},{date},{}",
                field("insurer_number"),
                field("symbol"),
                field("number"),
                field("branch"),
                field("birthdate"),
                field("expected")
            ));
            if card {
                f.push_str(&format!(",{},{}", field("card_serial"), field("pin")));
            }
            f.push('\n');
        }
    }
    let mut fac = String::from("medical_institution_code\n");
    for (code,) in facilities {
        fac.push_str(&code);
        fac.push('\n');
    }
    files.insert("facilities_operational".into(), fac);
    for (name, text) in &files {
        std::fs::write(dir.join(format!("{name}.csv")), text)?;
    }
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_parse_with_clear_errors() {
        assert_eq!(Scale::parse("city").unwrap().persons, 100_000);
        assert_eq!(Scale::parse("2_500").unwrap().persons, 2_500);
        assert!(Scale::parse("0").unwrap_err().contains("at least 1"));
        assert!(Scale::parse("999999999999")
            .unwrap_err()
            .contains("more than"));
        assert!(Scale::parse("village")
            .unwrap_err()
            .contains("unknown scale"));
    }

    #[test]
    fn the_plan_covers_every_person_once() {
        for n in [1u64, 1_000, 100_000, 1_234_567] {
            let p = plan(n);
            assert_eq!(p.iter().map(|c| u64::from(c.persons)).sum::<u64>(), n);
            let mut next = 0;
            for c in &p {
                assert_eq!(c.first_person, next);
                next += u64::from(c.persons);
            }
        }
        let nation = plan(126_146_000);
        assert_eq!(nation.iter().filter(|c| c.pref == 13).count(), 703);
    }

    #[test]
    fn a_chunk_is_deterministic_and_every_record_is_valid() {
        let cat = Catalogue::build();
        let spec = plan(100_000)[3];
        let a = people::generate(42, spec, default_as_of(), &cat);
        let b = people::generate(42, spec, default_as_of(), &cat);
        assert_eq!(a.versions.len(), b.versions.len());
        assert!(a
            .versions
            .iter()
            .zip(&b.versions)
            .all(|(x, y)| x.id == y.id && x.record == y.record));
        let c = people::generate(43, spec, default_as_of(), &cat);
        assert_ne!(a.versions[0].record, c.versions[0].record);
        let mut ids = std::collections::HashSet::new();
        for v in &a.versions {
            let (r, _) =
                onshi_insurer::parse_registration(serde_json::from_str(&v.record).unwrap())
                    .unwrap_or_else(|e| panic!("{e:?}: {}", v.record));
            assert_eq!(r.individual_number().key(), v.id);
            assert!(ids.insert(v.id.clone()), "duplicate id {}", v.id);
        }
        assert_eq!(a.stats.persons, u64::from(spec.persons));
        assert!(a.stats.job_changes > 0 && a.stats.cards > 0 && a.stats.dependants > 0);
        assert!(!a.samples.is_empty());
    }
}
