//! `OQSmuquc01req` → `OQSmuquc01res`: 一括照会, step 1 (reference §2.5). The request carries one
//! `QualificationConfirmSearchInfo` per person (each with an optional `ArbitraryIdentifier`, the client's own key,
//! echoed back); the answer is the receipt ([`crate::msg::bulk::write_receipt`]). The results come with
//! `OQSmuquc02` once the job is done.

use crate::msg::oqs_siquc01::{read_search, SearchEcho};
use crate::msg::{parse_request_header, FileError, RequestHeader};
use crate::result_codes::ResultKey;
use crate::xml::Element;

/// Most persons in one bulk file. The real limit is not published [U]; see `docs/WIRE.md`.
pub const MAX_PERSONS: usize = 100_000;

/// One person of the file, as received (the keys are checked when the job runs: a person's problem is answered
/// for that person).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub search: SearchEcho,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbitrary_identifier: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub header: RequestHeader,
    pub persons: Vec<Person>,
}

pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (header, body) = parse_request_header(root)?;
    let persons: Vec<Person> = body
        .children_named("QualificationConfirmSearchInfo")
        .map(|info| Person {
            search: read_search(info),
            arbitrary_identifier: info.value("ArbitraryIdentifier").map(str::to_string),
        })
        .collect();
    if persons.is_empty() {
        return Err(
            FileError::new(ResultKey::BodyMissing, "QualificationConfirmSearchInfo")
                .with_echo(&header.echo),
        );
    }
    if persons.len() > MAX_PERSONS {
        let detail = format!("{} persons; at most {MAX_PERSONS}", persons.len());
        return Err(FileError::new(ResultKey::HeaderInvalid, &detail).with_echo(&header.echo));
    }
    Ok(Request { header, persons })
}
