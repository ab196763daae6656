//! The results of a run: the JSON document (`--json`), the thresholds it is checked against (`--thresholds`, a
//! breach makes the exit status non-zero), and one self-contained HTML page (`--html`: inline SVG, no scripts, no
//! downloads) with latency over time, the percentile spectrum, throughput, errors and the server's own metrics for
//! the same window.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::driver::{Model, Outcomes, Saturation, Second};
use crate::profile::Profile;
use crate::scenario::Op;
use crate::server::ServerWindow;
use crate::stats::{spectrum, Percentiles};

/// One operation's results.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub count: u64,
    pub ok: u64,
    pub refused: BTreeMap<String, u64>,
    pub failed: BTreeMap<String, u64>,
    pub late: u64,
    /// From the scheduled send time (what a patient at the counter waits).
    pub latency_us: Percentiles,
    /// From the actual send (the server's part, as a closed-model tool reports it).
    pub service_us: Percentiles,
    /// (percentile, µs) up to the maximum.
    pub spectrum: Vec<(f64, u64)>,
}

/// The totals of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// Arrivals the profile scheduled (open model).
    pub scheduled: u64,
    pub completed: u64,
    pub ok: u64,
    pub refused: u64,
    pub failed: u64,
    /// Sent later than `late_after_ms` behind their scheduled time.
    pub late: u64,
    /// Never sent: their time came after the run's end.
    pub unsent: u64,
    pub achieved_rate: f64,
    pub reconnects: u64,
}

/// A threshold and how the run did against it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub limit: f64,
    pub actual: f64,
    pub passed: bool,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: String,
    pub target: String,
    pub door: String,
    pub model: Model,
    pub model_note: &'static str,
    pub profile: Profile,
    pub mix: String,
    pub deck: String,
    pub connections: usize,
    pub threads: usize,
    pub late_after_ms: f64,
    pub elapsed_s: f64,
    pub totals: Totals,
    pub latency_us: Percentiles,
    pub ops: BTreeMap<&'static str, OpReport>,
    pub seconds: Vec<Second>,
    pub saturation: Option<Saturation>,
    /// The highest target rate held with no saturated second (step profiles).
    pub max_sustained_rate: Option<f64>,
    pub server: Option<ServerWindow>,
    pub checks: Vec<Check>,
    pub passed: bool,
}

/// Limits on latencies in milliseconds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyLimits {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

/// Limits of one operation (or of all).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default)]
    pub latency_ms: LatencyLimits,
    /// Failures (no usable answer) per completed operation.
    pub error_rate: Option<f64>,
    /// Refusals (`SegmentOfResult` 9, HTTP 4xx) per completed operation.
    pub refused_rate: Option<f64>,
}

/// The thresholds file (JSON).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(flatten)]
    pub all: Limits,
    /// Late or unsent sends per scheduled arrival (default 0: every request must go out on time).
    pub late_rate: Option<f64>,
    /// Completed operations per second as a share of the target (open model).
    pub min_achieved: Option<f64>,
    /// (max − min) / min of the server's resident memory over the run after its first tenth.
    pub server_memory_spread: Option<f64>,
    #[serde(default)]
    pub ops: BTreeMap<String, Limits>,
}

impl Thresholds {
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading the thresholds {}: {e}", path.display()))?;
        let t: Self = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("the thresholds {}: {e}", path.display()))?;
        for name in t.ops.keys() {
            if !Op::ALL.iter().any(|o| o.name() == name) {
                anyhow::bail!(
                    "the thresholds {}: {name:?} is not an operation",
                    path.display()
                );
            }
        }
        Ok(t)
    }
}

fn op_report(s: &crate::stats::OpStats) -> OpReport {
    OpReport {
        count: s.count(),
        ok: s.ok,
        refused: s.refused.clone(),
        failed: s.failed.clone(),
        late: s.late,
        latency_us: Percentiles::of(&s.latency),
        service_us: Percentiles::of(&s.service),
        spectrum: spectrum(&s.latency),
    }
}

/// What the caller of [`build`] knows about the run besides its outcomes.
pub struct Setup {
    pub target: String,
    pub door: String,
    pub model: Model,
    pub profile: Profile,
    pub mix: String,
    pub deck: String,
    pub connections: usize,
    pub threads: usize,
    pub late_after_ms: f64,
    pub thresholds: Thresholds,
    /// A step-to-saturation run (reports the highest step held).
    pub step: bool,
}

