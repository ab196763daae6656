//! One chunk of the population: persons with the census age pyramid, grouped into households (spouses of similar
//! age, children attached to parents 22–42 years older), insured by age and employment, with histories.
//!
//! Insurance: 75+ → 後期高齢者 (own card, 一部負担割合); employees (by age and sex) → 協会けんぽ / 健保組合 /
//! 共済 with their non-working spouse and children as 家族 on the same 記号・番号 (枝番 01, 02, …); everyone else
//! → the household's 市町村国保 (or a 国保組合). 70–74 receive a 高齢受給者証. Histories: job changes and
//! retirements (an old card lost with 事由 03), deaths (01), short-term cards (some expired), 限度額適用認定証
//! and 特定疾病 holders; My Number cards and their health-insurance-use registration.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use onshi_platform::versioned::NewVersion;
use onshi_wire::codes::{
    InsuredCardClassification, LimitCertificateClassification, LimitCertificateFlag,
    PersonalFamily, ReasonOfLoss, Sex, SpecificDiseaseCategory,
};
use onshi_wire::ids::{mod10_w21, BranchNumber, CardNumber, CardSymbol, Date, PostalCode};
use onshi_wire::record::{
    ElderlyRecipient, LimitCertificate, QualificationRecord, SpecificDisease,
};

use super::catalogue::{municipality, place, Catalogue, Kind};
use super::names::{FAMILY, FEMALE, MALE};
use super::params::{
    rates, AGE_BANDS, CARD_ISSUED_PER_MILLE, CARD_REGISTERED_PER_MILLE, PREFECTURES,
};
use super::rng::Rng;

/// Persons per chunk (the unit of generation, loading and resuming).
pub const CHUNK_PERSONS: u32 = 20_000;
/// 後期高齢者 numbers reserved per chunk (a chunk never has this many persons aged 75+).
const LATE_SLOTS: u32 = 6_000;

/// One chunk of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpec {
    pub id: u32,
    pub pref: u8,
    pub index_in_pref: u32,
    pub first_person: u64,
    pub persons: u32,
}

/// Counts kept per chunk (summed by `--report`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub persons: u64,
    pub male: u64,
    pub by_kind: [u64; 6],
    pub by_age_band: Vec<u64>,
    pub households: u64,
    pub dependants: u64,
    pub cards: u64,
    pub registered: u64,
    pub job_changes: u64,
    pub retirees: u64,
    pub deaths: u64,
    pub short_term: u64,
    pub expired_cards: u64,
    pub limit_certificates: u64,
    pub specific_diseases: u64,
    pub elderly_recipients: u64,
    pub qualifications: u64,
    /// Facilities by type (病院, 医科診療所, 歯科診療所, 薬局) and state (not applied, applied, ready, operational).
    pub facilities: Vec<[u64; 4]>,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.persons += o.persons;
        self.male += o.male;
        for i in 0..6 {
            self.by_kind[i] += o.by_kind[i];
        }
        if self.by_age_band.len() < o.by_age_band.len() {
            self.by_age_band.resize(o.by_age_band.len(), 0);
        }
        for (a, b) in self.by_age_band.iter_mut().zip(&o.by_age_band) {
            *a += b;
        }
        if self.facilities.len() < o.facilities.len() {
            self.facilities.resize(o.facilities.len(), [0; 4]);
        }
        for (a, b) in self.facilities.iter_mut().zip(&o.facilities) {
            for i in 0..4 {
                a[i] += b[i];
            }
        }
        self.households += o.households;
        self.dependants += o.dependants;
        self.cards += o.cards;
        self.registered += o.registered;
        self.job_changes += o.job_changes;
        self.retirees += o.retirees;
        self.deaths += o.deaths;
        self.short_term += o.short_term;
        self.expired_cards += o.expired_cards;
        self.limit_certificates += o.limit_certificates;
        self.specific_diseases += o.specific_diseases;
        self.elderly_recipients += o.elderly_recipients;
        self.qualifications += o.qualifications;
    }
}

/// A My Number card of the population.
#[derive(Debug, Clone)]
pub struct Card {
    pub person_id: String,
    pub serial: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub pin: String,
    pub registered_on: Option<NaiveDate>,
    pub qualification_id: Option<String>,
}

/// A request key for the test decks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub category: &'static str,
    pub expected: &'static str,
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub birthdate: String,
    /// Card serial and PIN for card categories.
    pub card: Option<(String, String)>,
}

