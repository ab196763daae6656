//! The engine. Open model (default): every arrival has a send time fixed by the profile before the run; each
//! connection takes every C-th arrival, sleeps until its time, sends, and records latency from that *scheduled*
//! time — so a slow answer delays the next sends and their waiting counts (no coordinated omission). A send more
//! than `late_after` behind its time is counted late. Closed model (on request): back-to-back requests, latency
//! from the actual send, which hides queueing. Once a second the reporter drains every connection's recorder into
//! the time series, prints progress and says when the target is out of reach (a connection over a second behind,
//! or over 1 % of sends late five seconds in a row), and whether the generator itself (its CPU) or the server is
//! the limit. Send times are kept to well under a millisecond by the [`crate::pacer`] (tokio's timer alone is
//! ~1 ms coarse).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{Answer, Conn, Endpoint};
use crate::folder::Folders;
use crate::pacer::Pacer;
use crate::profile::Profile;
use crate::scenario::{self, mix64, Deck, Lane, Op};
use crate::stats::{Outcome, Percentiles, Recorder, Tally};

/// Open (scheduled arrivals) or closed (back-to-back) model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Open,
    Closed,
}

/// How requests reach the server.
#[derive(Clone)]
pub enum Door {
    /// HTTP, one endpoint per lane (its own client certificate over mutual TLS).
    Http(Vec<Endpoint>),
    /// Request files in the facility folders, answers awaited in `res/`.
    Folder(Arc<Folders>),
}

/// Everything a run needs.
pub struct Plan {
    pub door: Door,
    pub lanes: Vec<Lane>,
    pub deck: Arc<Deck>,
    pub profile: Profile,
    pub model: Model,
    /// A send further behind its scheduled time than this is late.
    pub late_after: Duration,
    /// Stop at the first saturated second (step-to-saturation).
    pub stop_on_saturation: bool,
    pub bulk_persons: usize,
    pub bulk_poll: Duration,
    /// Longest wait for one operation.
    pub timeout: Duration,
    /// The generator's worker threads (for its CPU share).
    pub threads: usize,
    /// Send times to well under a millisecond through the [`crate::pacer`] (otherwise tokio's 1 ms timer).
    pub precise: bool,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    pub t: u64,
    pub target_rate: f64,
    pub completed: u64,
    pub ok: u64,
    pub refused: u64,
    pub failed: u64,
    pub late: u64,
    pub latency: Percentiles,
    /// How far the most delayed connection is behind its schedule, in ms.
    pub behind_ms: u64,
    /// The generator's CPU use, as a share of its worker threads.
    pub generator_cpu: f64,
}

/// Why the target could not be met.
#[derive(Debug, Clone, Serialize)]
pub struct Saturation {
    pub at_second: u64,
    pub target_rate: f64,
    pub achieved_rate: f64,
    /// `generator` when its own CPU was spent, otherwise `server`.
    pub limit: &'static str,
    pub why: String,
}

/// What a run produced.
pub struct Outcomes {
    pub total: Tally,
    pub seconds: Vec<Second>,
    pub saturation: Option<Saturation>,
    pub elapsed: Duration,
    /// Connections opened beyond the first of each lane.
    pub reconnects: u64,
}

struct Ctx {
    plan: Plan,
    start: Instant,
    /// After this, nothing more is sent (the profile's end plus a grace for stragglers).
    end: Instant,
    stop: AtomicBool,
    arrivals: u64,
    /// Bulk queries still polling (on connections of their own).
    bulk_in_flight: AtomicU64,
    /// Sub-millisecond send times (open model).
    pacer: Option<Pacer>,
}

