//! The two-step bulk engine (reference §2.5, §2.6): a step-1 file (`OQSmuquc01`, `OQSmuimm01`) becomes a durable
//! job answered at once with a `ReceptionNumber`; a worker processes jobs in order of arrival; step 2 (`…02`) gets
//! `SegmentOfResult` 2 (処理中) until the job is done, then its results, until they expire.
//!
//! Storage (`schema/eligibility/0004_bulk_jobs.sql`): the job and its items as received are written in one
//! transaction (by COPY) before the receipt is answered; the results are copied in (`bulk_results`) in the
//! transaction that marks the job done. A job is processed inside one transaction that holds its row lock
//! (`FOR UPDATE SKIP LOCKED`, so several processes share the work): a crash part-way rolls back and the job is
//! processed again in full on restart — nothing is lost or applied twice (照会番号 registrations are upserts).
//! What a job does is its message's: [`crate::oqs_muquc01::process`], [`crate::oqs_muimm01::process`].

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::Value;

use onshi_platform::copy::BinaryCopy;
use onshi_wire::ids::DateTime;
use onshi_wire::xml::OutputForm;

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::{FileError, PlainHeader};
use onshi_wire::result_codes::ResultKey;

use crate::reference_numbers::{failed, finish, ok_header, Admitted};
use crate::Eligibility;

/// The kind of a job: its step-1 message stem without the step number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 一括照会 (`OQSmuquc01/02`).
    Query,
    /// 照会番号一括登録 (`OQSmuimm01/02`).
    Registration,
    /// 訪問診療等 (`OQSmuhvq01/02`, 居宅同意取得型).
    HomeVisit,
    /// オンライン診療等 (`OQSmuonq01/02`, 居宅同意取得型).
    HomeOnline,
    /// 医療扶助 (`OQSmutic01/02`).
    MedicalAid,
}

impl Kind {
    fn stored(self) -> &'static str {
        match self {
            Kind::Query => "OQSmuquc",
            Kind::Registration => "OQSmuimm",
            Kind::HomeVisit => "OQSmuhvq",
            Kind::HomeOnline => "OQSmuonq",
            Kind::MedicalAid => "OQSmutic",
        }
    }

    fn of(stored: &str) -> Option<Self> {
        [
            Kind::Query,
            Kind::Registration,
            Kind::HomeVisit,
            Kind::HomeOnline,
            Kind::MedicalAid,
        ]
        .into_iter()
        .find(|k| k.stored() == stored)
    }
}

/// A new `ReceptionNumber`: the time and six random digits.
pub fn reception_number(now: DateTime) -> String {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut raw);
    format!(
        "{}{:06}",
        now.compact(),
        u32::from_be_bytes(raw) % 1_000_000
    )
}

/// What became of a step-1 file.
pub enum Enqueued {
    /// A new job: its `ReceptionNumber`.
    Accepted(String),
    /// The same content was received before (and has not expired): that job's number.
    Duplicate(String),
}

/// The JSON text of a job's item, serialized once (for the digest and for the COPY) straight from the parsed
/// request, without a `serde_json::Value` in between.
pub fn item_text<T: serde::Serialize>(item: &T) -> String {
    serde_json::to_string(item).unwrap_or_else(|_| "null".into())
}

