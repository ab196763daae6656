//! The one entry pipeline. Every door (the folder interface, HTTP POST of a file, the JSON Web API, each of them
//! also over the TLS listener) hands a request to [`Pipeline::run`], which takes it through the same steps:
//!
//! ```text
//! caller (door)  →  limit  →  decode (encoding, no DTD, limits; or JSON)  →  tree  →  MessageKind
//!                →  Handlers::dispatch (one `match` on the kind, one module per stem)  →  Reply  →  metrics
//! ```
//!
//! A step that refuses does not answer by itself: its [`FileError`] travels on as the request's `tree` and the
//! handler of the message kind writes it in that message's own error shape, so the same bad input gets the same
//! answer on every transport. The door only chooses the HTTP status from the [`Stage`] that refused.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use onshi_wire::ids::{DateTime, FacilityKind};
use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::msg::oqs_siquc01::Response;
use onshi_wire::msg::FileError;
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::{self, Element, Encoding, Limits, OutputForm, XmlError};

use crate::clock::SimClock;
use crate::control::forced::Force;
use crate::control::journal::Exchange;
use crate::control::{Controls, DoorFault, Subject};
use crate::http::Metrics;
use crate::pki::PeerCert;
use crate::usage::Method;

/// The door a request came through (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Transport {
    /// A file in `<folders>/<code>/req/`.
    Folder,
    /// `POST /oqs/v1/req/<file name>`, over plain HTTP or the TLS listener.
    Http,
    /// The JSON Web API behind an `idToken`.
    WebApi,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Self::Folder => "folder",
            Self::Http => "http",
            Self::WebApi => "webapi",
        }
    }

    /// What the caller reads back: the response file, or the Web API's JSON.
    pub fn form(self) -> Form {
        match self {
            Self::Folder | Self::Http => Form::File,
            Self::WebApi => Form::Json,
        }
    }
}

/// The form of a request and of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// An XML file in, the response file out (XML in the facility's encoding, or a PDF form).
    File,
    /// JSON mirroring the XmlMsg tree in and out (the Web API).
    Json,
}

impl Form {
    /// The emitter form for an answer in `encoding` (ignored for JSON).
    pub fn output(self, encoding: Encoding) -> OutputForm {
        match self {
            Self::File => OutputForm::Xml(encoding),
            Self::Json => OutputForm::Json,
        }
    }
}

/// The step at which the pipeline refused a request, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The caller could not be identified or is not allowed (HTTP 401).
    Caller,
    /// The body is over the limit (HTTP 413).
    Limit,
    /// Everything reached the handler; an unreadable file is answered like any other (HTTP 200).
    Handled,
}

/// Who is calling, as the door established it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Caller {
    /// The facility the request speaks for: the folder's, the client certificate's or the `idToken`'s. `None`
    /// over HTTP in the sandbox without a certificate.
    pub facility: Option<String>,
    pub transport: Transport,
}

/// A request as the handlers see it (and as the front door forwards it to another process, [`crate::forward`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub kind: MessageKind,
    pub caller: Caller,
    /// The request tree, or why there is none (caller refused, body over the limit, unreadable file): the handler
    /// answers that in its message's error shape.
    pub tree: Result<Element, FileError>,
    /// The simulated instant the request entered the pipeline (one clock read per request).
    pub now: DateTime,
    /// The answer's encoding unless the facility's record says otherwise.
    pub default_encoding: Encoding,
    /// An answer the simulator controls force (a file-level error is already in `tree`): the handlers of the kinds
    /// it applies to ([`Force::applies_to`]) answer it instead of the computed one.
    pub force: Option<Force>,
}

impl Request {
    pub fn form(&self) -> Form {
        self.caller.transport.form()
    }

    /// The facility of the door (folder, certificate, token), when known.
    pub fn terminal(&self) -> Option<&str> {
        self.caller.facility.as_deref()
    }
}

/// A handler's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response file (XML or PDF) or the Web API's JSON.
    pub body: Vec<u8>,
    /// The metrics label of the outcome (`file_error`, `validity_1`, `refused`, …): codes only, never personal data.
    pub outcome: Cow<'static, str>,
    /// Set by the pipeline when the request's header could not be read (an unreadable file, no `XmlMsg` or
    /// `MessageHeader`, a body over the limit): the answer cannot be paired with its request, and the folder door
    /// may follow the terminal software's `.err` convention instead ([`crate::transport`]).
    pub unpaired: Option<onshi_wire::result_codes::Outcome>,
    /// Set by the pipeline when fault rules hit the request: what its door does with the answer.
    pub fault: Option<Box<Injected>>,
}

