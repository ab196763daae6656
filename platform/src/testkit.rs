//! Test support (feature `testkit`): a fresh database per test, on one PostgreSQL per test run.
//!
//! Unless `ONSHI_TEST_DATABASE_URL` names a server to use, the first test of a run starts one throwaway embedded
//! cluster (the same mechanism as `onshi up`, durability off) and every later test binary of the same run (the
//! same parent process: `cargo test`) finds it through a file in the temporary directory; every call then
//! creates a new database on it. The cluster's watchdog stops it and deletes its files when the run ends.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::PgPool;

use crate::clock::SimClock;
use crate::config::Config;
use crate::db::{self, Migrations};
use crate::http::{Core, Metrics};
use crate::pg::{Durability, EmbeddedCluster};

static SERVER: OnceLock<Mutex<Option<String>>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn admin_url() -> String {
    if let Ok(url) = std::env::var(crate::config::env::TEST_DATABASE_URL) {
        return url;
    }
    let lock = SERVER.get_or_init(|| Mutex::new(None));
    if let Some(url) = lock.lock().expect("lock").clone() {
        return url;
    }
    let url = tokio::task::spawn_blocking(run_cluster)
        .await
        .expect("cluster start task");
    *lock.lock().expect("lock") = Some(url.clone());
    url
}

/// The admin URL of this run's cluster, started by the first test binary of the run (under a file lock).
fn run_cluster() -> String {
    // SAFETY: getppid has no preconditions and cannot fail.
    let run = unsafe { libc::getppid() } as u32;
    let base = std::env::temp_dir().join(format!("onshi-test-pg-run-{run}"));
    // One lock file for every run (held only while a run finds or starts its cluster).
    let lock_path = std::env::temp_dir().join("onshi-test-pg.lock");
    let lock = std::fs::File::create(&lock_path).expect("creating the test cluster's lock file");
    // SAFETY: flock on a file descriptor we own; released when `lock` is closed.
    let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    assert_eq!(locked, 0, "locking {}", lock_path.display());
    // Inside the data directory, so the watchdog removes it with the cluster.
    let url_file = base.join("onshi-test-url");
    if let Ok(url) = std::fs::read_to_string(&url_file) {
        if db::reachable(&url) {
            return url;
        }
    }
    let cluster = EmbeddedCluster::start_watching(&base, Durability::Throwaway, run)
        .expect("starting the embedded PostgreSQL for tests");
    let url = cluster.url("postgres");
    std::fs::write(&url_file, &url).expect("recording the test cluster");
    cluster.detach();
    url
}

/// A new, empty database; returns its URL.
pub async fn fresh_database_url() -> String {
    let admin = admin_url().await;
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    db::create_database(&admin, &name)
        .await
        .expect("creating a test database");
    db::with_database(&admin, &name)
}

/// A fresh database with the clock and the given migrations applied, and a process context on it.
pub async fn core(migrations: &[Migrations], config: Config) -> Core {
    let url = fresh_database_url().await;
    let pool: PgPool = db::connect(&url, 10).await.expect("connect");
    db::CLOCK.apply(&pool).await.expect("clock migrations");
    for m in migrations {
        m.apply(&pool).await.expect("migrations");
    }
    let clock = SimClock::connect(&pool).await.expect("clock");
    Core {
        pool,
        clock,
        metrics: Metrics::new(),
        config: Arc::new(config),
        tasks: Default::default(),
        usage: Default::default(),
    }
}

/// [`core`] with the simulated clock set to `now` (`YYYY-MM-DDTHH:MM:SS`).
pub async fn core_at(migrations: &[Migrations], now: &str) -> Core {
    let core = core(migrations, Config::default()).await;
    let at = crate::clock::parse_time(now).expect("a test time");
    core.clock.set(at).await.expect("setting the clock");
    core
}

/// An actix test service of one service's routes: `test_app!(data, configure)` with the service's app data.
#[macro_export]
macro_rules! test_app {
    ($data:expr, $configure:path) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .app_data(actix_web::web::Data::new($data.clone()))
                .configure($configure),
        )
        .await
    };
}

