//! # onshi-platform — what every onshi service runs on
//!
//! The infrastructure under the services: PostgreSQL, the simulated clock, change feeds, the entry pipeline
//! (the one front door of every transport) and PKI. The message domain itself is in `onshi-wire`.
//!
//! Map of the crate:
//!
//! | module | what it holds |
//! |---|---|
//! | [`clock`] | the simulated clock, the only source of "now" in service code, shared through PostgreSQL |
//! | [`config`] | runtime settings, including every rule that stands in for an unknown of the real system |
//! | [`pipeline`] | the one entry pipeline: caller → limit → decode → tree → message kind → handler → reply |
//! | [`forward`] | message kinds answered by a service in another process: the front door forwards, it answers |
//! | [`transport`] | the doors onto the pipeline: the folder interface (`req/` → `res/`), HTTP POST of files, the Web API |
//! | [`control`] | simulator controls: forced outcomes, faults and latency, the request journal |
//! | [`credentials`] | the tokens onshi issues (facility `idToken`s, insurer credentials, patient tokens) and the operator's |
//! | [`roles`] | the role of every route, declared once and enforced at the HTTP front door (sandbox / strict) |
//! | [`snapshot`] | snapshots of the whole state: template databases and copies of the folders |
//! | [`supervise`] | background tasks restarted after a failure, and their state for `/ready` |
//! | [`pki`] | the simulator's CA, client/server/card certificates, rustls configurations |
//! | [`client`] | a lean HTTP/1.1 keep-alive client connection, plain or mutual TLS (service calls, onshi-load) |
//! | [`peer`] | calls to another onshi service over its internal HTTP API, with a connection pool |
//! | [`copy`] | the binary COPY encoder for bulk loads |
//! | [`openapi`] | the OpenAPI 3.1 document generated from the route tables, `/docs`, `/` |
//! | [`pdf`] | simple Japanese PDF documents (the PDF forms of the data-retrieval answers) |
//! | [`db`] | connection pool and the per-service migration runner |
//! | [`pg`] | the embedded PostgreSQL cluster (the default when `DATABASE_URL` is unset) |
//! | [`directory`] | what services may ask the eligibility service about people and facilities |
//! | [`feed`] | the change-feed protocol between services (publisher lock, consumer batches, NOTIFY) |
//! | [`http`] | shared HTTP pieces: error shape, health, metrics, clock admin endpoints |
//! | [`usage`] | usage statistics: confirmations and views by method, facility and month |
//! | [`versioned`] | the append-only versioned registry (every change a new version) used by insurer and portal |
//! | [`registry_api`] | the HTTP API of a versioned registry, written once for insurer and portal |
//! | `testkit` | (feature `testkit`) a fresh database per test on a shared embedded cluster |

pub mod client;
pub mod clock;
pub mod config;
pub mod control;
pub mod copy;
pub mod credentials;
pub mod db;
pub mod directory;
pub mod feed;
pub mod forward;
pub mod http;
pub mod openapi;
pub mod pdf;
pub mod peer;
pub mod pg;
pub mod pipeline;
pub mod pki;
pub mod registry_api;
pub mod roles;
pub mod snapshot;
pub mod supervise;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transport;
pub mod usage;
pub mod versioned;

/// SHA-256 of `bytes` as lowercase hex (file digests, secret digests, migration checksums).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// SHA-256 of a file as lowercase hex, read in pieces (memory does not grow with the file).
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
    }
    Ok(hex(digest.finish().as_ref()))
}

/// Bytes as lowercase hex (digests, signatures, secrets).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
