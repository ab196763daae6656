//! The 2024 rule on re-queries by stored numbers (seed 004; `onshi_platform::config::RequeryRule`): qualification
//! rests on what the patient presents — the My Number card at the reader, or the insurance card — at least once in
//! each month; the month's other visits may be confirmed by re-querying the numbers the facility keeps.
//!
//! [`Presentations`] records each facility's last presentation per patient: in memory on the answer path (one short
//! lock, no database write), written to `eligibility.presentations` every second, before every check and at stop,
//! so a check sees the presentations of every process up to a second old. [`Requery`] rows are the requery log
//! (`eligibility.requeries`): every re-query by stored numbers, flagged when its month had no presentation.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};

use onshi_platform::usage::{Method, Usage};

/// What the patient presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    MyNumberCard,
    InsuranceCard,
}

impl How {
    fn label(self) -> &'static str {
        match self {
            How::MyNumberCard => "mynumber_card",
            How::InsuranceCard => "insurance_card",
        }
    }
}

/// Presentations not yet written, the latest per facility and person.
#[derive(Debug, Default)]
pub struct Presentations {
    pending: Mutex<HashMap<(String, String), (NaiveDateTime, How)>>,
}

/// The first moment of the month of `at`.
fn month_start(at: NaiveDateTime) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1)
        .expect("first of a month")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
}

impl Presentations {
    /// Records that `person` presented `how` at `facility` at `at` (simulated).
    pub fn record(&self, facility: &str, person: &str, at: NaiveDateTime, how: How) {
        let mut pending = self.pending.lock().expect("presentations");
        let e = pending
            .entry((facility.to_string(), person.to_string()))
            .or_insert((at, how));
        if at >= e.0 {
            *e = (at, how);
        }
    }

    /// Forgets what was not written (the database was replaced by a snapshot).
    pub fn clear(&self) {
        self.pending.lock().expect("presentations").clear();
    }

    /// Writes the pending presentations (kept for the next try on failure); returns how many.
    pub async fn flush(&self, pool: &PgPool) -> sqlx::Result<usize> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("presentations"));
        if taken.is_empty() {
            return Ok(0);
        }
        let (mut facility, mut person, mut at, mut how) = (vec![], vec![], vec![], vec![]);
        for ((f, p), (t, h)) in &taken {
            facility.push(f.as_str());
            person.push(p.as_str());
            at.push(*t);
            how.push(h.label());
        }
        let written = sqlx::query(
            "INSERT INTO eligibility.presentations (facility, person_id, presented_at, how) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamp[], $4::text[]) \
             ON CONFLICT (facility, person_id) DO UPDATE SET presented_at = EXCLUDED.presented_at, how = EXCLUDED.how \
             WHERE EXCLUDED.presented_at >= eligibility.presentations.presented_at",
        )
        .bind(&facility)
        .bind(&person)
        .bind(&at)
        .bind(&how)
        .execute(pool)
        .await;
        if let Err(e) = written {
            let mut pending = self.pending.lock().expect("presentations");
            for (k, v) in taken {
                pending.entry(k).or_insert(v);
            }
            return Err(e);
        }
        Ok(taken.len())
    }

    /// For each of `persons`, the facility's last presentation in the month of `at` and not after it.
    pub async fn in_month(
        &self,
        pool: &PgPool,
        facility: &str,
        persons: &[String],
        at: NaiveDateTime,
    ) -> sqlx::Result<HashMap<String, NaiveDateTime>> {
        self.flush(pool).await?;
        let rows: Vec<(String, NaiveDateTime)> = sqlx::query_as(
            "SELECT person_id, presented_at FROM eligibility.presentations \
             WHERE facility = $1 AND person_id = ANY($2) AND presented_at >= $3 AND presented_at <= $4",
        )
        .bind(facility)
        .bind(persons)
        .bind(month_start(at))
        .bind(at)
        .fetch_all(pool)
        .await?;
        Ok(rows.into_iter().collect())
    }
}

/// One re-query by stored numbers, as the requery log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Requery {
    pub at: NaiveDateTime,
    pub facility: String,
    pub person_id: String,
    /// `single` or `bulk`.
    pub via: String,
    pub reception_number: Option<String>,
    /// The month's presentation it rests on; `None`: flagged.
    pub last_presented: Option<NaiveDateTime>,
    pub flagged: bool,
    pub refused: bool,
}

/// Appends re-queries to the requery log.
pub async fn log<'e>(db: impl PgExecutor<'e>, rows: &[Requery]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Requery) -> String| rows.iter().map(f).collect::<Vec<String>>();
    sqlx::query(
        "INSERT INTO eligibility.requeries (at, facility, person_id, via, reception_number, last_presented, flagged, refused) \
         SELECT * FROM UNNEST($1::timestamp[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamp[], \
                              $7::bool[], $8::bool[])",
    )
    .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
    .bind(col(|r| r.facility.clone()))
    .bind(col(|r| r.person_id.clone()))
    .bind(col(|r| r.via.clone()))
    .bind(rows.iter().map(|r| r.reception_number.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.last_presented).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.flagged).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.refused).collect::<Vec<_>>())
    .execute(db)
    .await?;
    Ok(())
}

/// Counts re-queries in the usage statistics (allowed and flagged).
pub fn count(usage: &Usage, rows: &[Requery]) {
    for r in rows {
        let method = if r.flagged {
            Method::RequeryUnpresented
        } else {
            Method::Requery
        };
        usage.record(&r.facility, r.at, method, 1);
    }
}

/// The requery log of a facility (or all), a month (`YYYYMM`) and flagged or not, newest first, at most `limit`.
pub async fn list(
    pool: &PgPool,
    facility: Option<&str>,
    month: Option<NaiveDate>,
    flagged: Option<bool>,
    limit: i64,
) -> sqlx::Result<Vec<Requery>> {
    let (from, to) = match month {
        Some(m) => {
            let start = m.and_hms_opt(0, 0, 0).expect("midnight");
            let next = m.checked_add_months(chrono::Months::new(1)).unwrap_or(m);
            (
                Some(start),
                Some(next.and_hms_opt(0, 0, 0).expect("midnight")),
            )
        }
        None => (None, None),
    };
    sqlx::query_as(
        "SELECT at, facility, person_id, via, reception_number, last_presented, flagged, refused \
         FROM eligibility.requeries \
         WHERE ($1::text IS NULL OR facility = $1) AND ($2::timestamp IS NULL OR at >= $2) \
           AND ($3::timestamp IS NULL OR at < $3) AND ($4::bool IS NULL OR flagged = $4) \
         ORDER BY at DESC, id DESC LIMIT $5",
    )
    .bind(facility)
    .bind(from)
    .bind(to)
    .bind(flagged)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_presentation_is_kept() {
        let p = Presentations::default();
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        p.record(
            "1310112345",
            "a",
            t("2026-11-21T10:00:00"),
            How::InsuranceCard,
        );
        p.record(
            "1310112345",
            "a",
            t("2026-11-20T10:00:00"),
            How::MyNumberCard,
        );
        let pending = p.pending.lock().unwrap();
        assert_eq!(
            pending[&("1310112345".to_string(), "a".to_string())],
            (t("2026-11-21T10:00:00"), How::InsuranceCard)
        );
    }

    #[test]
    fn a_month_starts_on_its_first_day() {
        let t = NaiveDateTime::parse_from_str("2026-11-21T10:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        assert_eq!(month_start(t).to_string(), "2026-11-01 00:00:00");
    }
}
