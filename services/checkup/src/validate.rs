//! A parsed hc08 document checked against the reference and turned into a [`Checkup`] to store, or the list of its
//! problems (every one, per item). Checked: the 報告区分 (10 register, 19 delete) and the header's code systems, the
//! examinee's identifiers (保険者番号 with its check digit, 記号, 番号, 枝番), sex and birth date, the kind of checkup
//! (010 特定健診, 020 後期高齢者健診) and its date (FY2020 on, not in the future); each item: known to the item master
//! for that fiscal year (the 第3期 table before FY2024, 第4期 from FY2024), of its value type, in its unit, numeric
//! and within the plausible range, used by that kind of checkup; and the items each kind requires (one of each
//! alternative group). The judgments are computed ([`crate::judge`]) and kept next to the submitted ones.

use chrono::{Datelike, NaiveDate};

use onshi_wire::ids::{normalize_printed, InsurerNumber, ZeroPadding};

use crate::cda::{self, Document, Value};
use crate::items::{Condition, Master, Program, ValueType};
use crate::judge::{self, Inputs, Level, Metabolic, Sex};

/// The first fiscal year the system keeps.
pub const FIRST_FISCAL_YEAR: i32 = 2020;

/// One problem of a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub message: String,
}

fn problem(item: Option<&str>, message: impl Into<String>) -> Problem {
    Problem {
        item: item.map(str::to_string),
        message: message.into(),
    }
}

/// What a file asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Report {
    /// 10: register (or replace) the result of this person, kind and date.
    Register,
    /// 19: delete it (提出済み健診情報の削除依頼).
    Delete,
}

/// One stored result item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub value_type: ValueType,
    /// The number, code or text; `None`: no value (not done, not measurable).
    pub value: Option<String>,
    pub unit: String,
    pub code_system: String,
    pub interpretation: Option<String>,
}

/// A checked checkup.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkup {
    pub report: Report,
    pub insurer: InsurerNumber,
    pub symbol: String,
    pub number: String,
    pub branch: Option<String>,
    pub kana: Option<String>,
    pub sex: Option<Sex>,
    pub birth: NaiveDate,
    pub program: Program,
    pub date: NaiveDate,
    pub fiscal_year: i32,
    pub institution: Option<String>,
    pub institution_name: Option<String>,
    pub items: Vec<Item>,
    pub submitted: (Option<Metabolic>, Option<Level>),
    pub computed: (Option<Metabolic>, Option<Level>),
}

/// The fiscal year (April–March) of a date.
pub fn fiscal_year(d: NaiveDate) -> i32 {
    if d.month() >= 4 {
        d.year()
    } else {
        d.year() - 1
    }
}

/// Age reached during a fiscal year (on its 31 March).
pub fn age_in_fiscal_year(birth: NaiveDate, fy: i32) -> u32 {
    let end = NaiveDate::from_ymd_opt(fy + 1, 3, 31).expect("a date");
    end.years_since(birth).unwrap_or(0)
}

