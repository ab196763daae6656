//! Validated identifiers (reference `oqs-interface.md` §3): every value here is built only through a
//! constructor that checks its format and check digit ("parse, don't validate").

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused; the message is meant for people (English, short, no personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, IdError> {
    Err(IdError(msg.into()))
}

/// Modulus-10 check digit with weights 2-1-2-1… starting with 2 at the **rightmost** body digit; products of
/// 10 or more are replaced by the sum of their digits (reference §3.1, used for 保険者番号 and 医療機関コード).
///
/// `body` must contain ASCII digits only.
pub fn mod10_w21(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            let p = if i % 2 == 0 { d * 2 } else { d };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// 保険者番号: 8 digits (法別 2 + 都道府県 2 + 保険者別 3 + 検証 1), or 6 digits for 市町村国保
/// (都道府県 2 + 保険者別 3 + 検証 1). In XML a 6-digit number is right-aligned in 8 characters with spaces.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InsurerNumber {
    digits: [u8; 8],
    len: u8,
}

/// How a 6-digit 国保 number written zero-padded to 8 digits (`00131151`) is read. No 法別番号 is `00`, so such a
/// number can only be a padded 国保 number; what the real system answers for it is unknown (some clients pad with
/// zeros, the spec pads with spaces). Set once at start-up ([`set_zero_padding`], `ONSHI_INSURER_ZERO_PADDING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroPadding {
    /// Read as the 6-digit number (`00131151` = `  131151`). The default.
    #[default]
    SixDigit,
    /// Read as written: an 8-digit number, which no insurer has (answered as not found).
    AsWritten,
}

static ZERO_PADDING: std::sync::OnceLock<ZeroPadding> = std::sync::OnceLock::new();

/// Sets the process's [`ZeroPadding`] rule; refused once a number has been read.
pub fn set_zero_padding(rule: ZeroPadding) -> Result<(), String> {
    ZERO_PADDING
        .set(rule)
        .map_err(|_| "the insurer number padding rule was already in use".to_string())
}

impl InsurerNumber {
    /// Parses the number as written in a request or a registration: surrounding spaces (the XML padding) are
    /// ignored; 6 or 8 digits with a valid check digit are required; a zero-padded 6-digit number is read by the
    /// process's [`ZeroPadding`] rule.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        Self::parse_with(raw, *ZERO_PADDING.get_or_init(ZeroPadding::default))
    }

    /// [`Self::parse`] under an explicit rule (the 特定健診 standard format always zero-pads: `SixDigit`).
    pub fn parse_with(raw: &str, rule: ZeroPadding) -> Result<Self, IdError> {
        let s = raw.trim_matches(|c| c == ' ' || c == '\u{3000}');
        let s = match (rule, s.strip_prefix("00")) {
            (ZeroPadding::SixDigit, Some(six)) if s.len() == 8 => six,
            _ => s,
        };
        if !all_digits(s) || (s.len() != 6 && s.len() != 8) {
            return err("insurer number must be 6 (国保) or 8 digits");
        }
        let b = s.as_bytes();
        let (body, check) = b.split_at(b.len() - 1);
        let expected = mod10_w21(body);
        if check[0] - b'0' != expected {
            return err(format!(
                "insurer number check digit is wrong (expected {expected})"
            ));
        }
        let mut digits = [b' '; 8];
        digits[..b.len()].copy_from_slice(b);
        Ok(Self {
            digits,
            len: b.len() as u8,
        })
    }

    /// The digits without padding (6 or 8).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).expect("ascii digits")
    }

    /// The 8-character form used in OQS XML (6-digit numbers left-padded with spaces).
    pub fn xml_form(&self) -> String {
        format!("{:>8}", self.as_str())
    }

    /// True for a 6-digit 市町村国保 number.
    pub fn is_kokuho(&self) -> bool {
        self.len == 6
    }

    /// 法別番号 of an 8-digit number (None for 国保).
    pub fn houbetsu(&self) -> Option<u8> {
        (self.len == 8).then(|| (self.digits[0] - b'0') * 10 + (self.digits[1] - b'0'))
    }

    /// 後期高齢者医療広域連合 (法別 39).
    pub fn is_late_elderly(&self) -> bool {
        self.houbetsu() == Some(39)
    }

    /// 都道府県番号 (01–47; 51–97 alternates are folded back by -50).
    pub fn prefecture(&self) -> u8 {
        let off = if self.len == 8 { 2 } else { 0 };
        let p = (self.digits[off] - b'0') * 10 + (self.digits[off + 1] - b'0');
        if p > 50 {
            p - 50
        } else {
            p
        }
    }

    /// Builds a valid number from a body (5 or 7 digits) by appending its check digit.
    pub fn from_body(body: &str) -> Result<Self, IdError> {
        if !all_digits(body) || (body.len() != 5 && body.len() != 7) {
            return err("insurer number body must be 5 or 7 digits");
        }
        let check = mod10_w21(body.as_bytes());
        Self::parse_with(&format!("{body}{check}"), ZeroPadding::AsWritten)
    }
}

