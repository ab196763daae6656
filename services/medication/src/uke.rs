//! Electronic claim files (レセ電, "UKE"; reference `receipts-uke.md`): Shift_JIS, CRLF, a trailing 0x1A,
//! unquoted CSV, one record per line, the record ID first. This parser reads 医科 and 歯科 files (IR/UK, RE, HO,
//! SN, IY with 診療識別 inheritance and the 31 day columns, CO) and 調剤 files (YK, RE with the prescribing
//! institution, HO, SN, SH → CZ → IY groups), and reports every problem with its line number.
//! DPC receipts (BU, SB, KK, SK, GA, HH, GT, CD) take their drugs from the dated `CD` コーディングデータ.

use std::io::{BufRead, BufReader, Read};

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

/// 使用区分 of a drug line as its claim codes it: the 医科/歯科 診療識別 (two digits: 21 内服, 22 屯服, 23 外用,
/// 31–33 注射, any other その他) or the 調剤 剤形コード (one digit: 1 内服, 2 内滴, 3 屯服, 4 注射, 5 外用, 6 浸煎,
/// 7 湯). The two ranges do not overlap; the code is what `YZKsiquc01res` carries (`MeTrIdCl`, `CzUsageCl`), its
/// label ([`onshi_wire::msg::yzk_siquc01::use_class_label`]) what the PDF shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UseClass(u8);

impl UseClass {
    /// The code as written in the answer.
    pub fn code(self) -> String {
        self.0.to_string()
    }
    /// From a 医科 診療識別 (unreadable: 99, 全体).
    fn from_shinryo(code: &str) -> Self {
        Self(
            code.trim()
                .parse()
                .ok()
                .filter(|c| (1..=99).contains(c))
                .unwrap_or(99),
        )
    }
    /// From a 調剤 剤形コード; 9 材料 (and anything else) is not a drug.
    fn from_form(code: &str) -> Option<Self> {
        code.trim()
            .parse()
            .ok()
            .filter(|c| (1..=7).contains(c))
            .map(Self)
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
    /// 特別指示 of a 調剤 Rp (`SpInst`).
    pub special: Option<String>,
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

/// The longest record a claim file may hold (a real record is well under 1 KiB); a longer line refuses the file.
pub const MAX_RECORD: usize = 64 * 1024;

/// The most dated drug and 診療行為 lines one receipt may expand to (a month of a long hospital stay is far
/// below); more refuses the file, so one receipt can never hold memory without bound.
pub const MAX_RECEIPT_LINES: usize = 100_000;

/// The text encoding of a claim file: Shift_JIS as the standard says; UTF-8 accepted for test data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    ShiftJis,
    Utf8,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::ShiftJis => "shift_jis",
            Encoding::Utf8 => "utf-8",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Encoding::ShiftJis, Encoding::Utf8]
            .into_iter()
            .find(|e| e.name() == name)
    }
}

/// Why a claim file could not be read: its content (refuses the file), or reading it failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Invalid(#[from] UkeError),
    #[error("reading the claim file: {0}")]
    Io(#[from] std::io::Error),
}

/// The raw lines of a claim file without their line ends, numbered from 1, each at most [`MAX_RECORD`] bytes.
/// The 0x1A that ends the file is dropped; anywhere else it is refused.
struct RawLines<R> {
    input: BufReader<R>,
    buf: Vec<u8>,
    line: usize,
}

impl<R: Read> RawLines<R> {
    fn new(input: R) -> Self {
        Self {
            input: BufReader::with_capacity(64 * 1024, input),
            buf: Vec::new(),
            line: 0,
        }
    }

    fn next(&mut self) -> Result<Option<(usize, &[u8])>, ReadError> {
        self.buf.clear();
        let n = (&mut self.input)
            .take(MAX_RECORD as u64 + 2)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        let line = self.line;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_RECORD {
            return Err(invalid(
                line,
                format!("a record is longer than {MAX_RECORD} bytes"),
            ));
        }
        if let Some(at) = self.buf.iter().position(|&b| b == 0x1A) {
            let at_the_end = at + 1 == self.buf.len() && self.input.fill_buf()?.is_empty();
            if !at_the_end {
                return Err(invalid(line, "0x1A before the end of the file"));
            }
            self.buf.pop();
        }
        Ok(Some((line, &self.buf)))
    }
}

