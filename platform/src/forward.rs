//! Message kinds answered by a service in another process. The front door (the eligibility process: folders,
//! HTTP, Web API, TLS) takes every request through its pipeline as usual — caller, limit, decode, tree, kind,
//! controls, journal, metrics — and at the dispatcher hands a `YZKsiquc01`/`TKKsiquc01` [`Request`] to
//! [`Forward`], which posts it to the owning service (`POST /internal/v1/messages`, operator role) and relays the
//! reply: the body as the service wrote it (XML in the facility's encoding, JSON, PDF) and its outcome label in
//! [`OUTCOME_HEADER`]. That service answers with its own dispatcher ([`receive`]), so the same input gets the same
//! answer in one process or across several. When the service does not answer, the reply is the file-level error
//! `EC0013 このメッセージ種別は現在処理できません` (outcome `unavailable`), never a hang or a 500.

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use onshi_wire::msg::FileError;
use onshi_wire::result_codes::ResultKey;

use crate::http::{read_body, ApiError};
use crate::peer::{Call, Peer, OUTCOME_HEADER};
use crate::pipeline::{Handlers, Reply, Request};
use crate::roles::{route, Access, RouteAccess};

/// The route of forwarded messages.
pub const MESSAGES: &str = "/internal/v1/messages";

/// The largest forwarded request (a tree of a single-person message, as JSON).
pub const MAX_FORWARDED: usize = 4 * 1024 * 1024;

/// A service in another process that answers some message kinds.
pub struct Forward {
    pub peer: Peer,
}

impl Forward {
    /// Forwards one request and relays the reply.
    pub async fn dispatch(&self, req: Request) -> Reply {
        let answer = match serde_json::to_vec(&req) {
            Ok(body) => {
                self.peer
                    .send(
                        Call::Change,
                        MESSAGES,
                        &[("Content-Type", "application/json")],
                        &body,
                    )
                    .await
            }
            Err(e) => Err(crate::peer::PeerError::Internal(e.into())),
        };
        match answer {
            Ok(a) if a.status == 200 => {
                Reply::new(a.body, a.outcome.unwrap_or_else(|| "answered".to_string()))
            }
            Ok(a) => {
                tracing::warn!(
                    service = self.peer.service(),
                    status = a.status,
                    "a forwarded message was refused"
                );
                self.unavailable(&req)
            }
            Err(e) => {
                tracing::warn!(error = %e, "a forwarded message was not answered");
                self.unavailable(&req)
            }
        }
    }

    /// The answer when the owning service does not answer: `unsupported_message` naming it.
    fn unavailable(&self, req: &Request) -> Reply {
        let detail = format!("{}: {} unavailable", req.kind.stem(), self.peer.service());
        let mut reply =
            Reply::unsupported_with(req, FileError::new(ResultKey::UnsupportedMessage, &detail));
        reply.outcome = "unavailable".into();
        reply
    }
}

/// Who may call the route.
pub const ROUTES: &[RouteAccess] = &[route("POST", MESSAGES, Access::Operator)];

/// The receiving side: `web::Data<H>` in the app.
pub fn configure<H: Handlers>(cfg: &mut web::ServiceConfig) {
    cfg.route(MESSAGES, web::post().to(receive::<H>));
}

/// Answers a forwarded request with this process's dispatcher.
pub async fn receive<H: Handlers>(
    handlers: web::Data<H>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = read_body(body, MAX_FORWARDED).await?;
    let req: Request = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad(format!("a forwarded request: {e}")))?;
    let handlers: Arc<H> = handlers.into_inner();
    let reply = handlers.dispatch(req).await;
    Ok(HttpResponse::Ok()
        .insert_header((OUTCOME_HEADER, reply.outcome.as_ref()))
        .body(reply.body))
}
