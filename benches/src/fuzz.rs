//! A seeded mutation fuzzer for every parser of outside input. No coverage-guided fuzzer runs on the stable
//! toolchain of this machine (cargo-fuzz needs nightly's sanitizers), so this one mutates real inputs — the demo
//! request files, claim files, registration lines — with byte flips, insertions of the characters and tokens that
//! break parsers (multibyte characters, NUL, `&#0;`, `0x1A`, separators), deletions, duplications and splices, and
//! runs each parser under `catch_unwind`. Deterministic for a seed; a panicking input is kept for replay.
//!
//! `cargo run --release -p onshi-benches --bin fuzz -- <target|all> [executions] [seed]`; results in
//! `docs/SECURITY.md`. The tests run a bounded smoke run of every target.

use std::panic::{catch_unwind, AssertUnwindSafe};

use onshi_platform::pipeline::{decode, Form};
use onshi_wire::msg::file_name::{error_response_name, RequestName};
use onshi_wire::msg::{oqs_muimm01, oqs_muimm02, oqs_siimm01, oqs_siquc01, yzk_siquc01};
use onshi_wire::xml::Limits;

/// A parser of outside input, with the real inputs its mutations start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Request file names (folder, HTTP path).
    FileName,
    /// Request files: decode, tree, every message's parser.
    Xml,
    /// The Web API's JSON: decode, tree, every message's parser.
    Json,
    /// Claim files (UKE).
    Uke,
    /// Bulk registration lines (JSON Lines).
    Bulk,
    /// Checkup documents (hc08 CDA): parse and check.
    Cda,
    /// Checkup submissions (ZIP archives): the archive's checks, then every document's.
    Zip,
}

impl Target {
    pub const ALL: [Target; 7] = [
        Target::FileName,
        Target::Xml,
        Target::Json,
        Target::Uke,
        Target::Bulk,
        Target::Cda,
        Target::Zip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::FileName => "file_name",
            Self::Xml => "xml",
            Self::Json => "json",
            Self::Uke => "uke",
            Self::Bulk => "bulk",
            Self::Cda => "cda",
            Self::Zip => "zip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    fn seeds(self) -> Vec<Vec<u8>> {
        let requests: &[&str] = &[
            include_str!("../../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
            include_str!("../../seed/demo/requests/OQSsiquc01req_kato_twins.xml"),
            include_str!("../../seed/demo/requests/OQSsiquc01req_nakamura_misaki.xml"),
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader><MedicalInstitutionCode>1310112345",
                "</MedicalInstitutionCode></MessageHeader><MessageBody><ReferenceNumberRegistrationInfo>",
                "<ReferenceNumber>P-1</ReferenceNumber><InsurerNumber>06131270</InsurerNumber><InsuredCardSymbol>55",
                "</InsuredCardSymbol><InsuredIdentificationNumber>1203</InsuredIdentificationNumber>",
                "<InsuredBranchNumber>00</InsuredBranchNumber></ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"
            ),
            concat!(
                "<XmlMsg><MessageHeader><MedicalInstitutionCode>1310112345</MedicalInstitutionCode><InsurerNumber>",
                "01130012</InsurerNumber><InsuranceCardSymbol>12345678</InsuranceCardSymbol>",
                "<InsuredPersonIdentificationNumber>1</InsuredPersonIdentificationNumber><BranchNumber>00",
                "</BranchNumber></MessageHeader><MessageBody><StartDate>202601</StartDate><EndDate>202612</EndDate>",
                "<FileCategory>2</FileCategory></MessageBody></XmlMsg>"
            ),
        ];
        match self {
            Self::FileName => [
                "OQSsiquc01req_202611210001.xml",
                "OQSsiimm01req_x.xml",
                "YZKsiquc01req_y-1.XML",
                "OQSmuimm02req_é.xml",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
            Self::Xml => requests.iter().map(|s| s.as_bytes().to_vec()).collect(),
            Self::Json => requests
                .iter()
                .filter_map(|s| onshi_wire::xml::parse(s.as_bytes(), &Limits::default()).ok())
                .map(|d| json_of(&d.root).to_string().into_bytes())
                .collect(),
            Self::Uke => vec![
                include_bytes!("../fuzz-seeds/medical.uke").to_vec(),
                include_bytes!("../fuzz-seeds/pharmacy.uke").to_vec(),
            ],
            Self::Bulk => include_str!("../../seed/demo/01-registrations.jsonl")
                .lines()
                .filter(|l| l.starts_with('{'))
                .map(|l| l.as_bytes().to_vec())
                .collect(),
            Self::Cda => {
                use onshi_checkup::synthetic::{document, Example};
                let mut elderly = Example::vector_one();
                elderly.program = "020";
                elderly
                    .values
                    .retain(|(c, _)| !c.starts_with("9N016") && !c.starts_with("9N50"));
                let mut delete = Example::vector_one();
                (delete.report, delete.values) = ("19", vec![]);
                [Example::vector_one(), elderly, delete]
                    .iter()
                    .map(|e| document(e).into_bytes())
                    .collect()
            }
            Self::Zip => vec![onshi_checkup::synthetic::demo_archive()],
        }
    }

    /// Runs the parser on one input (a panic escapes to the caller's `catch_unwind`); whether the input got all
    /// the way through (a measure of how deep the mutations reach).
    fn run(self, input: &[u8]) -> bool {
        let limits = Limits::default();
        let messages = |tree: &onshi_wire::xml::Element| {
            [
                oqs_siquc01::parse(tree).is_ok(),
                oqs_siimm01::parse(tree).is_ok(),
                oqs_muimm01::parse(tree).is_ok(),
                oqs_muimm02::parse(tree).is_ok(),
                yzk_siquc01::parse(tree).is_ok(),
            ]
            .contains(&true)
        };
        match self {
            Self::FileName => {
                let name = String::from_utf8_lossy(input);
                let _ = error_response_name(&name);
                RequestName::parse(&name).is_ok()
            }
            Self::Xml => decode(input, Form::File, &limits).is_ok_and(|t| messages(&t)),
            Self::Json => decode(input, Form::Json, &limits).is_ok_and(|t| messages(&t)),
            Self::Uke => onshi_medication::uke::parse(input).is_ok(),
            Self::Bulk => serde_json::from_slice::<serde_json::Value>(input)
                .is_ok_and(|v| onshi_insurer::parse_registration(v).is_ok()),
            Self::Cda => onshi_checkup::cda::parse(input)
                .is_ok_and(|d| onshi_checkup::validate::check(&d, today()).is_ok()),
            Self::Zip => {
                onshi_checkup::archive::read_all(input, today()).is_ok_and(|(_, files)| {
                    !files.is_empty() && files.iter().all(|f| f.checked.is_ok())
                })
            }
        }
    }
}

/// The day checkup dates are checked against.
fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
}

