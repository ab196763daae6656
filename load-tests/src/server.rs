//! The server's own view of the run: `/metrics` scraped at the start, every 5 seconds and at the end — messages
//! answered by kind, transport, facility type and outcome during the window, the server's latency histogram
//! (upper bounds of its p50 and p99), its resident memory over time and the gauges at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{Conn, Endpoint};

/// The server's latency for one message kind and transport in the window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerLatency {
    pub series: String,
    pub count: f64,
    pub p50_le_ms: f64,
    pub p99_le_ms: f64,
}

/// What the server's metrics say of the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerWindow {
    /// `message · transport · facility · outcome` → answered in the window.
    pub messages: BTreeMap<String, f64>,
    pub latency: Vec<ServerLatency>,
    /// (seconds into the run, bytes).
    pub resident_bytes: Vec<(f64, u64)>,
    /// (max − min) / min of the resident memory after the first tenth of the run.
    pub resident_spread: Option<f64>,
    /// Gauges at the end (feed lag, bulk jobs, pool).
    pub gauges: BTreeMap<String, f64>,
    pub error: Option<String>,
}

type Samples = HashMap<String, f64>;

fn parse(text: &str) -> Samples {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// `name{a="x",b="y"}` → (name, [(a, x), (b, y)]).
fn split(key: &str) -> (&str, Vec<(&str, &str)>) {
    let Some((name, rest)) = key.split_once('{') else {
        return (key, vec![]);
    };
    let labels = rest
        .trim_end_matches('}')
        .split("\",")
        .filter_map(|p| {
            let (k, v) = p.split_once("=\"")?;
            Some((k, v.trim_end_matches('"')))
        })
        .collect();
    (name, labels)
}

/// Scrapes `/metrics` of one server.
pub struct Scraper {
    inner: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    endpoint: Endpoint,
    conn: Option<Conn>,
    start: Instant,
    first: Option<Samples>,
    last: Option<Samples>,
    rss: Vec<(f64, u64)>,
    error: Option<String>,
}

async fn scrape(s: &Mutex<State>) {
    let mut conn = {
        let mut g = s.lock().expect("scraper");
        g.conn
            .take()
            .unwrap_or_else(|| Conn::new(g.endpoint.clone()))
    };
    let r = conn.send("GET", "/metrics", &[], &[]).await;
    let mut g = s.lock().expect("scraper");
    match r {
        Ok(a) if a.status == 200 => {
            let samples = parse(&String::from_utf8_lossy(conn.body(&a)));
            if let Some(&rss) = samples.get("onshi_process_resident_bytes") {
                let t = g.start.elapsed().as_secs_f64();
                g.rss.push((t, rss as u64));
            }
            if g.first.is_none() {
                g.first = Some(samples);
            } else {
                g.last = Some(samples);
            }
        }
        Ok(a) => {
            g.error = Some(format!(
                "GET /metrics answered {}: no server metrics",
                a.status
            ))
        }
        Err(e) => g.error = Some(format!("GET /metrics failed: {e}")),
    }
    g.conn = Some(conn);
}

impl Scraper {
    /// Takes the first sample now and one every `every`.
    pub async fn start(endpoint: Endpoint, every: Duration) -> Self {
        let inner = Arc::new(Mutex::new(State {
            conn: None,
            endpoint,
            start: Instant::now(),
            first: None,
            last: None,
            rss: Vec::new(),
            error: None,
        }));
        scrape(&inner).await;
        let s = inner.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                scrape(&s).await;
            }
        });
        Self { inner, task }
    }

    /// Takes the last sample and sums up the window.
    pub async fn finish(self) -> ServerWindow {
        self.task.abort();
        scrape(&self.inner).await;
        let g = self.inner.lock().expect("scraper");
        let mut w = ServerWindow {
            error: g.error.clone(),
            resident_bytes: g.rss.clone(),
            ..Default::default()
        };
        let (Some(first), Some(last)) = (&g.first, &g.last) else {
            return w;
        };
        let delta =
            |k: &str| last.get(k).copied().unwrap_or(0.0) - first.get(k).copied().unwrap_or(0.0);
        let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for key in last.keys() {
            let (name, labels) = split(key);
            let value = |n: &str| labels.iter().find(|l| l.0 == n).map_or("", |l| l.1);
            match name {
                "onshi_messages_total" => {
                    let d = delta(key);
                    if d > 0.0 {
                        let k = format!(
                            "{} · {} · {} · {}",
                            value("message"),
                            value("transport"),
                            value("facility"),
                            value("outcome")
                        );
                        w.messages.insert(k, d);
                    }
                }
                "onshi_message_seconds_bucket" => {
                    let le = value("le");
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::INFINITY)
                    };
                    let series = format!("{} · {}", value("message"), value("transport"));
                    buckets.entry(series).or_default().push((le, delta(key)));
                }
                "onshi_feed_lag_rows" | "onshi_bulk_jobs" | "onshi_db_pool_connections" => {
                    w.gauges.insert(key.clone(), last[key]);
                }
                _ => {}
            }
        }
        for (series, mut b) in buckets {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
            let count = b.last().map_or(0.0, |x| x.1);
            if count <= 0.0 {
                continue;
            }
            let le = |q: f64| {
                b.iter()
                    .find(|x| x.1 >= q * count)
                    .map_or(f64::INFINITY, |x| x.0 * 1000.0)
            };
            w.latency.push(ServerLatency {
                series,
                count,
                p50_le_ms: le(0.5),
                p99_le_ms: le(0.99),
            });
        }
        let end = g.rss.last().map_or(0.0, |r| r.0);
        let steady: Vec<u64> = g
            .rss
            .iter()
            .filter(|r| r.0 >= end / 10.0)
            .map(|r| r.1)
            .collect();
        if steady.len() >= 3 {
            let (min, max) = (
                steady.iter().min().copied().unwrap_or(0),
                steady.iter().max().copied().unwrap_or(0),
            );
            w.resident_spread = (min > 0).then(|| (max - min) as f64 / min as f64);
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_is_read_into_labelled_samples() {
        let s = parse(
            "# HELP x y\nonshi_messages_total{facility=\"medical\",message=\"OQSsiquc01\",outcome=\"validity_1\",transport=\"http\"} 12\n\
             onshi_process_resident_bytes 1048576\n",
        );
        assert_eq!(s["onshi_process_resident_bytes"], 1_048_576.0);
        let key = s
            .keys()
            .find(|k| k.starts_with("onshi_messages_total"))
            .unwrap();
        let (name, labels) = split(key);
        assert_eq!(name, "onshi_messages_total");
        assert_eq!(labels[1], ("message", "OQSsiquc01"));
        assert_eq!(labels[3], ("transport", "http"));
    }
}
