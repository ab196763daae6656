//! Claim intake and the extraction schedule.
//!
//! * **Intake**: a UKE file is accepted on the 5th–12th of the month (simulated clock; configurable), parsed
//!   completely (a bad file is refused whole, with its line and reason), stored as received with its receipt time,
//!   and its receipts matched to insured persons (an unknown person is reported and kept, not extracted). The same
//!   file again changes nothing.
//! * **Schedule**: files received on the 5th–10th become visible together by the morning of the 11th, the 11th's
//!   by the 12th, the 12th's by the 13th ([`batch_at`], 05:00). The batch runner extracts due files one
//!   transaction per group of files, so a crash mid-batch is completed exactly once by the next run.
//! * **Later claim wins**: a receipt for the same patient, institution, 診療年月 (and prescriber) extracted later
//!   supersedes the earlier one as a whole; the superseded receipt is kept.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDateTime};
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::directory::Directory;
use onshi_wire::ids::{CardNumber, CardSymbol};

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
    #[error("the file claims for institution {found}, not for {expected}")]
    WrongFacility { expected: String, found: String },
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
/// `facility`: the institution the file must be from (its folder), when known.
pub async fn intake(
    pool: &PgPool,
    dir: &dyn Directory,
    window: (u32, u32),
    now: NaiveDateTime,
    facility: Option<&str>,
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
    if let Some(expected) = facility.filter(|f| *f != file.facility.as_str()) {
        return Err(IntakeError::WrongFacility {
            expected: expected.to_string(),
            found: file.facility.as_str().to_string(),
        });
    }
    let sha = onshi_platform::sha256_hex(bytes);
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
            "INSERT INTO medication.receipts (file_id, receipt_no, claim_key, search_number, qualification_id, person_id, \
             treatment_month, birth_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(r.number as i32)
        .bind(key)
        .bind(&r.search_number)
        .bind(p.as_ref().map(|p| p.qualification_id.clone()))
        .bind(p.as_ref().map(|p| p.person_id.clone()))
        .bind(&r.month)
        .bind(r.birth.naive())
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

/// A claim file waiting for extraction.
#[derive(sqlx::FromRow)]
struct DueFile {
    id: i64,
    batch_at: NaiveDateTime,
    facility: String,
}

/// A stored receipt of a file being extracted.
#[derive(sqlx::FromRow)]
struct StoredReceipt {
    id: i64,
    receipt_no: i32,
    claim_key: String,
    person_id: Option<String>,
}

/// Extracts every file due at `now`; with `force`, the earliest pending batch even if not due yet (it becomes
/// visible now). Returns the files extracted.
pub async fn run_batches(pool: &PgPool, now: NaiveDateTime, force: bool) -> anyhow::Result<usize> {
    let due: Vec<DueFile> = if force {
        sqlx::query_as(
            "SELECT id, batch_at, facility FROM medication.claim_files WHERE extracted_at IS NULL AND batch_at = \
             (SELECT min(batch_at) FROM medication.claim_files WHERE extracted_at IS NULL) ORDER BY received_at, id",
        )
        .fetch_all(pool)
        .await?
    } else {
        sqlx::query_as(
            "SELECT id, batch_at, facility FROM medication.claim_files WHERE extracted_at IS NULL AND batch_at <= $1 \
             ORDER BY received_at, id",
        )
        .bind(now)
        .fetch_all(pool)
        .await?
    };
    // Two workers, one file per transaction each. A claim key includes the institution, so every file of one
    // institution goes to the same worker, in order of reception: a later claim is always extracted after the
    // claim it replaces.
    let mut lanes: [Vec<(i64, NaiveDateTime)>; 2] = Default::default();
    for f in &due {
        let lane = f.facility.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % 2;
        lanes[lane].push((f.id, f.batch_at));
    }
    let work = lanes.into_iter().map(|lane| {
        let pool = pool.clone();
        async move {
            let lane: Vec<_> = lane
                .into_iter()
                .map(|(id, at)| (id, if force { now.min(at) } else { at }))
                .collect();
            for group in lane.chunks(GROUP) {
                extract_group(&pool, group, now).await?;
            }
            Ok::<(), anyhow::Error>(())
        }
    });
    for r in futures_util::future::join_all(work).await {
        r?;
    }
    if !due.is_empty() {
        tracing::info!(files = due.len(), "medication: batch extracted");
    }
    Ok(due.len())
}

/// Files extracted together in one transaction (one COPY of their rows).
pub const GROUP: usize = 16;

/// Extracts a group of files (in order) in one transaction: receipts superseded, medication rows written with one
/// COPY, files marked. A crash loses the group whole and the next run extracts it again, exactly once.
pub async fn extract_group(
    pool: &PgPool,
    group: &[(i64, NaiveDateTime)],
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // Safe to commit asynchronously: a commit lost in a crash is lost whole, and the files (stored durably at
    // intake) are then extracted again, still exactly once.
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let mut copy = onshi_platform::copy::BinaryCopy::new();
    let mut procedures = onshi_platform::copy::BinaryCopy::new();
    for (id, visible_from) in group {
        extract_into(&mut tx, *id, *visible_from, now, &mut copy, &mut procedures).await?;
    }
    if !procedures.is_empty() {
        onshi_platform::copy::send(
            &mut tx,
            "COPY medication.procedures (receipt_id, person_id, date, facility, code, shinryo, quantity, count, \
             treatment_month, visible_from) FROM STDIN (FORMAT binary)",
            procedures.finish(),
        )
        .await?;
    }
    if !copy.is_empty() {
        onshi_platform::copy::send(
            &mut tx,
            "COPY medication.dispensings (receipt_id, person_id, date, prescribed_on, facility, facility_name, prescriber, \
             prescriber_name, in_out, use_class, drug_code, drug_name, ingredient, usage, dose, quantity, unit, \
             treatment_month, visible_from) FROM STDIN (FORMAT binary)",
            copy.finish(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One file of a group: supersedes earlier claims of its receipts, marks it extracted, and adds its rows.
async fn extract_into(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    visible_from: NaiveDateTime,
    now: NaiveDateTime,
    copy: &mut onshi_platform::copy::BinaryCopy,
    procedures: &mut onshi_platform::copy::BinaryCopy,
) -> anyhow::Result<()> {
    let row: Option<(Vec<u8>,)> = sqlx::query_as(
        "SELECT content FROM medication.claim_files WHERE id = $1 AND extracted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((content,)) = row else {
        return Ok(()); // another runner did it
    };
    let file = uke::parse(&content)?;
    let receipts: Vec<StoredReceipt> = sqlx::query_as(
        "SELECT id, receipt_no, claim_key, person_id FROM medication.receipts WHERE file_id = $1",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let by_no: HashMap<i32, StoredReceipt> =
        receipts.into_iter().map(|r| (r.receipt_no, r)).collect();
    let mut codes: Vec<String> = file
        .receipts
        .iter()
        .flat_map(|r| r.drugs.iter().map(|d| d.code.clone()))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let drugs: HashMap<String, Drug> = sqlx::query_as::<_, Drug>(
        "SELECT code, name, unit, ingredient FROM medication.drugs WHERE code = ANY($1)",
    )
    .bind(&codes)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|d| (d.code.clone(), d))
    .collect();
    let mut keys = Vec::new();
    let mut ids = Vec::new();
    for r in &file.receipts {
        let Some(StoredReceipt {
            id: rid,
            claim_key: key,
            person_id: Some(person),
            ..
        }) = by_no.get(&(r.number as i32))
        else {
            continue; // unmatched: kept, reported at intake, not extracted
        };
        keys.push(key.clone());
        ids.push(*rid);
        let (prescriber, prescriber_name, in_out) = match &r.prescriber {
            Some((code, name)) => (code.as_str(), name.as_str(), "2"),
            None => (file.facility.as_str(), file.facility_name.as_str(), "1"),
        };
        for p in &r.procedures {
            procedures
                .row(10)
                .int8(*rid)
                .text(person)
                .date(p.date)
                .text(file.facility.as_str())
                .text(&p.code)
                .text(&p.shinryo)
                .text(&p.quantity)
                .text(&p.count)
                .text(&r.month)
                .timestamp(visible_from);
        }
        for d in &r.drugs {
            let m = drugs.get(&d.code);
            let missing;
            let name = match m {
                Some(m) => m.name.as_str(),
                None => {
                    missing = format!("{NOT_IN_MASTER}{}", d.code);
                    missing.as_str()
                }
            };
            copy.row(19)
                .int8(*rid)
                .text(person)
                .date(d.date)
                .opt_date(d.prescribed_on)
                .text(file.facility.as_str())
                .text(&file.facility_name)
                .text(prescriber)
                .text(prescriber_name)
                .text(in_out)
                .text(d.use_class.label())
                .text(&d.code)
                .text(name)
                .opt_text(m.and_then(|m| m.ingredient.as_deref()))
                .opt_text(d.usage.as_deref())
                .text(&d.dose)
                .text(&d.quantity)
                .text(m.map(|m| m.unit.as_str()).unwrap_or(""))
                .text(&r.month)
                .timestamp(visible_from);
        }
    }
    sqlx::query(
        "UPDATE medication.receipts r SET superseded_by = u.id FROM UNNEST($1::text[], $2::bigint[]) AS u(key, id) \
         WHERE r.claim_key = u.key AND r.id <> u.id AND r.superseded_by IS NULL \
           AND r.file_id IN (SELECT id FROM medication.claim_files WHERE extracted_at IS NOT NULL)",
    )
    .bind(&keys)
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE medication.claim_files SET extracted_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        onshi_platform::clock::parse_time(s).unwrap()
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
