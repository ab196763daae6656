//! The consent log and the access log: append-only, each row chained to the previous one by SHA-256 so that any
//! edit or deletion is detected by [`verify`] (`onshi consent verify`).

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};

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

fn link(prev: &str, line: &str) -> String {
    onshi_platform::sha256_hex(format!("{prev}\n{line}").as_bytes())
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
#[derive(Debug, Clone)]
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
pub async fn record_given(pool: &PgPool, items: &[Given]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
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
            let hash = link(&prev, &line);
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
    Ok(())
}

/// Records a revocation (OQSCD031 reason: 1 facility, 2 patient).
pub async fn revoke(
    pool: &PgPool,
    person: &str,
    facility: &str,
    kind: Kind,
    reason: &str,
    at: NaiveDateTime,
) -> sqlx::Result<i64> {
    let mut tx = pool.begin().await?;
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
    let hash = link(&prev, &line);
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
    Ok(seq)
}

/// Records one view of a person's data.
pub async fn record_access(
    pool: &PgPool,
    person: &str,
    facility: &str,
    kind: Kind,
    at: NaiveDateTime,
    basis: &str,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let prev = last_hash(&mut tx, "consent.access_log", ACCESS_LOCK).await?;
    let hash = link(
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
    tx.commit().await
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

/// Recomputes both chains from their first row.
pub async fn verify(pool: &PgPool) -> sqlx::Result<Verification> {
    type C = (
        i64,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<String>,
        Option<String>,
        String,
        String,
    );
    let consents: Vec<C> = sqlx::query_as(
        "SELECT seq, person_id, facility, kind, action, at, available_until, reason, session, prev_hash, hash \
         FROM consent.consents ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    let mut broken = None;
    let mut prev = GENESIS.to_string();
    for c in &consents {
        let line = Event {
            person: &c.1,
            facility: &c.2,
            kind: &c.3,
            action: &c.4,
            at: &c.5,
            until: c.6.as_ref(),
            reason: c.7.as_deref(),
            session: c.8.as_deref(),
        }
        .line();
        if c.9 != prev || link(&prev, &line) != c.10 {
            broken.get_or_insert(format!("consent.consents seq {}", c.0));
            break;
        }
        prev = c.10.clone();
    }
    type A = (
        i64,
        String,
        String,
        String,
        NaiveDateTime,
        String,
        String,
        String,
    );
    let accesses: Vec<A> = sqlx::query_as(
        "SELECT seq, person_id, facility, kind, at, basis, prev_hash, hash FROM consent.access_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    let mut prev = GENESIS.to_string();
    for a in &accesses {
        if a.6 != prev || link(&prev, &access_line(&a.1, &a.2, &a.3, &a.4, &a.5)) != a.7 {
            broken.get_or_insert(format!("consent.access_log seq {}", a.0));
            break;
        }
        prev = a.7.clone();
    }
    Ok(Verification {
        ok: broken.is_none(),
        consents: consents.len(),
        accesses: accesses.len(),
        broken,
    })
}