/// The CPU time this process has used (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs `plan`; `progress` is called once a second.
pub async fn run(
    plan: Plan,
    mut progress: impl FnMut(&Second, &Profile),
) -> anyhow::Result<Outcomes> {
    let lanes = plan.lanes.len();
    // Connect (and shake hands) before the clock starts.
    let mut conns = Vec::with_capacity(lanes);
    if let Door::Http(endpoints) = &plan.door {
        for e in endpoints {
            let mut c = Conn::new(e.clone());
            c.warm()
                .await
                .map_err(|err| anyhow::anyhow!("cannot connect to {}: {err}", e.addr))?;
            conns.push(Some(c));
        }
    } else {
        conns.resize_with(lanes, || None);
    }
    let duration = plan.profile.duration();
    let grace = Duration::from_secs(2).max(plan.timeout.min(Duration::from_secs(10)));
    let start = Instant::now() + Duration::from_millis(50);
    let (plan_model, plan_precise) = (plan.model, plan.precise);
    let ctx = Arc::new(Ctx {
        arrivals: plan.profile.total(),
        plan,
        start,
        end: start + duration + grace,
        stop: AtomicBool::new(false),
        bulk_in_flight: AtomicU64::new(0),
        pacer: match plan_model {
            Model::Open if plan_precise => Some(Pacer::start()?),
            _ => None,
        },
    });
    let recorders: Vec<Recorder> = (0..lanes).map(|_| Recorder::default()).collect();
    let behind: Vec<Arc<AtomicU64>> = (0..lanes).map(|_| Arc::default()).collect();
    let opened = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let (ctx, rec, behind, opened) = (
            ctx.clone(),
            recorders[i].clone(),
            behind[i].clone(),
            opened.clone(),
        );
        tasks.spawn(async move {
            let mut lane = LaneRun {
                ctx,
                i,
                conn,
                rec,
                behind,
                body: Vec::with_capacity(4096),
            };
            lane.run().await;
            if let Some(c) = &lane.conn {
                opened.fetch_add(c.opened.saturating_sub(1), Ordering::Relaxed);
            }
        });
    }

    let mut total = Tally::default();
    let mut seconds = Vec::new();
    let mut saturation = None;
    let mut cpu_before = cpu_time();
    let mut tick = 1u64;
    let mut lanes_done = false;
    let mut late_run = 0u32;
    loop {
        let next = ctx.start + Duration::from_secs(tick);
        if !lanes_done {
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                _ = async { while tasks.join_next().await.is_some() {} } => lanes_done = true,
            }
        } else {
            tokio::time::sleep_until(next.into()).await;
        }
        let finished = lanes_done
            && (ctx.bulk_in_flight.load(Ordering::SeqCst) == 0
                || Instant::now() > ctx.end + ctx.plan.timeout);
        let mut interval = Tally::default();
        for r in &recorders {
            r.drain_into(&mut interval);
        }
        let cpu = cpu_time();
        let cpu_share = (cpu - cpu_before).as_secs_f64() / ctx.plan.threads.max(1) as f64;
        cpu_before = cpu;
        let all = interval.all();
        let t = tick.min(duration.as_secs().max(1) + 60);
        let behind_ms = behind
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
            / 1000;
        let second = Second {
            t,
            target_rate: match ctx.plan.model {
                Model::Open => ctx.plan.profile.rate_at(tick as f64 - 0.5),
                Model::Closed => 0.0,
            },
            completed: all.count(),
            ok: all.ok,
            refused: all.refusals(),
            failed: all.failures(),
            late: all.late,
            latency: Percentiles::of(&all.latency),
            behind_ms,
            generator_cpu: cpu_share,
        };
        total.add(&interval);
        if !finished || second.completed > 0 {
            progress(&second, &ctx.plan.profile);
        }
        // Saturated: a connection is more than a second behind, or more than 1 % of the second's sends were late.
        let late_share = second.late as f64 / second.completed.max(1) as f64;
        let late_now = second.completed >= 100 && late_share > 0.01;
        // A late second or two (a start, a pause of the machine) is not saturation; five in a row are.
        late_run = if late_now { late_run + 1 } else { 0 };
        if saturation.is_none()
            && ctx.plan.model == Model::Open
            && (behind_ms > 1000 || late_run >= 5)
        {
            let limit = if cpu_share >= 0.9 {
                "generator"
            } else {
                "server"
            };
            saturation = Some(Saturation {
                at_second: t,
                target_rate: second.target_rate,
                achieved_rate: second.completed as f64,
                limit,
                why: format!(
                    "at {t} s the target of {:.0}/s was not met: {:.1} % of sends late, the furthest connection \
                     {behind_ms} ms behind, {:.0} % of the generator's CPU in use — the {limit} is the limit",
                    second.target_rate,
                    late_share * 100.0,
                    cpu_share * 100.0
                ),
            });
            if ctx.plan.stop_on_saturation {
                ctx.stop.store(true, Ordering::SeqCst);
            }
        }
        seconds.push(second);
        if finished {
            break;
        }
        tick += 1;
    }
    // Whatever the lanes recorded after the last tick.
    for r in &recorders {
        r.drain_into(&mut total);
    }
    Ok(Outcomes {
        total,
        seconds,
        saturation,
        elapsed: ctx.start.elapsed(),
        reconnects: opened.load(Ordering::Relaxed),
    })
}