/// Builds the report and checks it.
pub fn build(setup: Setup, o: &Outcomes, server: Option<ServerWindow>) -> Report {
    let all = o.total.all();
    let mut ops = BTreeMap::new();
    for op in Op::ALL {
        let s = o.total.op(op);
        if s.count() > 0 {
            ops.insert(op.name(), op_report(s));
        }
    }
    let scheduled = match setup.model {
        Model::Open => setup.profile.total(),
        Model::Closed => all.count(),
    };
    let totals = Totals {
        scheduled,
        completed: all.count(),
        ok: all.ok,
        refused: all.refusals(),
        failed: all.failures(),
        late: all.late,
        unsent: o.total.unsent,
        achieved_rate: all.count() as f64 / setup.profile.duration().as_secs_f64(),
        reconnects: o.reconnects,
    };
    let max_sustained_rate = setup.step.then(|| {
        let mut best = 0.0f64;
        let mut start = 0.0;
        for seg in &setup.profile.segments {
            let end = start + seg.seconds;
            let held = o
                .saturation
                .as_ref()
                .is_none_or(|s| (s.at_second as f64) > end);
            let ran = o.seconds.last().is_some_and(|s| s.t as f64 >= end);
            if held && ran {
                best = best.max(seg.from.min(seg.to));
            }
            start = end;
        }
        best
    });
    let mut checks = Vec::new();
    let t = &setup.thresholds;
    let mut check = |name: String, limit: f64, actual: f64| {
        checks.push(Check {
            passed: actual <= limit,
            name,
            limit,
            actual,
        })
    };
    // A step profile looks for the rate the server cannot hold: its late sends are the finding, not a failure,
    // unless a limit is set.
    if setup.model == Model::Open && (!setup.step || t.late_rate.is_some()) {
        let late = (totals.late + totals.unsent) as f64 / scheduled.max(1) as f64;
        check(
            "late or unsent sends per arrival".into(),
            t.late_rate.unwrap_or(0.0),
            late,
        );
        if let Some(min) = t.min_achieved {
            let achieved = totals.completed as f64 / scheduled.max(1) as f64;
            // Checked as a shortfall so every check reads "actual ≤ limit".
            check(
                "shortfall of the target rate".into(),
                1.0 - min,
                1.0 - achieved,
            );
        }
    }
    let mut limits = |name: &str, l: &Limits, s: &crate::stats::OpStats| {
        let p = Percentiles::of(&s.latency);
        let ms = |us: u64| us as f64 / 1000.0;
        for (q, limit, actual) in [
            ("p50", l.latency_ms.p50, p.p50),
            ("p90", l.latency_ms.p90, p.p90),
            ("p99", l.latency_ms.p99, p.p99),
            ("p99.9", l.latency_ms.p999, p.p999),
            ("max", l.latency_ms.max, p.max),
        ] {
            if let Some(limit) = limit {
                check(format!("{name} {q} latency (ms)"), limit, ms(actual));
            }
        }
        let n = s.count().max(1) as f64;
        if let Some(limit) = l.error_rate {
            check(
                format!("{name} failures per operation"),
                limit,
                s.failures() as f64 / n,
            );
        }
        if let Some(limit) = l.refused_rate {
            check(
                format!("{name} refusals per operation"),
                limit,
                s.refusals() as f64 / n,
            );
        }
    };
    limits("all", &t.all, &all);
    for (name, l) in &t.ops {
        if let Some(op) = Op::ALL.into_iter().find(|o| o.name() == name) {
            limits(name, l, o.total.op(op));
        }
    }
    if let (Some(limit), Some(spread)) = (
        t.server_memory_spread,
        server.as_ref().and_then(|s| s.resident_spread),
    ) {
        check("server resident memory spread".into(), limit, spread);
    }
    let passed = checks.iter().all(|c| c.passed);
    Report {
        tool: format!("onshi-load {}", env!("CARGO_PKG_VERSION")),
        target: setup.target,
        door: setup.door,
        model: setup.model,
        model_note: match setup.model {
            Model::Open => "open model: arrivals at the profile's rate whatever the server does; latency from each request's scheduled send time",
            Model::Closed => "CLOSED MODEL: each connection sends when its previous answer arrives; latency from the actual send, which hides queueing (coordinated omission) — use it for peak throughput only",
        },
        profile: setup.profile,
        mix: setup.mix,
        deck: setup.deck,
        connections: setup.connections,
        threads: setup.threads,
        late_after_ms: setup.late_after_ms,
        elapsed_s: o.elapsed.as_secs_f64(),
        totals,
        latency_us: Percentiles::of(&all.latency),
        ops,
        seconds: o.seconds.clone(),
        saturation: o.saturation.clone(),
        max_sustained_rate,
        server,
        checks,
        passed,
    }
}

