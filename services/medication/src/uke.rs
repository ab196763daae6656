//! Electronic claim files (レセ電, "UKE"; reference `receipts-uke.md`): Shift_JIS, CRLF, a trailing 0x1A,
//! unquoted CSV, one record per line, the record ID first. This parser reads 医科 and 歯科 files (IR/UK, RE, HO,
//! SN, IY with 診療識別 inheritance and the 31 day columns, CO) and 調剤 files (YK, RE with the prescribing
//! institution, HO, SN, SH → CZ → IY groups), and reports every problem with its line number.
//! DPC receipts (BU, SB, KK, SK, GA, HH, GT, CD) take their drugs from the dated `CD` コーディングデータ.

use chrono::NaiveDate;

use onshi_wire::ids::{normalize_printed, Date, InstitutionCode, InsurerNumber};

/// What kind of claim file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Medical,
    Dental,
    Pharmacy,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Medical => "medical",
            Kind::Dental => "dental",
            Kind::Pharmacy => "pharmacy",
        }
    }
}

/// 使用区分 of a drug line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseClass {
    Internal,
    AsNeeded,
    External,
    Injection,
    Other,
}

impl UseClass {
    pub fn label(self) -> &'static str {
        match self {
            UseClass::Internal => "内服",
            UseClass::AsNeeded => "頓服",
            UseClass::External => "外用",
            UseClass::Injection => "注射",
            UseClass::Other => "その他",
        }
    }
    /// From a 医科 診療識別: 21 内服, 22 屯服, 23 外用, 31–33 注射; anything else その他.
    fn from_shinryo(code: &str) -> Self {
        match code {
            "21" => UseClass::Internal,
            "22" => UseClass::AsNeeded,
            "23" => UseClass::External,
            "31" | "32" | "33" => UseClass::Injection,
            _ => UseClass::Other,
        }
    }
    /// From a 調剤 剤形コード: 1/2/6/7 内服, 3 屯服, 4 注射, 5 外用; 9 材料 is not a drug.
    fn from_form(code: &str) -> Option<Self> {
        match code {
            "1" | "2" | "6" | "7" => Some(UseClass::Internal),
            "3" => Some(UseClass::AsNeeded),
            "4" => Some(UseClass::Injection),
            "5" => Some(UseClass::External),
            _ => None,
        }
    }
}

/// One dated drug occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugLine {
    pub date: NaiveDate,
    pub prescribed_on: Option<NaiveDate>,
    pub code: String,
    pub dose: String,
    pub quantity: String,
    pub use_class: UseClass,
    pub usage: Option<String>,
}

/// One dated 診療行為 occurrence (`SI`, for 診療情報).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcedureLine {
    pub date: NaiveDate,
    pub code: String,
    /// 診療識別 (inherited like drug lines).
    pub shinryo: String,
    pub quantity: String,
    pub count: String,
}

/// One receipt (レセプト).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub line: usize,
    pub number: u32,
    pub month: String,
    pub name: String,
    pub sex: String,
    pub birth: Date,
    pub insurer: Option<InsurerNumber>,
    pub symbol: String,
    pub card_number: String,
    pub branch: Option<String>,
    pub search_number: Option<String>,
    /// 調剤: the prescribing institution (10 digits) and name.
    pub prescriber: Option<(String, String)>,
    pub drugs: Vec<DrugLine>,
    /// DPC: drugs of the コーディングデータ (`CD`); when present they replace the `IY` lines (which repeat the
    /// 出来高 part of them).
    pub coded: Vec<DrugLine>,
    /// 診療行為 (`SI`) of 医科/歯科 receipts.
    pub procedures: Vec<ProcedureLine>,
}

/// A parsed claim file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UkeFile {
    pub kind: Kind,
    pub facility: InstitutionCode,
    pub facility_name: String,
    pub claim_month: String,
    pub receipts: Vec<Receipt>,
}

