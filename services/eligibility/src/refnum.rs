//! 照会番号登録 (reference §2.6): `OQSsiimm01` registers a facility's own patient number against a
//! qualification; the two-step bulk `OQSmuimm01` (receipt with a `ReceptionNumber`) and `OQSmuimm02` (the
//! results) do the same for many. The number is echoed as `ReferenceNumber` in the facility's later face results.

use sqlx::PgPool;

use onshi_platform::transport::Incoming;
use onshi_wire::codes::SegmentOfResult;
use onshi_wire::ids::DateTime;
use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::msg::oqs_siimm01::{Outcome1, RegistrationEcho, RegistrationKeys};
use onshi_wire::msg::{oqs_muimm01, oqs_muimm02, oqs_siimm01, FileError, HeaderEcho, PlainHeader};
use onshi_wire::result_codes::{outcome, Outcome, ResultKey};
use onshi_wire::xml::{self, Encoding, OutputForm};

use crate::answer::{check_facility, file_error_key};
use crate::Eligibility;

fn failed(err: FileError, now: DateTime, enc: Encoding) -> Vec<u8> {
    oqs_siimm01::write(
        &PlainHeader::failed(err, now, enc),
        None,
        OutputForm::Xml(enc),
    )
}

fn ok_header(
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

/// Answers a 照会番号 request file of `kind`.
pub async fn answer(e: &Eligibility, kind: MessageKind, i: &Incoming) -> Vec<u8> {
    let now = e.core.clock.now_dt();
    let default = e.core.config.response_encoding;
    let root = match xml::parse(&i.bytes, &e.core.config.limits) {
        Ok(d) => d.root,
        Err(err) => {
            let (key, detail) = file_error_key(&err);
            return failed(FileError::new(key, &detail), now, default);
        }
    };
    let parsed = match kind {
        MessageKind::OqsSiimm01 => {
            oqs_siimm01::parse(&root).map(|r| (r.institution, r.echo.clone(), Parsed::Single(r)))
        }
        MessageKind::OqsMuimm01 => {
            oqs_muimm01::parse(&root).map(|r| (r.institution, r.echo.clone(), Parsed::Bulk(r)))
        }
        _ => oqs_muimm02::parse(&root).map(|r| (r.institution, r.echo.clone(), Parsed::Result(r))),
    };
    let (institution, echo, parsed) = match parsed {
        Ok(p) => p,
        Err(err) => return failed(err, now, default),
    };
    let (enc, check) = {
        let reg = e.registry.read().expect("registry");
        check_facility(
            &reg,
            &e.core.config,
            institution.as_str(),
            i.terminal.as_deref(),
            now.date(),
        )
    };
    if let Err(key) = check {
        return failed(FileError::new(key, "").with_echo(&echo), now, enc);
    }
    let form = OutputForm::Xml(enc);
    let code = institution.as_str();
    let result = async {
        Ok::<_, anyhow::Error>(match parsed {
            Parsed::Single(r) => {
                let o = register(e, code, r.info, r.keys, now).await?;
                oqs_siimm01::write(&ok_header(&echo, now, enc, None), Some(&o), form)
            }
            Parsed::Bulk(r) => {
                let mut outcomes = Vec::with_capacity(r.items.len());
                for (info, keys) in r.items {
                    outcomes.push(register(e, code, info, keys, now).await?);
                }
                let number = reception_number(now);
                sqlx::query(
                    "INSERT INTO eligibility.receptions (number, facility, kind, received_at, results) \
                     VALUES ($1, $2, 'OQSmuimm', $3, $4)",
                )
                .bind(&number)
                .bind(code)
                .bind(now.naive())
                .bind(serde_json::to_value(&outcomes)?)
                .execute(&e.core.pool)
                .await?;
                oqs_muimm01::write(&ok_header(&echo, now, enc, None), Some((&number, now)), form)
            }
            Parsed::Result(r) => {
                let row: Option<(serde_json::Value,)> = sqlx::query_as(
                    "SELECT results FROM eligibility.receptions WHERE number = $1 AND facility = $2 AND kind = 'OQSmuimm'",
                )
                .bind(&r.reception_number)
                .bind(code)
                .fetch_optional(&e.core.pool)
                .await?;
                match row {
                    None => failed(
                        FileError::new(ResultKey::ReceptionUnknown, &r.reception_number).with_echo(&echo),
                        now,
                        enc,
                    ),
                    Some((v,)) => {
                        let outcomes: Vec<Outcome1> = serde_json::from_value(v)?;
                        oqs_muimm02::write(&ok_header(&echo, now, enc, Some(r.reception_number)), &outcomes, form)
                    }
                }
            }
        })
    }
    .await;
    result.unwrap_or_else(|err| {
        tracing::error!(error = format!("{err:#}"), "照会番号: internal error");
        failed(
            FileError::new(ResultKey::MalformedXml, "internal error").with_echo(&echo),
            now,
            enc,
        )
    })
}

enum Parsed {
    Single(oqs_siimm01::Request),
    Bulk(oqs_muimm01::Request),
    Result(oqs_muimm02::Request),
}

fn reception_number(now: DateTime) -> String {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut raw);
    format!(
        "{}{:06}",
        now.compact(),
        u32::from_be_bytes(raw) % 1_000_000
    )
}

/// Registers one number; per-person problems become an error outcome (ProcessingResultStatus 2).
async fn register(
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
