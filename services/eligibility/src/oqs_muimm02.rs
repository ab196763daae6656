//! `OQSmuimm02` — 照会番号登録 (bulk, second step): the results of an earlier `OQSmuimm01` by its `ReceptionNumber`.

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::oqs_muimm02;
use onshi_wire::msg::oqs_siimm01::Outcome1;
use onshi_wire::msg::FileError;
use onshi_wire::result_codes::ResultKey;

use crate::reference_numbers::{admit, failed, finish, ok_header};
use crate::Eligibility;

/// The handler of `OQSmuimm02req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_muimm02::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let number = &a.request.reception_number;
    let row: sqlx::Result<Option<(serde_json::Value,)>> = sqlx::query_as(
        "SELECT results FROM eligibility.receptions WHERE number = $1 AND facility = $2 AND kind = 'OQSmuimm'",
    )
    .bind(number)
    .bind(a.institution.as_str())
    .fetch_optional(&e.core.pool)
    .await;
    let result = match row {
        Ok(None) => {
            return failed(
                FileError::new(ResultKey::ReceptionUnknown, number).with_echo(&a.echo),
                &req,
                a.encoding,
            )
        }
        Ok(Some((v,))) => serde_json::from_value::<Vec<Outcome1>>(v)
            .map_err(anyhow::Error::from)
            .map(|outcomes| {
                oqs_muimm02::write(
                    &ok_header(&a.echo, req.now, a.encoding, Some(number.clone())),
                    &outcomes,
                    a.form,
                )
            }),
        Err(err) => Err(err.into()),
    };
    finish(result, &a, &req)
}
