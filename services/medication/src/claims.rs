//! Claim intake and the extraction schedule.
//!
//! * **Intake**: a UKE file on disk is accepted on the 5th–12th of the month (simulated clock; configurable), read
//!   as a stream ([`Receipts`]: a blocking thread hands over batches of receipts) and stored as it is read, with its
//!   receipts matched to insured persons (an unknown person is reported and kept, not extracted), in one
//!   transaction: a bad file is refused whole, with its line and reason. The file itself is stored in 1 MiB chunks.
//!   The same file again changes nothing. Memory does not depend on the size of the file.
//! * **Schedule**: files received on the 5th–10th become visible together by the morning of the 11th, the 11th's
//!   by the 12th, the 12th's by the 13th ([`batch_at`], 05:00). The batch runner extracts due files one
//!   transaction per group of files, so a crash mid-batch is completed exactly once by the next run; each stored
//!   file is streamed back ([`StoredFile`]) and its rows sent by COPY in bounded pieces.
//! * **Later claim wins**: a receipt for the same patient, institution, 診療年月 (and prescriber) extracted later
//!   supersedes the earlier one as a whole; the superseded receipt is kept.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{Datelike, NaiveDateTime};
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::directory::{CardQuery, Directory, PersonRef};
use onshi_wire::ids::{CardNumber, CardSymbol, InstitutionCode};

use crate::master::{Drug, NOT_IN_MASTER};
use crate::uke;

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