impl fmt::Display for InsurerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for InsurerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InsurerNumber({})", self.as_str())
    }
}

/// Kind of facility by 点数表番号 (the third digit of a 医療機関コード).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    /// 医科 (点数表 1): hospitals and medical clinics.
    Medical,
    /// 歯科 (点数表 3).
    Dental,
    /// 薬局 (点数表 4).
    Pharmacy,
    /// 訪問看護ステーション (6; reference §3.2, secondary sources).
    VisitingNursing,
    /// 柔道整復 施術所 (7: the simulator's own digit, [I]: 施術所 codes are not in the references).
    Judo,
    /// あん摩マッサージ指圧・はり・きゅう 施術所 (8: the simulator's own digit, [I]).
    Ahaki,
}

impl FacilityKind {
    pub const ALL: [FacilityKind; 6] = [
        Self::Medical,
        Self::Dental,
        Self::Pharmacy,
        Self::VisitingNursing,
        Self::Judo,
        Self::Ahaki,
    ];

    pub fn table_digit(self) -> u8 {
        match self {
            Self::Medical => 1,
            Self::Dental => 3,
            Self::Pharmacy => 4,
            Self::VisitingNursing => 6,
            Self::Judo => 7,
            Self::Ahaki => 8,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Medical => "医科",
            Self::Dental => "歯科",
            Self::Pharmacy => "薬局",
            Self::VisitingNursing => "訪問看護",
            Self::Judo => "柔道整復",
            Self::Ahaki => "あはき",
        }
    }

    /// A 施術所 (柔道整復・あはき): qualification confirmation only (資格確認限定型), never medical information.
    pub fn is_practitioner(self) -> bool {
        matches!(self, Self::Judo | Self::Ahaki)
    }

    /// The kind a 医療機関コード as written names by its third digit, without checking the rest (a metrics
    /// label of what a request claims to come from).
    pub fn of_code(code: &str) -> Option<Self> {
        let digit = *code.trim().as_bytes().get(2)?;
        Self::ALL
            .into_iter()
            .find(|k| k.table_digit() + b'0' == digit)
    }

    /// The metrics label of a facility kind (`none` when the caller's facility is not known).
    pub fn metric(kind: Option<Self>) -> &'static str {
        match kind {
            Some(Self::Medical) => "medical",
            Some(Self::Dental) => "dental",
            Some(Self::Pharmacy) => "pharmacy",
            Some(Self::VisitingNursing) => "visiting_nursing",
            Some(Self::Judo) => "judo",
            Some(Self::Ahaki) => "ahaki",
            None => "none",
        }
    }
}

/// 医療機関コード: 10 digits = 都道府県 (2) + 点数表 (1: 1 医科, 3 歯科, 4 薬局, 6 訪問看護; 7 柔道整復 and 8 あはき
/// for 施術所, the simulator's own [I]) + 郡市区 (2) + 機関番号 (4) + 検証 (1).
///
/// The check digit is the 2-1 modulus-10 over the 9-digit body. For the pre-1976 codes of 埼玉/千葉/東京/神奈川
/// (prefectures 11–14) the reference notes a 7-digit-only variant; it is accepted there (lenient, §3.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstitutionCode([u8; 10]);

