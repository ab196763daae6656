//! What the two-step bulk messages share (reference §2.5, §2.6): the receipt of step 1 (`ReceptionNumber`,
//! `ReceptionDateTime`), the step-2 request naming a `ReceptionNumber`, and the step-2 answer while the job is
//! still being processed (`SegmentOfResult` 2 処理中). Used by `OQSmuquc01/02` and `OQSmuimm01/02`.

use crate::codes::SegmentOfResult;
use crate::ids::{DateTime, InstitutionCode};
use crate::msg::{parse_facility_header, write_plain_header, FileError, HeaderEcho, PlainHeader};
use crate::result_codes::ResultKey;
use crate::xml::{Element, Emitter, Encoding, OutputForm};

/// A step-2 request: the facility and the `ReceptionNumber` of its step 1.
#[derive(Debug, Clone)]
pub struct ReceptionRequest {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    pub reception_number: String,
}

/// Reads a step-2 request.
pub fn parse_reception(root: &Element) -> Result<ReceptionRequest, FileError> {
    let (institution, echo, body) = parse_facility_header(root)?;
    let reception_number = body
        .value("ReceptionNumber")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| FileError::new(ResultKey::BodyMissing, "ReceptionNumber").with_echo(&echo))?
        .to_string();
    Ok(ReceptionRequest {
        institution,
        echo,
        reception_number,
    })
}

/// The receipt of step 1 (`…01res`): `ReceptionNumber` and `ReceptionDateTime` in the body, or the header alone
/// when the file was refused.
pub fn write_receipt(
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

/// The step-2 answer while the job is queued or running: the header with `SegmentOfResult` 2 and the
/// `ReceptionNumber`, no body. Poll again.
pub fn write_processing(
    echo: &HeaderEcho,
    reception_number: &str,
    now: DateTime,
    encoding: Encoding,
    form: OutputForm,
) -> Vec<u8> {
    let header = PlainHeader {
        process_time: now,
        echo: echo.clone(),
        reception_number: Some(reception_number.to_string()),
        segment: SegmentOfResult::Processing,
        error: None,
        encoding,
    };
    let mut e = Emitter::new(form);
    e.start("XmlMsg");
    write_plain_header(&mut e, &header);
    e.end();
    e.finish()
}
