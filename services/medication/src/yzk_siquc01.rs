//! `YZKsiquc01` — 薬剤情報 (and 診療情報) retrieval: the patient's medication history for a facility that holds
//! the patient's consent (or a declared disaster), as XML for an even `FileCategory` or the PDF form for an odd
//! one. Errors are `ResultCode` 2 with `MessageContents`. Every view goes through the consent service's access
//! decision and log.

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::yzk_siquc01::{self, Patient};
use onshi_wire::msg::HeaderEcho;
use onshi_wire::result_codes::outcome;
use onshi_wire::xml::Encoding;

use crate::{pdf, Medication};

/// The handler of `YZKsiquc01req` (every door).
pub async fn answer(m: &Medication, req: Request) -> Reply {
    let now = req.now;
    let fail = |echo: &HeaderEcho, enc: Encoding, message: &str, label: &'static str| {
        let body = yzk_siquc01::write(echo, None, Err(message), req.form().output(enc));
        Reply::new(body, label)
    };
    let parsed = req
        .tree
        .as_ref()
        .map_err(Clone::clone)
        .and_then(yzk_siquc01::parse);
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
    let (enc, check) = m
        .directory
        .facility(r.institution.as_str(), req.terminal(), now.date());
    if let Err(key) = check {
        return fail(&r.echo, enc, &outcome(key, "").message, "file_error");
    }
    let Some(person) = m.directory.person(
        &r.insurer,
        &r.symbol,
        &r.number,
        Some(&r.branch.as_string()),
        None,
    ) else {
        return fail(
            &r.echo,
            enc,
            "該当する資格情報が存在しません。",
            "unknown_person",
        );
    };
    let allowed = m
        .consent
        .view(
            &person.person_id,
            &r.institution,
            onshi_consent::Kind::Medication,
            now.naive(),
        )
        .await;
    match allowed {
        Err(e) => {
            tracing::error!(error = %e, "medication: access check failed");
            return fail(&r.echo, enc, "処理できませんでした。", "internal_error");
        }
        Ok(Err(refusal)) => return fail(&r.echo, enc, refusal.message(), "refused"),
        Ok(Ok(_)) => {}
    }
    let months = m
        .history(
            &person.person_id,
            r.from_month.as_deref(),
            r.to_month.as_deref(),
            r.file_category >= 3,
        )
        .await;
    let months = match months {
        Ok(months) => months,
        Err(crate::history::HistoryError::TooMany(cap)) => {
            let message = format!("該当する情報が多すぎます（{cap}件超）。期間（StartDate・EndDate）を狭めてください。");
            return fail(&r.echo, enc, &message, "too_many");
        }
        Err(e) => {
            tracing::error!(error = %e, "medication: history query failed");
            return fail(&r.echo, enc, "処理できませんでした。", "internal_error");
        }
    };
    let patient = Patient {
        name: person.name.clone(),
        kana: person.kana.clone(),
        birth: person.birth.compact(),
        sex: person.sex.clone(),
    };
    if r.file_category % 2 == 1 {
        return Reply::new(pdf::write(&patient, &months, &now.compact()), "pdf");
    }
    let body = yzk_siquc01::write(&r.echo, Some(&patient), Ok(&months), req.form().output(enc));
    Reply::new(body, "answered")
}
