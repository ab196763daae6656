//! Card-reader sessions: one per card placement, moving `identify → (register →) consent → done` by atomic
//! compare-and-set, so each step happens once; a finished or failed session cannot be replayed.

use chrono::NaiveDateTime;
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub facility: String,
    pub terminal: String,
    pub serial: String,
    pub person_id: String,
    pub state: String,
    pub created_at: NaiveDateTime,
}

/// How long a session may sit at the reader (simulated minutes).
pub const SESSION_MINUTES: i64 = 10;

pub async fn create(
    pool: &PgPool,
    facility: &str,
    terminal: &str,
    serial: &str,
    person_id: &str,
    now: NaiveDateTime,
) -> sqlx::Result<String> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| sqlx::Error::Protocol("no randomness".into()))?;
    let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query(
        "INSERT INTO consent.reader_sessions (id, facility, terminal, serial, person_id, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'identify', $6, $6)",
    )
    .bind(&id)
    .bind(facility)
    .bind(terminal)
    .bind(serial)
    .bind(person_id)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(id)
}

pub async fn get(pool: &PgPool, id: &str) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(
        "SELECT id, facility, terminal, serial, person_id, state, created_at FROM consent.reader_sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Moves a session from `from` to `to`; false when it was not in `from` (a replay or an out-of-order step).
pub async fn advance(
    exec: impl sqlx::PgExecutor<'_>,
    id: &str,
    from: &str,
    to: &str,
    now: NaiveDateTime,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE consent.reader_sessions SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(exec)
    .await?;
    Ok(done.rows_affected() == 1)
}
