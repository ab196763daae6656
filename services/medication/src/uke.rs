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

/// Decodes the bytes (strict Shift_JIS; UTF-8 accepted for test data): the file's text, once.
pub fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, UkeError> {
    let body = bytes.strip_suffix(&[0x1A]).unwrap_or(bytes);
    let text =
        match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(body) {
            Some(t) => t,
            None => match std::str::from_utf8(body) {
                Ok(t) => std::borrow::Cow::Borrowed(t),
                Err(_) => return err(0, "the file is neither Shift_JIS nor UTF-8"),
            },
        };
    if text.contains('\u{1A}') {
        return err(0, "0x1A before the end of the file");
    }
    Ok(text)
}

/// The records of a text, one at a time (its fields borrowed from the text: memory holds one record's field list,
/// not the whole file split up).
pub fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
}

fn field<'t>(r: &[&'t str], i: usize) -> &'t str {
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

/// The first record (IR 医科/歯科, UK 歯科, YK 調剤): the kind of file, the institution, the claim month.
struct Header {
    kind: Kind,
    facility: InstitutionCode,
    facility_name: String,
    claim_month: String,
}

fn header(first: &[&str]) -> Result<Header, UkeError> {
    let facility = || institution(field(first, 2), field(first, 3), field(first, 4), 1);
    let (kind, facility_name, month, what) = match first[0] {
        "IR" if field(first, 3) == "3" => (
            Kind::Dental,
            field(first, 6),
            field(first, 7),
            "IR 請求年月",
        ),
        "IR" => (
            Kind::Medical,
            field(first, 6),
            field(first, 7),
            "IR 請求年月",
        ),
        "UK" => (
            Kind::Dental,
            field(first, 6),
            field(first, 7),
            "UK 請求年月",
        ),
        "YK" => (
            Kind::Pharmacy,
            field(first, 5),
            field(first, 6),
            "YK 請求年月",
        ),
        other => {
            return err(
                1,
                format!("a claim file starts with IR, UK or YK, not {other:?}"),
            )
        }
    };
    Ok(Header {
        kind,
        facility: facility()?,
        facility_name: facility_name.to_string(),
        claim_month: month_of(month, 1, what)?,
    })
}

/// The current Rp of a 調剤 receipt: its form (`None`: not a drug form this history shows) and usage.
struct Rp {
    class: Option<UseClass>,
    usage: Option<String>,
}

/// One dispensing of the current Rp (`CZ`).
struct Dispensing {
    date: NaiveDate,
    prescribed_on: Option<NaiveDate>,
    quantity: String,
}

/// A file being read: the receipts so far, and what the following lines inherit.
struct Reader {
    kind: Kind,
    receipts: Vec<Receipt>,
    /// 診療識別, inherited by the following IY/SI lines until one sets another.
    shinryo: String,
    /// 調剤: the current Rp and its dispensings.
    rp: Option<Rp>,
    dispensings: Vec<Dispensing>,
}

/// Parses a whole file. Any problem refuses the file (nothing of it is applied).
pub fn parse(bytes: &[u8]) -> Result<UkeFile, UkeError> {
    let text = decode(bytes)?;
    let mut recs = records(&text);
    let Some(first) = recs.next() else {
        return err(0, "the file is empty");
    };
    let header = header(&first)?;
    let mut reader = Reader {
        kind: header.kind,
        receipts: Vec::new(),
        shinryo: String::new(),
        rp: None,
        dispensings: Vec::new(),
    };
    let (mut closed, mut last) = (false, 1);
    for (i, r) in recs.enumerate() {
        let line = i + 2;
        last = line;
        if closed {
            return err(line, "records after GO");
        }
        closed = reader.record(&r, line)?;
    }
    if !closed {
        return err(last, "no GO record: the file is truncated");
    }
    reader.finish(header)
}