struct LaneRun {
    ctx: Arc<Ctx>,
    i: usize,
    conn: Option<Conn>,
    rec: Recorder,
    behind: Arc<AtomicU64>,
    body: Vec<u8>,
}

impl LaneRun {
    async fn run(&mut self) {
        let lanes = self.ctx.plan.lanes.len() as u64;
        let mut k = 0u64;
        tokio::time::sleep_until(self.ctx.start.into()).await;
        let closed_end = self.ctx.start + self.ctx.plan.profile.duration();
        loop {
            let n = self.i as u64 + k * lanes;
            k += 1;
            let due = match self.ctx.plan.model {
                Model::Open => match self.ctx.plan.profile.arrival(n) {
                    Some(at) => self.ctx.start + Duration::from_secs_f64(at),
                    None => break,
                },
                Model::Closed => {
                    let now = Instant::now();
                    if now >= closed_end {
                        break;
                    }
                    now
                }
            };
            match &self.ctx.pacer {
                Some(p) => p.until(due).await,
                None if Instant::now() < due => tokio::time::sleep_until(due.into()).await,
                None => {}
            }
            let sent = Instant::now();
            if sent >= self.ctx.end || self.ctx.stop.load(Ordering::Relaxed) {
                if self.ctx.plan.model == Model::Open && !self.ctx.stop.load(Ordering::Relaxed) {
                    // Never sent: the rest of this lane's arrivals.
                    let left = self.ctx.arrivals.saturating_sub(n).div_ceil(lanes);
                    self.rec.unsent(left);
                }
                break;
            }
            let lag = sent.saturating_duration_since(due);
            self.behind.store(lag.as_micros() as u64, Ordering::Relaxed);
            let late = lag > self.ctx.plan.late_after;
            let op = self.ctx.plan.lanes[self.i].pick(n);
            if op == Op::Bulk {
                // A bulk query polls for seconds: on a connection of its own, as a client's batch job would.
                let (ctx, rec, i) = (self.ctx.clone(), self.rec.clone(), self.i);
                ctx.bulk_in_flight.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut conn = match &ctx.plan.door {
                        Door::Http(e) => Some(Conn::new(e[i].clone())),
                        Door::Folder(_) => None,
                    };
                    let outcome = tokio::time::timeout(
                        ctx.plan.timeout,
                        bulk(&ctx, i, n, conn.as_mut(), &mut Vec::new()),
                    )
                    .await
                    .unwrap_or_else(|_| Outcome::Failed("timeout".into()));
                    let done = Instant::now();
                    rec.record(op, us(done - due), us(done - sent), late, outcome);
                    ctx.bulk_in_flight.fetch_sub(1, Ordering::SeqCst);
                });
                continue;
            }
            let ctx = self.ctx.clone();
            let outcome = tokio::time::timeout(
                ctx.plan.timeout,
                execute(&ctx, self.i, n, op, self.conn.as_mut(), &mut self.body),
            )
            .await
            .unwrap_or_else(|_| {
                // The connection may hold half an answer: start afresh.
                if let Door::Http(e) = &ctx.plan.door {
                    let opened = self.conn.as_ref().map_or(0, |c| c.opened);
                    let mut fresh = Conn::new(e[self.i].clone());
                    fresh.opened = opened;
                    self.conn = Some(fresh);
                }
                Outcome::Failed("timeout".into())
            });
            let done = Instant::now();
            self.rec
                .record(op, us(done - due), us(done - sent), late, outcome);
        }
        self.behind.store(0, Ordering::Relaxed);
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// Classifies an XML answer: 2xx is answered unless `SegmentOfResult` is 9 or `ResultCode` is not 1 (refused with
/// its `ErrorCode`).
fn classify(status: u16, body: &[u8]) -> Outcome {
    let code = || {
        scenario::xml_value(body, "ErrorCode")
            .map(str::to_string)
            .unwrap_or_else(|| format!("http_{status}"))
    };
    match status {
        200..=299 if scenario::xml_value(body, "SegmentOfResult") == Some("9") => {
            Outcome::Refused(code())
        }
        // 薬剤情報 and 特定健診 answers: `ResultCode` 1, or a refusal (no consent, …).
        200..=299 => match scenario::xml_value(body, "ResultCode") {
            Some(rc) if rc != "1" => Outcome::Refused(
                scenario::xml_value(body, "ErrorCode")
                    .map_or_else(|| format!("result_code_{rc}"), str::to_string),
            ),
            _ => Outcome::Ok,
        },
        400..=499 => Outcome::Refused(code()),
        _ => Outcome::Failed(format!("http_{status}")),
    }
}

