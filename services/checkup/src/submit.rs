//! Taking in a submission: the files of an archive (or one document) registered, replaced or deleted in one
//! transaction, batch by batch. The documented rule: problems of the archive as a whole refuse everything
//! ([`crate::archive`]); otherwise **the good persons are accepted and each bad one is rejected** with its problems
//! listed per file and item. A file already taken in (same SHA-256) is `unchanged`, and the same submission again
//! answers its first report, so nothing is applied twice. A registration replaces the current result of the same
//! person, kind of checkup and date; a deletion request (報告区分 19) removes it, and is rejected when there is none.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::copy::BinaryCopy;
use onshi_platform::directory::{CardQuery, Directory};
use onshi_wire::ids::{CardNumber, CardSymbol, Date};

use crate::archive::{ArchiveInfo, Refusal, Submission};
use crate::validate::{Checkup, Problem, Report as Ask};

/// Problems (and judgment differences) listed in a report; the totals count them all.
pub const LISTED: usize = 1_000;
/// Files applied per batch.
pub const BATCH: usize = 500;

/// One problem of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileProblem {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub message: String,
}

/// A submitted judgment that differs from the one computed from the values.
#[derive(Debug, Clone, Serialize)]
pub struct Differs {
    pub file: String,
    pub item: &'static str,
    pub submitted: u8,
    pub computed: u8,
}

/// The answer to a submission.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SubmissionReport {
    pub submission_id: i64,
    pub duplicate: bool,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<serde_json::Value>,
    pub files: usize,
    pub registered: usize,
    pub replaced: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub rejected: usize,
    pub problems: Vec<serde_json::Value>,
    pub problems_total: usize,
    pub warnings: Vec<String>,
    pub warnings_total: usize,
    pub judgments_differ: Vec<serde_json::Value>,
    pub judgments_differ_total: usize,
}

impl SubmissionReport {
    fn problem(&mut self, file: &str, p: Problem) {
        self.problems_total += 1;
        if self.problems.len() < LISTED {
            let p = FileProblem {
                file: file.to_string(),
                item: p.item,
                message: p.message,
            };
            self.problems
                .push(serde_json::to_value(p).unwrap_or_default());
        }
    }

    /// A file rejected for one reason about the file as a whole.
    fn reject_file(&mut self, file: &str, message: String) {
        self.reject(
            file,
            vec![Problem {
                item: None,
                message,
            }],
        );
    }

    fn reject(&mut self, file: &str, problems: Vec<Problem>) {
        self.rejected += 1;
        for p in problems {
            self.problem(file, p);
        }
    }
}

/// Why a submission was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the submission was refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Io(std::io::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The eligibility service, which knows who a person is, did not answer.
    #[error(transparent)]
    Directory(#[from] onshi_platform::peer::PeerError),
}

impl From<Refusal> for SubmitError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(m) => SubmitError::Refused(m),
            Refusal::Io(e) => SubmitError::Io(e),
        }
    }
}

/// A checked file of the current batch, its person found.
struct Ready {
    name: String,
    sha256: String,
    person: String,
    checkup: Checkup,
}

