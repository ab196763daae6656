//! An append-only, versioned registry table with a change feed, shared by the insurer (qualifications) and the
//! portal (facilities).
//!
//! Every change is a new version row; nothing is updated or deleted. Writers of one entity lock its latest
//! version row, and the unique `(id, version)` key refuses a second writer that read the same latest version (it
//! is tried again). A version carries `effective_from` (the
//! date from which it describes reality, used for "as of" queries) and `recorded_at` (simulated time of the
//! write). Writing a record equal to the latest version changes nothing, so re-submitting a file is a no-op.
//! A batch is all-or-nothing: one bad write and nothing of the batch is applied.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};

use crate::feed::{self, Feed};
use onshi_wire::ids::Date;

/// How a write treats an existing entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Must not exist yet.
    Create,
    /// Create or change (bulk files).
    Upsert,
    /// Must exist; optionally at this latest version (optimistic concurrency for merge patches).
    Update { expected_version: Option<i32> },
}

/// One write of a batch.
#[derive(Debug, Clone)]
pub struct Write {
    /// Position in the submission (line number of a bulk file, 1 for single API calls).
    pub line: usize,
    pub id: String,
    /// The complete, validated record as JSON.
    pub record: Value,
    /// Explicit effective date; otherwise the store's plan decides.
    pub effective_date: Option<Date>,
    pub mode: Mode,
}

/// What happened to one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Applied {
    Created { version: i32, seq: i64 },
    Changed { version: i32, seq: i64 },
    Unchanged { version: i32 },
}

/// The answer to one API write: the id and what happened.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub id: String,
    #[serde(flatten)]
    pub applied: Applied,
}

/// A refused write, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub reasons: Vec<String>,
}

/// Why a batch was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{} record(s) refused; nothing was applied", .0.len())]
    Refused(Vec<LineError>),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<ApplyError> for crate::http::ApiError {
    /// A refused single write becomes 409 (exists / concurrent change), 404 (missing) or 400 (invalid).
    fn from(e: ApplyError) -> Self {
        use crate::http::ApiError;
        let errors = match e {
            ApplyError::Db(e) => return ApiError::Internal(e.into()),
            ApplyError::Refused(errors) => errors,
        };
        let details: Vec<String> = errors.into_iter().flat_map(|e| e.reasons).collect();
        if details
            .iter()
            .any(|d| d.contains("already exists") || d.contains("concurrently"))
        {
            ApiError::Conflict(details.join("; "))
        } else if details.iter().any(|d| d.contains("does not exist")) {
            ApiError::NotFound(details.join("; "))
        } else {
            ApiError::BadRequest {
                message: "refused".into(),
                details,
            }
        }
    }
}

/// The op name and effective date of a new version: `(previous record, new record, simulated today)`.
pub type Plan = fn(Option<&Value>, &Value, Date) -> (&'static str, Date);

/// A stored version.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct VersionRow {
    pub seq: i64,
    pub id: String,
    pub version: i32,
    pub op: String,
    #[serde(serialize_with = "ser_date")]
    pub effective_from: chrono::NaiveDate,
    #[serde(serialize_with = "ser_time")]
    pub recorded_at: NaiveDateTime,
    pub source: String,
    pub record: Value,
}

fn ser_date<S: serde::Serializer>(d: &chrono::NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&Date::from_naive(*d).compact())
}

fn ser_time<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// A versioned registry in one service's schema, published through `feed`: a table of version rows (`seq`, `id`,
/// `version`, unique on `(id, version)`), read through `versions` (a view or the table itself) with the columns
/// `(seq, id, version, op, effective_from, recorded_at, source, record)`, and written only through the schema's
/// function `write`: `(ids text[], versions int[], ops text[], effs date[], at timestamp, src text, records
/// jsonb[])` → `(id, seq)` in the order given. How the record is stored is the service's own business (the
/// insurer keeps typed columns, the portal JSONB).
#[derive(Debug, Clone, Copy)]
pub struct Store {
    pub table: &'static str,
    pub versions: &'static str,
    pub write: &'static str,
    pub feed: Feed,
    /// Record fields that may never change once created (identity).
    pub immutable: &'static [&'static str],
    pub plan: Plan,
    pub what: &'static str,
}

