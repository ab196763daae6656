//! `OQSmuimm01` — 照会番号登録 (bulk, first step): the file becomes a job of the bulk engine ([`crate::bulk`]) and
//! is answered at once with a `ReceptionNumber`; the worker registers every number ([`process`]); the results are
//! fetched with `OQSmuimm02`.

use serde_json::Value;

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::oqs_muimm01;
use onshi_wire::msg::oqs_siimm01::{keys_of, Outcome1, RegistrationEcho};

use crate::bulk::{self, Job, Kind};
use crate::reference_numbers::{admit, register};
use crate::Eligibility;

/// The handler of `OQSmuimm01req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_muimm01::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let inputs: Vec<String> = a
        .request
        .items
        .iter()
        .map(|(info, _)| bulk::item_text(info))
        .collect();
    let header = serde_json::json!({"ArbitraryFileIdentifier": a.echo.arbitrary_file_identifier});
    let job = (Kind::Registration, header, inputs.as_slice());
    bulk::accept(e, &a, &req, job, oqs_muimm01::write).await
}

/// The work of a job: each registration in turn (an upsert: a job processed again changes nothing more).
pub async fn process(e: &Eligibility, job: &Job) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::with_capacity(job.inputs.len());
    for input in &job.inputs {
        let info: RegistrationEcho = serde_json::from_value(input.clone())?;
        let keys = keys_of(&info);
        let outcome: Outcome1 = register(e, &job.facility, info, keys, job.now).await?;
        out.push(serde_json::to_value(outcome)?);
    }
    Ok(out)
}
