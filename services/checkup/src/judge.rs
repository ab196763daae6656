//! メタボリックシンドローム判定 (9N501) and 特定保健指導レベル (9N506) from a checkup's values (reference
//! `checkups-cda.md` §4). Each criterion is judged on the values present (a group needs one of its members: waist
//! *or* visceral fat area, systolic *or* diastolic pressure …) and is *unknown* only when none is; a judgment that
//! depends on an unknown criterion — the answer differs for some way the unknowns could fall — is 判定不能 (4), the
//! reference's recommended rule [I]. Values are rounded half-up to their item's picture before comparing.
//!
//! Rules by fiscal year: random TG ≥ 175 counts for lipids from FY2024 (both judgments; for メタボ判定 this is the
//! reference's suggested default, a documented choice); random glucose counts only for the level, only without
//! HbA1c and fasting glucose, and never when blood was drawn under 3.5 hours after a meal.

/// Sex as the CDA codes it (1 男, 2 女).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

/// What the judgments read from a checkup. `None`: not present (not measured, not answered).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub sex: Option<Sex>,
    /// Age reached during the fiscal year (at its 31 March).
    pub age: u32,
    pub fiscal_year: i32,
    pub waist: Option<f64>,
    pub visceral_fat: Option<f64>,
    pub bmi: Option<f64>,
    pub systolic: Option<f64>,
    pub diastolic: Option<f64>,
    pub tg_fasting: Option<f64>,
    pub tg_random: Option<f64>,
    pub hdl: Option<f64>,
    pub glucose_fasting: Option<f64>,
    pub glucose_random: Option<f64>,
    pub hba1c: Option<f64>,
    /// 採血時間(食後) code: 2 over 10 hours, 3 3.5–10 hours, 4 under 3.5 hours.
    pub meal: Option<u8>,
    pub drug_pressure: Option<bool>,
    pub drug_glucose: Option<bool>,
    pub drug_lipids: Option<bool>,
    /// Smokes now (喫煙 1).
    pub smoker: Option<bool>,
}

/// メタボリックシンドローム判定 (OID .1008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Metabolic {
    Meets = 1,
    Reserve = 2,
    No = 3,
    Undeterminable = 4,
}

/// 特定保健指導レベル (OID .3001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Level {
    Active = 1,
    Motivational = 2,
    None = 3,
    Undeterminable = 4,
}

impl Metabolic {
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Meets, Self::Reserve, Self::No, Self::Undeterminable]
            .into_iter()
            .find(|m| m.code().to_string() == code.trim())
    }
    pub fn label(self) -> &'static str {
        ["基準該当", "予備群該当", "非該当", "判定不能"][self as usize - 1]
    }
}

impl Level {
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::Active,
            Self::Motivational,
            Self::None,
            Self::Undeterminable,
        ]
        .into_iter()
        .find(|m| m.code().to_string() == code.trim())
    }
    pub fn label(self) -> &'static str {
        ["積極的支援", "動機付け支援", "なし（情報提供）", "判定不能"][self as usize - 1]
    }
}

/// A criterion: met, not met, or not known (none of its values present).
type Tri = Option<bool>;

/// `any` over the values present: met if one meets it, not met if all present do not, unknown if none is present.
fn any_of(parts: &[Option<bool>]) -> Tri {
    if parts.contains(&Some(true)) {
        Some(true)
    } else if parts.iter().any(Option::is_some) {
        Some(false)
    } else {
        None
    }
}

/// `a` or `b` where an unknown `b` (an unanswered medication question) leaves the result unknown unless `a` holds.
fn or(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn at_least(v: Option<f64>, limit: f64, decimals: i32) -> Option<bool> {
    v.map(|v| round(v, decimals) >= limit)
}

fn below(v: Option<f64>, limit: f64, decimals: i32) -> Option<bool> {
    v.map(|v| round(v, decimals) < limit)
}

/// Half-up rounding to the item's picture (the tiny term absorbs binary representation: 84.95 × 10 may be
/// 849.4999…).
fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f + 0.5 + 1e-7).floor() / f
}

/// The visceral-obesity gate: waist ≥ 85 (men) / ≥ 90 (women), or visceral fat area ≥ 100 cm².
fn visceral(i: &Inputs) -> Tri {
    let limit = match i.sex {
        Some(Sex::Male) => Some(85.0),
        Some(Sex::Female) => Some(90.0),
        None => None,
    };
    let waist = match (i.waist, limit) {
        (Some(w), Some(l)) => Some(round(w, 1) >= l),
        _ => None,
    };
    any_of(&[waist, at_least(i.visceral_fat, 100.0, 1)])
}

