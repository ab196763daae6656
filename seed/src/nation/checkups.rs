//! Synthetic yearly checkups for the synthetic nation: for a fiscal year, each person insured on the checkup day
//! and aged 40–74 at the end of the year (特定健診) or 75 and over (後期高齢者健診) takes part with the national rate
//! (≈58 % and ≈25 %; seed documents), with values drawn by age and sex (BMI, waist, blood pressure, lipids,
//! glucose, HbA1c, smoking, medication) and the judgments computed by the rules. One submission archive per insurer
//! (as the insurer's software writes it: `ix08` + `DATA/h….xml`), deterministic per seed; nothing is read from the
//! database.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use onshi_checkup::judge::{self, Inputs, Sex};
use onshi_checkup::synthetic::{self, Example, Measures};
use onshi_wire::codes::CodeTable;
use onshi_wire::record::QualificationRecord;

use super::catalogue::Catalogue;
use super::people;
use super::plan;
use super::rng::Rng;

/// Participation per mille: 特定健診 (national ≈ 58 %) and 後期高齢者健診 (≈ 25 %).
const SPECIFIC_RATE: u32 = 580;
const ELDERLY_RATE: u32 = 250;
/// The institution number written as the sender of the synthetic archives (the common number employers use).
pub const SENDER: &str = "5521111111";

/// One insurer's archive of the year.
pub struct Archive {
    pub insurer: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub persons: usize,
}

