//! What a run records: per operation, HDR histograms of latency from the *scheduled* send time (and of service
//! time from the actual send), counts of answers, refusals by error code, failures by kind and late sends — kept
//! per connection behind an uncontended lock, and drained once a second into the time series.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::scenario::Op;

/// Largest latency recorded: one hour, in microseconds (larger values are clamped, and counted as such).
const MAX_US: u64 = 3_600_000_000;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("histogram bounds")
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered as the operation expects (HTTP 2xx; an XML answer other than `SegmentOfResult` 9).
    Ok,
    /// A well-formed refusal: `SegmentOfResult` 9 with its `ErrorCode`, or an HTTP 4xx.
    Refused(String),
    /// No usable answer: connection failure, timeout, HTTP 5xx.
    Failed(String),
}

/// The counters and histograms of one operation.
#[derive(Clone)]
pub struct OpStats {
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub ok: u64,
    pub refused: BTreeMap<String, u64>,
    pub failed: BTreeMap<String, u64>,
    pub late: u64,
    pub clamped: u64,
}

impl OpStats {
    fn new() -> Self {
        Self {
            latency: histogram(),
            service: histogram(),
            ok: 0,
            refused: BTreeMap::new(),
            failed: BTreeMap::new(),
            late: 0,
            clamped: 0,
        }
    }

    pub fn count(&self) -> u64 {
        self.latency.len()
    }

    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    pub fn refusals(&self) -> u64 {
        self.refused.values().sum()
    }

    fn add(&mut self, o: &OpStats) {
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        self.ok += o.ok;
        for (k, v) in &o.refused {
            *self.refused.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.failed {
            *self.failed.entry(k.clone()).or_default() += v;
        }
        self.late += o.late;
        self.clamped += o.clamped;
    }
}

/// Everything recorded, per operation (an operation's histograms exist once it has been recorded: a connection
/// that sends one kind of request holds two histograms, not twelve).
#[derive(Clone)]
pub struct Tally {
    ops: Vec<Option<Box<OpStats>>>,
    /// Arrivals whose send time came while the run was already over (never sent).
    pub unsent: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            ops: Op::ALL.iter().map(|_| None).collect(),
            unsent: 0,
        }
    }
}

static EMPTY: std::sync::LazyLock<OpStats> = std::sync::LazyLock::new(OpStats::new);

impl Tally {
    /// The stats of `op` (empty when it never ran).
    pub fn op(&self, op: Op) -> &OpStats {
        self.ops[op.index()].as_deref().unwrap_or(&EMPTY)
    }

    fn op_mut(&mut self, op: Op) -> &mut OpStats {
        self.ops[op.index()].get_or_insert_with(|| Box::new(OpStats::new()))
    }

    /// The operations that ran, with their stats.
    pub fn ran(&self) -> impl Iterator<Item = (Op, &OpStats)> {
        Op::ALL
            .into_iter()
            .zip(&self.ops)
            .filter_map(|(op, s)| s.as_deref().map(|s| (op, s)))
    }

    pub fn add(&mut self, o: &Tally) {
        for (op, s) in o.ran() {
            self.op_mut(op).add(s);
        }
        self.unsent += o.unsent;
    }

    /// Zeroes every count, keeping the histograms' memory.
    fn reset(&mut self) {
        for s in self.ops.iter_mut().flatten() {
            s.latency.reset();
            s.service.reset();
            s.ok = 0;
            s.refused.clear();
            s.failed.clear();
            s.late = 0;
            s.clamped = 0;
        }
        self.unsent = 0;
    }

    pub fn all(&self) -> OpStats {
        let mut all = OpStats::new();
        for (_, o) in self.ran() {
            all.add(o);
        }
        all
    }
}

/// One connection's recorder: the tally of the current interval (drained each second by the reporter).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Tally>>);

impl Recorder {
    /// Records one operation: latency from its scheduled time and service time from its send, in µs.
    pub fn record(&self, op: Op, latency_us: u64, service_us: u64, late: bool, outcome: Outcome) {
        let mut t = self.0.lock().expect("recorder");
        let s = t.op_mut(op);
        if latency_us > MAX_US {
            s.clamped += 1;
        }
        s.latency.saturating_record(latency_us.max(1));
        s.service.saturating_record(service_us.max(1));
        if late {
            s.late += 1;
        }
        match outcome {
            Outcome::Ok => s.ok += 1,
            Outcome::Refused(code) => *s.refused.entry(code).or_default() += 1,
            Outcome::Failed(why) => *s.failed.entry(why).or_default() += 1,
        }
    }

    pub fn unsent(&self, n: u64) {
        self.0.lock().expect("recorder").unsent += n;
    }

    /// Adds what was recorded since the last drain to `into`, and starts the next interval (no allocation).
    pub fn drain_into(&self, into: &mut Tally) {
        let mut t = self.0.lock().expect("recorder");
        into.add(&t);
        t.reset();
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// The percentile spectrum (percentile, µs) at 1 − 10^(−k/4) steps up to the maximum, for the report's plot.
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    let mut k = 0;
    loop {
        let q = 1.0 - 10f64.powf(-(k as f64) / 4.0);
        if q * h.len() as f64 >= h.len() as f64 - 0.5 || k > 28 {
            break;
        }
        out.push((q * 100.0, h.value_at_quantile(q)));
        k += 1;
    }
    out.push((100.0, h.max()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_drains_its_interval_and_tallies_add_up() {
        let r = Recorder::default();
        for us in 1..=1000 {
            r.record(Op::Siquc01, us, us / 2, us > 990, Outcome::Ok);
        }
        r.record(Op::Siquc01, 5, 5, false, Outcome::Refused("EC0008".into()));
        r.record(
            Op::Bulk,
            7_200_000_000,
            1,
            false,
            Outcome::Failed("io".into()),
        );
        let mut first = Tally::default();
        r.drain_into(&mut first);
        let mut again = Tally::default();
        r.drain_into(&mut again);
        assert!(again.all().count() == 0);
        assert_eq!(again.ran().count(), 2, "kept, zeroed");
        assert_eq!(first.op(Op::Hello).count(), 0);
        let s = first.op(Op::Siquc01);
        assert_eq!((s.count(), s.ok, s.late, s.refusals()), (1001, 1000, 10, 1));
        let p = Percentiles::of(&s.latency);
        assert!((499..=501).contains(&p.p50), "{p:?}");
        assert!((989..=991).contains(&p.p99), "{p:?}");
        assert_eq!(first.op(Op::Bulk).clamped, 1);
        let mut total = Tally::default();
        total.add(&first);
        total.add(&first);
        assert_eq!(total.all().count(), 2004);
        let spec = spectrum(&s.latency);
        assert_eq!(spec.last().unwrap(), &(100.0, 1000));
        assert!(spec.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    }
}
