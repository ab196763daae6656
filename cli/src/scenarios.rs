//! Scenarios: named training and test stories as data files (`scenarios/*.json`, embedded; more from the directory
//! `ONSHI_SCENARIOS` names). Each sets the stage — the demo state back (`reset`), the clock, forced outcomes and
//! fault rules — and lists its steps with the answers expected. The stage is set by the running simulator
//! (`POST /admin/v1/scenarios/{name}/setup`); the steps are performed from outside, as a vendor's software or a
//! trainee would, through real HTTP and real files ([`check`]): `onshi scenario check NAME` reports pass/fail and
//! exits non-zero on a failure, so it can run in a vendor's CI. `docs/SCENARIOS.md` describes the format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use onshi_platform::control::{self, faults::FaultSpec, ForcedSpec};
use onshi_platform::http::{ApiError, Core};
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_wire::xml::Element;

use crate::remote::Remote;
use crate::snapshots::{Snapshots, DEMO};

/// The scenarios shipped with onshi.
const EMBEDDED: &[&str] = &[
    include_str!("../../scenarios/job_changer.json"),
    include_str!("../../scenarios/locked_card.json"),
    include_str!("../../scenarios/no_consent.json"),
    include_str!("../../scenarios/medication_on_the_11th.json"),
    include_str!("../../scenarios/bulk_overnight.json"),
    include_str!("../../scenarios/disaster.json"),
    include_str!("../../scenarios/maintenance.json"),
];

/// A directory of further scenario files (`*.json`), read by the simulator.
pub const ENV_DIR: &str = "ONSHI_SCENARIOS";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// `a-z`, `0-9`, `_`.
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    pub description: String,
    #[serde(default)]
    pub setup: Setup,
    pub steps: Vec<Step>,
}

/// The stage: every rule of the controls is removed first, then these are set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Return to the demo state first (the `demo` snapshot).
    #[serde(default)]
    pub reset: bool,
    /// Set the simulated clock (and freeze it, unless `running`).
    #[serde(default)]
    pub clock: Option<String>,
    #[serde(default)]
    pub running: bool,
    #[serde(default)]
    pub forced: Vec<ForcedSpec>,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
}

/// One step: exactly one of `file`, `http`, `clock`, `answer`, `wait_ms`; then the expectations and the values
/// saved for later steps (`${name}` in later paths and bodies).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step shows (for the trainee and the report).
    pub say: String,
    #[serde(default)]
    pub file: Option<FileStep>,
    #[serde(default)]
    pub http: Option<HttpStep>,
    #[serde(default)]
    pub clock: Option<Value>,
    /// Wait for an answer file of an earlier `file` step sent with `"wait": false`.
    #[serde(default)]
    pub answer: Option<AnswerStep>,
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// `status` (HTTP), an element path of the XML answer (`MessageBody/QualificationValidity`) or a JSON pointer
    /// (`/next`): a string or number must equal the value, `true` means present, `null` absent.
    #[serde(default)]
    pub expect: BTreeMap<String, Value>,
    /// Values to keep: name → element path or JSON pointer of the answer.
    #[serde(default)]
    pub save: BTreeMap<String, String>,
    /// Repeat the step until its expectations hold (polling), at most this many times, 100 ms apart.
    #[serde(default)]
    pub retry: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStep {
    /// A demo file (`requests/OQSsiquc01req_ito_old.xml`), or `name` with inline `xml`.
    #[serde(default)]
    pub demo: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub xml: Option<String>,
    /// Text replaced in the file first (e.g. another facility's code).
    #[serde(default)]
    pub replace: BTreeMap<String, String>,
    /// `http` (default) or `folder`.
    #[serde(default)]
    pub via: Option<String>,
    /// The folder's facility (default: the file's `MedicalInstitutionCode`).
    #[serde(default)]
    pub facility: Option<String>,
    /// For `folder`: wait for the answer (default true).
    #[serde(default)]
    pub wait: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub body: Option<Value>,
    /// A demo file sent as the body (`claims/RECEIPTC_1310112345_202611.UKE`).
    #[serde(default)]
    pub body_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerStep {
    pub facility: String,
    /// The answer file's name in `res/`.
    pub name: String,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let s: Scenario = serde_json::from_str(text).map_err(|e| e.to_string())?;
        onshi_platform::snapshot::check_name(&s.name).map_err(|e| e.to_string())?;
        for (i, step) in s.steps.iter().enumerate() {
            let kinds = [
                step.file.is_some(),
                step.http.is_some(),
                step.clock.is_some(),
                step.answer.is_some(),
                step.wait_ms.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                return Err(format!(
                    "{}: step {}: exactly one of file, http, clock, answer, wait_ms",
                    s.name,
                    i + 1
                ));
            }
            if let Some(f) = &step.file {
                if f.demo.is_some() == f.xml.is_some() || f.xml.is_some() != f.name.is_some() {
                    return Err(format!(
                        "{}: step {}: a file is demo, or name with xml",
                        s.name,
                        i + 1
                    ));
                }
                if let Some(d) = &f.demo {
                    onshi_seed::demo::file(d)
                        .ok_or_else(|| format!("{}: step {}: no demo file {d:?}", s.name, i + 1))?;
                }
            }
        }
        for f in &s.setup.forced {
            f.clone()
                .check()
                .map_err(|e| format!("{}: forced: {e}", s.name))?;
        }
        for f in &s.setup.faults {
            f.clone()
                .check()
                .map_err(|e| format!("{}: faults: {e}", s.name))?;
        }
        Ok(s)
    }
}

