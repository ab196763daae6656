//! `OQSsiimm01` — 照会番号登録 (single): registers the facility's own patient number for one qualification.

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::oqs_siimm01;

use crate::reference_numbers::{admit, finish, ok_header, register};
use crate::Eligibility;

/// The handler of `OQSsiimm01req` (every door).
pub async fn answer(e: &Eligibility, req: Request) -> Reply {
    let a = match admit(e, &req, oqs_siimm01::parse, |r| (&r.institution, &r.echo)) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let r = &a.request;
    let result = register(
        e,
        a.institution.as_str(),
        r.info.clone(),
        r.keys.clone(),
        req.now,
    )
    .await
    .map(|o| {
        oqs_siimm01::write(
            &ok_header(&a.echo, req.now, a.encoding, None),
            Some(&o),
            a.form,
        )
    });
    finish(result, &a, &req)
}
