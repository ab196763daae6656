//! What other services may ask the consent service, as narrow interfaces: the card reader ([`CardReaderPort`]:
//! read a card, give it its certificate, check a PIN, link it to a qualification (初回登録), append the consents
//! given at the reader to the log) and the data services ([`AccessPort`]: may this facility see this data of this
//! person now?), the eligibility service ([`HomeCarePort`]). Each method is one question with an owned answer:
//! [`Local`] answers in-process, [`crate::remote::Remote`] over the network.

use chrono::NaiveDateTime;
use futures_util::future::BoxFuture;

use onshi_platform::directory::{Directory, PersonRef};
use onshi_platform::http::{ApiError, Core};
use onshi_wire::ids::{Date, DateTime, InstitutionCode};
use onshi_wire::msg::PatientRequest;
use onshi_wire::result_codes::outcome;
use onshi_wire::xml::Encoding;

use crate::access::{self, Granted, Refused};
use crate::Kind;

use crate::cards::{self, Card, Pin};
use crate::chain::{self, Given};

pub trait CardReaderPort: Send + Sync {
    /// The card with this serial, if it exists.
    fn card<'a>(&'a self, serial: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Card>>>;

    /// Gives a seeded card its user certificate on first use.
    fn ensure_certificate<'a>(&'a self, card: &'a Card) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Checks a PIN (3 wrong tries lock the card).
    fn verify_pin<'a>(
        &'a self,
        serial: &'a str,
        pin: &'a str,
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Pin>>;

    /// 初回登録: links the card to the individual-unit qualification, once.
    fn register<'a>(
        &'a self,
        serial: &'a str,
        qualification: &'a str,
        today: Date,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Appends the consents of finished reader sessions to the consent log, all or none.
    fn record_consents<'a>(&'a self, given: &'a [Given]) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Records a consent given verbally to a facility in a declared disaster (no card); the declaration, or `None`
    /// when none covers the facility now.
    fn record_disaster_consent<'a>(
        &'a self,
        person: &'a str,
        facility: &'a InstitutionCode,
        kinds: &'a [Kind],
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Option<i64>>>;
}

/// What a data service (薬剤情報, 特定健診) asks before it shows a person's data to a facility.
pub trait AccessPort: Send + Sync {
    /// Whether `facility` may view the `required` kinds of `person` at `now`, and which of the `optional` ones it
    /// may add (each under its own live consent); the decision is chained in the access log, a refusal says which
    /// kind and why.
    fn view<'a>(
        &'a self,
        person: &'a str,
        facility: &'a InstitutionCode,
        required: &'a [Kind],
        optional: &'a [Kind],
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Result<Granted, Refused>>>;
}

/// What the eligibility service asks for the 居宅同意取得型 bulk queries (`OQSmuhvq`, `OQSmuonq`).
pub trait HomeCarePort: Send + Sync {
    /// The patients who consented for `care` at `facility` in the date range, each kind's state at `now`.
    fn home_patients<'a>(
        &'a self,
        facility: &'a str,
        care: onshi_wire::msg::home_care::Care,
        range: (chrono::NaiveDate, chrono::NaiveDate),
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Vec<crate::home::HomePatient>>>;
}

impl HomeCarePort for Local {
    fn home_patients<'a>(
        &'a self,
        facility: &'a str,
        care: onshi_wire::msg::home_care::Care,
        range: (chrono::NaiveDate, chrono::NaiveDate),
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Vec<crate::home::HomePatient>>> {
        Box::pin(async move {
            Ok(crate::home::patients(&self.core.pool, facility, care, range, now).await?)
        })
    }
}

/// The consent service in this process.
pub struct Local {
    pub core: Core,
}

impl CardReaderPort for Local {
    fn card<'a>(&'a self, serial: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Card>>> {
        Box::pin(async move { Ok(cards::get(&self.core.pool, serial).await?) })
    }

