//! Synthetic monthly claims for the synthetic nation: for a treatment month, each insured person visits a clinic
//! of their prefecture with an age-dependent probability (再診料, now and then a 手術 K line) and gets 1–3 drugs of
//! the shipped master (内用), either
//! inside the clinic (院内: `IY` on the clinic's receipt) or from a pharmacy (院外: the clinic's receipt has no drug,
//! a pharmacy's 調剤 receipt has `SH`/`CZ`/`IY` naming the clinic). One UKE file (Shift_JIS, CRLF, 0x1A) per
//! facility. Deterministic: the population is regenerated from its seed, nothing is read from the database.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use onshi_wire::codes::CodeTable;
use onshi_wire::record::{FacilityRecord, FacilityStatus, QualificationRecord};

use super::catalogue::Catalogue;
use super::people;
use super::rng::Rng;
use super::{facilities, plan};

/// 内用 drugs of the shipped master used for prescriptions (code, dose per day).
const DRUGS: [(&str, &str); 8] = [
    ("610406079", "2"),
    ("620160501", "2"),
    ("620098801", "3"),
    ("610407141", "3"),
    ("620008109", "3"),
    ("610406193", "1"),
    ("620007096", "1"),
    ("610406227", "1"),
];

/// 手術 of the shipped 診療行為マスター sample (code, points) for the synthetic K lines.
const SURGERIES: [(&str, u32); 4] = [
    ("150000110", 530),
    ("150003110", 1660),
    ("150035510", 1780),
    ("150285010", 5000),
];

/// Monthly visit probability (per mille) by age.
fn visits(age: i32) -> u32 {
    match age {
        0..=4 => 600,
        5..=14 => 350,
        15..=39 => 250,
        40..=64 => 350,
        65..=74 => 550,
        _ => 700,
    }
}

struct Visit {
    record: QualificationRecord,
    day: u32,
    drugs: Vec<(&'static str, &'static str, u32)>,
}

/// The prefecture's own facilities, or (small scales) those of the nearest prefecture that has some.
fn nearest(m: &BTreeMap<u8, Vec<FacilityRecord>>, pref: u8) -> Option<&Vec<FacilityRecord>> {
    m.get(&pref).or_else(|| {
        m.iter()
            .min_by_key(|(p, _)| (i32::from(**p) - i32::from(pref)).abs())
            .map(|(_, v)| v)
    })
}

/// One facility's file of the month.
pub struct ClaimFile {
    pub facility: String,
    pub file_name: &'static str,
    pub bytes: Vec<u8>,
    pub receipts: usize,
}

fn encode(lines: &[String]) -> Vec<u8> {
    let text = lines.join("\r\n") + "\r\n";
    let mut b = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
    b.push(0x1A);
    b
}

fn re_common(n: usize, kind: &str, month: &str, r: &QualificationRecord) -> Vec<String> {
    vec![
        "RE".into(),
        n.to_string(),
        kind.into(),
        month.into(),
        r.name.clone(),
        r.sex.code().into(),
        r.birth_date.compact(),
    ]
}

fn ho_sn(r: &QualificationRecord, pharmacy: bool) -> [String; 2] {
    let width = if pharmacy { 14 } else { 15 };
    let mut ho = vec![
        "HO".to_string(),
        r.insurer_number.xml_form(),
        r.symbol.as_str().to_string(),
        r.number.as_str().to_string(),
        "1".into(),
        "100".into(),
    ];
    ho.resize(width, String::new());
    [
        ho.join(","),
        format!("SN,1,01,,,,{},,", r.branch.as_string()),
    ]
}