/// Takes in the submission stored at `path` (its SHA-256 `sha256`). `insurer`: the submitting insurer, whose
/// members alone it may register.
pub async fn submit(
    pool: &PgPool,
    dir: &dyn Directory,
    insurer: Option<&str>,
    now: NaiveDateTime,
    path: &std::path::Path,
    sha256: &str,
) -> Result<SubmissionReport, SubmitError> {
    if let Some(report) = stored(pool, sha256).await? {
        return Ok(report);
    }
    let mut sub = Submission::open(path, now.date()).await?;
    let mut report = SubmissionReport {
        kind: if sub.archive.is_some() {
            "archive"
        } else {
            "document"
        }
        .into(),
        archive: sub
            .archive
            .as_ref()
            .map(|a: &ArchiveInfo| serde_json::to_value(a).unwrap_or_default()),
        warnings: std::mem::take(&mut sub.warnings.listed),
        warnings_total: sub.warnings.total,
        ..SubmissionReport::default()
    };
    let mut tx = pool.begin().await?;
    serialise(&mut tx, insurer).await?;
    let id: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO checkup.submissions (sha256, insurer, received_at, report) VALUES ($1, $2, $3, '{}') \
         ON CONFLICT (sha256) DO NOTHING RETURNING id",
    )
    .bind(sha256)
    .bind(insurer)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id,)) = id else {
        drop(tx);
        return Ok(stored(pool, sha256).await?.unwrap_or_default());
    };
    report.submission_id = id;
    let mut batch = Vec::new();
    while let Some(f) = sub.next().await {
        report.files += 1;
        let checkup = match f.checked {
            Ok(c) => c,
            Err(problems) => {
                report.reject(&f.name, problems);
                continue;
            }
        };
        if let Some(me) = insurer.filter(|me| *me != checkup.insurer.as_str()) {
            let message = format!(
                "the result is of insurer {}, not of the submitting insurer {me}",
                checkup.insurer
            );
            report.reject_file(&f.name, message);
            continue;
        }
        let found = match card_of(&checkup) {
            Some(card) => dir.person(&card).await?,
            None => None,
        };
        let Some(person) = found.map(|p| p.person_id) else {
            let message = "no insured person with this 保険者番号・記号・番号・枝番 and birth date"
                .to_string();
            report.reject_file(&f.name, message);
            continue;
        };
        batch.push(Ready {
            name: f.name,
            sha256: f.sha256,
            person,
            checkup,
        });
        if batch.len() >= BATCH {
            apply(&mut tx, id, now, std::mem::take(&mut batch), &mut report).await?;
        }
    }
    sub.finish().await?;
    apply(&mut tx, id, now, batch, &mut report).await?;
    sqlx::query("UPDATE checkup.submissions SET report = $2 WHERE id = $1")
        .bind(id)
        .bind(sqlx::types::Json(&report))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        submission = id,
        files = report.files,
        registered = report.registered,
        rejected = report.rejected,
        "checkup: submission taken in"
    );
    Ok(report)
}

/// Submissions that may touch the same persons apply one after the other: each insurer's submissions hold that
/// insurer's lock (and the whole service's lock shared), the operator's, which may carry any insurer's results,
/// hold the service's lock alone. Without it two submissions carrying one person file, or two corrections of one
/// result, would both find nothing stored and both write. Held until the transaction ends.
async fn serialise(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    insurer: Option<&str>,
) -> sqlx::Result<()> {
    /// The service's key, "checkup" in the single-key space; insurers' keys are in the two-key space.
    const ALL: i64 = 0x0063_6865_636b_7570;
    const INSURERS: i32 = 0x6368_6b75;
    match insurer {
        Some(insurer) => {
            sqlx::query(
                "SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock($2, hashtext($3))",
            )
            .bind(ALL)
            .bind(INSURERS)
            .bind(insurer)
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ALL)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// The report of a submission taken in before.
async fn stored(pool: &PgPool, sha256: &str) -> sqlx::Result<Option<SubmissionReport>> {
    let row: Option<(sqlx::types::Json<SubmissionReport>,)> =
        sqlx::query_as("SELECT report FROM checkup.submissions WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(r,)| SubmissionReport {
        duplicate: true,
        ..r.0
    }))
}

/// The card a result names, when its 記号・番号 can be read.
fn card_of(c: &Checkup) -> Option<CardQuery> {
    Some(CardQuery {
        insurer: c.insurer,
        symbol: CardSymbol::parse(&c.symbol).ok()?,
        number: CardNumber::parse(&c.number).ok()?,
        branch: c.branch.clone(),
        birth: Some(Date::from_naive(c.birth)),
    })
}