/// Why a file was refused: the line (1-based, 0 for the whole file) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct UkeError {
    pub line: usize,
    pub reason: String,
}

fn err<T>(line: usize, reason: impl Into<String>) -> Result<T, UkeError> {
    Err(UkeError {
        line,
        reason: reason.into(),
    })
}

/// A 6/8-digit 西暦 or 5/7-digit 和暦 (G + YY + MM[DD]; 1 明治 … 5 令和) month or date.
pub fn parse_date(s: &str) -> Option<(i32, u32, Option<u32>)> {
    let s = s.trim();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (y, rest) = match s.len() {
        6 | 8 => (num(0..4)? as i32, &s[4..]),
        5 | 7 => {
            let base = match &s[0..1] {
                "1" => 1867,
                "2" => 1911,
                "3" => 1925,
                "4" => 1988,
                "5" => 2018,
                _ => return None,
            };
            (base + num(1..3)? as i32, &s[3..])
        }
        _ => return None,
    };
    let m: u32 = rest[0..2].parse().ok()?;
    if !(1..=12).contains(&m) {
        return None;
    }
    let d = if rest.len() == 4 {
        let d: u32 = rest[2..4].parse().ok()?;
        NaiveDate::from_ymd_opt(y, m, d)?;
        Some(d)
    } else {
        None
    };
    Some((y, m, d))
}

fn month_of(s: &str, line: usize, what: &str) -> Result<String, UkeError> {
    match parse_date(s) {
        Some((y, m, None)) => Ok(format!("{y:04}{m:02}")),
        _ => err(
            line,
            format!("{what}: expected YYYYMM (or 和暦 GYYMM), got {s:?}"),
        ),
    }
}

fn date_of(s: &str, line: usize, what: &str) -> Result<NaiveDate, UkeError> {
    match parse_date(s) {
        Some((y, m, Some(d))) => Ok(NaiveDate::from_ymd_opt(y, m, d).expect("checked")),
        _ => err(
            line,
            format!("{what}: expected YYYYMMDD (or 和暦 GYYMMDD), got {s:?}"),
        ),
    }
}

/// Decodes the bytes (strict Shift_JIS; UTF-8 accepted for test data) and splits records.
pub fn records(bytes: &[u8]) -> Result<Vec<Vec<String>>, UkeError> {
    let body = bytes.strip_suffix(&[0x1A]).unwrap_or(bytes);
    let text =
        match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(body) {
            Some(t) => t.into_owned(),
            None => match std::str::from_utf8(body) {
                Ok(t) => t.to_string(),
                Err(_) => return err(0, "the file is neither Shift_JIS nor UTF-8"),
            },
        };
    if text.contains('\u{1A}') {
        return err(0, "0x1A before the end of the file");
    }
    Ok(text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect())
}

fn field(r: &[String], i: usize) -> &str {
    r.get(i).map(|s| s.trim()).unwrap_or("")
}

const MEDICAL_IGNORED: &[&str] = &[
    "KO", "JD", "MF", "SY", "TO", "SJ", "GR", "KH", "TI", "TR", "TS", "HS", "SS", "BU", "SB", "KK",
    "SK", "GA", "HH", "GT",
];
const PHARMACY_IGNORED: &[&str] = &["KO", "JD", "MF", "TO", "TK", "KI", "ST", "CO"];

fn institution(
    pref: &str,
    table: &str,
    code7: &str,
    line: usize,
) -> Result<InstitutionCode, UkeError> {
    InstitutionCode::parse(&format!("{pref:0>2}{table}{code7}")).or_else(|_| {
        err(
            line,
            format!("institution code {pref}{table}{code7} is not a valid 医療機関コード"),
        )
    })
}