/// Everything one chunk produces.
#[derive(Debug, Default)]
pub struct ChunkOut {
    pub versions: Vec<NewVersion>,
    pub cards: Vec<Card>,
    pub stats: Stats,
    pub samples: Vec<Sample>,
}

struct Person {
    age: i32,
    birth: NaiveDate,
    male: bool,
    given: usize,
}

/// The chunk's card groups: the qualifications to register.
struct Group {
    kind: Kind,
    insurer: usize,
    symbol: String,
    number: String,
    members: Vec<usize>,
    qual: Vec<NaiveDate>,
    short_term: Option<(NaiveDate, NaiveDate)>,
    old: bool,
    lost: Option<(NaiveDate, ReasonOfLoss)>,
}

fn next_number(g: &mut u32) -> String {
    *g += 1;
    g.to_string()
}

fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d + chrono::TimeDelta::days(n)
}

fn birthday(birth: NaiveDate, age: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(birth.year() + age, birth.month(), birth.day())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(birth.year() + age, 3, 1).expect("March 1"))
}

/// Employment rate (per mille) by age and sex: who is on an employee insurance as 本人.
fn employment(age: i32, male: bool) -> u32 {
    let base = match age {
        ..=17 => 0,
        18..=19 => 300,
        20..=24 => 700,
        25..=59 => 880,
        60..=64 => 720,
        65..=69 => 450,
        70..=74 => 280,
        _ => 0,
    };
    if male {
        base
    } else {
        base * 80 / 100
    }
}

