//! The simulated clock: the only source of "now" in service code.
//!
//! Its state lives in PostgreSQL (`clock.state`, one row) so every process agrees on the time; each process
//! caches it and reloads on `NOTIFY onshi_clock` (sent by every change) and every few seconds as a fallback.
//! Reading the clock never touches the database. Simulated time is JST wall-clock time (`NaiveDateTime`).

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{NaiveDateTime, TimeDelta};
use serde::Serialize;
use sqlx::PgPool;

use onshi_wire::ids::{Date, DateTime};

/// NOTIFY channel announcing a clock change.
pub const CHANNEL: &str = "onshi_clock";

/// The earliest simulated time the clock accepts (the 資格取得年月日 of the oldest qualification a registry can
/// hold is later than this).
pub const EARLIEST: &str = "1900-01-01T00:00:00";
/// The latest simulated time the clock accepts.
pub const LATEST: &str = "2199-12-31T23:59:59";

/// The range as times, parsed once (every reading of the clock checks it).
fn bounds() -> (NaiveDateTime, NaiveDateTime) {
    static BOUNDS: std::sync::LazyLock<(NaiveDateTime, NaiveDateTime)> =
        std::sync::LazyLock::new(|| {
            let at =
                |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").expect("a valid bound");
            (at(EARLIEST), at(LATEST))
        });
    *BOUNDS
}

/// `t` if the clock may show it, otherwise why not (set and advance are refused outside [`EARLIEST`, `LATEST`]).
pub fn check_range(t: NaiveDateTime) -> Result<NaiveDateTime, String> {
    let (lo, hi) = bounds();
    if t < lo || t > hi {
        return Err(format!(
            "{} is outside the clock's range ({EARLIEST} to {LATEST})",
            t.format("%Y-%m-%dT%H:%M:%S")
        ));
    }
    Ok(t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    sim_base: NaiveDateTime,
    real_base_ms: i64,
    frozen: bool,
}

/// The one place that reads the machine's time (milliseconds since the epoch).
fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The machine's real time in JST (UTC+9), to the second — not the simulated time. Used only where a client
/// compares a stamp with its own machine's clock: face file names under [`crate::config::FaceNameClock::Wall`].
pub fn wall_jst() -> DateTime {
    let real = chrono::DateTime::from_timestamp_millis(real_now_ms() / 1000 * 1000)
        .unwrap_or_default()
        .naive_utc();
    DateTime::from_naive(real + TimeDelta::hours(9))
}

impl State {
    /// The simulated time at a real instant, kept within the clock's range (a state stored by an older version
    /// outside it, or decades of running, never overflows).
    fn now_at(&self, real_ms: i64) -> NaiveDateTime {
        let (lo, hi) = bounds();
        let t = if self.frozen {
            Some(self.sim_base)
        } else {
            TimeDelta::try_milliseconds(real_ms.saturating_sub(self.real_base_ms))
                .and_then(|d| self.sim_base.checked_add_signed(d))
        };
        t.unwrap_or(hi).clamp(lo, hi)
    }
}

/// What the admin endpoint and the CLI show.
#[derive(Debug, Clone, Serialize)]
pub struct ClockView {
    /// `YYYY-MM-DDTHH:MM:SS` JST.
    pub now: String,
    /// `YYYYMMDDHHmmss`, the spec's form.
    pub compact: String,
    pub frozen: bool,
}

/// A handle to the simulated clock; cheap to clone.
#[derive(Clone)]
pub struct SimClock {
    state: Arc<RwLock<State>>,
    pool: Option<PgPool>,
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimClock({})", self.now())
    }
}

impl SimClock {
    /// A clock stopped at `t`, not shared with any database (unit tests and benchmarks).
    pub fn fixed(t: NaiveDateTime) -> Self {
        Self {
            state: Arc::new(RwLock::new(State {
                sim_base: t,
                real_base_ms: 0,
                frozen: true,
            })),
            pool: None,
        }
    }

    /// The shared clock: listens for changes first, then loads the state (so no change between the two is
    /// missed), and keeps it fresh in the background.
    pub async fn connect(pool: &PgPool) -> anyhow::Result<Self> {
        let listener = crate::db::listen(pool, CHANNEL).await;
        let state = load(pool).await?;
        let clock = Self {
            state: Arc::new(RwLock::new(state)),
            pool: Some(pool.clone()),
        };
        clock.spawn_refresher(listener);
        Ok(clock)
    }

