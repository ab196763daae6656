//! Claim intake and the extraction schedule.
//!
//! * **Intake**: a UKE file is accepted on the 5th–12th of the month (simulated clock; configurable), parsed
//!   completely (a bad file is refused whole, with its line and reason), stored as received with its receipt time,
//!   and its receipts matched to insured persons (an unknown person is reported and kept, not extracted). The same
//!   file again changes nothing.
//! * **Schedule**: files received on the 5th–10th become visible together by the morning of the 11th, the 11th's
//!   by the 12th, the 12th's by the 13th ([`batch_at`], 05:00). The batch runner extracts due files one
//!   transaction per file, so a crash mid-batch is completed exactly once by the next run.
//! * **Later claim wins**: a receipt for the same patient, institution, 診療年月 (and prescriber) extracted later
//!   supersedes the earlier one as a whole; the superseded receipt is kept.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime};
use serde::Serialize;
use sqlx::PgPool;

use onshi_core::directory::Directory;
use onshi_core::ids::{CardNumber, CardSymbol};

use crate::master::{Drug, NOT_IN_MASTER};
use crate::uke::{self, UkeFile};

/// Visibility time of a batch (the "morning").
pub const BATCH_HOUR: u32 = 5;

/// When the medication of a file received at `received` becomes visible: 5th–10th → the 11th, 11th → the 12th,
/// 12th → the 13th (of the same month), at [`BATCH_HOUR`]. Other days (a widened window) → the next day.
pub fn batch_at(received: NaiveDateTime) -> NaiveDateTime {
    let d = received.date();
    let date = if (5..=10).contains(&d.day()) {
        d.with_day(11).expect("every month has an 11th")
    } else {
        d.succ_opt().expect("a next day")
    };
    date.and_hms_opt(BATCH_HOUR, 0, 0).expect("time")
}

/// The answer to an intake.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeReport {
    pub file_id: i64,
    pub duplicate: bool,
    pub kind: String,
    pub facility: String,
    pub claim_month: String,
    pub receipts: usize,
    pub drug_lines: usize,
    /// Receipt numbers whose patient is not an insured person known to the system.
    pub unmatched_receipts: Vec<u32>,
    /// When this file's medication becomes visible.
    pub visible_from: String,
}

/// Why a file was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(
        "claims are accepted from the {from}th to the {to}th of the month; today is the {today}th"
    )]
    OutsideWindow { from: u32, to: u32, today: u32 },
    #[error("the file was refused: {0}")]
    Invalid(#[from] uke::UkeError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn claim_key(person: &str, file: &UkeFile, r: &uke::Receipt) -> String {
    format!(
        "{person}|{}|{}|{}",
        file.facility,
        r.month,
        r.prescriber.as_ref().map(|p| p.0.as_str()).unwrap_or("")
    )
}

