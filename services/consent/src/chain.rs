//! The consent log and the access log: append-only, each row chained to the previous one by HMAC-SHA256 with a key
//! kept outside the database ([`Log`]), so an edit, a recomputed chain or a forged append is detected by [`verify`]
//! (`onshi consent verify`); and after every append a checkpoint of the head (its `seq` and hash, signed with the
//! same key) is written outside the database, so deleting the tail or every row is detected too.

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};

use onshi_platform::hex;
use onshi_platform::http::Core;

use crate::Kind;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const CONSENT_LOCK: i64 = 0x6f6e_7368_0101;
const ACCESS_LOCK: i64 = 0x6f6e_7368_0102;

fn t(x: &NaiveDateTime) -> String {
    x.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

/// The hashed content of one consent event.
struct Event<'a> {
    person: &'a str,
    facility: &'a str,
    kind: &'a str,
    action: &'a str,
    at: &'a NaiveDateTime,
    until: Option<&'a NaiveDateTime>,
    reason: Option<&'a str>,
    session: Option<&'a str>,
}

impl Event<'_> {
    fn line(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            self.person,
            self.facility,
            self.kind,
            self.action,
            t(self.at),
            self.until.map(t).unwrap_or_default(),
            self.reason.unwrap_or(""),
            self.session.unwrap_or("")
        )
    }
}

fn access_line(
    person: &str,
    facility: &str,
    kind: &str,
    at: &NaiveDateTime,
    basis: &str,
) -> String {
    format!("{person}|{facility}|{kind}|{}|{basis}", t(at))
}

/// What a process needs to append to and verify the logs: the database, the chain key, the checkpoint folder.
pub struct Log<'a> {
    pub pool: &'a PgPool,
    key: ring::hmac::Key,
    checkpoints: Option<&'a std::path::Path>,
}

/// The key used when none is configured: not secret, so not tamper-proof (tests and tools without a home).
const DEVELOPMENT_KEY: &str = "onshi-development-chain-key-not-secret";

impl<'a> Log<'a> {
    pub fn of(core: &'a Core) -> Self {
        let secret = core.config.chain_key.as_deref().unwrap_or(DEVELOPMENT_KEY);
        Self {
            pool: &core.pool,
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
            checkpoints: core.config.checkpoint_dir.as_deref(),
        }
    }

    /// The link of a row: keyed for every row written since the logs were keyed, SHA-256 for older ones.
    fn link(&self, keyed: bool, prev: &str, line: &str) -> String {
        let text = format!("{prev}\n{line}");
        if keyed {
            hex(ring::hmac::sign(&self.key, text.as_bytes()).as_ref())
        } else {
            onshi_platform::sha256_hex(text.as_bytes())
        }
    }

    fn checkpoint_path(&self, table: &str) -> Option<std::path::PathBuf> {
        self.checkpoints
            .map(|d| d.join(format!("{table}.checkpoint.json")))
    }

    fn sign(&self, table: &str, seq: i64, hash: &str) -> String {
        hex(ring::hmac::sign(&self.key, format!("{table}|{seq}|{hash}").as_bytes()).as_ref())
    }

    /// Records the head of `table` outside the database, unless a later head is already there.
    async fn checkpoint(&self, table: &str) {
        let Some(path) = self.checkpoint_path(table) else {
            return;
        };
        let head: sqlx::Result<Option<(i64, String)>> = sqlx::query_as(&format!(
            "SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(self.pool)
        .await;
        let Ok(Some((seq, hash))) = head else { return };
        if self.read_checkpoint(table).is_some_and(|c| c.seq >= seq) {
            return;
        }
        let c = Checkpoint {
            table: table.to_string(),
            seq,
            signature: self.sign(table, seq, &hash),
            hash,
        };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("checkpoint.json");
                onshi_platform::transport::write_atomically(
                    path.parent().unwrap_or(std::path::Path::new(".")),
                    name,
                    serde_json::to_string(&c).unwrap_or_default().as_bytes(),
                )
            });
        if let Err(e) = written {
            tracing::warn!(error = %e, table, "consent: cannot write the log checkpoint");
        }
    }

