//! What the load is made of: the persons and facilities (a seeded nation's test decks, or the demo personas),
//! the operations (a single 資格確認 by insurance-card number, the My Number card reader flow, 薬剤情報 and 特定健診
//! views, a 一括照会 of many persons, or a hello-world call) and their mix — by default the national mix of
//! December 2022 by facility type from the seed documents.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// An operation of the load, timed from its scheduled start to its last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `GET /` of the hello-world server (calibration).
    Hello,
    /// `OQSsiquc01req` by insurance-card number (保険証).
    Siquc01,
    /// The card reader with a My Number card: place the card, identify by face, consent (3 requests).
    Reader,
    /// `YZKsiquc01req` (薬剤情報).
    Medication,
    /// `TKKsiquc01req` (特定健診等情報).
    Checkup,
    /// `OQSmuquc01req` with many persons, then `OQSmuquc02req` polled until the results are ready.
    Bulk,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::Hello,
        Op::Siquc01,
        Op::Reader,
        Op::Medication,
        Op::Checkup,
        Op::Bulk,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Siquc01 => "siquc01",
            Self::Reader => "reader",
            Self::Medication => "medication",
            Self::Checkup => "checkup",
            Self::Bulk => "bulk",
        }
    }

    pub fn index(self) -> usize {
        Self::ALL.iter().position(|&o| o == self).expect("an op")
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == s)
    }
}

/// A facility type, by the third digit of its 医療機関コード (the wire crate's).
pub use onshi_wire::ids::FacilityKind as Kind;

/// A person a request asks about (a test-deck row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub insurer: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub birth: String,
    pub date: String,
    /// The My Number card (serial, PIN) when the person has one registered.
    pub card: Option<(String, String)>,
}

/// The persons and facilities of a run.
#[derive(Debug, Clone)]
pub struct Deck {
    pub persons: Vec<Person>,
    /// Persons with a registered My Number card (the reader flow).
    pub cards: Vec<Person>,
    pub facilities: Vec<String>,
    pub source: String,
}

const DEMO_REQUESTS: &[&str] = &[
    include_str!("../../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_yamada_hanako.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_suzuki_haru.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_takahashi_tadashi.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_sato_kenichi.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_ito_old.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_ito_new.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_watanabe_akira.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_kobayashi_yui.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_nakamura_misaki.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_kimura_ken.xml"),
    include_str!("../../seed/demo/requests/OQSsiquc01req_not_found.xml"),
];

/// The demo's registered My Number cards (`docs/CONSENT.md`): 山田 太郎 and 佐藤 健一.
const DEMO_CARDS: &[(usize, &str, &str)] = &[
    (0, "D000000000000001", "1234"),
    (4, "D000000000000004", "4567"),
];

/// The demo's operational facilities: 医科, 歯科, 薬局.
const DEMO_FACILITIES: &[&str] = &["1310112345", "1330130129", "1340140233"];

fn tag<'a>(xml: &'a str, name: &str) -> &'a str {
    xml_value(xml.as_bytes(), name).unwrap_or("")
}

impl Deck {
    /// The demo personas of `onshi up` (the ready request files of `seed/demo/requests/`).
    pub fn demo() -> Self {
        let persons: Vec<Person> = DEMO_REQUESTS
            .iter()
            .map(|x| Person {
                insurer: tag(x, "InsurerNumber").to_string(),
                symbol: tag(x, "InsuredCardSymbol").to_string(),
                number: tag(x, "InsuredIdentificationNumber").to_string(),
                branch: tag(x, "InsuredBranchNumber").to_string(),
                birth: tag(x, "Birthdate").to_string(),
                date: tag(x, "QualificationConfirmationDate").to_string(),
                card: None,
            })
            .collect();
        let cards = DEMO_CARDS
            .iter()
            .map(|&(i, serial, pin)| Person {
                card: Some((serial.into(), pin.into())),
                ..persons[i].clone()
            })
            .collect();
        Self {
            persons,
            cards,
            facilities: DEMO_FACILITIES.iter().map(|s| s.to_string()).collect(),
            source: "the demo personas".into(),
        }
    }

