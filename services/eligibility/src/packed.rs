//! The compact layout of the read model (issue 16): one qualification version is a fixed 56-byte [`Packed`]
//! record — strings as handles into one arena where each repeated string is stored once ([`Strings`]), the
//! insurer as an index into a small table ([`Insurers`]), dates as days since 1900 in a `u16`, code values as
//! their position in the code table. An address is kept as two interned parts (the locality before the first
//! digit, and the rest), so households of one town share their text. What does not fit the common shape (rare
//! fields such as 高齢受給者証 or 医療券, dates outside 1900–2079) goes to a "spill": the rare fields, or the whole
//! record, as interned JSON. `pack` then `unpack` gives back the record exactly (property-tested below).

use std::hash::BuildHasher;

use chrono::NaiveDate;
use hashbrown::DefaultHashBuilder;
use serde::{Deserialize, Serialize};

use onshi_wire::codes::CodeTable;

use crate::index::Index;
use onshi_wire::ids::{BranchNumber, CardNumber, CardSymbol, Date, InsurerNumber, PostalCode};
use onshi_wire::record::{
    ElderlyRecipient, LimitCertificate, MedicalTicket, QualificationRecord, SpecificDisease,
};

/// "No value" for a string handle or an index.
pub const NONE: u32 = u32::MAX;

/// The arena (4 GiB of distinct text) or the insurer table (65,535 insurer names) is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the read model is full (4 GiB of distinct text or 65,535 insurers)")]
pub struct Full;

/// Strings, each stored once in one arena as a length prefix and its UTF-8 bytes; a handle is its offset. The
/// lowest bit of the length prefix tells an interned string (shared, found again by [`Strings::find`]) from an
/// appended one (a person id: unique, reached through the person index instead).
#[derive(Default)]
pub struct Strings {
    arena: Vec<u8>,
    dedup: Index,
    hasher: DefaultHashBuilder,
}

/// The text at `handle` (empty for a handle that is not a string start, which the registry never makes).
fn text(arena: &[u8], handle: u32) -> &str {
    let (len, start, _) = prefix(arena, handle as usize);
    arena
        .get(start..start.saturating_add(len))
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default()
}

/// Reads the length prefix at `at`: (length, start of the bytes, interned).
fn prefix(arena: &[u8], at: usize) -> (usize, usize, bool) {
    let (mut v, mut shift, mut i) = (0usize, 0, at);
    while let Some(&b) = arena.get(i) {
        v |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 || shift > 56 {
            break;
        }
        shift += 7;
    }
    (v >> 1, i, v & 1 == 1)
}

impl Strings {
    /// The text of a handle.
    pub fn get(&self, handle: u32) -> &str {
        text(&self.arena, handle)
    }

    /// The handle of an interned string, if stored.
    pub fn find(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        let arena = &self.arena;
        self.dedup.find(hash, |h| text(arena, h) == s)
    }

    /// Stores `s` once: the same text always gets the same handle.
    pub fn intern(&mut self, s: &str) -> Result<u32, Full> {
        if let Some(h) = self.find(s) {
            return Ok(h);
        }
        let h = self.push(s, true)?;
        self.index(h);
        Ok(h)
    }

    /// Stores `s` without looking for an equal one (text known to be unique).
    pub fn append(&mut self, s: &str) -> Result<u32, Full> {
        self.push(s, false)
    }

