//! `OQSsiquc01` — 資格確認 by insurance-card data: request tree → file checks (facility, terminal, date) →
//! per-person keys → decision → `OQSsiquc01res`. [`respond`] is pure and synchronous (no I/O, no lock: callers
//! pass the registry and the time); [`answer`] is the pipeline's handler, which also applies the 2024 re-query rule
//! ([`crate::presentations`]): by default the query records a presentation of the insurance card (in memory); set
//! to `id-only`, it is a re-query checked against the month's presentations, logged, and refused if so set.

use std::borrow::Cow;

use onshi_platform::config::Config;
use onshi_platform::control::forced;
use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::codes::{
    LimitConsent, ProcessingResultStatus, QualificationValidity, ReferenceClassification,
    SegmentOfResult,
};
use onshi_wire::ids::DateTime;
use onshi_wire::msg::oqs_siquc01::{self, Body, Response};
use onshi_wire::msg::qualification::{apply_medical_aid, Disclosure, QualificationResult};
use onshi_wire::msg::{FileError, ResponseHeader};
use onshi_wire::result_codes::{outcome, ResultKey};
use onshi_wire::xml::Element;

use onshi_platform::config::{SingleQuery, Unpresented};

use crate::decide::decide;
use crate::gate::check_facility;
use crate::presentations::{self, How, Requery};
use crate::registry::Registry;
use crate::Eligibility;

/// The handler of `OQSsiquc01req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let Answered {
        mut response,
        confirmed,
    } = {
        let reg = e.registry.read().expect("registry");
        respond(
            &reg,
            &e.core.config,
            req.tree.as_ref(),
            req.terminal(),
            req.now,
        )
    };
    if let Some(f) = req.force {
        forced::apply(&mut response, f);
    } else if let Some(c) = confirmed {
        requery_rule(e, &mut response, c, req.now).await;
    }
    let body = response.write(req.form().output(response.header.encoding));
    Reply::new(body, outcome_label(&response))
}

/// The 2024 re-query rule for a query that confirmed one person.
async fn requery_rule(e: &Eligibility, response: &mut Response, c: Confirmed, now: DateTime) {
    let rule = e.core.config.eligibility.requery;
    if rule.single_query == SingleQuery::Presentation {
        e.presentations
            .record(&c.facility, &c.person, now.naive(), How::InsuranceCard);
        return;
    }
    let presented = match e
        .presentations
        .in_month(
            &e.core.pool,
            &c.facility,
            std::slice::from_ref(&c.person),
            now.naive(),
        )
        .await
    {
        Ok(p) => p,
        Err(err) => {
            tracing::error!(error = %err, "eligibility: presentations unreadable; the re-query is not checked");
            return;
        }
    };
    let last = presented.get(&c.person).copied();
    let refused = last.is_none() && rule.unpresented == Unpresented::Refuse;
    let row = Requery {
        at: now.naive(),
        facility: c.facility,
        person_id: c.person,
        via: "single".into(),
        reception_number: None,
        last_presented: last,
        flagged: last.is_none(),
        refused,
    };
    if let Err(err) = presentations::log(&e.core.pool, std::slice::from_ref(&row)).await {
        tracing::error!(error = %err, "eligibility: the re-query was not logged");
    }
    presentations::count(&e.core.usage, std::slice::from_ref(&row));
    if refused {
        if let Some(b) = response.body.as_mut() {
            b.status = ProcessingResultStatus::Error;
            b.code = Some(outcome(ResultKey::RequeryUnpresented, ""));
            b.validity = None;
            b.results.clear();
        }
    }
}

