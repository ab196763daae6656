//! Simulator controls: what the real verification environment never offers. The entry pipeline asks
//! [`Controls::decide`] about every request before its handler runs, and records the exchange in the
//! [`journal::Journal`] after it:
//!
//! | control | where it lives | acts |
//! |---|---|---|
//! | forced outcomes ([`forced`]) | magic `ArbitraryFileIdentifier`s; operator rules in `control.forced` | the handler answers the forced answer (a file-level error by any handler, in its own shape) |
//! | faults and latency ([`faults`]) | operator rules in `control.faults` | delays, error answers, HTTP statuses, dropped connections, lost folder answers, maintenance windows |
//! | journal ([`journal`]) | memory of the process | every exchange (or a sample), bodies in sandbox mode only |
//!
//! Rules are shared by every process of a database: each caches them and reloads on `NOTIFY onshi_control`. The
//! HTTP API (operator role) is [`api`]; the CLI calls the same functions.

pub mod api;
pub mod faults;
pub mod forced;
pub mod journal;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::xml::Element;

use crate::http::Metrics;
use crate::pipeline::Transport;
use faults::{Action, Draws, FaultRule, FaultSpec};
use forced::Force;
use journal::{Journal, JournalMode};

/// NOTIFY channel announcing a change of the rules.
pub const CHANNEL: &str = "onshi_control";

fn parse_transport(s: &str) -> Result<Transport, String> {
    [Transport::Folder, Transport::Http, Transport::WebApi]
        .into_iter()
        .find(|t| t.label() == s)
        .ok_or_else(|| format!("transport {s:?}: folder, http or webapi"))
}

fn parse_kind(s: &str) -> Result<MessageKind, String> {
    MessageKind::ALL
        .iter()
        .copied()
        .find(|k| k.stem() == s)
        .ok_or_else(|| format!("kind {s:?}: a message stem such as OQSsiquc01"))
}

fn check_facility(s: &str) -> Result<(), String> {
    if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("facility {s:?}: a 10-digit 医療機関コード"))
    }
}

fn transport_label<S: serde::Serializer>(t: &Option<Transport>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&t.map(Transport::label))
}

fn kind_stem<S: serde::Serializer>(k: &Option<MessageKind>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&k.map(MessageKind::stem))
}

/// One step of a forced sequence as written: an answer ([`Force::parse`]) given `times` times (default 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub answer: String,
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// "The next answers matching {facility, kind, person} are …" as the operator writes it: either `steps`, or one
/// `answer` with `times`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForcedSpec {
    #[serde(default)]
    pub facility: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// An `InsuredIdentificationNumber` or `ReferenceNumber` the request must name.
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A checked forced rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForcedRule {
    pub id: i64,
    pub facility: Option<String>,
    #[serde(serialize_with = "kind_stem")]
    pub kind: Option<MessageKind>,
    pub person: Option<String>,
    #[serde(serialize_with = "steps_out")]
    pub steps: Vec<(Force, u32)>,
    pub total: i32,
    /// Answers already forced (as last loaded).
    pub used: i32,
    pub note: Option<String>,
}

fn steps_out<S: serde::Serializer>(steps: &[(Force, u32)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(steps.len()))?;
    for (f, n) in steps {
        seq.serialize_element(&StepSpec {
            answer: f.name(),
            times: *n,
        })?;
    }
    seq.end()
}

/// Most answers one forced rule may hold.
pub const MAX_FORCED: u32 = 1_000_000;