/// How many times a batch is tried when a concurrent batch created the same entities first.
const TRIES: usize = 3;

/// Whether a database error is a unique-key violation (a concurrent writer created the same entity).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505")
}

impl Store {
    /// Applies a batch in one transaction. Two batches creating the same entity at once (a client retrying a
    /// bulk file while the first post is in flight) do not fail: the later one is tried again and finds the
    /// entities the first created — equal records are unchanged, so both get the same answer; if it still
    /// collides, it is refused as a concurrent change (409), never an internal error.
    pub async fn apply(
        &self,
        pool: &PgPool,
        now: NaiveDateTime,
        writes: Vec<Write>,
        source: &str,
    ) -> Result<Vec<Applied>, ApplyError> {
        for _ in 1..TRIES {
            match self.apply_once(pool, now, writes.clone(), source).await {
                Err(ApplyError::Db(e)) if is_unique_violation(&e) => {
                    tracing::debug!(
                        "versioned: a concurrent batch created the same entity; trying again"
                    );
                }
                other => return other,
            }
        }
        match self.apply_once(pool, now, writes, source).await {
            Err(ApplyError::Db(e)) if is_unique_violation(&e) => {
                Err(ApplyError::Refused(vec![LineError {
                    line: 0,
                    id: None,
                    reasons: vec![format!("the {} changed concurrently; retry", self.what)],
                }]))
            }
            other => other,
        }
    }

