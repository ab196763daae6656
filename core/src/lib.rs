//! # onshi-core — the shared domain of the onshi simulator
//!
//! Map of the crate:
//!
//! | module | what it holds |
//! |---|---|
//! | [`ids`] | validated identifiers: 保険者番号, 医療機関コード, 記号・番号・枝番, dates (check digits, spec formats) |
//! | [`codes`] | the OQSCD001–044 code tables as typed enums with wire code and Japanese label |
//! | [`clock`] | the simulated clock, the only source of "now" in service code, shared through PostgreSQL |
//! | [`xml`] | hardened request parsing (UTF-8 / Shift_JIS, no DTDs, limits) and the one XML/JSON emitter |
//! | [`msg`] | one module per message type (`oqs_siquc01`, …) plus shared header/result parts and file names |
//! | [`pki`] | the simulator's CA, client/server/card certificates, rustls configurations |
//! | [`record`] | the qualification and facility records that registries publish on their change feeds |
//! | [`result_codes`] | the data table of result codes and messages (別紙6-1 is not public) |
//! | [`copy`] | the binary COPY encoder for bulk loads |
//! | [`db`] | connection pool and the per-service migration runner |
//! | [`pg`] | the embedded PostgreSQL cluster (the default when `DATABASE_URL` is unset) |
//! | [`directory`] | what services may ask the eligibility service about people and facilities |
//! | [`feed`] | the change-feed protocol between services (publisher lock, consumer batches, NOTIFY) |
//! | [`config`] | runtime settings, including every rule that stands in for an unknown of the real system |
//! | [`http`] | shared HTTP pieces: error shape, health, metrics, clock admin endpoints |
//! | [`transport`] | request files in, response files out: the folder interface (`req/` → `res/`) and HTTP POST |
//! | [`versioned`] | the append-only versioned registry (every change a new version) used by insurer and portal |
//! | `testkit` | (feature `testkit`) a fresh database per test on a shared embedded cluster |

pub mod clock;
pub mod codes;
pub mod config;
pub mod copy;
pub mod db;
pub mod directory;
pub mod feed;
pub mod http;
pub mod ids;
pub mod msg;
pub mod pg;
pub mod pki;
pub mod record;
pub mod result_codes;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transport;
pub mod versioned;
pub mod xml;

/// SHA-256 of `bytes` as lowercase hex (file digests, secret digests, migration checksums).
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