/// Checks a document; `today` bounds the checkup date.
pub fn check(doc: &Document, today: NaiveDate) -> Result<Checkup, Vec<Problem>> {
    let mut problems = Vec::new();
    let report = match doc.report.as_deref() {
        Some("10") => Some(Report::Register),
        Some("19") => Some(Report::Delete),
        other => {
            problems.push(problem(
                None,
                format!("報告区分 (code/@code) must be 10 (特定健診情報) or 19 (削除依頼), not {other:?}"),
            ));
            None
        }
    };
    if let Some(s) = doc
        .report_system
        .as_deref()
        .filter(|s| *s != cda::oid::REPORT)
    {
        problems.push(problem(
            None,
            format!("報告区分 codeSystem must be {}, not {s}", cda::oid::REPORT),
        ));
    }
    // The standard format zero-pads a 6-digit 国保 number to 8 digits (no 法別番号 is 00).
    let insurer = match doc
        .insurer
        .as_deref()
        .map(|n| InsurerNumber::parse_with(n, ZeroPadding::SixDigit))
    {
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            problems.push(problem(None, format!("保険者番号: {e}")));
            None
        }
        None => {
            problems.push(problem(
                None,
                "no 保険者番号 (patientRole/id root 1.2.392.200119.6.101)",
            ));
            None
        }
    };
    let number = doc
        .number
        .as_deref()
        .map(normalize_printed)
        .filter(|n| !n.is_empty());
    if number.is_none() {
        problems.push(problem(
            None,
            "no 被保険者証等番号 (patientRole/id root 1.2.392.200119.6.205)",
        ));
    }
    let branch = doc
        .branch
        .as_deref()
        .map(normalize_printed)
        .filter(|b| !b.is_empty());
    if let Some(b) = branch
        .as_deref()
        .filter(|b| b.len() != 2 || !b.bytes().all(|c| c.is_ascii_digit()))
    {
        problems.push(problem(None, format!("枝番 must be 2 digits, not {b:?}")));
    }
    let sex = match doc.sex.as_deref() {
        Some("1") => Some(Sex::Male),
        Some("2") => Some(Sex::Female),
        other => {
            problems.push(problem(
                None,
                format!("administrativeGenderCode must be 1 or 2, not {other:?}"),
            ));
            None
        }
    };
    let birth = doc.birth_date();
    if birth.is_none() {
        problems.push(problem(None, "birthTime must be a date YYYYMMDD"));
    }
    let program = doc.program.as_deref().and_then(Program::parse);
    if program.is_none() {
        problems.push(problem(
            None,
            format!(
                "健診プログラム種別 must be 010 (特定健診) or 020 (後期高齢者健診), not {:?}",
                doc.program
            ),
        ));
    }
    let date = doc.checkup_date();
    match date {
        None => problems.push(problem(None, "serviceEvent/effectiveTime (受診日) must be a date YYYYMMDD")),
        Some(d) if fiscal_year(d) < FIRST_FISCAL_YEAR => problems.push(problem(
            None,
            format!("受診日 {d} is before FY{FIRST_FISCAL_YEAR}: results are kept from FY{FIRST_FISCAL_YEAR} on"),
        )),
        Some(d) if d > today => problems.push(problem(None, format!("受診日 {d} is in the future"))),
        Some(d) if birth.is_some_and(|b| b >= d) => problems.push(problem(None, "birthTime is after the 受診日")),
        _ => {}
    }
    let fy = date.map(fiscal_year).unwrap_or(FIRST_FISCAL_YEAR);
    let items = match (report, program) {
        (Some(Report::Register), Some(p)) => check_items(doc, p, fy, &mut problems),
        _ => Vec::new(),
    };
    let (Some(report), Some(insurer), Some(number), Some(birth), Some(program), Some(date), true) = (
        report,
        insurer,
        number,
        birth,
        program,
        date,
        problems.is_empty(),
    ) else {
        return Err(problems);
    };
    let mut c = Checkup {
        report,
        insurer,
        symbol: doc
            .symbol
            .as_deref()
            .map(normalize_printed)
            .unwrap_or_default(),
        number,
        branch,
        kana: doc.name.clone(),
        sex,
        birth,
        program,
        date,
        fiscal_year: fy,
        institution: doc.institution.clone(),
        institution_name: doc.institution_name.clone(),
        items,
        submitted: (None, None),
        computed: (None, None),
    };
    if report == Report::Register && program == Program::Specific {
        let code = |k: &str| {
            c.items
                .iter()
                .find(|i| i.code == k)
                .and_then(|i| i.value.clone())
        };
        c.submitted = (
            code("9N501000000000011").and_then(|v| Metabolic::from_code(&v)),
            code("9N506000000000011").and_then(|v| Level::from_code(&v)),
        );
        let inputs = inputs(&c);
        c.computed = (Some(judge::metabolic(&inputs)), Some(judge::level(&inputs)));
    }
    Ok(c)
}

