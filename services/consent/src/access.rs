//! May a facility view a kind of a person's data now? Only under a live consent the patient gave that facility for
//! that kind (each kind its own: 薬剤 YZK, 診療 SRJ, 手術 SHJ, 特定健診 TKK, …; given at the reader, not expired, not
//! revoked). In a declared disaster the patient may consent without card identification, verbally to the
//! facility ([`record_disaster_consent`]), when the facility lies in a declared area (prefecture or district) within
//! the declared period; such a consent opens the data only while the declaration still covers the facility. A view
//! asks for several kinds at once ([`view`]): those the answer needs and those it may add; every decision is
//! chained in the access log in one transaction, with its basis (the consent, and the declaration if any).

use chrono::NaiveDateTime;
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::http::{ApiError, Core};
use onshi_wire::ids::{Date, InstitutionCode};

use crate::chain;
use crate::Kind;

/// Why a view is allowed: the consent (its row in the consent log), given at the reader or, in a disaster,
/// verbally under a declaration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Basis {
    Consent(i64),
    Disaster { declaration: i64, consent: i64 },
}

impl Basis {
    pub fn label(&self) -> String {
        match self {
            Basis::Consent(seq) => format!("consent:{seq}"),
            Basis::Disaster {
                declaration,
                consent,
            } => format!("disaster:{declaration}:consent:{consent}"),
        }
    }
}

/// Why a view is refused (shown to the facility; no personal data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    NoConsent,
    Expired,
    Revoked,
    /// A verbal consent given in a disaster, used where or when its declaration no longer applies.
    OutsideDisaster,
}

impl Refusal {
    /// The access log's basis of a refused view.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::NoConsent => "refused:no_consent",
            Refusal::Expired => "refused:expired",
            Refusal::Revoked => "refused:revoked",
            Refusal::OutsideDisaster => "refused:outside_disaster",
        }
    }

    /// The message for the facility, naming the kind refused (e.g. 診療情報の閲覧の同意がありません。).
    pub fn message(&self, kind: Kind) -> String {
        let what = kind.label();
        match self {
            Refusal::NoConsent => format!("{what}の閲覧の同意がありません。"),
            Refusal::Expired => format!("{what}の閲覧の同意の有効期限が切れています。"),
            Refusal::Revoked => format!("{what}の閲覧の同意が取り消されています。"),
            Refusal::OutsideDisaster => {
                format!("{what}の災害時の閲覧は、災害の指定地域・期間の外ではできません。")
            }
        }
    }
}

/// The kinds a view may show, each with its basis.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Granted(pub Vec<(Kind, Basis)>);

impl Granted {
    pub fn has(&self, kind: Kind) -> bool {
        self.0.iter().any(|(k, _)| *k == kind)
    }
}

/// A kind refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    pub kind: Kind,
    pub why: Refusal,
}

impl Refused {
    pub fn message(&self) -> String {
        self.why.message(self.kind)
    }
}

/// The prefix of the reader-session field of a consent given verbally under a disaster declaration.
const DISASTER_SESSION: &str = "disaster:";

/// The declaration covering `facility` on `today`, if any (by prefecture or by district).
async fn covering(
    pool: &PgPool,
    facility: &InstitutionCode,
    today: chrono::NaiveDate,
    only: Option<i64>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM consent.disasters \
         WHERE ($1 = ANY(prefectures) OR $2 = ANY(districts)) AND starts_on <= $3 AND $3 <= ends_on \
           AND ($4::bigint IS NULL OR id = $4) \
         ORDER BY id LIMIT 1",
    )
    .bind(i32::from(facility.prefecture()))
    .bind(facility.district())
    .bind(today)
    .bind(only)
    .fetch_optional(pool)
    .await
}

/// Decides whether `facility` may view each of `kinds` of `person` at `now` (simulated), from the latest consent
/// event of each kind — one query for all of them (and one for the declaration, only when a consent was given in a
/// disaster).
pub async fn check(
    pool: &PgPool,
    person: &str,
    facility: &InstitutionCode,
    kinds: &[Kind],
    now: NaiveDateTime,
) -> sqlx::Result<Vec<(Kind, Result<Basis, Refusal>)>> {
    #[derive(sqlx::FromRow)]
    struct Latest {
        kind: String,
        seq: i64,
        action: String,
        available_until: Option<NaiveDateTime>,
        session: Option<String>,
    }
    let codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
    let latest: Vec<Latest> = sqlx::query_as(
        "SELECT DISTINCT ON (kind) kind, seq, action, available_until, session FROM consent.consents \
         WHERE person_id = $1 AND facility = $2 AND kind = ANY($3) ORDER BY kind, seq DESC",
    )
    .bind(person)
    .bind(facility.as_str())
    .bind(&codes)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let decision = match latest.iter().find(|l| l.kind == kind.code()) {
            Some(Latest {
                seq,
                action,
                available_until: Some(until),
                session,
                ..
            }) if action == "given" && now < *until => {
                match session
                    .as_deref()
                    .and_then(|s| s.strip_prefix(DISASTER_SESSION))
                {
                    None => Ok(Basis::Consent(*seq)),
                    Some(id) => {
                        let id = id.parse::<i64>().ok();
                        match covering(pool, facility, now.date(), id).await? {
                            Some(declaration) if id.is_some() => Ok(Basis::Disaster {
                                declaration,
                                consent: *seq,
                            }),
                            _ => Err(Refusal::OutsideDisaster),
                        }
                    }
                }
            }
            Some(l) if l.action == "revoked" => Err(Refusal::Revoked),
            Some(_) => Err(Refusal::Expired),
            None => Err(Refusal::NoConsent),
        };
        out.push((*kind, decision));
    }
    Ok(out)
}