    fn spawn_refresher(&self, listener: Option<sqlx::postgres::PgListener>) {
        let Some(pool) = self.pool.clone() else {
            return;
        };
        let weak = Arc::downgrade(&self.state);
        crate::db::follow(listener, move || {
            let (weak, pool) = (weak.clone(), pool.clone());
            async move {
                let Some(state) = weak.upgrade() else {
                    return false;
                };
                match load(&pool).await {
                    Ok(s) => *state.write().expect("clock lock") = s,
                    Err(e) => tracing::debug!(error = %e, "clock: reload failed"),
                }
                true
            }
        });
    }

    /// Now, in simulated JST.
    pub fn now(&self) -> NaiveDateTime {
        self.state.read().expect("clock lock").now_at(real_now_ms())
    }

    /// Now as the spec's date-time (seconds precision).
    pub fn now_dt(&self) -> DateTime {
        use chrono::Timelike;
        DateTime::from_naive(self.now().with_nanosecond(0).expect("valid"))
    }

    /// Today's simulated date.
    pub fn today(&self) -> Date {
        Date::from_naive(self.now().date())
    }

    pub fn view(&self) -> ClockView {
        let now = self.now_dt();
        ClockView {
            now: now.naive().format("%Y-%m-%dT%H:%M:%S").to_string(),
            compact: now.compact(),
            frozen: self.state.read().expect("clock lock").frozen,
        }
    }

    fn pool(&self) -> anyhow::Result<&PgPool> {
        self.pool
            .as_ref()
            .context("this clock is fixed and cannot be changed")
    }

    async fn store(&self, state: State) -> anyhow::Result<()> {
        let pool = self.pool()?;
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE clock.state SET sim_base = $1, real_base_ms = $2, frozen = $3, changed_at = now() WHERE id = 1",
        )
        .bind(state.sim_base)
        .bind(state.real_base_ms)
        .bind(state.frozen)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        *self.state.write().expect("clock lock") = state;
        Ok(())
    }

    /// Sets the time; the clock keeps its running/frozen mode.
    pub async fn set(&self, t: NaiveDateTime) -> anyhow::Result<ClockView> {
        let t = check_range(t).map_err(anyhow::Error::msg)?;
        let frozen = self.state.read().expect("clock lock").frozen;
        self.store(State {
            sim_base: t,
            real_base_ms: real_now_ms(),
            frozen,
        })
        .await?;
        Ok(self.view())
    }

    /// Moves the time forward (or back, with a negative delta).
    pub async fn advance(&self, delta: TimeDelta) -> anyhow::Result<ClockView> {
        let t = self.advanced(delta).map_err(anyhow::Error::msg)?;
        self.set(t).await
    }

    /// Now moved by `delta`, if that is within the clock's range.
    pub fn advanced(&self, delta: TimeDelta) -> Result<NaiveDateTime, String> {
        self.now()
            .checked_add_signed(delta)
            .ok_or_else(|| {
                format!("moving the clock by {delta} leaves its range ({EARLIEST} to {LATEST})")
            })
            .and_then(check_range)
    }

    /// Stops the clock at the current time (or keeps it running when `frozen` is false).
    pub async fn set_frozen(&self, frozen: bool) -> anyhow::Result<ClockView> {
        let real = real_now_ms();
        let now = self.state.read().expect("clock lock").now_at(real);
        self.store(State {
            sim_base: now,
            real_base_ms: real,
            frozen,
        })
        .await?;
        Ok(self.view())
    }

    /// Re-reads the shared state now (after a change made by another process).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let s = load(self.pool()?).await?;
        *self.state.write().expect("clock lock") = s;
        Ok(())
    }
}

async fn load(pool: &PgPool) -> anyhow::Result<State> {
    let (sim_base, real_base_ms, frozen): (NaiveDateTime, i64, bool) =
        sqlx::query_as("SELECT sim_base, real_base_ms, frozen FROM clock.state WHERE id = 1")
            .fetch_one(pool)
            .await
            .context("reading clock.state (are migrations applied?)")?;
    Ok(State {
        sim_base,
        real_base_ms,
        frozen,
    })
}

