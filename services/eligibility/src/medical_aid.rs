//! `OQSmutic01/02` — 医療扶助 (生活保護) bulk query by `MedicalTreatmentMonth` (reference §2.5): step 1 becomes a job
//! of the bulk engine ([`crate::bulk`]), answered with a `ReceptionNumber`; the job lists the recipients whose
//! 医療券・調剤券 of that month designate the facility (the read model's ticket index), each with the qualification
//! (公費負担者番号, 受給者番号, 福祉事務所名) and the month's `PublicExpenseResultList`; step 2 downloads them like
//! `OQSmuquc02`. Single confirmations of recipients go through `OQSsiquc01` and the card reader, with
//! [`onshi_wire::msg::qualification::apply_medical_aid`] (validity 6 有効（未登録） without a ticket for the month).

use serde_json::Value;

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::codes::{ProcessingResultStatus, QualificationValidity};
use onshi_wire::ids::DateTime;
use onshi_wire::msg::bulk as wire_bulk;
use onshi_wire::msg::oqs_muquc02::Unit;
use onshi_wire::msg::oqs_mutic01;
use onshi_wire::msg::oqs_siquc01::SearchEcho;
use onshi_wire::msg::qualification::{apply_medical_aid, Disclosure, QualificationResult};
use onshi_wire::record::QualificationRecord;

use crate::bulk::{self, Job, Kind};
use crate::reference_numbers::admit;
use crate::Eligibility;

/// The handler of `OQSmutic01req`.
pub async fn receive(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_mutic01::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let header = serde_json::json!({
        "ArbitraryFileIdentifier": a.echo.arbitrary_file_identifier,
        "received": req.now.compact(),
    });
    let inputs = [bulk::item_text(&a.request.month)];
    let job = (Kind::MedicalAid, header, inputs.as_slice());
    bulk::accept(e, &a, &req, job, wire_bulk::write_receipt).await
}

/// The work of a job: the recipients with a ticket of the month for the facility, their record as of today.
pub fn process(e: &Eligibility, job: &Job) -> anyhow::Result<Vec<Value>> {
    let month: String = serde_json::from_value(
        job.inputs
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("医療扶助 job {} has no month", job.number))?,
    )?;
    let today = job.now.date();
    let reg = e.registry.read().expect("registry");
    let recipients: Vec<QualificationRecord> = reg
        .with_tickets(&job.facility, &month)
        .map(|q| q.shown_on(today).record.as_ref().clone())
        .filter(|r| {
            r.medical_tickets
                .iter()
                .any(|t| t.month == month && t.institution.as_str() == job.facility)
        })
        .collect();
    Ok(vec![
        serde_json::json!({"month": month, "recipients": recipients}),
    ])
}

/// How many recipients a processed job found (for the usage statistics).
pub fn persons(results: &[Value]) -> Option<i64> {
    Some(results.first()?.get("recipients")?.as_array()?.len() as i64)
}

/// The handler of `OQSmutic02req`.
pub async fn download(e: &Eligibility, req: Request) -> Reply {
    crate::oqs_muquc02::download(e, req, Kind::MedicalAid, units).await
}

/// The stored recipients as units: their card data as the search echo, the month's tickets.
fn units(
    items: &[(Value, Value)],
    _header: &Value,
    facility: &str,
    done_at: DateTime,
) -> anyhow::Result<Vec<Unit>> {
    let Some((_, result)) = items.first() else {
        return Ok(vec![]);
    };
    let month = result
        .get("month")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let recipients: Vec<QualificationRecord> =
        serde_json::from_value(result.get("recipients").cloned().unwrap_or_default())?;
    let today = done_at.date();
    Ok(recipients
        .iter()
        .map(|r| {
            let valid =
                r.qualification_date <= today && r.disqualification_date.is_none_or(|d| today < d);
            let validity = if valid {
                QualificationValidity::Valid
            } else {
                QualificationValidity::Invalid
            };
            let mut q = QualificationResult::from_record(
                r,
                today,
                Disclosure {
                    limit_consent: false,
                    specific_consent: false,
                    consent_time: done_at,
                },
            );
            let validity = apply_medical_aid(&mut q, r, facility, &month, validity);
            Unit {
                search: SearchEcho::of_record(r),
                arbitrary_identifier: None,
                status: ProcessingResultStatus::Normal,
                code: None,
                validity: Some(validity),
                result: Some(q),
                reference_number: None,
            }
        })
        .collect())
}