    fn push(&mut self, s: &str, interned: bool) -> Result<u32, Full> {
        let at = self.arena.len();
        if at + s.len() + 10 > u32::MAX as usize {
            return Err(Full);
        }
        let mut v = (s.len() << 1) | usize::from(interned);
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.arena.push(b);
                break;
            }
            self.arena.push(b | 0x80);
        }
        self.arena.extend_from_slice(s.as_bytes());
        Ok(at as u32)
    }

    fn index(&mut self, h: u32) {
        let (arena, hasher) = (&self.arena, &self.hasher);
        let hash = hasher.hash_one(text(arena, h));
        self.dedup
            .insert(hash, h, |x| hasher.hash_one(text(arena, x)));
    }

    /// Fits the index of interned strings to what it holds.
    pub fn shrink(&mut self) {
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.dedup.shrink(|x| hasher.hash_one(text(arena, x)));
    }

    /// The arena's bytes (for the persisted read model).
    pub fn bytes(&self) -> &[u8] {
        &self.arena
    }

    /// Strings from persisted bytes; the index of interned strings is rebuilt. `None` if the bytes are not a
    /// sequence of length-prefixed UTF-8 strings.
    pub fn from_bytes(arena: Vec<u8>) -> Option<Self> {
        let mut me = Self {
            arena,
            ..Self::default()
        };
        let mut at = 0;
        while at < me.arena.len() {
            let (len, start, interned) = prefix(&me.arena, at);
            let end = start.checked_add(len)?;
            std::str::from_utf8(me.arena.get(start..end)?).ok()?;
            if interned {
                me.index(at as u32);
            }
            at = end;
        }
        Some(me)
    }

    /// Bytes held, including the index's spare room.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.dedup.allocation_size()
    }
}

/// Insurers (保険者番号 with the name it was registered under), indexed by a `u16`.
#[derive(Default)]
pub struct Insurers {
    rows: Vec<(InsurerNumber, u32)>,
    index: hashbrown::HashMap<(InsurerNumber, u32), u16>,
}

impl Insurers {
    fn intern(&mut self, number: InsurerNumber, name: u32) -> Result<u16, Full> {
        if let Some(&i) = self.index.get(&(number, name)) {
            return Ok(i);
        }
        let i = u16::try_from(self.rows.len()).map_err(|_| Full)?;
        self.rows.push((number, name));
        self.index.insert((number, name), i);
        Ok(i)
    }
    pub fn number(&self, i: u16) -> InsurerNumber {
        self.rows[usize::from(i)].0
    }
    fn name(&self, i: u16) -> u32 {
        self.rows[usize::from(i)].1
    }
    pub fn rows(&self) -> &[(InsurerNumber, u32)] {
        &self.rows
    }
    /// The table from persisted rows.
    pub fn from_rows(rows: Vec<(InsurerNumber, u32)>) -> Option<Self> {
        let mut me = Self::default();
        for (n, name) in rows {
            me.intern(n, name).ok()?;
        }
        Some(me)
    }
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<(InsurerNumber, u32)>()
            + self.index.allocation_size()
    }
}

/// One qualification version, packed (see the module comment). Field order keeps it at 56 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Packed {
    pub symbol: u32,
    pub number: u32,
    /// 氏名 and 氏名カナ, one interned string ([`NAME_KANA`] between them).
    name: u32,
    insured_name: u32,
    place: u32,
    street: u32,
    postal: u32,
    spill: u32,
    pub insurer: u16,
    effective_from: u16,
    birth: u16,
    qualified: u16,
    disqualified: u16,
    issued: u16,
    valid_from: u16,
    expires: u16,
    pub branch: u8,
    class: u8,
    family: u8,
    sex: u8,
    sex2: u8,
    loss: u8,
    partial: u8,
}

/// Between 氏名 and 氏名カナ in their shared string (a control character: never in a valid name).
const NAME_KANA: char = '\u{1f}';

/// The size of a [`Packed`] in the persisted read model.
pub const PACKED_BYTES: usize = 8 * 4 + 8 * 2 + 7;

impl Packed {
    /// The persisted form (little-endian, field by field).
    pub fn write(&self, out: &mut Vec<u8>) {
        for v in self.words() {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.insurer,
            self.effective_from,
            self.birth,
            self.qualified,
            self.disqualified,
            self.issued,
            self.valid_from,
            self.expires,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[
            self.branch,
            self.class,
            self.family,
            self.sex,
            self.sex2,
            self.loss,
            self.partial,
        ]);
    }