fn failed(e: std::io::Error) -> Outcome {
    Outcome::Failed(format!("io_{:?}", e.kind()).to_lowercase())
}

/// One XML request over the lane's door.
async fn post_xml(
    ctx: &Ctx,
    i: usize,
    conn: Option<&mut Conn>,
    name: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), Outcome> {
    match (&ctx.plan.door, conn) {
        (Door::Http(_), Some(conn)) => {
            let path = format!("/oqs/v1/req/{name}");
            let a = conn
                .send("POST", &path, &[("Content-Type", "application/xml")], body)
                .await
                .map_err(failed)?;
            Ok((a.status, conn.body(&a).to_vec()))
        }
        (Door::Folder(f), _) => {
            let facility = &ctx.plan.lanes[i].facility;
            f.exchange(facility, name, body)
                .await
                .map(|b| (200, b))
                .map_err(|e| Outcome::Failed(format!("folder: {e}")))
        }
        (Door::Http(_), None) => Err(Outcome::Failed("no connection".into())),
    }
}

async fn execute(
    ctx: &Ctx,
    i: usize,
    n: u64,
    op: Op,
    conn: Option<&mut Conn>,
    body: &mut Vec<u8>,
) -> Outcome {
    let lane = &ctx.plan.lanes[i];
    let deck = &ctx.plan.deck;
    let pick = |v: &[scenario::Person]| (mix64(n ^ 0x5eed) % v.len().max(1) as u64) as usize;
    body.clear();
    match op {
        Op::Hello => match conn {
            Some(c) => match c.send("GET", "/", &[], &[]).await {
                Ok(Answer { status, .. }) if (200..300).contains(&status) => Outcome::Ok,
                Ok(a) => Outcome::Failed(format!("http_{}", a.status)),
                Err(e) => failed(e),
            },
            None => Outcome::Failed("hello needs HTTP".into()),
        },
        Op::Siquc01 | Op::Medication | Op::Checkup => {
            let p = &deck.persons[pick(&deck.persons)];
            let name = match op {
                Op::Siquc01 => {
                    scenario::siquc01(body, &lane.facility, p, n);
                    format!("OQSsiquc01req_L{i}_{n}.xml")
                }
                Op::Medication => {
                    scenario::view(body, true, &lane.facility, p, n);
                    format!("YZKsiquc01req_L{i}_{n}.xml")
                }
                _ => {
                    scenario::view(body, false, &lane.facility, p, n);
                    format!("TKKsiquc01req_L{i}_{n}.xml")
                }
            };
            match post_xml(ctx, i, conn, &name, body).await {
                Ok((status, answer)) => classify(status, &answer),
                Err(o) => o,
            }
        }
        Op::Reader => {
            let Some(c) = conn else {
                return Outcome::Failed("the reader flow needs HTTP".into());
            };
            let p = &deck.cards[pick(&deck.cards)];
            let (serial, _) = p.card.as_ref().expect("a card");
            reader(c, &lane.facility, serial, i).await
        }
        Op::Bulk => bulk(ctx, i, n, conn, body).await,
    }
}