/// The metrics label of an answer (codes only; never personal data).
pub fn outcome_label(resp: &Response) -> Cow<'static, str> {
    match (&resp.header.error, &resp.body) {
        (Some(_), _) => "file_error".into(),
        (None, Some(b)) if b.status == ProcessingResultStatus::Error => "person_error".into(),
        // Static labels: no allocation per answer.
        (None, Some(b)) => match b.validity {
            Some(QualificationValidity::Valid) => "validity_1",
            Some(QualificationValidity::Invalid) => "validity_2",
            Some(QualificationValidity::InvalidNewExists) => "validity_3",
            Some(QualificationValidity::NotFound) => "validity_4",
            Some(QualificationValidity::Multiple) => "validity_5",
            Some(QualificationValidity::ValidUnregistered) => "validity_6",
            None => "validity_none",
        }
        .into(),
        (None, None) => "empty".into(),
    }
}

/// Who a query confirmed: the facility and the one person answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub facility: String,
    pub person: String,
}

/// An answer, and whom it confirmed (exactly one qualification answered).
#[derive(Debug)]
pub struct Answered {
    pub response: Response,
    pub confirmed: Option<Confirmed>,
}

/// Answers one request tree (from XML or the Web API's JSON). `terminal` is the facility whose folder or login
/// the request came through, when known.
pub fn respond(
    reg: &Registry,
    config: &Config,
    tree: Result<&Element, &FileError>,
    terminal: Option<&str>,
    now: DateTime,
) -> Answered {
    let default_enc = config.response_encoding;
    let failed = |response| Answered {
        response,
        confirmed: None,
    };
    let req = match tree.map_err(Clone::clone).and_then(oqs_siquc01::parse) {
        Ok(r) => r,
        Err(e) => return failed(Response::file_error(e, now, default_enc)),
    };
    let today = now.date();
    let (enc, check) = check_facility(
        reg,
        config,
        req.header.institution.as_str(),
        terminal,
        today,
    );
    let fail = |key, detail: &str| {
        Response::file_error(
            FileError::new(key, detail).with_echo(&req.header.echo),
            now,
            enc,
        )
    };
    if let Err(key) = check {
        return failed(fail(key, ""));
    }
    let on = req.header.confirmation_date;
    if !config.eligibility.rules.allow_future_dates && on > today {
        return failed(fail(ResultKey::FutureDate, &on.compact()));
    }
    let mut confirmed = None;
    let body = match &req.keys {
        Err(o) => Body {
            status: ProcessingResultStatus::Error,
            code: Some(o.clone()),
            validity: None,
            search: Some(req.search.clone()),
            prescription_issue_select: None,
            results: vec![],
            confirmation_key: None,
        },
        Ok(keys) => {
            let d = decide(reg, keys, on, &config.eligibility.rules);
            if let [one] = d.results.as_slice() {
                if d.validity != QualificationValidity::Multiple {
                    confirmed = Some(Confirmed {
                        facility: req.header.institution.as_str().to_string(),
                        person: one.person_id.clone(),
                    });
                }
            }
            let consented = keys.limit_consent == LimitConsent::Consented;
            let disclosure = Disclosure {
                limit_consent: consented,
                specific_consent: consented,
                consent_time: now,
            };
            let mut results: Vec<QualificationResult> = d
                .results
                .iter()
                .map(|r| QualificationResult::from_record(r, on, disclosure))
                .collect();
            let mut validity = d.validity;
            if let ([result], [record]) = (results.as_mut_slice(), d.results.as_slice()) {
                let month = &on.compact()[..6];
                let facility = req.header.institution.as_str();
                validity = apply_medical_aid(result, record, facility, month, validity);
            }
            Body {
                status: ProcessingResultStatus::Normal,
                code: d
                    .expiring
                    .map(|e| outcome(ResultKey::CardExpiring, &e.compact())),
                validity: Some(validity),
                search: Some(req.search.clone()),
                prescription_issue_select: None,
                results,
                confirmation_key: None,
            }
        }
    };
    Answered {
        response: Response {
            header: ResponseHeader {
                process_time: now,
                echo: req.header.echo.clone(),
                reference_classification: ReferenceClassification::InsuranceCard,
                segment: SegmentOfResult::Normal,
                error: None,
                encoding: enc,
            },
            body: Some(body),
        },
        confirmed,
    }
}
