//! `OQSmuhvq01req` (訪問診療等) and `OQSmuonq01req` (オンライン診療等): the 居宅同意取得型 bulk queries (reference §1.6,
//! §2.5). Header: `MedicalInstitutionCode`, `ArbitraryFileIdentifier`; body: one `QualificationConfirmSearchInfo`
//! with a date range — `ConsentDateFrom`/`ConsentDateTo` (both kinds) or `ExaminationDateFrom`/`ExaminationDateTo`
//! (online only) — and `MedicalTreatmentFlag` (OQSCD028: 2 訪問診療等, 3 オンライン診療等). The receipt and the
//! results are the two-step bulk messages' ([`crate::msg::bulk`], [`crate::msg::oqs_muquc02::write`]).

use crate::ids::{Date, InstitutionCode};
use crate::msg::{parse_facility_header, single_search_info, FileError, HeaderEcho};
use crate::result_codes::ResultKey;
use crate::xml::Element;

/// The care a query is about (its message kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Care {
    /// 訪問診療等 (`OQSmuhvq`, `MedicalTreatmentFlag` 2).
    Visit,
    /// オンライン診療等 (`OQSmuonq`, `MedicalTreatmentFlag` 3).
    Online,
}

impl Care {
    /// OQSCD028.
    pub fn flag(self) -> &'static str {
        match self {
            Care::Visit => "2",
            Care::Online => "3",
        }
    }
}

/// Which date the range is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Consent,
    Examination,
}

/// Longest range of one query (days). The real limit is not published [U].
pub const MAX_RANGE_DAYS: i64 = 366;

#[derive(Debug, Clone)]
pub struct Request {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    pub basis: Basis,
    pub from: Date,
    pub to: Date,
}

/// Reads a request of `care`; a file asking for another kind (another `MedicalTreatmentFlag`, a 医療扶助
/// `MedicalTreatmentMonth`, 受診日 for 訪問) is refused whole.
pub fn parse(root: &Element, care: Care) -> Result<Request, FileError> {
    let (institution, echo, body) = parse_facility_header(root)?;
    let bad = |key, detail: &str| FileError::new(key, detail).with_echo(&echo);
    let info = single_search_info(body, &echo)?;
    if info.child("MedicalTreatmentMonth").is_some() {
        return Err(bad(
            ResultKey::HeaderInvalid,
            "MedicalTreatmentMonth: 医療扶助 is asked with OQSmutic",
        ));
    }
    match info.value("MedicalTreatmentFlag").map(str::trim) {
        Some(f) if f == care.flag() => {}
        None | Some("") => {}
        Some(other) => {
            return Err(bad(
                ResultKey::HeaderInvalid,
                &format!(
                    "MedicalTreatmentFlag: {other}; this message asks for {}",
                    care.flag()
                ),
            ))
        }
    }
    let date = |name: &str| -> Result<Option<Date>, FileError> {
        match info.value(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => Date::parse(v)
                .map(Some)
                .map_err(|_| bad(ResultKey::HeaderInvalid, &format!("{name}: YYYYMMDD"))),
        }
    };
    let consent = (date("ConsentDateFrom")?, date("ConsentDateTo")?);
    let examination = (date("ExaminationDateFrom")?, date("ExaminationDateTo")?);
    let (basis, (from, to)) = match (consent, examination, care) {
        ((Some(f), Some(t)), (None, None), _) => (Basis::Consent, (f, t)),
        ((None, None), (Some(f), Some(t)), Care::Online) => (Basis::Examination, (f, t)),
        ((None, None), (Some(_), _) | (_, Some(_)), Care::Visit) => {
            return Err(bad(
                ResultKey::HeaderInvalid,
                "ExaminationDateFrom/To: 訪問診療等 is asked by consent date",
            ))
        }
        _ => {
            return Err(bad(
                ResultKey::BodyMissing,
                "ConsentDateFrom and ConsentDateTo (or, online, ExaminationDateFrom and ExaminationDateTo)",
            ))
        }
    };
    if to < from {
        return Err(bad(
            ResultKey::HeaderInvalid,
            "the range ends before it starts",
        ));
    }
    if (to.naive() - from.naive()).num_days() >= MAX_RANGE_DAYS {
        return Err(bad(
            ResultKey::HeaderInvalid,
            &format!("the range is longer than {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok(Request {
        institution,
        echo,
        basis,
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::msg::search_info_file as file;

    #[test]
    fn ranges_and_kinds() {
        let consent =
            "<ConsentDateFrom>20261101</ConsentDateFrom><ConsentDateTo>20261130</ConsentDateTo>";
        let r = parse(
            &file(&format!(
                "{consent}<MedicalTreatmentFlag>2</MedicalTreatmentFlag>"
            )),
            Care::Visit,
        )
        .unwrap();
        assert_eq!(
            (r.basis, r.from.compact()),
            (Basis::Consent, "20261101".to_string())
        );
        let exam = "<ExaminationDateFrom>20261101</ExaminationDateFrom><ExaminationDateTo>20261130</ExaminationDateTo>";
        assert_eq!(
            parse(&file(exam), Care::Online).unwrap().basis,
            Basis::Examination
        );
        // Mixed kinds, wrong basis, bad ranges: refused whole.
        for (body, care) in [
            (format!("{consent}<MedicalTreatmentFlag>3</MedicalTreatmentFlag>"), Care::Visit),
            (format!("{consent}<MedicalTreatmentMonth>202611</MedicalTreatmentMonth>"), Care::Online),
            (exam.to_string(), Care::Visit),
            (format!("{consent}{exam}"), Care::Online),
            ("<ConsentDateFrom>20261130</ConsentDateFrom><ConsentDateTo>20261101</ConsentDateTo>".into(), Care::Visit),
            ("<ConsentDateFrom>20241130</ConsentDateFrom><ConsentDateTo>20261101</ConsentDateTo>".into(), Care::Visit),
            (String::new(), Care::Online),
        ] {
            assert!(parse(&file(&body), care).is_err(), "{body}");
        }
    }
}
