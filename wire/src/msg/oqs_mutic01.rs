//! `OQSmutic01req` (医療扶助の一括照会, reference §2.5): header `MedicalInstitutionCode`, `ArbitraryFileIdentifier`; body
//! one `QualificationConfirmSearchInfo` with `MedicalTreatmentMonth` (`YYYYMM`) and no `MedicalTreatmentFlag`. The
//! receipt and the results are the two-step bulk messages' ([`crate::msg::bulk`], [`crate::msg::oqs_muquc02::write`]).

use crate::ids::InstitutionCode;
use crate::msg::{parse_facility_header, single_search_info, FileError, HeaderEcho};
use crate::result_codes::ResultKey;
use crate::xml::Element;

#[derive(Debug, Clone)]
pub struct Request {
    pub institution: InstitutionCode,
    pub echo: HeaderEcho,
    /// 診療年月, `YYYYMM`.
    pub month: String,
}

/// Reads a request; a file asking for another kind (a `MedicalTreatmentFlag`, a consent or examination range) is
/// refused whole.
pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (institution, echo, body) = parse_facility_header(root)?;
    let bad = |key, detail: &str| FileError::new(key, detail).with_echo(&echo);
    let info = single_search_info(body, &echo)?;
    for other in [
        "MedicalTreatmentFlag",
        "ConsentDateFrom",
        "ConsentDateTo",
        "ExaminationDateFrom",
        "ExaminationDateTo",
    ] {
        if info.child(other).is_some() {
            return Err(bad(
                ResultKey::HeaderInvalid,
                &format!("{other}: not part of a 医療扶助 query (OQSmutic asks by MedicalTreatmentMonth)"),
            ));
        }
    }
    let month = info
        .value("MedicalTreatmentMonth")
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad(ResultKey::BodyMissing, "MedicalTreatmentMonth"))?;
    let ok = month.len() == 6
        && month.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&month[4..].parse::<u32>().unwrap_or(0));
    if !ok {
        return Err(bad(
            ResultKey::HeaderInvalid,
            "MedicalTreatmentMonth: YYYYMM",
        ));
    }
    Ok(Request {
        institution,
        echo,
        month: month.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::msg::search_info_file as file;

    #[test]
    fn a_month_and_nothing_else() {
        let ok = parse(&file(
            "<MedicalTreatmentMonth>202611</MedicalTreatmentMonth>",
        ))
        .unwrap();
        assert_eq!(ok.month, "202611");
        for bad in [
            "<MedicalTreatmentMonth>202613</MedicalTreatmentMonth>",
            "<MedicalTreatmentMonth>2026-11</MedicalTreatmentMonth>",
            "<MedicalTreatmentMonth>202611</MedicalTreatmentMonth><MedicalTreatmentFlag>2</MedicalTreatmentFlag>",
            "<MedicalTreatmentMonth>202611</MedicalTreatmentMonth><ConsentDateFrom>20261101</ConsentDateFrom>",
            "",
        ] {
            assert!(parse(&file(bad)).is_err(), "{bad}");
        }
    }
}