impl InstitutionCode {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.len() != 10 || !all_digits(s) {
            return err("medical institution code must be 10 digits");
        }
        let b = s.as_bytes();
        let pref = (b[0] - b'0') * 10 + (b[1] - b'0');
        if !(1..=47).contains(&pref) {
            return err("medical institution code: prefecture must be 01-47");
        }
        if FacilityKind::of_code(s).is_none() {
            return err(
                "medical institution code: 点数表番号 must be 1 (医科), 3 (歯科), 4 (薬局), 6 (訪問看護), 7 (柔道整復) or 8 (あはき)",
            );
        }
        let check = b[9] - b'0';
        let full = mod10_w21(&b[..9]);
        let short_ok = (11..=14).contains(&pref) && mod10_w21(&b[3..9]) == check;
        if full != check && !short_ok {
            return err(format!(
                "medical institution code check digit is wrong (expected {full})"
            ));
        }
        let mut a = [0u8; 10];
        a.copy_from_slice(b);
        Ok(Self(a))
    }

    /// Builds a valid code from its 9-digit body.
    pub fn from_body(body: &str) -> Result<Self, IdError> {
        if body.len() != 9 || !all_digits(body) {
            return err("institution code body must be 9 digits");
        }
        let check = mod10_w21(body.as_bytes());
        Self::parse(&format!("{body}{check}"))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ascii digits")
    }

    pub fn prefecture(&self) -> u8 {
        (self.0[0] - b'0') * 10 + (self.0[1] - b'0')
    }

    pub fn kind(&self) -> FacilityKind {
        FacilityKind::of_code(self.as_str()).expect("checked at parse")
    }

    /// The facility's district: its prefecture and 郡市区番号 (`0415`), the area unit below the prefecture that
    /// the code itself carries.
    pub fn district(&self) -> String {
        let s = self.as_str();
        format!("{}{}", &s[..2], &s[3..5])
    }
}

impl fmt::Display for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for InstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstitutionCode({})", self.as_str())
    }
}

/// Checks a 医療扶助 受給者番号: 7 digits, the last the 2-1 modulus-10 check digit of the first six (the same algorithm
/// as the 公費負担者番号 and 保険者番号).
pub fn check_recipient_number(s: &str) -> Result<(), String> {
    if s.len() != 7 || !all_digits(s) {
        return Err("a 受給者番号 is 7 digits".into());
    }
    let b = s.as_bytes();
    let expected = mod10_w21(&b[..6]);
    if b[6] - b'0' != expected {
        return Err(format!(
            "受給者番号 check digit is wrong (expected {expected})"
        ));
    }
    Ok(())
}

/// Normalises the printed 記号 / 番号 for matching: trims ASCII and ideographic spaces and folds full-width
/// ASCII (digits, letters, hyphen) to half-width, so `１２３` on a card and `123` in a request match.
pub fn normalize_printed(raw: &str) -> String {
    raw.trim_matches(|c: char| c == ' ' || c == '\u{3000}')
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '‐' | '−' => '-',
            _ => c,
        })
        .collect()
}

/// 記号 (InsuredCardSymbol): as printed, may contain kanji, kana, letters or hyphens; may be absent (e.g. 後期高齢者).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct CardSymbol(String);

impl CardSymbol {
    pub const MAX_CHARS: usize = 38;

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = normalize_printed(raw);
        if s.chars().count() > Self::MAX_CHARS {
            return err(format!(
                "symbol is longer than {} characters",
                Self::MAX_CHARS
            ));
        }
        if s.chars().any(|c| c.is_control()) {
            return err("symbol contains control characters");
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// 番号 (InsuredIdentificationNumber): as printed, leading zeros kept; required.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CardNumber(String);

impl CardNumber {
    pub const MAX_CHARS: usize = 38;

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = normalize_printed(raw);
        if s.is_empty() {
            return err("insured identification number is empty");
        }
        if s.chars().count() > Self::MAX_CHARS {
            return err(format!(
                "insured identification number is longer than {} characters",
                Self::MAX_CHARS
            ));
        }
        if s.chars().any(|c| c.is_control()) {
            return err("insured identification number contains control characters");
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 枝番 (InsuredBranchNumber): exactly 2 digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BranchNumber(u8);

impl BranchNumber {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = normalize_printed(raw);
        if s.len() != 2 || !all_digits(&s) {
            return err("branch number (枝番) must be 2 digits");
        }
        Ok(Self(s.parse().expect("2 digits")))
    }
    pub fn value(self) -> u8 {
        self.0
    }
    pub fn as_string(self) -> String {
        format!("{:02}", self.0)
    }
}

/// The individual-unit insured number (個人単位被保険者番号): 保険者番号 + 記号 + 番号 + 枝番. It identifies one
/// qualification in the registry.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct IndividualNumber {
    pub insurer: InsurerNumber,
    pub symbol: CardSymbol,
    pub number: CardNumber,
    pub branch: BranchNumber,
}

impl IndividualNumber {
    /// A stable text key, `insurer:symbol:number:branch`, used as the qualification id.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.insurer,
            self.symbol.as_str(),
            self.number.as_str(),
            self.branch.as_string()
        )
    }
}

