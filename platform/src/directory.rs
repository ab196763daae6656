//! What one service may ask the eligibility service about people and facilities, without reading its tables:
//! implemented by the eligibility service, used by the medication service (claims and 薬剤情報 retrieval).

use onshi_wire::ids::{CardNumber, CardSymbol, Date, InsurerNumber};
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::Encoding;

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
}
