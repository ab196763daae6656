//! Start-up and shutdown of the `onshi` command itself: a run file left by a crash, a second `up` on a busy
//! address, the operator token's file.

use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use onshi_platform::testkit;

fn onshi(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_onshi"));
    c.arg("--home")
        .arg(home)
        .env_remove("DATABASE_URL")
        .env("ONSHI_LOG", "warn")
        .stdin(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_up_on_a_busy_address_says_so_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let url = testkit::fresh_database_url().await;
    let out = onshi(home.path())
        .args(["up", "--bind", &addr, "--tls-bind", "off"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running at"), "{err}");
    assert!(
        !home.path().join("certs").exists(),
        "no certificate was rewritten"
    );
    assert!(
        !home.path().join("operator-token").exists(),
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_file_left_by_a_crash_is_seen_at_once() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("run")).unwrap();
    // A server that is gone: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        home.path().join("run/database_url"),
        format!("postgres://postgres@127.0.0.1:{port}/onshi"),
    )
    .unwrap();
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let mut c = onshi(home.path());
        c.arg("migrate");
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "took {:?} (a stale run file used to cost 30 s)",
        started.elapsed()
    );
    assert!(
        !home.path().join("run/database_url").exists(),
        "the stale file is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_postgresql_wants_its_password() {
    if std::env::var(onshi_platform::config::env::TEST_DATABASE_URL).is_ok() {
        return; // a server of the user's, not the embedded one
    }
    let url = testkit::fresh_database_url().await;
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (user_part, password) = scheme_user.rsplit_once(':').expect("a password in the URL");
    assert!(!password.is_empty() && !password.ends_with('/'));
    assert!(onshi_platform::db::connect(&url, 1).await.is_ok());
    for wrong in [
        format!("{user_part}@{rest}"),
        format!("{user_part}:guess@{rest}"),
    ] {
        let c = sqlx::postgres::PgConnectOptions::from_str(&wrong).unwrap();
        use sqlx::ConnectOptions;
        assert!(c.connect().await.is_err(), "{wrong} was let in");
    }
}

/// Runs `onshi up --no-demo` with a log format until it answers, stops it, and returns what it logged.
async fn logged(format: Option<&str>) -> String {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = home.path().join("stderr.log");
    let mut c = onshi(home.path());
    c.args(["up", "--no-demo", "--tls-bind", "off", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", testkit::fresh_database_url().await)
        .env("ONSHI_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(f) = format {
        c.env("ONSHI_LOG_FORMAT", f);
    }
    let mut child = c.spawn().unwrap();
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(&addr).is_ok()
            && testkit::http::get(&addr, "/healthz").await.status == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    std::fs::read_to_string(&log).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_have_no_colour_codes_off_a_terminal_and_can_be_json() {
    let text = logged(None).await;
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file:\n{text}"
    );
    let json = logged(Some("json")).await;
    let lines: Vec<&str> = json.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{json}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_onshi"))
        .arg("clock")
        .env("ONSHI_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use text or json"));
}