/// Decides a view of the kinds the answer needs (`required`, all must be allowed) and those it adds when allowed
/// (`optional`), and chains the decision in the access log in one transaction: when a required kind is refused,
/// the refusals (nothing is shown); otherwise every kind shown, with its basis. Refusals are also logged to the
/// operator's log without personal data.
pub async fn view(
    core: &Core,
    person: &str,
    facility: &InstitutionCode,
    required: &[Kind],
    optional: &[Kind],
    now: NaiveDateTime,
) -> sqlx::Result<Result<Granted, Refused>> {
    let mut granted = Granted::default();
    let mut refused = Vec::new();
    let kinds: Vec<Kind> = required.iter().chain(optional).copied().collect();
    let decisions = check(&core.pool, person, facility, &kinds, now).await?;
    for (kind, decision) in decisions {
        let needed = required.contains(&kind);
        match decision {
            Ok(basis) => granted.0.push((kind, basis)),
            Err(why) if needed => {
                tracing::warn!(facility = %facility, kind = kind.code(), reason = ?why, "refused: data view");
                refused.push(Refused { kind, why });
            }
            Err(_) => {}
        }
    }
    let entries: Vec<(Kind, String)> = if refused.is_empty() {
        granted.0.iter().map(|(k, b)| (*k, b.label())).collect()
    } else {
        refused
            .iter()
            .map(|r| (r.kind, r.why.label().to_string()))
            .collect()
    };
    let log = chain::Log::of(core);
    chain::record_access(&log, person, facility.as_str(), &entries, now).await?;
    Ok(match refused.into_iter().next() {
        Some(r) => Err(r),
        None => Ok(granted),
    })
}

/// Records a patient's verbal consent to `kinds` given to `facility` in a disaster (no card identification), when
/// a declaration covers the facility today; returns the declaration. The consent lasts as long as one given at the
/// reader, and only while the declaration still covers the facility.
pub async fn record_disaster_consent(
    core: &Core,
    person: &str,
    facility: &InstitutionCode,
    kinds: &[Kind],
    now: NaiveDateTime,
) -> sqlx::Result<Option<i64>> {
    let Some(declaration) = covering(&core.pool, facility, now.date(), None).await? else {
        tracing::warn!(facility = %facility, "refused: disaster consent outside any declaration");
        return Ok(None);
    };
    let given = chain::Given {
        person: person.to_string(),
        facility: facility.as_str().to_string(),
        kinds: kinds.to_vec(),
        at: now,
        until: now + chrono::TimeDelta::hours(crate::CONSENT_HOURS),
        session: format!("{DISASTER_SESSION}{declaration}"),
    };
    chain::record_given(&chain::Log::of(core), &[given]).await?;
    Ok(Some(declaration))
}

/// Declares a disaster for an area (whole prefectures and districts, see [`InstitutionCode::district`]) and a
/// period.
pub async fn declare(
    core: &Core,
    name: &str,
    prefectures: &[u8],
    districts: &[String],
    from: Date,
    to: Date,
) -> Result<i64, ApiError> {
    let prefs: Vec<i32> = prefectures.iter().map(|p| i32::from(*p)).collect();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO consent.disasters (name, prefectures, districts, starts_on, ends_on, declared_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(&prefs)
    .bind(districts)
    .bind(from.naive())
    .bind(to.naive())
    .bind(core.clock.now())
    .fetch_one(&core.pool)
    .await?;
    tracing::info!(id, prefectures = ?prefs, districts = ?districts, "disaster declared");
    Ok(id)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct DisasterRow {
    pub id: i64,
    pub name: String,
    pub prefectures: Vec<i32>,
    pub districts: Vec<String>,
    pub starts_on: chrono::NaiveDate,
    pub ends_on: chrono::NaiveDate,
}

pub async fn disasters(pool: &PgPool) -> sqlx::Result<Vec<DisasterRow>> {
    sqlx::query_as(
        "SELECT id, name, prefectures, districts, starts_on, ends_on FROM consent.disasters ORDER BY id",
    )
    .fetch_all(pool)
    .await
}