/// The card reader: place the card, identify by face, consent to 薬剤情報 and 特定健診.
async fn reader(c: &mut Conn, facility: &str, serial: &str, lane: usize) -> Outcome {
    let json = [("Content-Type", "application/json")];
    let start = format!("{{\"terminal\":\"L{lane}\",\"card_serial\":\"{serial}\"}}");
    let a = match c
        .send(
            "POST",
            &format!("/reader/v1/{facility}/sessions"),
            &json,
            start.as_bytes(),
        )
        .await
    {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    if !(200..300).contains(&a.status) {
        return http_outcome(a.status);
    }
    let session = serde_json::from_slice::<serde_json::Value>(c.body(&a))
        .ok()
        .and_then(|v| v["session"].as_str().map(str::to_string));
    let Some(session) = session else {
        return Outcome::Failed("no session in the answer".into());
    };
    for (step, body) in [
        ("identify", "{\"method\":\"face\",\"match\":true}"),
        ("consent", "{\"medication\":true,\"checkup\":true}"),
    ] {
        let path = format!("/reader/v1/{facility}/sessions/{session}/{step}");
        match c.send("POST", &path, &json, body.as_bytes()).await {
            Ok(a) if (200..300).contains(&a.status) => {}
            Ok(a) => return http_outcome(a.status),
            Err(e) => return failed(e),
        }
    }
    Outcome::Ok
}

fn http_outcome(status: u16) -> Outcome {
    if (400..500).contains(&status) {
        Outcome::Refused(format!("http_{status}"))
    } else {
        Outcome::Failed(format!("http_{status}"))
    }
}

/// 一括照会: upload `bulk_persons` persons, then poll step 2 until the results are ready.
async fn bulk(
    ctx: &Ctx,
    i: usize,
    n: u64,
    mut conn: Option<&mut Conn>,
    body: &mut Vec<u8>,
) -> Outcome {
    let lane = &ctx.plan.lanes[i];
    let deck = &ctx.plan.deck;
    let persons: Vec<&scenario::Person> = (0..ctx.plan.bulk_persons as u64)
        .map(|j| {
            &deck.persons
                [(mix64(n.wrapping_mul(31).wrapping_add(j)) % deck.persons.len() as u64) as usize]
        })
        .collect();
    body.clear();
    scenario::muquc01(body, &lane.facility, &persons, n);
    let (status, receipt) = match post_xml(
        ctx,
        i,
        conn.as_deref_mut(),
        &format!("OQSmuquc01req_L{i}_{n}.xml"),
        body,
    )
    .await
    {
        Ok(r) => r,
        Err(o) => return o,
    };
    let Some(number) = scenario::xml_value(&receipt, "ReceptionNumber").map(str::to_string) else {
        return classify(status, &receipt);
    };
    let mut poll = 0u64;
    loop {
        poll += 1;
        tokio::time::sleep(ctx.plan.bulk_poll).await;
        body.clear();
        scenario::muquc02(body, &lane.facility, &number);
        let name = format!("OQSmuquc02req_L{i}_{n}_{poll}.xml");
        match post_xml(ctx, i, conn.as_deref_mut(), &name, body).await {
            Ok((status, answer)) => {
                if status == 200 && scenario::xml_value(&answer, "SegmentOfResult") == Some("2") {
                    continue;
                }
                return classify(status, &answer);
            }
            Err(o) => return o,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_segment_result_code_and_status() {
        let ok =
            b"<XmlMsg><MessageHeader><SegmentOfResult>1</SegmentOfResult></MessageHeader></XmlMsg>";
        assert_eq!(classify(200, ok), Outcome::Ok);
        let refused = b"<SegmentOfResult>9</SegmentOfResult><ErrorCode>EC0008</ErrorCode>";
        assert_eq!(classify(200, refused), Outcome::Refused("EC0008".into()));
        assert_eq!(classify(200, b"<ResultCode>1</ResultCode>"), Outcome::Ok);
        assert_eq!(
            classify(
                200,
                b"<ResultCode>2</ResultCode><MessageContents>x</MessageContents>"
            ),
            Outcome::Refused("result_code_2".into())
        );
        assert_eq!(
            classify(413, b"<ErrorCode>EC0009</ErrorCode>"),
            Outcome::Refused("EC0009".into())
        );
        assert_eq!(classify(404, b""), Outcome::Refused("http_404".into()));
        assert_eq!(classify(500, b""), Outcome::Failed("http_500".into()));
    }
}