/// A calendar date in the spec's `YYYYMMDD` form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(NaiveDate);

impl Date {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.len() != 8 || !all_digits(s) {
            return err("date must be YYYYMMDD");
        }
        let y: i32 = s[0..4].parse().expect("digits");
        let m: u32 = s[4..6].parse().expect("digits");
        let d: u32 = s[6..8].parse().expect("digits");
        if y < 1868 {
            return err("date is before 1868");
        }
        NaiveDate::from_ymd_opt(y, m, d)
            .map(Self)
            .ok_or_else(|| IdError("date does not exist in the calendar".into()))
    }
    pub fn from_naive(d: NaiveDate) -> Self {
        Self(d)
    }
    pub fn naive(self) -> NaiveDate {
        self.0
    }
    /// `YYYYMMDD`.
    pub fn compact(self) -> String {
        format!(
            "{:04}{:02}{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }
    pub fn add_days(self, days: i64) -> Self {
        Self(self.0 + chrono::Duration::days(days))
    }
    /// Age in completed years on `on`.
    pub fn age_on(self, on: Date) -> i32 {
        let mut age = on.0.year() - self.0.year();
        if (on.0.month(), on.0.day()) < (self.0.month(), self.0.day()) {
            age -= 1;
        }
        age
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact())
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({})", self.compact())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.compact())
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A JST date-time in the spec's `YYYYMMDDHHmmss` form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DateTime(NaiveDateTime);

impl DateTime {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.len() != 14 || !all_digits(s) {
            return err("date-time must be YYYYMMDDHHmmss");
        }
        let date = Date::parse(&s[..8])?;
        let h: u32 = s[8..10].parse().expect("digits");
        let mi: u32 = s[10..12].parse().expect("digits");
        let se: u32 = s[12..14].parse().expect("digits");
        date.0
            .and_hms_opt(h, mi, se)
            .map(Self)
            .ok_or_else(|| IdError("time of day is out of range".into()))
    }
    pub fn from_naive(t: NaiveDateTime) -> Self {
        Self(t)
    }
    pub fn naive(self) -> NaiveDateTime {
        self.0
    }
    pub fn date(self) -> Date {
        Date(self.0.date())
    }
    /// `YYYYMMDDHHmmss`.
    pub fn compact(self) -> String {
        let t = self.0;
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact())
    }
}

/// 郵便番号 as `123-4567` (7 digits with or without the hyphen are accepted).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PostalCode(String);

impl PostalCode {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let digits: String = normalize_printed(raw)
            .chars()
            .filter(|c| *c != '-')
            .collect();
        if digits.len() != 7 || !all_digits(&digits) {
            return err("postal code must be 7 digits (123-4567)");
        }
        Ok(Self(format!("{}-{}", &digits[..3], &digits[3..])))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True when every character is half-width katakana (U+FF61–U+FF9F) or a half-width space: the form the
/// system uses for `NameKana` (e.g. `ｼﾝﾘｮｳ ﾀﾛｳ`).
pub fn is_halfwidth_kana(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| ('\u{FF61}'..='\u{FF9F}').contains(&c) || c == ' ')
}

/// Identifiers travel as their canonical text in JSON (registration files, change feeds) and are parsed back
/// through the same constructor.
macro_rules! serde_as_text {
    ($($t:ty => $text:expr),+ $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let f: fn(&$t) -> String = $text;
                s.serialize_str(&f(self))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )+};
}