/// Every item checked; the requirements of the kind of checkup too.
fn check_items(
    doc: &Document,
    program: Program,
    fy: i32,
    problems: &mut Vec<Problem>,
) -> Vec<Item> {
    let master = Master::get();
    let mut items = Vec::new();
    for o in &doc.observations {
        let p = |m: String| problem(Some(&o.code), m);
        let Some(item) = master.item(&o.code) else {
            problems.push(p(format!("unknown item code {:?}", o.code)));
            continue;
        };
        if item.since > fy {
            problems.push(p(format!(
                "{} is an item of FY{} on, not of FY{fy}",
                item.name, item.since
            )));
            continue;
        }
        if let Some(s) = o.code_system.as_deref().filter(|s| *s != cda::oid::ITEM) {
            problems.push(p(format!(
                "the item code's codeSystem must be {}, not {s}",
                cda::oid::ITEM
            )));
        }
        if item.condition(program) == Condition::NotUsed {
            problems.push(p(format!(
                "{} is not an item of {}",
                item.name,
                program.label()
            )));
            continue;
        }
        let (value, unit, system) = match (&o.value, item.value_type) {
            (Value::Missing, _) => (None, String::new(), String::new()),
            (Value::Quantity { value, unit }, ValueType::Quantity) => {
                if unit != item.unit {
                    problems.push(p(format!(
                        "{}: the unit must be {:?}, not {unit:?}",
                        item.name, item.unit
                    )));
                    continue;
                }
                let Some(v) = value.parse::<f64>().ok().filter(|v| v.is_finite()) else {
                    problems.push(p(format!("{}: {value:?} is not a number", item.name)));
                    continue;
                };
                if let Some((lo, hi)) = item.range.filter(|(lo, hi)| v < *lo || v > *hi) {
                    problems.push(p(format!(
                        "{}: {value} {} is outside the physiological range {lo}–{hi}",
                        item.name, item.unit
                    )));
                    continue;
                }
                (Some(value.clone()), unit.clone(), String::new())
            }
            (Value::Coded { code, system }, ValueType::Coded) => {
                if code.is_empty()
                    || code.len() > 8
                    || !code.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    problems.push(p(format!("{}: {code:?} is not a code", item.name)));
                    continue;
                }
                // The 第3期 questionnaire coded 喫煙 with the plain はい/いいえ table (.2003) [I].
                let v3 = (fy < 2024 && item.code == "9N736000000000011")
                    .then_some("1.2.392.200119.6.2003");
                let used = system.as_deref().unwrap_or(v3.unwrap_or(item.oid));
                if !item.oid.is_empty() && used != item.oid && Some(used) != v3 {
                    problems.push(p(format!(
                        "{}: the code system must be {}, not {used}",
                        item.name, item.oid
                    )));
                    continue;
                }
                if crate::items::has_table(used) && crate::items::meaning(used, code, fy).is_none()
                {
                    problems.push(p(format!("{}: {code} is not a value of {used}", item.name)));
                    continue;
                }
                (Some(code.clone()), String::new(), used.to_string())
            }
            (Value::Text(t), ValueType::Text) => (Some(t.clone()), String::new(), String::new()),
            (v, expected) => {
                let found = match v {
                    Value::Quantity { .. } => "PQ",
                    Value::Coded { .. } => "CD/CO",
                    _ => "ST",
                };
                problems.push(p(format!(
                    "{}: the value must be {}, not {found}",
                    item.name,
                    expected.xml()
                )));
                continue;
            }
        };
        items.push(Item {
            code: item.code.to_string(),
            name: item.name.to_string(),
            value_type: item.value_type,
            value,
            unit,
            code_system: system,
            interpretation: o.interpretation.clone(),
        });
    }
    // What the kind of checkup requires: each required item, one of each group (items new in a later fiscal year
    // do not count against earlier years).
    let codes: std::collections::HashSet<&str> = items.iter().map(|i| i.code.as_str()).collect();
    let present = |code: &str| codes.contains(code);
    let mut groups: Vec<(char, bool, Vec<&str>)> = Vec::new();
    for item in master.items.iter().filter(|i| i.since <= fy) {
        match item.condition(program) {
            Condition::Required if !present(item.code) => problems.push(problem(
                Some(item.code),
                format!("{} is required in {}", item.name, program.label()),
            )),
            Condition::OneOf(g) => match groups.iter_mut().find(|(k, ..)| *k == g) {
                Some(entry) => {
                    entry.1 |= present(item.code);
                    entry.2.push(item.name);
                }
                None => groups.push((g, present(item.code), vec![item.name])),
            },
            _ => {}
        }
    }
    for (_, found, mut names) in groups.into_iter().filter(|g| !g.1) {
        debug_assert!(!found);
        names.dedup();
        problems.push(problem(
            None,
            format!("{} requires one of: {}", program.label(), names.join(", ")),
        ));
    }
    items
}