/// Stores a job and its items (`header`: the step-1 header as received; `texts`: each item's JSON, see
/// [`item_text`]) and wakes the worker.
pub async fn enqueue(
    e: &Eligibility,
    facility: &str,
    kind: Kind,
    header: Value,
    texts: &[String],
    now: DateTime,
) -> anyhow::Result<Enqueued> {
    let digest = {
        let mut all = header.to_string();
        for t in texts {
            all.push('\n');
            all.push_str(t);
        }
        onshi_platform::sha256_hex(all.as_bytes())
    };
    let number = reception_number(now);
    let expires = now.naive() + chrono::TimeDelta::days(e.core.config.eligibility.bulk_result_days);
    let mut tx = e.core.pool.begin().await?;
    let inserted: Option<(String,)> = sqlx::query_as(
        "INSERT INTO eligibility.bulk_jobs (number, facility, kind, digest, header, total, state, received_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8) \
         ON CONFLICT (facility, kind, digest) DO NOTHING RETURNING number",
    )
    .bind(&number)
    .bind(facility)
    .bind(kind.stored())
    .bind(&digest)
    .bind(&header)
    .bind(texts.len() as i32)
    .bind(now.naive())
    .bind(expires)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        drop(tx);
        let (earlier,): (String,) = sqlx::query_as(
            "SELECT number FROM eligibility.bulk_jobs WHERE facility = $1 AND kind = $2 AND digest = $3",
        )
        .bind(facility)
        .bind(kind.stored())
        .bind(&digest)
        .fetch_one(&e.core.pool)
        .await?;
        return Ok(Enqueued::Duplicate(earlier));
    }
    let mut items = BinaryCopy::new();
    for (seq, input) in texts.iter().enumerate() {
        items.row(3).text(&number).int4(seq as i32).jsonb(input);
    }
    onshi_platform::copy::send(
        &mut tx,
        "COPY eligibility.bulk_items (number, seq, input) FROM STDIN (FORMAT binary)",
        items.finish(),
    )
    .await?;
    tx.commit().await?;
    e.bulk_wake.notify_one();
    Ok(Enqueued::Accepted(number))
}

/// The writer of a step-1 receipt (`ReceptionNumber`, `ReceptionDateTime`).
pub type Receipt = fn(&PlainHeader, Option<(&str, DateTime)>, OutputForm) -> Vec<u8>;

/// Step 1 of every two-step flow, once its file is admitted: the job stored (`header`, `inputs`: see [`enqueue`])
/// and its receipt answered; the same file again while its job lives is EC0018 with the earlier number.
pub async fn accept<R>(
    e: &Eligibility,
    a: &Admitted<R>,
    req: &Request,
    (kind, header, inputs): (Kind, Value, &[String]),
    receipt: Receipt,
) -> Reply {
    let code = a.institution.as_str();
    let result = match enqueue(e, code, kind, header, inputs, req.now).await {
        Ok(Enqueued::Accepted(number)) => Ok(receipt(
            &ok_header(&a.echo, req.now, a.encoding, None),
            Some((&number, req.now)),
            a.form,
        )),
        Ok(Enqueued::Duplicate(number)) => {
            let err = FileError::new(ResultKey::BulkDuplicate, &number).with_echo(&a.echo);
            return failed(err, req, a.encoding);
        }
        Err(err) => Err(err),
    };
    finish(result, a, req)
}

/// A done job's results as the facility receives them: the XML, or — when the setting
/// ([`onshi_platform::config::BulkZip`]) says so, never for the Web API's JSON — a `.zip` holding it as
/// `<stem>02res_<受付番号>.xml` (the doors then name the answer `….zip`).
pub fn package(
    e: &Eligibility,
    kind: Kind,
    number: &str,
    body: Vec<u8>,
    form: OutputForm,
) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    if matches!(form, OutputForm::Json)
        || !e
            .core
            .config
            .eligibility
            .bulk_results_zip
            .applies(body.len())
    {
        return Ok(body);
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(body.len() / 4)));
    zip.start_file(
        format!("{}02res_{number}.xml", kind.stored()),
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )?;
    zip.write_all(&body)?;
    Ok(zip.finish()?.into_inner())
}

/// A job as step 2 finds it.
pub enum Fetched {
    /// No such number for this facility and kind (another facility's number is unknown too).
    Unknown,
    Expired,
    /// Queued or being processed: answer 処理中.
    Processing,
    Done {
        /// The step-1 header as received.
        header: Value,
        /// `(input, result)` per item, in file order.
        items: Vec<(Value, Value)>,
        done_at: NaiveDateTime,
    },
}

