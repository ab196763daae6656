//! XML message types, one module per message (reference `oqs-interface.md` §2), plus the parts several messages
//! share: the response header ([`ResponseHeader`]), the qualification result ([`qualification`]) and file names.
//!
//! Every element name the simulator produces is written in exactly one function here.

pub mod bulk;
pub mod file_name;
pub mod home_care;
pub mod oqs_muimm01;
pub mod oqs_muimm02;
pub mod oqs_muquc01;
pub mod oqs_muquc02;
pub mod oqs_mutic01;
pub mod oqs_siimm01;
pub mod oqs_siquc01;
pub mod qualification;
pub mod tkk_siquc01;
pub mod yzk_siquc01;

use crate::codes::{CodeTable, ReferenceClassification, SegmentOfResult};
use crate::ids::{
    BranchNumber, CardNumber, CardSymbol, Date, DateTime, InstitutionCode, InsurerNumber,
};
use crate::result_codes::{outcome, Outcome, ResultKey};
use crate::xml::{Element, Emitter, Encoding, XmlError};

/// Header values of a request echoed back as received, also when the request could not be read further.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeaderEcho {
    pub confirmation_date: Option<String>,
    pub institution: Option<String>,
    pub arbitrary_file_identifier: Option<String>,
}

impl HeaderEcho {
    /// The pairing values of a request tree whose header can be read (root `XmlMsg` with a `MessageHeader`), as
    /// written, whatever the message kind: `None` when there is no header to read.
    pub fn of(root: &Element) -> Option<Self> {
        if root.name != "XmlMsg" {
            return None;
        }
        let h = root.child("MessageHeader")?;
        Some(Self {
            confirmation_date: h.value("QualificationConfirmationDate").map(str::to_string),
            institution: h.value("MedicalInstitutionCode").map(str::to_string),
            arbitrary_file_identifier: h.value("ArbitraryFileIdentifier").map(str::to_string),
        })
    }
}

/// A request that cannot be processed as a whole: answered with `SegmentOfResult` 9.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileError {
    pub echo: Box<HeaderEcho>,
    pub outcome: Outcome,
}

impl FileError {
    pub fn new(key: ResultKey, detail: &str) -> Self {
        Self {
            echo: Box::default(),
            outcome: outcome(key, detail),
        }
    }
    pub fn with_echo(mut self, echo: &HeaderEcho) -> Self {
        self.echo = Box::new(echo.clone());
        self
    }

    /// The file-level error of a file that could not be read as a tree (every message kind, every transport).
    pub fn unreadable(e: &XmlError) -> Self {
        match e {
            XmlError::TooLarge { limit } => Self::new(ResultKey::TooLarge, &limit.to_string()),
            XmlError::BadEncoding(enc) => Self::new(ResultKey::BadEncoding, enc),
            XmlError::UnsupportedEncoding(enc) => Self::new(ResultKey::BadEncoding, enc),
            XmlError::Doctype => Self::new(ResultKey::Doctype, ""),
            other => Self::new(ResultKey::MalformedXml, &other.to_string()),
        }
    }
}

/// Longest accepted `ArbitraryFileIdentifier` (its real limit is unknown; longer values are refused, not cut).
pub const MAX_ARBITRARY_ID: usize = 256;

/// The common request header: `QualificationConfirmationDate`, `MedicalInstitutionCode`, `ArbitraryFileIdentifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub confirmation_date: Date,
    pub institution: InstitutionCode,
    pub arbitrary_file_identifier: Option<String>,
    pub echo: HeaderEcho,
}

/// Checks the root and reads the header: `QualificationConfirmationDate` (when `with_date`),
/// `MedicalInstitutionCode`, `ArbitraryFileIdentifier`; returns them with `MessageBody`.
fn read_header(
    root: &Element,
    with_date: bool,
) -> Result<(HeaderEcho, Option<Date>, InstitutionCode, &Element), FileError> {
    if root.name != "XmlMsg" {
        return Err(FileError::new(ResultKey::WrongRoot, &root.name));
    }
    let header = root
        .child("MessageHeader")
        .ok_or_else(|| FileError::new(ResultKey::HeaderMissing, "MessageHeader"))?;
    let echo = HeaderEcho {
        confirmation_date: header
            .value("QualificationConfirmationDate")
            .filter(|_| with_date)
            .map(str::to_string),
        institution: header.value("MedicalInstitutionCode").map(str::to_string),
        arbitrary_file_identifier: header.value("ArbitraryFileIdentifier").map(str::to_string),
    };
    let fail = |key, detail: &str| FileError::new(key, detail).with_echo(&echo);
    let date = if with_date {
        let raw = echo
            .confirmation_date
            .as_deref()
            .ok_or_else(|| fail(ResultKey::HeaderMissing, "QualificationConfirmationDate"))?;
        Some(
            Date::parse(raw)
                .map_err(|_| fail(ResultKey::HeaderInvalid, "QualificationConfirmationDate"))?,
        )
    } else {
        None
    };
    let code = echo
        .institution
        .as_deref()
        .ok_or_else(|| fail(ResultKey::HeaderMissing, "MedicalInstitutionCode"))?;
    let institution = InstitutionCode::parse(code)
        .map_err(|_| fail(ResultKey::HeaderInvalid, "MedicalInstitutionCode"))?;
    if echo
        .arbitrary_file_identifier
        .as_ref()
        .is_some_and(|a| a.chars().count() > MAX_ARBITRARY_ID)
    {
        return Err(fail(ResultKey::HeaderInvalid, "ArbitraryFileIdentifier"));
    }
    let body = root
        .child("MessageBody")
        .ok_or_else(|| fail(ResultKey::BodyMissing, "MessageBody"))?;
    Ok((echo, date, institution, body))
}

