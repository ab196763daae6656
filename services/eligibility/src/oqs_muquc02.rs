//! `OQSmuquc02` — 一括照会, step 2: by its `ReceptionNumber`, 処理中 (`SegmentOfResult` 2) while the job runs, then
//! the counts and one `BulkConfirmUnit` per person; an unknown number (or another facility's) is EC0016, an
//! expired one EC0017. [`download`] is the step 2 of every kind answered with `BulkConfirmUnit`s.

use serde_json::Value;

use onshi_platform::control::forced::Force;
use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::codes::{CodeTable, LimitConsent, ProcessingResultStatus, QualificationValidity};
use onshi_wire::ids::{Date, DateTime};
use onshi_wire::msg::oqs_muquc01::Person;
use onshi_wire::msg::oqs_muquc02::{self, Header, Unit};
use onshi_wire::msg::qualification::{apply_medical_aid, Disclosure, QualificationResult};
use onshi_wire::msg::{bulk as wire_bulk, FileError, HeaderEcho};
use onshi_wire::result_codes::ResultKey;

use crate::bulk::{self, Fetched, Kind};
use crate::oqs_muquc01::Answered;
use crate::reference_numbers::{admit, failed, finish, Admitted};
use crate::Eligibility;

/// The handler of `OQSmuquc02req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    download(e, req, Kind::Query, units).await
}

/// How a kind's stored results become units: `(items, the step-1 header, the facility, when the job was done)`.
pub type Units = fn(&[(Value, Value)], &Value, &str, DateTime) -> anyhow::Result<Vec<Unit>>;

/// Step 2 of the kinds answered with `BulkConfirmUnit`s (`OQSmuquc02`, `OQSmuhvq02`, `OQSmuonq02`, `OQSmutic02`):
/// by its `ReceptionNumber`, 処理中 while the job runs (or when forced), then the counts and the units; an unknown
/// number (or another facility's) is EC0016, an expired one EC0017.
pub async fn download(e: &Eligibility, req: Request, kind: Kind, units: Units) -> Reply {
    let a = match admit(e, &req, oqs_muquc02::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let number = a.request.reception_number.clone();
    let fetched = match req.force {
        Some(Force::Processing) => Ok(Fetched::Processing),
        _ => bulk::fetch(e, a.institution.as_str(), kind, &number, req.now).await,
    };
    let result = match fetched {
        Ok(Fetched::Done {
            header,
            items,
            done_at,
        }) => units(
            &items,
            &header,
            a.institution.as_str(),
            DateTime::from_naive(done_at),
        )
        .map(|units| {
            let text = |k: &str| header.get(k).and_then(Value::as_str).map(str::to_string);
            let header = Header {
                process_time: req.now,
                echo: HeaderEcho {
                    confirmation_date: text("QualificationConfirmationDate"),
                    institution: a.echo.institution.clone(),
                    arbitrary_file_identifier: text("ArbitraryFileIdentifier"),
                },
                reception_number: number.clone(),
                encoding: a.encoding,
            };
            oqs_muquc02::write(&header, &units, a.form)
        })
        .and_then(|xml| bulk::package(e, kind, &number, xml, a.form)),
        Ok(Fetched::Processing) => Ok(wire_bulk::write_processing(
            &a.echo, &number, req.now, a.encoding, a.form,
        )),
        Ok(other) => return refusal(other, &a, &req),
        Err(err) => Err(err),
    };
    finish(result, &a, &req)
}

/// The answer to a step-2 request whose job is unknown (also another facility's) or expired.
pub fn refusal<R>(fetched: Fetched, a: &Admitted<R>, req: &Request) -> Reply {
    let key = match fetched {
        Fetched::Expired => ResultKey::ReceptionExpired,
        _ => ResultKey::ReceptionUnknown,
    };
    let number = match req.tree.as_ref().ok().and_then(|t| t.child("MessageBody")) {
        Some(body) => body
            .value("ReceptionNumber")
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    };
    failed(
        FileError::new(key, &number).with_echo(&a.echo),
        req,
        a.encoding,
    )
}

/// The stored results as units, in file order.
fn units(
    items: &[(Value, Value)],
    header: &Value,
    facility: &str,
    done_at: DateTime,
) -> anyhow::Result<Vec<Unit>> {
    let on = header
        .get("QualificationConfirmationDate")
        .and_then(Value::as_str)
        .and_then(|d| Date::parse(d).ok())
        .ok_or_else(|| anyhow::anyhow!("a bulk job without its confirmation date"))?;
    items
        .iter()
        .map(|(input, result)| {
            let person: Person = serde_json::from_value(input.clone())?;
            let answered: Answered = serde_json::from_value(result.clone())?;
            let consented =
                person.search.limit_consent.as_deref() == Some(LimitConsent::Consented.code());
            let disclosure = Disclosure {
                limit_consent: consented,
                specific_consent: consented,
                consent_time: done_at,
            };
            let status = if answered.error.is_some() {
                ProcessingResultStatus::Error
            } else {
                ProcessingResultStatus::Normal
            };
            let mut validity = answered
                .validity
                .as_deref()
                .and_then(QualificationValidity::from_code);
            let result = answered.record.as_ref().map(|r| {
                let mut q = QualificationResult::from_record(r, on, disclosure);
                if let Some(v) = validity {
                    let month = &on.compact()[..6];
                    validity = Some(apply_medical_aid(&mut q, r, facility, month, v));
                }
                q
            });
            Ok(Unit {
                status,
                code: answered.error.or(answered.info),
                validity,
                result,
                reference_number: answered.reference_number,
                search: person.search,
                arbitrary_identifier: person.arbitrary_identifier,
            })
        })
        .collect()
}