/// Generates one chunk. Pure: the same (seed, spec, as_of) always gives the same output.
pub fn generate(seed: u64, spec: ChunkSpec, as_of: NaiveDate, cat: &Catalogue) -> ChunkOut {
    let mut rng = Rng::new(seed, u64::from(spec.id));
    let pref = spec.pref;
    let pref_name = PREFECTURES[usize::from(pref) - 1].1;
    let (post_lo, post_hi) = PREFECTURES[usize::from(pref) - 1].3;
    let municipalities = u64::from(PREFECTURES[usize::from(pref) - 1].4);
    let mut out = ChunkOut {
        stats: Stats {
            by_age_band: vec![0; AGE_BANDS.len()],
            ..Stats::default()
        },
        ..ChunkOut::default()
    };

    // 1. Persons with the census age pyramid.
    let mut people: Vec<Person> = (0..spec.persons)
        .map(|_| {
            let band = rng.weighted(&AGE_BANDS) as i64;
            let years = band * 5 + rng.range(0, 4);
            let birth = days(as_of, -(years * 365 + years / 4 + rng.range(1, 364)));
            let age = Date::from_naive(birth).age_on(Date::from_naive(as_of));
            let male_share = match age {
                ..=64 => 505,
                65..=84 => 450,
                _ => 330,
            };
            let male = rng.per_mille(male_share);
            Person {
                age,
                birth,
                male,
                given: 0,
            }
        })
        .collect();

    // 2. Households: adults by age, neighbours of similar age married; children to parents 22–42 years older.
    let mut adults: Vec<usize> = (0..people.len()).filter(|&i| people[i].age >= 20).collect();
    adults.sort_by_key(|&i| (people[i].age, i));
    let mut households: Vec<(usize, Option<usize>, Vec<usize>)> = Vec::new();
    let mut k = 0;
    while k < adults.len() {
        let head = adults[k];
        let married = match people[head].age {
            ..=24 => 50,
            25..=34 => 450,
            35..=74 => 700,
            _ => 450,
        };
        let spouse = (k + 1 < adults.len()
            && people[adults[k + 1]].age - people[head].age <= 8
            && rng.per_mille(married))
        .then(|| adults[k + 1]);
        if let Some(s) = spouse {
            people[s].male = !people[head].male;
            k += 1;
        }
        households.push((head, spouse, Vec::new()));
        k += 1;
    }
    let mut heads_by_age: Vec<Vec<usize>> = vec![Vec::new(); 130];
    for (h, (head, _, _)) in households.iter().enumerate() {
        heads_by_age[people[*head].age.clamp(0, 129) as usize].push(h);
    }
    for c in (0..people.len()).filter(|&i| people[i].age < 20) {
        let age = people[c].age;
        let mut home = None;
        for _ in 0..8 {
            let a = (age + rng.range(22, 42) as i32).clamp(0, 129) as usize;
            if !heads_by_age[a].is_empty() {
                home = Some(*rng.pick(&heads_by_age[a]));
                break;
            }
        }
        match home.or_else(|| {
            (!households.is_empty()).then(|| rng.below(households.len() as u64) as usize)
        }) {
            Some(h) => households[h].2.push(c),
            None => households.push((c, None, Vec::new())),
        }
    }
    out.stats.households = households.len() as u64;

    // 3. Card groups per household.
    let mut groups: Vec<Group> = Vec::new();
    let mut family_of = vec![0usize; people.len()];
    let mut address_of = vec![String::new(); households.len()];
    let mut postal_of = vec![String::new(); households.len()];
    let mut household_of = vec![0usize; people.len()];
    let mut late_local = 0u32;
    let mut g_counter = 0u32;
    let chunk_code = format!("{:02}{:05}", pref, spec.index_in_pref);
    for (h, (head, spouse, children)) in households.iter().enumerate() {
        let fam = rng.below(FAMILY.len() as u64) as usize;
        let m = rng.below(municipalities) as u32;
        let town = place(pref, m * 31 + rng.below(40) as u32);
        address_of[h] = format!(
            "{pref_name}{}{town}{}丁目{}番{}号",
            municipality(pref, m),
            rng.range(1, 9),
            rng.range(1, 30),
            rng.range(1, 20)
        );
        postal_of[h] = format!(
            "{:03}-{:04}",
            rng.range(i64::from(post_lo), i64::from(post_hi)),
            rng.range(0, 9999)
        );
        let members: Vec<usize> = std::iter::once(*head)
            .chain(*spouse)
            .chain(children.iter().copied())
            .collect();
        for &p in &members {
            family_of[p] = fam;
            household_of[p] = h;
            people[p].given = rng.below(if people[p].male {
                MALE.len()
            } else {
                FEMALE.len()
            } as u64) as usize;
        }
        let kokuho_insurer =
            cat.of(Kind::Kokuho, pref)[m as usize % cat.of(Kind::Kokuho, pref).len()];
        let employee_group = |rng: &mut Rng, holder: usize, g: &mut u32| -> Group {
            let kind = [Kind::Kyokai, Kind::Kumiai, Kind::Kyosai][rng.weighted(&[52, 38, 10])];
            let list = cat.of(kind, pref);
            let insurer = list[rng.below(list.len() as u64) as usize];
            let symbol = match kind {
                Kind::Kyokai => format!("5{chunk_code}"),
                _ => chunk_code.clone(),
            };
            let age = people[holder].age;
            let tenure = rng.range(0, i64::from((age - 18).clamp(0, 40)));
            let earliest = birthday(people[holder].birth, 18);
            let qual = days(as_of, -(tenure * 365 + rng.range(0, 364))).max(earliest);
            Group {
                kind,
                insurer,
                symbol,
                number: next_number(g),
                members: vec![holder],
                qual: vec![qual],
                short_term: None,
                old: false,
                lost: None,
            }
        };
        let mut rest: Vec<usize> = Vec::new();
        let mut late: Vec<usize> = Vec::new();
        for &p in &members {
            if people[p].age >= 75 {
                late.push(p);
            } else {
                rest.push(p);
            }
        }
        let head_works =
            rest.contains(head) && rng.per_mille(employment(people[*head].age, people[*head].male));
        let spouse_works = spouse.is_some_and(|s| {
            rest.contains(&s) && rng.per_mille(employment(people[s].age, people[s].male) * 70 / 100)
        });
        let mut covered: Vec<usize> = Vec::new();
        let mut dependants_of: Option<usize> = None;
        if head_works {
            groups.push(employee_group(&mut rng, *head, &mut g_counter));
            dependants_of = Some(groups.len() - 1);
            covered.push(*head);
        }
        if let (true, Some(s)) = (spouse_works, spouse) {
            groups.push(employee_group(&mut rng, *s, &mut g_counter));
            dependants_of.get_or_insert(groups.len() - 1);
            covered.push(*s);
        }
        if let Some(gi) = dependants_of {
            for &p in &rest {
                let is_child = people[p].age < 20 || children.contains(&p);
                let dependent_spouse = Some(p) == *spouse && !spouse_works;
                if !covered.contains(&p) && (is_child || dependent_spouse) {
                    let q = groups[gi].qual[0].max(people[p].birth);
                    groups[gi].members.push(p);
                    groups[gi].qual.push(q);
                    covered.push(p);
                    out.stats.dependants += 1;
                }
            }
        }
        let kokuho: Vec<usize> = rest
            .iter()
            .copied()
            .filter(|p| !covered.contains(p))
            .collect();
        if !kokuho.is_empty() {
            let holder = kokuho[0];
            let age = people[holder].age;
            let guild = (20..70).contains(&age) && rng.per_mille(135);
            let insurer = if guild {
                let list = cat.of(Kind::KokuhoKumiai, pref);
                list[rng.below(list.len() as u64) as usize]
            } else {
                kokuho_insurer
            };
            let back = i64::from((age * 365).min(30 * 365));
            let q0 = days(as_of, -rng.range(0, back)).max(people[holder].birth);
            let short_term =
                (!guild && rng.per_mille(rates::SHORT_TERM_CARD_PER_MILLE)).then(|| {
                    let from = if rng.per_mille(333) {
                        days(as_of, -rng.range(200, 365))
                    } else {
                        days(as_of, -rng.range(0, 180))
                    };
                    (from, days(from, 182))
                });
            groups.push(Group {
                kind: if guild {
                    Kind::KokuhoKumiai
                } else {
                    Kind::Kokuho
                },
                insurer,
                symbol: chunk_code.clone(),
                number: next_number(&mut g_counter),
                qual: kokuho.iter().map(|&p| q0.max(people[p].birth)).collect(),
                members: kokuho,
                short_term,
                old: false,
                lost: None,
            });
        }
        for p in late {
            let list = cat.of(Kind::Kouki, pref);
            late_local += 1;
            assert!(late_local < LATE_SLOTS, "too many 後期高齢者 in one chunk");
            let body = format!("{:07}", spec.index_in_pref * LATE_SLOTS + late_local);
            let check = mod10_w21(body.as_bytes());
            let qual = birthday(people[p].birth, 75)
                .max(NaiveDate::from_ymd_opt(2008, 4, 1).expect("date"));
            let lost = rng
                .per_mille(rates::DEATH_PER_MILLE_60_PLUS)
                .then(|| (days(as_of, -rng.range(1, 365)), ReasonOfLoss::Death));
            groups.push(Group {
                kind: Kind::Kouki,
                insurer: list[0],
                symbol: String::new(),
                number: format!("{body}{check}"),
                members: vec![p],
                qual: vec![qual],
                short_term: None,
                old: false,
                lost,
            });
        }
    }

    // 4. Histories: an old card for job changers and retirees.
    let current = groups.len();
    for gi in 0..current {
        let (kind, holder, qual) = (groups[gi].kind, groups[gi].members[0], groups[gi].qual[0]);
        let employee = matches!(kind, Kind::Kyokai | Kind::Kumiai | Kind::Kyosai);
        let age = people[holder].age;
        let change = employee && rng.per_mille(rates::JOB_CHANGE_PER_MILLE);
        let retiree = kind == Kind::Kokuho
            && (62..75).contains(&age)
            && rng.per_mille(rates::RETIRED_PER_MILLE);
        if !(change || retiree) {
            continue;
        }
        let new_start = if change {
            days(as_of, -rng.range(30, 730)).max(birthday(people[holder].birth, 19))
        } else {
            qual
        };
        if change {
            for (pos, &m) in groups[gi].members.clone().iter().enumerate() {
                groups[gi].qual[pos] = new_start.max(people[m].birth);
            }
            out.stats.job_changes += 1;
        } else {
            out.stats.retirees += 1;
        }
        let old_kind = [Kind::Kyokai, Kind::Kumiai][rng.weighted(&[60, 40])];
        let list = cat.of(old_kind, pref);
        let old_start =
            days(new_start, -rng.range(365, 12 * 365)).max(birthday(people[holder].birth, 18));
        if old_start >= new_start {
            continue;
        }
        groups.push(Group {
            kind: old_kind,
            insurer: list[rng.below(list.len() as u64) as usize],
            symbol: format!("9{chunk_code}"),
            number: next_number(&mut g_counter),
            members: vec![holder],
            qual: vec![old_start],
            short_term: None,
            old: true,
            lost: Some((new_start, ReasonOfLoss::OtherInsurance)),
        });
    }

    // 5. Records, cards, samples.
    let fy_start = if as_of.month() >= 4 {
        as_of.year()
    } else {
        as_of.year() - 1
    };
    let limit_from = NaiveDate::from_ymd_opt(fy_start, 4, 1).expect("date");
    let limit_to = NaiveDate::from_ymd_opt(fy_start + 1, 3, 31).expect("date");
    let cycle_year = if as_of.month() >= 8 {
        as_of.year()
    } else {
        as_of.year() - 1
    };
    let cycle_from = NaiveDate::from_ymd_opt(cycle_year, 8, 1).expect("date");
    let cycle_to = NaiveDate::from_ymd_opt(cycle_year + 1, 7, 31).expect("date");
    let mut current_qual: Vec<Option<String>> = vec![None; people.len()];
    let mut dead = vec![false; people.len()];
    let sample_cap = 3usize;
    let mut taken: std::collections::HashMap<&'static str, usize> = Default::default();
    let mut sample = |out: &mut ChunkOut, s: Sample| {
        let n = taken.entry(s.category).or_insert(0);
        if *n < sample_cap {
            *n += 1;
            out.samples.push(s);
        }
    };
    for g in &groups {
        let ins = &cat.insurers[g.insurer];
        for (pos, (&p, &qual)) in g.members.iter().zip(&g.qual).enumerate() {
            let person = &people[p];
            let (fam_k, fam_kana) = FAMILY[family_of[p]];
            let (given_k, given_kana) = if person.male {
                MALE[person.given]
            } else {
                FEMALE[person.given]
            };
            let holder = &people[g.members[0]];
            let holder_given = if holder.male {
                MALE[holder.given].0
            } else {
                FEMALE[holder.given].0
            };
            let holder_name = format!("{}　{}", FAMILY[family_of[g.members[0]]].0, holder_given);
            let late = g.kind == Kind::Kouki;
            let age = person.age;
            let mut r = QualificationRecord {
                person_id: format!("n{}", spec.first_person + p as u64),
                insurer_number: ins.number,
                insurer_name: ins.name.clone(),
                card_classification: if g.short_term.is_some() {
                    InsuredCardClassification::ShortTermGeneral
                } else {
                    InsuredCardClassification::General
                },
                symbol: CardSymbol::parse(&g.symbol).expect("symbol"),
                number: CardNumber::parse(&g.number).expect("number"),
                branch: BranchNumber::parse(&format!("{pos:02}")).expect("branch"),
                personal_family: (!late).then_some(if pos == 0 {
                    PersonalFamily::Insured
                } else {
                    PersonalFamily::Family
                }),
                insured_name: (!late).then(|| holder_name.clone()),
                name: format!("{fam_k}　{given_k}"),
                name_kana: Some(format!("{fam_kana} {given_kana}")),
                name_other: None,
                name_other_kana: None,
                sex: if person.male { Sex::Male } else { Sex::Female },
                sex2: None,
                birth_date: Date::from_naive(person.birth),
                address: Some(address_of[household_of[p]].clone()),
                postal_code: Some(PostalCode::parse(&postal_of[household_of[p]]).expect("postal")),
                qualification_date: Date::from_naive(qual),
                disqualification_date: g.lost.map(|(d, _)| Date::from_naive(d)),
                loss_reason: g.lost.map(|(_, r)| r),
                card_issued: Some(Date::from_naive(qual)),
                card_valid_from: g.short_term.map(|(f, _)| Date::from_naive(f)),
                card_expires: g.short_term.map(|(_, t)| Date::from_naive(t)),
                partial_contribution_percent: late.then(|| {
                    if rng.per_mille(rates::LATE_30_PER_MILLE) {
                        30
                    } else if rng.per_mille(
                        rates::LATE_20_PER_MILLE * 1000 / (1000 - rates::LATE_30_PER_MILLE),
                    ) {
                        20
                    } else {
                        10
                    }
                }),
                elderly_recipient: None,
                limit_certificates: vec![],
                specific_diseases: vec![],
            };
            let active = g.lost.is_none();
            if active && !late && (70..75).contains(&age) {
                let from = birthday(person.birth, 70);
                let from = NaiveDate::from_ymd_opt(from.year(), from.month(), 1)
                    .map(|d| {
                        if from.day() == 1 {
                            d
                        } else {
                            d.checked_add_months(chrono::Months::new(1)).expect("date")
                        }
                    })
                    .expect("date")
                    .max(cycle_from);
                if from <= as_of {
                    r.elderly_recipient = Some(ElderlyRecipient {
                        issued: Date::from_naive(days(from, -14)),
                        valid_from: Date::from_naive(from),
                        valid_to: Date::from_naive(cycle_to),
                        ratio_percent: if rng.per_mille(rates::ELDERLY_30_PER_MILLE) {
                            30
                        } else {
                            20
                        },
                    });
                    out.stats.elderly_recipients += 1;
                }
            }
            if active && age >= 15 && rng.per_mille(rates::LIMIT_CERT_PER_MILLE) {
                let (classification, flag) = if age >= 70 {
                    (
                        LimitCertificateClassification::LimitApplication,
                        [
                            LimitCertificateFlag::B01,
                            LimitCertificateFlag::B02,
                            LimitCertificateFlag::B03,
                        ][rng.below(3) as usize],
                    )
                } else {
                    (
                        LimitCertificateClassification::LimitApplication,
                        [
                            LimitCertificateFlag::A01,
                            LimitCertificateFlag::A02,
                            LimitCertificateFlag::A03,
                            LimitCertificateFlag::A04,
                            LimitCertificateFlag::A05,
                        ][rng.weighted(&[5, 15, 50, 25, 5])],
                    )
                };
                r.limit_certificates.push(LimitCertificate {
                    classification,
                    flag,
                    issued: Date::from_naive(days(limit_from, -7).max(qual)),
                    valid_from: Date::from_naive(limit_from.max(qual)),
                    valid_to: Date::from_naive(limit_to),
                    long_term_date: None,
                });
                out.stats.limit_certificates += 1;
            }
            let disease = if rng.per_100k(rates::DIALYSIS_PER_100K) {
                Some(SpecificDiseaseCategory::ChronicRenalFailure)
            } else if rng.per_100k(rates::HEMOPHILIA_PER_100K) {
                Some(SpecificDiseaseCategory::Hemophilia)
            } else {
                None
            };
            if let (true, Some(category)) = (active, disease) {
                let from = days(as_of, -rng.range(30, 3000)).max(qual);
                r.specific_diseases.push(SpecificDisease {
                    category,
                    issued: Date::from_naive(from),
                    valid_from: Date::from_naive(from),
                    valid_to: Date::from_naive(days(from, 5 * 365)),
                    self_pay_yen: if rng.per_mille(50) { 20_000 } else { 10_000 },
                });
                out.stats.specific_diseases += 1;
            }
            let id = r.individual_number().key();
            let expired = g.short_term.is_some_and(|(_, t)| t < as_of);
            if g.short_term.is_some() {
                out.stats.short_term += 1;
            }
            if expired {
                out.stats.expired_cards += 1;
            }
            if matches!(g.lost, Some((_, ReasonOfLoss::Death))) {
                dead[p] = true;
                out.stats.deaths += 1;
            } else if !g.old {
                current_qual[p] = Some(id.clone());
                out.stats.by_kind[g.kind.index()] += 1;
            }
            // Deck samples.
            let key = |r: &QualificationRecord, with_branch: bool| Sample {
                category: "",
                expected: "",
                insurer_number: r.insurer_number.xml_form(),
                symbol: r.symbol.as_str().to_string(),
                number: r.number.as_str().to_string(),
                branch: if with_branch {
                    r.branch.as_string()
                } else {
                    String::new()
                },
                birthdate: r.birth_date.compact(),
                card: None,
            };
            let mut push = |category, expected, with_branch| {
                let mut s = key(&r, with_branch);
                s.category = category;
                s.expected = expected;
                sample(&mut out, s);
            };
            let preschool = onshi_wire::record::is_preschool(r.birth_date, Date::from_naive(as_of));
            if g.old {
                push("old_card", "3", true);
            } else if dead[p] {
                push("lost_death", "2", true);
            } else if expired {
                push("expired_card", "2", true);
            } else if preschool {
                push("preschool", "1", true);
            } else if !r.specific_diseases.is_empty() {
                push("specific_disease", "1", true);
            } else if !r.limit_certificates.is_empty() {
                push("limit_certificate", "1", true);
            } else if r.elderly_recipient.is_some() {
                push("elderly_recipient", "1", true);
            } else if late {
                push("late_elderly", "1", true);
            } else if pos > 0 {
                push("family", "1", true);
                push("family_without_branch", "1", false);
            } else if matches!(g.kind, Kind::Kokuho | Kind::KokuhoKumiai) {
                push("kokuho", "1", true);
            } else {
                push("valid", "1", true);
                let mut nf = key(&r, true);
                nf.category = "not_found";
                nf.expected = "4";
                nf.birthdate = Date::from_naive(days(person.birth, 1)).compact();
                sample(&mut out, nf);
            }
            out.versions.push(NewVersion {
                id,
                version: 1,
                op: "register",
                effective_from: qual,
                record: serde_json::to_string(&r).expect("records serialise"),
            });
            out.stats.qualifications += 1;
        }
    }
    // The card of each living person; health-insurance use registered for some.
    for (p, person) in people.iter().enumerate() {
        out.stats.persons += 1;
        out.stats.by_age_band[((person.age / 5) as usize).min(AGE_BANDS.len() - 1)] += 1;
        if person.male {
            out.stats.male += 1;
        }
        if dead[p] || !rng.per_mille(CARD_ISSUED_PER_MILLE) {
            continue;
        }
        let minor = person.age < 18;
        let issued =
            days(as_of, -rng.range(0, if minor { 4 * 365 } else { 7 * 365 })).max(person.birth);
        let expires = days(issued, if minor { 5 * 365 } else { 10 * 365 });
        let start = NaiveDate::from_ymd_opt(2021, 10, 20)
            .expect("date")
            .max(issued);
        let registered_on = (current_qual[p].is_some()
            && start <= as_of
            && rng.per_mille(CARD_REGISTERED_PER_MILLE))
        .then(|| days(start, rng.range(0, (as_of - start).num_days())));
        let card = Card {
            person_id: format!("n{}", spec.first_person + p as u64),
            serial: format!("{:04X}{:07X}{:05X}", pref, spec.id, p),
            issued_on: issued,
            expires_on: expires,
            pin: format!("{:04}", rng.below(10_000)),
            registered_on,
            qualification_id: registered_on.and(current_qual[p].clone()),
        };
        out.stats.cards += 1;
        if card.registered_on.is_some() {
            out.stats.registered += 1;
            let wanted = taken.get("mynumber_registered").copied().unwrap_or(0) < sample_cap;
            if let Some(v) = out
                .versions
                .iter()
                .find(|v| wanted && Some(&v.id) == card.qualification_id.as_ref())
            {
                {
                    let r: QualificationRecord =
                        serde_json::from_str(&v.record).expect("own record");
                    *taken.entry("mynumber_registered").or_insert(0) += 1;
                    out.samples.push(Sample {
                        category: "mynumber_registered",
                        expected: "1",
                        insurer_number: r.insurer_number.xml_form(),
                        symbol: r.symbol.as_str().to_string(),
                        number: r.number.as_str().to_string(),
                        branch: r.branch.as_string(),
                        birthdate: r.birth_date.compact(),
                        card: Some((card.serial.clone(), card.pin.clone())),
                    });
                }
            }
        }
        out.cards.push(card);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest of everything one chunk generates: versions, cards, stats and deck samples.
    fn digest(out: &ChunkOut) -> String {
        let mut text = String::new();
        for v in &out.versions {
            text.push_str(&format!("{}|{}|{}|{}\n", v.id, v.op, v.effective_from, v.record));
        }
        for c in &out.cards {
            text.push_str(&format!("{c:?}\n"));
        }
        for s in &out.samples {
            text.push_str(&format!("{s:?}\n"));
        }
        text.push_str(&format!("{:?}", out.stats));
        onshi_platform::sha256_hex(text.as_bytes())
    }

    #[test]
    fn a_chunk_is_the_same_data_release_after_release() {
        // Changing this digest changes every seeded nation and its decks: do it only on purpose, and say so.
        let spec = ChunkSpec {
            id: 7,
            pref: 13,
            index_in_pref: 3,
            first_person: 140_000,
            persons: 3_000,
        };
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let out = generate(20261121, spec, as_of, &Catalogue::build());
        assert_eq!(out.stats.persons, 3_000);
        assert_eq!(
            digest(&out),
            "e285caf9b85f0e3e989a38e973183d97d393513140a94e501feca0a7798e0439"
        );
    }
}