    fn ensure_certificate<'a>(&'a self, card: &'a Card) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(cards::ensure_certificate(&self.core, card))
    }

    fn verify_pin<'a>(
        &'a self,
        serial: &'a str,
        pin: &'a str,
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Pin>> {
        Box::pin(async move { Ok(cards::verify_pin(&self.core.pool, serial, pin, now).await?) })
    }

    fn register<'a>(
        &'a self,
        serial: &'a str,
        qualification: &'a str,
        today: Date,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(cards::register(
            &self.core.pool,
            serial,
            qualification,
            today,
        ))
    }

    fn record_consents<'a>(&'a self, given: &'a [Given]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(chain::record_given(&chain::Log::of(&self.core), given).await?) })
    }

    fn record_disaster_consent<'a>(
        &'a self,
        person: &'a str,
        facility: &'a InstitutionCode,
        kinds: &'a [Kind],
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Option<i64>>> {
        Box::pin(async move {
            Ok(access::record_disaster_consent(&self.core, person, facility, kinds, now).await?)
        })
    }
}

impl AccessPort for Local {
    fn view<'a>(
        &'a self,
        person: &'a str,
        facility: &'a InstitutionCode,
        required: &'a [Kind],
        optional: &'a [Kind],
        now: NaiveDateTime,
    ) -> BoxFuture<'a, anyhow::Result<Result<Granted, Refused>>> {
        Box::pin(async move {
            Ok(access::view(&self.core, person, facility, required, optional, now).await?)
        })
    }
}

/// Why a data request is not answered with data: the encoding to answer in, the message, and the label counted in
/// the metrics.
pub struct Denied {
    pub encoding: Encoding,
    pub message: String,
    pub label: &'static str,
}

/// The answer to a 資格確認限定型 facility (a 施術所, or registered so) asking for medical information: the
/// reference says these return insurance qualification only; the message is the simulator's [I].
pub const QUALIFICATION_ONLY: &str =
    "資格確認限定型の施設では、薬剤情報・診療情報・特定健診情報等は閲覧できません（資格情報のみ）。";

/// What [`admit`] lets through: the person, the encoding to answer in, and the kinds that may be shown.
pub struct Admitted {
    pub person: PersonRef,
    pub encoding: Encoding,
    pub granted: Granted,
}

/// The common gate of the data-retrieval messages (`YZKsiquc01`, `TKKsiquc01`): the facility may be answered, the
/// patient is an insured person, and the consent service allows (and logs) this view of the `required` kinds, with
/// the `optional` ones it may add.
pub async fn admit(
    directory: &dyn Directory,
    access: &dyn AccessPort,
    r: &PatientRequest,
    (required, optional): (&[Kind], &[Kind]),
    terminal: Option<&str>,
    now: DateTime,
) -> Result<Admitted, Denied> {
    let unavailable = |encoding, e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "the directory did not answer");
        Denied {
            encoding,
            message: "処理できませんでした。".to_string(),
            label: "internal_error",
        }
    };
    let check = directory
        .facility(r.institution.as_str(), terminal, now.date())
        .await
        .map_err(|e| unavailable(Encoding::Utf8, &e))?;
    let encoding = check.encoding;
    let deny = |message: &str, label| Denied {
        encoding,
        message: message.to_string(),
        label,
    };
    if let Some(key) = check.refused {
        return Err(deny(&outcome(key, "").message, "file_error"));
    }
    let only = directory
        .qualification_only(r.institution.as_str())
        .await
        .map_err(|e| unavailable(encoding, &e))?;
    if only {
        tracing::warn!(facility = %r.institution, "refused: medical information asked by a 資格確認限定型 facility");
        return Err(deny(QUALIFICATION_ONLY, "qualification_only"));
    }
    let card = onshi_platform::directory::CardQuery {
        insurer: r.insurer,
        symbol: r.symbol.clone(),
        number: r.number.clone(),
        branch: Some(r.branch.as_string()),
        birth: None,
    };
    let Some(person) = directory
        .person(&card)
        .await
        .map_err(|e| unavailable(encoding, &e))?
    else {
        return Err(deny("該当する資格情報が存在しません。", "unknown_person"));
    };
    match access
        .view(
            &person.person_id,
            &r.institution,
            required,
            optional,
            now.naive(),
        )
        .await
    {
        Err(e) => {
            tracing::error!(error = %e, "access check failed");
            Err(deny("処理できませんでした。", "internal_error"))
        }
        Ok(Err(refused)) => Err(deny(&refused.message(), "refused")),
        Ok(Ok(granted)) => Ok(Admitted {
            person,
            encoding,
            granted,
        }),
    }
}
