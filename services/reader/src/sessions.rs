//! Card-reader sessions: one per card placement, moving `identify → (register →) consent → done` by atomic
//! compare-and-set, so each step happens once; a finished or failed session cannot be replayed. The state is a
//! PostgreSQL enum (`reader.session_state`).

use chrono::{NaiveDateTime, TimeDelta};
use serde::Serialize;
use sqlx::PgPool;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[sqlx(type_name = "reader.session_state", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Waiting for the face match or the PIN.
    Identify,
    /// Waiting for 初回登録 (the card is not yet registered for health insurance use).
    Register,
    /// Waiting for the consent screens.
    Consent,
    Done,
    /// Ended early (the PIN locked the card).
    Failed,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub facility: String,
    pub terminal: String,
    pub serial: String,
    pub person_id: String,
    pub registered: bool,
    pub state: SessionState,
    pub created_at: NaiveDateTime,
}

/// Where a step moves a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    To(SessionState),
    /// After identification: `consent` for a registered card, else `register`.
    AfterIdentify,
}

/// How long a session may sit at the reader (simulated minutes).
pub const SESSION_MINUTES: i64 = 10;

const COLUMNS: &str = "id, facility, terminal, serial, person_id, registered, state, created_at";

fn new_id() -> sqlx::Result<String> {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| sqlx::Error::Protocol("no randomness".into()))?;
    Ok(onshi_platform::hex(&raw))
}

/// A card placed at a terminal of `facility`.
pub struct Placed<'a> {
    pub facility: &'a str,
    pub terminal: &'a str,
    pub serial: &'a str,
    pub person_id: &'a str,
    pub registered: bool,
}

pub async fn create(pool: &PgPool, p: Placed<'_>, now: NaiveDateTime) -> sqlx::Result<String> {
    let id = new_id()?;
    sqlx::query(
        "INSERT INTO reader.sessions (id, facility, terminal, serial, person_id, registered, state, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'identify', $7, $7)",
    )
    .bind(&id)
    .bind(p.facility)
    .bind(p.terminal)
    .bind(p.serial)
    .bind(p.person_id)
    .bind(p.registered)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(id)
}

pub async fn get(pool: &PgPool, id: &str) -> sqlx::Result<Option<Session>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reader.sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Moves a session of `facility` from `from` to `next` if it has not timed out; returns it, or `None` when it was
/// not in that state (a replay or an out-of-order step), belongs elsewhere or timed out.
pub async fn advance(
    exec: impl sqlx::PgExecutor<'_>,
    id: &str,
    facility: &str,
    from: SessionState,
    next: Next,
    now: NaiveDateTime,
) -> sqlx::Result<Option<Session>> {
    let to = match next {
        Next::To(s) => Some(s),
        Next::AfterIdentify => None,
    };
    sqlx::query_as(&format!(
        "UPDATE reader.sessions SET \
           state = COALESCE($4, CASE WHEN registered THEN 'consent' ELSE 'register' END::reader.session_state), \
           updated_at = $5 \
         WHERE id = $1 AND facility = $2 AND state = $3 AND created_at > $6 \
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(facility)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(now - TimeDelta::minutes(SESSION_MINUTES))
    .fetch_optional(exec)
    .await
}