/// Parses a clock argument: `2026-04-01`, `2026-04-01T09:30:00`, `2026-04-01 09:30` or `20260401093000`.
pub fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight"));
    }
    if s.len() == 8 {
        if let Ok(d) = Date::parse(s) {
            return Ok(d.naive().and_hms_opt(0, 0, 0).expect("midnight"));
        }
    }
    DateTime::parse(s)
        .map(|d| d.naive())
        .map_err(|_| format!("cannot read {s:?} as a time (try 2026-04-01T09:00:00)"))
}

/// [`parse_time`] within the clock's range: what `set` accepts.
pub fn parse_clock_time(s: &str) -> Result<NaiveDateTime, String> {
    parse_time(s).and_then(check_range)
}

/// Parses a duration: `90s`, `15m`, `3h`, `2d`, `1w`, optionally negative (`-1d`).
pub fn parse_delta(s: &str) -> Result<TimeDelta, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: add a unit (s, m, h, d, w)"))?;
    let n: i64 = body[..split]
        .parse()
        .map_err(|_| format!("{s:?}: not a number"))?;
    let d = match &body[split..] {
        "s" => TimeDelta::try_seconds(n),
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "w" => TimeDelta::try_weeks(n),
        u => return Err(format!("{s:?}: unknown unit {u:?} (s, m, h, d, w)")),
    }
    .ok_or_else(|| format!("{s:?}: out of range"))?;
    Ok(if neg { -d } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_refuses_times_out_of_its_range_without_panicking() {
        assert!(parse_clock_time("+262142-12-31T23:59:59").is_err());
        assert!(parse_clock_time("-5000-01-01T00:00:00").is_err());
        assert!(parse_clock_time("1899-12-31T23:59:59").is_err());
        assert!(parse_clock_time("2200-01-01").is_err());
        assert!(parse_clock_time("1900-01-01").is_ok());
        assert!(parse_clock_time("2199-12-31T23:59:59").is_ok());
        let c = SimClock::fixed(parse_time("2026-04-01").unwrap());
        assert!(parse_delta("1000000000w")
            .map(|d| c.advanced(d))
            .is_ok_and(|r| r.is_err()));
        assert!(c.advanced(parse_delta("-200000d").unwrap()).is_err());
        assert!(c.advanced(parse_delta("1d").unwrap()).is_ok());
        // A state stored out of range (by an older version) reads as the nearest bound, never a panic.
        let far = State {
            sim_base: NaiveDateTime::MAX,
            real_base_ms: 0,
            frozen: false,
        };
        assert_eq!(far.now_at(i64::MAX).format("%Y").to_string(), "2199");
        let early = State {
            sim_base: NaiveDateTime::MIN,
            real_base_ms: i64::MAX,
            frozen: true,
        };
        assert_eq!(early.now_at(0).format("%Y").to_string(), "1900");
    }

    #[test]
    fn fixed_clock_does_not_move() {
        let t = parse_time("2026-04-01T09:00:00").unwrap();
        let c = SimClock::fixed(t);
        assert_eq!(c.now(), t);
        assert_eq!(c.today().compact(), "20260401");
        assert_eq!(c.now_dt().compact(), "20260401090000");
    }

    #[test]
    fn running_state_moves_with_real_time() {
        let t = parse_time("2026-04-01").unwrap();
        let s = State {
            sim_base: t,
            real_base_ms: 1_000,
            frozen: false,
        };
        assert_eq!(s.now_at(4_000), t + TimeDelta::seconds(3));
        let f = State { frozen: true, ..s };
        assert_eq!(f.now_at(4_000), t);
    }

    #[test]
    fn parses_times_and_deltas() {
        assert_eq!(
            parse_time("20260401093000").unwrap(),
            parse_time("2026-04-01 09:30").unwrap()
        );
        assert_eq!(
            parse_time("20260401").unwrap(),
            parse_time("2026-04-01").unwrap()
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_delta("2d").unwrap(), TimeDelta::days(2));
        assert_eq!(parse_delta("-90s").unwrap(), TimeDelta::seconds(-90));
        assert!(parse_delta("5").is_err());
        assert!(parse_delta("5y").is_err());
    }
}