/// What fault rules ask a door to do with an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// Deliver the answer this much later.
    pub delay: Option<std::time::Duration>,
    /// Do this instead of answering.
    pub door: Option<DoorFault>,
}

impl Reply {
    pub fn new(body: Vec<u8>, outcome: impl Into<Cow<'static, str>>) -> Self {
        Self {
            body,
            outcome: outcome.into(),
            unpaired: None,
            fault: None,
        }
    }

    /// The answer to a message kind no service of this process handles (in the `OQSsiquc01` shape), echoing the
    /// request's header when it can be read.
    pub fn unsupported(req: &Request) -> Self {
        Self::unsupported_with(
            req,
            FileError::new(ResultKey::UnsupportedMessage, req.kind.stem()),
        )
    }

    /// The answer `err` (in the `OQSsiquc01` shape) to a request no service here can answer, echoing its header;
    /// the request's own file-level error when it has one.
    pub fn unsupported_with(req: &Request, err: FileError) -> Self {
        let err = match &req.tree {
            Err(e) => e.clone(),
            Ok(tree) => match onshi_wire::msg::HeaderEcho::of(tree) {
                Some(echo) => err.with_echo(&echo),
                None => err,
            },
        };
        let body = Response::file_error(err, req.now, req.default_encoding)
            .write(req.form().output(req.default_encoding));
        Self::new(body, "unsupported")
    }

    /// What a fault rule has the door do instead of answering.
    pub fn door(&self) -> Option<DoorFault> {
        self.fault.as_ref().and_then(|f| f.door)
    }

    /// How much later a fault rule has the door deliver the answer.
    pub fn delay(&self) -> Option<std::time::Duration> {
        self.fault.as_ref().and_then(|f| f.delay)
    }

    /// Whether the body is a PDF form (`.pdf` answer name, `application/pdf`).
    pub fn is_pdf(&self) -> bool {
        self.body.starts_with(b"%PDF-")
    }

    /// Whether the body is a ZIP (zipped bulk results: `.zip` answer name, `application/zip`).
    pub fn is_zip(&self) -> bool {
        self.body.starts_with(b"PK\x03\x04")
    }
}

/// What the pipeline needs from the services of a process: who a credential speaks for, and the dispatcher.
pub trait Handlers: Send + Sync + 'static {
    /// The facility a client certificate was issued to; `Ok(None)` without a certificate in the sandbox; an error
    /// (`auth_required`, with the reason) when the certificate or its absence is refused.
    fn certificate(&self, peer: Option<&PeerCert>) -> Result<Option<String>, FileError>;

    /// The facility of a valid, unexpired Web API `idToken`.
    fn token(&self, token: &str) -> Option<String>;

    /// The dispatcher: one `match` on [`Request::kind`] naming the handler module of every message stem.
    fn dispatch(&self, req: Request) -> impl Future<Output = Reply> + Send;
}

/// The body of a request as the door read it, within the limit or not.
pub enum Body {
    Bytes(Vec<u8>),
    /// Larger than the limit: not read further.
    TooLarge,
}

/// The pipeline of one process.
pub struct Pipeline<H> {
    pub handlers: Arc<H>,
    pub clock: SimClock,
    pub metrics: Metrics,
    pub limits: Limits,
    /// How long a request body may take to arrive over HTTP.
    pub body_timeout: std::time::Duration,
    pub default_encoding: Encoding,
    /// Forced outcomes, faults and the journal.
    pub controls: Arc<Controls>,
    /// Usage statistics of this process.
    pub usage: Arc<crate::usage::Usage>,
}

impl<H> Pipeline<H> {
    /// The limits of a request file of `kind`: the pipeline's, or the larger ones of a bulk upload
    /// ([`crate::config::limits::BULK_FILE`]).
    pub fn limits_for(&self, kind: MessageKind) -> Limits {
        if kind.is_bulk_upload() {
            Limits {
                max_bytes: crate::config::limits::BULK_FILE,
                max_elements: crate::config::limits::BULK_ELEMENTS,
                ..self.limits
            }
        } else {
            self.limits
        }
    }
}

