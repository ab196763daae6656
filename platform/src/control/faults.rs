//! Faults and latency: rules by transport, message kind, facility, probability and a window of simulated time,
//! stored in `control.faults`. A matching rule whose draw succeeds injects its [`Action`]: a delay (fixed or
//! log-normal), an error answer (any forced answer of [`super::forced`]), an HTTP status, a dropped connection, a
//! folder answer that never appears, or a maintenance window (HTTP 503 with `Retry-After`; folder requests wait in
//! `req/` until it ends). Every injection is counted in `onshi_controls_total` and marked in the journal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::pipeline::Transport;
use onshi_wire::msg::file_name::MessageKind;

use super::forced::Force;

/// Longest delay a rule can inject (a log-normal draw is cut here).
pub const MAX_DELAY: Duration = Duration::from_secs(120);

/// A delay: fixed, or drawn from a log-normal distribution (its median and the σ of its logarithm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Delay {
    Fixed { ms: u64 },
    LogNormal { median_ms: f64, sigma: f64 },
}

/// What a fault rule does to a request it hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The answer (HTTP) or the answer file (folder) comes this much later.
    Delay(Delay),
    /// An error answer instead of the real one, in the grammar of [`Force::parse`] (`EC0013`, `validity:4`, …).
    Answer(String),
    /// This HTTP status with an empty body (HTTP and Web API doors; 400–599).
    HttpStatus(u16),
    /// The connection is closed without an answer (HTTP and Web API doors).
    Drop,
    /// The request is taken and its answer file never appears (folder door).
    Never,
    /// The system is under maintenance while the rule's window lasts: HTTP 503 with `Retry-After`; folder requests
    /// stay in `req/` until the window ends. Needs a window end.
    Maintenance,
}

impl Action {
    /// The metrics and journal label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delay(_) => "delay",
            Self::Answer(_) => "answer",
            Self::HttpStatus(_) => "http_status",
            Self::Drop => "drop",
            Self::Never => "never",
            Self::Maintenance => "maintenance",
        }
    }
}

/// A fault rule as the operator writes it (`POST /admin/v1/faults`, `onshi fault add`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `folder`, `http` or `webapi`; absent: every door.
    #[serde(default)]
    pub transport: Option<String>,
    /// A message stem (`OQSsiquc01`); absent: every message.
    #[serde(default)]
    pub kind: Option<String>,
    /// A 医療機関コード; absent: every facility.
    #[serde(default)]
    pub facility: Option<String>,
    /// Share of matching requests hit, over 0 and at most 1 (default 1).
    #[serde(default = "one")]
    pub probability: f64,
    /// Simulated JST (`2026-12-01T09:00:00`); absent: from now on.
    #[serde(default)]
    pub from: Option<String>,
    /// Simulated JST; absent: no end.
    #[serde(default)]
    pub to: Option<String>,
    pub action: Action,
    #[serde(default)]
    pub note: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// A checked rule, as the processes apply it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRule {
    pub id: i64,
    #[serde(serialize_with = "super::transport_label")]
    pub transport: Option<Transport>,
    #[serde(serialize_with = "super::kind_stem")]
    pub kind: Option<MessageKind>,
    pub facility: Option<String>,
    pub probability: f64,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub action: Action,
    /// The forced answer of an `answer` action, parsed once.
    #[serde(skip)]
    pub answer: Option<Force>,
    pub note: Option<String>,
}

impl FaultSpec {
    /// Checks every field; the error says which and why.
    pub fn check(self) -> Result<FaultRule, String> {
        let transport = self
            .transport
            .as_deref()
            .map(super::parse_transport)
            .transpose()?;
        let kind = self.kind.as_deref().map(super::parse_kind).transpose()?;
        if let Some(f) = &self.facility {
            super::check_facility(f)?;
        }
        if !(self.probability > 0.0 && self.probability <= 1.0) {
            return Err("probability: over 0 and at most 1".into());
        }
        let at = |s: &Option<String>, what: &str| {
            s.as_deref()
                .map(|t| crate::clock::parse_clock_time(t).map_err(|e| format!("{what}: {e}")))
                .transpose()
        };
        let (from, to) = (at(&self.from, "from")?, at(&self.to, "to")?);
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                return Err("to: after from".into());
            }
        }
        let mut answer = None;
        match &self.action {
            Action::Delay(Delay::Fixed { ms }) if Duration::from_millis(*ms) > MAX_DELAY => {
                return Err(format!("delay: at most {} ms", MAX_DELAY.as_millis()));
            }
            Action::Delay(Delay::LogNormal { median_ms, sigma })
                if !(*median_ms > 0.0
                    && *median_ms <= MAX_DELAY.as_millis() as f64
                    && (0.0..=3.0).contains(sigma)) =>
            {
                return Err(format!(
                    "delay: median_ms over 0 and at most {}, sigma from 0 to 3",
                    MAX_DELAY.as_millis()
                ));
            }
            Action::Answer(a) => {
                let f = Force::parse(a).map_err(|e| format!("answer: {e}"))?;
                if f == Force::Pass {
                    return Err("answer: pass is not a fault".into());
                }
                if let Some(k) = kind.filter(|k| !f.applies_to(*k)) {
                    return Err(format!("answer: {a} cannot be the answer of {}", k.stem()));
                }
                answer = Some(f);
            }
            Action::HttpStatus(s) if !(400..=599).contains(s) => {
                return Err("http_status: from 400 to 599".into());
            }
            Action::HttpStatus(_) | Action::Drop if transport == Some(Transport::Folder) => {
                return Err("http_status and drop act on the HTTP doors, not the folder".into());
            }
            Action::Never if transport != Some(Transport::Folder) => {
                return Err("never acts on the folder door: give \"transport\": \"folder\"".into());
            }
            Action::Maintenance if to.is_none() => {
                return Err("maintenance needs the end of its window (\"to\")".into());
            }
            _ => {}
        }
        Ok(FaultRule {
            id: 0,
            transport,
            kind,
            facility: self.facility,
            probability: self.probability,
            from,
            to,
            action: self.action,
            answer,
            note: self.note,
        })
    }
}