/// Checks the root and reads the common header of a qualification request.
pub fn parse_request_header(root: &Element) -> Result<(RequestHeader, &Element), FileError> {
    let (echo, date, institution, body) = read_header(root, true)?;
    Ok((
        RequestHeader {
            confirmation_date: date.expect("read with the date"),
            institution,
            arbitrary_file_identifier: echo.arbitrary_file_identifier.clone(),
            echo,
        },
        body,
    ))
}

/// Checks the root and reads a header that names only the facility (照会番号 registration, bulk downloads):
/// `MedicalInstitutionCode` and `ArbitraryFileIdentifier`.
pub fn parse_facility_header(
    root: &Element,
) -> Result<(InstitutionCode, HeaderEcho, &Element), FileError> {
    let (echo, _, institution, body) = read_header(root, false)?;
    Ok((institution, echo, body))
}

/// The header of a response without `ReferenceClassification` (照会番号 registration, bulk receipts and results).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainHeader {
    pub process_time: DateTime,
    pub echo: HeaderEcho,
    pub reception_number: Option<String>,
    pub segment: SegmentOfResult,
    pub error: Option<Outcome>,
    pub encoding: Encoding,
}

impl PlainHeader {
    /// A file that cannot be processed.
    pub fn failed(err: FileError, now: DateTime, encoding: Encoding) -> Self {
        Self {
            process_time: now,
            echo: *err.echo,
            reception_number: None,
            segment: SegmentOfResult::Abnormal,
            error: Some(err.outcome),
            encoding,
        }
    }
}

/// The common start of every `MessageHeader` after `ProcessExecutionTime`, in the order of real answers (reference
/// §1.4: `CharacterCodeIdentifier`, `SegmentOfResult`, then the error when there is one [I: its place is not in the
/// samples]).
pub(crate) fn write_result_head(
    e: &mut Emitter,
    segment: SegmentOfResult,
    error: Option<&Outcome>,
    encoding: Encoding,
) {
    e.leaf("CharacterCodeIdentifier", encoding.code().code());
    e.leaf("SegmentOfResult", segment.code());
    if let Some(err) = error {
        e.leaf("ErrorCode", &err.code);
        e.leaf("ErrorMessage", &err.message);
    }
}

/// Writes a [`PlainHeader`] as `MessageHeader`, in the order of the real 照会番号登録 answer (reference sample
/// `ReceptionAgent_OQSsiimm01res_layout`); `ReceptionNumber` last [I].
pub fn write_plain_header(e: &mut Emitter, h: &PlainHeader) {
    e.start("MessageHeader");
    e.leaf("ProcessExecutionTime", &h.process_time.compact());
    write_result_head(e, h.segment, h.error.as_ref(), h.encoding);
    e.opt(
        "ArbitraryFileIdentifier",
        h.echo.arbitrary_file_identifier.as_deref(),
    );
    e.opt("MedicalInstitutionCode", h.echo.institution.as_deref());
    e.opt("ReceptionNumber", h.reception_number.as_deref());
    e.end();
}

/// The response `MessageHeader` (reference §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    pub process_time: DateTime,
    pub echo: HeaderEcho,
    pub reference_classification: ReferenceClassification,
    pub segment: SegmentOfResult,
    pub error: Option<Outcome>,
    pub encoding: Encoding,
}

/// Writes `MessageHeader` in the order of the real face answer (reference §1.4, sample `myclinic-ts_face`):
/// `ProcessExecutionTime`, `CharacterCodeIdentifier`, `SegmentOfResult`, `QualificationConfirmationDate`,
/// `ReferenceClassification`, `ArbitraryFileIdentifier`, `MedicalInstitutionCode`.
pub fn write_header(e: &mut Emitter, h: &ResponseHeader) {
    e.start("MessageHeader");
    e.leaf("ProcessExecutionTime", &h.process_time.compact());
    write_result_head(e, h.segment, h.error.as_ref(), h.encoding);
    e.opt(
        "QualificationConfirmationDate",
        h.echo.confirmation_date.as_deref(),
    );
    e.leaf("ReferenceClassification", h.reference_classification.code());
    e.opt(
        "ArbitraryFileIdentifier",
        h.echo.arbitrary_file_identifier.as_deref(),
    );
    e.opt("MedicalInstitutionCode", h.echo.institution.as_deref());
    e.end();
}