    /// Reads the persisted form ([`PACKED_BYTES`] bytes).
    pub fn read(b: &[u8; PACKED_BYTES]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_le_bytes([b[32 + 2 * i], b[33 + 2 * i]]);
        Self {
            symbol: u32_at(0),
            number: u32_at(4),
            name: u32_at(8),
            insured_name: u32_at(12),
            place: u32_at(16),
            street: u32_at(20),
            spill: u32_at(24),
            postal: u32_at(28),
            insurer: u16_at(0),
            effective_from: u16_at(1),
            birth: u16_at(2),
            qualified: u16_at(3),
            disqualified: u16_at(4),
            issued: u16_at(5),
            valid_from: u16_at(6),
            expires: u16_at(7),
            branch: b[48],
            class: b[49],
            family: b[50],
            sex: b[51],
            sex2: b[52],
            loss: b[53],
            partial: b[54],
        }
    }

    /// The 32-bit fields, in their persisted order.
    fn words(&self) -> [u32; 8] {
        [
            self.symbol,
            self.number,
            self.name,
            self.insured_name,
            self.place,
            self.street,
            self.spill,
            self.postal,
        ]
    }

    /// The string handles this version holds (for checking a persisted read model).
    pub fn handles(&self) -> impl Iterator<Item = u32> {
        self.words().into_iter().take(7)
    }

    /// The date the version describes reality from.
    pub fn effective_from(&self, strings: &Strings) -> Date {
        date(self.effective_from).unwrap_or_else(|| {
            self.spilled(strings)
                .effective_from
                .expect("a version without a packed effective date spills it")
        })
    }

    /// The 医療券 this version holds (only spills hold them; others are not read).
    pub fn tickets(&self, strings: &Strings) -> impl Iterator<Item = MedicalTicket> {
        let spill = (self.spill != NONE && strings.get(self.spill).contains("medical_tickets"))
            .then(|| self.spilled(strings));
        spill.into_iter().flat_map(|s| match s.whole {
            Some(w) => w.medical_tickets,
            None => s.medical_tickets,
        })
    }

    fn spilled(&self, strings: &Strings) -> Spill {
        if self.spill == NONE {
            return Spill::default();
        }
        serde_json::from_str(strings.get(self.spill)).expect("spills are written by pack")
    }
}

/// What does not fit the packed fields.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Spill {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    whole: Option<QualificationRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    effective_from: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_other: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_other_kana: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    elderly_recipient: Option<ElderlyRecipient>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    limit_certificates: Vec<LimitCertificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    specific_diseases: Vec<SpecificDisease>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    medical_tickets: Vec<MedicalTicket>,
}

impl Spill {
    fn is_empty(&self) -> bool {
        self.whole.is_none()
            && self.effective_from.is_none()
            && self.name_other.is_none()
            && self.name_other_kana.is_none()
            && self.elderly_recipient.is_none()
            && self.limit_certificates.is_empty()
            && self.specific_diseases.is_empty()
            && self.medical_tickets.is_empty()
    }
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("1900-01-01 exists"),
};

/// Days since 1900-01-01 (1 to 65,535: 1900-01-02 to 2079-06-06); `None` outside.
fn day(d: Date) -> Option<u16> {
    u16::try_from((d.naive() - EPOCH).num_days())
        .ok()
        .filter(|&v| v > 0)
}

fn date(v: u16) -> Option<Date> {
    (v > 0).then(|| Date::from_naive(EPOCH + chrono::Days::new(u64::from(v))))
}

/// An optional date: 0 for none, `Err` when it cannot be packed.
fn opt_day(d: Option<Date>) -> Result<u16, ()> {
    d.map_or(Ok(0), |d| day(d).ok_or(()))
}

/// A code value's position in its table, from 1 (0: none).
fn code<T: CodeTable + PartialEq>(v: Option<T>) -> u8 {
    v.and_then(|v| T::ALL.iter().position(|x| *x == v))
        .map_or(0, |i| i as u8 + 1)
}