fn invalid(line: usize, reason: impl Into<String>) -> ReadError {
    ReadError::Invalid(UkeError {
        line,
        reason: reason.into(),
    })
}

/// The file's encoding, read through once: Shift_JIS if every line is, else UTF-8 if every line is.
pub fn detect(input: impl Read) -> Result<Encoding, ReadError> {
    let mut lines = RawLines::new(input);
    let (mut sjis, mut utf8) = (true, true);
    while let Some((line, bytes)) = lines.next()? {
        if bytes.is_ascii() {
            continue;
        }
        sjis = sjis
            && encoding_rs::SHIFT_JIS
                .decode_without_bom_handling_and_without_replacement(bytes)
                .is_some();
        utf8 = utf8 && std::str::from_utf8(bytes).is_ok();
        if !sjis && !utf8 {
            return Err(invalid(line, "the file is neither Shift_JIS nor UTF-8"));
        }
    }
    Ok(if sjis {
        Encoding::ShiftJis
    } else {
        Encoding::Utf8
    })
}

/// The records of a file, one at a time, its fields borrowed from one decoded line: memory holds one record,
/// whatever the size of the file. Blank lines are skipped (their numbers still count).
struct Records<R> {
    lines: RawLines<R>,
    encoding: Encoding,
    text: String,
}

impl<R: Read> Records<R> {
    fn next(&mut self) -> Result<Option<(usize, Vec<&str>)>, ReadError> {
        loop {
            let Some((line, bytes)) = self.lines.next()? else {
                return Ok(None);
            };
            if bytes.is_empty() {
                continue;
            }
            self.text.clear();
            let decoded = match self.encoding {
                Encoding::ShiftJis => encoding_rs::SHIFT_JIS
                    .decode_without_bom_handling_and_without_replacement(bytes),
                Encoding::Utf8 => std::str::from_utf8(bytes)
                    .ok()
                    .map(std::borrow::Cow::Borrowed),
            };
            let Some(decoded) = decoded else {
                return Err(invalid(
                    line,
                    format!("the line is not {}", self.encoding.name()),
                ));
            };
            self.text.push_str(&decoded);
            return Ok(Some((line, self.text.split(',').collect())));
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub facility: InstitutionCode,
    pub facility_name: String,
    pub claim_month: String,
}

fn header(first: &[&str], line: usize) -> Result<Header, UkeError> {
    let facility = || institution(field(first, 2), field(first, 3), field(first, 4), line);
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
                line,
                format!("a claim file starts with IR, UK or YK, not {other:?}"),
            )
        }
    };
    Ok(Header {
        kind,
        facility: facility()?,
        facility_name: facility_name.to_string(),
        claim_month: month_of(month, line, what)?,
    })
}

/// The current Rp of a 調剤 receipt: its form (`None`: not a drug form this history shows) and usage.
struct Rp {
    class: Option<UseClass>,
    usage: Option<String>,
    special: Option<String>,
}

/// One dispensing of the current Rp (`CZ`).
struct Dispensing {
    date: NaiveDate,
    prescribed_on: Option<NaiveDate>,
    quantity: String,
}

/// A file being read, record by record: the receipt being read, and what the following lines inherit. A receipt
/// is handed out complete when the next `RE` or the `GO` arrives, so a file of any size is read in the memory of
/// one receipt.
struct Parser {
    kind: Kind,
    current: Option<Receipt>,
    /// The last レセプト番号: numbers run 1..n within a file, so each must be greater than the one before.
    last_number: u32,
    /// 診療識別, inherited by the following IY/SI lines until one sets another.
    shinryo: String,
    /// 調剤: the current Rp and its dispensings.
    rp: Option<Rp>,
    dispensings: Vec<Dispensing>,
    closed: bool,
}

