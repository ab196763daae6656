//! May a facility view a kind of a person's data now? Yes under a live consent the patient gave that facility
//! (given at the reader, not expired, not revoked), or under a disaster declaration covering the facility's
//! prefecture on the simulated today (災害時: no card identification needed). Every view is logged with its basis.

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::http::{ApiError, Core};
use onshi_wire::ids::{Date, InstitutionCode};

use crate::chain;
use crate::Kind;

/// Why a view is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    Consent(i64),
    Disaster(i64),
}

impl Basis {
    pub fn label(&self) -> String {
        match self {
            Basis::Consent(seq) => format!("consent:{seq}"),
            Basis::Disaster(id) => format!("disaster:{id}"),
        }
    }
}

/// Why a view is refused (shown to the facility; no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoConsent,
    Expired,
    Revoked,
}

impl Refusal {
    /// The access log's basis of a refused view.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::NoConsent => "refused:no_consent",
            Refusal::Expired => "refused:expired",
            Refusal::Revoked => "refused:revoked",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refusal::NoConsent => "閲覧の同意がありません。",
            Refusal::Expired => "閲覧の同意の有効期限が切れています。",
            Refusal::Revoked => "閲覧の同意が取り消されています。",
        }
    }
}

/// Decides whether `facility` may view `kind` of `person` at `now` (simulated).
pub async fn check(
    pool: &PgPool,
    person: &str,
    facility: &InstitutionCode,
    kind: Kind,
    now: NaiveDateTime,
) -> sqlx::Result<Result<Basis, Refusal>> {
    #[derive(sqlx::FromRow)]
    struct Latest {
        seq: i64,
        action: String,
        available_until: Option<NaiveDateTime>,
    }
    let latest: Option<Latest> = sqlx::query_as(
        "SELECT seq, action, available_until FROM consent.consents \
         WHERE person_id = $1 AND facility = $2 AND kind = $3 ORDER BY seq DESC LIMIT 1",
    )
    .bind(person)
    .bind(facility.as_str())
    .bind(kind.code())
    .fetch_optional(pool)
    .await?;
    let refusal = match latest {
        Some(Latest {
            seq,
            action,
            available_until: Some(until),
        }) if action == "given" && now < until => return Ok(Ok(Basis::Consent(seq))),
        Some(l) if l.action == "revoked" => Refusal::Revoked,
        Some(_) => Refusal::Expired,
        None => Refusal::NoConsent,
    };
    let today = now.date();
    let disaster: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM consent.disasters WHERE $1 = ANY(prefectures) AND starts_on <= $2 AND $2 <= ends_on \
         ORDER BY id LIMIT 1",
    )
    .bind(i32::from(facility.prefecture()))
    .bind(today)
    .fetch_optional(pool)
    .await?;
    Ok(match disaster {
        Some((id,)) => Ok(Basis::Disaster(id)),
        None => Err(refusal),
    })
}

/// Checks the view and chains it in the access log, allowed (with its basis) or refused (with the reason), so the
/// patient sees every attempt; refusals are also logged to the operator's log without personal data.
pub async fn view(
    core: &Core,
    person: &str,
    facility: &InstitutionCode,
    kind: Kind,
    now: NaiveDateTime,
) -> sqlx::Result<Result<Basis, Refusal>> {
    let decision = check(&core.pool, person, facility, kind, now).await?;
    let basis = match &decision {
        Ok(basis) => basis.label(),
        Err(r) => {
            tracing::warn!(facility = %facility, kind = kind.code(), reason = ?r, "refused: data view");
            r.label().to_string()
        }
    };
    let log = chain::Log::of(core);
    chain::record_access(&log, person, facility.as_str(), kind, now, &basis).await?;
    Ok(decision)
}

/// Declares a disaster for prefectures and a period.
pub async fn declare(
    core: &Core,
    name: &str,
    prefectures: &[u8],
    from: Date,
    to: Date,
) -> Result<i64, ApiError> {
    let prefs: Vec<i32> = prefectures.iter().map(|p| i32::from(*p)).collect();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO consent.disasters (name, prefectures, starts_on, ends_on, declared_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(&prefs)
    .bind(from.naive())
    .bind(to.naive())
    .bind(core.clock.now())
    .fetch_one(&core.pool)
    .await?;
    tracing::info!(id, prefectures = ?prefs, "disaster declared");
    Ok(id)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct DisasterRow {
    pub id: i64,
    pub name: String,
    pub prefectures: Vec<i32>,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: chrono::NaiveDate,
}

pub async fn disasters(pool: &PgPool) -> sqlx::Result<Vec<DisasterRow>> {
    sqlx::query_as(
        "SELECT id, name, prefectures, starts_on, ends_on FROM consent.disasters ORDER BY id",
    )
    .fetch_all(pool)
    .await
}
