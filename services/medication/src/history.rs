//! The 薬剤情報 history of a person as `YZKsiquc01res` carries it: visible, current (not superseded), last 3 years,
//! grouped by month, institution and prescriber, then by day; with 診療行為 for the 診療情報 categories.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use onshi_wire::ids::Date;
use onshi_wire::msg::yzk_siquc01::{Day, Drug, MonthInf, Procedure};

use crate::{Medication, HISTORY_DAYS, NOT_IN_PROCEDURE_MASTER};

/// Why a history cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// More lines than one answer carries ([`onshi_platform::config::limits::ANSWER_LINES`]).
    #[error("more than {0} lines")]
    TooMany(usize),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A stored dispensing as the history reads it.
#[derive(sqlx::FromRow)]
struct DispensingRow {
    date: NaiveDate,
    prescribed_on: Option<NaiveDate>,
    facility: String,
    facility_name: Option<String>,
    prescriber: Option<String>,
    prescriber_name: Option<String>,
    in_out: String,
    use_class: String,
    drug_code: String,
    drug_name: String,
    ingredient: Option<String>,
    usage: Option<String>,
    dose: Option<String>,
    quantity: Option<String>,
    unit: Option<String>,
    treatment_month: String,
    special: Option<String>,
}

/// A stored 診療行為 as the history reads it, named by the 診療行為マスター when it knows the code.
#[derive(sqlx::FromRow)]
struct ProcedureRow {
    date: NaiveDate,
    facility: String,
    code: String,
    class: String,
    quantity: Option<String>,
    count: String,
    month: String,
    name: Option<String>,
    unit: Option<String>,
}

/// The 診療識別 of 手術 (the claims' K lines): 手術情報, shown only under its own consent.
pub const SURGERY_CLASS: &str = "50";

/// Which 診療行為 a history includes: none (薬剤情報 only), those of 診療情報 without the 手術 lines (no 手術情報
/// consent), or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedures {
    None,
    WithoutSurgery,
    All,
}

