//! `OQSmuimm01req` → `OQSmuimm01res`: 照会番号一括登録, step 1. The request carries many
//! `ReferenceNumberRegistrationInfo`; the response is the receipt: `ReceptionNumber` and `ReceptionDateTime`.

use crate::ids::{DateTime, InstitutionCode};
use crate::msg::oqs_siimm01::{read_info, RegistrationEcho, RegistrationKeys};
use crate::msg::{parse_facility_header, write_plain_header, FileError, HeaderEcho, PlainHeader};
use crate::result_codes::{Outcome, ResultKey};
use crate::xml::{Element, Emitter, OutputForm};

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
pub fn write(
    header: &PlainHeader,
    reception: Option<(&str, DateTime)>,
    form: OutputForm,
) -> Vec<u8> {
    let mut e = Emitter::new(form);
    e.start("XmlMsg");
    write_plain_header(&mut e, header);
    if let Some((number, at)) = reception {
        e.start("MessageBody");
        e.leaf("ReceptionNumber", number);
        e.leaf("ReceptionDateTime", &at.compact());
        e.end();
    }
    e.end();
    e.finish()
}
