//! `OQSmuimm01` — 照会番号登録 (bulk, first step): registers every number of the file and answers a receipt with a
//! `ReceptionNumber`; the results are fetched with `OQSmuimm02`.

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::oqs_muimm01;

use crate::reference_numbers::{admit, finish, ok_header, reception_number, register};
use crate::Eligibility;

/// The handler of `OQSmuimm01req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_muimm01::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let result = async {
        let code = a.institution.as_str();
        let mut outcomes = Vec::with_capacity(a.request.items.len());
        for (info, keys) in &a.request.items {
            outcomes.push(register(e, code, info.clone(), keys.clone(), req.now).await?);
        }
        let number = reception_number(req.now);
        sqlx::query(
            "INSERT INTO eligibility.receptions (number, facility, kind, received_at, results) \
             VALUES ($1, $2, 'OQSmuimm', $3, $4)",
        )
        .bind(&number)
        .bind(code)
        .bind(req.now.naive())
        .bind(serde_json::to_value(&outcomes)?)
        .execute(&e.core.pool)
        .await?;
        Ok(oqs_muimm01::write(
            &ok_header(&a.echo, req.now, a.encoding, None),
            Some((&number, req.now)),
            a.form,
        ))
    }
    .await;
    finish(result, &a, &req)
}