fn uncode<T: CodeTable>(v: u8) -> Option<T> {
    usize::from(v)
        .checked_sub(1)
        .and_then(|i| T::ALL.get(i).copied())
}

/// An address cut before its first digit: the locality (shared by a town) and the rest.
fn split_address(a: &str) -> (&str, &str) {
    let cut = a
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || ('０'..='９').contains(c))
        .map_or(a.len(), |(i, _)| i);
    a.split_at(cut)
}

fn postal_value(p: &PostalCode) -> u32 {
    p.as_str()
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0, |v, b| v * 10 + u32::from(b - b'0'))
}

fn intern_opt(strings: &mut Strings, s: Option<&str>) -> Result<u32, Full> {
    s.map_or(Ok(NONE), |s| strings.intern(s))
}

/// Packs one version. The person id is not packed (the registry keeps it once per person).
pub fn pack(
    r: &QualificationRecord,
    effective_from: Date,
    strings: &mut Strings,
    insurers: &mut Insurers,
) -> Result<Packed, Full> {
    let name = strings.intern(&r.insurer_name)?;
    let mut p = Packed {
        insurer: insurers.intern(r.insurer_number, name)?,
        symbol: strings.intern(r.symbol.as_str())?,
        number: strings.intern(r.number.as_str())?,
        branch: r.branch.value(),
        spill: NONE,
        ..Packed::default()
    };
    let mut spill = Spill {
        name_other: r.name_other.clone(),
        name_other_kana: r.name_other_kana.clone(),
        elderly_recipient: r.elderly_recipient.clone(),
        limit_certificates: r.limit_certificates.clone(),
        specific_diseases: r.specific_diseases.clone(),
        medical_tickets: r.medical_tickets.clone(),
        ..Spill::default()
    };
    match day(effective_from) {
        Some(d) => p.effective_from = d,
        None => spill.effective_from = Some(effective_from),
    }
    if packs_exactly(r) {
        fill(&mut p, r, strings)?;
    } else {
        spill = Spill {
            whole: Some(r.clone()),
            effective_from: spill.effective_from,
            ..Spill::default()
        };
    }
    if !spill.is_empty() {
        let json = serde_json::to_string(&spill).expect("a record serializes");
        p.spill = strings.intern(&json)?;
    }
    Ok(p)
}

/// Whether every field of `r` has a packed form that gives it back unchanged.
fn packs_exactly(r: &QualificationRecord) -> bool {
    let dates_fit = day(r.birth_date).is_some()
        && day(r.qualification_date).is_some()
        && [
            r.disqualification_date,
            r.card_issued,
            r.card_valid_from,
            r.card_expires,
        ]
        .iter()
        .all(|d| opt_day(*d).is_ok());
    let texts_fit = CardSymbol::parse(r.symbol.as_str()).is_ok_and(|s| s == r.symbol)
        && CardNumber::parse(r.number.as_str()).is_ok_and(|n| n == r.number);
    let names_fit =
        !r.name.contains(NAME_KANA) && r.name_kana.as_ref().is_none_or(|k| !k.contains(NAME_KANA));
    dates_fit
        && texts_fit
        && names_fit
        && r.partial_contribution_percent
            .is_none_or(|v| (1..=254).contains(&v))
}

fn fill(p: &mut Packed, r: &QualificationRecord, strings: &mut Strings) -> Result<(), Full> {
    let days = |d: Option<Date>| opt_day(d).expect("checked by packs_exactly");
    p.name = strings.intern(&match &r.name_kana {
        Some(k) => format!("{}{NAME_KANA}{k}", r.name),
        None => r.name.clone(),
    })?;
    p.insured_name = intern_opt(strings, r.insured_name.as_deref())?;
    let (place, street) = match r.address.as_deref().map(split_address) {
        Some((a, b)) => (strings.intern(a)?, strings.intern(b)?),
        None => (NONE, NONE),
    };
    (p.place, p.street) = (place, street);
    p.postal = r.postal_code.as_ref().map_or(NONE, postal_value);
    p.birth = days(Some(r.birth_date));
    p.qualified = days(Some(r.qualification_date));
    p.disqualified = days(r.disqualification_date);
    p.issued = days(r.card_issued);
    p.valid_from = days(r.card_valid_from);
    p.expires = days(r.card_expires);
    p.class = code(Some(r.card_classification));
    p.family = code(r.personal_family);
    p.sex = code(Some(r.sex));
    p.sex2 = code(r.sex2);
    p.loss = code(r.loss_reason);
    p.partial = r.partial_contribution_percent.unwrap_or(0);
    Ok(())
}

