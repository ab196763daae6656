//! `TKKsiquc01` — 特定健診情報 retrieval: the patient's checkups of the viewable fiscal years for a facility that holds
//! the patient's 特定健診 consent (or a declared disaster), as XML (`FileCategory` 2) or the PDF form (1). Errors are
//! `ResultCode` 2 with `MessageContents`. Every view and every refusal goes through the consent service's access
//! decision and log.

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::tkk_siquc01::{self, Patient};
use onshi_wire::msg::HeaderEcho;
use onshi_wire::xml::Encoding;

use crate::results::{self, ViewError};
use crate::Checkups;

/// The handler of `TKKsiquc01req` (every door).
pub async fn answer(m: &Checkups, req: Request) -> Reply {
    let now = req.now;
    let fail = |echo: &HeaderEcho, enc: Encoding, message: &str, label: &'static str| {
        let body = tkk_siquc01::write(echo, None, Err(message), req.form().output(enc));
        Reply::new(body, label)
    };
    let parsed = req
        .tree
        .as_ref()
        .map_err(Clone::clone)
        .and_then(tkk_siquc01::parse);
    let r = match parsed {
        Ok(r) => r,
        Err(e) => {
            return fail(
                &e.echo,
                req.default_encoding,
                &e.outcome.message,
                "file_error",
            )
        }
    };
    let admitted = onshi_consent::port::admit(
        m.directory.as_ref(),
        m.consent.as_ref(),
        &r.patient,
        (&[onshi_consent::Kind::Checkup], &[]),
        req.terminal(),
        now,
    )
    .await;
    let (person, enc) = match admitted {
        Ok(a) => (a.person, a.encoding),
        Err(d) => return fail(&r.patient.echo, d.encoding, &d.message, d.label),
    };
    let stored = match results::viewable(&m.core.pool, &person.person_id, now.naive().date()).await
    {
        Ok(s) => s,
        Err(ViewError::TooMany(cap)) => {
            let message = format!("該当する情報が多すぎます（{cap}項目超）。");
            return fail(&r.patient.echo, enc, &message, "too_many");
        }
        Err(e) => {
            tracing::error!(error = %e, "checkup: results query failed");
            return fail(
                &r.patient.echo,
                enc,
                "処理できませんでした。",
                "internal_error",
            );
        }
    };
    let birth = person.birth.compact();
    if r.file_category == 1 {
        let lines = results::pdf_lines(&person.name, &birth, &stored, &now.compact());
        return Reply::new(onshi_platform::pdf::document(&lines), "pdf");
    }
    let patient = Patient {
        name: person.name.clone(),
        kana: person.kana.clone(),
        birth,
        sex: person.sex.clone(),
    };
    let checkups = results::to_wire(&stored);
    let body = tkk_siquc01::write(
        &r.patient.echo,
        Some(&patient),
        Ok(&checkups),
        req.form().output(enc),
    );
    Reply::new(body, "answered")
}
