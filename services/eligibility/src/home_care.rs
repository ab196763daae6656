//! `OQSmuhvq01/02` (訪問診療等) and `OQSmuonq01/02` (オンライン診療等) — the 居宅同意取得型 bulk queries (reference
//! §1.6, §2.5): step 1 names a date range (consent date, or for online the examination date) and becomes a job of
//! the bulk engine ([`crate::bulk`]), answered with a `ReceptionNumber`; the job asks the consent service
//! ([`onshi_consent::port::HomeCarePort`]) which patients consented for that care at the facility in the range, and
//! answers each with their qualification today and each kind's consent — 1 同意あり, or 2 同意有効期限切れ once the
//! continuing consent has ended or was revoked; step 2 downloads them like `OQSmuquc02`.
//!
//! The examination date (受診日) of an online consultation is taken as the day the patient consented for it [I]:
//! the simulator records no consultations.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::codes::{ConsentStatus, ProcessingResultStatus, QualificationValidity};
use onshi_wire::ids::{Date, DateTime};
use onshi_wire::msg::home_care::{self, Basis, Care};
use onshi_wire::msg::oqs_muquc02::Unit;
use onshi_wire::msg::oqs_siquc01::SearchEcho;
use onshi_wire::msg::qualification::{apply_medical_aid, Consent, Disclosure, QualificationResult};
use onshi_wire::msg::{bulk as wire_bulk, FileError};
use onshi_wire::record::QualificationRecord;
use onshi_wire::result_codes::ResultKey;

use crate::bulk::{self, Job, Kind};
use crate::reference_numbers::{admit, failed};
use crate::Eligibility;

fn kind(care: Care) -> Kind {
    match care {
        Care::Visit => Kind::HomeVisit,
        Care::Online => Kind::HomeOnline,
    }
}

fn parse_visit(root: &onshi_wire::xml::Element) -> Result<home_care::Request, FileError> {
    home_care::parse(root, Care::Visit)
}

fn parse_online(root: &onshi_wire::xml::Element) -> Result<home_care::Request, FileError> {
    home_care::parse(root, Care::Online)
}

/// What a job asks, as stored (its one item).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Criteria {
    care: Care,
    basis: Basis,
    from: String,
    to: String,
}

/// The handler of `OQSmuhvq01req` / `OQSmuonq01req`.
pub async fn receive(e: &Eligibility, req: Request, care: Care) -> Reply {
    let parse = match care {
        Care::Visit => parse_visit,
        Care::Online => parse_online,
    };
    let a = match admit(e, &req, parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let limited = e.is_qualification_only(a.institution.as_str());
    if e.home_care().is_none() || limited {
        let detail = if e.home_care().is_none() {
            "no consent service in this process"
        } else {
            "資格確認限定型"
        };
        let err = FileError::new(ResultKey::UnsupportedMessage, detail).with_echo(&a.echo);
        return failed(err, &req, a.encoding);
    }
    let r = &a.request;
    let criteria = Criteria {
        care,
        basis: r.basis,
        from: r.from.compact(),
        to: r.to.compact(),
    };
    // The receipt time keeps the same range asked again later a new job (new consents may have come since).
    let header = serde_json::json!({
        "ArbitraryFileIdentifier": a.echo.arbitrary_file_identifier,
        "received": req.now.compact(),
    });
    let inputs = [bulk::item_text(&criteria)];
    let job = (kind(care), header, inputs.as_slice());
    bulk::accept(e, &a, &req, job, wire_bulk::write_receipt).await
}

/// One patient's answer as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Patient {
    record: Option<QualificationRecord>,
    valid: bool,
    /// (OQSCD036 kind, OQSCD016 status, consent time, end of the consent).
    kinds: Vec<(String, String, String, String)>,
}

/// The work of a job: the consented patients and their qualification today.
pub async fn process(e: &Eligibility, job: &Job) -> anyhow::Result<Vec<Value>> {
    use onshi_wire::codes::CodeTable;
    let port = e
        .home_care()
        .ok_or_else(|| anyhow::anyhow!("no consent service for home-care job {}", job.number))?;
    let c: Criteria = serde_json::from_value(
        job.inputs
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("home-care job {} has no criteria", job.number))?,
    )?;
    let range = (Date::parse(&c.from)?.naive(), Date::parse(&c.to)?.naive());
    let found = port
        .home_patients(&job.facility, c.care, range, job.now.naive())
        .await?;
    let today = job.now.date();
    let patients: Vec<Patient> = found
        .into_iter()
        .map(|p| {
            let q = e.current_qualification(&p.person, today);
            Patient {
                valid: q.as_ref().is_some_and(|q| q.valid),
                record: q.map(|q| (*q.record).clone()),
                kinds: p
                    .kinds
                    .iter()
                    .map(|k| {
                        (
                            k.kind.code().to_string(),
                            k.status.code().to_string(),
                            DateTime::from_naive(k.at).compact(),
                            DateTime::from_naive(k.until).compact(),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(vec![serde_json::to_value(patients)?])
}

/// How many patients a processed job found (for the usage statistics).
pub fn persons(results: &[Value]) -> Option<i64> {
    Some(results.first()?.as_array()?.len() as i64)
}

/// The handler of `OQSmuhvq02req` / `OQSmuonq02req`.
pub async fn download(e: &Eligibility, req: Request, care: Care) -> Reply {
    crate::oqs_muquc02::download(e, req, kind(care), units).await
}

/// The stored patients as units: the qualification (its card data as the search echo) with each kind's consent.
fn units(
    items: &[(Value, Value)],
    _header: &Value,
    facility: &str,
    done_at: DateTime,
) -> anyhow::Result<Vec<Unit>> {
    use onshi_wire::codes::CodeTable;
    let Some((_, result)) = items.first() else {
        return Ok(vec![]);
    };
    let patients: Vec<Patient> = serde_json::from_value(result.clone())?;
    let today = done_at.date();
    Ok(patients
        .into_iter()
        .map(|p| {
            let consent = |code: &str| {
                p.kinds
                    .iter()
                    .find(|k| k.0 == code)
                    .map(|(_, status, at, until)| Consent {
                        flag: ConsentStatus::from_code(status).unwrap_or(ConsentStatus::NoConsent),
                        time: DateTime::parse(at).ok(),
                        available_until: DateTime::parse(until).ok(),
                    })
                    .or(Some(Consent {
                        flag: ConsentStatus::NoConsent,
                        time: None,
                        available_until: None,
                    }))
            };
            let mut validity = match (&p.record, p.valid) {
                (None, _) => QualificationValidity::NotFound,
                (Some(_), true) => QualificationValidity::Valid,
                (Some(_), false) => QualificationValidity::Invalid,
            };
            let result = p.record.as_ref().map(|r| {
                let mut q = QualificationResult::from_record(
                    r,
                    today,
                    Disclosure {
                        limit_consent: false,
                        specific_consent: false,
                        consent_time: done_at,
                    },
                );
                q.pharmacists_consent = consent("YZK");
                q.diagnosis_consent = consent("SRJ");
                q.operation_consent = consent("SHJ");
                q.checkup_consent = consent("TKK");
                validity = apply_medical_aid(&mut q, r, facility, &today.compact()[..6], validity);
                q
            });
            let search = p
                .record
                .as_ref()
                .map_or_else(SearchEcho::default, SearchEcho::of_record);
            Unit {
                search,
                arbitrary_identifier: None,
                status: ProcessingResultStatus::Normal,
                code: None,
                validity: Some(validity),
                result,
                reference_number: None,
            }
        })
        .collect())
}