/// Parses a whole file. Any problem refuses the file (nothing of it is applied).
pub fn parse(bytes: &[u8]) -> Result<UkeFile, UkeError> {
    let recs = records(bytes)?;
    let Some(first) = recs.first() else {
        return err(0, "the file is empty");
    };
    let (kind, facility, facility_name, claim_month) = match first[0].as_str() {
        "IR" => (
            if field(first, 3) == "3" {
                Kind::Dental
            } else {
                Kind::Medical
            },
            institution(field(first, 2), field(first, 3), field(first, 4), 1)?,
            field(first, 6).to_string(),
            month_of(field(first, 7), 1, "IR 請求年月")?,
        ),
        "UK" => (
            Kind::Dental,
            institution(field(first, 2), field(first, 3), field(first, 4), 1)?,
            field(first, 6).to_string(),
            month_of(field(first, 7), 1, "UK 請求年月")?,
        ),
        "YK" => (
            Kind::Pharmacy,
            institution(field(first, 2), field(first, 3), field(first, 4), 1)?,
            field(first, 5).to_string(),
            month_of(field(first, 6), 1, "YK 請求年月")?,
        ),
        other => {
            return err(
                1,
                format!("a claim file starts with IR, UK or YK, not {other:?}"),
            )
        }
    };
    let mut receipts: Vec<Receipt> = Vec::new();
    let mut shinryo = String::new();
    // 調剤: the current Rp's form, usage and dispensing events.
    let mut rp: Option<(Option<UseClass>, Option<String>)> = None;
    let mut events: Vec<(NaiveDate, Option<NaiveDate>, String)> = Vec::new();
    let mut closed = false;
    for (i, r) in recs.iter().enumerate().skip(1) {
        let line = i + 1;
        if closed {
            return err(line, "records after GO");
        }
        let id = r[0].as_str();
        let current = receipts.last_mut();
        match (id, kind) {
            ("GO", _) => closed = true,
            ("IR", Kind::Dental) => {}
            ("RE", _) => {
                shinryo.clear();
                rp = None;
                events.clear();
                let pharmacy = kind == Kind::Pharmacy;
                let birth = Date::from_naive(date_of(field(r, 6), line, "RE 生年月日")?);
                let search = field(
                    r,
                    if pharmacy {
                        37
                    } else if kind == Kind::Dental {
                        19
                    } else {
                        18
                    },
                );
                let prescriber = if pharmacy {
                    let code = institution(field(r, 9), field(r, 10), field(r, 11), line)?;
                    Some((code.as_str().to_string(), field(r, 12).to_string()))
                } else {
                    None
                };
                receipts.push(Receipt {
                    line,
                    number: field(r, 1)
                        .parse()
                        .or_else(|_| err(line, "RE レセプト番号 is not a number"))?,
                    month: month_of(field(r, 3), line, "RE 診療年月")?,
                    name: field(r, 4).to_string(),
                    sex: field(r, 5).to_string(),
                    birth,
                    insurer: None,
                    symbol: String::new(),
                    card_number: String::new(),
                    branch: None,
                    search_number: (!search.is_empty()).then(|| search.to_string()),
                    prescriber,
                    drugs: vec![],
                    coded: vec![],
                    procedures: vec![],
                });
            }
            (_, _) if current.is_none() => return err(line, format!("{id} before the first RE")),
            ("HO", _) => {
                let rec = current.expect("checked");
                rec.insurer = Some(
                    InsurerNumber::parse(field(r, 1))
                        .or_else(|e| err(line, format!("HO 保険者番号: {e}")))?,
                );
                rec.symbol = normalize_printed(field(r, 2));
                rec.card_number = normalize_printed(field(r, 3));
            }
            ("SN", _) => {
                let b = normalize_printed(field(r, 6));
                if !b.is_empty() {
                    current.expect("checked").branch = Some(b);
                }
            }
            ("IY", Kind::Medical | Kind::Dental) => {
                let rec = current.expect("checked");
                if !field(r, 1).is_empty() {
                    shinryo = field(r, 1).to_string();
                }
                let code = field(r, 3);
                if !code.starts_with('6') || code.len() != 9 {
                    return err(
                        line,
                        format!("IY 医薬品コード {code:?} is not a 9-digit drug code"),
                    );
                }
                let (y, m) = (
                    rec.month[..4].parse::<i32>().expect("month"),
                    rec.month[4..].parse::<u32>().expect("month"),
                );
                let first_day = 13;
                for day in 1..=31u32 {
                    let count = field(r, first_day + day as usize - 1);
                    if count.is_empty() || count == "0" {
                        continue;
                    }
                    let Some(date) = NaiveDate::from_ymd_opt(y, m, day) else {
                        return err(
                            line,
                            format!("IY has a count on day {day}, which {y}-{m:02} does not have"),
                        );
                    };
                    rec.drugs.push(DrugLine {
                        date,
                        prescribed_on: None,
                        code: code.to_string(),
                        dose: field(r, 4).to_string(),
                        quantity: count.to_string(),
                        use_class: UseClass::from_shinryo(&shinryo),
                        usage: None,
                    });
                }
            }
            ("SI", Kind::Medical | Kind::Dental) => {
                let rec = current.expect("checked");
                if !field(r, 1).is_empty() {
                    shinryo = field(r, 1).to_string();
                }
                let code = field(r, 3);
                if code.len() != 9 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return err(line, format!("SI 診療行為コード {code:?} is not 9 digits"));
                }
                let (y, m) = (
                    rec.month[..4].parse::<i32>().expect("month"),
                    rec.month[4..].parse::<u32>().expect("month"),
                );
                for day in 1..=31u32 {
                    let count = field(r, 13 + day as usize - 1);
                    if count.is_empty() || count == "0" {
                        continue;
                    }
                    let Some(date) = NaiveDate::from_ymd_opt(y, m, day) else {
                        return err(
                            line,
                            format!("SI has a count on day {day}, which {y}-{m:02} does not have"),
                        );
                    };
                    rec.procedures.push(ProcedureLine {
                        date,
                        code: code.to_string(),
                        shinryo: shinryo.clone(),
                        quantity: field(r, 4).to_string(),
                        count: count.to_string(),
                    });
                }
            }
            ("CO", Kind::Medical | Kind::Dental) => {
                // A comment after a drug is its usage text (医科 has no coded 用法).
                let rec = current.expect("checked");
                let text = field(r, 4);
                if !text.is_empty() {
                    let last_date = rec.drugs.last().map(|d| d.date);
                    for d in rec
                        .drugs
                        .iter_mut()
                        .rev()
                        .take_while(|d| Some(d.date) == last_date)
                    {
                        d.usage.get_or_insert_with(|| text.to_string());
                    }
                }
            }
            ("CD", Kind::Medical) => {
                // DPC コーディングデータ: 1 実施年月日, 2 診療識別, 5 code, 6 使用量, 9 回数.
                let code = field(r, 5);
                if code.starts_with('6') && code.len() == 9 {
                    let date = date_of(field(r, 1), line, "CD 実施年月日")?;
                    current.expect("checked").coded.push(DrugLine {
                        date,
                        prescribed_on: None,
                        code: code.to_string(),
                        dose: field(r, 6).to_string(),
                        quantity: field(r, 9).to_string(),
                        use_class: UseClass::from_shinryo(field(r, 2)),
                        usage: None,
                    });
                }
            }
            ("SH", Kind::Pharmacy) => {
                let usage = [field(r, 4), field(r, 3)]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .map(str::to_string);
                rp = Some((UseClass::from_form(field(r, 2)), usage));
                events.clear();
            }
            ("CZ", Kind::Pharmacy) => {
                if rp.is_none() {
                    return err(line, "CZ outside an Rp (no SH before it)");
                }
                let dispensed = date_of(field(r, 3), line, "CZ 調剤年月日")?;
                let prescribed = date_of(field(r, 2), line, "CZ 処方年月日").ok();
                events.push((dispensed, prescribed, field(r, 5).to_string()));
            }
            ("IY", Kind::Pharmacy) => {
                let Some((class, usage)) = &rp else {
                    return err(line, "IY outside an Rp (no SH before it)");
                };
                let code = field(r, 2);
                if !code.starts_with('6') || code.len() != 9 {
                    return err(
                        line,
                        format!("IY 医薬品コード {code:?} is not a 9-digit drug code"),
                    );
                }
                let Some(class) = class else { continue };
                if events.is_empty() {
                    return err(line, "IY of an Rp without a CZ (no dispensing date)");
                }
                let rec = current.expect("checked");
                for (date, prescribed, quantity) in &events {
                    rec.drugs.push(DrugLine {
                        date: *date,
                        prescribed_on: *prescribed,
                        code: code.to_string(),
                        dose: field(r, 3).to_string(),
                        quantity: quantity.clone(),
                        use_class: *class,
                        usage: usage.clone(),
                    });
                }
            }
            (id, Kind::Medical | Kind::Dental) if MEDICAL_IGNORED.contains(&id) => {}
            (id, Kind::Pharmacy) if PHARMACY_IGNORED.contains(&id) => {}
            (id, _) => {
                return err(
                    line,
                    format!("unknown record type {id:?} in a {} file", kind.name()),
                )
            }
        }
    }
    if !closed {
        return err(recs.len(), "no GO record: the file is truncated");
    }
    for r in &mut receipts {
        if r.insurer.is_none() {
            return err(
                r.line,
                "receipt without HO (保険者): 公費単独 receipts are not handled yet",
            );
        }
        if !r.coded.is_empty() {
            r.drugs = std::mem::take(&mut r.coded);
        }
    }
    Ok(UkeFile {
        kind,
        facility,
        facility_name,
        claim_month,
        receipts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis(text: &str) -> Vec<u8> {
        let mut b = encoding_rs::SHIFT_JIS
            .encode(&text.replace('\n', "\r\n"))
            .0
            .into_owned();
        b.push(0x1A);
        b
    }

    fn days(counts: &[(u32, u32)]) -> String {
        (1..=31)
            .map(|d| {
                counts
                    .iter()
                    .find(|c| c.0 == d)
                    .map(|c| c.1.to_string())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn medical() -> String {
        format!(
            "IR,1,13,1,0112345,,オンシ内科クリニック,202610,00,\n\
             RE,1,1112,202610,山田　太郎,1,19800515,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ,\n\
             HO,01130012,１２３４５６７８,１,1,100,,,,,,,,,\n\
             SN,1,01,,,,00,,\n\
             IY,21,1,610406079,3,,14,,,,,,,{}\n\
             IY,,1,620160501,2,30,14,,,,,,,{}\n\
             CO,,1,810000001,１日３回毎食後\n\
             IY,23,1,620007805,100,5,1,,,,,,,{}\n\
             GO,1,135,99\n",
            days(&[(8, 14)]),
            days(&[(8, 14)]),
            days(&[(20, 1)])
        )
    }

    #[test]
    fn medical_lines_inherit_the_shinryo_code_and_take_their_day() {
        let f = parse(&sjis(&medical())).unwrap();
        assert_eq!(f.kind, Kind::Medical);
        assert_eq!(f.facility.as_str(), "1310112345");
        let r = &f.receipts[0];
        assert_eq!(r.insurer.unwrap().as_str(), "01130012");
        assert_eq!(
            (
                r.symbol.as_str(),
                r.card_number.as_str(),
                r.branch.as_deref()
            ),
            ("12345678", "1", Some("00"))
        );
        assert_eq!(r.drugs.len(), 3);
        assert_eq!(r.drugs[1].use_class, UseClass::Internal, "inherited 21");
        assert_eq!(
            r.drugs[1].date,
            NaiveDate::from_ymd_opt(2026, 10, 8).unwrap()
        );
        assert_eq!(r.drugs[1].usage.as_deref(), Some("１日３回毎食後"));
        assert_eq!(r.drugs[2].use_class, UseClass::External);
        assert_eq!(
            r.drugs[2].date,
            NaiveDate::from_ymd_opt(2026, 10, 20).unwrap()
        );
    }

    #[test]
    fn dpc_drugs_come_from_the_coding_data() {
        let text = medical().replace(
            "GO,1,135,99\n",
            "BU,040080xx99x0xx,20261005,20261012,1,\nCD,20261006,21,1,1,610406079,2,,,5,\nCD,20261007,33,1,1,620008912,0.5,,,1,\nCD,20261007,40,1,1,140000610,,1,,1,\nGO,1,135,99\n",
        );
        let f = parse(&sjis(&text)).unwrap();
        let r = &f.receipts[0];
        assert_eq!(
            r.drugs.len(),
            2,
            "the CD drugs replace the IY lines; procedures are not drugs"
        );
        assert_eq!(
            r.drugs[0].date,
            NaiveDate::from_ymd_opt(2026, 10, 6).unwrap()
        );
        assert_eq!(
            (r.drugs[0].dose.as_str(), r.drugs[0].quantity.as_str()),
            ("2", "5")
        );
        assert_eq!(r.drugs[1].use_class, UseClass::Injection);
    }

    #[test]
    fn pharmacy_groups_dispensings_by_rp() {
        let text = "YK,1,13,4,0140233,オンシ薬局,202610,00,\n\
            RE,1,4112,202610,山田　太郎,1,19800515,,,13,1,0112345,オンシ内科クリニック,,,,,,,,,,,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ\n\
            HO,01130012,12345678,1,1,100,,,,,,,,\n\
            SH,01,1,001,,100,,,,\n\
            CZ,1,20261008,20261008,1,14,,,,,,,,50\n\
            CZ,1,20261022,20261022,2,14,,,,,,,,50\n\
            IY,1,610406079,3,,,,,,1\n\
            SH,02,9,,,10,,,,\n\
            CZ,1,20261008,20261008,1,1\n\
            IY,1,610406079,1,,,,,,1\n\
            GO,1,200,99\n";
        let f = parse(&sjis(text)).unwrap();
        assert_eq!(f.kind, Kind::Pharmacy);
        let r = &f.receipts[0];
        assert_eq!(r.prescriber.as_ref().unwrap().0, "1310112345");
        assert_eq!(
            r.drugs.len(),
            2,
            "two dispensings of Rp 1; the 材料 Rp is not a drug"
        );
        assert_eq!(
            r.drugs[1].date,
            NaiveDate::from_ymd_opt(2026, 10, 22).unwrap()
        );
        assert_eq!(r.drugs[0].quantity, "14");
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let m = medical();
        assert_eq!(
            parse(&sjis(&m.replace("GO,1,135,99\n", "")))
                .unwrap_err()
                .reason,
            "no GO record: the file is truncated"
        );
        assert!(parse(&sjis(&m.replace("SN,1,", "ZZ,1,")))
            .unwrap_err()
            .reason
            .contains("unknown record type"));
        assert!(parse(&[0x82, 0x20, 0xff, 0x1A]).is_err(), "bad encoding");
        assert!(parse(&sjis(&m.replace("19800515", "19801315")))
            .unwrap_err()
            .reason
            .contains("生年月日"));
        assert!(parse(b"").is_err());
        assert!(parse(&sjis(&m.replace("01130012", "01130013")))
            .unwrap_err()
            .reason
            .contains("check digit"));
    }

    #[test]
    fn wareki_and_seireki_dates() {
        assert_eq!(parse_date("202610"), Some((2026, 10, None)));
        assert_eq!(parse_date("50810"), Some((2026, 10, None)));
        assert_eq!(parse_date("4310430"), Some((2019, 4, Some(30))));
        assert_eq!(parse_date("3640107"), Some((1989, 1, Some(7))));
        assert_eq!(parse_date("20261301"), None);
        assert_eq!(parse_date("20260230"), None);
    }
}
