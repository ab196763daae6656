//! The stored results of a person as they are shown: current ones only (not replaced, not deleted), from FY2020
//! and within the last five fiscal years (older ones are kept but not served), newest first. An answer never
//! carries more than [`limits::ANSWER_LINES`] items; more is refused, never cut.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::PgPool;

use onshi_platform::config::limits;
use onshi_wire::msg::tkk_siquc01;

use crate::items::{meaning, Master, Program};
use crate::judge::{Level, Metabolic};
use crate::validate::{fiscal_year, FIRST_FISCAL_YEAR};

/// Fiscal years shown (the current one and the four before).
pub const VIEWABLE_YEARS: i32 = 5;

/// A result and one of its items (none: a result without items).
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: i64,
    program: String,
    checkup_date: NaiveDate,
    fiscal_year: i32,
    institution_name: Option<String>,
    metabolic_submitted: Option<i16>,
    level_submitted: Option<i16>,
    metabolic: Option<i16>,
    level: Option<i16>,
    code: Option<String>,
    value_type: Option<String>,
    value: Option<String>,
    unit: Option<String>,
    code_system: Option<String>,
}

/// One stored checkup with its items.
#[derive(Debug, Clone)]
pub struct Stored {
    pub program: Program,
    pub date: NaiveDate,
    pub fiscal_year: i32,
    pub institution_name: Option<String>,
    pub submitted: (Option<i16>, Option<i16>),
    pub computed: (Option<i16>, Option<i16>),
    pub items: Vec<tkk_siquc01::Item>,
}

/// Why results cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("more than {0} items")]
    TooMany(usize),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The first fiscal year shown on `today`.
pub fn first_viewable(today: NaiveDate) -> i32 {
    (fiscal_year(today) - VIEWABLE_YEARS + 1).max(FIRST_FISCAL_YEAR)
}

/// The viewable results of a person, newest first.
pub async fn viewable(
    pool: &PgPool,
    person: &str,
    today: NaiveDate,
) -> Result<Vec<Stored>, ViewError> {
    // One round trip: each viewable result with its items, newest first.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.id, r.program, r.checkup_date, r.fiscal_year, r.institution_name, r.metabolic_submitted, \
         r.level_submitted, r.metabolic, r.level, i.code, i.value_type, i.value, i.unit, i.code_system \
         FROM checkup.results r LEFT JOIN checkup.items i ON i.result_id = r.id \
         WHERE r.person_id = $1 AND r.replaced_by IS NULL AND r.deleted_at IS NULL \
         AND r.fiscal_year >= $2 AND r.checkup_date <= $3 ORDER BY r.checkup_date DESC, r.id DESC, i.seq LIMIT $4",
    )
    .bind(person)
    .bind(first_viewable(today))
    .bind(today)
    .bind(limits::ANSWER_LINES as i64 + 1)
    .fetch_all(pool)
    .await?;
    if rows.len() > limits::ANSWER_LINES {
        return Err(ViewError::TooMany(limits::ANSWER_LINES));
    }
    let master = Master::get();
    let mut out: Vec<(i64, Stored)> = Vec::new();
    for r in rows {
        if out.last().is_none_or(|(id, _)| *id != r.id) {
            out.push((
                r.id,
                Stored {
                    program: Program::parse(&r.program).unwrap_or(Program::Specific),
                    date: r.checkup_date,
                    fiscal_year: r.fiscal_year,
                    institution_name: r.institution_name.clone(),
                    submitted: (r.metabolic_submitted, r.level_submitted),
                    computed: (r.metabolic, r.level),
                    items: Vec::new(),
                },
            ));
        }
        let Some(code) = r.code else { continue };
        let value = r.value.unwrap_or_default();
        let code_system = r.code_system.unwrap_or_default();
        let item = tkk_siquc01::Item {
            name: master
                .item(&code)
                .map(|m| m.name)
                .unwrap_or_default()
                .to_string(),
            value_name: meaning(&code_system, &value, r.fiscal_year)
                .unwrap_or_default()
                .to_string(),
            code,
            data_type: r.value_type.unwrap_or_default(),
            value,
            unit: r.unit.unwrap_or_default(),
            oid: code_system,
        };
        if let Some((_, s)) = out.last_mut() {
            s.items.push(item);
        }
    }
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// The checkups as `TKKsiquc01res` carries them.
pub fn to_wire(stored: &[Stored]) -> Vec<tkk_siquc01::Checkup> {
    stored
        .iter()
        .map(|s| tkk_siquc01::Checkup {
            date: s.date.format("%Y%m%d").to_string(),
            items: s.items.clone(),
        })
        .collect()
}

