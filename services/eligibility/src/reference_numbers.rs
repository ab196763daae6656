//! 照会番号登録 (reference §2.6), what its three messages share: `OQSsiimm01` ([`crate::oqs_siimm01`]) registers a
//! facility's own patient number against a qualification; the two-step bulk `OQSmuimm01` ([`crate::oqs_muimm01`],
//! a receipt with a `ReceptionNumber`) and `OQSmuimm02` ([`crate::oqs_muimm02`], the results) do the same for
//! many. The number is echoed as `ReferenceNumber` in the facility's later face results.

use sqlx::PgPool;

use onshi_platform::pipeline::{Reply, Request};
use onshi_wire::codes::SegmentOfResult;
use onshi_wire::ids::{DateTime, InstitutionCode};
use onshi_wire::msg::oqs_siimm01::{self, Outcome1, RegistrationEcho, RegistrationKeys};
use onshi_wire::msg::{FileError, HeaderEcho, PlainHeader};
use onshi_wire::result_codes::{outcome, Outcome, ResultKey};
use onshi_wire::xml::{Element, Encoding, OutputForm};

use crate::gate::check_facility;
use crate::Eligibility;

/// A request of the three messages once admitted: parsed, its facility checked.
pub struct Admitted<R> {
    pub request: R,
    pub echo: HeaderEcho,
    pub institution: InstitutionCode,
    pub encoding: Encoding,
    pub form: OutputForm,
}

/// The common start of the three handlers: the tree parsed by `parse`, then the facility check (registered,
/// operational, the terminal's own). A refusal is the answer, in the shared `PlainHeader` error shape.
pub fn admit<R>(
    e: &Eligibility,
    req: &Request,
    parse: fn(&Element) -> Result<R, FileError>,
    header: fn(&R) -> (&InstitutionCode, &HeaderEcho),
) -> Result<Admitted<R>, Reply> {
    let default = req.default_encoding;
    let request = req
        .tree
        .as_ref()
        .map_err(Clone::clone)
        .and_then(parse)
        .map_err(|err| failed(err, req, default))?;
    let (institution, echo) = header(&request);
    let (institution, echo) = (*institution, echo.clone());
    let (encoding, check) = {
        let reg = e.registry.read().expect("registry");
        check_facility(
            &reg,
            &e.core.config,
            institution.as_str(),
            req.terminal(),
            req.now.date(),
        )
    };
    if let Err(key) = check {
        return Err(failed(
            FileError::new(key, "").with_echo(&echo),
            req,
            encoding,
        ));
    }
    Ok(Admitted {
        request,
        echo,
        institution,
        encoding,
        form: req.form().output(encoding),
    })
}

/// A file that cannot be processed (`SegmentOfResult` 9).
pub fn failed(err: FileError, req: &Request, enc: Encoding) -> Reply {
    let body = oqs_siimm01::write(
        &PlainHeader::failed(err, req.now, enc),
        None,
        req.form().output(enc),
    );
    Reply::new(body, "file_error")
}

/// The header of a processed answer.
pub fn ok_header(
    echo: &HeaderEcho,
    now: DateTime,
    enc: Encoding,
    reception: Option<String>,
) -> PlainHeader {
    PlainHeader {
        process_time: now,
        echo: echo.clone(),
        reception_number: reception,
        segment: SegmentOfResult::Normal,
        error: None,
        encoding: enc,
    }
}

/// The reply of a handler whose storage work may have failed: an internal error is logged and answered as a
/// file-level error.
pub fn finish<R>(result: anyhow::Result<Vec<u8>>, a: &Admitted<R>, req: &Request) -> Reply {
    match result {
        Ok(body) => Reply::new(body, "processed"),
        Err(err) => {
            tracing::error!(
                error = format!("{err:#}"),
                message = req.kind.stem(),
                "照会番号: internal error"
            );
            failed(
                FileError::new(ResultKey::MalformedXml, "internal error").with_echo(&a.echo),
                req,
                a.encoding,
            )
        }
    }
}

/// Registers one number; per-person problems become an error outcome (ProcessingResultStatus 2).
pub async fn register(
    e: &Eligibility,
    facility: &str,
    info: RegistrationEcho,
    keys: Result<RegistrationKeys, Outcome>,
    now: DateTime,
) -> anyhow::Result<Outcome1> {
    let refuse = |o: Outcome, info| {
        Ok(Outcome1 {
            info,
            error: Some((o.code, o.message)),
        })
    };
    let keys = match keys {
        Ok(k) => k,
        Err(o) => return refuse(o, info),
    };
    let id = keys.qualification_id();
    let person = e
        .registry
        .read()
        .expect("registry")
        .qual(&id)
        .map(|q| q.person_id.clone());
    let Some(person) = person else {
        return refuse(outcome(ResultKey::ReferenceTargetUnknown, ""), info);
    };
    sqlx::query(
        "INSERT INTO eligibility.reference_numbers (facility, qualification_id, person_id, reference_number, registered_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (facility, qualification_id) \
         DO UPDATE SET reference_number = EXCLUDED.reference_number, registered_at = EXCLUDED.registered_at",
    )
    .bind(facility)
    .bind(&id)
    .bind(&person)
    .bind(&keys.reference_number)
    .bind(now.naive())
    .execute(&e.core.pool)
    .await?;
    Ok(Outcome1 { info, error: None })
}

/// The 照会番号 a facility registered (the latest of each) for many persons at once, for bulk results.
pub async fn references_for(
    pool: &PgPool,
    facility: &str,
    persons: &[String],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    if persons.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (person_id) person_id, reference_number FROM eligibility.reference_numbers \
         WHERE facility = $1 AND person_id = ANY($2) ORDER BY person_id, registered_at DESC",
    )
    .bind(facility)
    .bind(persons)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The 照会番号 a facility registered for a person (the latest), for face results.
pub async fn reference_for(
    pool: &PgPool,
    facility: &str,
    person: &str,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT reference_number FROM eligibility.reference_numbers WHERE facility = $1 AND person_id = $2 \
         ORDER BY registered_at DESC LIMIT 1",
    )
    .bind(facility)
    .bind(person)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(r,)| r))
}