/// The job `number` of `facility`.
pub async fn fetch(
    e: &Eligibility,
    facility: &str,
    kind: Kind,
    number: &str,
    now: DateTime,
) -> anyhow::Result<Fetched> {
    let job: Option<(Value, String, NaiveDateTime, Option<NaiveDateTime>)> = sqlx::query_as(
        "SELECT header, state, expires_at, done_at FROM eligibility.bulk_jobs \
         WHERE number = $1 AND facility = $2 AND kind = $3",
    )
    .bind(number)
    .bind(facility)
    .bind(kind.stored())
    .fetch_optional(&e.core.pool)
    .await?;
    let Some((header, state, expires_at, done_at)) = job else {
        return Ok(Fetched::Unknown);
    };
    if now.naive() > expires_at {
        return Ok(Fetched::Expired);
    }
    let Some(done_at) = done_at.filter(|_| state == "done") else {
        return Ok(Fetched::Processing);
    };
    let items: Vec<(Value, Option<Value>)> = sqlx::query_as(
        "SELECT i.input, r.result FROM eligibility.bulk_items i \
         LEFT JOIN eligibility.bulk_results r ON r.number = i.number AND r.seq = i.seq \
         WHERE i.number = $1 ORDER BY i.seq",
    )
    .bind(number)
    .fetch_all(&e.core.pool)
    .await?;
    Ok(Fetched::Done {
        header,
        items: items
            .into_iter()
            .map(|(i, r)| (i, r.unwrap_or(Value::Null)))
            .collect(),
        done_at,
    })
}

/// A job being processed.
pub struct Job {
    pub number: String,
    pub facility: String,
    pub header: Value,
    pub inputs: Vec<Value>,
    pub now: DateTime,
}

/// Processes the oldest queued job, if any, in one transaction; returns whether there was one.
pub async fn run_one(e: &Eligibility) -> anyhow::Result<bool> {
    let mut tx = e.core.pool.begin().await?;
    let job: Option<(String, String, String, Value)> = sqlx::query_as(
        "SELECT number, facility, kind, header FROM eligibility.bulk_jobs WHERE state = 'queued' \
         ORDER BY received_at, number LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((number, facility, kind, header)) = job else {
        return Ok(false);
    };
    let inputs: Vec<(Value,)> =
        sqlx::query_as("SELECT input FROM eligibility.bulk_items WHERE number = $1 ORDER BY seq")
            .bind(&number)
            .fetch_all(&mut *tx)
            .await?;
    let started = std::time::Instant::now();
    let _running = Running::start(e);
    let job = Job {
        number,
        facility,
        header,
        inputs: inputs.into_iter().map(|(v,)| v).collect(),
        now: e.core.clock.now_dt(),
    };
    let results = match Kind::of(&kind) {
        Some(Kind::Query) => crate::oqs_muquc01::process(e, &job).await?,
        Some(Kind::Registration) => crate::oqs_muimm01::process(e, &job).await?,
        Some(Kind::HomeVisit | Kind::HomeOnline) => crate::home_care::process(e, &job).await?,
        Some(Kind::MedicalAid) => crate::medical_aid::process(e, &job)?,
        None => anyhow::bail!("bulk job {} has an unknown kind {kind:?}", job.number),
    };
    let mut rows = BinaryCopy::new();
    for (seq, result) in results.iter().enumerate() {
        rows.row(3)
            .text(&job.number)
            .int4(seq as i32)
            .jsonb(&result.to_string());
    }
    onshi_platform::copy::send(
        &mut tx,
        "COPY eligibility.bulk_results (number, seq, result) FROM STDIN (FORMAT binary)",
        rows.finish(),
    )
    .await?;
    // A query's persons are re-queries by stored numbers: logged with the results, counted once committed.
    let requeries = match Kind::of(&kind) {
        Some(Kind::Query) => crate::oqs_muquc01::requeries(&job, &results),
        _ => vec![],
    };
    crate::presentations::log(&mut *tx, &requeries).await?;
    sqlx::query("UPDATE eligibility.bulk_jobs SET state = 'done', done_at = $2 WHERE number = $1")
        .bind(&job.number)
        .bind(job.now.naive())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    crate::presentations::count(&e.core.usage, &requeries);
    // The persons a home-care or 医療扶助 job found count as bulk confirmations (an `OQSmuquc01` counts its persons
    // when received, the entry pipeline's usage).
    if let Some(n) = match Kind::of(&kind) {
        Some(Kind::HomeVisit | Kind::HomeOnline) => crate::home_care::persons(&results),
        Some(Kind::MedicalAid) => crate::medical_aid::persons(&results),
        _ => None,
    } {
        e.core.usage.record(
            &job.facility,
            job.now.naive(),
            onshi_platform::usage::Method::Bulk,
            n,
        );
    }
    e.core
        .metrics
        .bulk_seconds
        .with_label_values(&[&kind])
        .observe(started.elapsed().as_secs_f64());
    tracing::info!(
        kind,
        items = results.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "bulk: job done"
    );
    Ok(true)
}

