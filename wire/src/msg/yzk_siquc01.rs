//! `YZKsiquc01req` → `YZKsiquc01res`: 薬剤情報 retrieval (reference §2.7). The request names the patient with its
//! own element names (`InsuranceCardSymbol`, `InsuredPersonIdentificationNumber`, `BranchNumber`); the response
//! is `QuaInf` plus one `MeTrMonthInf` per institution and month (医科/歯科 claims) and `CzDiInf/CzDiMonthInf`
//! (調剤 claims). Success is `ResultCode` 1; otherwise `MessageContents` says why.
//!
//! Where the reference is silent ([U]): `StartDate`/`EndDate` are read as YYYYMM (YYYYMMDD accepted), and
//! `ResultCode`/`MessageContents` are written in the header.

use crate::msg::{file_category, start_data_answer, FileError, HeaderEcho, PatientRequest};
use crate::result_codes::ResultKey;
use crate::xml::{Element, Emitter, OutputForm};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub patient: PatientRequest,
    /// Inclusive months `YYYYMM`.
    pub from_month: Option<String>,
    pub to_month: Option<String>,
    /// 1 PDF 薬剤, 2 XML 薬剤, 3 PDF 薬剤+診療, 4 XML 薬剤+診療.
    pub file_category: u8,
}

fn month(s: Option<&str>, name: &str, echo: &HeaderEcho) -> Result<Option<String>, FileError> {
    let Some(s) = s else { return Ok(None) };
    let s = s.trim();
    let ok = (s.len() == 6 || s.len() == 8) && s.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(FileError::new(ResultKey::HeaderInvalid, name).with_echo(echo));
    }
    Ok(Some(s[..6].to_string()))
}

pub fn parse(root: &Element) -> Result<Request, FileError> {
    let (patient, body) = PatientRequest::parse(root)?;
    let echo = &patient.echo;
    Ok(Request {
        file_category: file_category(body, 4, echo)?,
        from_month: month(body.value("StartDate"), "StartDate", echo)?,
        to_month: month(body.value("EndDate"), "EndDate", echo)?,
        patient,
    })
}

/// One drug of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    pub code: String,
    pub name: String,
    pub quantity: String,
    pub unit: String,
    pub usage: String,
    pub times: String,
    pub ingredient: String,
    /// 使用区分 code ([`use_class_label`]): the 医科/歯科 診療識別 or the 調剤 剤形コード.
    pub use_class: String,
    /// 特別指示 (`SpInst`), empty when none.
    pub special: String,
}

/// The label of a 使用区分 code, for the PDF form: 医科/歯科 診療識別 (21 内服, 22 屯服, 23 外用, 31–33 注射, other
/// codes その他) and 調剤 剤形コード (1 内服, 2 内滴, 3 屯服, 4 注射, 5 外用, 6 浸煎, 7 湯). Which codes the real
/// answer uses is not published [I]: these are the codes of the claim the data comes from (`docs/MEDICATION.md`).
pub fn use_class_label(code: &str) -> &'static str {
    match code {
        "21" | "1" => "内服",
        "2" => "内滴",
        "22" | "3" => "頓服",
        "23" | "5" => "外用",
        "31" | "32" | "33" | "4" => "注射",
        "6" => "浸煎",
        "7" => "湯",
        _ => "その他",
    }
}

/// One 診療行為 of one day (診療情報, `MeTrInf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procedure {
    pub name: String,
    pub code: String,
    /// 診療識別.
    pub class: String,
    pub quantity: String,
    pub times: String,
    /// The unit of the quantity, from the 診療行為マスター (empty: unknown, the element is left out).
    pub unit: String,
}

/// One day of one institution-month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub date: String,
    pub prescribed: Option<String>,
    pub drugs: Vec<Drug>,
    /// Only when 診療情報 was requested (FileCategory 3/4).
    pub procedures: Vec<Procedure>,
}

/// One institution and month (`MeTrMonthInf`, or `CzDiMonthInf` for 調剤).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthInf {
    pub pharmacy: bool,
    /// 点数表 of the claiming institution (1 医科, 3 歯科, 4 調剤).
    pub org: String,
    pub facility: String,
    pub facility_name: String,
    pub prescriber: String,
    pub prescriber_name: String,
    pub month: String,
    /// 1 院内, 2 院外.
    pub in_out: String,
    pub days: Vec<Day>,
}

/// The patient in the header (`QuaInf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub name: String,
    pub kana: Option<String>,
    pub birth: String,
    pub sex: String,
}