/// Every scenario: the embedded ones, then those of `ONSHI_SCENARIOS` (a file there replaces an embedded one of
/// the same name).
pub fn all() -> Result<Vec<Scenario>, String> {
    let mut out: Vec<Scenario> = EMBEDDED
        .iter()
        .map(|t| Scenario::parse(t))
        .collect::<Result<_, _>>()?;
    if let Ok(dir) = std::env::var(ENV_DIR) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{ENV_DIR}={dir}: {e}"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let s = Scenario::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?;
            out.retain(|o| o.name != s.name);
            out.push(s);
        }
    }
    Ok(out)
}

/// Sets the stage of a scenario in this process.
pub async fn setup(snapshots: &Snapshots, s: &Scenario) -> Result<(), ApiError> {
    let core: &Core = &snapshots.core;
    if s.setup.reset {
        snapshots.restore(DEMO).await.map_err(|e| match e {
            onshi_platform::snapshot::SnapshotError::NotFound(_) => ApiError::Conflict(
                "this scenario starts from the demo state, which onshi up saves (not onshi serve)"
                    .into(),
            ),
            other => ApiError::Internal(other.into()),
        })?;
    }
    control::remove_forced(&core.pool, None).await?;
    control::remove_fault(&core.pool, None).await?;
    if let Some(t) = &s.setup.clock {
        let at = onshi_platform::clock::parse_clock_time(t).map_err(ApiError::bad)?;
        core.clock.set(at).await?;
        core.clock.set_frozen(!s.setup.running).await?;
    }
    for f in &s.setup.forced {
        control::add_forced(&core.pool, f.clone()).await?;
    }
    for f in &s.setup.faults {
        control::put_fault(&core.pool, None, f.clone()).await?;
    }
    snapshots.controls.reload().await?;
    tracing::info!(scenario = %s.name, "scenario: the stage is set");
    Ok(())
}

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: usize,
    pub say: String,
    pub passed: bool,
    pub failures: Vec<String>,
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub passed: bool,
    pub steps: Vec<StepReport>,
}

/// An answer as the expectations read it.
enum Answer {
    Xml(Element),
    Json(Value),
    Other,
}

impl Answer {
    fn of(body: &[u8]) -> Self {
        if let Ok(doc) = onshi_wire::xml::parse(body, &Default::default()) {
            return Self::Xml(doc.root);
        }
        match serde_json::from_slice(body) {
            Ok(v) => Self::Json(v),
            Err(_) => Self::Other,
        }
    }