/// The header of the data-retrieval requests (`YZKsiquc01`, `TKKsiquc01`): the facility and the patient by the
/// card's own element names (`InsuranceCardSymbol`, `InsuredPersonIdentificationNumber`, `BranchNumber`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRequest {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    pub insurer: InsurerNumber,
    pub symbol: CardSymbol,
    pub number: CardNumber,
    pub branch: BranchNumber,
}

impl PatientRequest {
    /// The header, and the body for the message's own fields.
    pub fn parse(root: &Element) -> Result<(Self, &Element), FileError> {
        if root.name != "XmlMsg" {
            return Err(FileError::new(ResultKey::WrongRoot, &root.name));
        }
        let h = root
            .child("MessageHeader")
            .ok_or_else(|| FileError::new(ResultKey::HeaderMissing, "MessageHeader"))?;
        let echo = HeaderEcho {
            confirmation_date: None,
            institution: h.value("MedicalInstitutionCode").map(str::to_string),
            arbitrary_file_identifier: h.value("ArbitraryFileIdentifier").map(str::to_string),
        };
        let need = |name: &str| {
            h.value(name)
                .ok_or_else(|| FileError::new(ResultKey::HeaderMissing, name).with_echo(&echo))
        };
        let bad = |name: &str| FileError::new(ResultKey::HeaderInvalid, name).with_echo(&echo);
        let institution = InstitutionCode::parse(need("MedicalInstitutionCode")?)
            .map_err(|_| bad("MedicalInstitutionCode"))?;
        let insurer =
            InsurerNumber::parse(need("InsurerNumber")?).map_err(|_| bad("InsurerNumber"))?;
        let symbol = CardSymbol::parse(h.value("InsuranceCardSymbol").unwrap_or(""))
            .map_err(|_| bad("InsuranceCardSymbol"))?;
        let number = CardNumber::parse(need("InsuredPersonIdentificationNumber")?)
            .map_err(|_| bad("InsuredPersonIdentificationNumber"))?;
        let branch = BranchNumber::parse(need("BranchNumber")?).map_err(|_| bad("BranchNumber"))?;
        let body = root.child("MessageBody").ok_or_else(|| {
            FileError::new(ResultKey::BodyMissing, "MessageBody").with_echo(&echo)
        })?;
        let request = Self {
            institution,
            echo,
            insurer,
            symbol,
            number,
            branch,
        };
        Ok((request, body))
    }
}

/// `FileCategory` of a data-retrieval request: 1 to `max`, 2 (XML) when absent.
pub fn file_category(body: &Element, max: u8, echo: &HeaderEcho) -> Result<u8, FileError> {
    match body.value("FileCategory") {
        None => Ok(2),
        Some(c) => c
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|c| (1..=max).contains(c))
            .ok_or_else(|| {
                FileError::new(ResultKey::HeaderInvalid, "FileCategory").with_echo(echo)
            }),
    }
}

/// Opens the answer of a data-retrieval message (`YZKsiquc01res`, `TKKsiquc01res`) and writes its header up to the
/// result: the echoed facility and `ArbitraryFileIdentifier`, `ResultCode` 1, or 2 with `MessageContents`. The
/// caller adds its patient element and closes the header.
pub fn start_data_answer(e: &mut Emitter, echo: &HeaderEcho, error: Option<&str>) {
    e.start("XmlMsg");
    e.start("MessageHeader");
    e.opt("MedicalInstitutionCode", echo.institution.as_deref());
    e.opt(
        "ArbitraryFileIdentifier",
        echo.arbitrary_file_identifier.as_deref(),
    );
    match error {
        None => e.leaf("ResultCode", "1"),
        Some(message) => {
            e.leaf("ResultCode", "2");
            e.leaf("MessageContents", message);
        }
    }
}

/// The one `QualificationConfirmSearchInfo` of a body that asks by other keys than a card (the home-care and
/// 医療扶助 bulk kinds): missing is EC0015, several EC0006.
pub fn single_search_info<'a>(
    body: &'a Element,
    echo: &HeaderEcho,
) -> Result<&'a Element, FileError> {
    let mut infos = body.children_named("QualificationConfirmSearchInfo");
    let info = infos.next().ok_or_else(|| {
        FileError::new(ResultKey::BodyMissing, "QualificationConfirmSearchInfo").with_echo(echo)
    })?;
    if infos.next().is_some() {
        return Err(FileError::new(
            ResultKey::HeaderInvalid,
            "QualificationConfirmSearchInfo: one per file",
        )
        .with_echo(echo));
    }
    Ok(info)
}

/// A clinic's request tree whose body is one `QualificationConfirmSearchInfo` holding `body` (tests of the bulk
/// kinds' parsers).
#[cfg(test)]
pub(crate) fn search_info_file(body: &str) -> Element {
    crate::xml::parse(
        format!(
            "<XmlMsg><MessageHeader><MedicalInstitutionCode>1310112345</MedicalInstitutionCode>\
             </MessageHeader><MessageBody><QualificationConfirmSearchInfo>{body}</QualificationConfirmSearchInfo>\
             </MessageBody></XmlMsg>"
        )
        .as_bytes(),
        &Default::default(),
    )
    .expect("a test file")
    .root
}