/// Writes the response: `ResultCode` 1 with the history, or an error with `MessageContents`. With 診療情報
/// (`clinical`, FileCategory 3/4) `DiOrg` and `PrIsOrg` are left out, as real answers do (reference §2.7).
pub fn write(
    echo: &HeaderEcho,
    patient: Option<&Patient>,
    result: Result<&[MonthInf], &str>,
    clinical: bool,
    form: OutputForm,
) -> Vec<u8> {
    let mut e = Emitter::new(form);
    start_data_answer(&mut e, echo, result.err());
    if let Some(p) = patient {
        e.start("QuaInf");
        e.leaf("Name", &p.name);
        e.opt("KanaName", p.kana.as_deref());
        e.leaf("Birth", &p.birth);
        e.leaf("AdmGendCode", &p.sex);
        e.end();
    }
    e.end();
    if let Ok(months) = result {
        e.start("MessageBody");
        let here = echo.institution.as_deref().unwrap_or_default();
        let plain = months.iter().filter(|m| !m.pharmacy);
        write_months(&mut e, plain, Source::Claim, here, clinical);
        let cz: Vec<&MonthInf> = months.iter().filter(|m| m.pharmacy).collect();
        if !cz.is_empty() {
            e.start("CzDiInf");
            write_months(&mut e, cz.into_iter(), Source::Dispensing, here, clinical);
            e.end();
        }
        e.end();
    }
    e.end();
    e.finish()
}

/// Where a month of data comes from, which names its elements: 医科/歯科 claims (`MeTrMonthInf`) or 調剤 claims
/// (`CzDiMonthInf`, `Cz`-prefixed).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Claim,
    Dispensing,
}

fn write_months<'a>(
    e: &mut Emitter,
    months: impl Iterator<Item = &'a MonthInf>,
    source: Source,
    here: &str,
    clinical: bool,
) {
    let cz = source == Source::Dispensing;
    let n = |plain: &'static str, prefixed: &'static str| if cz { prefixed } else { plain };
    e.start_list(n("MeTrMonthInf", "CzDiMonthInf"));
    for m in months {
        e.start(n("MeTrMonthInf", "CzDiMonthInf"));
        if !clinical {
            e.leaf(n("DiOrg", "CzDiOrg"), &m.org);
        }
        e.leaf(n("MeTrDiHCd", "CzMeTrDiHCd"), &m.facility);
        e.opt(
            n("MeTrDiHNm", "CzMeTrDiHNm"),
            Some(m.facility_name.as_str()),
        );
        e.leaf(n("PrlsHCd", "CzPrlsHCd"), &m.prescriber);
        e.opt(n("PrlsHNm", "CzPrlsHNm"), Some(m.prescriber_name.as_str()));
        if !clinical {
            // 1: prescribed by the requesting facility, 2: by another [I: a client's reading of the code].
            let issued_here = !m.prescriber.is_empty() && m.prescriber == here;
            e.leaf(
                n("PrIsOrg", "CzPrIsOrg"),
                if issued_here { "1" } else { "2" },
            );
        }
        e.leaf(n("MeTrMonth", "CzDiMonth"), &m.month);
        e.leaf(n("InOut", "CzPrCl"), &m.in_out);
        e.start(n("DiDateInfs", "CzDiDateInfs"));
        e.start_list(n("DiDateInf", "CzDiDateInf"));
        for d in &m.days {
            e.start(n("DiDateInf", "CzDiDateInf"));
            e.leaf(n("DiDate", "CzDiDate"), &d.date);
            e.opt(n("PrDate", "CzPrDate"), d.prescribed.as_deref());
            e.start(n("DrugInfs", "CzDrugInfs"));
            e.start_list(n("DrugInf", "CzDrugInf"));
            for g in &d.drugs {
                e.start(n("DrugInf", "CzDrugInf"));
                e.leaf(n("DrugC", "CzDrugC"), &g.code);
                e.leaf(n("DrugN", "CzDrugN"), &g.name);
                e.leaf(n("Qua1", "CzQua1"), &g.quantity);
                e.opt(n("Unit", "CzUnit"), Some(g.unit.as_str()));
                e.opt(n("UsageN", "CzUsageN"), Some(g.usage.as_str()));
                e.opt(n("Times", "CzTimes"), Some(g.times.as_str()));
                e.opt(n("IngreN", "CzIngreN"), Some(g.ingredient.as_str()));
                e.opt(n("SpInst", "CzSpInst"), Some(g.special.as_str()));
                e.leaf(n("MeTrIdCl", "CzUsageCl"), &g.use_class);
                e.end();
            }
            e.end_list();
            e.end();
            if !d.procedures.is_empty() {
                e.start("MeTrInfs");
                e.start_list("MeTrInf");
                for p in &d.procedures {
                    e.start("MeTrInf");
                    e.leaf("SinInfN", &p.name);
                    e.leaf("SinInfCd", &p.code);
                    e.leaf("MeTrIdCl", &p.class);
                    e.opt("Qua1", Some(p.quantity.as_str()));
                    e.leaf("Times", &p.times);
                    e.opt("Unit", Some(p.unit.as_str()));
                    e.end();
                }
                e.end_list();
                e.end();
            }
            e.end();
        }
        e.end_list();
        e.end();
        e.end();
    }
    e.end_list();
}