/// The dates of a receipt's month with a count in the 31 day columns starting at `first`, with their counts.
fn counted_days<'r>(
    r: &[&'r str],
    first: usize,
    month: &str,
    line: usize,
    id: &str,
) -> Result<Vec<(NaiveDate, &'r str)>, UkeError> {
    let (y, m) = (
        month[..4].parse::<i32>().expect("month"),
        month[4..].parse::<u32>().expect("month"),
    );
    let mut out = Vec::new();
    for day in 1..=31u32 {
        let count = field(r, first + day as usize - 1);
        if count.is_empty() || count == "0" {
            continue;
        }
        let Some(date) = NaiveDate::from_ymd_opt(y, m, day) else {
            return err(
                line,
                format!("{id} has a count on day {day}, which {y}-{m:02} does not have"),
            );
        };
        out.push((date, count));
    }
    Ok(out)
}

/// A 9-digit drug code (医薬品コード, starting with 6).
fn drug_code(code: &str, line: usize) -> Result<&str, UkeError> {
    if !code.starts_with('6') || code.len() != 9 {
        return err(
            line,
            format!("IY 医薬品コード {code:?} is not a 9-digit drug code"),
        );
    }
    Ok(code)
}

impl Reader {
    /// Reads one record after the first; returns whether it closed the file (`GO`).
    fn record(&mut self, r: &[&str], line: usize) -> Result<bool, UkeError> {
        let id = r[0];
        match (id, self.kind) {
            ("GO", _) => return Ok(true),
            ("IR", Kind::Dental) => {}
            ("RE", _) => self.receipt(r, line)?,
            _ if self.receipts.is_empty() => return err(line, format!("{id} before the first RE")),
            ("HO", _) => {
                let rec = self.current();
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
                    self.current().branch = Some(b);
                }
            }
            ("IY", Kind::Medical | Kind::Dental) => self.medical_drug(r, line)?,
            ("SI", Kind::Medical | Kind::Dental) => self.procedure(r, line)?,
            ("CO", Kind::Medical | Kind::Dental) => self.comment(r),
            ("CD", Kind::Medical) => self.coded_drug(r, line)?,
            ("SH", Kind::Pharmacy) => {
                let usage = [field(r, 4), field(r, 3)]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .map(str::to_string);
                self.rp = Some(Rp {
                    class: UseClass::from_form(field(r, 2)),
                    usage,
                });
                self.dispensings.clear();
            }
            ("CZ", Kind::Pharmacy) => {
                if self.rp.is_none() {
                    return err(line, "CZ outside an Rp (no SH before it)");
                }
                self.dispensings.push(Dispensing {
                    date: date_of(field(r, 3), line, "CZ 調剤年月日")?,
                    prescribed_on: date_of(field(r, 2), line, "CZ 処方年月日").ok(),
                    quantity: field(r, 5).to_string(),
                });
            }
            ("IY", Kind::Pharmacy) => self.pharmacy_drug(r, line)?,
            (id, Kind::Medical | Kind::Dental) if MEDICAL_IGNORED.contains(&id) => {}
            (id, Kind::Pharmacy) if PHARMACY_IGNORED.contains(&id) => {}
            (id, kind) => {
                return err(
                    line,
                    format!("unknown record type {id:?} in a {} file", kind.name()),
                )
            }
        }
        Ok(false)
    }

    /// The receipt the current lines belong to (checked to exist before any other record is read).
    fn current(&mut self) -> &mut Receipt {
        self.receipts
            .last_mut()
            .expect("a receipt before its lines")
    }

    /// `RE`: a new receipt; what lines inherit starts over.
    fn receipt(&mut self, r: &[&str], line: usize) -> Result<(), UkeError> {
        self.shinryo.clear();
        self.rp = None;
        self.dispensings.clear();
        let pharmacy = self.kind == Kind::Pharmacy;
        let birth = Date::from_naive(date_of(field(r, 6), line, "RE 生年月日")?);
        let search = field(
            r,
            match self.kind {
                Kind::Pharmacy => 37,
                Kind::Dental => 19,
                Kind::Medical => 18,
            },
        );
        let prescriber = if pharmacy {
            let code = institution(field(r, 9), field(r, 10), field(r, 11), line)?;
            Some((code.as_str().to_string(), field(r, 12).to_string()))
        } else {
            None
        };
        self.receipts.push(Receipt {
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
        Ok(())
    }

    /// A 診療識別 on the line becomes the one the following lines inherit.
    fn inherit_shinryo(&mut self, r: &[&str]) {
        if !field(r, 1).is_empty() {
            self.shinryo = field(r, 1).to_string();
        }
    }

    /// `IY` of 医科/歯科: one drug line per day with a count.
    fn medical_drug(&mut self, r: &[&str], line: usize) -> Result<(), UkeError> {
        self.inherit_shinryo(r);
        let code = drug_code(field(r, 3), line)?;
        let use_class = UseClass::from_shinryo(&self.shinryo);
        let rec = self.current();
        for (date, count) in counted_days(r, 13, &rec.month, line, "IY")? {
            rec.drugs.push(DrugLine {
                date,
                prescribed_on: None,
                code: code.to_string(),
                dose: field(r, 4).to_string(),
                quantity: count.to_string(),
                use_class,
                usage: None,
            });
        }
        Ok(())
    }

    /// `SI`: one 診療行為 line per day with a count (for 診療情報).
    fn procedure(&mut self, r: &[&str], line: usize) -> Result<(), UkeError> {
        self.inherit_shinryo(r);
        let code = field(r, 3);
        if code.len() != 9 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return err(line, format!("SI 診療行為コード {code:?} is not 9 digits"));
        }
        let shinryo = self.shinryo.clone();
        let rec = self.current();
        for (date, count) in counted_days(r, 13, &rec.month, line, "SI")? {
            rec.procedures.push(ProcedureLine {
                date,
                code: code.to_string(),
                shinryo: shinryo.clone(),
                quantity: field(r, 4).to_string(),
                count: count.to_string(),
            });
        }
        Ok(())
    }

    /// `CO` after a drug: its usage text (医科 has no coded 用法), for the drug lines of the last day.
    fn comment(&mut self, r: &[&str]) {
        let text = field(r, 4);
        if text.is_empty() {
            return;
        }
        let rec = self.current();
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

    /// `CD`, DPC コーディングデータ: 1 実施年月日, 2 診療識別, 5 code, 6 使用量, 9 回数 (drugs only).
    fn coded_drug(&mut self, r: &[&str], line: usize) -> Result<(), UkeError> {
        let code = field(r, 5);
        if code.starts_with('6') && code.len() == 9 {
            let date = date_of(field(r, 1), line, "CD 実施年月日")?;
            self.current().coded.push(DrugLine {
                date,
                prescribed_on: None,
                code: code.to_string(),
                dose: field(r, 6).to_string(),
                quantity: field(r, 9).to_string(),
                use_class: UseClass::from_shinryo(field(r, 2)),
                usage: None,
            });
        }
        Ok(())
    }

    /// `IY` of 調剤: one drug line per dispensing of the current Rp.
    fn pharmacy_drug(&mut self, r: &[&str], line: usize) -> Result<(), UkeError> {
        let Some(rp) = &self.rp else {
            return err(line, "IY outside an Rp (no SH before it)");
        };
        let code = drug_code(field(r, 2), line)?;
        let Some(use_class) = rp.class else {
            return Ok(());
        };
        if self.dispensings.is_empty() {
            return err(line, "IY of an Rp without a CZ (no dispensing date)");
        }
        let usage = rp.usage.clone();
        let lines: Vec<DrugLine> = self
            .dispensings
            .iter()
            .map(|d| DrugLine {
                date: d.date,
                prescribed_on: d.prescribed_on,
                code: code.to_string(),
                dose: field(r, 3).to_string(),
                quantity: d.quantity.clone(),
                use_class,
                usage: usage.clone(),
            })
            .collect();
        self.current().drugs.extend(lines);
        Ok(())
    }

    /// The file once closed: every receipt has its insurer; DPC receipts take their coded drugs.
    fn finish(mut self, header: Header) -> Result<UkeFile, UkeError> {
        for r in &mut self.receipts {
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
            kind: header.kind,
            facility: header.facility,
            facility_name: header.facility_name,
            claim_month: header.claim_month,
            receipts: self.receipts,
        })
    }
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
