//! Roles. Every HTTP route declares once who may call it ([`Access`], in its service's `ROUTES` table next to its
//! `configure`); one middleware at the front door ([`guard`]) identifies the caller ([`Caller`]) and enforces the
//! declaration. Two modes ([`AuthMode`]): `sandbox` lets everyone in (first contact; printed at start), `strict`
//! checks every role. A route missing from the tables is refused in strict mode (fail closed).
//!
//! | role | credential |
//! |---|---|
//! | facility | a terminal certificate on the TLS listener (the portal issues them) |
//! | insurer | `Authorization: Bearer <insurer credential>` (the portal issues it to the operator for an insurer) |
//! | patient | `Authorization: Bearer <patient token>` after `POST /consent/v1/patients/login` (card + PIN) |
//! | operator | `Authorization: Bearer <operator token>` (generated at first start in the home, mode 0600) |

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};

use crate::config::AuthMode;
use crate::credentials::{Credentials, TokenKind};
use crate::directory::ReaderDirectory;
use crate::pki::PeerCert;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, metrics, code tables, the CA certificate, logins (which check their own credentials).
    Public,
    /// A facility message (request files, the Web API): the entry pipeline identifies the caller and answers a
    /// refusal in the message's own shape, so the guard lets it through.
    Message,
    /// The facility named by the path's `{code}`, with its terminal certificate.
    OwnFacility,
    /// A facility with its terminal certificate (the facility a request is about is checked by the handler).
    Facility,
    /// An insurer with its credential, or the operator.
    Insurer,
    /// The patient named by the path's `{person_id}` with their token, or the operator.
    OwnPatient,
    /// The operator.
    Operator,
}

/// One route's declaration: method, path pattern as registered (with `{…}` segments), access.
#[derive(Debug, Clone)]
pub struct RouteAccess {
    pub method: &'static str,
    pub path: Cow<'static, str>,
    pub access: Access,
}

/// Shorthand for a table entry.
pub const fn route(method: &'static str, path: &'static str, access: Access) -> RouteAccess {
    RouteAccess {
        method,
        path: Cow::Borrowed(path),
        access,
    }
}

/// Who is calling, as the credentials say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Facility(String),
    Insurer(String),
    Patient(String),
    Operator,
}

/// The guard of one process: its mode, every route's access, and how callers are identified.
pub struct Guard {
    pub mode: AuthMode,
    table: HashMap<(Method, String), Access>,
    pub credentials: Credentials,
    /// Which facility a terminal certificate speaks for (the eligibility service); `None` without one.
    pub certificates: Option<Arc<dyn ReaderDirectory>>,
}

impl Guard {
    pub fn new(
        mode: AuthMode,
        routes: impl IntoIterator<Item = RouteAccess>,
        credentials: Credentials,
        certificates: Option<Arc<dyn ReaderDirectory>>,
    ) -> Self {
        let table = routes
            .into_iter()
            .filter_map(|r| {
                let method = Method::from_bytes(r.method.as_bytes()).ok()?;
                Some(((method, r.path.into_owned()), r.access))
            })
            .collect();
        Self {
            mode,
            table,
            credentials,
            certificates,
        }
    }

    /// The declared access of a route (`None`: undeclared).
    pub fn access(&self, method: &Method, pattern: &str) -> Option<Access> {
        self.table
            .get(&(method.clone(), pattern.to_string()))
            .copied()
    }