    fn read_checkpoint(&self, table: &str) -> Option<Checkpoint> {
        let text = std::fs::read_to_string(self.checkpoint_path(table)?).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The head of a log as last appended, signed (`<checkpoints>/<table>.checkpoint.json`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Checkpoint {
    table: String,
    seq: i64,
    hash: String,
    signature: String,
}

async fn last_hash(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    lock: i64,
) -> sqlx::Result<String> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock)
        .execute(&mut **tx)
        .await?;
    let last: Option<(String,)> = sqlx::query_as(&format!(
        "SELECT hash FROM {table} ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(last.map_or_else(|| GENESIS.to_string(), |(h,)| h))
}

/// The consents a patient gave at a card reader, to append to the consent log.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Given {
    pub person: String,
    pub facility: String,
    pub kinds: Vec<Kind>,
    pub at: NaiveDateTime,
    pub until: NaiveDateTime,
    /// The reader session they were given in.
    pub session: String,
}

/// One consent row of a batch, with its place in the chain.
struct NewRow {
    person: String,
    facility: String,
    kind: &'static str,
    at: NaiveDateTime,
    until: NaiveDateTime,
    session: String,
    prev: String,
    hash: String,
}

/// Appends the consents of many reader sessions to the chain in one transaction (one lock, one commit: the card
/// reader group-commits its finished sessions through this).
pub async fn record_given(log: &Log<'_>, items: &[Given]) -> sqlx::Result<()> {
    let mut tx = log.pool.begin().await?;
    let mut prev = last_hash(&mut tx, "consent.consents", CONSENT_LOCK).await?;
    let mut rows: Vec<NewRow> = Vec::new();
    for item in items {
        for k in &item.kinds {
            let line = Event {
                person: &item.person,
                facility: &item.facility,
                kind: k.code(),
                action: "given",
                at: &item.at,
                until: Some(&item.until),
                reason: None,
                session: Some(&item.session),
            }
            .line();
            let hash = log.link(true, &prev, &line);
            rows.push(NewRow {
                person: item.person.clone(),
                facility: item.facility.clone(),
                kind: k.code(),
                at: item.at,
                until: item.until,
                session: item.session.clone(),
                prev,
                hash: hash.clone(),
            });
            prev = hash;
        }
    }
    if !rows.is_empty() {
        sqlx::query(
            "INSERT INTO consent.consents (person_id, facility, kind, action, at, available_until, session, prev_hash, hash) \
             SELECT p, f, k, 'given', a, u, s, ph, h FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamp[], \
               $5::timestamp[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS t(p, f, k, a, u, s, ph, h, n) ORDER BY n",
        )
        .bind(rows.iter().map(|r| r.person.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.facility.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.kind.to_string()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.until).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.session.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.prev.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.hash.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    log.checkpoint("consent.consents").await;
    Ok(())
}

/// Records a revocation (OQSCD031 reason: 1 facility, 2 patient).
pub async fn revoke(
    log: &Log<'_>,
    person: &str,
    facility: &str,
    kind: Kind,
    reason: &str,
    at: NaiveDateTime,
) -> sqlx::Result<i64> {
    let mut tx = log.pool.begin().await?;
    let prev = last_hash(&mut tx, "consent.consents", CONSENT_LOCK).await?;
    let line = Event {
        person,
        facility,
        kind: kind.code(),
        action: "revoked",
        at: &at,
        until: None,
        reason: Some(reason),
        session: None,
    }
    .line();
    let hash = log.link(true, &prev, &line);
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO consent.consents (person_id, facility, kind, action, at, reason, prev_hash, hash) \
         VALUES ($1, $2, $3, 'revoked', $4, $5, $6, $7) RETURNING seq",
    )
    .bind(person)
    .bind(facility)
    .bind(kind.code())
    .bind(at)
    .bind(reason)
    .bind(&prev)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    log.checkpoint("consent.consents").await;
    Ok(seq)
}

/// Records the decisions of one view of a person's data (one row per kind), all or none.
pub async fn record_access(
    log: &Log<'_>,
    person: &str,
    facility: &str,
    entries: &[(Kind, String)],
    at: NaiveDateTime,
) -> sqlx::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut tx = log.pool.begin().await?;
    let mut prev = last_hash(&mut tx, "consent.access_log", ACCESS_LOCK).await?;
    for (kind, basis) in entries {
        let hash = log.link(
            true,
            &prev,
            &access_line(person, facility, kind.code(), &at, basis),
        );
        sqlx::query(
            "INSERT INTO consent.access_log (person_id, facility, kind, at, basis, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(person)
        .bind(facility)
        .bind(kind.code())
        .bind(at)
        .bind(basis)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        prev = hash;
    }
    tx.commit().await?;
    log.checkpoint("consent.access_log").await;
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ConsentRow {
    pub seq: i64,
    pub facility: String,
    pub kind: String,
    pub action: String,
    #[serde(serialize_with = "ser_time")]
    pub at: NaiveDateTime,
    #[serde(serialize_with = "ser_opt_time")]
    pub available_until: Option<NaiveDateTime>,
    pub reason: Option<String>,
    /// given and not yet expired or revoked (computed).
    #[sqlx(default)]
    pub active: bool,
}

fn ser_time<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%Y-%m-%dT%H:%M:%S").to_string())
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}

/// A person's consent history, each `given` marked active when it is the latest event of its
/// (facility, kind) and not expired at `now`.
pub async fn consents_of(
    pool: &PgPool,
    person: &str,
    now: NaiveDateTime,
) -> sqlx::Result<Vec<ConsentRow>> {
    let mut rows: Vec<ConsentRow> = sqlx::query_as(
        "SELECT seq, facility, kind, action, at, available_until, reason FROM consent.consents \
         WHERE person_id = $1 ORDER BY seq",
    )
    .bind(person)
    .fetch_all(pool)
    .await?;
    let mut latest = std::collections::HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        latest.insert((r.facility.clone(), r.kind.clone()), i);
    }
    for i in latest.into_values() {
        let r = &mut rows[i];
        r.active = r.action == "given" && r.available_until.is_some_and(|u| u > now);
    }
    Ok(rows)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct AccessRow {
    pub seq: i64,
    pub facility: String,
    pub kind: String,
    #[serde(serialize_with = "ser_time")]
    pub at: NaiveDateTime,
    pub basis: String,
}

/// Who looked at a person's data.
pub async fn access_of(pool: &PgPool, person: &str) -> sqlx::Result<Vec<AccessRow>> {
    sqlx::query_as(
        "SELECT seq, facility, kind, at, basis FROM consent.access_log WHERE person_id = $1 ORDER BY seq",
    )
    .bind(person)
    .fetch_all(pool)
    .await
}

/// The result of re-computing both chains.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    pub consents: usize,
    pub accesses: usize,
    /// The first row whose hash does not follow from its content and its predecessor.
    pub broken: Option<String>,
}

/// A consent row as the verification reads it.
#[derive(sqlx::FromRow)]
struct ConsentLink {
    seq: i64,
    person_id: String,
    facility: String,
    kind: String,
    action: String,
    at: NaiveDateTime,
    available_until: Option<NaiveDateTime>,
    reason: Option<String>,
    session: Option<String>,
    prev_hash: String,
    hash: String,
    keyed: bool,
}

/// An access-log row as the verification reads it.
#[derive(sqlx::FromRow)]
struct AccessLink {
    seq: i64,
    person_id: String,
    facility: String,
    kind: String,
    at: NaiveDateTime,
    basis: String,
    prev_hash: String,
    hash: String,
    keyed: bool,
}

/// One chain's rows: (seq, prev_hash, hash, keyed, the hashed line).
type Links = Vec<(i64, String, String, bool, String)>;

impl Log<'_> {
    /// The first problem of one chain: a row whose link does not follow (edited, recomputed without the key,
    /// forged), an unkeyed row after a keyed one, or a head that is gone or changed since its checkpoint.
    fn check_chain(&self, table: &str, rows: &Links) -> Option<String> {
        let mut prev = GENESIS.to_string();
        let mut keyed_seen = false;
        for (seq, prev_hash, hash, keyed, line) in rows {
            keyed_seen |= *keyed;
            let forged_legacy = keyed_seen && !keyed;
            if forged_legacy || *prev_hash != prev || self.link(*keyed, &prev, line) != *hash {
                return Some(format!("{table} seq {seq}"));
            }
            prev = hash.clone();
        }
        let c = self.read_checkpoint(table)?;
        if c.table != table || self.sign(table, c.seq, &c.hash) != c.signature {
            return Some(format!(
                "{table}: the checkpoint's signature does not match"
            ));
        }
        match rows.iter().find(|r| r.0 == c.seq) {
            Some(r) if r.2 == c.hash => None,
            Some(_) => Some(format!(
                "{table} seq {}: changed since its checkpoint",
                c.seq
            )),
            None => Some(format!(
                "{table}: rows up to seq {} were removed (checkpoint)",
                c.seq
            )),
        }
    }
}

/// Recomputes both chains from their first row and compares their heads with the checkpoints.
pub async fn verify(log: &Log<'_>) -> sqlx::Result<Verification> {
    let consents: Vec<ConsentLink> = sqlx::query_as(
        "SELECT seq, person_id, facility, kind, action, at, available_until, reason, session, prev_hash, hash, keyed \
         FROM consent.consents ORDER BY seq",
    )
    .fetch_all(log.pool)
    .await?;
    let consent_links: Links = consents
        .iter()
        .map(|c| {
            let line = Event {
                person: &c.person_id,
                facility: &c.facility,
                kind: &c.kind,
                action: &c.action,
                at: &c.at,
                until: c.available_until.as_ref(),
                reason: c.reason.as_deref(),
                session: c.session.as_deref(),
            }
            .line();
            (c.seq, c.prev_hash.clone(), c.hash.clone(), c.keyed, line)
        })
        .collect();
    let accesses: Vec<AccessLink> = sqlx::query_as(
        "SELECT seq, person_id, facility, kind, at, basis, prev_hash, hash, keyed FROM consent.access_log ORDER BY seq",
    )
    .fetch_all(log.pool)
    .await?;
    let access_links: Links = accesses
        .iter()
        .map(|a| {
            let line = access_line(&a.person_id, &a.facility, &a.kind, &a.at, &a.basis);
            (a.seq, a.prev_hash.clone(), a.hash.clone(), a.keyed, line)
        })
        .collect();
    let broken = log
        .check_chain("consent.consents", &consent_links)
        .or_else(|| log.check_chain("consent.access_log", &access_links));
    Ok(Verification {
        ok: broken.is_none(),
        consents: consents.len(),
        accesses: accesses.len(),
        broken,
    })
}