/// A normal draw (Box–Muller on the deterministic generator).
fn normal(rng: &mut Rng, mean: f64, sd: f64) -> f64 {
    let u = |rng: &mut Rng| (rng.below(1 << 53) as f64 + 0.5) / (1u64 << 53) as f64;
    let (a, b) = (u(rng), u(rng));
    mean + sd * (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
}

fn clamp(v: f64, lo: f64, hi: f64) -> f64 {
    v.max(lo).min(hi)
}

/// The rest of the 22-item questionnaire (特定健診): item, and the answers with their weights (per mille).
const QUESTIONS: &[(&str, &[(&str, u32)])] = &[
    ("9N716000000000011", &[("1", 30), ("2", 970)]),
    ("9N721000000000011", &[("1", 50), ("2", 950)]),
    ("9N726000000000011", &[("1", 10), ("2", 990)]),
    ("9N731000000000011", &[("1", 100), ("2", 900)]),
    ("9N741000000000011", &[("1", 350), ("2", 650)]),
    ("9N746000000000011", &[("1", 300), ("2", 700)]),
    ("9N751000000000011", &[("1", 500), ("2", 500)]),
    ("9N756000000000011", &[("1", 500), ("2", 500)]),
    ("9N872000000000011", &[("1", 800), ("2", 180), ("3", 20)]),
    ("9N766000000000011", &[("1", 300), ("2", 600), ("3", 100)]),
    ("9N771000000000011", &[("1", 200), ("2", 800)]),
    ("9N782000000000011", &[("1", 200), ("2", 550), ("3", 250)]),
    ("9N781000000000011", &[("1", 120), ("2", 880)]),
    ("9N796000000000011", &[("1", 650), ("2", 350)]),
    (
        "9N801000000000011",
        &[("1", 250), ("2", 300), ("3", 150), ("4", 100), ("5", 200)],
    ),
    ("9N808000000000011", &[("1", 150), ("2", 850)]),
];

/// 飲酒 and 飲酒量 of the 第4期 table (FY2024 on) and of the 第3期 (飲酒 1 毎日 2 時々 3 ほとんど飲まない; 4 levels).
const DRINKING_V4: &[(&str, u32)] = &[
    ("1", 200),
    ("2", 60),
    ("3", 80),
    ("4", 100),
    ("5", 100),
    ("6", 100),
    ("7", 60),
    ("8", 300),
];
const DRINKING_V3: &[(&str, u32)] = &[("1", 200), ("2", 340), ("3", 460)];
const AMOUNT_V4: &[(&str, u32)] = &[("1", 450), ("2", 330), ("3", 150), ("4", 60), ("5", 10)];
const AMOUNT_V3: &[(&str, u32)] = &[("1", 450), ("2", 330), ("3", 150), ("4", 70)];

/// The 15-item 後期高齢者の質問票: item and answers with weights.
const ELDERLY_QUESTIONS: &[(&str, &[(&str, u32)])] = &[
    (
        "9N932000000000011",
        &[("1", 150), ("2", 300), ("3", 400), ("4", 120), ("5", 30)],
    ),
    (
        "9N933000000000011",
        &[("1", 300), ("2", 500), ("3", 150), ("4", 50)],
    ),
    ("9N934000000000011", &[("1", 900), ("2", 100)]),
    ("9N935000000000011", &[("1", 250), ("2", 750)]),
    ("9N936000000000011", &[("1", 200), ("2", 800)]),
    ("9N937000000000011", &[("1", 120), ("2", 880)]),
    ("9N938000000000011", &[("1", 550), ("2", 450)]),
    ("9N939000000000011", &[("1", 200), ("2", 800)]),
    ("9N940000000000011", &[("1", 650), ("2", 350)]),
    ("9N941000000000011", &[("1", 150), ("2", 850)]),
    ("9N942000000000011", &[("1", 200), ("2", 800)]),
    ("9N943000000000011", &[("1", 60), ("2", 820), ("3", 120)]),
    ("9N944000000000011", &[("1", 900), ("2", 100)]),
    ("9N945000000000011", &[("1", 900), ("2", 100)]),
    ("9N946000000000011", &[("1", 950), ("2", 50)]),
];

fn answer(rng: &mut Rng, choices: &[(&'static str, u32)]) -> &'static str {
    let weights: Vec<u32> = choices.iter().map(|c| c.1).collect();
    choices[rng.weighted(&weights)].0
}

/// The questionnaire answers beyond medication and smoking.
fn answers(rng: &mut Rng, elderly: bool, fy: i32) -> Vec<(&'static str, &'static str)> {
    if elderly {
        return ELDERLY_QUESTIONS
            .iter()
            .map(|(item, c)| (*item, answer(rng, c)))
            .collect();
    }
    let mut out: Vec<_> = QUESTIONS
        .iter()
        .map(|(item, c)| (*item, answer(rng, c)))
        .collect();
    let (drinking, amount) = if fy >= 2024 {
        (DRINKING_V4, AMOUNT_V4)
    } else {
        (DRINKING_V3, AMOUNT_V3)
    };
    out.push(("9N786000000000011", answer(rng, drinking)));
    out.push(("9N791000000000011", answer(rng, amount)));
    out
}

/// Values of one person by age and sex.
fn measures(rng: &mut Rng, male: bool, age: u32, elderly: bool, fy: i32) -> Measures {
    let a = f64::from(age) - 40.0;
    let height = clamp(
        normal(
            rng,
            if male {
                170.0 - 0.12 * a
            } else {
                157.0 - 0.12 * a
            },
            6.0,
        ),
        135.0,
        200.0,
    );
    let bmi = clamp(normal(rng, if male { 23.8 } else { 22.3 }, 3.4), 15.0, 45.0);
    let weight = bmi * (height / 100.0).powi(2);
    let waist = clamp(
        2.3 * bmi + if male { 30.0 } else { 32.0 } + normal(rng, 0.0, 4.0),
        55.0,
        150.0,
    );
    let sbp = clamp(
        normal(rng, 118.0 + 0.55 * a + 1.2 * (bmi - 23.0), 15.0),
        85.0,
        220.0,
    );
    let dbp = clamp(
        normal(rng, 72.0 + 0.15 * a + 0.8 * (bmi - 23.0), 10.0),
        45.0,
        130.0,
    );
    let tg = clamp(
        (normal(rng, if male { 4.7 } else { 4.45 }, 0.5)).exp(),
        25.0,
        1500.0,
    );
    let hdl = clamp(
        normal(
            rng,
            if male { 56.0 } else { 67.0 } - 0.8 * (bmi - 23.0),
            14.0,
        ),
        20.0,
        140.0,
    );
    let ldl = clamp(normal(rng, 122.0, 30.0), 40.0, 300.0);
    let hba1c = clamp(
        normal(rng, 5.5 + 0.012 * a + 0.03 * (bmi - 23.0), 0.45),
        4.2,
        12.0,
    );
    let fpg = clamp(
        normal(rng, 92.0 + 0.3 * a + 18.0 * (hba1c - 5.5), 8.0),
        65.0,
        350.0,
    );
    let p = |base: f64| (base * 1000.0) as u32;
    let drugs = [
        rng.per_mille(p((0.05 + 0.012 * a).min(0.6))),
        rng.per_mille(p((0.02 + 0.004 * a).min(0.25))),
        rng.per_mille(p((0.03 + 0.008 * a).min(0.4))),
    ];
    let smoker = rng.per_mille(if male { 250 } else { 70 });
    Measures {
        height,
        weight,
        waist: (!elderly).then_some(waist),
        sbp: sbp.round() as u32,
        dbp: dbp.round() as u32,
        tg: tg.round() as u32,
        hdl: hdl.round() as u32,
        ldl: ldl.round() as u32,
        fpg: rng.per_mille(850).then_some(fpg.round() as u32),
        hba1c: Some((hba1c * 10.0).round() / 10.0),
        smoker,
        drugs,
        judgments: None,
        answers: answers(rng, elderly, fy),
    }
}

/// The judgments of these values, as the insurer's software submits them.
fn judged(m: &Measures, male: bool, age: u32, fy: i32) -> (&'static str, &'static str) {
    let inputs = Inputs {
        sex: Some(if male { Sex::Male } else { Sex::Female }),
        age,
        fiscal_year: fy,
        waist: m.waist.map(|w| (w * 10.0).round() / 10.0),
        bmi: Some(((m.weight / (m.height / 100.0).powi(2)) * 10.0).round() / 10.0),
        systolic: Some(f64::from(m.sbp)),
        diastolic: Some(f64::from(m.dbp)),
        tg_fasting: Some(f64::from(m.tg)),
        hdl: Some(f64::from(m.hdl)),
        glucose_fasting: m.fpg.map(f64::from),
        hba1c: m.hba1c,
        meal: Some(2),
        drug_pressure: Some(m.drugs[0]),
        drug_glucose: Some(m.drugs[1]),
        drug_lipids: Some(m.drugs[2]),
        smoker: Some(m.smoker),
        ..Inputs::default()
    };
    let codes = ["", "1", "2", "3", "4"];
    (
        codes[judge::metabolic(&inputs) as usize],
        codes[judge::level(&inputs) as usize],
    )
}

/// One person's checkup document of the year, if they take part.
fn checkup(
    rng: &mut Rng,
    r: &QualificationRecord,
    day: NaiveDate,
    as_of: NaiveDate,
    year_end: NaiveDate,
    fy: i32,
) -> Option<String> {
    let birth = r.birth_date.naive();
    let age = year_end.years_since(birth).unwrap_or(0);
    let elderly = age >= 75;
    let rate = if elderly { ELDERLY_RATE } else { SPECIFIC_RATE };
    if age < 40 || day > as_of || !rng.per_mille(rate) {
        return None;
    }
    let male = r.sex.code() == "1";
    let mut m = measures(rng, male, age, elderly, fy);
    if !elderly {
        m.judgments = Some(judged(&m, male, age, fy));
    }
    let e = Example {
        insurer: r.insurer_number.as_str().to_string(),
        symbol: r.symbol.as_str().to_string(),
        number: r.number.as_str().to_string(),
        branch: r.branch.as_string(),
        kana: r.name_kana.clone().unwrap_or_else(|| r.name.clone()),
        sex: if male { Sex::Male } else { Sex::Female },
        birth,
        program: if elderly { "020" } else { "010" },
        report: "10",
        date: day,
        institution: SENDER.into(),
        institution_name: "オンシ健診センター".into(),
        values: Example::values(&m),
    };
    Some(synthetic::document(&e))
}

/// The archives of fiscal year `fy` for the population of `persons` with `seed`, one per insurer.
pub fn year_archives(
    seed: u64,
    persons: u64,
    as_of: NaiveDate,
    fy: i32,
) -> anyhow::Result<Vec<Archive>> {
    let cat = Catalogue::build();
    let year_end =
        NaiveDate::from_ymd_opt(fy + 1, 3, 31).ok_or_else(|| anyhow::anyhow!("bad year {fy}"))?;
    let created = year_end.min(as_of);
    // One archive per insurer, compressed as it grows (≈1 KB a checkup).
    type Writer = synthetic::ArchiveWriter<std::io::Cursor<Vec<u8>>>;
    let mut by_insurer: BTreeMap<String, Writer> = BTreeMap::new();
    for spec in plan(persons) {
        let out = people::generate(seed, spec, as_of, &cat);
        // Each person's qualifications, in order.
        let mut people: BTreeMap<String, Vec<QualificationRecord>> = BTreeMap::new();
        for v in &out.versions {
            let r: QualificationRecord = serde_json::from_str(&v.record)?;
            people.entry(r.person_id.clone()).or_default().push(r);
        }
        for (person, records) in people {
            let stream = person.trim_start_matches('n').parse::<u64>().unwrap_or(0);
            let mut rng = Rng::new(seed ^ (fy as u64) << 36 ^ 0xC4EC, stream);
            // The person's qualification on the checkup day (a day of June–February).
            let day = NaiveDate::from_ymd_opt(fy, 6, 1).expect("date")
                + chrono::Days::new(rng.below(270));
            let on = onshi_wire::ids::Date::from_naive(day);
            let current = records.into_iter().rev().find(|r| {
                r.qualification_date <= on && r.disqualification_date.is_none_or(|d| d > on)
            });
            let Some(r) = current else { continue };
            if let Some(doc) = checkup(&mut rng, &r, day, as_of, year_end, fy) {
                let insurer = r.insurer_number.as_str();
                by_insurer
                    .entry(insurer.to_string())
                    .or_insert_with(|| {
                        Writer::new(std::io::Cursor::new(Vec::new()), SENDER, insurer, created)
                    })
                    .add(&doc)?;
            }
        }
    }
    by_insurer
        .into_iter()
        .map(|(insurer, w)| {
            let persons = w.documents();
            Ok(Archive {
                file_name: format!(
                    "{}.zip",
                    synthetic::root_name(SENDER, &insurer, created, 0, 1)
                ),
                bytes: w.finish()?.into_inner(),
                insurer,
                persons,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_of_checkups_is_valid_deterministic_and_judged() {
        let as_of = super::super::default_as_of();
        let a = year_archives(3, 2_000, as_of, 2025).unwrap();
        let b = year_archives(3, 2_000, as_of, 2025).unwrap();
        assert!(!a.is_empty());
        assert!(a.iter().zip(&b).all(|(x, y)| x.bytes == y.bytes));
        let persons: usize = a.iter().map(|f| f.persons).sum();
        assert!(persons > 300, "{persons} checkups for 2,000 persons");
        // Every document (of a 第4期 and a 第3期 year) passes the checks and its judgments are the computed ones.
        let today = as_of;
        let older = year_archives(3, 2_000, as_of, 2022).unwrap();
        for f in a.iter().chain(&older) {
            assert_eq!(
                f.file_name.split('_').nth(1).map(str::len),
                Some(8),
                "{}: 8-digit receiver",
                f.file_name
            );
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&f.bytes)).unwrap();
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).unwrap();
                if !entry.name().contains("/DATA/") {
                    continue;
                }
                let mut xml = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut xml).unwrap();
                let doc = onshi_checkup::cda::parse(&xml).unwrap();
                let c = onshi_checkup::validate::check(&doc, today)
                    .unwrap_or_else(|p| panic!("{}: {p:?}", entry.name()));
                assert_eq!(
                    c.submitted.0.map(|m| m.code()),
                    c.computed.0.map(|m| m.code())
                );
                assert_eq!(
                    c.submitted.1.map(|m| m.code()),
                    c.computed.1.map(|m| m.code())
                );
            }
        }
    }
}
