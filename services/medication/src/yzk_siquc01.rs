//! `YZKsiquc01` — 薬剤情報 (and 診療情報) retrieval: the patient's medication history for a facility that holds
//! the patient's consent (or a declared disaster), as XML for an even `FileCategory` or the PDF form for an odd
//! one. Errors are `ResultCode` 2 with `MessageContents`. Every view goes through the consent service's access
//! decision and log.

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::msg::yzk_siquc01::{self, Patient};
use onshi_wire::msg::HeaderEcho;
use onshi_wire::xml::Encoding;

use onshi_consent::Kind;

use crate::history::Procedures;
use crate::{pdf, Medication};

/// The handler of `YZKsiquc01req` (every door).
pub async fn answer(m: &Medication, req: Request) -> Reply {
    let now = req.now;
    let fail = |echo: &HeaderEcho, enc: Encoding, message: &str, label: &'static str| {
        let body = yzk_siquc01::write(echo, None, Err(message), false, req.form().output(enc));
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
    // 薬剤情報 under its consent; FileCategory 3/4 also under the 診療情報 consent, and the 手術 lines of 診療情報
    // only under the 手術情報 consent.
    let clinical = r.file_category >= 3;
    let kinds: (&[Kind], &[Kind]) = if clinical {
        (&[Kind::Medication, Kind::Clinical], &[Kind::Surgery])
    } else {
        (&[Kind::Medication], &[])
    };
    let admitted = onshi_consent::port::admit(
        m.directory.as_ref(),
        m.consent.as_ref(),
        &r.patient,
        kinds,
        req.terminal(),
        now,
    )
    .await;
    let (person, enc, granted) = match admitted {
        Ok(a) => (a.person, a.encoding, a.granted),
        Err(d) => return fail(&r.patient.echo, d.encoding, &d.message, d.label),
    };
    let procedures = match (clinical, granted.has(Kind::Surgery)) {
        (false, _) => Procedures::None,
        (true, false) => Procedures::WithoutSurgery,
        (true, true) => Procedures::All,
    };
    let months = m
        .history(
            &person.person_id,
            r.from_month.as_deref(),
            r.to_month.as_deref(),
            procedures,
        )
        .await;
    let months = match months {
        Ok(months) => months,
        Err(crate::history::HistoryError::TooMany(cap)) => {
            let message = format!("該当する情報が多すぎます（{cap}件超）。期間（StartDate・EndDate）を狭めてください。");
            return fail(&r.patient.echo, enc, &message, "too_many");
        }
        Err(e) => {
            tracing::error!(error = %e, "medication: history query failed");
            return fail(
                &r.patient.echo,
                enc,
                "処理できませんでした。",
                "internal_error",
            );
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
    let body = yzk_siquc01::write(
        &r.patient.echo,
        Some(&patient),
        Ok(&months),
        r.file_category >= 3,
        req.form().output(enc),
    );
    Reply::new(body, "answered")
}