impl ForcedSpec {
    pub fn check(self) -> Result<ForcedRule, String> {
        let kind = self.kind.as_deref().map(parse_kind).transpose()?;
        if let Some(f) = &self.facility {
            check_facility(f)?;
        }
        if self.person.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err("person: an InsuredIdentificationNumber or ReferenceNumber".into());
        }
        let written = match (self.steps.is_empty(), self.answer) {
            (false, None) if self.times.is_none() => self.steps,
            (true, Some(answer)) => vec![StepSpec {
                answer,
                times: self.times.unwrap_or(1),
            }],
            _ => return Err("give either steps, or answer (with times)".into()),
        };
        let mut steps = Vec::with_capacity(written.len());
        let mut total: u32 = 0;
        for (i, s) in written.into_iter().enumerate() {
            let f = Force::parse(&s.answer).map_err(|e| format!("steps[{i}]: {e}"))?;
            if let Some(k) = kind.filter(|k| !f.applies_to(*k)) {
                return Err(format!(
                    "steps[{i}]: {} cannot be the answer of {}",
                    s.answer,
                    k.stem()
                ));
            }
            if s.times == 0 {
                return Err(format!("steps[{i}]: times is at least 1"));
            }
            total = total.saturating_add(s.times);
            steps.push((f, s.times));
        }
        if total > MAX_FORCED {
            return Err(format!("at most {MAX_FORCED} answers in one rule"));
        }
        if steps.iter().all(|(f, _)| *f == Force::Pass) {
            return Err("every step is pass: the rule would force nothing".into());
        }
        Ok(ForcedRule {
            id: 0,
            facility: self.facility,
            kind,
            person: self.person,
            steps,
            total: total as i32,
            used: 0,
            note: self.note,
        })
    }
}

impl ForcedRule {
    /// Whether the rule covers a request: its filters match and every step can be the answer of its kind.
    fn covers(&self, kind: MessageKind, facility: Option<&str>, tree: Option<&Element>) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.facility.as_deref().is_none_or(|f| Some(f) == facility)
            && self
                .person
                .as_deref()
                .is_none_or(|p| tree.is_some_and(|t| forced::names_person(t, p)))
            && self.steps.iter().all(|(f, _)| f.applies_to(kind))
    }

    /// The answer of the `n`-th forced request (0-based).
    fn step(&self, n: i32) -> Force {
        let mut left = n.max(0) as u64;
        for (f, times) in &self.steps {
            if left < u64::from(*times) {
                return *f;
            }
            left -= u64::from(*times);
        }
        Force::Pass
    }
}

/// The rules as loaded.
#[derive(Debug, Default)]
pub struct Rules {
    pub forced: Vec<ForcedRule>,
    pub faults: Vec<FaultRule>,
}

impl Rules {
    fn any(&self) -> bool {
        !self.forced.is_empty() || !self.faults.is_empty()
    }
}

/// Makes `rules` the ones applied, and says whether there are any.
fn install(slot: &RwLock<Arc<Rules>>, armed: &std::sync::atomic::AtomicBool, rules: Rules) {
    armed.store(rules.any(), std::sync::atomic::Ordering::SeqCst);
    *slot.write().expect("rules lock") = Arc::new(rules);
}

/// What a door does instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorFault {
    /// An HTTP status with an empty body.
    Status(u16),
    /// Close the connection without an answer.
    Drop,
    /// Take the folder request and never answer.
    Never,
    /// Under maintenance: HTTP 503 with `Retry-After` (seconds).
    Unavailable { retry_after: u64 },
}

/// What the controls decided for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub force: Option<Force>,
    pub delay: Option<Duration>,
    pub door: Option<DoorFault>,
    /// For the journal: `forced:<answer>#<rule>`, `magic:<answer>`, `fault:<action>#<rule>`.
    pub marks: Vec<String>,
}

/// The request as the controls see it.
pub struct Subject<'a> {
    pub kind: MessageKind,
    pub transport: Transport,
    pub facility: Option<&'a str>,
    pub tree: Option<&'a Element>,
    pub now: NaiveDateTime,
}

/// The controls of one process.
pub struct Controls {
    pool: PgPool,
    rules: Arc<RwLock<Arc<Rules>>>,
    pub journal: Journal,
    /// Whether magic `ArbitraryFileIdentifier`s force answers.
    magic: bool,
    draws: Draws,
    metrics: Metrics,
    /// Set while a snapshot is saved or restored: requests are answered 503 and folders are not scanned.
    paused: std::sync::atomic::AtomicBool,
    /// Whether any rule is stored (read by every request without touching the rules' lock).
    armed: Arc<std::sync::atomic::AtomicBool>,
}

