//! 居宅同意取得型 (reference §1.6): consents given for 訪問診療等 or オンライン診療等 — with the マイナ資格確認アプリ on the
//! clinician's device, or by the patient on their own device — continue for the relationship
//! (`Config::home_consent_days`), then answer 2 (同意有効期限切れ, OQSCD016) in the home-care bulk results. They are
//! ordinary rows of the consent log, told apart by their session field ([`session`]).

use chrono::{NaiveDate, NaiveDateTime};
use sqlx::PgPool;

use onshi_wire::codes::ConsentStatus;
use onshi_wire::msg::home_care::Care;

use crate::Kind;

/// The consent log's session field of a continuing consent for `care` given `via` (`app:<device>`, `web`).
pub fn session(care: Care, via: &str) -> String {
    let care = match care {
        Care::Visit => "visit",
        Care::Online => "online",
    };
    format!("home:{care}:{via}")
}

/// One kind a home-care patient consented to, with its state now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HomeKind {
    pub kind: Kind,
    /// 1 同意あり, or 2 同意有効期限切れ (expired or revoked since).
    pub status: ConsentStatus,
    pub at: NaiveDateTime,
    pub until: NaiveDateTime,
}

/// A patient who consented for `care` at a facility, with each kind's latest consent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HomePatient {
    pub person: String,
    pub kinds: Vec<HomeKind>,
}

/// The patients who consented for `care` at `facility` between `from` and `to` (days, inclusive), each kind's
/// latest such consent and its state at `now`.
pub async fn patients(
    pool: &PgPool,
    facility: &str,
    care: Care,
    (from, to): (NaiveDate, NaiveDate),
    now: NaiveDateTime,
) -> sqlx::Result<Vec<HomePatient>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        person_id: String,
        kind: String,
        at: NaiveDateTime,
        available_until: Option<NaiveDateTime>,
        revoked: bool,
    }
    let prefix = format!("{}%", session(care, ""));
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT DISTINCT ON (g.person_id, g.kind) g.person_id, g.kind, g.at, g.available_until, \
           EXISTS (SELECT 1 FROM consent.consents r WHERE r.person_id = g.person_id AND r.facility = g.facility \
                   AND r.kind = g.kind AND r.action = 'revoked' AND r.seq > g.seq) AS revoked \
         FROM consent.consents g \
         WHERE g.facility = $1 AND g.action = 'given' AND g.session LIKE $2 AND g.at >= $3 AND g.at < $4 \
         ORDER BY g.person_id, g.kind, g.seq DESC",
    )
    .bind(facility)
    .bind(prefix)
    .bind(from.and_hms_opt(0, 0, 0).expect("midnight"))
    .bind((to + chrono::Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight"))
    .fetch_all(pool)
    .await?;
    let mut out: Vec<HomePatient> = Vec::new();
    for r in rows {
        let Some(kind) = Kind::parse(&r.kind) else {
            continue;
        };
        let until = r.available_until.unwrap_or(r.at);
        let status = if r.revoked || now >= until {
            ConsentStatus::Expired
        } else {
            ConsentStatus::Consented
        };
        if out.last().is_none_or(|p| p.person != r.person_id) {
            out.push(HomePatient {
                person: r.person_id.clone(),
                kinds: vec![],
            });
        }
        out.last_mut().expect("pushed").kinds.push(HomeKind {
            kind,
            status,
            at: r.at,
            until,
        });
    }
    Ok(out)
}
