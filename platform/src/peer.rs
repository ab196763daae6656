//! Calls from one onshi service to another over the other's internal HTTP API (`/internal/v1/…`, declared with
//! the operator role: every process of one deployment shares the operator's token). A pool of keep-alive
//! connections ([`crate::client::Conn`]); JSON in and out; a refusal comes back as [`PeerError::Refused`] with the
//! status and the message of the JSON error shape, so the caller can map it to its own.
//!
//! Every internal route is a `POST` with a JSON body (card symbols are kanji: no query strings to encode). A
//! connection idle longer than [`IDLE`] is not reused (actix closes idle connections after 5 s); a question
//! (`Call::Query`) is sent once more on a fresh connection when a reused one fails, a change (`Call::Change`) never.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::{Conn, Endpoint};

/// How long a pooled connection may stay idle and still be reused.
pub const IDLE: Duration = Duration::from_secs(2);
/// How long one call may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// The header that carries a forwarded message's outcome label.
pub const OUTCOME_HEADER: &str = "x-onshi-outcome";

/// What a call does, for its retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Asks only: safe to send again.
    Query,
    /// Changes state: sent once.
    Change,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The other service answered with an error status.
    #[error("the {service} service refused ({status}): {message}")]
    Refused {
        service: &'static str,
        status: u16,
        message: String,
    },
    /// It could not be reached, or its answer could not be read.
    #[error("the {service} service at {addr}: {source:#}")]
    Unreachable {
        service: &'static str,
        addr: String,
        source: anyhow::Error,
    },
    /// The service (in this process or the other) failed to answer (its database, say).
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// One answer, owned.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// The [`OUTCOME_HEADER`], when the answer has one.
    pub outcome: Option<String>,
}

/// Another service of the deployment.
pub struct Peer {
    service: &'static str,
    endpoint: Endpoint,
    authorization: String,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

impl Peer {
    /// The `service` at `url` (`http://host:port`), called with the operator's `token`.
    pub fn new(service: &'static str, url: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            service,
            endpoint: Endpoint::parse(url, None, None)?,
            authorization: format!("Bearer {token}"),
            idle: Mutex::new(Vec::new()),
        })
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    fn unreachable(&self, source: impl Into<anyhow::Error>) -> PeerError {
        PeerError::Unreachable {
            service: self.service,
            addr: self.endpoint.addr.clone(),
            source: source.into(),
        }
    }

    /// A pooled connection still fresh enough, or a new one; and whether it was reused.
    fn take(&self) -> (Conn, bool) {
        let mut idle = self.idle.lock().expect("peer pool");
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < IDLE {
                return (conn, true);
            }
        }
        (Conn::new(self.endpoint.clone()), false)
    }

    fn give_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().expect("peer pool");
        if idle.len() < 64 {
            idle.push((conn, Instant::now()));
        }
    }

    /// Sends `body` to `path` (`POST`, `content_type`); any status comes back as an [`Answer`].
    pub async fn send(
        &self,
        call: Call,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, PeerError> {
        let (mut conn, reused) = self.take();
        let mut all = vec![("Authorization", self.authorization.as_str())];
        all.extend_from_slice(headers);
        let mut result = self.exchange(&mut conn, path, &all, body).await;
        if result.is_err() && reused && call == Call::Query {
            conn = Conn::new(self.endpoint.clone());
            result = self.exchange(&mut conn, path, &all, body).await;
        }
        let answer = result.map_err(|e| self.unreachable(e))?;
        self.give_back(conn);
        Ok(answer)
    }

    async fn exchange(
        &self,
        conn: &mut Conn,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<Answer> {
        let a = tokio::time::timeout(TIMEOUT, conn.send("POST", path, headers, body))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} s", TIMEOUT.as_secs()))??;
        Ok(Answer {
            status: a.status,
            body: conn.body(&a).to_vec(),
            outcome: conn.header(&a, OUTCOME_HEADER).map(str::to_string),
        })
    }

    /// Posts `body` as JSON (serialized at once) and reads a JSON answer; an error status is
    /// [`PeerError::Refused`].
    pub fn call<'a, B: Serialize + ?Sized, T: DeserializeOwned + 'a>(
        &'a self,
        call: Call,
        path: &'a str,
        body: &B,
    ) -> impl std::future::Future<Output = Result<T, PeerError>> + Send + 'a {
        let bytes = serde_json::to_vec(body);
        async move {
            let bytes = bytes.map_err(|e| self.unreachable(e))?;
            let a = self
                .send(call, path, &[("Content-Type", "application/json")], &bytes)
                .await?;
            if !(200..300).contains(&a.status) {
                return Err(PeerError::Refused {
                    service: self.service,
                    status: a.status,
                    message: error_message(&a.body),
                });
            }
            serde_json::from_slice(&a.body).map_err(|e| self.unreachable(e))
        }
    }

    /// A question asked at start-up: while the other service cannot be reached (the services of one deployment
    /// start in any order), asked again every half second for at most `patience`, saying once that it waits.
    pub async fn query_when_up<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        patience: Duration,
    ) -> Result<T, PeerError> {
        let since = Instant::now();
        let mut said = false;
        loop {
            match self.call(Call::Query, path, body).await {
                Err(e @ PeerError::Unreachable { .. }) if since.elapsed() < patience => {
                    if !said {
                        tracing::warn!(error = %e, "waiting for the {} service to start", self.service);
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }
}

/// The message of the JSON error shape (`{"error":{"message"}}`), or the body as text.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}
