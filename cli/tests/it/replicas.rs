//! Read scale on an existing engine: a PostgreSQL primary and a streaming replica made here with the installed
//! binaries (`initdb`, `pg_basebackup -R`), two eligibility processes reading the change feeds from the replica
//! (`--feed-replica-url`; the watermark and NOTIFY stay on the primary), behind a real HAProxy. The test shows that
//! a registration on the primary is answered by both processes and through the balancer, and that the rows do come
//! from the replica: with the replica's replay paused the processes do not see the registration, and see it once
//! the replay resumes. `measure` (ignored; run it with `--ignored --nocapture` and `ONSHI_BIN` pointing at a
//! release binary) records the staleness p99 and the throughput of two processes behind the balancer against one
//! (docs/PERFORMANCE.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onshi_platform::db;
use onshi_platform::pg::{Durability, EmbeddedCluster};
use onshi_platform::testkit::http;

use crate::app::{free_port, wait_ready};

fn binary() -> PathBuf {
    std::env::var_os("ONSHI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_onshi")))
}

/// Primary, replica, the insurer, two replica-fed eligibility processes and HAProxy in front of them.
struct Topology {
    dir: tempfile::TempDir,
    primary: EmbeddedCluster,
    replica: EmbeddedCluster,
    insurer: String,
    eligibility: [String; 2],
    balancer: String,
    /// The same balancer in front of the first process only (what the balancer itself costs).
    single: String,
    children: Vec<Child>,
}

impl Topology {
    async fn start() -> Topology {
        let dir = tempfile::tempdir().unwrap();
        // The cluster's OS user must reach the data directories.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let primary =
            EmbeddedCluster::start(&dir.path().join("primary"), Durability::Normal).unwrap();
        db::create_database(&primary.url("postgres"), "onshi")
            .await
            .unwrap();
        let replica = EmbeddedCluster::replica_of(
            &primary,
            &dir.path().join("replica"),
            Durability::Throwaway,
        )
        .unwrap();
        let (primary_url, replica_url) = (primary.url("onshi"), replica.url("onshi"));
        let home = dir.path().join("home");
        let onshi = |args: &[&str]| {
            let mut c = Command::new(binary());
            c.arg("--home")
                .arg(&home)
                .env("DATABASE_URL", &primary_url)
                .env("ONSHI_LOG", "warn")
                .env("ONSHI_JOURNAL", "off")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            c
        };
        let out = onshi(&["demo"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let addr = || format!("127.0.0.1:{}", free_port());
        let (insurer, e1, e2, balancer, single) = (addr(), addr(), addr(), addr(), addr());
        let mut children =
            vec![
                onshi(&["serve", "insurer", "--bind", &insurer, "--tls-bind", "off"])
                    .spawn()
                    .unwrap(),
            ];
        for (i, e) in [&e1, &e2].into_iter().enumerate() {
            let folders = dir.path().join(format!("folders-{i}"));
            children.push(
                onshi(&["serve", "eligibility", "--bind", e, "--tls-bind", "off"])
                    .arg("--folders")
                    .arg(&folders)
                    .args(["--feed-replica-url", &replica_url])
                    .spawn()
                    .unwrap(),
            );
        }
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  \
                 timeout server 60s\n  option http-keep-alive\nfrontend onshi\n  bind {balancer}\n  \
                 default_backend eligibility\nbackend eligibility\n  balance roundrobin\n  option httpchk GET /ready\n  \
                 server e1 {e1} check inter 500ms\n  server e2 {e2} check inter 500ms\n\
                 frontend single\n  bind {single}\n  default_backend first\nbackend first\n  \
                 option httpchk GET /ready\n  server e1 {e1} check inter 500ms\n"
            ),
        )
        .unwrap();
        children.push(
            Command::new("haproxy")
                .arg("-f")
                .arg(&cfg)
                .arg("-db")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("haproxy (installed by .ci/run)"),
        );
        let mut t = Topology {
            dir,
            primary,
            replica,
            insurer,
            eligibility: [e1, e2],
            balancer,
            single,
            children,
        };
        // The children are in the same order: insurer, the two eligibility processes, HAProxy.
        let addrs = [
            t.insurer.clone(),
            t.eligibility[0].clone(),
            t.eligibility[1].clone(),
            t.balancer.clone(),
        ];
        for (a, child) in addrs.iter().zip(&mut t.children) {
            wait_ready(a, child).await;
        }
        t
    }

    async fn replay(&self, run: bool) {
        let pool = db::connect(&self.replica.url("onshi"), 1).await.unwrap();
        let f = if run {
            "pg_wal_replay_resume"
        } else {
            "pg_wal_replay_pause"
        };
        sqlx::query(&format!("SELECT {f}()"))
            .execute(&pool)
            .await
            .unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for c in &mut self.children {
            // SAFETY: sends SIGINT to a child this value started.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let _ = c.wait();
        }
        let _ = (&self.primary, self.path());
    }
}

