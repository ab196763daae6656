//! `OQSsiimm01req` → `OQSsiimm01res`: 照会番号登録, the clinic's own patient number (ReferenceNumber) registered
//! against a person's qualification and echoed in later face results (reference §2.6, medium confidence).

use crate::codes::{CodeTable, ProcessingResultStatus};
use crate::ids::InstitutionCode;
use crate::ids::{BranchNumber, CardNumber, CardSymbol, InsurerNumber};
use crate::msg::{parse_facility_header, write_plain_header, FileError, HeaderEcho, PlainHeader};
use crate::result_codes::{outcome, Outcome, ResultKey};
use crate::xml::{Element, Emitter, OutputForm};

/// Longest 照会番号 accepted (its real limit is unknown; longer values are refused).
pub const MAX_REFERENCE: usize = 20;

/// `ReferenceNumberRegistrationInfo` as received (echoed back).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistrationEcho {
    pub reference_number: Option<String>,
    pub insurer_number: Option<String>,
    pub symbol: Option<String>,
    pub number: Option<String>,
    pub branch: Option<String>,
}

/// Validated registration keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationKeys {
    pub reference_number: String,
    pub insurer: InsurerNumber,
    pub symbol: CardSymbol,
    pub number: CardNumber,
    pub branch: BranchNumber,
}

impl RegistrationKeys {
    /// The qualification id (`保険者番号:記号:番号:枝番`).
    pub fn qualification_id(&self) -> String {
        crate::ids::IndividualNumber {
            insurer: self.insurer,
            symbol: self.symbol.clone(),
            number: self.number.clone(),
            branch: self.branch,
        }
        .key()
    }
}

/// Reads one `ReferenceNumberRegistrationInfo` element.
pub fn read_info(info: &Element) -> (RegistrationEcho, Result<RegistrationKeys, Outcome>) {
    let get = |n: &str| info.value(n).map(str::to_string);
    let echo = RegistrationEcho {
        reference_number: get("ReferenceNumber"),
        insurer_number: get("InsurerNumber"),
        symbol: get("InsuredCardSymbol"),
        number: get("InsuredIdentificationNumber"),
        branch: get("InsuredBranchNumber"),
    };
    let keys = keys_of(&echo);
    (echo, keys)
}

/// The keys of a registration as received, checked; a problem is that registration's error.
pub fn keys_of(echo: &RegistrationEcho) -> Result<RegistrationKeys, Outcome> {
    let need = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| outcome(ResultKey::PersonMissing, name))
    };
    let reference_number = need(&echo.reference_number, "ReferenceNumber")?;
    if reference_number.chars().count() > MAX_REFERENCE
        || !reference_number.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(outcome(
            ResultKey::ReferenceInvalid,
            "1-20 ASCII characters",
        ));
    }
    Ok(RegistrationKeys {
        reference_number,
        insurer: InsurerNumber::parse(&need(&echo.insurer_number, "InsurerNumber")?)
            .map_err(|e| outcome(ResultKey::InsurerInvalid, &e.0))?,
        symbol: CardSymbol::parse(echo.symbol.as_deref().unwrap_or(""))
            .map_err(|e| outcome(ResultKey::NumberInvalid, &e.0))?,
        number: CardNumber::parse(&need(&echo.number, "InsuredIdentificationNumber")?)
            .map_err(|e| outcome(ResultKey::NumberInvalid, &e.0))?,
        branch: BranchNumber::parse(&need(&echo.branch, "InsuredBranchNumber")?)
            .map_err(|e| outcome(ResultKey::BranchInvalid, &e.0))?,
    })
}

/// A readable single request.
#[derive(Debug, Clone)]
pub struct Request {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    pub info: RegistrationEcho,
    pub keys: Result<RegistrationKeys, Outcome>,
}

pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (institution, echo, body) = parse_facility_header(root)?;
    let info = body
        .child("ReferenceNumberRegistrationInfo")
        .ok_or_else(|| {
            FileError::new(ResultKey::BodyMissing, "ReferenceNumberRegistrationInfo")
                .with_echo(&echo)
        })?;
    let (info, keys) = read_info(info);
    Ok(Request {
        institution,
        echo,
        info,
        keys,
    })
}

/// The per-person outcome of one registration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome1 {
    pub info: RegistrationEcho,
    /// None: registered (ProcessingResultStatus 1); Some: refused (2) with code and message.
    pub error: Option<(String, String)>,
}

/// Writes `ReferenceNumberRegistrationInfo` + `ProcessingResultStatus` (+ code/message).
pub fn write_outcome(e: &mut Emitter, o: &Outcome1) {
    // The order of the real answer (reference sample `ReceptionAgent_OQSsiimm01res_layout`).
    e.start("ReferenceNumberRegistrationInfo");
    e.opt("InsurerNumber", o.info.insurer_number.as_deref());
    e.opt("InsuredIdentificationNumber", o.info.number.as_deref());
    e.opt("ReferenceNumber", o.info.reference_number.as_deref());
    e.opt("InsuredCardSymbol", o.info.symbol.as_deref());
    e.opt("InsuredBranchNumber", o.info.branch.as_deref());
    e.end();
    match &o.error {
        None => e.leaf(
            "ProcessingResultStatus",
            ProcessingResultStatus::Normal.code(),
        ),
        Some((code, message)) => {
            e.leaf(
                "ProcessingResultStatus",
                ProcessingResultStatus::Error.code(),
            );
            e.leaf("ProcessingResultCode", code);
            e.leaf("ProcessingResultMessage", message);
        }
    }
}

/// The single response file.
pub fn write(header: &PlainHeader, outcome: Option<&Outcome1>, form: OutputForm) -> Vec<u8> {
    let mut e = Emitter::new(form);
    e.start("XmlMsg");
    write_plain_header(&mut e, header);
    if let Some(o) = outcome {
        e.start("MessageBody");
        write_outcome(&mut e, o);
        e.end();
    }
    e.end();
    e.finish()
}
