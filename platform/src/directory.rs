//! What one service may ask the eligibility service about people and facilities, without reading its tables:
//! implemented by the eligibility service, used by the medication service (claims and 薬剤情報 retrieval), the
//! checkup service and the card reader (who is calling, the qualification to show, the facility's 照会番号). Every
//! method is a narrow question with an owned answer. In one process the eligibility service answers itself; in a
//! process of its own, [`Remote`] asks it over its internal API (`/internal/v1/directory/…`, whose questions and
//! answers are the structs of [`api`], shared by both sides).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use onshi_wire::ids::{CardNumber, CardSymbol, Date, InsurerNumber};
use onshi_wire::msg::FileError;
use onshi_wire::record::QualificationRecord;
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::Encoding;

use crate::peer::{Call, Peer, PeerError};
use crate::pki::PeerCert;

/// The qualification a card reader shows for a person on a day: one valid that day (the most recent), else the
/// most recent; with its record as of that day.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentQualification {
    pub id: String,
    pub valid: bool,
    pub record: Arc<QualificationRecord>,
}

/// A resolved insured person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub qualification_id: String,
    pub person_id: String,
    pub name: String,
    pub kana: Option<String>,
    pub birth: Date,
    /// OQSCD007 code.
    pub sex: String,
}

/// Whether a facility may be answered, and in which encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityCheck {
    pub encoding: Encoding,
    /// Why it may not be answered (registered, operational, the terminal's facility).
    pub refused: Option<ResultKey>,
}

/// An answer of the directory: in one process always there; over the network the eligibility service may be
/// unreachable.
pub type Answer<'a, T> = BoxFuture<'a, Result<T, PeerError>>;

/// A card to find the person of (枝番 when known; otherwise the birth date tells family members apart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardQuery {
    pub insurer: InsurerNumber,
    pub symbol: CardSymbol,
    pub number: CardNumber,
    pub branch: Option<String>,
    pub birth: Option<Date>,
}

pub trait Directory: Send + Sync {
    /// The persons holding these cards, in order (a claims file asks for a batch at once: one round trip).
    fn persons<'a>(&'a self, cards: &'a [CardQuery]) -> Answer<'a, Vec<Option<PersonRef>>> {
        Box::pin(async move {
            let mut found = Vec::with_capacity(cards.len());
            for card in cards {
                found.push(self.person(card).await?);
            }
            Ok(found)
        })
    }

    /// The person holding this card (none when unknown or ambiguous: twins without 枝番).
    fn person<'a>(&'a self, card: &'a CardQuery) -> Answer<'a, Option<PersonRef>>;

    /// The response encoding for a facility, and whether it may be answered (registered, operational, and the
    /// terminal's facility when known).
    fn facility<'a>(
        &'a self,
        code: &'a str,
        terminal: Option<&'a str>,
        today: Date,
    ) -> Answer<'a, FacilityCheck>;

    /// Whether the facility confirms qualifications only (資格確認限定型: a 施術所, or registered so).
    fn qualification_only<'a>(&'a self, code: &'a str) -> Answer<'a, bool>;
}

/// What the card reader asks besides: who is calling, the qualification to show and the 照会番号 for a face result,
/// and what it tells: a card presented.
pub trait ReaderDirectory: Directory {
    /// The facility a client certificate was issued to; `Ok(None)` without one in the sandbox; `auth_required`
    /// with the reason when refused.
    fn certificate<'a>(
        &'a self,
        peer: Option<&'a PeerCert>,
    ) -> Answer<'a, Result<Option<String>, FileError>>;

    /// The qualification to show for `person` on `on`, if the person has any.
    fn current_qualification<'a>(
        &'a self,
        person: &'a str,
        on: Date,
    ) -> Answer<'a, Option<CurrentQualification>>;

    /// The 照会番号 `facility` registered for `person` (the latest), for face results.
    fn reference_number<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
    ) -> Answer<'a, Option<String>>;

    /// `person` presented their My Number card at `facility`'s reader at `at` (the 2024 re-query rule).
    fn presented<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
        at: chrono::NaiveDateTime,
    ) -> Answer<'a, ()>;
}

