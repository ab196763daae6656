//! Who may ask, for every message the eligibility service answers: the facility a client certificate speaks for,
//! and whether a facility may be answered at all (registered, operational, the terminal's own).

use onshi_platform::config::{AuthMode, Config};
use onshi_platform::pki::PeerCert;
use onshi_wire::ids::Date;
use onshi_wire::msg::FileError;
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::Encoding;

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
            // Revocation is permanent: moving the clock back before it does not undo it.
            Some((_, c)) if c.revoked_on.is_some() => refuse("client certificate revoked"),
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
) -> (Encoding, Result<(), ResultKey>) {
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
