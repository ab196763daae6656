//! `OQSmuimm02req` → `OQSmuimm02res`: 照会番号一括登録, step 2: the result of a receipt, one
//! `BulkRegistrationUnit` per registration (element name from one client's fixture only [I]).

use crate::ids::InstitutionCode;
use crate::msg::oqs_siimm01::{write_outcome, Outcome1};
use crate::msg::{parse_facility_header, write_plain_header, FileError, HeaderEcho, PlainHeader};
use crate::result_codes::ResultKey;
use crate::xml::{Element, Emitter, OutputForm};

#[derive(Debug, Clone)]
pub struct Request {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    pub reception_number: String,
}

pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (institution, echo, body) = parse_facility_header(root)?;
    let reception_number = body
        .value("ReceptionNumber")
        .ok_or_else(|| FileError::new(ResultKey::BodyMissing, "ReceptionNumber").with_echo(&echo))?
        .to_string();
    Ok(Request {
        institution,
        echo,
        reception_number,
    })
}

/// The result file: one `BulkRegistrationUnit` per registration.
pub fn write(header: &PlainHeader, outcomes: &[Outcome1], form: OutputForm) -> Vec<u8> {
    let mut e = Emitter::new(form);
    e.start("XmlMsg");
    write_plain_header(&mut e, header);
    if header.segment == crate::codes::SegmentOfResult::Normal {
        e.start("MessageBody");
        e.start_list("BulkRegistrationUnit");
        for o in outcomes {
            e.start("BulkRegistrationUnit");
            write_outcome(&mut e, o);
            e.end();
        }
        e.end_list();
        e.end();
    }
    e.end();
    e.finish()
}
