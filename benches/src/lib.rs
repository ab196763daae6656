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
//! | `bulk` | 一括照会 of 10,000 and 100,000 persons: upload → receipt → all results ready → download |
//! | [`fuzz`] (and `src/bin/fuzz.rs`) | the seeded mutation fuzzer of every parser of outside input |

pub mod fuzz;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

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

/// A memory figure of this process from `/proc/self/status` (`VmRSS`, `VmHWM`, …), in MiB.
pub fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<f64>().ok())
                })
        })
        .map_or(0.0, |kib| kib / 1024.0)
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
    fn person<'a>(
        &'a self,
        card: &'a onshi_platform::directory::CardQuery,
    ) -> onshi_platform::directory::Answer<'a, Option<onshi_platform::directory::PersonRef>> {
        let number = card.number.as_str();
        let found = onshi_platform::directory::PersonRef {
            qualification_id: format!("{}::{number}:00", card.insurer),
            person_id: format!("bench-{number}"),
            name: "試験　太郎".into(),
            kana: None,
            birth: card
                .birth
                .unwrap_or_else(|| onshi_wire::ids::Date::parse("19800101").expect("date")),
            sex: "1".into(),
        };
        Box::pin(async move { Ok(Some(found)) })
    }

    fn facility<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: onshi_wire::ids::Date,
    ) -> onshi_platform::directory::Answer<'a, onshi_platform::directory::FacilityCheck> {
        Box::pin(async {
            Ok(onshi_platform::directory::FacilityCheck {
                encoding: onshi_wire::xml::Encoding::Utf8,
                refused: None,
            })
        })
    }

    fn qualification_only<'a>(&'a self, _: &'a str) -> onshi_platform::directory::Answer<'a, bool> {
        Box::pin(async { Ok(false) })
    }
}

/// One HTTP/1.1 keep-alive connection of a benchmark client.
pub struct Conn {
    r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    pub async fn open(addr: &str) -> Self {
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let (r, w) = s.into_split();
        Self {
            r: BufReader::new(r),
            w,
        }
    }

    /// POSTs `body`; returns the status and the body of the answer.
    pub async fn post(&mut self, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.w.write_all(head.as_bytes()).await.unwrap();
        // A server that refuses the body answers before reading it all: its answer is read all the same.
        if let Err(e) = self.w.write_all(body).await {
            eprintln!("the server stopped reading the body: {e}");
        }
        let mut line = String::new();
        self.r.read_line(&mut line).await.unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut len = 0;
        loop {
            line.clear();
            self.r.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut buf = vec![0; len];
        self.r.read_exact(&mut buf).await.unwrap();
        (status, buf)
    }
}