    /// Who is calling: a bearer token (operator, insurer, patient), else a terminal certificate.
    pub async fn identify(&self, req: &ServiceRequest) -> Result<Caller, String> {
        if let Some(token) = crate::http::id_token(req.request()) {
            if self.credentials.is_operator(&token) {
                return Ok(Caller::Operator);
            }
            match self.credentials.verify(&token) {
                Some((TokenKind::Insurer, s)) => return Ok(Caller::Insurer(s)),
                Some((TokenKind::Patient, s)) => return Ok(Caller::Patient(s)),
                // An app device speaks for its facility (its activation and revocation are the reader's).
                Some((TokenKind::Device, s)) => {
                    let facility = s.split(':').next().unwrap_or_default();
                    return Ok(Caller::Facility(facility.to_string()));
                }
                // A facility's idToken is the entry pipeline's business (with the certificate).
                _ => {}
            }
        }
        let peer = req.conn_data::<PeerCert>();
        match (&self.certificates, peer) {
            (Some(dir), Some(_)) => match dir.certificate(peer).await {
                Ok(Ok(Some(code))) => Ok(Caller::Facility(code)),
                Ok(Ok(None)) => Ok(Caller::Anonymous),
                Ok(Err(e)) => Err(e.outcome.message),
                Err(e) => Err(format!("the certificate could not be checked: {e}")),
            },
            _ => Ok(Caller::Anonymous),
        }
    }

    /// Whether `caller` may call a route of `access` whose pattern matched `path` (the pattern's `{code}` and
    /// `{person_id}` segments name the facility and the patient).
    pub fn allows(access: Access, caller: &Caller, pattern: &str, path: &str) -> bool {
        let param = |name| path_param(pattern, path, name);
        match (access, caller) {
            (Access::Public | Access::Message, _) => true,
            (_, Caller::Operator) => {
                matches!(
                    access,
                    Access::Insurer | Access::OwnPatient | Access::Operator
                )
            }
            (Access::Facility, Caller::Facility(_)) => true,
            (Access::OwnFacility, Caller::Facility(c)) => param("code").as_ref() == Some(c),
            (Access::Insurer, Caller::Insurer(_)) => true,
            (Access::OwnPatient, Caller::Patient(p)) => param("person_id").as_ref() == Some(p),
            _ => false,
        }
    }
}

/// The path segment at the place of `{name}` in `pattern` (routing has not happened yet at the front door).
fn path_param(pattern: &str, path: &str, name: &str) -> Option<String> {
    let wanted = format!("{{{name}}}");
    pattern
        .split('/')
        .zip(path.split('/'))
        .find(|(p, _)| *p == wanted)
        .map(|(_, v)| v.to_string())
}

fn refusal(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(serde_json::json!({"error": {"code": code, "message": message}}))
}

/// The front-door middleware (`App::wrap(from_fn(guard))`, with `web::Data<Guard>` in the app): identifies the
/// caller, puts the [`Caller`] into the request's extensions for the handlers, and in strict mode refuses a
/// caller the route's declaration does not allow — 401 without a credential, 403 with the wrong one.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let Some(g) = req.app_data::<web::Data<Guard>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let caller = g.identify(&req).await;
    if g.mode == AuthMode::Sandbox {
        req.extensions_mut()
            .insert(caller.unwrap_or(Caller::Anonymous));
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let access = req.match_pattern().and_then(|p| g.access(req.method(), &p));
    let refused = match (access, &caller) {
        // Unknown path: the router answers 404 (or 405) as usual.
        (None, _) if req.match_pattern().is_none() => None,
        (None, _) => Some(refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route declares no role and is closed in strict mode",
        )),
        (Some(Access::Public | Access::Message), _) => None,
        (Some(_), Err(why)) => Some(refusal(StatusCode::UNAUTHORIZED, "unauthorized", why)),
        (Some(a), Ok(c))
            if Guard::allows(a, c, &req.match_pattern().unwrap_or_default(), req.path()) =>
        {
            None
        }
        (Some(_), Ok(Caller::Anonymous)) => Some(refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs a credential (strict mode)",
        )),
        (Some(a), Ok(_)) => Some(refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("this route is for: {a:?}"),
        )),
    };
    if let Some(resp) = refused {
        tracing::info!(
            path = req.path(),
            status = resp.status().as_u16(),
            "refused by role"
        );
        return Ok(req.into_response(resp).map_into_right_body());
    }
    req.extensions_mut()
        .insert(caller.unwrap_or(Caller::Anonymous));
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