/// Calls a [`test_app!`] with a `TestRequest`: `test_call!(app, TestRequest::get().uri(…))` → (status, JSON).
#[macro_export]
macro_rules! test_call {
    ($app:expr, $req:expr) => {
        $crate::testkit::call_json(&$app, $req.to_request()).await
    };
}

/// Calls an actix service under test (`actix_web::test::init_service`) with one request; returns the status and
/// the JSON body (`Null` when the body is not JSON).
pub async fn call_json<S, R, B, E>(app: &S, req: R) -> (u16, serde_json::Value)
where
    S: actix_web::dev::Service<R, Response = actix_web::dev::ServiceResponse<B>, Error = E>,
    B: actix_web::body::MessageBody,
    E: std::fmt::Debug,
{
    let resp = actix_web::test::call_service(app, req).await;
    let status = resp.status().as_u16();
    let body = actix_web::test::read_body(resp).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A minimal HTTP/1.1 client for tests (one request per connection, `Connection: close`).
pub mod http {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A response: status, headers (lower-case names) and body.
    #[derive(Debug, Clone)]
    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
        }
    }

    /// Sends one request to `addr` (host:port).
    pub async fn send(
        addr: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.expect("write");
        s.write_all(body).await.expect("write body");
        // Read until the response is complete (a server may keep the socket open a moment after answering
        // without reading a body it refused), or until it closes.
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = s.read(&mut buf).await.expect("read");
            raw.extend_from_slice(&buf[..n]);
            if n == 0 || is_complete(&raw) {
                break;
            }
        }
        parse_reply(&raw).expect("an HTTP response")
    }

    /// Whether `raw` holds a whole response: its head and a body of its `Content-Length` (or the last chunk).
    pub fn is_complete(raw: &[u8]) -> bool {
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let body = &raw[split + 4..];
        if head.contains("transfer-encoding: chunked") {
            return body.ends_with(b"0\r\n\r\n");
        }
        head.lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .is_some_and(|len| body.len() >= len)
    }

    /// Parses a whole HTTP/1.1 response.
    pub fn parse_reply(raw: &[u8]) -> Option<Reply> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        if chunked {
            body = dechunk(&body);
        }
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    fn dechunk(mut b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
                return out;
            };
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&b[..eol])
                    .split(';')
                    .next()
                    .unwrap_or("0")
                    .trim(),
                16,
            )
            .unwrap_or(0);
            if size == 0 {
                return out;
            }
            out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
            b = &b[eol + 2 + size + 2..];
        }
    }

    pub async fn get(addr: &str, path: &str) -> Reply {
        send(addr, "GET", path, &[], b"").await
    }

    pub async fn post_json(addr: &str, path: &str, body: &serde_json::Value) -> Reply {
        send(
            addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }
}

/// A blocking HTTPS client for tests (real TLS handshakes with rustls), one request per connection.
pub mod https {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use super::http::Reply;

    /// Sends one request over TLS; `Err` when the handshake or the connection fails.
    pub async fn send(
        addr: &str,
        ca_pem: &str,
        cert: Option<(String, String)>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let (addr, ca_pem, method, path, body) = (
            addr.to_string(),
            ca_pem.to_string(),
            method.to_string(),
            path.to_string(),
            body.to_vec(),
        );
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let cert = cert.as_ref().map(|(c, k)| (c.as_str(), k.as_str()));
            let config = crate::pki::client_config(&ca_pem, cert).map_err(|e| e.to_string())?;
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
            let sock = std::net::TcpStream::connect(&addr).map_err(|e| e.to_string())?;
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut head = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
                body.len()
            );
            for (n, v) in &headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            tls.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            tls.write_all(&body).map_err(|e| e.to_string())?;
            let mut raw = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            loop {
                match tls.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        raw.extend_from_slice(&buf[..n]);
                        if super::http::is_complete(&raw) {
                            break;
                        }
                    }
                    // The server may close without close_notify after the response.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
            super::http::parse_reply(&raw).ok_or_else(|| "no HTTP response".to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