fn pressure(i: &Inputs) -> Tri {
    any_of(&[
        at_least(i.systolic, 130.0, 0),
        at_least(i.diastolic, 85.0, 0),
    ])
}

/// TG ≥ 150 fasting (random ≥ 175 from FY2024, when no fasting value), or HDL < 40.
fn lipids(i: &Inputs) -> Tri {
    let tg = match (i.tg_fasting, i.tg_random) {
        (Some(_), _) => at_least(i.tg_fasting, 150.0, 0),
        (None, Some(_)) if i.fiscal_year >= 2024 => at_least(i.tg_random, 175.0, 0),
        _ => None,
    };
    any_of(&[tg, below(i.hdl, 40.0, 0)])
}

/// The three criteria of メタボ判定, medication counting as a risk.
fn metabolic_risks(i: &Inputs) -> [Tri; 3] {
    let glucose = any_of(&[
        at_least(i.glucose_fasting, 110.0, 0),
        at_least(i.hba1c, 6.0, 1),
    ]);
    [
        or(glucose, i.drug_glucose),
        or(lipids(i), i.drug_lipids),
        or(pressure(i), i.drug_pressure),
    ]
}

/// The glucose criterion of the level, by priority: fasting glucose ≥ 100, else HbA1c ≥ 5.6, else (not under 3.5
/// hours after a meal) random glucose ≥ 100.
fn level_glucose(i: &Inputs) -> Tri {
    if i.glucose_fasting.is_some() {
        at_least(i.glucose_fasting, 100.0, 0)
    } else if i.hba1c.is_some() {
        at_least(i.hba1c, 5.6, 1)
    } else if i.meal != Some(4) {
        at_least(i.glucose_random, 100.0, 0)
    } else {
        None
    }
}

/// Every way the unknown criteria could fall: the one answer if they all agree, else `undeterminable`.
fn settle<T: PartialEq + Copy>(
    unknowns: &[Tri],
    judge: impl Fn(&[bool]) -> T,
    undeterminable: T,
) -> T {
    let open: Vec<usize> = (0..unknowns.len())
        .filter(|&k| unknowns[k].is_none())
        .collect();
    let mut answer = None;
    for mask in 0u32..(1 << open.len()) {
        let mut v: Vec<bool> = unknowns.iter().map(|t| t.unwrap_or(false)).collect();
        for (bit, &k) in open.iter().enumerate() {
            v[k] = mask & (1 << bit) != 0;
        }
        let a = judge(&v);
        match answer {
            None => answer = Some(a),
            Some(b) if b != a => return undeterminable,
            _ => {}
        }
    }
    answer.unwrap_or(undeterminable)
}

/// メタボリックシンドローム判定: the gate, then the count of risks (2+ 基準該当, 1 予備群該当).
pub fn metabolic(i: &Inputs) -> Metabolic {
    let [g, l, p] = metabolic_risks(i);
    settle(
        &[visceral(i), g, l, p],
        |v| {
            let risks = v[1..].iter().filter(|b| **b).count();
            match (v[0], risks) {
                (false, _) | (true, 0) => Metabolic::No,
                (true, 1) => Metabolic::Reserve,
                _ => Metabolic::Meets,
            }
        },
        Metabolic::Undeterminable,
    )
}