/// Holds the doors paused until dropped ([`Controls::pause`]).
pub struct Paused<'a>(&'a Controls);

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.0
            .paused
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Controls {
    /// Loads the rules and follows their changes.
    pub async fn start(
        pool: &PgPool,
        metrics: Metrics,
        journal: JournalMode,
        keep_bodies: bool,
        magic: bool,
    ) -> anyhow::Result<Arc<Self>> {
        let listener = crate::db::listen(pool, CHANNEL).await;
        let first = load(pool).await?;
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(first.any()));
        let rules = Arc::new(RwLock::new(Arc::new(first)));
        let (weak, flag) = (Arc::downgrade(&rules), Arc::downgrade(&armed));
        let p = pool.clone();
        crate::db::follow(listener, move || {
            let (weak, flag, p) = (weak.clone(), flag.clone(), p.clone());
            async move {
                let (Some(rules), Some(flag)) = (weak.upgrade(), flag.upgrade()) else {
                    return false;
                };
                match load(&p).await {
                    Ok(r) => install(&rules, &flag, r),
                    Err(e) => tracing::debug!(error = %e, "controls: reload failed"),
                }
                true
            }
        });
        Ok(Arc::new(Self {
            pool: pool.clone(),
            rules,
            journal: Journal::new(journal, keep_bodies),
            magic,
            draws: Draws::default(),
            metrics,
            paused: Default::default(),
            armed,
        }))
    }

    /// Pauses the doors (HTTP answers 503 `Retry-After: 1`, folders wait) until the guard is dropped.
    pub fn pause(&self) -> Paused<'_> {
        self.paused.store(true, std::sync::atomic::Ordering::SeqCst);
        Paused(self)
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reloads the rules now (after a snapshot is restored).
    pub async fn reload(&self) -> anyhow::Result<()> {
        install(&self.rules, &self.armed, load(&self.pool).await?);
        Ok(())
    }

    /// The rules as this process applies them now.
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().expect("rules lock").clone()
    }

    fn count(&self, control: &str, what: &str) {
        self.metrics
            .controls
            .with_label_values(&[control, what])
            .inc();
    }

    /// The end of a maintenance window covering `transport` now, if one does (the folder door leaves requests in
    /// `req/` until then).
    pub fn maintenance_until(
        &self,
        transport: Transport,
        kind: MessageKind,
        facility: Option<&str>,
        now: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        self.rules()
            .faults
            .iter()
            .filter(|r| r.action == Action::Maintenance && r.covers(transport, kind, facility, now))
            .filter_map(|r| r.to)
            .max()
    }

    /// Decides what happens to one request: faults first (a door fault preempts the answer), then the operator's
    /// forced rules, then a magic value.
    pub async fn decide(&self, s: Subject<'_>) -> Decision {
        let mut d = Decision::default();
        if self.is_paused() {
            d.door = Some(DoorFault::Unavailable { retry_after: 1 });
            d.marks.push("paused".into());
            return d;
        }
        if !self.armed.load(std::sync::atomic::Ordering::Relaxed) {
            // No rule: only a magic value can act (no shared state touched).
            self.apply_magic(&s, &mut d);
            return d;
        }
        let rules = self.rules();
        for r in &rules.faults {
            if !r.covers(s.transport, s.kind, s.facility, s.now)
                || (r.probability < 1.0 && self.draws.uniform() >= r.probability)
            {
                continue;
            }
            let door = match &r.action {
                Action::Delay(delay) => {
                    let add = self.draws.delay(*delay);
                    d.delay = Some(d.delay.unwrap_or_default() + add);
                    None
                }
                Action::Answer(_) => {
                    if d.force.is_none() {
                        d.force = r.answer;
                    }
                    None
                }
                Action::HttpStatus(code) => Some(DoorFault::Status(*code)),
                Action::Drop => Some(DoorFault::Drop),
                Action::Never => Some(DoorFault::Never),
                Action::Maintenance => Some(DoorFault::Unavailable {
                    retry_after: faults::retry_after(s.now, r.to.unwrap_or(s.now)),
                }),
            };
            if door.is_some() && d.door.is_some() {
                continue;
            }
            d.door = d.door.or(door);
            d.marks.push(format!("fault:{}#{}", r.action.label(), r.id));
            self.count("fault", r.action.label());
        }
        if d.door.is_some() || d.force.is_some() {
            return d;
        }
        for r in rules
            .forced
            .iter()
            .filter(|r| r.covers(s.kind, s.facility, s.tree))
        {
            match consume(&self.pool, r).await {
                Ok(Some(n)) => {
                    let f = r.step(n);
                    d.marks.push(format!("forced:{}#{}", f.name(), r.id));
                    self.count("forced", "operator");
                    d.force = (f != Force::Pass).then_some(f);
                    return d;
                }
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, rule = r.id, "controls: a forced rule could not be consumed");
                }
            }
        }
        self.apply_magic(&s, &mut d);
        d
    }

    /// The answer a magic `ArbitraryFileIdentifier` asks for, when magic values are on.
    fn apply_magic(&self, s: &Subject<'_>, d: &mut Decision) {
        let Some(f) = self
            .magic
            .then(|| s.tree.and_then(|t| forced::magic(t, s.kind)))
            .flatten()
        else {
            return;
        };
        d.marks.push(format!("magic:{}", f.name()));
        self.count("forced", "magic");
        d.force = Some(f);
    }
}