/// The questions and answers of the eligibility service's internal directory API (`POST`, JSON), one struct per
/// route, used by [`Remote`] and by the routes that answer it.
pub mod api {
    use super::*;

    pub const PERSON: &str = "/internal/v1/directory/person";
    pub const PERSONS: &str = "/internal/v1/directory/persons";
    pub const FACILITY: &str = "/internal/v1/directory/facility";
    pub const QUALIFICATION_ONLY: &str = "/internal/v1/directory/qualification-only";
    pub const CERTIFICATE: &str = "/internal/v1/directory/certificate";
    pub const CURRENT_QUALIFICATION: &str = "/internal/v1/directory/current-qualification";
    pub const REFERENCE_NUMBER: &str = "/internal/v1/directory/reference-number";
    pub const PRESENTED: &str = "/internal/v1/directory/presented";

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Facility {
        pub code: String,
        pub terminal: Option<String>,
        pub today: Date,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Code {
        pub code: String,
    }

    /// A certificate by its fingerprint (`None`: the connection presented none).
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Certificate {
        pub sha256: Option<String>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct CurrentOf {
        pub person: String,
        pub on: Date,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Current {
        pub id: String,
        pub valid: bool,
        pub record: QualificationRecord,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct ReferenceOf {
        pub facility: String,
        pub person: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Presented {
        pub facility: String,
        pub person: String,
        pub at: chrono::NaiveDateTime,
    }
}

/// The eligibility service in another process, asked over its internal API.
pub struct Remote {
    pub peer: Peer,
}

impl Directory for Remote {
    fn persons<'a>(&'a self, cards: &'a [CardQuery]) -> Answer<'a, Vec<Option<PersonRef>>> {
        Box::pin(self.peer.call(Call::Query, api::PERSONS, cards))
    }

    fn person<'a>(&'a self, card: &'a CardQuery) -> Answer<'a, Option<PersonRef>> {
        Box::pin(self.peer.call(Call::Query, api::PERSON, card))
    }

    fn facility<'a>(
        &'a self,
        code: &'a str,
        terminal: Option<&'a str>,
        today: Date,
    ) -> Answer<'a, FacilityCheck> {
        Box::pin(self.peer.call(
            Call::Query,
            api::FACILITY,
            &api::Facility {
                code: code.to_string(),
                terminal: terminal.map(str::to_string),
                today,
            },
        ))
    }

    fn qualification_only<'a>(&'a self, code: &'a str) -> Answer<'a, bool> {
        Box::pin(self.peer.call(
            Call::Query,
            api::QUALIFICATION_ONLY,
            &api::Code {
                code: code.to_string(),
            },
        ))
    }
}

impl ReaderDirectory for Remote {
    fn certificate<'a>(
        &'a self,
        peer: Option<&'a PeerCert>,
    ) -> Answer<'a, Result<Option<String>, FileError>> {
        Box::pin(self.peer.call(
            Call::Query,
            api::CERTIFICATE,
            &api::Certificate {
                sha256: peer.map(|p| p.sha256.clone()),
            },
        ))
    }

    fn current_qualification<'a>(
        &'a self,
        person: &'a str,
        on: Date,
    ) -> Answer<'a, Option<CurrentQualification>> {
        Box::pin(async move {
            let current: Option<api::Current> = self
                .peer
                .call(
                    Call::Query,
                    api::CURRENT_QUALIFICATION,
                    &api::CurrentOf {
                        person: person.to_string(),
                        on,
                    },
                )
                .await?;
            Ok(current.map(|c| CurrentQualification {
                id: c.id,
                valid: c.valid,
                record: Arc::new(c.record),
            }))
        })
    }

    fn reference_number<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
    ) -> Answer<'a, Option<String>> {
        Box::pin(self.peer.call(
            Call::Query,
            api::REFERENCE_NUMBER,
            &api::ReferenceOf {
                facility: facility.to_string(),
                person: person.to_string(),
            },
        ))
    }

    fn presented<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
        at: chrono::NaiveDateTime,
    ) -> Answer<'a, ()> {
        Box::pin(self.peer.call(
            Call::Change,
            api::PRESENTED,
            &api::Presented {
                facility: facility.to_string(),
                person: person.to_string(),
                at,
            },
        ))
    }
}
