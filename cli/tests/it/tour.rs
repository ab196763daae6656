//! The README's tour and the conformance kit, run as written: every `sh` block of "A 5-minute tour" (and of
//! `docs/CONFORMANCE.md`), in order, with bash and curl against a fresh `onshi up` (the real binary, on a fresh
//! database), from a working directory holding `seed/`; then every ready request of `seed/demo/requests/` is
//! answered. What is changed: the ports (free ones, not 8080/8443), `cargo run --release --` (the binary under test),
//! `up` in a block (the simulator is restarted in the background) and `--scale city` (`demo`, to keep the suite
//! fast).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use onshi_platform::testkit;

use crate::app::{free_port, wait_ready};

/// What each block's output must show, in order (a README change that breaks a block fails here).
const EXPECTED: &[&str] = &[
    "<QualificationValidity>1</QualificationValidity>",
    "<QualificationValidity>3</QualificationValidity>",
    "<QualificationValidity>1</QualificationValidity>",
    "ResultOfQualificationConfirmation",
    "<SegmentOfResult>1</SegmentOfResult>",
    "OQSsiquc01res_face_1310112345",
    "<DrugC>610406079</DrugC>",
    "9N501000000000011",
    "\"op\":\"register\"",
    "expected",
    "PASS job_changer",
];

/// The `sh` blocks of a document, or of one of its sections.
fn sh_blocks(doc: &str, section: Option<&str>) -> Vec<String> {
    let start = section.map_or(0, |s| doc.find(s).expect("the section"));
    let end = match section {
        Some(_) => doc[start..].find("\n## ").map_or(doc.len(), |e| start + e),
        None => doc.len(),
    };
    let mut blocks = Vec::new();
    let mut rest = &doc[start..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").expect("a closed block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 3..];
    }
    blocks
}

struct Simulator {
    work: PathBuf,
    url: String,
    http: u16,
    tls: u16,
    child: Option<Child>,
}

impl Simulator {
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_onshi"));
        c.current_dir(&self.work)
            .env("DATABASE_URL", &self.url)
            .env("ONSHI_LOG", "warn")
            .stdin(Stdio::null());
        c
    }

    async fn start(&mut self) {
        let child = self
            .command()
            .args(["--home", ".onshi", "up", "--bind"])
            .arg(format!("127.0.0.1:{}", self.http))
            .arg("--tls-bind")
            .arg(format!("127.0.0.1:{}", self.tls))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = self.child.insert(child);
        wait_ready(&format!("127.0.0.1:{}", self.http), child).await;
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: sends SIGINT to the child this value started.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }

    /// A block as the test runs it.
    fn rewrite(&self, block: &str) -> String {
        let bin = env!("CARGO_BIN_EXE_onshi");
        block
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{}", self.http))
            .replace("localhost:8443", &format!("localhost:{}", self.tls))
            .replace("cargo run --release --", &format!("{bin} --home .onshi"))
            .replace("--scale city", "--scale demo")
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_readme_tour_and_the_conformance_kit_works_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let tour = sh_blocks(&readme, Some("## A 5-minute tour"));
    assert_eq!(tour.len(), EXPECTED.len(), "one expectation per tour block");
    let kit = std::fs::read_to_string(repo().join("docs/CONFORMANCE.md")).unwrap();
    let kit = sh_blocks(&kit, None);
    let kit_expected = [
        "<ProcessingResultStatus>1</ProcessingResultStatus>",
        "<NumberOfProcessingResult>7</NumberOfProcessingResult>",
    ];
    assert_eq!(
        kit.len(),
        kit_expected.len(),
        "one expectation per kit block"
    );
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo().join("seed"), work.path().join("seed")).unwrap();
    let mut sim = Simulator {
        work: work.path().to_path_buf(),
        url: testkit::fresh_database_url().await,
        http: free_port(),
        tls: free_port(),
        child: None,
    };
    sim.start().await;
    let blocks = tour.iter().zip(EXPECTED.iter().copied());
    let blocks = blocks.chain(kit.iter().zip(kit_expected));
    for (n, (block, expected)) in blocks.enumerate() {
        let output = run_block(&mut sim, block, n).await;
        assert!(
            output.contains(expected),
            "block {} should show {expected:?}:\n{block}\n--- output ---\n{output}",
            n + 1
        );
    }
    // Every ready request is answered (a response file, never an error page).
    let addr = format!("127.0.0.1:{}", sim.http);
    for entry in std::fs::read_dir(repo().join("seed/demo/requests")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let body = std::fs::read(&path).unwrap();
        let r =
            testkit::http::send(&addr, "POST", &format!("/oqs/v1/req/{name}"), &[], &body).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let answer = onshi_wire::xml::parse(&r.body, &Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(answer.root.child("MessageHeader").is_some(), "{name}");
    }
    sim.stop();
}

/// Runs one block: whole, or line by line where it restarts the simulator.
async fn run_block(sim: &mut Simulator, block: &str, n: usize) -> String {
    let bin = env!("CARGO_BIN_EXE_onshi");
    let mut output = String::new();
    let mut script = String::new();
    for line in sim.rewrite(block).lines() {
        if line.trim().starts_with(&format!("{bin} --home .onshi up")) {
            output.push_str(&run(sim, &script, n));
            script.clear();
            sim.stop();
            sim.start().await;
            continue;
        }
        if line.contains(&format!("{bin} --home .onshi seed")) {
            // The seed loads into a stopped simulator's database, as the README says.
            sim.stop();
        }
        script.push_str(line);
        script.push('\n');
    }
    output.push_str(&run(sim, &script, n));
    output
}

/// Runs a script with bash in the working directory; fails the test with its output when it fails.
fn run(sim: &Simulator, script: &str, n: usize) -> String {
    if script.trim().is_empty() {
        return String::new();
    }
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(&sim.work)
        .env("DATABASE_URL", &sim.url)
        .env("ONSHI_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "tour block {} failed:\n{script}\n--- output ---\n{text}",
        n + 1
    );
    text
}