/// Takes the next answer of a rule (atomically across processes): its 0-based index, or `None` when another
/// process took the last one. The rule is removed with its last answer.
async fn consume(pool: &PgPool, r: &ForcedRule) -> anyhow::Result<Option<i32>> {
    let used: Option<(i32, i32)> = sqlx::query_as(
        "UPDATE control.forced SET used = used + 1 WHERE id = $1 AND used < total RETURNING used, total",
    )
    .bind(r.id)
    .fetch_optional(pool)
    .await?;
    let Some((used, total)) = used else {
        return Ok(None);
    };
    if used >= total {
        remove_forced(pool, Some(r.id)).await?;
    }
    Ok(Some(used - 1))
}

/// The answer forced on a card reader's face result (an `OQSsiquc01res` with `ReferenceClassification` 1) of
/// `facility` for the insured `person` (an `InsuredIdentificationNumber`): the next answer of the first operator rule
/// for `OQSsiquc01` (or any kind) whose steps are all validities, person-level errors or `pass`. Read from the
/// database at each face result (a card-reader flow is several calls: no cache needed).
pub async fn take_for_face(
    pool: &PgPool,
    facility: &str,
    person: Option<&str>,
) -> anyhow::Result<Option<(Force, String)>> {
    let rules = load(pool).await?;
    let face = |f: &Force| matches!(f, Force::Pass | Force::Validity(_) | Force::PersonError(_));
    for r in rules.forced.iter().filter(|r| {
        r.kind.is_none_or(|k| k == MessageKind::OqsSiquc01)
            && r.facility.as_deref().is_none_or(|f| f == facility)
            && r.person.as_deref().is_none_or(|p| Some(p) == person)
            && r.steps.iter().all(|(f, _)| face(f))
    }) {
        if let Some(n) = consume(pool, r).await? {
            let f = r.step(n);
            return Ok(Some((f, format!("forced:{}#{}", f.name(), r.id))));
        }
    }
    Ok(None)
}

