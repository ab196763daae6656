//! Arrival-rate profiles of the open model — constant, ramp, step and the compressed "clinic morning" — as
//! piecewise-linear rates, and the exact time of the n-th arrival (the inverse of the cumulative rate), so each
//! request has a scheduled send time fixed before the run starts.

use std::time::Duration;

use serde::Serialize;

/// A stretch of the run whose target rate goes linearly from `from` to `to` requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Segment {
    pub seconds: f64,
    pub from: f64,
    pub to: f64,
}

impl Segment {
    fn arrivals(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.seconds
    }

    /// Seconds into the segment at which `m` arrivals have been due (`m` ≤ [`Self::arrivals`]).
    fn time_of(&self, m: f64) -> f64 {
        // Λ(τ) = from·τ + a·τ², a = (to − from) / 2L; the stable root of a·τ² + from·τ − m = 0.
        let a = (self.to - self.from) / (2.0 * self.seconds);
        let disc = (self.from * self.from + 4.0 * a * m).max(0.0);
        let denom = self.from + disc.sqrt();
        if denom <= 0.0 {
            self.seconds
        } else {
            (2.0 * m / denom).min(self.seconds)
        }
    }
}

/// A named rate profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: String,
    pub segments: Vec<Segment>,
}

/// The shape of a clinic's morning (fraction of the peak rate at hours of the day), 08:00–14:00: the doors open
/// at 08:00, the peak holds 08:30–09:30, then eases to the lunch dip 12:00–13:00 and the afternoon opening.
const CLINIC_DAY: &[(f64, f64)] = &[
    (8.0, 0.05),
    (8.5, 1.0),
    (9.5, 1.0),
    (11.5, 0.6),
    (12.0, 0.15),
    (13.0, 0.15),
    (13.5, 0.5),
    (14.0, 0.5),
];

impl Profile {
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Self {
            name: format!("constant {rate}/s"),
            segments: vec![Segment {
                seconds: duration.as_secs_f64(),
                from: rate,
                to: rate,
            }],
        }
    }

    pub fn ramp(from: f64, to: f64, duration: Duration) -> Self {
        Self {
            name: format!("ramp {from}/s → {to}/s"),
            segments: vec![Segment {
                seconds: duration.as_secs_f64(),
                from,
                to,
            }],
        }
    }

    /// Steps of `every` from `from`, up by `step`, until `to` (the step-to-saturation profile).
    pub fn step(from: f64, step: f64, to: f64, every: Duration) -> Self {
        let mut segments = Vec::new();
        let mut rate = from;
        while rate <= to + f64::EPSILON && segments.len() < 10_000 {
            segments.push(Segment {
                seconds: every.as_secs_f64(),
                from: rate,
                to: rate,
            });
            rate += step;
        }
        Self {
            name: format!(
                "step {from}/s +{step}/s every {}s to {to}/s",
                every.as_secs_f64()
            ),
            segments,
        }
    }

    /// The clinic day 08:00–14:00 compressed into `duration`, peaking at `peak`.
    pub fn clinic_morning(peak: f64, duration: Duration) -> Self {
        let day = CLINIC_DAY[CLINIC_DAY.len() - 1].0 - CLINIC_DAY[0].0;
        let scale = duration.as_secs_f64() / day;
        let segments = CLINIC_DAY
            .windows(2)
            .map(|w| Segment {
                seconds: (w[1].0 - w[0].0) * scale,
                from: w[0].1 * peak,
                to: w[1].1 * peak,
            })
            .collect();
        Self {
            name: format!(
                "clinic morning (08:00–14:00 in {}s, peak {peak}/s)",
                duration.as_secs_f64()
            ),
            segments,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.segments.iter().map(|s| s.seconds).sum())
    }

    /// Arrivals due over the whole run.
    pub fn total(&self) -> u64 {
        self.segments
            .iter()
            .map(Segment::arrivals)
            .sum::<f64>()
            .floor() as u64
    }

    /// The highest target rate of the run.
    pub fn peak(&self) -> f64 {
        self.segments
            .iter()
            .flat_map(|s| [s.from, s.to])
            .fold(0.0, f64::max)
    }

    /// The target rate `t` seconds into the run.
    pub fn rate_at(&self, t: f64) -> f64 {
        let mut start = 0.0;
        for s in &self.segments {
            if t < start + s.seconds {
                return s.from + (s.to - s.from) * (t - start) / s.seconds;
            }
            start += s.seconds;
        }
        0.0
    }

    /// Seconds from the start at which arrival `n` (from 0) is due; `None` past the end of the run.
    pub fn arrival(&self, n: u64) -> Option<f64> {
        // Arrival n is due when n + ½ arrivals have been due, so a constant rate r sends at (n + ½)/r.
        let mut m = n as f64 + 0.5;
        let mut start = 0.0;
        for s in &self.segments {
            let a = s.arrivals();
            if m <= a {
                return Some(start + s.time_of(m));
            }
            m -= a;
            start += s.seconds;
        }
        None
    }
}

