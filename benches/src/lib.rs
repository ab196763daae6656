//! Criterion benchmarks of the hot paths (`cargo bench -p onshi-benches`); results and the commands that
//! produced them are recorded in `docs/PERFORMANCE.md`.
//!
//! | bench | what |
//! |---|---|
//! | `siquc01` | one `OQSsiquc01` request: parse → answer → serialize, on the demo registry and on 1,000,000 qualifications |
//! | `seed_load` | the synthetic nation: generate + load 1 M persons against a raw COPY of the same rows |
//! | `reader_flow` | the card-reader flow (place + identify + consent → face XML) over HTTP |
//! | `extraction` | medication extraction against a raw COPY of the same rows |
//! | `checkup` | a 100,000-person checkup submission against a raw COPY of the same rows; `TKKsiquc01` latency |
//! | [`fuzz`] (and `src/bin/fuzz.rs`) | the seeded mutation fuzzer of every parser of outside input |

pub mod fuzz;

use std::path::PathBuf;

use onshi_platform::pg::{Durability, EmbeddedCluster};

/// The PostgreSQL server of a benchmark: `ONSHI_BENCH_DATABASE_URL`, or a private cluster with normal
/// durability in a temporary directory, stopped and removed when dropped.
pub struct BenchServer {
    cluster: Option<EmbeddedCluster>,
    dir: PathBuf,
    pub admin: String,
}

impl BenchServer {
    pub fn start(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("onshi-{tag}-bench-{}", std::process::id()));
        match std::env::var(onshi_platform::config::env::BENCH_DATABASE_URL) {
            Ok(admin) => Self {
                cluster: None,
                dir,
                admin,
            },
            Err(_) => {
                let c =
                    EmbeddedCluster::start(&dir, Durability::Normal).expect("starting PostgreSQL");
                let admin = c.url("postgres");
                Self {
                    cluster: Some(c),
                    dir,
                    admin,
                }
            }
        }
    }

    /// A new database `name` with every service's migrations.
    pub async fn database(&self, name: &str, max: u32) -> sqlx::PgPool {
        onshi_platform::db::create_database(&self.admin, name)
            .await
            .expect("create database");
        let pool =
            onshi_platform::db::connect(&onshi_platform::db::with_database(&self.admin, name), max)
                .await
                .expect("connect");
        onshi::host::migrate(&pool).await.expect("migrate");
        pool
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if self.cluster.take().is_some() {
            let _ = std::fs::remove_dir_all(&self.dir);
            // The cluster's generated password lies beside its directory.
            let _ = std::fs::remove_file(self.dir.with_extension("password"));
        }
    }
}

/// The multi-threaded tokio runtime a benchmark drives its work on.
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The first numeric command-line argument, or `default`.
pub fn count_arg(default: u64) -> u64 {
    std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Every card is a person of its own (benches measure their path, not matching).
pub struct Everyone;

impl onshi_platform::directory::Directory for Everyone {
    fn person(
        &self,
        insurer: &onshi_wire::ids::InsurerNumber,
        _: &onshi_wire::ids::CardSymbol,
        number: &onshi_wire::ids::CardNumber,
        _: Option<&str>,
        birth: Option<onshi_wire::ids::Date>,
    ) -> Option<onshi_platform::directory::PersonRef> {
        Some(onshi_platform::directory::PersonRef {
            qualification_id: format!("{insurer}::{}:00", number.as_str()),
            person_id: format!("bench-{}", number.as_str()),
            name: "試験　太郎".into(),
            kana: None,
            birth: birth.unwrap_or_else(|| onshi_wire::ids::Date::parse("19800101").expect("date")),
            sex: "1".into(),
        })
    }

    fn facility(
        &self,
        _: &str,
        _: Option<&str>,
        _: onshi_wire::ids::Date,
    ) -> (
        onshi_wire::xml::Encoding,
        Result<(), onshi_wire::result_codes::ResultKey>,
    ) {
        (onshi_wire::xml::Encoding::Utf8, Ok(()))
    }
}