impl<H: Handlers> Pipeline<H> {
    /// Identifies an HTTP caller: the client certificate, and for the Web API also the `idToken` (which must
    /// belong to the certificate's facility when there is one).
    pub fn identify(
        &self,
        transport: Transport,
        peer: Option<&PeerCert>,
        token: Option<&str>,
    ) -> Result<Caller, FileError> {
        let cert = self.handlers.certificate(peer)?;
        let facility = match transport {
            Transport::WebApi => Some(
                token
                    .and_then(|t| self.handlers.token(t))
                    .filter(|f| cert.as_deref().is_none_or(|c| c == f))
                    .ok_or_else(|| FileError::new(ResultKey::AuthRequired, "idToken"))?,
            ),
            Transport::Folder | Transport::Http => cert,
        };
        Ok(Caller {
            facility,
            transport,
        })
    }

    /// Runs one request from its door to its reply. `caller` is the door's identification (an error refuses the
    /// request at the first step); `body` the bytes within the limit.
    pub async fn run(
        &self,
        kind: MessageKind,
        caller: Result<Caller, (Transport, FileError)>,
        body: Body,
    ) -> (Stage, Reply) {
        let started = Instant::now();
        let limits = self.limits_for(kind);
        let journal_id = self.controls.journal.samples();
        let mut request_bytes = Vec::new();
        let (caller, stage, mut tree) = match (caller, body) {
            (Err((transport, e)), body) => {
                // Refused before reading, but the answer still names the request when its header can be read.
                let echo = match &body {
                    Body::Bytes(bytes) => decode(bytes, transport.form(), &limits)
                        .ok()
                        .and_then(|tree| onshi_wire::msg::HeaderEcho::of(&tree)),
                    Body::TooLarge => None,
                };
                if let (Body::Bytes(bytes), Some(_)) = (body, journal_id) {
                    request_bytes = bytes;
                }
                let e = match echo {
                    Some(echo) if e.echo.institution.is_none() => e.with_echo(&echo),
                    _ => e,
                };
                (
                    Caller {
                        facility: None,
                        transport,
                    },
                    Stage::Caller,
                    Err(e),
                )
            }
            (Ok(c), Body::TooLarge) => (
                c,
                Stage::Limit,
                Err(FileError::new(
                    ResultKey::TooLarge,
                    &limits.max_bytes.to_string(),
                )),
            ),
            (Ok(c), Body::Bytes(bytes)) => {
                let tree = decode(&bytes, c.transport.form(), &limits);
                if journal_id.is_some() {
                    request_bytes = bytes;
                }
                (c, Stage::Handled, tree)
            }
        };
        let transport = caller.transport;
        let unpaired = match &tree {
            Err(e) if *e.echo == onshi_wire::msg::HeaderEcho::default() => Some(e.outcome.clone()),
            Err(_) => None,
            Ok(tree) => onshi_wire::msg::HeaderEcho::of(tree)
                .is_none()
                .then(|| header_unreadable(tree)),
        };
        // Kept on the stack (no allocation per request): a 医療機関コード is ten ASCII digits.
        let code_buf = caller
            .facility
            .as_deref()
            .or_else(|| tree.as_ref().ok().and_then(header_institution))
            .and_then(|c| <[u8; 10]>::try_from(c.as_bytes()).ok());
        let facility_code = code_buf.as_ref().and_then(|b| std::str::from_utf8(b).ok());
        let facility = FacilityKind::metric(facility_code.and_then(FacilityKind::of_code));
        let now = self.clock.now_dt();
        let decision = self
            .controls
            .decide(Subject {
                kind,
                transport,
                facility: facility_code,
                tree: tree.as_ref().ok(),
                now: now.naive(),
            })
            .await;
        let counted = usage_of(kind, tree.as_ref().ok());
        let force = match decision.force {
            Some(Force::FileError(key)) => {
                // Every handler answers a file-level error in its own shape: the forced one travels as the tree.
                let echo = tree
                    .as_ref()
                    .ok()
                    .and_then(onshi_wire::msg::HeaderEcho::of)
                    .unwrap_or_default();
                tree = Err(FileError::new(key, "forced").with_echo(&echo));
                None
            }
            other => other,
        };
        let req = Request {
            kind,
            caller,
            tree,
            now,
            default_encoding: self.default_encoding,
            force,
        };
        let mut reply = self.handlers.dispatch(req).await;
        reply.unpaired = unpaired;
        if decision.delay.is_some() || decision.door.is_some() {
            reply.fault = Some(Box::new(Injected {
                delay: decision.delay,
                door: decision.door,
            }));
        }
        let stem = kind.stem();
        let elapsed = started.elapsed();
        self.metrics
            .messages
            .with_label_values(&[stem, transport.label(), facility, &reply.outcome])
            .inc();
        self.metrics
            .latency
            .with_label_values(&[stem, transport.label()])
            .observe(elapsed.as_secs_f64());
        if let (Some(f), Some((method, n))) = (facility_code, counted) {
            if matches!(&*reply.outcome, "answered" | "pdf" | "processed")
                || (kind == MessageKind::OqsSiquc01 && reply.outcome.starts_with("validity_"))
            {
                if method == Method::ViewClinical {
                    self.usage.record(f, now.naive(), Method::ViewMedication, 1);
                }
                self.usage.record(f, now.naive(), method, n);
            }
        }
        if let Some(id) = journal_id {
            self.controls.journal.record(
                id,
                Exchange {
                    at: now.naive().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    transport: transport.label(),
                    kind: stem,
                    facility: facility_code.map(str::to_string),
                    outcome: &reply.outcome,
                    micros: elapsed.as_micros() as u64,
                    marks: decision.marks,
                    request: &request_bytes,
                    answer: if reply.door().is_some() {
                        &[]
                    } else {
                        &reply.body
                    },
                },
            );
        }
        (stage, reply)
    }