serde_as_text! {
    InsurerNumber => |v| v.as_str().to_string(),
    InstitutionCode => |v| v.as_str().to_string(),
    CardSymbol => |v| v.as_str().to_string(),
    CardNumber => |v| v.as_str().to_string(),
    BranchNumber => |v| v.as_string(),
    PostalCode => |v| v.as_str().to_string(),
    DateTime => |v| v.compact(),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_check_digit_vectors() {
        // oqs-interface.md §3.1 worked examples.
        assert_eq!(mod10_w21(b"0613048"), 8);
        assert_eq!(mod10_w21(b"0132002"), 7);
        assert_eq!(mod10_w21(b"12345"), 5);
        // §3.2: 34-1-07-1236 -> 2 and a real-looking code 2714206386.
        assert_eq!(mod10_w21(b"341071236"), 2);
        assert!(InstitutionCode::parse("2714206386").is_ok());
    }

    #[test]
    fn insurer_numbers() {
        let n = InsurerNumber::parse("06130488").unwrap();
        assert_eq!(n.houbetsu(), Some(6));
        assert_eq!(n.prefecture(), 13);
        assert_eq!(n.xml_form(), "06130488");
        let k = InsurerNumber::parse("  123455").unwrap();
        assert!(k.is_kokuho());
        assert_eq!(k.xml_form(), "  123455");
        assert_eq!(k.as_str(), "123455");
        assert!(InsurerNumber::parse("06130487").is_err());
        let padded = InsurerNumber::parse_with("00123455", ZeroPadding::SixDigit).unwrap();
        assert_eq!((padded.as_str(), padded.is_kokuho()), ("123455", true));
        let written = InsurerNumber::parse_with("00123455", ZeroPadding::AsWritten).unwrap();
        assert_eq!((written.as_str(), written.is_kokuho()), ("00123455", false));
        assert!(InsurerNumber::parse_with("00123456", ZeroPadding::SixDigit).is_err());
        assert!(InsurerNumber::parse("1234567").is_err());
        assert!(InsurerNumber::parse("0613048X").is_err());
        assert!(InsurerNumber::parse("").is_err());
    }

    #[test]
    fn institution_codes() {
        let c = InstitutionCode::parse("3410712362").unwrap();
        assert_eq!(c.kind(), FacilityKind::Medical);
        assert_eq!(c.prefecture(), 34);
        assert!(InstitutionCode::parse("3410712363").is_err());
        assert!(
            InstitutionCode::parse("3420712360").is_err(),
            "点数表 2 refused"
        );
        assert!(InstitutionCode::parse("341071236").is_err());
    }

    #[test]
    fn printed_forms_are_normalized() {
        assert_eq!(normalize_printed("　１２３－ＡＢ "), "123-AB");
        assert_eq!(CardNumber::parse("0012").unwrap().as_str(), "0012");
        assert!(CardNumber::parse("  ").is_err());
        assert_eq!(BranchNumber::parse("01").unwrap().value(), 1);
        assert!(BranchNumber::parse("1").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(Date::parse("20240229").unwrap().compact(), "20240229");
        assert!(Date::parse("20230229").is_err());
        assert!(Date::parse("2023-02-01").is_err());
        assert!(Date::parse("20231301").is_err());
        let b = Date::parse("19500615").unwrap();
        assert_eq!(b.age_on(Date::parse("20250614").unwrap()), 74);
        assert_eq!(b.age_on(Date::parse("20250615").unwrap()), 75);
        assert_eq!(
            DateTime::parse("20261121093005").unwrap().compact(),
            "20261121093005"
        );
        assert!(DateTime::parse("20261121250000").is_err());
    }

    #[test]
    fn kana_and_postal() {
        assert!(is_halfwidth_kana("ｼﾝﾘｮｳ ﾀﾛｳ"));
        assert!(!is_halfwidth_kana("シンリョウ"));
        assert_eq!(PostalCode::parse("1234567").unwrap().as_str(), "123-4567");
    }

    proptest! {
        #[test]
        fn any_body_with_its_check_digit_parses(body in "[0-9]{7}") {
            let n = InsurerNumber::from_body(&body).unwrap();
            prop_assert_eq!(&n.as_str()[..7], body.as_str());
        }

        #[test]
        fn a_wrong_check_digit_is_refused(body in "[0-9]{5}", delta in 1u8..10) {
            let good = mod10_w21(body.as_bytes());
            let bad = (good + delta) % 10;
            let candidate = format!("{body}{bad}");
            prop_assert!(InsurerNumber::parse(&candidate).is_err());
        }

        #[test]
        fn institution_codes_round_trip(pref in 15u8..=47, table in prop::sample::select(vec![1u8, 3, 4]), rest in "[0-9]{6}") {
            let body = format!("{pref:02}{table}{rest}");
            let c = InstitutionCode::from_body(&body).unwrap();
            prop_assert_eq!(InstitutionCode::parse(c.as_str()).unwrap(), c);
        }

        #[test]
        fn dates_round_trip(y in 1900i32..2100, m in 1u32..=12, d in 1u32..=28) {
            let s = format!("{y:04}{m:02}{d:02}");
            prop_assert_eq!(Date::parse(&s).unwrap().compact(), s);
        }
    }
}