    /// The test decks `onshi seed` wrote (`<dir>/<category>.csv` and `facilities_operational.csv`).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut persons = Vec::new();
        let mut cards = Vec::new();
        let mut facilities = Vec::new();
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading the test decks in {}", dir.display()))?;
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            if path.extension().and_then(|e| e.to_str()) != Some("csv") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if name == "facilities_operational" {
                facilities.extend(
                    text.lines()
                        .skip(1)
                        .map(str::trim)
                        .filter(|c| Kind::of_code(c).is_some())
                        .map(str::to_string),
                );
                continue;
            }
            for (i, row) in text.lines().enumerate().skip(1) {
                let c: Vec<&str> = row.split(',').collect();
                if c.len() < 7 {
                    anyhow::bail!("{}:{}: expected at least 7 fields", path.display(), i + 1);
                }
                let p = Person {
                    insurer: c[0].into(),
                    symbol: c[1].into(),
                    number: c[2].into(),
                    branch: c[3].into(),
                    birth: c[4].into(),
                    date: c[5].into(),
                    card: (c.len() >= 9).then(|| (c[7].to_string(), c[8].to_string())),
                };
                if p.card.is_some() {
                    cards.push(p.clone());
                }
                persons.push(p);
            }
        }
        if persons.is_empty() || facilities.is_empty() {
            anyhow::bail!(
                "{}: no persons or no operational facilities (write the decks with `onshi seed`)",
                dir.display()
            );
        }
        Ok(Self {
            persons,
            cards,
            facilities,
            source: format!("the test decks in {}", dir.display()),
        })
    }
}

/// How often each operation comes, per facility type.
#[derive(Debug, Clone, Serialize)]
pub struct Mix {
    pub name: String,
    /// (facility type, operation, weight); a type of `None` applies to every facility.
    pub weights: Vec<(Option<Kind>, Op, f64)>,
}

/// Confirmations in December 2022 by facility type and method, and views of 特定健診等情報 and 薬剤情報 (seed document
/// 001, 「オンライン資格確認の利用状況」; 病院 and 医科診療所 are both 医科). 一括照会 counts persons.
const NATIONAL_2022_12: &[(Kind, f64, f64, f64, f64, f64)] = &[
    // type, My Number card, insurance card, 一括照会 persons, 特定健診 views, 薬剤情報 views
    (
        Kind::Medical,
        148_949.0 + 287_308.0,
        4_250_278.0 + 22_701_065.0,
        6_950_652.0 + 550_185.0,
        18_777.0 + 47_444.0,
        28_870.0 + 209_606.0,
    ),
    (
        Kind::Dental,
        168_374.0,
        4_633_781.0,
        2_149_415.0,
        19_343.0,
        36_173.0,
    ),
    (
        Kind::Pharmacy,
        404_458.0,
        48_799_976.0,
        37_588.0,
        110_922.0,
        188_287.0,
    ),
];

