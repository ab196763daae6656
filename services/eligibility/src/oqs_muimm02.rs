//! `OQSmuimm02` — 照会番号登録 (bulk, second step): by its `ReceptionNumber`, 処理中 while the job runs, then the
//! results of the `OQSmuimm01` job ([`crate::bulk`]).

use onshi_platform::control::forced::Force;
use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::oqs_siimm01::Outcome1;
use onshi_wire::msg::{bulk as wire_bulk, oqs_muimm02};

use crate::bulk::{self, Fetched, Kind};
use crate::oqs_muquc02::refusal;
use crate::reference_numbers::{admit, finish, ok_header};
use crate::Eligibility;

/// The handler of `OQSmuimm02req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_muimm02::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let number = &a.request.reception_number;
    let fetched = match req.force {
        Some(Force::Processing) => Ok(Fetched::Processing),
        _ => {
            bulk::fetch(
                e,
                a.institution.as_str(),
                Kind::Registration,
                number,
                req.now,
            )
            .await
        }
    };
    let result = match fetched {
        Ok(Fetched::Done { items, .. }) => items
            .into_iter()
            .map(|(_, result)| serde_json::from_value::<Outcome1>(result))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::from)
            .map(|outcomes| {
                oqs_muimm02::write(
                    &ok_header(&a.echo, req.now, a.encoding, Some(number.clone())),
                    &outcomes,
                    a.form,
                )
            })
            .and_then(|xml| bulk::package(e, Kind::Registration, number, xml, a.form)),
        Ok(Fetched::Processing) => Ok(wire_bulk::write_processing(
            &a.echo, number, req.now, a.encoding, a.form,
        )),
        Ok(other) => return refusal(other, &a, &req),
        Err(err) => Err(err),
    };
    finish(result, &a, &req)
}