/// Applies a batch: files seen before are unchanged; registrations replace the current result of their key and
/// are copied in; deletions remove it.
async fn apply(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    submission: i64,
    now: NaiveDateTime,
    batch: Vec<Ready>,
    report: &mut SubmissionReport,
) -> Result<(), SubmitError> {
    if batch.is_empty() {
        return Ok(());
    }
    let shas: Vec<&str> = batch.iter().map(|r| r.sha256.as_str()).collect();
    let seen: Vec<String> =
        sqlx::query_scalar("SELECT sha256 FROM checkup.files WHERE sha256 = ANY($1)")
            .bind(&shas)
            .fetch_all(&mut **tx)
            .await?;
    let mut fresh: Vec<Ready> = Vec::new();
    for r in batch {
        if seen.contains(&r.sha256) || fresh.iter().any(|f| f.sha256 == r.sha256) {
            report.unchanged += 1;
        } else {
            fresh.push(r);
        }
    }
    let (register, delete): (Vec<Ready>, Vec<Ready>) = fresh
        .into_iter()
        .partition(|r| r.checkup.report == Ask::Register);
    let mut outcomes: Vec<(String, &'static str)> = Vec::new();
    if !register.is_empty() {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT nextval('checkup.result_ids') FROM generate_series(1, $1)")
                .bind(register.len() as i64)
                .fetch_all(&mut **tx)
                .await?;
        // Later files of one key in this batch replace earlier ones; each replaces the current stored result.
        let key = |r: &Ready| (r.person.clone(), r.checkup.program.code(), r.checkup.date);
        let mut last: HashMap<(String, &str, chrono::NaiveDate), usize> = HashMap::new();
        let mut replaced_in_batch: Vec<Option<i64>> = vec![None; register.len()];
        for (k, r) in register.iter().enumerate() {
            if let Some(prev) = last.insert(key(r), k) {
                replaced_in_batch[prev] = Some(ids[k]);
            }
        }
        // The current results of the batch's persons (one index scan over the sorted persons), matched to their
        // keys here. The table grows inside this transaction, so the statement is planned when it runs
        // (`persistent(false)`): a plan cached while the table was small would scan it whole.
        let mut persons: Vec<&str> = last.keys().map(|(p, ..)| p.as_str()).collect();
        persons.sort_unstable();
        persons.dedup();
        let current: Vec<(i64, String, String, chrono::NaiveDate)> = sqlx::query_as(
            "SELECT id, person_id, program, checkup_date FROM checkup.results \
             WHERE person_id = ANY($1) AND replaced_by IS NULL AND deleted_at IS NULL",
        )
        .persistent(false)
        .bind(&persons)
        .fetch_all(&mut **tx)
        .await?;
        let pairs: Vec<(i64, i64)> = current
            .into_iter()
            .filter_map(|(old, person, program, date)| {
                let k = *last.get(&(person, program.as_str(), date))?;
                Some((ids[k], old))
            })
            .collect();
        let (replacing, replaced): (Vec<i64>, Vec<i64>) = pairs.into_iter().unzip();
        if !replaced.is_empty() {
            sqlx::query(
                "UPDATE checkup.results r SET replaced_by = u.new_id \
                 FROM UNNEST($1::bigint[], $2::bigint[]) AS u(old_id, new_id) WHERE r.id = u.old_id",
            )
            .persistent(false)
            .bind(&replaced)
            .bind(&replacing)
            .execute(&mut **tx)
            .await?;
        }
        let mut results = BinaryCopy::new();
        let mut items = BinaryCopy::new();
        for (k, r) in register.iter().enumerate() {
            let c = &r.checkup;
            let code = |j: Option<u8>| j.map(i32::from);
            results
                .row(16)
                .int8(ids[k])
                .int8(submission)
                .text(&r.person)
                .text(c.insurer.as_str())
                .text(c.program.code())
                .date(c.date)
                .int4(c.fiscal_year)
                .opt_text(c.institution.as_deref())
                .opt_text(c.institution_name.as_deref())
                .opt_int2(code(c.submitted.0.map(|m| m.code())))
                .opt_int2(code(c.submitted.1.map(|l| l.code())))
                .opt_int2(code(c.computed.0.map(|m| m.code())))
                .opt_int2(code(c.computed.1.map(|l| l.code())))
                .timestamp(now);
            match replaced_in_batch[k] {
                Some(by) => results.int8(by),
                None => results.null(),
            };
            results.null();
            for (seq, i) in c.items.iter().enumerate() {
                items
                    .row(8)
                    .int8(ids[k])
                    .int4(seq as i32)
                    .text(&i.code)
                    .text(i.value_type.xml())
                    .opt_text(i.value.as_deref())
                    .text(&i.unit)
                    .text(&i.code_system)
                    .opt_text(i.interpretation.as_deref());
            }
            let outcome = if replacing.contains(&ids[k]) {
                "replaced"
            } else {
                "registered"
            };
            outcomes.push((r.sha256.clone(), outcome));
            differs(report, r);
        }
        onshi_platform::copy::send(
            tx,
            "COPY checkup.results (id, submission_id, person_id, insurer, program, checkup_date, fiscal_year, \
             institution, institution_name, metabolic_submitted, level_submitted, metabolic, level, received_at, \
             replaced_by, deleted_at) FROM STDIN (FORMAT binary)",
            results.finish(),
        )
        .await?;
        onshi_platform::copy::send(
            tx,
            "COPY checkup.items (result_id, seq, code, value_type, value, unit, code_system, interpretation) \
             FROM STDIN (FORMAT binary)",
            items.finish(),
        )
        .await?;
    }
    for r in delete {
        let n = sqlx::query(
            "UPDATE checkup.results SET deleted_at = $4 WHERE person_id = $1 AND program = $2 AND checkup_date = $3 \
             AND replaced_by IS NULL AND deleted_at IS NULL",
        )
        .bind(&r.person)
        .bind(r.checkup.program.code())
        .bind(r.checkup.date)
        .bind(now)
        .persistent(false)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if n == 0 {
            let message = format!(
                "no registered {} of this person on {} to delete",
                r.checkup.program.label(),
                r.checkup.date
            );
            report.reject_file(&r.name, message);
        } else {
            outcomes.push((r.sha256.clone(), "deleted"));
        }
    }
    for (_, outcome) in &outcomes {
        match *outcome {
            "replaced" => report.replaced += 1,
            "deleted" => report.deleted += 1,
            _ => report.registered += 1,
        }
    }
    let mut files = BinaryCopy::new();
    for (sha, outcome) in &outcomes {
        files.row(3).text(sha).int8(submission).text(outcome);
    }
    if !files.is_empty() {
        onshi_platform::copy::send(
            tx,
            "COPY checkup.files (sha256, submission_id, outcome) FROM STDIN (FORMAT binary)",
            files.finish(),
        )
        .await?;
    }
    Ok(())
}

/// Records where the submitted judgments differ from the computed ones.
fn differs(report: &mut SubmissionReport, r: &Ready) {
    let c = &r.checkup;
    let pairs = [
        (
            "9N501000000000011",
            c.submitted.0.map(|m| m.code()),
            c.computed.0.map(|m| m.code()),
        ),
        (
            "9N506000000000011",
            c.submitted.1.map(|l| l.code()),
            c.computed.1.map(|l| l.code()),
        ),
    ];
    for (item, submitted, computed) in pairs {
        if let (Some(submitted), Some(computed)) = (submitted, computed) {
            if submitted != computed {
                report.judgments_differ_total += 1;
                if report.judgments_differ.len() < LISTED {
                    let d = Differs {
                        file: r.name.clone(),
                        item,
                        submitted,
                        computed,
                    };
                    report
                        .judgments_differ
                        .push(serde_json::to_value(d).unwrap_or_default());
                }
            }
        }
    }
}