async fn load(pool: &PgPool) -> anyhow::Result<Rules> {
    #[derive(sqlx::FromRow)]
    struct ForcedRow {
        id: i64,
        facility: Option<String>,
        kind: Option<String>,
        person: Option<String>,
        steps: serde_json::Value,
        used: i32,
        note: Option<String>,
    }
    #[derive(sqlx::FromRow)]
    struct FaultRow {
        id: i64,
        transport: Option<String>,
        kind: Option<String>,
        facility: Option<String>,
        probability: f64,
        window_from: Option<NaiveDateTime>,
        window_to: Option<NaiveDateTime>,
        action: serde_json::Value,
        note: Option<String>,
    }
    let forced: Vec<ForcedRow> = sqlx::query_as(
        "SELECT id, facility, kind, person, steps, used, note FROM control.forced WHERE used < total ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .context("reading control.forced (are migrations applied?)")?;
    let faults: Vec<FaultRow> = sqlx::query_as(
        "SELECT id, transport, kind, facility, probability, window_from, window_to, action, note \
         FROM control.faults ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .context("reading control.faults")?;
    let mut rules = Rules::default();
    // Rows were checked when written; a row that no longer reads (a result code removed from the table) is skipped
    // with a warning rather than stopping every answer.
    for row in forced {
        let spec = ForcedSpec {
            facility: row.facility,
            kind: row.kind,
            person: row.person,
            steps: serde_json::from_value(row.steps).unwrap_or_default(),
            note: row.note,
            ..Default::default()
        };
        match spec.check() {
            Ok(r) => rules.forced.push(ForcedRule {
                id: row.id,
                used: row.used,
                ..r
            }),
            Err(e) => tracing::warn!(rule = row.id, error = %e, "controls: forced rule skipped"),
        }
    }
    for row in faults {
        let spec = serde_json::from_value::<Action>(row.action)
            .map_err(|e| e.to_string())
            .and_then(|action| {
                FaultSpec {
                    transport: row.transport,
                    kind: row.kind,
                    facility: row.facility,
                    probability: row.probability,
                    from: row
                        .window_from
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()),
                    to: row
                        .window_to
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()),
                    action,
                    note: row.note,
                }
                .check()
            });
        match spec {
            Ok(r) => rules.faults.push(FaultRule { id: row.id, ..r }),
            Err(e) => tracing::warn!(rule = row.id, error = %e, "controls: fault rule skipped"),
        }
    }
    Ok(rules)
}

async fn notify(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(pool)
        .await?;
    Ok(())
}

/// Stores a forced rule; returns it with its id.
pub async fn add_forced(
    pool: &PgPool,
    spec: ForcedSpec,
) -> Result<ForcedRule, crate::http::ApiError> {
    let rule = spec.check().map_err(crate::http::ApiError::bad)?;
    let steps = serde_json::to_value(
        rule.steps
            .iter()
            .map(|(f, n)| StepSpec {
                answer: f.name(),
                times: *n,
            })
            .collect::<Vec<_>>(),
    )
    .map_err(|e| crate::http::ApiError::Internal(e.into()))?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO control.forced (facility, kind, person, steps, total, note) VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
    )
    .bind(&rule.facility)
    .bind(rule.kind.map(MessageKind::stem))
    .bind(&rule.person)
    .bind(steps)
    .bind(rule.total)
    .bind(&rule.note)
    .fetch_one(pool)
    .await?;
    notify(pool).await?;
    Ok(ForcedRule { id, ..rule })
}

/// Removes rule `id`, or every rule (`None`), of `table`; returns how many.
async fn remove(pool: &PgPool, table: &str, id: Option<i64>) -> anyhow::Result<u64> {
    let n = sqlx::query(&format!(
        "DELETE FROM control.{table} WHERE $1::bigint IS NULL OR id = $1"
    ))
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    notify(pool).await?;
    Ok(n)
}

/// Removes one forced rule, or every one (`None`); returns how many.
pub async fn remove_forced(pool: &PgPool, id: Option<i64>) -> anyhow::Result<u64> {
    remove(pool, "forced", id).await
}