/// Parses `500ms`, `30s`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (500ms, 30s, 2m, 1h)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s, m or h")),
    };
    if !(secs > 0.0 && secs <= 7.0 * 86_400.0) {
        return Err(format!("{s:?}: a duration from 1ms to 7 days"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_sends_evenly() {
        let p = Profile::constant(1000.0, Duration::from_secs(10));
        assert_eq!(p.total(), 10_000);
        assert!((p.arrival(0).unwrap() - 0.0005).abs() < 1e-9);
        assert!((p.arrival(999).unwrap() - 0.9995).abs() < 1e-9);
        assert!(p.arrival(9_999).is_some());
        assert!(p.arrival(10_000).is_none());
    }

    #[test]
    fn a_ramp_sends_more_as_the_rate_rises() {
        let p = Profile::ramp(0.0, 1000.0, Duration::from_secs(10));
        assert_eq!(p.total(), 5_000);
        // Half the arrivals come in the last 29 % of the run: Λ(t) = 50 t².
        let t = p.arrival(2_500).unwrap();
        assert!((t - (2500.5f64 / 50.0).sqrt()).abs() < 1e-6, "{t}");
        let times: Vec<f64> = (0..5_000).map(|n| p.arrival(n).unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_falling_rate_and_a_zero_rate_are_exact() {
        let p = Profile::ramp(1000.0, 0.0, Duration::from_secs(10));
        assert_eq!(p.total(), 5_000);
        let last = p.arrival(4_999).unwrap();
        assert!(last < 10.0 && last > 9.0, "{last}");
        assert!(Profile::constant(0.0, Duration::from_secs(5))
            .arrival(0)
            .is_none());
    }

    #[test]
    fn steps_and_the_clinic_morning_have_their_shape() {
        let p = Profile::step(1000.0, 1000.0, 5000.0, Duration::from_secs(10));
        assert_eq!(p.segments.len(), 5);
        assert_eq!(p.total(), 150_000);
        assert_eq!(p.rate_at(45.0), 5000.0);
        let m = Profile::clinic_morning(3000.0, Duration::from_secs(360));
        assert_eq!(m.duration(), Duration::from_secs(360));
        // 60 s per simulated hour: 09:00 is at 60 s (peak), 12:30 at 270 s (lunch).
        assert_eq!(m.rate_at(60.0), 3000.0);
        assert!((m.rate_at(270.0) - 450.0).abs() < 1e-6);
        assert_eq!(m.peak(), 3000.0);
    }

    #[test]
    fn durations_parse_with_clear_errors() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert!(parse_duration("2x").unwrap_err().contains("unit"));
        assert!(parse_duration("0s").unwrap_err().contains("from 1ms"));
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("not a duration"));
    }
}