    /// The answer to a file whose name is not a request name (in the `OQSsiquc01` shape), for the folder and
    /// HTTP doors: never paired with a request.
    pub fn unknown_name(&self, transport: Transport, detail: &str) -> Reply {
        self.metrics
            .messages
            .with_label_values(&["unknown", transport.label(), "none", "unknown_name"])
            .inc();
        let err = FileError::new(ResultKey::UnknownFile, detail);
        let mut reply = Reply::new(
            Response::file_error(err.clone(), self.clock.now_dt(), self.default_encoding).to_xml(),
            "unknown_name",
        );
        reply.unpaired = Some(err.outcome);
        reply
    }
}

/// What an answered request of `kind` counts for in the usage statistics, and how many.
fn usage_of(kind: MessageKind, tree: Option<&Element>) -> Option<(Method, i64)> {
    match kind {
        MessageKind::OqsSiquc01 => Some((Method::InsuranceCard, 1)),
        MessageKind::OqsMuquc01 => {
            let body = tree?.child("MessageBody")?;
            let n = body
                .children_named("QualificationConfirmSearchInfo")
                .count();
            Some((Method::Bulk, n as i64))
        }
        MessageKind::YzkSiquc01 => {
            let category = tree?.child("MessageBody")?.value("FileCategory")?;
            Some(match category.trim() {
                "3" | "4" => (Method::ViewClinical, 1),
                _ => (Method::ViewMedication, 1),
            })
        }
        MessageKind::TkkSiquc01 => Some((Method::ViewCheckup, 1)),
        _ => None,
    }
}

/// The `MedicalInstitutionCode` a request's header names, as written.
fn header_institution(tree: &Element) -> Option<&str> {
    tree.child("MessageHeader")?.value("MedicalInstitutionCode")
}

/// Why a tree has no header to pair its answer with: the error every handler answers for it.
fn header_unreadable(tree: &Element) -> onshi_wire::result_codes::Outcome {
    let (key, detail) = if tree.name != "XmlMsg" {
        (ResultKey::WrongRoot, tree.name.as_str())
    } else {
        (ResultKey::HeaderMissing, "MessageHeader")
    };
    FileError::new(key, detail).outcome
}

/// The decode step: request bytes to a tree — an XML file (UTF-8 or Shift_JIS, no DTD, within the limits) or
/// the Web API's JSON mirroring the tree. Unreadable input is a file-level error of the same key on every door.
pub fn decode(bytes: &[u8], form: Form, limits: &Limits) -> Result<Element, FileError> {
    let tree = match form {
        Form::File => xml::parse(bytes, limits).map(|d| d.root),
        Form::Json => {
            if bytes.len() > limits.max_bytes {
                Err(XmlError::TooLarge {
                    limit: limits.max_bytes,
                })
            } else {
                serde_json::from_slice::<serde_json::Value>(bytes)
                    .map_err(|e| XmlError::Malformed(format!("JSON: {e}")))
                    .and_then(|v| xml::from_json(&v))
            }
        }
    };
    tree.map_err(|e| FileError::unreadable(&e))
}