impl Mix {
    /// `national` (December 2022, bulk files of `bulk_persons`), `hello`, one operation's name, or
    /// `op=weight,…` (for example `siquc01=90,reader=9,bulk=1`).
    pub fn parse(s: &str, bulk_persons: usize) -> Result<Self, String> {
        if s == "national" {
            let mut weights = Vec::new();
            for &(kind, card, insurance, bulk, checkup, medication) in NATIONAL_2022_12 {
                weights.push((Some(kind), Op::Reader, card));
                weights.push((Some(kind), Op::Siquc01, insurance));
                weights.push((Some(kind), Op::Bulk, bulk / bulk_persons.max(1) as f64));
                weights.push((Some(kind), Op::Checkup, checkup));
                weights.push((Some(kind), Op::Medication, medication));
            }
            return Ok(Self {
                name: format!("national (December 2022, 一括照会 files of {bulk_persons} persons)"),
                weights,
            });
        }
        let mut weights = Vec::new();
        for part in s.split(',') {
            let (op, w) = part.split_once('=').unwrap_or((part, "1"));
            let op = Op::parse(op.trim()).ok_or_else(|| {
                format!(
                    "{op:?} is not an operation (national, {})",
                    Op::ALL.map(Op::name).join(", ")
                )
            })?;
            let w: f64 = w
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| *w >= 0.0 && w.is_finite())
                .ok_or_else(|| format!("{part:?}: the weight must be a number ≥ 0"))?;
            weights.push((None, op, w));
        }
        if weights.iter().all(|w| w.2 == 0.0) {
            return Err("the mix has no operation with a weight above 0".into());
        }
        Ok(Self {
            name: s.to_string(),
            weights,
        })
    }

    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        self.weights.iter().filter(|w| w.2 > 0.0).map(|w| w.1)
    }

    /// The share of the load each facility type takes (`None`: the mix does not say).
    fn kind_shares(&self) -> Option<Vec<(Kind, f64)>> {
        if self.weights.iter().any(|w| w.0.is_none()) {
            return None;
        }
        Some(
            Kind::ALL
                .iter()
                .map(|&k| {
                    (
                        k,
                        self.weights
                            .iter()
                            .filter(|w| w.0 == Some(k))
                            .map(|w| w.2)
                            .sum(),
                    )
                })
                .collect(),
        )
    }

    /// The operations of a facility type with their cumulative weights (for [`Lane::pick`]).
    fn table(&self, kind: Kind) -> Vec<(f64, Op)> {
        let mut acc = 0.0;
        self.weights
            .iter()
            .filter(|w| w.0.is_none() || w.0 == Some(kind))
            .filter(|w| w.2 > 0.0)
            .map(|w| {
                acc += w.2;
                (acc, w.1)
            })
            .collect()
    }
}

/// What one connection sends: its facility and the operations of its facility type.
#[derive(Debug, Clone)]
pub struct Lane {
    pub facility: String,
    pub kind: Kind,
    table: Vec<(f64, Op)>,
}

impl Lane {
    /// The operation of arrival `n` (a fixed hash of `n`, so runs are repeatable).
    pub fn pick(&self, n: u64) -> Op {
        let total = self.table.last().map_or(0.0, |t| t.0);
        let x = (mix64(n) >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.table
            .iter()
            .find(|t| x < t.0)
            .or(self.table.last())
            .map_or(Op::Hello, |t| t.1)
    }
}

/// Assigns facilities to `connections` lanes: in proportion to the mix's facility-type shares when it has them
/// (each type with a share gets at least one lane), otherwise round-robin over the deck's facilities.
pub fn lanes(deck: &Deck, mix: &Mix, connections: usize) -> Result<Vec<Lane>, String> {
    let by_kind = |k: Kind| -> Vec<&String> {
        deck.facilities
            .iter()
            .filter(|f| Kind::of_code(f) == Some(k))
            .collect()
    };
    let mut kinds: Vec<Kind> = Vec::with_capacity(connections);
    match mix.kind_shares() {
        Some(shares) => {
            let shares: Vec<(Kind, f64)> = shares
                .into_iter()
                .filter(|s| s.1 > 0.0 && !by_kind(s.0).is_empty())
                .collect();
            let total: f64 = shares.iter().map(|s| s.1).sum();
            if shares.is_empty() || connections < shares.len() {
                return Err(format!(
                    "the mix needs {} facility types but has {connections} connections or no facility of them",
                    shares.len()
                ));
            }
            // Largest remainder, at least one lane per type.
            let mut counts: Vec<(Kind, usize, f64)> = shares
                .iter()
                .map(|&(k, w)| {
                    let exact = connections as f64 * w / total;
                    (k, (exact.floor() as usize).max(1), exact)
                })
                .collect();
            while counts.iter().map(|c| c.1).sum::<usize>() > connections {
                let c = counts
                    .iter_mut()
                    .filter(|c| c.1 > 1)
                    .max_by(|a, b| (a.1 as f64 - a.2).total_cmp(&(b.1 as f64 - b.2)))
                    .expect("a type with more than one lane");
                c.1 -= 1;
            }
            while counts.iter().map(|c| c.1).sum::<usize>() < connections {
                let c = counts
                    .iter_mut()
                    .max_by(|a, b| (a.2 - a.1 as f64).total_cmp(&(b.2 - b.1 as f64)))
                    .expect("a type");
                c.1 += 1;
            }
            for (k, n, _) in counts {
                kinds.extend(std::iter::repeat_n(k, n));
            }
        }
        None => kinds.extend(
            deck.facilities
                .iter()
                .cycle()
                .take(connections)
                .filter_map(|f| Kind::of_code(f)),
        ),
    }
    let mut next = std::collections::HashMap::<Kind, usize>::new();
    let lanes = kinds
        .into_iter()
        .map(|kind| {
            let pool = by_kind(kind);
            let i = next.entry(kind).or_default();
            let facility = pool[*i % pool.len()].clone();
            *i += 1;
            Lane {
                facility,
                kind,
                table: mix.table(kind),
            }
        })
        .filter(|l| !l.table.is_empty())
        .collect::<Vec<_>>();
    if lanes.is_empty() {
        return Err("no connection has an operation to send".into());
    }
    Ok(lanes)
}

/// SplitMix64: a fixed, well-spread hash of an arrival number.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes the `OQSsiquc01req` of `p` asked by `facility`.
pub fn siquc01(out: &mut Vec<u8>, facility: &str, p: &Person, id: u64) {
    use std::io::Write;
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
         <QualificationConfirmationDate>{}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>load-{id}</ArbitraryFileIdentifier></MessageHeader><MessageBody>",
        p.date
    );
    search_info(out, p, None);
    out.extend_from_slice(b"</MessageBody></XmlMsg>");
}

