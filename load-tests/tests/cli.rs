//! `onshi-load` as a user runs it, against the real `hello` server on a random port: a passing run writes its JSON
//! and HTML reports; a breached threshold exits 1; a late-sending target and a configuration the machine cannot
//! run are said so (exit 1 and 2).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Hello {
    child: Child,
    url: String,
}

impl Hello {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hello"))
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("hello starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("hello: ")
            .expect("its address")
            .to_string();
        Self { child, url }
    }
}

impl Drop for Hello {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn load(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_onshi-load"))
        .args(args)
        .output()
        .expect("onshi-load runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_run_reports_json_and_html_and_thresholds_decide_the_exit_status() {
    let hello = Hello::start();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let html = dir.path().join("r.html");
    let common = [
        "--target",
        &hello.url,
        "--mix",
        "hello",
        "--rate",
        "400",
        "--duration",
        "2s",
        "--connections",
        "4",
        "--allow-late",
        "0.05",
    ];
    let mut args = common.to_vec();
    args.extend([
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let (code, stdout, stderr) = load(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("PASSED"), "{stdout}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["model"], "open");
    assert_eq!(r["totals"]["scheduled"], 800);
    assert_eq!(r["ops"]["hello"]["count"], 800);
    assert_eq!(r["ops"]["hello"]["ok"], 800);
    assert!(r["ops"]["hello"]["latency_us"]["p99"].as_u64().unwrap() > 0);
    assert!(r["seconds"].as_array().unwrap().len() >= 2);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Percentile spectrum"));
    assert!(!page.contains("<script"), "self-contained, no scripts");

    // An impossible latency limit: the run fails with exit status 1 and says which check.
    let limits = dir.path().join("t.json");
    std::fs::write(
        &limits,
        r#"{"latency_ms":{"p50":0.000001},"ops":{"hello":{"error_rate":0}}}"#,
    )
    .unwrap();
    let mut args = common.to_vec();
    args.extend(["--thresholds", limits.to_str().unwrap()]);
    let (code, stdout, _) = load(&args);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL all p50 latency (ms)"), "{stdout}");
    assert!(
        stdout.contains("pass hello failures per operation"),
        "{stdout}"
    );

    // The closed model says that it hides latency.
    let (code, stdout, _) = load(&[
        "--target",
        &hello.url,
        "--mix",
        "hello",
        "--closed",
        "--duration",
        "1s",
        "--connections",
        "2",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("CLOSED MODEL"), "{stdout}");
}

#[test]
fn what_cannot_be_run_or_met_is_said_so() {
    let hello = Hello::start();
    // Far more than one connection can carry: refused before it starts.
    let (code, _, stderr) = load(&[
        "--target",
        &hello.url,
        "--mix",
        "hello",
        "--rate",
        "1000000",
        "--connections",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("per connection"), "{stderr}");
    // A thresholds file with an unknown operation, and a mix that is not one.
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.json");
    std::fs::write(&t, r#"{"ops":{"fax":{}}}"#).unwrap();
    let (code, _, stderr) = load(&["--target", &hello.url, "--thresholds", t.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("\"fax\" is not an operation"), "{stderr}");
    let (code, _, stderr) = load(&["--target", &hello.url, "--mix", "fax"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not an operation"), "{stderr}");
    // Nothing listening: said before the run.
    let (code, _, stderr) = load(&[
        "--target",
        "http://127.0.0.1:9",
        "--mix",
        "hello",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot connect"), "{stderr}");
    // 100,000/s over one connection: sends fall behind; the run says where the limit is and fails.
    let (code, stdout, _) = load(&[
        "--target",
        &hello.url,
        "--mix",
        "hello",
        "--rate",
        "100000",
        "--duration",
        "2s",
        "--connections",
        "1",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("SATURATED"), "{stdout}");
    assert!(
        stdout.contains("FAIL late or unsent sends per arrival"),
        "{stdout}"
    );
    // A step profile looks for that limit: it stops there, names the highest step held, and passes. (The second
    // step, 200,000/s — the most one connection may be asked — is far enough beyond the server that its sends fall
    // more than a second behind within the step even on a fast machine: at 100,000/s a server answering 50,000/s
    // on a loaded one fell behind by barely a second, and the run sometimes ended first.)
    let (code, stdout, _) = load(&[
        "--target",
        &hello.url,
        "--mix",
        "hello",
        "--profile",
        "step",
        "--from",
        "100",
        "--step",
        "199900",
        "--rate",
        "200000",
        "--every",
        "2s",
        "--connections",
        "1",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("SATURATED"), "{stdout}");
    assert!(
        stdout.contains("highest step held without saturation: 100/s"),
        "{stdout}"
    );
}
