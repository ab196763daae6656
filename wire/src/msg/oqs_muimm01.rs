//! `OQSmuimm01req` → `OQSmuimm01res`: 照会番号一括登録, step 1. The request carries many
//! `ReferenceNumberRegistrationInfo`; the response is the receipt: `ReceptionNumber` and `ReceptionDateTime`.

use crate::ids::InstitutionCode;
use crate::msg::oqs_siimm01::{read_info, RegistrationEcho, RegistrationKeys};
use crate::msg::{parse_facility_header, FileError, HeaderEcho};
use crate::result_codes::{Outcome, ResultKey};
use crate::xml::Element;

/// Most registrations in one bulk file.
pub const MAX_ITEMS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Request {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    pub items: Vec<(RegistrationEcho, Result<RegistrationKeys, Outcome>)>,
}

pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (institution, echo, body) = parse_facility_header(root)?;
    let items: Vec<_> = body
        .children_named("ReferenceNumberRegistrationInfo")
        .map(read_info)
        .collect();
    if items.is_empty() {
        return Err(
            FileError::new(ResultKey::BodyMissing, "ReferenceNumberRegistrationInfo")
                .with_echo(&echo),
        );
    }
    if items.len() > MAX_ITEMS {
        return Err(FileError::new(
            ResultKey::HeaderInvalid,
            "too many ReferenceNumberRegistrationInfo",
        )
        .with_echo(&echo));
    }
    Ok(Request {
        institution,
        echo,
        items,
    })
}

/// The receipt.
pub use crate::msg::bulk::write_receipt as write;