/// Reads a claim file receipt by receipt (after its header). Any problem refuses the whole file: a reader of it
/// applies nothing until the last receipt has been read without error.
pub struct UkeReader<R> {
    records: Records<R>,
    parser: Parser,
    header: Header,
    last_line: usize,
}

impl<R: Read> UkeReader<R> {
    /// Reads the header of a file in a known encoding ([`detect`]).
    pub fn open(input: R, encoding: Encoding) -> Result<Self, ReadError> {
        let mut records = Records {
            lines: RawLines::new(input),
            encoding,
            text: String::new(),
        };
        let Some((line, first)) = records.next()? else {
            return Err(invalid(0, "the file is empty"));
        };
        let header = header(&first, line)?;
        Ok(Self {
            parser: Parser {
                kind: header.kind,
                current: None,
                last_number: 0,
                shinryo: String::new(),
                rp: None,
                dispensings: Vec::new(),
                closed: false,
            },
            header,
            records,
            last_line: line,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next complete receipt; `None` once the `GO` record has been read and nothing follows it.
    pub fn next_receipt(&mut self) -> Result<Option<Receipt>, ReadError> {
        while let Some((line, r)) = self.records.next()? {
            self.last_line = line;
            if let Some(done) = self.parser.record(&r, line)? {
                return Ok(Some(done));
            }
        }
        if !self.parser.closed {
            return Err(invalid(
                self.last_line,
                "no GO record: the file is truncated",
            ));
        }
        Ok(None)
    }
}

/// Parses a whole file held in memory (tests, the seed's checks, the fuzzer). Any problem refuses the file.
pub fn parse(bytes: &[u8]) -> Result<UkeFile, UkeError> {
    let whole = |e: ReadError| match e {
        ReadError::Invalid(e) => e,
        ReadError::Io(e) => UkeError {
            line: 0,
            reason: e.to_string(),
        },
    };
    let encoding = detect(bytes).map_err(whole)?;
    let mut reader = UkeReader::open(bytes, encoding).map_err(whole)?;
    let mut receipts = Vec::new();
    while let Some(r) = reader.next_receipt().map_err(whole)? {
        receipts.push(r);
    }
    let Header {
        kind,
        facility,
        facility_name,
        claim_month,
    } = reader.header;
    Ok(UkeFile {
        kind,
        facility,
        facility_name,
        claim_month,
        receipts,
    })
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

impl Parser {
    /// Reads one record after the first; returns the receipt it completes (the next `RE`, or `GO`).
    fn record(&mut self, r: &[&str], line: usize) -> Result<Option<Receipt>, UkeError> {
        if self.closed {
            return err(line, "records after GO");
        }
        let id = r[0];
        match (id, self.kind) {
            ("GO", _) => {
                self.closed = true;
                return self.current.take().map(complete).transpose();
            }
            ("IR", Kind::Dental) => {}
            ("RE", _) => {
                let done = self.current.take().map(complete).transpose()?;
                self.receipt(r, line)?;
                return Ok(done);
            }
            _ if self.current.is_none() => return err(line, format!("{id} before the first RE")),
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
                let special = Some(field(r, 4))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                self.rp = Some(Rp {
                    class: UseClass::from_form(field(r, 2)),
                    usage,
                    special,
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
        let r = self.current();
        if r.drugs.len() + r.coded.len() + r.procedures.len() > MAX_RECEIPT_LINES {
            return err(
                line,
                format!(
                    "receipt {} expands to more than {MAX_RECEIPT_LINES} dated drug and procedure lines",
                    r.number
                ),
            );
        }
        Ok(None)
    }

    /// The receipt the current lines belong to (checked to exist before any other record is read).
    fn current(&mut self) -> &mut Receipt {
        self.current.as_mut().expect("a receipt before its lines")
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
        let number: u32 = field(r, 1)
            .parse()
            .or_else(|_| err(line, "RE レセプト番号 is not a number"))?;
        if number <= self.last_number {
            return err(
                line,
                format!(
                    "RE レセプト番号 {number} after {}: numbers run 1..n within a file",
                    self.last_number
                ),
            );
        }
        self.last_number = number;
        self.current = Some(Receipt {
            line,
            number,
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
                special: None,
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
                special: None,
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
        let (usage, special) = (rp.usage.clone(), rp.special.clone());
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
                special: special.clone(),
            })
            .collect();
        self.current().drugs.extend(lines);
        Ok(())
    }
}

/// A receipt once read to its end: it has its insurer; a DPC receipt takes its coded drugs.
fn complete(mut r: Receipt) -> Result<Receipt, UkeError> {
    if r.insurer.is_none() {
        return err(
            r.line,
            "receipt without HO (保険者): 公費単独 receipts are not handled yet",
        );
    }
    if !r.coded.is_empty() {
        r.drugs = std::mem::take(&mut r.coded);
    }
    Ok(r)
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
        assert_eq!(r.drugs[1].use_class, UseClass(21), "inherited 21");
        assert_eq!(
            r.drugs[1].date,
            NaiveDate::from_ymd_opt(2026, 10, 8).unwrap()
        );
        assert_eq!(r.drugs[1].usage.as_deref(), Some("１日３回毎食後"));
        assert_eq!(r.drugs[2].use_class, UseClass(23));
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
        assert_eq!(r.drugs[1].use_class.code(), "33");
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

    /// A reader that counts what was taken from it.
    struct Counted<'a>(&'a [u8], std::rc::Rc<std::cell::Cell<usize>>);

    impl Read for Counted<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(out)?;
            self.1.set(self.1.get() + n);
            Ok(n)
        }
    }

    #[test]
    fn a_file_is_read_receipt_by_receipt() {
        let m = medical();
        let receipt = &m[m.find("RE,").unwrap()..m.find("GO,").unwrap()];
        let mut text = m[..m.find("RE,").unwrap()].to_string();
        for n in 1..=5_000 {
            text.push_str(&receipt.replacen("RE,1,", &format!("RE,{n},"), 1));
        }
        text.push_str("GO,1,135,99\n");
        let bytes = sjis(&text);
        let taken = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut r = UkeReader::open(Counted(&bytes, taken.clone()), Encoding::ShiftJis).unwrap();
        assert_eq!(r.next_receipt().unwrap().unwrap().number, 1);
        assert!(
            taken.get() <= 2 * 64 * 1024 && bytes.len() > 10 * taken.get(),
            "read {} of {} bytes for the first receipt",
            taken.get(),
            bytes.len()
        );
        let mut n = 1;
        while let Some(rec) = r.next_receipt().unwrap() {
            n += 1;
            assert_eq!(rec.number, n);
        }
        assert_eq!(n, 5_000);
    }

    #[test]
    fn a_receipt_cannot_expand_without_bound() {
        let m = medical();
        let iy = format!(
            "IY,21,1,610406079,3,,14,,,,,,,{}\n",
            days(&(1..=31).map(|d| (d, 1)).collect::<Vec<_>>())
        );
        let many = iy.repeat(MAX_RECEIPT_LINES / 31 + 1);
        let e = parse(&sjis(
            &m.replace("GO,1,135,99\n", &format!("{many}GO,1,135,99\n")),
        ))
        .unwrap_err();
        assert!(e.reason.contains("more than 100000"), "{e}");
    }

    #[test]
    fn shift_jis_and_utf8_files_are_told_apart() {
        let m = medical();
        assert_eq!(detect(&sjis(&m)[..]).unwrap(), Encoding::ShiftJis);
        assert_eq!(detect(m.as_bytes()).unwrap(), Encoding::Utf8);
        assert_eq!(parse(m.as_bytes()).unwrap(), parse(&sjis(&m)).unwrap());
        let mut mixed = sjis(&m);
        mixed.pop(); // the 0x1A that ends it
        mixed.extend_from_slice("IY,あ\r\n".as_bytes()); // UTF-8, not Shift_JIS
        assert!(detect(&mixed[..])
            .unwrap_err()
            .to_string()
            .contains("neither"));
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