/// Stores a fault rule (or replaces rule `id`); returns it with its id. `None` when `id` does not exist.
pub async fn put_fault(
    pool: &PgPool,
    id: Option<i64>,
    spec: FaultSpec,
) -> Result<Option<FaultRule>, crate::http::ApiError> {
    let rule = spec.check().map_err(crate::http::ApiError::bad)?;
    let action = serde_json::to_value(&rule.action)
        .map_err(|e| crate::http::ApiError::Internal(e.into()))?;
    let row: Option<(i64,)> = sqlx::query_as(
        "WITH ins AS (INSERT INTO control.faults (transport, kind, facility, probability, window_from, window_to, action, note) \
           SELECT $2,$3,$4,$5,$6,$7,$8,$9 WHERE $1::bigint IS NULL RETURNING id), \
         upd AS (UPDATE control.faults SET transport=$2, kind=$3, facility=$4, probability=$5, window_from=$6, \
           window_to=$7, action=$8, note=$9 WHERE id = $1 RETURNING id) \
         SELECT id FROM ins UNION ALL SELECT id FROM upd",
    )
    .bind(id)
    .bind(rule.transport.map(Transport::label))
    .bind(rule.kind.map(MessageKind::stem))
    .bind(&rule.facility)
    .bind(rule.probability)
    .bind(rule.from)
    .bind(rule.to)
    .bind(action)
    .bind(&rule.note)
    .fetch_optional(pool)
    .await?;
    notify(pool).await?;
    Ok(row.map(|(id,)| FaultRule { id, ..rule }))
}

/// Removes one fault rule, or every one (`None`); returns how many.
pub async fn remove_fault(pool: &PgPool, id: Option<i64>) -> anyhow::Result<u64> {
    remove(pool, "faults", id).await
}

/// Every rule stored now (read from the database, not a process's cache).
pub async fn stored(pool: &PgPool) -> anyhow::Result<Rules> {
    load(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<ForcedRule, String> {
        serde_json::from_value::<ForcedSpec>(json)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn sequences_are_steps_with_times() {
        let r = spec(serde_json::json!({"kind": "OQSmuquc02",
            "steps": [{"answer": "processing", "times": 2}, {"answer": "pass"}]}))
        .unwrap();
        assert_eq!(r.total, 3);
        assert_eq!(r.step(0), Force::Processing);
        assert_eq!(r.step(1), Force::Processing);
        assert_eq!(r.step(2), Force::Pass);
        let once = spec(serde_json::json!({"answer": "EC0013", "times": 5})).unwrap();
        assert_eq!(once.total, 5);
    }

    #[test]
    fn rules_are_checked() {
        assert!(spec(serde_json::json!({"answer": "pass"}))
            .unwrap_err()
            .contains("nothing"));
        assert!(
            spec(serde_json::json!({"kind": "OQSsiquc01", "answer": "processing"}))
                .unwrap_err()
                .contains("cannot be the answer")
        );
        assert!(
            spec(serde_json::json!({"answer": "EC0013", "steps": [{"answer": "pass"}]})).is_err()
        );
        assert!(spec(serde_json::json!({"steps": [{"answer": "EC0013", "times": 0}]})).is_err());
        assert!(spec(serde_json::json!({"facility": "123", "answer": "EC0013"})).is_err());
        assert!(spec(serde_json::json!({"answer": "EC0013", "times": 2_000_000})).is_err());
        assert!(spec(serde_json::json!({"answer": "EC0013", "extra": 1})).is_err());
    }

    #[test]
    fn a_rule_covers_only_kinds_every_step_can_answer() {
        let r = spec(serde_json::json!({"steps": [{"answer": "processing"}, {"answer": "pass"}]}))
            .unwrap();
        assert!(r.covers(MessageKind::OqsMuquc02, None, None));
        assert!(!r.covers(MessageKind::OqsSiquc01, None, None));
        let p = spec(serde_json::json!({"person": "1234", "answer": "EC0013"})).unwrap();
        assert!(!p.covers(MessageKind::OqsSiquc01, None, None));
    }
}