fn search_info(out: &mut Vec<u8>, p: &Person, arbitrary: Option<usize>) {
    use std::io::Write;
    let _ = write!(
        out,
        "<QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber>\
         <InsuredCardSymbol>{}</InsuredCardSymbol><InsuredIdentificationNumber>{}</InsuredIdentificationNumber>",
        p.insurer, p.symbol, p.number
    );
    if !p.branch.is_empty() {
        let _ = write!(
            out,
            "<InsuredBranchNumber>{}</InsuredBranchNumber>",
            p.branch
        );
    }
    let _ = write!(
        out,
        "<Birthdate>{}</Birthdate><LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>",
        p.birth
    );
    if let Some(i) = arbitrary {
        let _ = write!(out, "<ArbitraryIdentifier>P{i:07}</ArbitraryIdentifier>");
    }
    out.extend_from_slice(b"</QualificationConfirmSearchInfo>");
}

/// Writes an `OQSmuquc01req` of `persons` asked by `facility`.
pub fn muquc01(out: &mut Vec<u8>, facility: &str, persons: &[&Person], id: u64) {
    use std::io::Write;
    let date = persons.first().map_or("", |p| p.date.as_str());
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
         <QualificationConfirmationDate>{date}</QualificationConfirmationDate>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode>\
         <ArbitraryFileIdentifier>load-bulk-{id}</ArbitraryFileIdentifier></MessageHeader><MessageBody>"
    );
    for (i, p) in persons.iter().enumerate() {
        search_info(out, p, Some(i));
    }
    out.extend_from_slice(b"</MessageBody></XmlMsg>");
}

/// Writes the `OQSmuquc02req` polling `reception`.
pub fn muquc02(out: &mut Vec<u8>, facility: &str, reception: &str) {
    use std::io::Write;
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode></MessageHeader><MessageBody>\
         <ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>"
    );
}

/// Writes a `YZKsiquc01req` (`medication`) or `TKKsiquc01req` of `p`.
pub fn view(out: &mut Vec<u8>, medication: bool, facility: &str, p: &Person, id: u64) {
    use std::io::Write;
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode><InsurerNumber>{}</InsurerNumber>\
         <InsuranceCardSymbol>{}</InsuranceCardSymbol>\
         <InsuredPersonIdentificationNumber>{}</InsuredPersonIdentificationNumber>\
         <BranchNumber>{}</BranchNumber><ArbitraryFileIdentifier>load-{id}</ArbitraryFileIdentifier>\
         </MessageHeader><MessageBody>",
        p.insurer, p.symbol, p.number, p.branch
    );
    if medication {
        let month = p.date.get(..6).unwrap_or("");
        let year = p.date.get(..4).unwrap_or("");
        let _ = write!(
            out,
            "<StartDate>{year}01</StartDate><EndDate>{month}</EndDate><FileCategory>2</FileCategory>\
             <PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>"
        );
    } else {
        out.extend_from_slice(b"<FileCategory>2</FileCategory>");
    }
    out.extend_from_slice(b"</MessageBody></XmlMsg>");
}