    /// The value at an element path (`A/B`) or a JSON pointer (`/a/b`), as text.
    fn value(&self, path: &str) -> Option<String> {
        match self {
            Self::Xml(root) => {
                let mut e = root;
                for name in path.split('/') {
                    e = e.child(name)?;
                }
                Some(e.text.clone())
            }
            Self::Json(v) => v.pointer(path).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            Self::Other => None,
        }
    }
}

/// Replaces `${name}` with saved values.
fn fill(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

/// A scenario being performed step by step: the values saved so far and the next step.
#[derive(Debug, Clone)]
pub struct Run {
    pub scenario: Scenario,
    vars: BTreeMap<String, String>,
    /// The index of the next step; `failed` stops the run.
    next: usize,
    failed: bool,
}

impl Run {
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            vars: BTreeMap::new(),
            next: 0,
            failed: false,
        }
    }

    /// Whether every step was performed, or one failed.
    pub fn finished(&self) -> bool {
        self.failed || self.next >= self.scenario.steps.len()
    }

    /// Performs the next step (`None` when finished) against a running simulator whose folder root is `folders`.
    pub fn step(&mut self, remote: &Remote, folders: &Path) -> Option<StepReport> {
        if self.finished() {
            return None;
        }
        let step = &self.scenario.steps[self.next];
        let mut tries = step.retry.unwrap_or(1).max(1);
        let failures = loop {
            let failures = match perform(step, remote, folders, &self.vars) {
                Ok((status, answer)) => {
                    let mut failures = expectations(step, status, &answer);
                    if failures.is_empty() {
                        for (name, path) in &step.save {
                            match answer.value(path) {
                                Some(v) => {
                                    self.vars.insert(name.clone(), v);
                                }
                                None => {
                                    failures.push(format!("nothing at {path} to save as {name}"))
                                }
                            }
                        }
                    }
                    failures
                }
                Err(e) => vec![e],
            };
            tries -= 1;
            if failures.is_empty() || tries == 0 {
                break failures;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        self.next += 1;
        self.failed = !failures.is_empty();
        Some(StepReport {
            step: self.next,
            say: step.say.clone(),
            passed: failures.is_empty(),
            failures,
        })
    }
}

/// Performs the steps of a scenario against a running simulator (its stage already set) and reports. `folders`
/// is the simulator's folder root.
pub fn check(s: &Scenario, remote: &Remote, folders: &Path) -> Report {
    let mut run = Run::new(s.clone());
    let mut steps = Vec::new();
    while let Some(r) = run.step(remote, folders) {
        steps.push(r);
    }
    Report {
        scenario: s.name.clone(),
        passed: steps.len() == s.steps.len() && steps.iter().all(|r| r.passed),
        steps,
    }
}

fn expectations(step: &Step, status: Option<u16>, answer: &Answer) -> Vec<String> {
    let mut failures = Vec::new();
    for (path, want) in &step.expect {
        let got = if path == "status" {
            status.map(|s| s.to_string())
        } else {
            answer.value(path)
        };
        let ok = match want {
            Value::Null => got.is_none(),
            Value::Bool(true) => got.is_some(),
            Value::String(w) => got.as_deref() == Some(w.as_str()),
            other => got.as_deref() == Some(other.to_string().as_str()),
        };
        if !ok {
            failures.push(format!(
                "{path}: expected {want}, got {}",
                got.map_or("nothing".to_string(), |g| format!("{g:?}"))
            ));
        }
    }
    failures
}

/// Performs one step: the HTTP status (if any) and the answer.
fn perform(
    step: &Step,
    remote: &Remote,
    folders: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(Option<u16>, Answer), String> {
    if let Some(ms) = step.wait_ms {
        std::thread::sleep(Duration::from_millis(ms));
        return Ok((None, Answer::Other));
    }
    if let Some(change) = &step.clock {
        let (status, body) = remote
            .send(
                "POST",
                "/admin/v1/clock",
                fill(&change.to_string(), vars).as_bytes(),
            )
            .map_err(|e| e.to_string())?;
        return Ok((Some(status), Answer::of(&body)));
    }
    if let Some(h) = &step.http {
        let body = match (&h.body, &h.body_file) {
            (_, Some(f)) => onshi_seed::demo::file(f)
                .ok_or_else(|| format!("no demo file {f:?}"))?
                .to_vec(),
            (Some(b), None) => fill(&b.to_string(), vars).into_bytes(),
            (None, None) => vec![],
        };
        let (status, body) = remote
            .send(&h.method, &fill(&h.path, vars), &body)
            .map_err(|e| e.to_string())?;
        return Ok((Some(status), Answer::of(&body)));
    }
    if let Some(a) = &step.answer {
        let path = folders
            .join(&a.facility)
            .join("res")
            .join(fill(&a.name, vars));
        return wait_for(&path).map(|b| (None, Answer::of(&b)));
    }
    let f = step.file.as_ref().ok_or("a step with nothing to do")?;
    let (name, mut text) = match (&f.demo, &f.name, &f.xml) {
        (Some(d), _, _) => {
            let bytes = onshi_seed::demo::file(d).ok_or_else(|| format!("no demo file {d:?}"))?;
            let name = d.rsplit('/').next().unwrap_or(d).to_string();
            (name, String::from_utf8_lossy(bytes).into_owned())
        }
        (None, Some(n), Some(x)) => (n.clone(), x.clone()),
        _ => return Err("a file is demo, or name with xml".into()),
    };
    for (from, to) in &f.replace {
        text = text.replace(from, to);
    }
    let text = fill(&text, vars);
    let name = fill(&name, vars);
    // A demo file in Shift_JIS is sent as written.
    let bytes = match &f.demo {
        Some(d) if f.replace.is_empty() && vars.is_empty() => {
            onshi_seed::demo::file(d).unwrap_or_default().to_vec()
        }
        _ => text.clone().into_bytes(),
    };
    match f.via.as_deref().unwrap_or("http") {
        "http" => {
            let (status, body) = remote
                .send("POST", &format!("/oqs/v1/req/{name}"), &bytes)
                .map_err(|e| e.to_string())?;
            Ok((Some(status), Answer::of(&body)))
        }
        "folder" => {
            let facility = match &f.facility {
                Some(c) => c.clone(),
                None => onshi_wire::xml::parse(&bytes, &Default::default())
                    .ok()
                    .and_then(|d| {
                        d.root
                            .child("MessageHeader")?
                            .value("MedicalInstitutionCode")
                            .map(str::to_string)
                    })
                    .ok_or("the folder's facility: give facility")?,
            };
            let dir = folders.join(&facility);
            std::fs::write(dir.join("req").join(&name), &bytes)
                .map_err(|e| format!("writing {name} in {}: {e}", dir.display()))?;
            if f.wait == Some(false) {
                return Ok((None, Answer::Other));
            }
            let answer = name.replacen("req", "res", 1);
            wait_for(&dir.join("res").join(answer)).map(|b| (None, Answer::of(&b)))
        }
        other => Err(format!("via {other:?}: http or folder")),
    }
}

/// Waits (10 s at most) for a whole answer file.
fn wait_for(path: &Path) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last: Option<Vec<u8>> = None;
    while Instant::now() < deadline {
        match std::fs::read(path) {
            Ok(b) if !b.is_empty() && last.as_ref() == Some(&b) => return Ok(b),
            Ok(b) => last = Some(b),
            Err(_) => last = None,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("no answer {} within 10 s", path.display()))
}

/// Who may call the scenario routes.
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/admin/v1/scenarios", Access::Public),
    route("GET", "/admin/v1/scenarios/{name}", Access::Public),
    route("POST", "/admin/v1/scenarios/{name}/setup", Access::Operator),
    route("POST", "/admin/v1/scenarios/{name}/step", Access::Operator),
    route("POST", "/admin/v1/scenarios/{name}/check", Access::Operator),
];

/// The scenario the web console performs step by step (one per process), and the process's own address: the
/// steps are sent to it over HTTP like any client's, with the caller's credentials.
#[derive(Default)]
pub struct Runs {
    current: tokio::sync::Mutex<Option<Run>>,
    /// `127.0.0.1:8080`, set once the listener is bound.
    pub own_addr: std::sync::OnceLock<String>,
}

/// The routes (needs `web::Data<Snapshots>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/scenarios", web::get().to(list))
        .route("/admin/v1/scenarios/{name}", web::get().to(show))
        .route(
            "/admin/v1/scenarios/{name}/setup",
            web::post().to(post_setup),
        )
        .route("/admin/v1/scenarios/{name}/step", web::post().to(post_step))
        .route(
            "/admin/v1/scenarios/{name}/check",
            web::post().to(post_check),
        );
}