/// The lines of the PDF form.
pub fn pdf_lines(name: &str, birth: &str, stored: &[Stored], now: &str) -> Vec<(u8, String)> {
    let mut out = vec![
        (16, "特定健診情報".to_string()),
        (10, format!("氏名 {name}　生年月日 {birth}　作成 {now}")),
        (10, String::new()),
    ];
    if stored.is_empty() {
        out.push((10, "表示できる特定健診情報はありません。".into()));
    }
    for s in stored {
        out.push((
            11,
            format!(
                "{}　{}（{}年度）　{}",
                s.date.format("%Y/%m/%d"),
                s.program.label(),
                s.fiscal_year,
                s.institution_name.as_deref().unwrap_or("")
            ),
        ));
        for i in &s.items {
            let shown = if i.value_name.is_empty() {
                i.value.as_str()
            } else {
                i.value_name.as_str()
            };
            out.push((
                9,
                format!(
                    "  {}　{}{}",
                    i.name,
                    shown,
                    if i.unit.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", i.unit)
                    }
                ),
            ));
        }
    }
    out
}

/// What the patient view shows of one checkup.
#[derive(Debug, Serialize)]
pub struct Year {
    pub date: NaiveDate,
    pub fiscal_year: i32,
    pub program: &'static str,
    pub institution: Option<String>,
    pub metabolic: Option<Judgment>,
    pub level: Option<Judgment>,
    /// The values a person follows (`bmi`, `waist`, `systolic`, `diastolic`, `hba1c`, `glucose`, `tg`, `hdl`,
    /// `ldl`), as numbers.
    pub values: HashMap<&'static str, f64>,
    pub items: usize,
}

/// A judgment as submitted and as computed from the values.
#[derive(Debug, Serialize)]
pub struct Judgment {
    pub submitted: Option<u8>,
    pub computed: Option<u8>,
    pub label: Option<&'static str>,
}

/// One point of a trend.
#[derive(Debug, Serialize)]
pub struct Point {
    pub date: NaiveDate,
    pub value: f64,
}

/// The patient view.
#[derive(Debug, Serialize)]
pub struct PatientView {
    pub person_id: String,
    pub first_fiscal_year: i32,
    pub checkups: Vec<Year>,
    /// Oldest first, per value.
    pub trends: HashMap<&'static str, Vec<Point>>,
}

/// The followed values and the item keys they come from (the first present wins).
const FOLLOWED: &[(&str, &[&str])] = &[
    ("bmi", &["bmi"]),
    ("waist", &["waist"]),
    ("systolic", &["sbp", "sbp2", "sbp1"]),
    ("diastolic", &["dbp", "dbp2", "dbp1"]),
    ("hba1c", &["hba1c"]),
    ("glucose", &["fpg", "rpg"]),
    ("tg", &["tg", "tg_random"]),
    ("hdl", &["hdl"]),
    ("ldl", &["ldl"]),
];

pub async fn patient_view(
    pool: &PgPool,
    person: &str,
    today: NaiveDate,
) -> Result<PatientView, ViewError> {
    let stored = viewable(pool, person, today).await?;
    let master = Master::get();
    let mut trends: HashMap<&'static str, Vec<Point>> = HashMap::new();
    let mut checkups = Vec::new();
    for s in &stored {
        let mut values = HashMap::new();
        for (name, keys) in FOLLOWED {
            let found = keys.iter().find_map(|k| {
                s.items
                    .iter()
                    .filter(|i| master.item(&i.code).is_some_and(|m| m.key == *k))
                    .find_map(|i| i.value.parse::<f64>().ok())
            });
            if let Some(v) = found {
                values.insert(*name, v);
                trends.entry(name).or_default().push(Point {
                    date: s.date,
                    value: v,
                });
            }
        }
        let judgment = |pair: (Option<i16>, Option<i16>),
                        label: fn(&str) -> Option<&'static str>| {
            (pair.0.is_some() || pair.1.is_some()).then(|| Judgment {
                submitted: pair.0.map(|v| v as u8),
                computed: pair.1.map(|v| v as u8),
                label: pair.0.or(pair.1).and_then(|v| label(&v.to_string())),
            })
        };
        checkups.push(Year {
            date: s.date,
            fiscal_year: s.fiscal_year,
            program: s.program.label(),
            institution: s.institution_name.clone(),
            metabolic: judgment((s.submitted.0, s.computed.0), |c| {
                Metabolic::from_code(c).map(Metabolic::label)
            }),
            level: judgment((s.submitted.1, s.computed.1), |c| {
                Level::from_code(c).map(Level::label)
            }),
            values,
            items: s.items.len(),
        });
    }
    for points in trends.values_mut() {
        points.reverse();
    }
    Ok(PatientView {
        person_id: person.to_string(),
        first_fiscal_year: first_viewable(today),
        checkups,
        trends,
    })
}