/// The value of the first `<name>` element of an XML answer (`SegmentOfResult`, `ErrorCode`, …).
pub fn xml_value<'a>(xml: &'a [u8], name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let at = xml.windows(open.len()).position(|w| w == open.as_bytes())? + open.len();
    let len = xml[at..].iter().position(|&b| b == b'<')?;
    std::str::from_utf8(&xml[at..at + len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_deck_has_persons_cards_and_one_facility_of_each_type() {
        let d = Deck::demo();
        assert_eq!(d.persons.len(), DEMO_REQUESTS.len());
        assert_eq!(d.persons[0].insurer, "01130012");
        assert_eq!(d.persons[0].date, "20261120");
        assert_eq!(d.cards[0].card.as_ref().unwrap().0, "D000000000000001");
        assert_eq!(d.facilities.len(), 3);
    }

    #[test]
    fn the_national_mix_gives_lanes_by_facility_type_and_ops_by_their_counts() {
        let mix = Mix::parse("national", 100).unwrap();
        let lanes = lanes(&Deck::demo(), &mix, 64).unwrap();
        assert_eq!(lanes.len(), 64);
        let count = |k: Kind| lanes.iter().filter(|l| l.kind == k).count();
        // December 2022: 医科 27.4 M, 歯科 4.8 M, 薬局 49.2 M confirmations + views.
        assert_eq!(
            (
                count(Kind::Medical),
                count(Kind::Dental),
                count(Kind::Pharmacy)
            ),
            (22, 4, 38)
        );
        let pharmacy = lanes.iter().find(|l| l.kind == Kind::Pharmacy).unwrap();
        let picks: Vec<Op> = (0..100_000).map(|n| pharmacy.pick(n)).collect();
        let share = |op| picks.iter().filter(|&&p| p == op).count() as f64 / 1000.0;
        assert!(
            (share(Op::Siquc01) - 98.58).abs() < 0.2,
            "{}",
            share(Op::Siquc01)
        );
        assert!(
            (share(Op::Reader) - 0.82).abs() < 0.15,
            "{}",
            share(Op::Reader)
        );
    }

    #[test]
    fn custom_mixes_parse_and_bad_ones_say_why() {
        let m = Mix::parse("siquc01=9,bulk=1", 100).unwrap();
        let lanes = lanes(&Deck::demo(), &m, 3).unwrap();
        let picks: Vec<Op> = (0..10_000).map(|n| lanes[0].pick(n)).collect();
        let bulk = picks.iter().filter(|&&p| p == Op::Bulk).count();
        assert!((900..1100).contains(&bulk), "{bulk}");
        assert!(Mix::parse("fax", 1)
            .unwrap_err()
            .contains("not an operation"));
        assert!(Mix::parse("hello=-1", 1).unwrap_err().contains("≥ 0"));
        assert!(Mix::parse("hello=0", 1)
            .unwrap_err()
            .contains("no operation"));
    }

    #[test]
    fn requests_are_well_formed_and_answers_are_read() {
        let d = Deck::demo();
        let mut out = Vec::new();
        siquc01(&mut out, "1310112345", &d.persons[0], 7);
        let s = String::from_utf8(out.clone()).unwrap();
        assert!(s.contains("<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"));
        assert_eq!(
            xml_value(&out, "MedicalInstitutionCode"),
            Some("1310112345")
        );
        out.clear();
        muquc01(&mut out, "1310112345", &[&d.persons[0], &d.persons[1]], 1);
        assert_eq!(
            String::from_utf8_lossy(&out)
                .matches("<QualificationConfirmSearchInfo>")
                .count(),
            2
        );
        assert_eq!(
            xml_value(
                b"<a><SegmentOfResult>9</SegmentOfResult>",
                "SegmentOfResult"
            ),
            Some("9")
        );
        assert_eq!(xml_value(b"<a/>", "ErrorCode"), None);
    }
}