fn find(name: &str) -> Result<Scenario, ApiError> {
    all()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no scenario {name:?}")))
}

async fn list() -> Result<HttpResponse, ApiError> {
    let all = all().map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    let rows: Vec<Value> = all
        .iter()
        .map(|s| {
            serde_json::json!({"name": s.name, "title": s.title, "title_en": s.title_en,
                "description": s.description, "steps": s.steps.len()})
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"scenarios": rows})))
}

async fn show(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(find(&name)?))
}

async fn post_setup(
    snapshots: web::Data<Snapshots>,
    runs: web::Data<Runs>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = find(&name)?;
    setup(&snapshots, &s).await?;
    *runs.current.lock().await = Some(Run::new(s.clone()));
    Ok(HttpResponse::Ok().json(
        serde_json::json!({"scenario": s.name, "steps": s.steps.len(),
        "clock": snapshots.core.clock.view()}),
    ))
}

/// This process as a client (with the caller's bearer token, if any) and its folder root.
fn own(
    runs: &Runs,
    core: &Core,
    req: &actix_web::HttpRequest,
) -> Result<(Remote, PathBuf), ApiError> {
    let addr = runs
        .own_addr
        .get()
        .ok_or_else(|| ApiError::Conflict("the listener is not bound yet".into()))?;
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let folders = core.config.folder_root.clone().ok_or_else(|| {
        ApiError::Conflict("scenarios need the folder interface (--folders)".into())
    })?;
    Ok((Remote::new(addr, token.trim()), folders))
}

