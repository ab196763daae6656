//! `OQSsiquc01` — 資格確認 by insurance-card data: request tree → file checks (facility, terminal, date) →
//! per-person keys → decision → `OQSsiquc01res`. [`respond`] is pure and synchronous (no I/O, no lock: callers
//! pass the registry and the time); [`answer`] is the pipeline's handler.

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
use onshi_wire::msg::qualification::{Disclosure, QualificationResult};
use onshi_wire::msg::{FileError, ResponseHeader};
use onshi_wire::result_codes::{outcome, ResultKey};
use onshi_wire::xml::Element;

use crate::decide::decide;
use crate::gate::check_facility;
use crate::registry::Registry;
use crate::Eligibility;

/// The handler of `OQSsiquc01req` (every door).
pub fn answer(e: &Eligibility, req: Request) -> Reply {
    let mut resp = {
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
        forced::apply(&mut resp, f);
    }
    let body = resp.write(req.form().output(resp.header.encoding));
    Reply::new(body, outcome_label(&resp))
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

/// Answers one request tree (from XML or the Web API's JSON). `terminal` is the facility whose folder or login
/// the request came through, when known.
pub fn respond(
    reg: &Registry,
    config: &Config,
    tree: Result<&Element, &FileError>,
    terminal: Option<&str>,
    now: DateTime,
) -> Response {
    let default_enc = config.response_encoding;
    let req = match tree.map_err(Clone::clone).and_then(oqs_siquc01::parse) {
        Ok(r) => r,
        Err(e) => return Response::file_error(e, now, default_enc),
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
        return fail(key, "");
    }
    let on = req.header.confirmation_date;
    if !config.eligibility.rules.allow_future_dates && on > today {
        return fail(ResultKey::FutureDate, &on.compact());
    }
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
            let consented = keys.limit_consent == LimitConsent::Consented;
            let disclosure = Disclosure {
                limit_consent: consented,
                specific_consent: consented,
                consent_time: now,
            };
            Body {
                status: ProcessingResultStatus::Normal,
                code: d
                    .expiring
                    .map(|e| outcome(ResultKey::CardExpiring, &e.compact())),
                validity: Some(d.validity),
                search: Some(req.search.clone()),
                prescription_issue_select: None,
                results: d
                    .results
                    .iter()
                    .map(|r| QualificationResult::from_record(r, on, disclosure))
                    .collect(),
                confirmation_key: None,
            }
        }
    };
    Response {
        header: ResponseHeader {
            process_time: now,
            echo: req.header.echo.clone(),
            reference_classification: ReferenceClassification::InsuranceCard,
            segment: SegmentOfResult::Normal,
            error: None,
            encoding: enc,
        },
        body: Some(body),
    }
}