/// 特定保健指導レベル (階層化): medication excludes; obesity by waist/VFA, else BMI ≥ 25; risks ①–③ and smoking
/// (only with one of ①–③); 65–74 capped at 動機付け支援.
pub fn level(i: &Inputs) -> Level {
    let medicated = or(or(i.drug_pressure, i.drug_glucose), i.drug_lipids);
    let capped = (65..=74).contains(&i.age);
    settle(
        &[
            medicated,
            visceral(i),
            at_least(i.bmi, 25.0, 1),
            pressure(i),
            lipids(i),
            level_glucose(i),
            i.smoker,
        ],
        |v| {
            let (medicated, visceral, bmi) = (v[0], v[1], v[2]);
            let base = v[3..6].iter().filter(|b| **b).count();
            let risks = base + usize::from(base > 0 && v[6]);
            let level = match (medicated, visceral, bmi, risks) {
                (true, ..) | (false, false, false, _) | (_, _, _, 0) => Level::None,
                (false, true, _, 1) => Level::Motivational,
                (false, true, _, _) => Level::Active,
                (false, false, true, 1 | 2) => Level::Motivational,
                (false, false, true, _) => Level::Active,
            };
            if capped && level == Level::Active {
                Level::Motivational
            } else {
                level
            }
        },
        Level::Undeterminable,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference's worked vectors (§4.3), FY2024.
    #[allow(clippy::too_many_arguments)]
    fn v(
        sex: Sex,
        age: u32,
        waist: Option<f64>,
        bmi: Option<f64>,
        bp: (f64, f64),
        tg: (f64, bool),
        hdl: f64,
        fpg: Option<f64>,
        hba1c: Option<f64>,
        smoke: u8,
        drug_pressure: bool,
    ) -> Inputs {
        Inputs {
            sex: Some(sex),
            age,
            fiscal_year: 2024,
            waist,
            bmi,
            systolic: Some(bp.0),
            diastolic: Some(bp.1),
            tg_fasting: tg.1.then_some(tg.0),
            tg_random: (!tg.1).then_some(tg.0),
            meal: Some(if tg.1 { 2 } else { 3 }),
            hdl: Some(hdl),
            glucose_fasting: fpg,
            hba1c,
            smoker: Some(smoke == 1),
            drug_pressure: Some(drug_pressure),
            drug_glucose: Some(false),
            drug_lipids: Some(false),
            ..Inputs::default()
        }
    }

    /// Vector 8 leaves everything but the blood pressure unknown ("…").
    fn unknown_labs(mut i: Inputs) -> Inputs {
        (i.tg_fasting, i.hdl) = (None, None);
        i
    }

    #[test]
    fn the_reference_vectors() {
        use Level as L;
        use Metabolic as M;
        use Sex::*;
        let cases = [
            (
                v(
                    Male,
                    50,
                    Some(90.0),
                    Some(26.0),
                    (135.0, 80.0),
                    (120.0, true),
                    50.0,
                    Some(105.0),
                    Some(5.8),
                    1,
                    false,
                ),
                M::Reserve,
                L::Active,
            ),
            (
                v(
                    Male,
                    67,
                    Some(90.0),
                    Some(26.0),
                    (135.0, 80.0),
                    (120.0, true),
                    50.0,
                    Some(105.0),
                    Some(5.8),
                    1,
                    false,
                ),
                M::Reserve,
                L::Motivational,
            ),
            (
                v(
                    Male,
                    50,
                    Some(90.0),
                    Some(26.0),
                    (135.0, 80.0),
                    (120.0, true),
                    50.0,
                    Some(105.0),
                    Some(5.8),
                    1,
                    true,
                ),
                M::Reserve,
                L::None,
            ),
            (
                v(
                    Female,
                    45,
                    Some(88.0),
                    Some(25.3),
                    (128.0, 82.0),
                    (180.0, false),
                    55.0,
                    None,
                    Some(5.7),
                    1,
                    false,
                ),
                M::No,
                L::Active,
            ),
            (
                v(
                    Female,
                    45,
                    Some(92.0),
                    Some(24.0),
                    (120.0, 70.0),
                    (100.0, true),
                    60.0,
                    Some(95.0),
                    None,
                    1,
                    false,
                ),
                M::No,
                L::None,
            ),
            (
                v(
                    Male,
                    55,
                    Some(86.0),
                    Some(27.0),
                    (132.0, 86.0),
                    (160.0, true),
                    38.0,
                    Some(112.0),
                    Some(6.1),
                    3,
                    false,
                ),
                M::Meets,
                L::Active,
            ),
            (
                v(
                    Male,
                    55,
                    Some(80.0),
                    Some(23.0),
                    (150.0, 95.0),
                    (300.0, true),
                    30.0,
                    Some(140.0),
                    Some(7.0),
                    1,
                    false,
                ),
                M::No,
                L::None,
            ),
            (
                unknown_labs(v(
                    Male,
                    55,
                    None,
                    None,
                    (120.0, 70.0),
                    (100.0, true),
                    60.0,
                    None,
                    None,
                    3,
                    false,
                )),
                M::Undeterminable,
                L::Undeterminable,
            ),
        ];
        for (n, (i, m, l)) in cases.iter().enumerate() {
            assert_eq!((metabolic(i), level(i)), (*m, *l), "vector {}", n + 1);
        }
    }

    #[test]
    fn random_tg_counts_from_fy2024_only() {
        let mut i = v(
            Sex::Female,
            45,
            Some(88.0),
            Some(25.3),
            (128.0, 82.0),
            (180.0, false),
            55.0,
            None,
            Some(5.7),
            1,
            false,
        );
        assert_eq!(level(&i), Level::Active);
        i.fiscal_year = 2023;
        // Lipids unknown before FY2024 (no fasting TG), but HDL ≥ 40 is present: not met; glucose + smoking = 2.
        assert_eq!(level(&i), Level::Motivational);
    }

    #[test]
    fn rounding_is_half_up_to_the_picture() {
        let mut i = v(
            Sex::Male,
            50,
            Some(84.95),
            Some(20.0),
            (120.0, 70.0),
            (100.0, true),
            60.0,
            Some(90.0),
            Some(5.0),
            3,
            false,
        );
        assert_eq!(
            metabolic(&i),
            Metabolic::No,
            "84.95 → 85.0 passes the gate, but no risk"
        );
        i.systolic = Some(129.5);
        assert_eq!(metabolic(&i), Metabolic::Reserve, "129.5 → 130");
        i.waist = Some(84.94);
        assert_eq!(metabolic(&i), Metabolic::No, "84.94 → 84.9");
    }

    #[test]
    fn an_unanswered_medication_question_matters_only_when_it_could_change_the_answer() {
        let mut i = v(
            Sex::Male,
            50,
            Some(80.0),
            Some(22.0),
            (120.0, 70.0),
            (100.0, true),
            60.0,
            Some(90.0),
            Some(5.0),
            3,
            false,
        );
        i.drug_pressure = None;
        assert_eq!(
            level(&i),
            Level::None,
            "not obese: medication cannot change it"
        );
        assert_eq!(metabolic(&i), Metabolic::No, "below the gate");
        i.waist = Some(90.0);
        assert_eq!(
            metabolic(&i),
            Metabolic::Undeterminable,
            "the pressure drug decides 非該当 or 予備群"
        );
    }

    fn value(lo: f64, hi: f64) -> impl Strategy<Value = Option<f64>> {
        prop::option::weighted(0.9, lo..hi)
    }

    prop_compose! {
        fn inputs()(male in any::<bool>(), age in 40u32..75, fy in 2020i32..2027, waist in value(60.0, 120.0),
                    vfa in prop::option::weighted(0.2, 50.0..150.0f64), bmi in value(16.0, 35.0),
                    sbp in value(90.0, 180.0), dbp in value(50.0, 110.0), tg in value(50.0, 300.0),
                    tgr in prop::option::weighted(0.3, 50.0..300.0f64), hdl in value(25.0, 90.0),
                    fpg in value(70.0, 160.0), hba1c in value(4.5, 8.0), rpg in value(70.0, 200.0),
                    meal in prop::option::of(2u8..5), drugs in prop::array::uniform3(prop::option::weighted(0.95, any::<bool>())),
                    smoker in prop::option::weighted(0.95, any::<bool>())) -> Inputs {
            Inputs { sex: Some(if male { Sex::Male } else { Sex::Female }), age, fiscal_year: fy, waist, visceral_fat: vfa,
                     bmi, systolic: sbp, diastolic: dbp, tg_fasting: tg, tg_random: tgr, hdl, glucose_fasting: fpg,
                     glucose_random: rpg, hba1c, meal, drug_pressure: drugs[0], drug_glucose: drugs[1],
                     drug_lipids: drugs[2], smoker }
        }
    }

    proptest! {
        #[test]
        fn medication_never_leaves_a_guidance_level(mut i in inputs()) {
            i.drug_glucose = Some(true);
            prop_assert_eq!(level(&i), Level::None);
        }

        #[test]
        fn the_65_to_74_cap_holds(mut i in inputs(), age in 65u32..75) {
            i.age = age;
            prop_assert_ne!(level(&i), Level::Active);
        }

        #[test]
        fn worse_values_never_lower_the_judgments(i in inputs(), up in 0.0..40.0f64) {
            let mut worse = i.clone();
            worse.systolic = i.systolic.map(|v| v + up);
            worse.tg_fasting = i.tg_fasting.map(|v| v + up);
            worse.glucose_fasting = i.glucose_fasting.map(|v| v + up);
            let severity = |m: Metabolic| match m { Metabolic::No => 0, Metabolic::Reserve => 1, Metabolic::Meets => 2, Metabolic::Undeterminable => 9 };
            let (a, b) = (severity(metabolic(&i)), severity(metabolic(&worse)));
            if a != 9 && b != 9 { prop_assert!(b >= a); }
        }

        #[test]
        fn complete_inputs_always_judge(mut i in inputs()) {
            i.waist = Some(i.waist.unwrap_or(80.0));
            i.systolic = Some(i.systolic.unwrap_or(120.0));
            i.tg_fasting = Some(i.tg_fasting.unwrap_or(100.0));
            i.hdl = Some(i.hdl.unwrap_or(50.0));
            i.glucose_fasting = Some(i.glucose_fasting.unwrap_or(90.0));
            i.bmi = Some(i.bmi.unwrap_or(22.0));
            i.drug_pressure = Some(false);
            i.drug_glucose = Some(false);
            i.drug_lipids = Some(false);
            i.smoker = Some(i.smoker.unwrap_or(false));
            prop_assert_ne!(metabolic(&i), Metabolic::Undeterminable);
            prop_assert_ne!(level(&i), Level::Undeterminable);
        }
    }
}