/// The Web API JSON of a tree (repeated names become arrays).
fn json_of(e: &onshi_wire::xml::Element) -> serde_json::Value {
    fn inner(e: &onshi_wire::xml::Element) -> serde_json::Value {
        if e.children.is_empty() {
            return serde_json::Value::String(e.text.clone());
        }
        let mut map = serde_json::Map::new();
        for c in &e.children {
            let v = inner(c);
            match map.get_mut(&c.name) {
                Some(serde_json::Value::Array(a)) => a.push(v),
                Some(first) => *first = serde_json::Value::Array(vec![first.clone(), v]),
                None => {
                    map.insert(c.name.clone(), v);
                }
            }
        }
        serde_json::Value::Object(map)
    }
    serde_json::json!({ e.name.clone(): inner(e) })
}

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that break parsers, inserted whole.
const TOKENS: &[&[u8]] = &[
    "é".as_bytes(),
    "漢".as_bytes(),
    "ﾀﾞ".as_bytes(),
    b"\x00",
    b"\x1A",
    b"\x81",
    b"\xFF\xFE",
    b"&#0;",
    b"&#x1B;",
    b"&x;",
    b"<!DOCTYPE x [<!ENTITY x \"y\">]>",
    b"<![CDATA[",
    b"</",
    b"<XmlMsg>",
    b"\",\"",
    b"{\"",
    b"[",
    b"\\u0000",
    b",",
    b"\r\n",
    b"\n",
    b"req_",
    b"99999999999999999999",
    b"-1",
    b"20261399",
    b"GO",
    b"RE,",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, t.iter().copied());
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                input.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let piece = input[a..b].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ if len > 1 => {
                let cut = rng.below(len);
                input.truncate(cut);
            }
            _ => input.push(rng.next() as u8),
        }
        input.truncate(256 * 1024);
    }
}

/// What a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub target: Target,
    pub executions: u64,
    /// Mutated inputs the parser accepted whole (the rest were refused with an error, as they should be).
    pub accepted: u64,
    pub panics: u64,
    /// The first input that panicked, for replay.
    pub first_panic: Option<Vec<u8>>,
}

/// Runs `executions` mutated inputs through `target`, deterministically for `seed`.
pub fn run(target: Target, executions: u64, seed: u64) -> Report {
    let seeds = target.seeds();
    let mut rng = Rng(seed | 1);
    let mut report = Report {
        target,
        executions: 0,
        accepted: 0,
        panics: 0,
        first_panic: None,
    };
    for _ in 0..executions {
        // Every input is a real one with one to four mutations: near enough to valid to go deep.
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &seeds, &mut input);
        report.executions += 1;
        match catch_unwind(AssertUnwindSafe(|| target.run(&input))) {
            Ok(true) => report.accepted += 1,
            Ok(false) => {}
            Err(_) => {
                report.panics += 1;
                report.first_panic.get_or_insert_with(|| input.clone());
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parser_survives_a_smoke_run() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let reports: Vec<Report> = Target::ALL.iter().map(|t| run(*t, 3_000, 7)).collect();
        std::panic::set_hook(quiet);
        for r in reports {
            assert_eq!(r.executions, 3_000);
            assert_eq!(
                r.panics,
                0,
                "{}: {:?}",
                r.target.name(),
                r.first_panic
                    .map(|p| String::from_utf8_lossy(&p).into_owned())
            );
        }
    }

    #[test]
    fn the_seeds_are_valid_inputs() {
        for t in Target::ALL {
            assert!(!t.seeds().is_empty(), "{}", t.name());
        }
        let uke = Target::Uke.seeds();
        assert!(uke.iter().all(|s| onshi_medication::uke::parse(s).is_ok()));
        for t in [Target::Cda, Target::Zip] {
            assert!(t.seeds().iter().all(|s| t.run(s)), "{}", t.name());
        }
    }
}