pub(crate) fn person(n: u32) -> serde_json::Value {
    serde_json::json!({
        "person_id": format!("rp-{n}"), "insurer_number": "01130012", "insurer_name": "全国健康保険協会東京支部",
        "card_classification": "01", "symbol": "8888", "number": n.to_string(), "branch": "00",
        "personal_family": "1", "name": "複製　太郎", "name_kana": "ﾌｸｾｲ ﾀﾛｳ", "sex": "1", "birth_date": "19800101",
        "address": "東京都千代田区一番町", "qualification_date": "20240401"
    })
}

pub(crate) fn query(n: u32) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
<QualificationConfirmationDate>20261120</QualificationConfirmationDate><MedicalInstitutionCode>1310112345</MedicalInstitutionCode>
</MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>01130012</InsurerNumber>
<InsuredCardSymbol>8888</InsuredCardSymbol><InsuredIdentificationNumber>{n}</InsuredIdentificationNumber>
<Birthdate>19800101</Birthdate><LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#
    )
    .into_bytes()
}

pub(crate) async fn validity(addr: &str, n: u32) -> String {
    let r = http::send(
        addr,
        "POST",
        "/oqs/v1/req/OQSsiquc01req_r.xml",
        &[],
        &query(n),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let at = text.find("<QualificationValidity>").expect("a validity");
    text[at + 23..at + 24].to_string()
}

async fn register(t: &Topology, n: u32) {
    let r = http::post_json(&t.insurer, "/insurer/v1/qualifications", &person(n)).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// Polls until `addr` answers `n` valid; the time it took.
async fn until_valid(addr: &str, n: u32, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if validity(addr, n).await == "1" {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_eligibility_processes_fed_by_a_streaming_replica_answer_behind_haproxy() {
    let t = Topology::start().await;
    // A registration on the primary reaches both processes through the replica, and the balancer.
    register(&t, 1).await;
    for addr in [&t.eligibility[0], &t.eligibility[1], &t.balancer] {
        assert!(
            until_valid(addr, 1, Duration::from_secs(10))
                .await
                .is_some(),
            "{addr}"
        );
    }
    // The rows come from the replica: with its replay paused, a new registration stays unseen …
    t.replay(false).await;
    register(&t, 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for addr in &t.eligibility {
        assert_eq!(validity(addr, 2).await, "4", "not yet replayed: {addr}");
    }
    // … and is answered once it resumes.
    t.replay(true).await;
    for addr in &t.eligibility {
        assert!(
            until_valid(addr, 2, Duration::from_secs(10))
                .await
                .is_some(),
            "{addr}"
        );
    }
    // The balancer spreads the answers over both processes.
    for n in 0..20 {
        assert_eq!(validity(&t.balancer, 1 + n % 2).await, "1");
    }
    for addr in &t.eligibility {
        let metrics = http::get(addr, "/metrics").await.text();
        let answered: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("onshi_messages_total{") && l.contains("OQSsiquc01"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        assert!(answered >= 10.0, "{addr} answered {answered}");
    }
}

/// Staleness from a registration on the primary to an answer from a replica-fed process (p50/p99 over 200), and
/// the throughput of one process against two behind HAProxy (wrk, same run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo test -p onshi --test it replicas::measure -- --ignored --nocapture"]
async fn measure() {
    let t = Topology::start().await;
    let mut lags = Vec::new();
    for n in 1000..1200 {
        let started = Instant::now();
        register(&t, n).await;
        let target = &t.eligibility[(n % 2) as usize];
        until_valid(target, n, Duration::from_secs(30))
            .await
            .expect("answered");
        lags.push(started.elapsed());
    }
    lags.sort();
    let p = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)];
    println!(
        "staleness (registration on the primary → answer from a replica-fed process, incl. the registration's own \
         round trip): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {}",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lags.last().unwrap().as_secs_f64() * 1e3,
        lags.len()
    );
    let script = t.path().join("post.lua");
    let body = t.path().join("body.xml");
    std::fs::write(&body, query(1000)).unwrap();
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = io.open(\"{}\"):read(\"*a\")\n",
            body.display()
        ),
    )
    .unwrap();
    let wrk = |addr: &str| {
        let out = Command::new("wrk")
            .args(["-t1", "-c64", "-d10s", "-s"])
            .arg(&script)
            .arg(format!("http://{addr}/oqs/v1/req/OQSsiquc01req_r.xml"))
            .output()
            .expect("wrk");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let rate = text
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .unwrap_or(0.0);
        assert!(!text.contains("Non-2xx"), "{text}");
        rate
    };
    for round in 1..=3 {
        let direct = wrk(&t.eligibility[0]);
        let one = wrk(&t.single);
        let two = wrk(&t.balancer);
        println!(
            "round {round}: one process direct {direct:.0} req/s; behind HAProxy: one {one:.0} req/s, two {two:.0} \
             req/s; two ÷ one (both behind HAProxy) {:.2}, two behind HAProxy ÷ one direct {:.2}",
            two / one,
            two / direct
        );
    }
}