/// The claim files of treatment month `month` (YYYYMM) for the population of `persons` with `seed`.
pub fn month_files(
    seed: u64,
    persons: u64,
    as_of: NaiveDate,
    month: &str,
) -> anyhow::Result<Vec<ClaimFile>> {
    let y: i32 = month[..4].parse()?;
    let m: u32 = month[4..6].parse()?;
    let first =
        NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(|| anyhow::anyhow!("bad month {month}"))?;
    let days_in_month = (first
        .checked_add_months(chrono::Months::new(1))
        .expect("date")
        - first)
        .num_days() as u32;
    let claim_month = first
        .checked_add_months(chrono::Months::new(1))
        .expect("date")
        .format("%Y%m")
        .to_string();
    let cat = Catalogue::build();
    let counts = facilities::counts(persons);
    // Operational clinics and pharmacies by prefecture.
    let mut clinics: BTreeMap<u8, Vec<FacilityRecord>> = BTreeMap::new();
    let mut pharmacies: BTreeMap<u8, Vec<FacilityRecord>> = BTreeMap::new();
    for (i, c) in counts.iter().enumerate() {
        let pref = i as u8 + 1;
        let (rows, _) = facilities::generate(seed, pref, *c, as_of);
        for row in rows {
            let f: FacilityRecord = serde_json::from_str(&row.record)?;
            if f.status != FacilityStatus::Operational {
                continue;
            }
            match f.code.kind() {
                onshi_wire::ids::FacilityKind::Medical if !f.hospital => {
                    clinics.entry(pref).or_default().push(f)
                }
                onshi_wire::ids::FacilityKind::Pharmacy => {
                    pharmacies.entry(pref).or_default().push(f)
                }
                _ => {}
            }
        }
    }
    // Visits: (clinic, Option<pharmacy>) → visits.
    let mut by_clinic: BTreeMap<String, (FacilityRecord, Vec<Visit>)> = BTreeMap::new();
    let mut by_pharmacy: BTreeMap<String, (FacilityRecord, Vec<(FacilityRecord, Visit)>)> =
        BTreeMap::new();
    let month_date = onshi_wire::ids::Date::from_naive(first);
    for spec in plan(persons) {
        let out = people::generate(seed, spec, as_of, &cat);
        let (Some(cl), ph) = (
            nearest(&clinics, spec.pref),
            nearest(&pharmacies, spec.pref),
        ) else {
            continue;
        };
        let mut rng = Rng::new(
            seed ^ u64::from(m) << 32 ^ (y as u64) << 40,
            u64::from(spec.id),
        );
        for v in &out.versions {
            let r: QualificationRecord = serde_json::from_str(&v.record)?;
            let valid = r.qualification_date <= month_date
                && r.disqualification_date
                    .is_none_or(|d| d > month_date.add_days(i64::from(days_in_month)));
            if !valid || !rng.per_mille(visits(r.birth_date.age_on(month_date))) {
                continue;
            }
            let n = 1 + rng.below(3) as usize;
            let drugs = (0..n)
                .map(|_| {
                    let (code, dose) = *rng.pick(&DRUGS);
                    (code, dose, *rng.pick(&[7u32, 14, 28, 30]))
                })
                .collect();
            let visit = Visit {
                day: 1 + rng.below(u64::from(days_in_month)) as u32,
                record: r,
                drugs,
            };
            let clinic = rng.pick(cl).clone();
            match ph.filter(|_| rng.per_mille(750)) {
                Some(ph) => {
                    let pharmacy = rng.pick(ph).clone();
                    by_clinic
                        .entry(clinic.code.as_str().into())
                        .or_insert_with(|| (clinic.clone(), vec![]))
                        .1
                        .push(Visit {
                            drugs: vec![],
                            day: visit.day,
                            record: visit.record.clone(),
                        });
                    by_pharmacy
                        .entry(pharmacy.code.as_str().into())
                        .or_insert_with(|| (pharmacy, vec![]))
                        .1
                        .push((clinic, visit));
                }
                None => by_clinic
                    .entry(clinic.code.as_str().into())
                    .or_insert_with(|| (clinic, vec![]))
                    .1
                    .push(visit),
            }
        }
    }
    let mut files = Vec::new();
    for (code, (f, visits)) in by_clinic {
        let mut lines = vec![format!(
            "IR,1,{:02},1,{},,{},{claim_month},00,",
            f.code.prefecture(),
            &code[3..],
            f.name
        )];
        for (n, v) in visits.iter().enumerate() {
            let mut re = re_common(n + 1, "1112", month, &v.record);
            re.resize(38, String::new());
            re[36] = v.record.name_kana.clone().unwrap_or_default();
            lines.push(re.join(","));
            lines.extend(ho_sn(&v.record, false));
            let on_day = |count: u32| -> String {
                (1..=31)
                    .map(|d| {
                        if d == v.day {
                            count.to_string()
                        } else {
                            String::new()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            // 再診料 at every visit (診療情報); a 手術 (K line, 手術情報) at about one visit in a hundred.
            lines.push(format!("SI,12,1,112007410,,75,1,,,,,,,{}", on_day(1)));
            if n % 97 == 13 {
                let (code, points) = SURGERIES[n % SURGERIES.len()];
                lines.push(format!("SI,50,1,{code},,{points},1,,,,,,,{}", on_day(1)));
            }
            for (i, (code, dose, days)) in v.drugs.iter().enumerate() {
                let day_cols: Vec<String> = (1..=31)
                    .map(|d| {
                        if d == v.day {
                            days.to_string()
                        } else {
                            String::new()
                        }
                    })
                    .collect();
                lines.push(format!(
                    "IY,{},1,{code},{dose},10,{days},,,,,,,{}",
                    if i == 0 { "21" } else { "" },
                    day_cols.join(",")
                ));
            }
        }
        lines.push(format!("GO,{},{},99", visits.len(), visits.len() * 100));
        files.push(ClaimFile {
            facility: code,
            file_name: "RECEIPTC.UKE",
            receipts: visits.len(),
            bytes: encode(&lines),
        });
    }
    for (code, (f, visits)) in by_pharmacy {
        let mut lines = vec![format!(
            "YK,1,{:02},4,{},{},{claim_month},00,",
            f.code.prefecture(),
            &code[3..],
            f.name
        )];
        for (n, (clinic, v)) in visits.iter().enumerate() {
            let mut re = re_common(n + 1, "4112", month, &v.record);
            re.resize(42, String::new());
            re[9] = format!("{:02}", clinic.code.prefecture());
            re[10] = "1".into();
            re[11] = clinic.code.as_str()[3..].to_string();
            re[12] = clinic.name.clone();
            re[41] = v.record.name_kana.clone().unwrap_or_default();
            lines.push(re.join(","));
            lines.extend(ho_sn(&v.record, true));
            let date = format!("{month}{:02}", v.day);
            for (i, (code, dose, days)) in v.drugs.iter().enumerate() {
                lines.push(format!("SH,{:02},1,001,,100,,,,", i + 1));
                lines.push(format!("CZ,1,{date},{date},1,{days}"));
                lines.push(format!("IY,1,{code},{dose},,,,,,1"));
            }
        }
        lines.push(format!("GO,{},{},99", visits.len(), visits.len() * 100));
        files.push(ClaimFile {
            facility: code,
            file_name: "RECEIPTY.UKE",
            receipts: visits.len(),
            bytes: encode(&lines),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_of_claims_parses_and_is_deterministic() {
        let as_of = super::super::default_as_of();
        let a = month_files(3, 2_000, as_of, "202610").unwrap();
        let b = month_files(3, 2_000, as_of, "202610").unwrap();
        assert!(!a.is_empty());
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.bytes == y.bytes));
        let receipts: usize = a.iter().map(|f| f.receipts).sum();
        assert!(receipts > 500, "{receipts} receipts for 2,000 persons");
        assert!(
            a.iter().any(|f| f.file_name == "RECEIPTY.UKE"),
            "pharmacy claims too"
        );
        for f in &a {
            let parsed = onshi_medication::uke::parse(&f.bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", f.facility));
            assert_eq!(parsed.receipts.len(), f.receipts);
            assert_eq!(parsed.facility.as_str(), f.facility);
        }
    }
}