/// The record a packed version stands for.
pub fn unpack(
    p: &Packed,
    person: &str,
    strings: &Strings,
    insurers: &Insurers,
) -> QualificationRecord {
    let spill = p.spilled(strings);
    if let Some(whole) = spill.whole {
        return whole;
    }
    let s = |h: u32| (h != NONE).then(|| strings.get(h).to_string());
    let d = |v: u16| date(v).expect("packed dates are set");
    let (name, kana) = match strings.get(p.name).split_once(NAME_KANA) {
        Some((n, k)) => (n, Some(k)),
        None => (strings.get(p.name), None),
    };
    QualificationRecord {
        person_id: person.to_string(),
        insurer_number: insurers.number(p.insurer),
        insurer_name: strings.get(insurers.name(p.insurer)).to_string(),
        card_classification: uncode(p.class).expect("packed with a classification"),
        symbol: CardSymbol::parse(strings.get(p.symbol)).expect("checked by packs_exactly"),
        number: CardNumber::parse(strings.get(p.number)).expect("checked by packs_exactly"),
        branch: BranchNumber::parse(&format!("{:02}", p.branch)).expect("2 digits"),
        personal_family: uncode(p.family),
        insured_name: s(p.insured_name),
        name: name.to_string(),
        name_kana: kana.map(str::to_string),
        name_other: spill.name_other,
        name_other_kana: spill.name_other_kana,
        sex: uncode(p.sex).expect("packed with a sex"),
        sex2: uncode(p.sex2),
        birth_date: d(p.birth),
        address: (p.place != NONE)
            .then(|| format!("{}{}", strings.get(p.place), strings.get(p.street))),
        postal_code: (p.postal != NONE)
            .then(|| PostalCode::parse(&format!("{:07}", p.postal)).expect("7 digits")),
        qualification_date: d(p.qualified),
        disqualification_date: date(p.disqualified),
        loss_reason: uncode(p.loss),
        card_issued: date(p.issued),
        card_valid_from: date(p.valid_from),
        card_expires: date(p.expires),
        partial_contribution_percent: (p.partial > 0).then_some(p.partial),
        elderly_recipient: spill.elderly_recipient,
        limit_certificates: spill.limit_certificates,
        specific_diseases: spill.specific_diseases,
        medical_tickets: spill.medical_tickets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_packed_version_is_56_bytes() {
        assert_eq!(std::mem::size_of::<Packed>(), 56);
        let mut out = Vec::new();
        let p = Packed {
            symbol: 1,
            spill: NONE,
            insurer: 7,
            branch: 2,
            partial: 30,
            ..Packed::default()
        };
        p.write(&mut out);
        assert_eq!(out.len(), PACKED_BYTES);
        assert_eq!(Packed::read(out.as_slice().try_into().unwrap()), p);
    }

    #[test]
    fn strings_are_stored_once_and_persist() {
        let mut s = Strings::default();
        let a = s.intern("東京都千代田区").unwrap();
        assert_eq!(s.intern("東京都千代田区").unwrap(), a);
        let long = "x".repeat(300);
        let b = s.intern(&long).unwrap();
        let p = s.append("n1").unwrap();
        assert_eq!(s.get(b), long);
        let back = Strings::from_bytes(s.bytes().to_vec()).unwrap();
        assert_eq!(back.find("東京都千代田区"), Some(a));
        assert_eq!(back.find(&long), Some(b));
        assert_eq!(back.find("n1"), None, "appended text is not interned");
        assert_eq!(back.get(p), "n1");
        assert!(Strings::from_bytes(vec![0x08, 0xff, 0xfe, 0xfd, 0xfc]).is_none());
        let huge = [0xff; 9].into_iter().chain([0x7f, b'x']).collect();
        assert!(Strings::from_bytes(huge).is_none());
    }

    #[test]
    fn addresses_are_cut_before_the_first_digit() {
        assert_eq!(
            split_address("東京都千代田区霞が関1丁目2番2号"),
            ("東京都千代田区霞が関", "1丁目2番2号")
        );
        assert_eq!(split_address("北海道札幌市"), ("北海道札幌市", ""));
        assert_eq!(split_address("大阪府３丁目"), ("大阪府", "３丁目"));
    }

    fn day_strategy() -> impl Strategy<Value = Date> {
        (1868i32..2200, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| {
            Date::from_naive(NaiveDate::from_ymd_opt(y, m, d).expect("a day"))
        })
    }

    proptest! {
        #[test]
        fn pack_then_unpack_gives_the_record_back(
            birth in day_strategy(),
            qualified in day_strategy(),
            lost in proptest::option::of(day_strategy()),
            expires in proptest::option::of(day_strategy()),
            effective in day_strategy(),
            address in proptest::option::of("[東京都大阪府]{1,3}[0-9０-９]{0,3}[丁目番号]{0,2}"),
            kana in proptest::option::of("[ｱ-ﾝ]{1,6}"),
            postal in proptest::option::of(0u32..10_000_000),
            partial in proptest::option::of(prop_oneof![Just(10u8), Just(20), Just(30), Just(0)]),
            elderly in any::<bool>(),
            alias in proptest::option::of("[山田太郎]{1,4}"),
            symbol in "[0-9]{0,4}",
            number in "[0-9]{1,8}",
            branch in 0u8..100,
            sex in prop_oneof![Just("1"), Just("2")],
            family in proptest::option::of(prop_oneof![Just("1"), Just("2")]),
        ) {
            let mut r: QualificationRecord = serde_json::from_value(serde_json::json!({
                "person_id": "n1", "insurer_number": "06130488", "insurer_name": "保険者",
                "card_classification": "01", "symbol": symbol, "number": number,
                "branch": format!("{branch:02}"), "name": "山田　太郎", "sex": sex,
                "birth_date": birth.compact(), "qualification_date": qualified.compact()
            }))
            .unwrap();
            r.disqualification_date = lost;
            r.loss_reason = lost.map(|_| onshi_wire::codes::ReasonOfLoss::OtherInsurance);
            r.card_expires = expires;
            r.address = address;
            r.name_kana = kana;
            r.name_other = alias;
            r.postal_code = postal.map(|p| PostalCode::parse(&format!("{p:07}")).unwrap());
            r.partial_contribution_percent = partial;
            r.personal_family = family.and_then(onshi_wire::codes::PersonalFamily::from_code);
            r.elderly_recipient = elderly.then_some(ElderlyRecipient {
                issued: qualified,
                valid_from: qualified,
                valid_to: birth,
                ratio_percent: 20,
            });
            let (mut strings, mut insurers) = (Strings::default(), Insurers::default());
            let p = pack(&r, effective, &mut strings, &mut insurers).unwrap();
            prop_assert_eq!(unpack(&p, "n1", &strings, &insurers), r);
            prop_assert_eq!(p.effective_from(&strings), effective);
        }
    }

    #[test]
    fn dates_outside_the_packed_range_spill() {
        assert_eq!(day(Date::parse("19000101").unwrap()), None);
        assert_eq!(
            date(day(Date::parse("19000102").unwrap()).unwrap()),
            Some(Date::parse("19000102").unwrap())
        );
        assert_eq!(day(Date::parse("20790607").unwrap()), None);
    }
}