/// `POST /admin/v1/scenarios/{name}/step`: performs the next step of the scenario the stage was last set for
/// (or of a new run of `name`, its stage as it is): `{"report": StepReport|null, "next": n, "of": m, "finished"}`.
async fn post_step(
    runs: web::Data<Runs>,
    core: web::Data<Core>,
    req: actix_web::HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (remote, folders) = own(&runs, &core, &req)?;
    let mut current = runs.current.lock().await;
    let mut run = match current.take() {
        Some(r) if r.scenario.name == *name => r,
        _ => Run::new(find(&name)?),
    };
    let (run, report) = web::block(move || {
        let report = run.step(&remote, &folders);
        (run, report)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    let body = serde_json::json!({"report": report, "next": run.next + 1,
        "of": run.scenario.steps.len(), "finished": run.finished()});
    *current = Some(run);
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /admin/v1/scenarios/{name}/check`: sets the stage and performs every step, as `onshi scenario check`.
async fn post_check(
    snapshots: web::Data<Snapshots>,
    runs: web::Data<Runs>,
    req: actix_web::HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (remote, folders) = own(&runs, &snapshots.core, &req)?;
    let s = find(&name)?;
    let mut current = runs.current.lock().await;
    setup(&snapshots, &s).await?;
    let report = web::block(move || check(&s, &remote, &folders))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    *current = None;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_scenarios_read() {
        let all = all().unwrap();
        assert!(all.len() >= 7);
        assert!(Scenario::parse(
            r#"{"name":"x","title":"t","description":"d","steps":[{"say":"s"}]}"#
        )
        .unwrap_err()
        .contains("exactly one"));
        assert!(Scenario::parse(
            r#"{"name":"x","title":"t","description":"d","steps":[],"extra":1}"#
        )
        .is_err());
    }
}