impl Medication {
    /// The visible, current (not superseded), last-3-years medication of a person, grouped by institution and
    /// month, then by day.
    pub async fn history(
        &self,
        person: &str,
        from: Option<&str>,
        to: Option<&str>,
        procedures: Procedures,
    ) -> Result<Vec<MonthInf>, HistoryError> {
        let cap = onshi_platform::config::limits::ANSWER_LINES;
        let now = self.core.clock.now();
        let since = now.date() - chrono::TimeDelta::days(HISTORY_DAYS);
        let rows: Vec<DispensingRow> = sqlx::query_as(
            "SELECT d.date, d.prescribed_on, d.facility, d.facility_name, d.prescriber, d.prescriber_name, d.in_out, \
             d.use_class, d.drug_code, d.drug_name, d.ingredient, d.usage, d.dose, d.quantity, d.unit, d.treatment_month, \
             d.special FROM medication.dispensings d JOIN medication.receipts r ON r.id = d.receipt_id \
             WHERE d.person_id = $1 AND r.superseded_by IS NULL AND d.visible_from <= $2 AND d.date >= $3 \
               AND ($4::text IS NULL OR d.treatment_month >= $4) AND ($5::text IS NULL OR d.treatment_month <= $5) \
             ORDER BY d.treatment_month, d.facility, d.date, d.id LIMIT $6",
        )
        .bind(person)
        .bind(now)
        .bind(since)
        .bind(from)
        .bind(to)
        .bind(cap as i64 + 1)
        .fetch_all(&self.core.pool)
        .await?;
        if rows.len() > cap {
            return Err(HistoryError::TooMany(cap));
        }
        let rows_len = rows.len();
        let mut months: BTreeMap<(String, String, String), MonthInf> = BTreeMap::new();
        for r in rows {
            let m = months
                .entry((
                    r.treatment_month.clone(),
                    r.facility.clone(),
                    r.prescriber.clone().unwrap_or_default(),
                ))
                .or_insert_with(|| MonthInf {
                    pharmacy: r.in_out == "2",
                    org: r.facility[2..3].to_string(),
                    facility: r.facility.clone(),
                    facility_name: r.facility_name.clone().unwrap_or_default(),
                    prescriber: r.prescriber.clone().unwrap_or_default(),
                    prescriber_name: r.prescriber_name.clone().unwrap_or_default(),
                    month: r.treatment_month.clone(),
                    in_out: r.in_out.clone(),
                    days: vec![],
                });
            let date = Date::from_naive(r.date).compact();
            if m.days.last().is_none_or(|d| d.date != date) {
                m.days.push(Day {
                    date: date.clone(),
                    prescribed: r.prescribed_on.map(|p| Date::from_naive(p).compact()),
                    drugs: vec![],
                    procedures: vec![],
                });
            }
            m.days.last_mut().expect("pushed").drugs.push(Drug {
                code: r.drug_code,
                name: r.drug_name,
                quantity: r.dose.unwrap_or_default(),
                unit: r.unit.unwrap_or_default(),
                usage: r.usage.unwrap_or_default(),
                times: r.quantity.unwrap_or_default(),
                ingredient: r.ingredient.unwrap_or_default(),
                use_class: r.use_class,
                special: r.special.unwrap_or_default(),
            });
        }
        if procedures != Procedures::None {
            let procs: Vec<ProcedureRow> = sqlx::query_as(
                "SELECT p.date, p.facility, p.code, p.shinryo AS class, p.quantity, p.count, p.treatment_month AS month, \
                   m.name, m.unit \
                 FROM medication.procedures p JOIN medication.receipts r ON r.id = p.receipt_id \
                   LEFT JOIN medication.procedure_master m ON m.code = p.code \
                 WHERE p.person_id = $1 AND r.superseded_by IS NULL AND p.visible_from <= $2 AND p.date >= $3 \
                   AND ($4::text IS NULL OR p.treatment_month >= $4) AND ($5::text IS NULL OR p.treatment_month <= $5) \
                   AND ($7 OR p.shinryo <> $8) \
                 ORDER BY p.treatment_month, p.facility, p.date, p.id LIMIT $6",
            )
            .bind(person)
            .bind(now)
            .bind(since)
            .bind(from)
            .bind(to)
            .bind((cap - rows_len) as i64 + 1)
            .bind(procedures == Procedures::All)
            .bind(SURGERY_CLASS)
            .fetch_all(&self.core.pool)
            .await?;
            if procs.len() > cap - rows_len {
                return Err(HistoryError::TooMany(cap));
            }
            for ProcedureRow {
                date,
                facility,
                code,
                class,
                quantity,
                count,
                month,
                name,
                unit,
            } in procs
            {
                let m = months
                    .entry((month.clone(), facility.clone(), facility.clone()))
                    .or_insert_with(|| MonthInf {
                        pharmacy: false,
                        org: facility[2..3].to_string(),
                        facility: facility.clone(),
                        facility_name: String::new(),
                        prescriber: facility.clone(),
                        prescriber_name: String::new(),
                        month,
                        in_out: "1".into(),
                        days: vec![],
                    });
                let date = Date::from_naive(date).compact();
                let i = match m.days.iter().position(|d| d.date == date) {
                    Some(i) => i,
                    None => {
                        let at = m.days.partition_point(|d| d.date < date);
                        m.days.insert(
                            at,
                            Day {
                                date: date.clone(),
                                prescribed: None,
                                drugs: vec![],
                                procedures: vec![],
                            },
                        );
                        at
                    }
                };
                m.days[i].procedures.push(Procedure {
                    name: name.unwrap_or_else(|| format!("{NOT_IN_PROCEDURE_MASTER}{code}")),
                    code,
                    class,
                    quantity: quantity.unwrap_or_default(),
                    times: count,
                    unit: unit.unwrap_or_default(),
                });
            }
        }
        Ok(months.into_values().collect())
    }
}