/// Receipt numbers of unmatched persons listed in a report; the count covers them all.
pub const UNMATCHED_LISTED: usize = 1_000;

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
    /// Receipts whose patient is not an insured person known to the system.
    pub unmatched: usize,
    /// Their receipt numbers (the first [`UNMATCHED_LISTED`]).
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
    Io(std::io::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The eligibility service, which knows who a person is, did not answer.
    #[error(transparent)]
    Directory(#[from] onshi_platform::peer::PeerError),
}

impl From<uke::ReadError> for IntakeError {
    fn from(e: uke::ReadError) -> Self {
        match e {
            uke::ReadError::Invalid(e) => Self::Invalid(e),
            uke::ReadError::Io(e) => Self::Io(e),
        }
    }
}

fn claim_key(person: &str, facility: &InstitutionCode, r: &uke::Receipt) -> String {
    format!(
        "{person}|{}|{}|{}",
        facility,
        r.month,
        r.prescriber.as_ref().map(|p| p.0.as_str()).unwrap_or("")
    )
}

/// Receipts handed over at once by the reading thread (at most; fewer when they hold many lines).
const BATCH_RECEIPTS: usize = 512;
/// Dated lines handed over at once by the reading thread.
const BATCH_LINES: usize = 50_000;
/// Size of the stored chunks of a claim file.
pub const CHUNK: usize = 1 << 20;

/// A claim file read on a blocking thread and handed over batch by batch through a bounded channel: memory holds
/// a few batches, whatever the size of the file. Whether the whole file was read without error is known only at
/// [`Receipts::finish`], after the last batch.
struct Receipts {
    header: uke::Header,
    encoding: uke::Encoding,
    batches: tokio::sync::mpsc::Receiver<Vec<uke::Receipt>>,
    task: tokio::task::JoinHandle<Result<(), uke::ReadError>>,
}

impl Receipts {
    /// Starts reading; `open` gives the file from its start (twice when the encoding is not known yet).
    async fn open<R, F>(open: F, encoding: Option<uke::Encoding>) -> Result<Self, uke::ReadError>
    where
        R: std::io::Read,
        F: Fn() -> std::io::Result<R> + Send + 'static,
    {
        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        let (tx, batches) = tokio::sync::mpsc::channel(2);
        let task = tokio::task::spawn_blocking(move || {
            let encoding = match encoding {
                Some(e) => e,
                None => uke::detect(open()?)?,
            };
            let mut reader = uke::UkeReader::open(open()?, encoding)?;
            if head_tx.send((reader.header().clone(), encoding)).is_err() {
                return Ok(());
            }
            let (mut batch, mut lines) = (Vec::new(), 0);
            while let Some(r) = reader.next_receipt()? {
                lines += r.drugs.len() + r.procedures.len();
                batch.push(r);
                if batch.len() >= BATCH_RECEIPTS || lines >= BATCH_LINES {
                    lines = 0;
                    if tx.blocking_send(std::mem::take(&mut batch)).is_err() {
                        return Ok(()); // the reader stopped listening
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            Ok(())
        });
        match head_rx.await {
            Ok((header, encoding)) => Ok(Self {
                header,
                encoding,
                batches,
                task,
            }),
            Err(_) => Err(Self::outcome(task).await.err().unwrap_or_else(|| {
                uke::ReadError::Io(std::io::Error::other("the file ended before its header"))
            })),
        }
    }

    async fn next(&mut self) -> Option<Vec<uke::Receipt>> {
        self.batches.recv().await
    }

    /// After the last batch: whether the whole file was read without error.
    async fn finish(self) -> Result<(), uke::ReadError> {
        drop(self.batches);
        Self::outcome(self.task).await
    }

    async fn outcome(
        task: tokio::task::JoinHandle<Result<(), uke::ReadError>>,
    ) -> Result<(), uke::ReadError> {
        task.await.unwrap_or_else(|e| {
            Err(uke::ReadError::Io(std::io::Error::other(format!(
                "the reading thread failed: {e}"
            ))))
        })
    }
}

/// A stored claim file read back in order on the reading thread: its first chunk comes with the file's row, each
/// further chunk is one query.
struct StoredFile {
    pool: PgPool,
    runtime: tokio::runtime::Handle,
    file: i64,
    chunks: i32,
    next: i32,
    chunk: std::sync::Arc<Vec<u8>>,
    pos: usize,
}

impl std::io::Read for StoredFile {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.next >= self.chunks {
                return Ok(0);
            }
            let (data,): (Vec<u8>,) = self
                .runtime
                .block_on(
                    sqlx::query_as(
                        "SELECT data FROM medication.claim_chunks WHERE file_id = $1 AND seq = $2",
                    )
                    .bind(self.file)
                    .bind(self.next)
                    .fetch_one(&self.pool),
                )
                .map_err(std::io::Error::other)?;
            (self.chunk, self.pos, self.next) = (data.into(), 0, self.next + 1);
        }
        let n = out.len().min(self.chunk.len() - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A claim file on disk (spooled from HTTP, or in a claims folder) and its SHA-256.
pub struct ClaimFile<'a> {
    pub path: &'a std::path::Path,
    pub sha256: &'a str,
}

/// Accepts one file, read as a stream: its receipts are stored as they are read, inside one transaction that
/// commits only when the whole file has been read without error (a bad file stores nothing).
/// `facility`: the institution the file must be from (its folder, or the calling terminal), when known.
pub async fn intake(
    pool: &PgPool,
    dir: &dyn Directory,
    window: (u32, u32),
    now: NaiveDateTime,
    facility: Option<&str>,
    file: ClaimFile<'_>,
) -> Result<IntakeReport, IntakeError> {
    let today = now.day();
    if today < window.0 || today > window.1 {
        return Err(IntakeError::OutsideWindow {
            from: window.0,
            to: window.1,
            today,
        });
    }
    let path = file.path.to_path_buf();
    let mut receipts = Receipts::open(move || std::fs::File::open(&path), None).await?;
    let header = receipts.header.clone();
    if let Some(expected) = facility.filter(|f| *f != header.facility.as_str()) {
        return Err(IntakeError::WrongFacility {
            expected: expected.to_string(),
            found: header.facility.as_str().to_string(),
        });
    }
    let mut report = IntakeReport {
        file_id: 0,
        duplicate: false,
        kind: header.kind.name().into(),
        facility: header.facility.as_str().into(),
        claim_month: header.claim_month.clone(),
        receipts: 0,
        drug_lines: 0,
        unmatched: 0,
        unmatched_receipts: vec![],
        visible_from: String::new(),
    };
    let at = batch_at(now);
    let mut tx = pool.begin().await?;
    // A concurrent intake of the same file waits here until the first commits (then: a duplicate) or fails.
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO medication.claim_files (sha256, facility, kind, claim_month, received_at, batch_at, receipts, encoding) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (sha256) DO NOTHING RETURNING id",
    )
    .bind(file.sha256)
    .bind(header.facility.as_str())
    .bind(header.kind.name())
    .bind(&header.claim_month)
    .bind(now)
    .bind(at)
    .bind(receipts.encoding.name())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id,)) = inserted else {
        drop(tx);
        return duplicate(pool, file.sha256, report).await;
    };
    while let Some(batch) = receipts.next().await {
        let mut rows = onshi_platform::copy::BinaryCopy::new();
        let persons = resolve(dir, &batch).await?;
        for (r, p) in batch.iter().zip(persons) {
            if p.is_none() {
                report.unmatched += 1;
                if report.unmatched_receipts.len() < UNMATCHED_LISTED {
                    report.unmatched_receipts.push(r.number);
                }
            }
            report.receipts += 1;
            report.drug_lines += r.drugs.len();
            let person = p.as_ref().map(|p| p.person_id.as_str());
            rows.row(8)
                .int8(id)
                .int4(r.number as i32)
                .text(&claim_key(person.unwrap_or("?"), &header.facility, r))
                .opt_text(r.search_number.as_deref())
                .opt_text(p.as_ref().map(|p| p.qualification_id.as_str()))
                .opt_text(person)
                .text(&r.month)
                .date(r.birth.naive());
        }
        onshi_platform::copy::send(
            &mut tx,
            "COPY medication.receipts (file_id, receipt_no, claim_key, search_number, qualification_id, person_id, \
             treatment_month, birth_date) FROM STDIN (FORMAT binary)",
            rows.finish(),
        )
        .await?;
    }
    receipts.finish().await?;
    store_chunks(&mut tx, id, file.path).await?;
    sqlx::query("UPDATE medication.claim_files SET receipts = $2, drug_lines = $3 WHERE id = $1")
        .bind(id)
        .bind(report.receipts as i32)
        .bind(report.drug_lines as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    report.file_id = id;
    report.visible_from = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    tracing::info!(
        file = id,
        receipts = report.receipts,
        unmatched = report.unmatched,
        "medication: claim file received"
    );
    Ok(report)
}

/// The card a receipt names, when its 記号・番号 can be read.
fn card_of(r: &uke::Receipt) -> Option<CardQuery> {
    Some(CardQuery {
        insurer: r.insurer.expect("checked by the parser"),
        symbol: CardSymbol::parse(&r.symbol).ok()?,
        number: CardNumber::parse(&r.card_number).ok()?,
        branch: r.branch.clone(),
        birth: Some(r.birth),
    })
}

/// The insured persons a batch of receipts names (one question to the directory per batch).
async fn resolve(
    dir: &dyn Directory,
    batch: &[uke::Receipt],
) -> Result<Vec<Option<PersonRef>>, IntakeError> {
    let cards: Vec<_> = batch.iter().filter_map(card_of).collect();
    let mut found = dir.persons(&cards).await?.into_iter();
    Ok(batch
        .iter()
        .map(|r| card_of(r).and_then(|_| found.next().flatten()))
        .collect())
}

/// The stored file's content, [`CHUNK`] bytes per row.
async fn store_chunks(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    path: &std::path::Path,
) -> Result<(), IntakeError> {
    use tokio::io::AsyncReadExt;
    let mut input = tokio::fs::File::open(path).await.map_err(IntakeError::Io)?;
    let mut chunk = Vec::with_capacity(CHUNK);
    for seq in 0.. {
        chunk.clear();
        while chunk.len() < CHUNK {
            let n = (&mut input)
                .take((CHUNK - chunk.len()) as u64)
                .read_buf(&mut chunk)
                .await
                .map_err(IntakeError::Io)?;
            if n == 0 {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        sqlx::query("INSERT INTO medication.claim_chunks (file_id, seq, data) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(seq)
            .bind(&chunk)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The report of a file received before (the same bytes), from what was stored then.
async fn duplicate(
    pool: &PgPool,
    sha256: &str,
    mut report: IntakeReport,
) -> Result<IntakeReport, IntakeError> {
    let (id, at, receipts, drug_lines): (i64, NaiveDateTime, i32, i64) = sqlx::query_as(
        "SELECT id, batch_at, receipts, drug_lines FROM medication.claim_files WHERE sha256 = $1",
    )
    .bind(sha256)
    .fetch_one(pool)
    .await?;
    let (unmatched, listed): (i64, Vec<i32>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM medication.receipts WHERE file_id = $1 AND person_id IS NULL), \
         ARRAY(SELECT receipt_no FROM medication.receipts WHERE file_id = $1 AND person_id IS NULL \
               ORDER BY receipt_no LIMIT $2)",
    )
    .bind(id)
    .bind(UNMATCHED_LISTED as i32)
    .fetch_one(pool)
    .await?;
    report.file_id = id;
    report.duplicate = true;
    report.receipts = receipts as usize;
    report.drug_lines = drug_lines as usize;
    report.unmatched = unmatched as usize;
    report.unmatched_receipts = listed.into_iter().map(|n| n as u32).collect();
    report.visible_from = at.format("%Y-%m-%dT%H:%M:%S").to_string();
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

/// Extracts every file due at `now` with `workers` lanes; with `force`, the earliest pending batch even if not
/// due yet (it becomes visible now). Returns the files extracted.
pub async fn run_batches(
    pool: &PgPool,
    now: NaiveDateTime,
    force: bool,
    workers: usize,
) -> anyhow::Result<usize> {
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
    let work = lanes(&due, workers).into_iter().map(|lane| {
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

/// The due files dealt to `workers` lanes. A claim key includes the institution, so every file of one
/// institution goes to the same lane, in order of reception (a later claim is always extracted after the claim it
/// replaces); institutions go, largest first, to the lane with the fewest files so far, so the lanes end together.
fn lanes(due: &[DueFile], workers: usize) -> Vec<Vec<(i64, NaiveDateTime)>> {
    let mut by_facility: Vec<(&str, Vec<(i64, NaiveDateTime)>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for f in due {
        let i = *index.entry(f.facility.as_str()).or_insert_with(|| {
            by_facility.push((f.facility.as_str(), Vec::new()));
            by_facility.len() - 1
        });
        by_facility[i].1.push((f.id, f.batch_at));
    }
    by_facility.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let mut lanes: Vec<Vec<(i64, NaiveDateTime)>> = vec![Vec::new(); workers.max(1)];
    for (_, files) in by_facility {
        let lane = (0..lanes.len())
            .min_by_key(|&l| lanes[l].len())
            .unwrap_or(0);
        lanes[lane].extend(files);
    }
    lanes.retain(|l| !l.is_empty());
    lanes
}

/// Files extracted together in one transaction.
pub const GROUP: usize = 16;

/// Bytes of COPY rows gathered before they are sent: a group of files of any size is extracted in bounded memory.
const COPY_BYTES: usize = 8 << 20;

/// The rows being gathered for the tables extraction fills, sent by COPY whenever they grow large.
#[derive(Default)]
struct Rows {
    dispensings: onshi_platform::copy::BinaryCopy,
    procedures: onshi_platform::copy::BinaryCopy,
}

impl Rows {
    /// Sends what has been gathered: everything with `all`, otherwise only a table whose rows have grown large.
    async fn send(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        all: bool,
    ) -> sqlx::Result<()> {
        let tables = [
            (
                &mut self.procedures,
                "COPY medication.procedures (receipt_id, person_id, date, facility, code, shinryo, quantity, count, \
                 treatment_month, visible_from) FROM STDIN (FORMAT binary)",
            ),
            (
                &mut self.dispensings,
                "COPY medication.dispensings (receipt_id, person_id, date, prescribed_on, facility, facility_name, \
                 prescriber, prescriber_name, in_out, use_class, drug_code, drug_name, ingredient, usage, dose, quantity, \
                 unit, treatment_month, visible_from, special) FROM STDIN (FORMAT binary)",
            ),
        ];
        for (rows, statement) in tables {
            if !rows.is_empty() && (all || rows.len() >= COPY_BYTES) {
                let stream = std::mem::take(rows).finish();
                onshi_platform::copy::send(tx, statement, stream).await?;
            }
        }
        Ok(())
    }
}

/// Extracts a group of files (in order) in one transaction: receipts superseded, medication rows written by COPY,
/// files marked. A crash loses the group whole and the next run extracts it again, exactly once.
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
    let mut rows = Rows::default();
    for (id, visible_from) in group {
        extract_into(pool, &mut tx, *id, *visible_from, now, &mut rows).await?;
    }
    rows.send(&mut tx, true).await?;
    tx.commit().await?;
    Ok(())
}

/// One file of a group, read back as a stream: supersedes earlier claims of its receipts, adds its rows, and
/// marks it extracted.
async fn extract_into(
    pool: &PgPool,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    visible_from: NaiveDateTime,
    now: NaiveDateTime,
    rows: &mut Rows,
) -> anyhow::Result<()> {
    let row: Option<(Option<String>, i64, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT encoding, (SELECT count(*) FROM medication.claim_chunks WHERE file_id = $1), \
                (SELECT data FROM medication.claim_chunks WHERE file_id = $1 AND seq = 0) \
         FROM medication.claim_files WHERE id = $1 AND extracted_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((encoding, chunks, first)) = row else {
        return Ok(()); // another runner did it
    };
    let encoding = match encoding {
        Some(name) => Some(
            uke::Encoding::from_name(&name)
                .with_context(|| format!("claim file {id}: unknown encoding {name:?}"))?,
        ),
        None => None,
    };
    let (source, runtime) = (pool.clone(), tokio::runtime::Handle::current());
    let first = std::sync::Arc::new(first.unwrap_or_default());
    let open = move || {
        Ok(StoredFile {
            pool: source.clone(),
            runtime: runtime.clone(),
            file: id,
            chunks: i32::try_from(chunks).unwrap_or(i32::MAX),
            next: 1,
            chunk: first.clone(),
            pos: 0,
        })
    };
    let mut receipts = Receipts::open(open, encoding)
        .await
        .with_context(|| format!("claim file {id}"))?;
    let header = receipts.header.clone();
    let earlier: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM medication.claim_files WHERE facility = $1 AND extracted_at IS NOT NULL",
    )
    .bind(header.facility.as_str())
    .fetch_all(&mut **tx)
    .await?;
    while let Some(batch) = receipts.next().await {
        extract_batch(tx, id, &header, &batch, &earlier, visible_from, rows).await?;
        rows.send(tx, false).await?;
    }
    receipts
        .finish()
        .await
        .with_context(|| format!("claim file {id}"))?;
    sqlx::query("UPDATE medication.claim_files SET extracted_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The rows of a batch of a file's receipts, and the earlier claims they supersede.
async fn extract_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: i64,
    file: &uke::Header,
    batch: &[uke::Receipt],
    earlier: &[i64],
    visible_from: NaiveDateTime,
    rows: &mut Rows,
) -> anyhow::Result<()> {
    let numbers: Vec<i32> = batch.iter().map(|r| r.number as i32).collect();
    let stored: Vec<StoredReceipt> = sqlx::query_as(
        "SELECT id, receipt_no, claim_key, person_id FROM medication.receipts \
         WHERE file_id = $1 AND receipt_no = ANY($2)",
    )
    .bind(id)
    .bind(&numbers)
    .fetch_all(&mut **tx)
    .await?;
    let by_no: HashMap<i32, StoredReceipt> =
        stored.into_iter().map(|r| (r.receipt_no, r)).collect();
    let mut codes: Vec<&str> = batch
        .iter()
        .flat_map(|r| r.drugs.iter().map(|d| d.code.as_str()))
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
    for r in batch {
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
            rows.procedures
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
            rows.dispensings
                .row(20)
                .int8(*rid)
                .text(person)
                .date(d.date)
                .opt_date(d.prescribed_on)
                .text(file.facility.as_str())
                .text(&file.facility_name)
                .text(prescriber)
                .text(prescriber_name)
                .text(in_out)
                .text(&d.use_class.code())
                .text(&d.code)
                .text(name)
                .opt_text(m.and_then(|m| m.ingredient.as_deref()))
                .opt_text(d.usage.as_deref())
                .text(&d.dose)
                .text(&d.quantity)
                .text(m.map(|m| m.unit.as_str()).unwrap_or(""))
                .text(&r.month)
                .timestamp(visible_from)
                .opt_text(d.special.as_deref());
        }
    }
    // A claim key names the institution, so only its earlier extracted files can hold what this batch replaces
    // (looked up per key among those files: a file whose receipts share one key costs no more than any other).
    if !earlier.is_empty() {
        sqlx::query(
            "UPDATE medication.receipts r SET superseded_by = u.id \
             FROM (SELECT DISTINCT ON (key) key, id FROM UNNEST($1::text[], $2::bigint[]) AS t(key, id) \
                   ORDER BY key, id DESC) u \
             WHERE r.claim_key = u.key AND r.file_id = ANY($3) AND r.superseded_by IS NULL",
        )
        .bind(&keys)
        .bind(&ids)
        .bind(earlier)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_keep_an_institution_in_order_on_one_lane_and_end_together() {
        let at = t("2026-11-11T05:00:00");
        let due: Vec<DueFile> = [
            ("A", 1),
            ("B", 2),
            ("A", 3),
            ("C", 4),
            ("A", 5),
            ("B", 6),
            ("D", 7),
        ]
        .into_iter()
        .map(|(f, id)| DueFile {
            id,
            batch_at: at,
            facility: f.to_string(),
        })
        .collect();
        let two = lanes(&due, 2);
        let ids: Vec<Vec<i64>> = two
            .iter()
            .map(|l| l.iter().map(|f| f.0).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 3, 5, 7], vec![2, 6, 4]]);
        assert_eq!(lanes(&due, 1).len(), 1);
        assert_eq!(lanes(&due, 8).len(), 4, "no more lanes than institutions");
        assert!(lanes(&[], 2).is_empty());
    }

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
