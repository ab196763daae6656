//! Card-reader sessions: one per card placement, moving `identify → (register →) consent → done` by atomic
//! compare-and-set, so each step happens once; a finished or failed session cannot be replayed.

use chrono::{NaiveDateTime, TimeDelta};
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub facility: String,
    pub terminal: String,
    pub serial: String,
    pub person_id: String,
    pub registered: bool,
    pub state: String,
    pub created_at: NaiveDateTime,
}

/// How long a session may sit at the reader (simulated minutes).
pub const SESSION_MINUTES: i64 = 10;

fn new_id() -> sqlx::Result<String> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| sqlx::Error::Protocol("no randomness".into()))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

pub async fn create(
    pool: &PgPool,
    facility: &str,
    terminal: &str,
    serial: &str,
    person_id: &str,
    registered: bool,
    now: NaiveDateTime,
) -> sqlx::Result<String> {
    let id = new_id()?;
    sqlx::query(
        "INSERT INTO consent.reader_sessions (id, facility, terminal, serial, person_id, registered, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'identify', $7, $7)",
    )
    .bind(&id)
    .bind(facility)
    .bind(terminal)
    .bind(serial)
    .bind(person_id)
    .bind(registered)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(id)
}

pub async fn get(pool: &PgPool, id: &str) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(
        "SELECT id, facility, terminal, serial, person_id, registered, state, created_at \
         FROM consent.reader_sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Moves a session of `facility` from `from` to `to` if it has not timed out; returns it, or `None` when it was
/// not in that state (a replay or an out-of-order step), belongs elsewhere or timed out. `to` may be the special
/// `after_identify`: `consent` for a registered card, else `register`.
pub async fn advance(
    exec: impl sqlx::PgExecutor<'_>,
    id: &str,
    facility: &str,
    from: &str,
    to: &str,
    now: NaiveDateTime,
) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(
        "UPDATE consent.reader_sessions SET \
           state = CASE WHEN $4 = 'after_identify' THEN (CASE WHEN registered THEN 'consent' ELSE 'register' END) ELSE $4 END, \
           updated_at = $5 \
         WHERE id = $1 AND facility = $2 AND state = $3 AND created_at > $6 \
         RETURNING id, facility, terminal, serial, person_id, registered, state, created_at",
    )
    .bind(id)
    .bind(facility)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(now - TimeDelta::minutes(SESSION_MINUTES))
    .fetch_optional(exec)
    .await
}