/// Accepts one file.
pub async fn intake(
    pool: &PgPool,
    dir: &dyn Directory,
    window: (u32, u32),
    now: NaiveDateTime,
    bytes: &[u8],
) -> Result<IntakeReport, IntakeError> {
    let today = now.day();
    if today < window.0 || today > window.1 {
        return Err(IntakeError::OutsideWindow {
            from: window.0,
            to: window.1,
            today,
        });
    }
    let file = uke::parse(bytes)?;
    let sha = onshi_core::sha256_hex(bytes);
    let drug_lines = file.receipts.iter().map(|r| r.drugs.len()).sum();
    let mut report = IntakeReport {
        file_id: 0,
        duplicate: false,
        kind: file.kind.name().into(),
        facility: file.facility.as_str().into(),
        claim_month: file.claim_month.clone(),
        receipts: file.receipts.len(),
        drug_lines,
        unmatched_receipts: vec![],
        visible_from: String::new(),
    };
    let resolved: Vec<_> = file
        .receipts
        .iter()
        .map(|r| {
            let insurer = r.insurer.expect("checked by the parser");
            let symbol = CardSymbol::parse(&r.symbol).ok()?;
            let number = CardNumber::parse(&r.card_number).ok()?;
            dir.person(
                &insurer,
                &symbol,
                &number,
                r.branch.as_deref(),
                Some(r.birth),
            )
        })
        .collect();
    for (r, p) in file.receipts.iter().zip(&resolved) {
        if p.is_none() {
            report.unmatched_receipts.push(r.number);
        }
    }
    let mut tx = pool.begin().await?;
    let existing: Option<(i64, NaiveDateTime)> =
        sqlx::query_as("SELECT id, batch_at FROM medication.claim_files WHERE sha256 = $1")
            .bind(&sha)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((id, at)) = existing {
        report.file_id = id;
        report.duplicate = true;
        report.visible_from = at.format("%Y-%m-%dT%H:%M:%S").to_string();
        return Ok(report);
    }
    let at = batch_at(now);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO medication.claim_files (sha256, facility, kind, claim_month, received_at, batch_at, receipts, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&sha)
    .bind(file.facility.as_str())
    .bind(file.kind.name())
    .bind(&file.claim_month)
    .bind(now)
    .bind(at)
    .bind(file.receipts.len() as i32)
    .bind(bytes)
    .fetch_one(&mut *tx)
    .await?;
    for (r, p) in file.receipts.iter().zip(&resolved) {
        let key = claim_key(
            p.as_ref().map(|p| p.person_id.as_str()).unwrap_or("?"),
            &file,
            r,
        );
        sqlx::query(
            "INSERT INTO medication.receipts (file_id, receipt_no, claim_key, search_number, qualification_id, person_id, treatment_month) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(r.number as i32)
        .bind(key)
        .bind(&r.search_number)
        .bind(p.as_ref().map(|p| p.qualification_id.clone()))
        .bind(p.as_ref().map(|p| p.person_id.clone()))
        .bind(&r.month)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    report.file_id = id;
    report.visible_from = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    tracing::info!(
        file = id,
        receipts = report.receipts,
        unmatched = report.unmatched_receipts.len(),
        "medication: claim file received"
    );
    Ok(report)
}

/// A batch: the files that become visible at one time.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Batch {
    pub batch_at: NaiveDateTime,
    pub files: i64,
    pub pending: i64,
    pub receipts: i64,
    pub first_received: NaiveDateTime,
    pub last_received: NaiveDateTime,
    pub last_extracted: Option<NaiveDateTime>,
    /// pending | running | done (computed).
    #[sqlx(default)]
    pub state: String,
}

pub async fn batches(pool: &PgPool) -> sqlx::Result<Vec<Batch>> {
    let mut rows: Vec<Batch> = sqlx::query_as(
        "SELECT batch_at, count(*) AS files, count(*) FILTER (WHERE extracted_at IS NULL) AS pending, \
         sum(receipts)::bigint AS receipts, min(received_at) AS first_received, max(received_at) AS last_received, \
         max(extracted_at) AS last_extracted FROM medication.claim_files GROUP BY batch_at ORDER BY batch_at",
    )
    .fetch_all(pool)
    .await?;
    for b in &mut rows {
        b.state = match (b.pending, b.files) {
            (0, _) => "done",
            (p, f) if p < f => "running",
            _ => "pending",
        }
        .into();
    }
    Ok(rows)
}

/// Extracts every file due at `now`; with `force`, the earliest pending batch even if not due yet (it becomes
/// visible now). Returns the files extracted.
pub async fn run_batches(pool: &PgPool, now: NaiveDateTime, force: bool) -> anyhow::Result<usize> {
    let due: Vec<(i64, NaiveDateTime)> = if force {
        sqlx::query_as(
            "SELECT id, batch_at FROM medication.claim_files WHERE extracted_at IS NULL AND batch_at = \
             (SELECT min(batch_at) FROM medication.claim_files WHERE extracted_at IS NULL) ORDER BY received_at, id",
        )
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as(
            "SELECT id, batch_at FROM medication.claim_files WHERE extracted_at IS NULL AND batch_at <= $1 \
             ORDER BY received_at, id",
        )
        .bind(now)
        .fetch_all(pool)
        .await?
    };
    for (id, at) in &due {
        extract_file(pool, *id, if force { now.min(*at) } else { *at }, now).await?;
    }
    if !due.is_empty() {
        tracing::info!(files = due.len(), "medication: batch extracted");
    }
    Ok(due.len())
}

/// Extracts one file in one transaction (receipts superseded, medication rows written, file marked).
async fn extract_file(
    pool: &PgPool,
    id: i64,
    visible_from: NaiveDateTime,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let row: Option<(Vec<u8>,)> = sqlx::query_as(
        "SELECT content FROM medication.claim_files WHERE id = $1 AND extracted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((content,)) = row else {
        return Ok(()); // another runner did it
    };
    let file = uke::parse(&content)?;
    let receipts: Vec<(i64, i32, String, Option<String>)> = sqlx::query_as(
        "SELECT id, receipt_no, claim_key, person_id FROM medication.receipts WHERE file_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let by_no: HashMap<i32, (i64, String, Option<String>)> = receipts
        .into_iter()
        .map(|(rid, no, key, p)| (no, (rid, key, p)))
        .collect();
    let codes: Vec<String> = file
        .receipts
        .iter()
        .flat_map(|r| r.drugs.iter().map(|d| d.code.clone()))
        .collect();
    let drugs: HashMap<String, Drug> = sqlx::query_as::<_, Drug>(
        "SELECT code, name, unit, ingredient FROM medication.drugs WHERE code = ANY($1)",
    )
    .bind(&codes)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|d| (d.code.clone(), d))
    .collect();
    for r in &file.receipts {
        let Some((rid, key, Some(person))) = by_no.get(&(r.number as i32)) else {
            continue; // unmatched: kept, reported at intake, not extracted
        };
        sqlx::query(
            "UPDATE medication.receipts SET superseded_by = $2 WHERE claim_key = $1 AND id <> $2 \
             AND superseded_by IS NULL AND file_id IN (SELECT id FROM medication.claim_files WHERE extracted_at IS NOT NULL)",
        )
        .bind(key)
        .bind(rid)
        .execute(&mut *tx)
        .await?;
        let (prescriber, prescriber_name, in_out) = match &r.prescriber {
            Some((code, name)) => (code.clone(), name.clone(), "2"),
            None => (
                file.facility.as_str().to_string(),
                file.facility_name.clone(),
                "1",
            ),
        };
        let n = r.drugs.len();
        let mut cols: [Vec<String>; 8] = Default::default();
        let mut dates = Vec::with_capacity(n);
        let mut prescribed = Vec::with_capacity(n);
        let mut usage: Vec<Option<String>> = Vec::with_capacity(n);
        let mut ingredient: Vec<Option<String>> = Vec::with_capacity(n);
        for d in &r.drugs {
            let m = drugs.get(&d.code);
            dates.push(d.date);
            prescribed.push(d.prescribed_on);
            usage.push(d.usage.clone());
            ingredient.push(m.and_then(|m| m.ingredient.clone()));
            for (c, v) in cols.iter_mut().zip([
                d.code.clone(),
                m.map(|m| m.name.clone())
                    .unwrap_or_else(|| format!("{NOT_IN_MASTER}{}", d.code)),
                d.dose.clone(),
                d.quantity.clone(),
                m.map(|m| m.unit.clone()).unwrap_or_default(),
                d.use_class.label().to_string(),
                prescriber.clone(),
                prescriber_name.clone(),
            ]) {
                c.push(v);
            }
        }
        sqlx::query(
            "INSERT INTO medication.dispensings (receipt_id, person_id, date, prescribed_on, facility, facility_name, \
             prescriber, prescriber_name, in_out, use_class, drug_code, drug_name, ingredient, usage, dose, quantity, unit, \
             treatment_month, visible_from) \
             SELECT $1, $2, d, pd, $3, $4, pr, prn, $5, uc, code, name, ing, us, dose, qty, unit, $6, $7 \
             FROM UNNEST($8::date[], $9::date[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
                         $15::text[], $16::text[], $17::text[], $18::text[], $19::text[]) \
               AS t(d, pd, code, name, dose, qty, unit, uc, pr, prn, ing, us)",
        )
        .bind(rid)
        .bind(person)
        .bind(file.facility.as_str())
        .bind(&file.facility_name)
        .bind(in_out)
        .bind(&r.month)
        .bind(visible_from)
        .bind(&dates)
        .bind(&prescribed)
        .bind(&cols[0])
        .bind(&cols[1])
        .bind(&cols[2])
        .bind(&cols[3])
        .bind(&cols[4])
        .bind(&cols[5])
        .bind(&cols[6])
        .bind(&cols[7])
        .bind(&ingredient)
        .bind(&usage)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE medication.claim_files SET extracted_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        onshi_core::clock::parse_time(s).unwrap()
    }

    #[test]
    fn the_eleventh_day_schedule() {
        assert_eq!(batch_at(t("2026-11-05T09:00")), t("2026-11-11T05:00"));
        assert_eq!(batch_at(t("2026-11-10T23:59")), t("2026-11-11T05:00"));
        assert_eq!(batch_at(t("2026-11-11T08:00")), t("2026-11-12T05:00"));
        assert_eq!(batch_at(t("2026-11-12T17:00")), t("2026-11-13T05:00"));
        assert_eq!(batch_at(t("2026-11-30T10:00")), t("2026-12-01T05:00"));
    }
}
