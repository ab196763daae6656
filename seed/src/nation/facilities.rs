//! Facilities of the synthetic nation: the seed document's 229,936 (病院 8,186 / 医科診療所 89,804 / 歯科診療所
//! 70,468 / 薬局 61,478) scaled to the population, spread by prefecture population, each with a valid 10-digit
//! 医療機関コード and the adoption state the seed document reports for its type (申込 / 準備完了 / 運用開始).

use chrono::NaiveDate;

use onshi_platform::versioned::NewVersion;
use onshi_wire::ids::{Date, InstitutionCode};
use onshi_wire::record::{FacilityRecord, FacilityStatus};

use super::catalogue::{municipality, place};
use super::names::COMPANY_HEAD;
use super::params::{FacilityType, FACILITIES, PREFECTURES};
use super::rng::Rng;

/// Facilities of each type per prefecture for `persons` persons (largest remainder; at least one of each type
/// in the nation, placed in the most populous prefecture).
pub fn counts(persons: u64) -> Vec<[u32; 4]> {
    let pop: u64 = PREFECTURES.iter().map(|p| u64::from(p.2)).sum::<u64>() * 1000;
    let mut out = vec![[0u32; 4]; 47];
    for (t, f) in FACILITIES.iter().enumerate() {
        let total =
            ((u128::from(f.1) * u128::from(persons)).div_ceil(u128::from(pop)) as u32).max(1);
        let shares: Vec<(usize, u64, u64)> = PREFECTURES
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let exact = u64::from(total) * u64::from(p.2);
                let sum = pop / 1000;
                (i, exact / sum, exact % sum)
            })
            .collect();
        let mut given = 0;
        for (i, whole, _) in &shares {
            out[*i][t] = *whole as u32;
            given += *whole as u32;
        }
        let mut order = shares.clone();
        order.sort_by_key(|(i, _, rem)| (std::cmp::Reverse(*rem), *i));
        for (i, _, _) in order.into_iter().take((total - given) as usize) {
            out[i][t] += 1;
        }
    }
    out
}

/// The 4-digit 機関番号 ranges by 点数表 (医科 1000–2999, 歯科 3000–3999, 薬局 4000–4999), without the 欠番 whose
/// middle or last two digits are 90.
fn numbers(range: std::ops::RangeInclusive<u32>) -> Vec<u32> {
    range
        .filter(|n| (n / 10) % 100 != 90 && n % 100 != 90)
        .collect()
}

/// The facilities of one prefecture (the chunk `1_000_000 + pref`). Returns the feed rows and the per-type
/// state counts (not applied, applied, ready, operational).
pub fn generate(
    seed: u64,
    pref: u8,
    counts: [u32; 4],
    as_of: NaiveDate,
) -> (Vec<NewVersion>, Vec<[u64; 4]>) {
    let mut rng = Rng::new(seed, 1_000_000 + u64::from(pref));
    let mut rows = Vec::new();
    let mut states = vec![[0u64; 4]; 4];
    let medical = numbers(1000..=2999);
    let dental = numbers(3000..=3999);
    let pharmacy = numbers(4000..=4999);
    let mut next = [0usize; 3];
    for (t, (kind, _, applied, ready, operational)) in FACILITIES.iter().enumerate() {
        let (table, pool, slot) = match kind {
            FacilityType::Hospital | FacilityType::Clinic => (1, &medical, 0),
            FacilityType::Dental => (3, &dental, 1),
            FacilityType::Pharmacy => (4, &pharmacy, 2),
        };
        for _ in 0..counts[t] {
            let k = next[slot];
            next[slot] += 1;
            // 郡市区 02–99 (01 is left to the demo facilities).
            let district = 2 + k / pool.len();
            let code = InstitutionCode::from_body(&format!(
                "{pref:02}{table}{district:02}{:04}",
                pool[k % pool.len()]
            ))
            .expect("valid body");
            let town = place(pref, k as u32);
            let m = municipality(pref, (k % 97) as u32);
            let name = match kind {
                FacilityType::Hospital => format!("{m}{town}病院"),
                FacilityType::Clinic => format!(
                    "{town}{}クリニック",
                    ["内科", "外科", "小児科", "整形外科", "眼科", "皮膚科"][k % 6]
                ),
                FacilityType::Dental => format!("{town}歯科医院"),
                FacilityType::Pharmacy => {
                    format!("{}薬局 {town}店", COMPANY_HEAD[k % COMPANY_HEAD.len()])
                }
            };
            let u = rng.below(1000) as u32;
            let day = |rng: &mut Rng, from: (i32, u32, u32), span: i64| {
                Date::from_naive(
                    NaiveDate::from_ymd_opt(from.0, from.1, from.2).expect("date")
                        + chrono::TimeDelta::days(rng.range(0, span)),
                )
            };
            let applied_on = day(&mut rng, (2021, 4, 1), 600);
            let ready_on = applied_on.add_days(rng.range(30, 120));
            let operational_on = ready_on.add_days(rng.range(7, 60));
            let (status, state) = if u < *operational {
                (FacilityStatus::Operational, 3)
            } else if u < *ready {
                (FacilityStatus::Ready, 2)
            } else if u < *applied {
                (FacilityStatus::Applied, 1)
            } else {
                (FacilityStatus::NotApplied, 0)
            };
            states[t][state] += 1;
            let f = FacilityRecord {
                code,
                name,
                status,
                applied_on: (state >= 1).then_some(applied_on),
                ready_on: (state >= 2).then_some(ready_on),
                operational_on: (state >= 3).then_some(operational_on),
                response_encoding: None,
                web_api_secret_sha256: None,
                hospital: *kind == FacilityType::Hospital,
                limited: false,
                certificates: vec![],
            };
            rows.push(NewVersion {
                id: code.as_str().to_string(),
                version: 1,
                op: "register",
                effective_from: as_of,
                record: serde_json::to_string(&f).expect("records serialise"),
            });
        }
    }
    (rows, states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nation_counts_match_the_seed_document() {
        let c = counts(126_146_000);
        for (t, f) in FACILITIES.iter().enumerate() {
            let total: u32 = c.iter().map(|p| p[t]).sum();
            assert_eq!(total, f.1, "{}", f.0.label());
        }
        // A clinic's scale still has one facility of each type.
        let small = counts(1_000);
        for t in 0..4 {
            assert!(small.iter().map(|p| p[t]).sum::<u32>() >= 1);
        }
    }

    #[test]
    fn codes_are_valid_and_unique() {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let (rows, states) = generate(1, 13, [800, 11_000, 8_000, 7_000], as_of);
        let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rows.len());
        for r in &rows {
            let f: FacilityRecord = serde_json::from_str(&r.record).unwrap();
            assert!(f.check().is_empty(), "{:?}", f.check());
        }
        let operational: u64 = states.iter().map(|s| s[3]).sum();
        assert!(operational > 0);
    }
}