/// Counts a job as running in this process while it lives.
struct Running<'a>(&'a Eligibility);

impl<'a> Running<'a> {
    fn start(e: &'a Eligibility) -> Self {
        e.bulk_running.fetch_add(1, Ordering::SeqCst);
        Self(e)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.bulk_running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sets the `onshi_bulk_jobs` gauge: jobs queued (less those this process is running), running, done.
pub(crate) async fn refresh_gauges(e: &Eligibility) -> sqlx::Result<()> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM eligibility.bulk_jobs GROUP BY state")
            .fetch_all(&e.core.pool)
            .await?;
    let count = |state: &str| {
        counts
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n)
    };
    let running = e.bulk_running.load(Ordering::SeqCst);
    let g = &e.core.metrics.bulk_jobs;
    g.with_label_values(&["queued"])
        .set((count("queued") - running).max(0));
    g.with_label_values(&["running"]).set(running);
    g.with_label_values(&["done"]).set(count("done"));
    Ok(())
}

/// Removes the items of expired jobs (a poll then answers EC0017), and jobs expired for as long again.
async fn purge(e: &Eligibility) -> sqlx::Result<()> {
    let now = e.core.clock.now();
    let days = chrono::TimeDelta::days(e.core.config.eligibility.bulk_result_days);
    for table in ["bulk_results", "bulk_items"] {
        sqlx::query(&format!(
            "DELETE FROM eligibility.{table} x USING eligibility.bulk_jobs j \
             WHERE x.number = j.number AND j.expires_at < $1"
        ))
        .bind(now)
        .execute(&e.core.pool)
        .await?;
    }
    sqlx::query("DELETE FROM eligibility.bulk_jobs WHERE expires_at < $1")
        .bind(now - days)
        .execute(&e.core.pool)
        .await?;
    Ok(())
}

/// The worker: processes queued jobs as they come (woken at once by [`enqueue`] in this process, and every second
/// for jobs of other processes and of a restart), and purges expired results.
pub async fn work(me: Weak<Eligibility>) {
    let mut last_purge = std::time::Instant::now() - Duration::from_secs(60);
    loop {
        let Some(e) = me.upgrade() else { return };
        let found = match run_one(&e).await {
            Ok(found) => found,
            Err(err) => {
                tracing::error!(
                    error = format!("{err:#}"),
                    "bulk: a job failed; it stays queued"
                );
                false
            }
        };
        if last_purge.elapsed() >= Duration::from_secs(60) {
            last_purge = std::time::Instant::now();
            if let Err(err) = purge(&e).await {
                tracing::warn!(error = %err, "bulk: purge failed");
            }
        }
        if found {
            continue;
        }
        // Held for at most a second: the service's shutdown aborts this task.
        let _ = tokio::time::timeout(Duration::from_secs(1), e.bulk_wake.notified()).await;
    }
}
