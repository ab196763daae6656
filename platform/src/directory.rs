//! What one service may ask the eligibility service about people and facilities, without reading its tables:
//! implemented by the eligibility service, used by the medication service (claims and 薬剤情報 retrieval) and the
//! card reader (who is calling, the qualification to show, the facility's 照会番号). Every method is a narrow
//! question with an owned answer, so the trait can later have a network implementation.

use futures_util::future::BoxFuture;

use onshi_wire::ids::{CardNumber, CardSymbol, Date, InsurerNumber};
use onshi_wire::msg::FileError;
use onshi_wire::record::QualificationRecord;
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::Encoding;

use crate::pki::PeerCert;

/// The qualification a card reader shows for a person on a day: one valid that day (the most recent), else the
/// most recent; with its record as of that day.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentQualification {
    pub id: String,
    pub valid: bool,
    pub record: std::sync::Arc<QualificationRecord>,
}

/// A resolved insured person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    pub qualification_id: String,
    pub person_id: String,
    pub name: String,
    pub kana: Option<String>,
    pub birth: Date,
    /// OQSCD007 code.
    pub sex: String,
}

pub trait Directory: Send + Sync {
    /// The person holding this card (枝番 when known; otherwise the birth date tells family members apart).
    fn person(
        &self,
        insurer: &InsurerNumber,
        symbol: &CardSymbol,
        number: &CardNumber,
        branch: Option<&str>,
        birth: Option<Date>,
    ) -> Option<PersonRef>;

    /// The response encoding for a facility, and whether it may be answered (registered, operational, and the
    /// terminal's facility when known).
    fn facility(
        &self,
        code: &str,
        terminal: Option<&str>,
        today: Date,
    ) -> (Encoding, Result<(), ResultKey>);

    /// Whether the facility confirms qualifications only (資格確認限定型: a 施術所, or registered so).
    fn qualification_only(&self, code: &str) -> bool;
}

/// What the card reader asks besides: who is calling, the qualification to show and the 照会番号 for a face result,
/// and what it tells: a card presented.
pub trait ReaderDirectory: Directory {
    /// The facility a client certificate was issued to; `Ok(None)` without one in the sandbox; `auth_required`
    /// with the reason when refused.
    fn certificate(&self, peer: Option<&PeerCert>) -> Result<Option<String>, FileError>;

    /// The qualification to show for `person` on `on`, if the person has any.
    fn current_qualification(&self, person: &str, on: Date) -> Option<CurrentQualification>;

    /// The 照会番号 `facility` registered for `person` (the latest), for face results.
    fn reference_number<'a>(
        &'a self,
        facility: &'a str,
        person: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>>;

    /// `person` presented their My Number card at `facility`'s reader at `at` (the 2024 re-query rule).
    fn presented(&self, facility: &str, person: &str, at: chrono::NaiveDateTime);
}