/// The judgments' inputs from the stored items.
fn inputs(c: &Checkup) -> Inputs {
    let master = Master::get();
    // Each item's judgment key, looked up once.
    let keyed: Vec<(&str, &Item)> = c
        .items
        .iter()
        .filter_map(|i| Some((master.item(&i.code)?.key, i)))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let first = |key: &str| {
        keyed
            .iter()
            .filter(|(k, _)| *k == key)
            .find_map(|(_, i)| i.value.as_deref()?.parse().ok())
    };
    let code = |key: &str| {
        keyed
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, i)| i.value.clone())
    };
    let yes = |key: &str| code(key).map(|v| v == "1");
    // 血圧: その他 (the mean reported), else the mean of the 1st and 2nd, else the 1st.
    let pressure = |other: &str, second: &str, firstk: &str| {
        first(other).or_else(|| match (first(second), first(firstk)) {
            (Some(a), Some(b)) => Some((a + b) / 2.0),
            (None, b) => b,
            (a, None) => a,
        })
    };
    Inputs {
        sex: c.sex,
        age: age_in_fiscal_year(c.birth, c.fiscal_year),
        fiscal_year: c.fiscal_year,
        waist: first("waist"),
        visceral_fat: first("vfa"),
        bmi: first("bmi"),
        systolic: pressure("sbp", "sbp2", "sbp1"),
        diastolic: pressure("dbp", "dbp2", "dbp1"),
        tg_fasting: first("tg"),
        tg_random: first("tg_random"),
        hdl: first("hdl"),
        glucose_fasting: first("fpg"),
        glucose_random: first("rpg"),
        hba1c: first("hba1c"),
        meal: code("meal").and_then(|v| v.parse().ok()),
        drug_pressure: yes("med_bp"),
        drug_glucose: yes("med_glucose"),
        drug_lipids: yes("med_lipid"),
        smoker: yes("smoking"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cda::tests::sample;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    #[test]
    fn a_complete_document_is_accepted_and_judged() {
        let c = check(&cda::parse(complete().as_bytes()).unwrap(), today()).unwrap();
        assert_eq!(
            (c.program, c.fiscal_year, c.report),
            (Program::Specific, 2025, Report::Register)
        );
        assert_eq!(c.submitted, (Some(Metabolic::Reserve), Some(Level::Active)));
        assert_eq!(
            c.computed,
            (Some(Metabolic::Reserve), Some(Level::Active)),
            "vector 1 of the reference"
        );
    }

    #[test]
    fn every_problem_is_listed_per_item() {
        let bad = complete()
            .replace(r#"value="90.0" unit="cm""#, r#"value="90.0" unit="mm""#)
            .replace(
                r#"value="135" unit="mm[Hg]""#,
                r#"value="500" unit="mm[Hg]""#,
            )
            .replace("9N001000000000001", "9N001000000000999")
            .replace(
                r#"<value xsi:type="PQ" value="26.0" unit="kg/m2"/>"#,
                r#"<value xsi:type="ST">26</value>"#,
            );
        let problems = check(&cda::parse(bad.as_bytes()).unwrap(), today()).unwrap_err();
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{:?} {}", p.item, p.message))
            .collect();
        let has = |s: &str| text.iter().any(|t| t.contains(s));
        assert!(has("the unit must be \"cm\""), "{text:#?}");
        assert!(has("outside the physiological range"), "{text:#?}");
        assert!(has("unknown item code \"9N001000000000999\""), "{text:#?}");
        assert!(has("the value must be PQ, not ST"), "{text:#?}");
        assert!(has("身長 is required"), "{text:#?}");
    }

    #[test]
    fn an_elderly_checkup_has_no_waist_nor_judgments() {
        let elderly = complete().replace(r#"code="010""#, r#"code="020""#);
        let problems = check(&cda::parse(elderly.as_bytes()).unwrap(), today()).unwrap_err();
        let items: Vec<_> = problems.iter().filter_map(|p| p.item.as_deref()).collect();
        assert!(items.contains(&"9N016160100000001"), "{problems:?}");
        assert!(items.contains(&"9N501000000000011"), "{problems:?}");
    }

    #[test]
    fn v4_items_are_refused_before_fy2024() {
        let old = complete()
            .replace("20250601", "20230601")
            .replace("3F015000002327101", "3F015129902327101");
        let problems = check(&cda::parse(old.as_bytes()).unwrap(), today()).unwrap_err();
        assert!(
            problems.iter().any(|p| p.message.contains("FY2024 on")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_sample_lacks_required_items() {
        let problems = check(&cda::parse(sample().as_bytes()).unwrap(), today()).unwrap_err();
        assert!(problems
            .iter()
            .any(|p| p.message.contains("体重 is required")));
    }

    #[test]
    fn a_six_digit_insurer_number_is_written_zero_padded_and_read_back() {
        let mut e = crate::synthetic::Example::vector_one();
        e.insurer = "131151".into();
        let xml = crate::synthetic::document(&e);
        assert!(xml.contains(r#"extension="00131151""#));
        let c = check(&cda::parse(xml.as_bytes()).unwrap(), today()).unwrap();
        assert_eq!(c.insurer.as_str(), "131151");
    }

    #[test]
    fn coded_answers_are_values_of_their_table_of_that_year() {
        let bad = complete().replace(
            r#"<value xsi:type="CD" code="1" codeSystem="1.2.392.200119.6.24060"/>"#,
            r#"<value xsi:type="CD" code="7" codeSystem="1.2.392.200119.6.24060"/>"#,
        );
        let problems = check(&cda::parse(bad.as_bytes()).unwrap(), today()).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("7 is not a value")),
            "{problems:?}"
        );
        // FY2023: 喫煙 with the 第3期 はい/いいえ table is accepted; 3 is not one of its values.
        let v3 = complete()
            .replace("20250601", "20230601")
            .replace("1.2.392.200119.6.24060", "1.2.392.200119.6.2003");
        let c = check(&cda::parse(v3.as_bytes()).unwrap(), today()).unwrap();
        let smoking = c
            .items
            .iter()
            .find(|i| i.code == "9N736000000000011")
            .unwrap();
        assert_eq!(smoking.code_system, "1.2.392.200119.6.2003");
        assert!(check(
            &cda::parse(
                v3.replace(
                    r#"code="1" codeSystem="1.2.392.200119.6.2003"/></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><code code="9N501"#,
                    r#"code="3" codeSystem="1.2.392.200119.6.2003"/></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><code code="9N501"#
                )
                .as_bytes()
            )
            .unwrap(),
            today()
        )
        .is_err());
    }

    #[test]
    fn fiscal_years_and_ages() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(fiscal_year(d(2025, 3, 31)), 2024);
        assert_eq!(fiscal_year(d(2025, 4, 1)), 2025);
        assert_eq!(
            age_in_fiscal_year(d(1950, 4, 1), 2024),
            74,
            "turns 75 on 1 April 2025, after the FY"
        );
        assert_eq!(age_in_fiscal_year(d(1950, 3, 31), 2024), 75);
    }

    /// A complete 特定健診 document of 山田 太郎 (vector 1 of the reference's judgments).
    pub(crate) fn complete() -> String {
        crate::synthetic::document(&crate::synthetic::Example::vector_one())
    }
}