impl FaultRule {
    /// Whether the rule covers a request (draw aside).
    pub fn covers(
        &self,
        transport: Transport,
        kind: MessageKind,
        facility: Option<&str>,
        now: NaiveDateTime,
    ) -> bool {
        self.transport.is_none_or(|t| t == transport)
            && self.kind.is_none_or(|k| k == kind)
            && self.facility.as_deref().is_none_or(|f| Some(f) == facility)
            && self.from.is_none_or(|f| now >= f)
            && self.to.is_none_or(|t| now < t)
            && self.answer.is_none_or(|a| a.applies_to(kind))
            && match self.action {
                Action::HttpStatus(_) | Action::Drop => transport != Transport::Folder,
                Action::Never => transport == Transport::Folder,
                _ => true,
            }
    }
}

/// The draws of fault rules: a SplitMix64 sequence from a fixed seed, so a run is reproducible (no wall clock, no OS
/// entropy).
#[derive(Debug, Default)]
pub struct Draws(AtomicU64);

impl Draws {
    /// A number in [0, 1).
    pub fn uniform(&self) -> f64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The delay of a rule: fixed, or a log-normal draw (Box–Muller), at most [`MAX_DELAY`].
    pub fn delay(&self, d: Delay) -> Duration {
        match d {
            Delay::Fixed { ms } => Duration::from_millis(ms),
            Delay::LogNormal { median_ms, sigma } => {
                let (u1, u2) = (1.0 - self.uniform(), self.uniform());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let ms = (median_ms.ln() + sigma * z).exp();
                Duration::from_secs_f64(ms / 1000.0).min(MAX_DELAY)
            }
        }
    }
}

/// Milliseconds from simulated `now` to the end of a window, for `Retry-After` (whole seconds, at least 1).
pub fn retry_after(now: NaiveDateTime, until: NaiveDateTime) -> u64 {
    ((until - now).num_milliseconds().max(0) as u64)
        .div_ceil(1000)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Result<FaultRule, String> {
        serde_json::from_value::<FaultSpec>(json)
            .map_err(|e| e.to_string())?
            .check()
    }

    #[test]
    fn rules_are_checked_field_by_field() {
        assert!(spec(serde_json::json!({"action": {"delay": {"ms": 200}}})).is_ok());
        assert!(
            spec(serde_json::json!({"action": {"delay": {"median_ms": 50.0, "sigma": 0.5}}}))
                .is_ok()
        );
        assert!(
            spec(serde_json::json!({"action": {"answer": "EC0013"}, "kind": "YZKsiquc01"})).is_ok()
        );
        assert!(spec(
            serde_json::json!({"action": {"answer": "validity:2"}, "kind": "YZKsiquc01"})
        )
        .unwrap_err()
        .contains("cannot be the answer"));
        assert!(spec(serde_json::json!({"action": {"http_status": 200}})).is_err());
        assert!(spec(serde_json::json!({"action": "drop", "transport": "folder"})).is_err());
        assert!(spec(serde_json::json!({"action": "never"})).is_err());
        assert!(spec(serde_json::json!({"action": "never", "transport": "folder"})).is_ok());
        assert!(spec(serde_json::json!({"action": "maintenance"})).is_err());
        assert!(spec(serde_json::json!({"action": "drop", "probability": 0})).is_err());
        assert!(spec(serde_json::json!({"action": "drop", "kind": "OQSnope01"})).is_err());
        assert!(spec(
            serde_json::json!({"action": "drop", "from": "2026-12-01", "to": "2026-11-01"})
        )
        .is_err());
        assert!(spec(serde_json::json!({"action": "drop", "bogus": 1})).is_err());
    }

    #[test]
    fn a_window_covers_from_its_start_to_before_its_end() {
        let r = spec(
            serde_json::json!({"action": "maintenance", "from": "2026-12-01T01:00:00",
            "to": "2026-12-01T05:00:00", "transport": "http"}),
        )
        .unwrap();
        let at = |s| crate::clock::parse_clock_time(s).unwrap();
        let k = MessageKind::OqsSiquc01;
        assert!(!r.covers(Transport::Http, k, None, at("2026-12-01T00:59:59")));
        assert!(r.covers(Transport::Http, k, None, at("2026-12-01T01:00:00")));
        assert!(!r.covers(Transport::Http, k, None, at("2026-12-01T05:00:00")));
        assert!(!r.covers(Transport::Folder, k, None, at("2026-12-01T02:00:00")));
        assert_eq!(
            retry_after(at("2026-12-01T04:59:58"), at("2026-12-01T05:00:00")),
            2
        );
    }

    #[test]
    fn draws_are_uniform_and_log_normal_delays_center_on_their_median() {
        let d = Draws::default();
        let n = 20_000;
        let mean = (0..n).map(|_| d.uniform()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let mut ms: Vec<f64> = (0..n)
            .map(|_| {
                d.delay(Delay::LogNormal {
                    median_ms: 100.0,
                    sigma: 0.5,
                })
                .as_secs_f64()
                    * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let median = ms[n / 2];
        assert!((90.0..110.0).contains(&median), "{median}");
    }
}
