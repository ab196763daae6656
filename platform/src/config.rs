//! Runtime configuration. Every setting that stands in for an unknown of the real system (reference markers
//! [U]/[I]) is here with its default and the reason for it; `docs/WIRE.md` lists them for users.

use std::path::PathBuf;
use std::time::Duration;

use onshi_wire::xml::{Encoding, Limits};

/// Rules of the qualification decision that the public sources leave open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityRules {
    /// A card whose 有効終了年月日 is before the confirmation date answers 2 (無効). Default true: an expired
    /// card is not a valid means of confirmation even while the qualification continues.
    pub card_expiry_invalidates: bool,
    /// A valid card that expires within this many days carries the informational code `card_expiring`
    /// (reference §2.8 "card-expiry warning"). Default 90 (≈ "within 3 months"); 0 turns it off.
    pub expiry_warning_days: i64,
    /// Accept a `QualificationConfirmationDate` after the simulated today. Default false (answered with
    /// `future_date`): the system confirms qualifications for today or the past.
    pub allow_future_dates: bool,
}

impl Default for EligibilityRules {
    fn default() -> Self {
        Self {
            card_expiry_invalidates: true,
            expiry_warning_days: 90,
            allow_future_dates: false,
        }
    }
}

/// How facility-facing endpoints authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// First contact: a request without a client certificate is accepted (one that presents a certificate is
    /// still checked). Like the NHS sandbox environment.
    Sandbox,
    /// Integration: a valid, unrevoked, unexpired client certificate from the simulator's CA is required and its
    /// facility must be the request's `MedicalInstitutionCode`.
    Mtls,
}

/// The whole configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Encoding of response files unless the facility's record says otherwise (the real setting lives in the
    /// 連携アプリ). Default UTF-8.
    pub response_encoding: Encoding,
    pub limits: Limits,
    /// Root of the folder interface: `<root>/<医療機関コード>/{req,res,face}`. None: no folder interface.
    pub folder_root: Option<PathBuf>,
    /// How often `req/` folders are scanned. The real 連携アプリ picks files up "within seconds".
    pub folder_poll: Duration,
    pub rules: EligibilityRules,
    /// Lifetime of a Web API `idToken` on the simulated clock.
    pub web_api_token_minutes: i64,
    pub auth: AuthMode,
    /// Days of the month on which claim files are accepted (default the real 5th–12th).
    pub claims_window: (u32, u32),
    /// The TLS listener (mTLS) for facility-facing endpoints; None: plain HTTP only.
    pub tls_bind: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            response_encoding: Encoding::Utf8,
            limits: Limits::default(),
            folder_root: None,
            folder_poll: Duration::from_millis(200),
            rules: EligibilityRules::default(),
            web_api_token_minutes: 60,
            auth: AuthMode::Sandbox,
            claims_window: (5, 12),
            tls_bind: None,
        }
    }
}