    async fn apply_once(
        &self,
        pool: &PgPool,
        now: NaiveDateTime,
        writes: Vec<Write>,
        source: &str,
    ) -> Result<Vec<Applied>, ApplyError> {
        let mut tx = self.begin(pool).await?;
        let applied = self.apply_in(&mut tx, now, writes, source).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// A transaction that may write versions: the feed's publish lock is taken first (see `feed`).
    pub async fn begin<'c>(&self, pool: &PgPool) -> sqlx::Result<Transaction<'c, Postgres>> {
        let mut tx = pool.begin().await?;
        feed::publish_lock(&mut tx, self.feed).await?;
        Ok(tx)
    }

    /// Applies writes inside a transaction from [`Store::begin`], which the caller commits: a whole batch, or
    /// one chunk of a large file after another (memory then stays that of a chunk). A refused write leaves the
    /// transaction to be rolled back by the caller.
    pub async fn apply_in(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        now: NaiveDateTime,
        writes: Vec<Write>,
        source: &str,
    ) -> Result<Vec<Applied>, ApplyError> {
        let ids: Vec<String> = writes.iter().map(|w| w.id.clone()).collect();
        let existing = self.lock_latest(tx, &ids).await?;
        let today = Date::from_naive(now.date());

        let mut errors = Vec::new();
        let mut applied = Vec::with_capacity(writes.len());
        let mut rows: Vec<(String, i32, &'static str, chrono::NaiveDate, Value)> = Vec::new();
        for w in writes {
            let old = existing.get(&w.id);
            let refuse = |reason: String| LineError {
                line: w.line,
                id: Some(w.id.clone()),
                reasons: vec![reason],
            };
            match (w.mode, old) {
                (Mode::Create, Some(_)) => {
                    errors.push(refuse(format!("{} {} already exists", self.what, w.id)));
                    continue;
                }
                (Mode::Update { .. }, None) => {
                    errors.push(refuse(format!("{} {} does not exist", self.what, w.id)));
                    continue;
                }
                (
                    Mode::Update {
                        expected_version: Some(v),
                    },
                    Some((latest, _)),
                ) if *latest != v => {
                    errors.push(refuse(format!(
                        "{} {} changed concurrently (now version {latest}); retry",
                        self.what, w.id
                    )));
                    continue;
                }
                _ => {}
            }
            match old {
                Some((latest, prev)) if *prev == w.record => {
                    applied.push(Applied::Unchanged { version: *latest });
                }
                Some((latest, prev)) => {
                    let changed: Vec<&str> = self
                        .immutable
                        .iter()
                        .copied()
                        .filter(|f| prev.get(f) != w.record.get(f))
                        .collect();
                    if !changed.is_empty() {
                        errors.push(refuse(format!(
                            "{} cannot change ({}); register a new one instead",
                            changed.join(", "),
                            self.what
                        )));
                        continue;
                    }
                    let (op, eff) = (self.plan)(Some(prev), &w.record, today);
                    let eff = w.effective_date.unwrap_or(eff);
                    rows.push((w.id.clone(), latest + 1, op, eff.naive(), w.record));
                    applied.push(Applied::Changed {
                        version: latest + 1,
                        seq: 0,
                    });
                }
                None => {
                    let (op, eff) = (self.plan)(None, &w.record, today);
                    let eff = w.effective_date.unwrap_or(eff);
                    rows.push((w.id.clone(), 1, op, eff.naive(), w.record));
                    applied.push(Applied::Created { version: 1, seq: 0 });
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApplyError::Refused(errors));
        }
        if !rows.is_empty() {
            let mut columns = Columns::default();
            for (id, version, op, eff, record) in rows {
                columns.push(id, version, op, eff, record.to_string());
            }
            let seqs = self.write_rows(tx, now, source, columns).await?;
            feed::notify(tx, self.feed).await?;
            let by_id: HashMap<String, i64> = seqs.into_iter().collect();
            for (a, id) in applied.iter_mut().zip(&ids) {
                if let Applied::Created { seq, .. } | Applied::Changed { seq, .. } = a {
                    *seq = by_id.get(id).copied().unwrap_or_default();
                }
            }
        }
        Ok(applied)
    }

    /// Writes version rows through the store's `write` function; the seq of each, in order.
    async fn write_rows(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        at: NaiveDateTime,
        source: &str,
        c: Columns,
    ) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as(&format!(
            "SELECT * FROM {}($1, $2, $3, $4, $5, $6, $7::text[]::jsonb[])",
            self.write
        ))
        .bind(c.ids)
        .bind(c.versions)
        .bind(c.ops)
        .bind(c.effs)
        .bind(at)
        .bind(source)
        .bind(c.records)
        .fetch_all(&mut **tx)
        .await
    }

    /// Latest version and record of each existing id, locking those version rows.
    async fn lock_latest(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        ids: &[String],
    ) -> sqlx::Result<HashMap<String, (i32, Value)>> {
        let rows: Vec<(String, i32, Value)> = sqlx::query_as(&format!(
            "SELECT t.id, t.version, v.record FROM {t} t JOIN {v} v ON v.seq = t.seq \
             WHERE t.id = ANY($1) \
               AND NOT EXISTS (SELECT 1 FROM {t} l WHERE l.id = t.id AND l.version > t.version) \
             ORDER BY t.id FOR UPDATE OF t",
            t = self.table,
            v = self.versions
        ))
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows.into_iter().map(|(id, v, r)| (id, (v, r))).collect())
    }

    /// Every version of one id, oldest first.
    pub async fn versions_of(&self, pool: &PgPool, id: &str) -> sqlx::Result<Vec<VersionRow>> {
        sqlx::query_as(&format!(
            "SELECT seq, id, version, op, effective_from, recorded_at, source, record FROM {} \
             WHERE id = $1 ORDER BY version",
            self.versions
        ))
        .bind(id)
        .fetch_all(pool)
        .await
    }

    /// The latest version of every id (paged by id).
    pub async fn list_latest(
        &self,
        pool: &PgPool,
        after_id: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<VersionRow>> {
        sqlx::query_as(&format!(
            "SELECT v.seq, v.id, v.version, v.op, v.effective_from, v.recorded_at, v.source, v.record \
             FROM {v} v WHERE v.id > $1 \
               AND NOT EXISTS (SELECT 1 FROM {t} l WHERE l.id = v.id AND l.version > v.version) \
             ORDER BY v.id LIMIT $2",
            t = self.table,
            v = self.versions
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    /// Feed rows after `seq` (`None` while writers hold the feed lock; retry shortly).
    pub async fn feed_after(
        &self,
        pool: &PgPool,
        after: i64,
        limit: i64,
    ) -> sqlx::Result<Option<Vec<VersionRow>>> {
        read_feed(pool, self.feed, after, limit).await
    }
}

/// Versions to write, as the `write` function's array arguments (records as JSON text).
#[derive(Default)]
struct Columns {
    ids: Vec<String>,
    versions: Vec<i32>,
    ops: Vec<&'static str>,
    effs: Vec<chrono::NaiveDate>,
    records: Vec<String>,
}

impl Columns {
    fn push(
        &mut self,
        id: String,
        version: i32,
        op: &'static str,
        eff: chrono::NaiveDate,
        record: String,
    ) {
        self.ids.push(id);
        self.versions.push(version);
        self.ops.push(op);
        self.effs.push(eff);
        self.records.push(record);
    }
}

/// A first version to bulk-load (the synthetic nation): nothing with this id may exist yet.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub id: String,
    pub version: i32,
    pub op: &'static str,
    pub effective_from: chrono::NaiveDate,
    /// The record as JSON text.
    pub record: String,
}

impl Store {
    /// Loads first versions in bulk inside `tx` (taking the feed's publish lock and notifying consumers at
    /// commit), through the same `write` function as every other write. Several versions of one id must be
    /// consecutive, in version order.
    pub async fn load(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        rows: Vec<NewVersion>,
        recorded_at: NaiveDateTime,
        source: &str,
    ) -> sqlx::Result<()> {
        feed::publish_lock(tx, self.feed).await?;
        let mut columns = Columns::default();
        for r in rows {
            columns.push(r.id, r.version, r.op, r.effective_from, r.record);
        }
        self.write_rows(tx, recorded_at, source, columns).await?;
        feed::notify(tx, self.feed).await
    }

    /// Rebuilds the table's indexes compact after a bulk load ([`crate::db::compact_indexes`]).
    pub async fn compact(&self, pool: &PgPool) -> sqlx::Result<()> {
        crate::db::compact_indexes(pool, self.table).await
    }
}

/// A feed row with the record as JSON text (consumers deserialize it straight into their own types).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedText {
    pub seq: i64,
    pub id: String,
    pub effective_from: chrono::NaiveDate,
    pub record: String,
}

/// Like [`read_feed`], with the record as text, from the primary or a replica.
pub async fn read_feed_text(
    source: &feed::Source,
    feed: Feed,
    after: i64,
    limit: i64,
) -> sqlx::Result<Option<Vec<FeedText>>> {
    feed::read_batch(
        source,
        feed,
        &format!(
            "SELECT seq, id, effective_from, record::text AS record FROM {} WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2",
            feed.view
        ),
        after,
        limit,
    )
    .await
}

/// Consumer side of a versioned store's feed: rows of its published view after `seq`, or `None` while writers
/// hold the feed lock. Consumers use this with the view name only, never the publisher's tables.
pub async fn read_feed(
    pool: &PgPool,
    feed: Feed,
    after: i64,
    limit: i64,
) -> sqlx::Result<Option<Vec<VersionRow>>> {
    feed::read_batch(
        &feed::Source::primary(pool),
        feed,
        &format!(
            "SELECT seq, id, version, op, effective_from, recorded_at, source, record FROM {} \
             WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2",
            feed.view
        ),
        after,
        limit,
    )
    .await
}

/// Applies a JSON merge patch (RFC 7386): members replace, `null` removes, objects merge recursively.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// The version in force on `on`: the greatest `(effective_from, seq)` not after `on`.
pub fn in_force<T>(versions: &[T], on: Date, key: impl Fn(&T) -> (Date, i64)) -> Option<&T> {
    versions
        .iter()
        .filter(|v| key(v).0 <= on)
        .max_by_key(|v| key(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        merge_patch(
            &mut t,
            &serde_json::json!({"a": null, "b": {"c": 9}, "e": [2], "f": "x"}),
        );
        assert_eq!(
            t,
            serde_json::json!({"b": {"c": 9, "d": 3}, "e": [2], "f": "x"})
        );
    }

    #[test]
    fn the_latest_effective_version_wins_and_corrections_supersede() {
        let d = |s| Date::parse(s).unwrap();
        let v = vec![
            (d("20200401"), 1i64),
            (d("20260601"), 2),
            (d("20200401"), 3), // a correction of the first period, recorded later
        ];
        let k = |x: &(Date, i64)| *x;
        assert_eq!(in_force(&v, d("20200331"), k), None);
        assert_eq!(in_force(&v, d("20210101"), k).unwrap().1, 3);
        assert_eq!(in_force(&v, d("20260601"), k).unwrap().1, 2);
    }
}
