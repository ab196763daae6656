//! `OQSmuquc01` — 一括照会, step 1: the file's header is checked (facility, terminal, date) and its persons become
//! a job of the bulk engine ([`crate::bulk`]), answered at once with a `ReceptionNumber`. The worker answers each
//! person as a single `OQSsiquc01` would ([`process`]); `OQSmuquc02` downloads the results.

use serde_json::Value;

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::codes::{CodeTable, QualificationValidity};
use onshi_wire::ids::Date;
use onshi_wire::msg::oqs_muquc01::{self, Person};
use onshi_wire::msg::oqs_siquc01::keys_of;
use onshi_wire::msg::{bulk as wire_bulk, FileError};
use onshi_wire::record::QualificationRecord;
use onshi_wire::result_codes::{outcome, ResultKey};

use onshi_platform::config::Unpresented;

use crate::bulk::{self, Job, Kind};
use crate::decide::decide;
use crate::presentations::Requery;
use crate::reference_numbers::{self, admit, failed};
use crate::Eligibility;

/// One person's result as stored: the answer `OQSmuquc02` writes, recomputed from nothing but this.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Answered {
    /// `ProcessingResultStatus` 2 with this code and message (the person's keys were wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<(String, String)>,
    /// `QualificationValidity` (OQSCD006).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// The qualification reported, when exactly one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<QualificationRecord>,
    /// An informational code with status 1 (the card expires soon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<(String, String)>,
    /// The 照会番号 the facility registered for the person answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_number: Option<String>,
    /// The 2024 re-query rule: the person re-queried and the month's presentation it rests on (none: flagged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requery: Option<RequeryMark>,
}

/// A bulk person is a re-query by the numbers the facility keeps: whom, and the month's presentation, if any.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RequeryMark {
    pub person: String,
    pub presented: Option<chrono::NaiveDateTime>,
    pub refused: bool,
}

/// The handler of `OQSmuquc01req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_muquc01::parse, |r| {
        (&r.header.institution, &r.header.echo)
    }) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let on = a.request.header.confirmation_date;
    if !e.core.config.eligibility.rules.allow_future_dates && on > req.now.date() {
        let err = FileError::new(ResultKey::FutureDate, &on.compact()).with_echo(&a.echo);
        return failed(err, &req, a.encoding);
    }
    let header = serde_json::json!({
        "QualificationConfirmationDate": on.compact(),
        "ArbitraryFileIdentifier": a.echo.arbitrary_file_identifier,
    });
    let inputs: Vec<String> = a.request.persons.iter().map(bulk::item_text).collect();
    let job = (Kind::Query, header, inputs.as_slice());
    bulk::accept(e, &a, &req, job, wire_bulk::write_receipt).await
}

/// The work of a job: every person decided against the read model as of the file's confirmation date, with the
/// 照会番号 the facility registered for the person answered (`ReferenceNumber`), looked up for the whole job at once.
pub async fn process(e: &Eligibility, job: &Job) -> anyhow::Result<Vec<Value>> {
    let on = job
        .header
        .get("QualificationConfirmationDate")
        .and_then(Value::as_str)
        .and_then(|d| Date::parse(d).ok())
        .ok_or_else(|| anyhow::anyhow!("bulk job {} has no confirmation date", job.number))?;
    let rules = &e.core.config.eligibility.rules;
    let mut answers = {
        let reg = e.registry.read().expect("registry");
        job.inputs
            .iter()
            .map(|input| {
                let person: Person = serde_json::from_value(input.clone())?;
                Ok(match keys_of(&person.search) {
                    Err(o) => Answered {
                        error: Some((o.code, o.message)),
                        ..Answered::default()
                    },
                    Ok(keys) => {
                        let d = decide(&reg, &keys, on, rules);
                        let one =
                            d.validity != QualificationValidity::Multiple && d.results.len() == 1;
                        Answered {
                            validity: Some(d.validity.code().to_string()),
                            record: one.then(|| d.results[0].as_ref().clone()),
                            info: d.expiring.map(|x| {
                                let o = outcome(ResultKey::CardExpiring, &x.compact());
                                (o.code, o.message)
                            }),
                            ..Answered::default()
                        }
                    }
                })
            })
            .collect::<anyhow::Result<Vec<Answered>>>()?
    };
    let persons: Vec<String> = answers
        .iter()
        .filter_map(|a| a.record.as_ref().map(|r| r.person_id.clone()))
        .collect();
    let numbers = reference_numbers::references_for(&e.core.pool, &job.facility, &persons).await?;
    // Every person of a bulk query is a re-query by stored numbers (the 2024 rule).
    let presented = e
        .presentations
        .in_month(&e.core.pool, &job.facility, &persons, job.now.naive())
        .await?;
    let refuse = e.core.config.eligibility.requery.unpresented == Unpresented::Refuse;
    for a in &mut answers {
        let Some(person) = a.record.as_ref().map(|r| r.person_id.clone()) else {
            continue;
        };
        a.reference_number = numbers.get(&person).cloned();
        let last = presented.get(&person).copied();
        let refused = last.is_none() && refuse;
        if refused {
            let o = outcome(ResultKey::RequeryUnpresented, "");
            *a = Answered {
                error: Some((o.code, o.message)),
                ..Answered::default()
            };
        }
        a.requery = Some(RequeryMark {
            person,
            presented: last,
            refused,
        });
    }
    answers
        .into_iter()
        .map(|a| Ok(serde_json::to_value(a)?))
        .collect()
}

/// The requery log rows of a processed job's results (every person answered is a re-query by stored numbers).
pub fn requeries(job: &Job, results: &[Value]) -> Vec<Requery> {
    results
        .iter()
        .filter_map(|v| serde_json::from_value::<Answered>(v.clone()).ok()?.requery)
        .map(|m| Requery {
            at: job.now.naive(),
            facility: job.facility.clone(),
            person_id: m.person,
            via: "bulk".into(),
            reception_number: Some(job.number.clone()),
            last_presented: m.presented,
            flagged: m.presented.is_none(),
            refused: m.refused,
        })
        .collect()
}