/// One line of a chart: its name, colour and points.
type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A line chart as inline SVG. `log_y` plots on a log scale; `percentile_x` spreads 50 … 99.999 % evenly.
fn chart(
    title: &str,
    y_unit: &str,
    series: &[Series<'_>],
    log_y: bool,
    percentile_x: bool,
) -> String {
    let (w, h, left, bottom) = (760.0, 260.0, 70.0, 30.0);
    let fx = |x: f64| {
        if percentile_x {
            (1.0 / (1.0 - (x / 100.0).min(0.999_999))).log10()
        } else {
            x
        }
    };
    let fy = |y: f64| if log_y { y.max(1e-3).log10() } else { y };
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.2.iter().map(|&(x, y)| (fx(x), fy(y))))
        .collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<figure><figcaption>{title}</figcaption><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\">"
    );
    if pts.is_empty() {
        svg.push_str("<text x=\"20\" y=\"40\">no data</text></svg></figure>");
        return svg;
    }
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
    let (mut y0, mut y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
    if !log_y {
        y0 = y0.min(0.0);
    }
    if (y1 - y0).abs() < 1e-9 {
        y1 = y0 + 1.0;
    }
    let x1 = if (x1 - x0).abs() < 1e-9 { x0 + 1.0 } else { x1 };
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - 10.0);
    let py = |y: f64| h - bottom - (y - y0) / (y1 - y0) * (h - bottom - 10.0);
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/><line x1=\"{left}\" y1=\"10\" x2=\"{left}\" \
         y2=\"{}\" stroke=\"#888\"/>",
        h - bottom,
        w - 10.0,
        h - bottom,
        h - bottom
    );
    for i in 0..=4 {
        let y = y0 + (y1 - y0) * i as f64 / 4.0;
        let label = if log_y { 10f64.powf(y) } else { y };
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\">{} {y_unit}</text><line x1=\"{left}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" \
             stroke=\"#eee\"/>",
            py(y) + 4.0,
            short(label),
            py(y),
            w - 10.0,
            py(y)
        );
    }
    for i in 0..=5 {
        let x = x0 + (x1 - x0) * i as f64 / 5.0;
        let label = if percentile_x {
            format!("{}%", short(100.0 * (1.0 - 1.0 / 10f64.powf(x))))
        } else {
            format!("{} s", short(x))
        };
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\">{label}</text>",
            px(x) - 10.0,
            h - 10.0
        );
    }
    for (i, (name, color, data)) in series.iter().enumerate() {
        let path: Vec<String> = data
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(fx(x)), py(fy(y))))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
            path.join(" "),
            left + 10.0 + 110.0 * i as f64,
            22
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The self-contained HTML page of a report.
pub fn html(r: &Report) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>onshi-load report</title><style>\
         body{{font:14px system-ui,sans-serif;margin:24px;max-width:980px}}table{{border-collapse:collapse;margin:8px 0}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f4f4f4}}td:first-child{{text-align:left}}\
         .fail{{color:#b00;font-weight:bold}}.pass{{color:#070;font-weight:bold}}figure{{margin:12px 0}}\
         figcaption{{font-weight:bold}}</style></head><body><h1>onshi-load report</h1>"
    );
    let verdict = if r.passed {
        "<span class=\"pass\">PASSED</span>"
    } else {
        "<span class=\"fail\">FAILED</span>"
    };
    let _ = write!(
        out,
        "<p>{verdict} — {} against <code>{}</code> ({}), {}; profile {}; mix {}; {}; {} connections, {} thread(s); \
         {:.1} s.</p><p><em>{}</em></p>",
        esc(&r.tool),
        esc(&r.target),
        esc(&r.door),
        match r.model {
            Model::Open => "open model",
            Model::Closed => "closed model",
        },
        esc(&r.profile.name),
        esc(&r.mix),
        esc(&r.deck),
        r.connections,
        r.threads,
        r.elapsed_s,
        r.model_note
    );
    if let Some(s) = &r.saturation {
        let _ = write!(out, "<p class=\"fail\">Saturation: {}</p>", esc(&s.why));
    }
    if let Some(m) = r.max_sustained_rate {
        let _ = write!(
            out,
            "<p>Highest step held without saturation: <b>{m:.0}/s</b></p>"
        );
    }
    let t = &r.totals;
    let _ = write!(
        out,
        "<h2>Totals</h2><table><tr><th>scheduled</th><th>completed</th><th>ok</th><th>refused</th><th>failed</th>\
         <th>late</th><th>unsent</th><th>rate /s</th><th>reconnects</th></tr><tr><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr></table>",
        t.scheduled, t.completed, t.ok, t.refused, t.failed, t.late, t.unsent, t.achieved_rate, t.reconnects
    );
    out.push_str(
        "<h2>Operations</h2><table><tr><th>operation</th><th>count</th><th>ok</th><th>refused</th><th>failed</th>\
         <th>late</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th>\
         <th>service p99 ms</th></tr>",
    );
    for (name, o) in &r.ops {
        let p = &o.latency_us;
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            o.count,
            o.ok,
            o.refused.values().sum::<u64>(),
            o.failed.values().sum::<u64>(),
            o.late,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max),
            ms(o.service_us.p99)
        );
    }
    out.push_str("</table>");
    let codes: BTreeMap<String, u64> = r
        .ops
        .iter()
        .flat_map(|(n, o)| {
            o.refused
                .iter()
                .map(move |(c, v)| (format!("{n} refused {c}"), *v))
                .chain(
                    o.failed
                        .iter()
                        .map(move |(c, v)| (format!("{n} failed {c}"), *v)),
                )
        })
        .collect();
    if !codes.is_empty() {
        out.push_str("<h2>Refusals and failures</h2><table>");
        for (c, v) in codes {
            let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(&c));
        }
        out.push_str("</table>");
    }
    if !r.checks.is_empty() {
        out.push_str("<h2>Thresholds</h2><table><tr><th>check</th><th>limit</th><th>actual</th><th></th></tr>");
        for c in &r.checks {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&c.name),
                short(c.limit),
                short(c.actual),
                if c.passed { "pass" } else { "fail" },
                if c.passed { "pass" } else { "FAIL" }
            );
        }
        out.push_str("</table>");
    }
    let series = |f: &dyn Fn(&Second) -> f64| -> Vec<(f64, f64)> {
        r.seconds.iter().map(|s| (s.t as f64, f(s))).collect()
    };
    out.push_str("<h2>Over time</h2>");
    out.push_str(&chart(
        "Latency from the scheduled send (per second)",
        "ms",
        &[
            ("p50", "#1f77b4", series(&|s| ms(s.latency.p50))),
            ("p99", "#ff7f0e", series(&|s| ms(s.latency.p99))),
            ("max", "#d62728", series(&|s| ms(s.latency.max))),
        ],
        true,
        false,
    ));
    out.push_str(&chart(
        "Throughput",
        "/s",
        &[
            ("target", "#999", series(&|s| s.target_rate)),
            ("completed", "#2ca02c", series(&|s| s.completed as f64)),
            ("refused", "#9467bd", series(&|s| s.refused as f64)),
            ("failed", "#d62728", series(&|s| s.failed as f64)),
            ("late", "#ff7f0e", series(&|s| s.late as f64)),
        ],
        false,
        false,
    ));
    out.push_str(&chart(
        "Generator CPU (share of its threads)",
        "%",
        &[("cpu", "#8c564b", series(&|s| s.generator_cpu * 100.0))],
        false,
        false,
    ));
    let colors = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    ];
    let spec: Vec<Series<'_>> = r
        .ops
        .iter()
        .enumerate()
        .map(|(i, (n, o))| {
            (
                *n,
                colors[i % colors.len()],
                o.spectrum.iter().map(|&(q, v)| (q, ms(v))).collect(),
            )
        })
        .collect();
    out.push_str(&chart(
        "Percentile spectrum (latency from the scheduled send)",
        "ms",
        &spec,
        true,
        true,
    ));
    if let Some(s) = &r.server {
        out.push_str("<h2>The server's metrics for the same window</h2>");
        if let Some(e) = &s.error {
            let _ = write!(out, "<p>{}</p>", esc(e));
        }
        if !s.resident_bytes.is_empty() {
            out.push_str(&chart(
                "Server resident memory",
                "MiB",
                &[(
                    "rss",
                    "#17becf",
                    s.resident_bytes
                        .iter()
                        .map(|&(t, b)| (t, b as f64 / 1_048_576.0))
                        .collect(),
                )],
                false,
                false,
            ));
            if let Some(spread) = s.resident_spread {
                let _ = write!(
                    out,
                    "<p>Resident memory spread after the first tenth: {:.2} %</p>",
                    spread * 100.0
                );
            }
        }
        out.push_str(
            "<table><tr><th>message · transport · facility · outcome</th><th>answered</th></tr>",
        );
        for (k, v) in &s.messages {
            let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
        }
        out.push_str("</table><table><tr><th>message · transport</th><th>answers</th><th>server p50 ≤ ms</th><th>server p99 ≤ ms</th></tr>");
        for l in &s.latency {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&l.series),
                l.count,
                short(l.p50_le_ms),
                short(l.p99_le_ms)
            );
        }
        out.push_str("</table>");
        if !s.gauges.is_empty() {
            out.push_str("<table><tr><th>gauge at the end</th><th>value</th></tr>");
            for (k, v) in &s.gauges {
                let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
            }
            out.push_str("</table>");
        }
    }
    out.push_str("</body></html>\n");
    out
}
