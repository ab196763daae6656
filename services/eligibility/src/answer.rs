//! The answer path of `OQSsiquc01`, pure and synchronous: request tree → file checks (facility, terminal,
//! date) → per-person keys → decision → response. No I/O and no lock: callers pass the registry and the time.

use onshi_platform::config::{AuthMode, Config};
use onshi_platform::pki::PeerCert;
use onshi_wire::codes::{
    LimitConsent, ProcessingResultStatus, ReferenceClassification, SegmentOfResult,
};
use onshi_wire::ids::{Date, DateTime};
use onshi_wire::msg::oqs_siquc01::{self, Body, Response};
use onshi_wire::msg::qualification::{Disclosure, QualificationResult};
use onshi_wire::msg::{FileError, ResponseHeader};
use onshi_wire::result_codes::{outcome, ResultKey};
use onshi_wire::xml::{self, Element, XmlError};

use crate::decide::decide;
use crate::registry::Registry;

/// Who is asking: the facility of a verified client certificate, or nobody (sandbox without a certificate).
/// A refusal carries the detail for the `auth_required` answer; refusals are logged (reason only).
pub fn authenticate(
    reg: &Registry,
    mode: AuthMode,
    peer: Option<&PeerCert>,
    today: Date,
) -> Result<Option<String>, FileError> {
    let refuse = |why: &str| {
        tracing::warn!(reason = why, "refused: client authentication");
        Err(FileError::new(ResultKey::AuthRequired, why))
    };
    match peer {
        Some(p) => match reg.certificate(&p.sha256) {
            None => refuse("client certificate not issued to a facility"),
            Some((_, c)) if c.revoked_on.is_some_and(|r| r <= today) => {
                refuse("client certificate revoked")
            }
            Some((_, c)) if today > c.not_after || today < c.not_before => {
                refuse("client certificate expired")
            }
            Some((code, _)) => Ok(Some(code.clone())),
        },
        None if mode == AuthMode::Sandbox => Ok(None),
        None => refuse("client certificate required (mTLS)"),
    }
}

/// The response encoding for a facility, and whether it may be answered: the terminal (folder, certificate or
/// token) must be the request's facility, which must be registered and operational today.
pub fn check_facility(
    reg: &Registry,
    config: &Config,
    code: &str,
    terminal: Option<&str>,
    today: Date,
) -> (onshi_wire::xml::Encoding, Result<(), ResultKey>) {
    let facility = reg.facility(code);
    let enc = facility
        .and_then(|f| f.response_encoding)
        .unwrap_or(config.response_encoding);
    let check = if terminal.is_some_and(|t| t != code) {
        Err(ResultKey::TerminalMismatch)
    } else {
        match facility {
            None => Err(ResultKey::InstitutionUnknown),
            Some(f) if !f.is_operational_on(today) => Err(ResultKey::InstitutionInactive),
            Some(_) => Ok(()),
        }
    };
    (enc, check)
}

/// The file-level result key of an unreadable file.
pub fn file_error_key(e: &XmlError) -> (ResultKey, String) {
    match e {
        XmlError::TooLarge { limit } => (ResultKey::TooLarge, limit.to_string()),
        XmlError::BadEncoding(enc) => (ResultKey::BadEncoding, (*enc).to_string()),
        XmlError::UnsupportedEncoding(enc) => (ResultKey::BadEncoding, enc.clone()),
        XmlError::Doctype => (ResultKey::Doctype, String::new()),
        other => (ResultKey::MalformedXml, other.to_string()),
    }
}

/// Parses request file bytes and answers them.
pub fn respond_bytes(
    reg: &Registry,
    config: &Config,
    bytes: &[u8],
    terminal: Option<&str>,
    now: DateTime,
) -> Response {
    match xml::parse(bytes, &config.limits) {
        Ok(doc) => respond(reg, config, Ok(&doc.root), terminal, now),
        Err(e) => {
            let (key, detail) = file_error_key(&e);
            respond(
                reg,
                config,
                Err(FileError::new(key, &detail)),
                terminal,
                now,
            )
        }
    }
}

/// Answers one request tree (from XML or the Web API's JSON). `terminal` is the facility whose folder or login
/// the request came through, when known.
pub fn respond(
    reg: &Registry,
    config: &Config,
    tree: Result<&Element, FileError>,
    terminal: Option<&str>,
    now: DateTime,
) -> Response {
    let default_enc = config.response_encoding;
    let req = match tree.and_then(oqs_siquc01::parse) {
        Ok(r) => r,
        Err(e) => return Response::file_error(e, now, default_enc),
    };
    let code = req.header.institution.as_str();
    let facility = reg.facility(code);
    let enc = facility
        .and_then(|f| f.response_encoding)
        .unwrap_or(default_enc);
    let fail = |key, detail: &str| {
        Response::file_error(
            FileError::new(key, detail).with_echo(&req.header.echo),
            now,
            enc,
        )
    };
    if terminal.is_some_and(|t| t != code) {
        return fail(ResultKey::TerminalMismatch, "");
    }
    let today = now.date();
    match facility {
        None => return fail(ResultKey::InstitutionUnknown, ""),
        Some(f) if !f.is_operational_on(today) => return fail(ResultKey::InstitutionInactive, ""),
        Some(_) => {}
    }
    let on = req.header.confirmation_date;
    if !config.rules.allow_future_dates && on > today {
        return fail(ResultKey::FutureDate, &on.compact());
    }
    let body = match &req.keys {
        Err(o) => Body {
            status: ProcessingResultStatus::Error,
            code: Some(o.clone()),
            validity: None,
            search: Some(req.search.clone()),
            prescription_issue_select: None,
            results: vec![],
        },
        Ok(keys) => {
            let d = decide(reg, keys, on, &config.rules);
            let consented = keys.limit_consent == LimitConsent::Consented;
            let disclosure = Disclosure {
                limit_consent: consented,
                specific_consent: consented,
                consent_time: now,
            };
            Body {
                status: ProcessingResultStatus::Normal,
                code: d
                    .expiring
                    .map(|e| outcome(ResultKey::CardExpiring, &e.compact())),
                validity: Some(d.validity),
                search: Some(req.search.clone()),
                prescription_issue_select: None,
                results: d
                    .results
                    .iter()
                    .map(|r| QualificationResult::from_record(r, on, disclosure))
                    .collect(),
            }
        }
    };
    Response {
        header: ResponseHeader {
            process_time: now,
            echo: req.header.echo.clone(),
            reference_classification: ReferenceClassification::InsuranceCard,
            segment: SegmentOfResult::Normal,
            error: None,
            encoding: enc,
        },
        body: Some(body),
    }
}
