//! The doors onto the entry pipeline ([`crate::pipeline`]): the folder interface of the 資格確認端末 (reference
//! §1.2–1.3), `POST /oqs/v1/req/<file name>` over HTTP, and the JSON Web API's message paths — each of them also
//! over the TLS listener. A door only identifies the caller, reads the body within the limit and delivers the reply;
//! everything else is the pipeline's.
//!
//! Folder layout: `<root>/<医療機関コード>/req`, `res`, `face`. The watcher scans every facility's `req/` folder; a
//! file is taken once it has stopped changing between two scans (or is older than one second), so a vendor may
//! write in place or write-then-rename. Names starting with `.` or ending in `.tmp`/`.part` are left alone (a
//! vendor's own temporary files). The answer is published under the paired name in `res/` ([`publish`]: created
//! under its final name and written, like the real terminal software, or renamed in from a hidden temporary file);
//! then the request is removed. A request whose answer could not be paired with it (unknown name, unreadable XML,
//! no header, too large) follows the terminal software's convention by default: the request file comes back in
//! `res/` with `<request file name>.err` beside it ([`FolderErrors`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use onshi_wire::msg::file_name::{error_response_name, MessageKind, RequestName, WEB_API_MESSAGES};

use crate::config::{FolderErrors, Publish};
use crate::http::BodyError;
use crate::pipeline::{Body, Caller, Handlers, Pipeline, Reply, Stage, Transport};
use crate::pki::PeerCert;
use crate::roles::{route, Access, RouteAccess};

/// Creates `<root>/<code>/{req,res,face}`.
pub fn ensure_facility_dirs(root: &Path, code: &str) -> std::io::Result<PathBuf> {
    let dir = root.join(code);
    for sub in ["req", "res", "face"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(dir)
}

/// Writes `bytes` to `dir/name` through a hidden temporary file and a rename.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// Publishes an answer for a client watching `dir`: [`Publish::InPlace`] creates `dir/name` and writes it in one
/// call (watchers see it created, then changed; the content is whole when it is closed — a reader that opens it
/// earlier sees an empty or truncated file, never a complete-looking one, since an XML answer ends with its root's
/// end tag); [`Publish::Rename`] renames it in whole. A failed write removes what was created.
pub fn publish(dir: &Path, name: &str, bytes: &[u8], mode: Publish) -> std::io::Result<()> {
    match mode {
        Publish::Rename => write_atomically(dir, name, bytes),
        Publish::InPlace => {
            use std::io::Write;
            let path = dir.join(name);
            let written = std::fs::File::create(&path).and_then(|mut f| {
                f.write_all(bytes)?;
                f.flush()
            });
            if written.is_err() {
                let _ = std::fs::remove_file(&path);
            }
            written
        }
    }
}

fn ignored(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part")
}

/// Size and modification time of files seen at the previous scan.
pub type Seen = std::collections::HashMap<PathBuf, (u64, SystemTime)>;

/// Files dropped in `<root>/<owner>/<sub>/` (claims of a facility, checkup submissions of an insurer), taken in one
/// at a time until the service is gone: a file over `limit` is refused unread; otherwise `take_in` gets the service,
/// the file and its SHA-256 and answers a report or a refusal (`{"error": {"code", "message"}}`), written next to
/// the file as `<name>.result.json`; then the file is removed (the service stored it). A file whose report cannot be
/// written is set aside and never stops the folder.
pub async fn intake_folder<T, F, Fut>(
    me: std::sync::Weak<T>,
    root: PathBuf,
    sub: &'static str,
    limit: usize,
    take_in: F,
) where
    F: Fn(Arc<T>, Complete, String) -> Fut,
    Fut: std::future::Future<Output = serde_json::Value>,
{
    let (mut seen, mut stuck) = (Seen::new(), Seen::new());
    let error = |code: &str, message: String| serde_json::json!({"error": {"code": code, "message": message}});
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(service) = me.upgrade() else { return };
        for f in complete_files(&root, sub, &mut seen) {
            if is_stuck(&f, &mut stuck) {
                continue;
            }
            let result = if f.len > limit as u64 {
                error(
                    "payload_too_large",
                    format!("the file is larger than the limit of {limit} bytes"),
                )
            } else {
                let path = f.path.clone();
                let sha = tokio::task::spawn_blocking(move || crate::sha256_file(&path))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
                match sha {
                    Ok(sha) => take_in(service.clone(), f.clone(), sha).await,
                    Err(e) => error("unreadable", e.to_string()),
                }
            };
            let dir = f.facility_dir.join(sub);
            let name = format!("{}.result.json", f.name);
            let written = write_atomically(&dir, &name, result.to_string().as_bytes())
                .and_then(|_| std::fs::remove_file(&f.path));
            if let Err(e) = written {
                set_aside(&f, &e.to_string(), &mut stuck);
            }
        }
    }
}

/// A file a facility finished writing into one of its folders.
#[derive(Debug, Clone)]
pub struct Complete {
    pub facility: String,
    pub facility_dir: PathBuf,
    pub name: String,
    pub path: PathBuf,
    pub len: u64,
}

/// The files in `<root>/<facility>/<sub>/` that are complete: unchanged since the previous scan (or older than a
/// second), not hidden, not `.tmp`/`.part` (a vendor's temporary files) nor a `.result.json` report.
/// `seen` carries the state between scans.
pub fn complete_files(root: &Path, sub: &str, seen: &mut Seen) -> Vec<Complete> {
    let mut out = Vec::new();
    let mut still_there = Seen::new();
    let Ok(facilities) = std::fs::read_dir(root) else {
        return out;
    };
    for fac in facilities.flatten() {
        let Ok(files) = std::fs::read_dir(fac.path().join(sub)) else {
            continue;
        };
        let facility = fac.file_name().to_string_lossy().to_string();
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() || ignored(&name) || name.ends_with(".result.json") {
                continue;
            }
            let path = f.path();
            let stamp = (
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            );
            let old_enough = stamp
                .1
                .elapsed()
                .map(|d| d > Duration::from_secs(1))
                .unwrap_or(false);
            if seen.get(&path) != Some(&stamp) && !old_enough {
                still_there.insert(path, stamp);
                continue;
            }
            out.push(Complete {
                facility: facility.clone(),
                facility_dir: fac.path(),
                name,
                path,
                len: meta.len(),
            });
        }
    }
    *seen = still_there;
    out
}

/// A file its folder's service could not take in (its answer could not be written: `res/` is not a folder, the
/// disk refused, …): moved to `<facility>/failed/` with `<name>.reason.txt` beside it, logged once. If even that
/// fails, it is remembered in `stuck` and skipped by later scans, so it never stops the folder.
pub fn set_aside(f: &Complete, reason: &str, stuck: &mut Seen) {
    tracing::warn!(facility = %f.facility, reason, "folder: a file could not be answered; set aside");
    let failed = f.facility_dir.join("failed");
    let moved = std::fs::create_dir_all(&failed)
        .and_then(|_| write_atomically(&failed, &reason_name(&f.name), reason.as_bytes()))
        .and_then(|_| std::fs::rename(&f.path, failed.join(&f.name)));
    if let Err(e) = moved {
        tracing::warn!(facility = %f.facility, error = %e, "folder: cannot set the file aside either; skipping it");
        if let Ok(meta) = std::fs::metadata(&f.path) {
            stuck.insert(
                f.path.clone(),
                (
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                ),
            );
        }
    }
}

/// Whether a file was set aside as stuck and has not changed since (a changed file is tried again).
pub fn is_stuck(f: &Complete, stuck: &mut Seen) -> bool {
    let unchanged = stuck.get(&f.path).is_some_and(|(len, _)| *len == f.len)
        && std::fs::metadata(&f.path)
            .ok()
            .and_then(|m| m.modified().ok())
            == stuck.get(&f.path).map(|(_, t)| *t);
    if !unchanged {
        stuck.remove(&f.path);
    }
    unchanged
}

/// `<name>.reason.txt`, the name cut to 100 bytes (on a character boundary) so the file can be written.
fn reason_name(name: &str) -> String {
    let mut end = name.len().min(100);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}.reason.txt", &name[..end])
}

/// The folder door: scans every facility's `req/` and answers each complete request file in `res/`.
pub struct Watcher<H> {
    pub root: PathBuf,
    pub poll: Duration,
    pub pipeline: Arc<Pipeline<H>>,
    pub publish: Publish,
    pub errors: FolderErrors,
}

impl<H> Clone for Watcher<H> {
    fn clone(&self) -> Self {
        Self {
            root: self.root.clone(),
            poll: self.poll,
            pipeline: self.pipeline.clone(),
            publish: self.publish,
            errors: self.errors,
        }
    }
}

impl<H: Handlers> Watcher<H> {
    /// Runs until the task is dropped.
    pub async fn run(self) {
        tracing::info!(root = %self.root.display(), "folder interface: watching req/ folders");
        let mut seen = Seen::new();
        let mut stuck = Seen::new();
        loop {
            self.scan(&mut seen, &mut stuck).await;
            tokio::time::sleep(self.poll).await;
        }
    }

    /// One pass over every facility's `req/`; returns how many files were answered. Each file is on its own: one
    /// that cannot be answered is set aside ([`set_aside`]) and never delays the others.
    pub async fn scan(&self, seen: &mut Seen, stuck: &mut Seen) -> usize {
        let mut answered = 0;
        if self.pipeline.controls.is_paused() {
            return answered;
        }
        for f in complete_files(&self.root, "req", seen) {
            if is_stuck(&f, stuck) {
                continue;
            }
            match self.answer_file(&f).await {
                Ok(()) => answered += 1,
                Err(e) => set_aside(&f, &e.to_string(), stuck),
            }
        }
        answered
    }

    async fn answer_file(&self, f: &Complete) -> std::io::Result<()> {
        let res_dir = f.facility_dir.join("res");
        std::fs::create_dir_all(&res_dir)?;
        let (res_name, reply) = match RequestName::parse(&f.name) {
            Err(e) => (
                error_response_name(&f.name),
                self.pipeline
                    .unknown_name(Transport::Folder, &e.to_string()),
            ),
            Ok(name) => {
                let now = self.pipeline.clock.now();
                if let Some(until) = self.pipeline.controls.maintenance_until(
                    Transport::Folder,
                    name.kind,
                    Some(&f.facility),
                    now,
                ) {
                    tracing::debug!(file = %f.name, %until, "folder: under maintenance; the request waits");
                    return Ok(());
                }
                let body = if f.len as usize > self.pipeline.limits_for(name.kind).max_bytes {
                    Body::TooLarge
                } else {
                    Body::Bytes(std::fs::read(&f.path)?)
                };
                let caller = Caller {
                    facility: Some(f.facility.clone()),
                    transport: Transport::Folder,
                };
                let (_, reply) = self.pipeline.run(name.kind, Ok(caller), body).await;
                (name.response_for(&reply.body), reply)
            }
        };
        match (&reply.unpaired, self.errors) {
            (Some(why), FolderErrors::Err) => {
                // The request comes back beside its reason, which is published last: a client that sees the
                // `.err` finds the request already there.
                std::fs::rename(&f.path, res_dir.join(&f.name))?;
                let text = format!("{} {}\r\n", why.code, why.message);
                let text = self.pipeline.default_encoding.encode(&text);
                publish(&res_dir, &format!("{}.err", f.name), &text, self.publish)?;
                tracing::debug!(file = %f.name, code = %why.code, "folder: returned with .err");
            }
            _ if reply.door().is_some() => {
                // A fault rule: the request is taken and its answer never appears.
                std::fs::remove_file(&f.path)?;
                tracing::debug!(file = %f.name, "folder: taken, never answered (fault rule)");
            }
            _ => match reply.delay() {
                None => {
                    publish(&res_dir, &res_name, &reply.body, self.publish)?;
                    std::fs::remove_file(&f.path)?;
                    tracing::debug!(file = %res_name, "folder: answered");
                }
                Some(delay) => {
                    // A fault rule: the request is taken now, its answer appears later.
                    std::fs::remove_file(&f.path)?;
                    let mode = self.publish;
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        if let Err(e) = publish(&res_dir, &res_name, &reply.body, mode) {
                            tracing::warn!(file = %res_name, error = %e, "folder: a delayed answer could not be written");
                        }
                    });
                }
            },
        }
        Ok(())
    }
}

/// The HTTP doors, for a process whose dispatcher is `H` (needs `web::Data<Pipeline<H>>` in the app):
/// `POST /oqs/v1/req/{file_name}` (the body is the request file, the answer the response file, named in
/// `Content-Disposition`) and every Web API message path of [`WEB_API_MESSAGES`].
pub fn configure<H: Handlers>(cfg: &mut web::ServiceConfig) {
    // A static prefix and the scope's default service, not a `{file_name}` route: actix-router matches dynamic
    // segments with a regular expression, which cost 6 % of the single-query path (`docs/PERFORMANCE.md`).
    cfg.service(web::scope(FILE_DOOR).default_service(web::to(post_file::<H>)));
    for &(path, kind) in WEB_API_MESSAGES {
        cfg.route(
            path,
            web::post().to(
                move |req: HttpRequest, payload: web::Payload, p: web::Data<Pipeline<H>>| {
                    web_api(req, payload, p, kind)
                },
            ),
        );
    }
}

/// Who may call the doors: facility messages, identified and refused by the pipeline itself.
pub fn routes() -> Vec<RouteAccess> {
    let mut r = vec![route("POST", "/oqs/v1/req/{file_name}", Access::Message)];
    r.extend(
        WEB_API_MESSAGES
            .iter()
            .map(|(path, _)| route("POST", path, Access::Message)),
    );
    r
}

/// The limit step of the HTTP doors: the body within the limit (not read at all for a refused caller), or the
/// answer to a body that could not be read (408 slow, 400 broken).
async fn read_limited<T, E, H>(
    caller: &Result<T, E>,
    payload: web::Payload,
    pipeline: &Pipeline<H>,
    kind: MessageKind,
) -> Result<Body, HttpResponse> {
    if caller.is_err() {
        return Ok(Body::Bytes(Vec::new()));
    }
    let (limit, timeout) = (pipeline.limits_for(kind).max_bytes, pipeline.body_timeout);
    match crate::http::read_limited(payload, limit, timeout).await {
        Ok(bytes) => Ok(Body::Bytes(bytes)),
        Err(BodyError::TooLarge) => Ok(Body::TooLarge),
        Err(BodyError::TimedOut) => Err(HttpResponse::RequestTimeout().finish()),
        Err(BodyError::Broken(_)) => Err(HttpResponse::BadRequest().finish()),
    }
}

fn status(stage: Stage) -> StatusCode {
    match stage {
        Stage::Caller => StatusCode::UNAUTHORIZED,
        Stage::Limit => StatusCode::PAYLOAD_TOO_LARGE,
        Stage::Handled => StatusCode::OK,
    }
}

fn file_reply(status: StatusCode, name: &str, reply: Reply) -> HttpResponse {
    let content_type = if reply.is_pdf() {
        "application/pdf"
    } else if reply.is_zip() {
        "application/zip"
    } else {
        "application/xml"
    };
    HttpResponse::build(status)
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(reply.body)
}

/// The prefix of the file door, `POST /oqs/v1/req/<file name>`.
const FILE_DOOR: &str = "/oqs/v1/req";

async fn post_file<H: Handlers>(
    req: HttpRequest,
    payload: web::Payload,
    pipeline: web::Data<Pipeline<H>>,
) -> HttpResponse {
    if req.method() != actix_web::http::Method::POST {
        return HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, "POST"))
            .finish();
    }
    // The file name: the one path segment after the prefix (anything else is not a request name).
    let name = req
        .path()
        .strip_prefix(FILE_DOOR)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or("")
        .to_string();
    let req_name = match RequestName::parse(&name) {
        Ok(n) => n,
        Err(e) => {
            return file_reply(
                StatusCode::NOT_FOUND,
                &error_response_name(&name),
                pipeline.unknown_name(Transport::Http, &e.to_string()),
            );
        }
    };
    let caller = pipeline
        .identify(Transport::Http, req.conn_data::<PeerCert>(), None)
        .map_err(|e| (Transport::Http, e));
    let body = match read_limited(&caller, payload, &pipeline, req_name.kind).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (stage, reply) = pipeline.run(req_name.kind, caller, body).await;
    deliver(reply, |reply| {
        let name = req_name.response_for(&reply.body);
        file_reply(status(stage), &name, reply)
    })
    .await
}

/// Delivers an answer over HTTP as the fault rules say: later, not at all (a dropped connection), or replaced by a
/// status; otherwise as `answer` builds it.
async fn deliver(reply: Reply, answer: impl FnOnce(Reply) -> HttpResponse) -> HttpResponse {
    use crate::control::DoorFault;
    if let Some(d) = reply.delay() {
        tokio::time::sleep(d).await;
    }
    match reply.door() {
        None => answer(reply),
        Some(DoorFault::Status(code)) => HttpResponse::build(
            StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        )
        .finish(),
        Some(DoorFault::Unavailable { retry_after }) => HttpResponse::ServiceUnavailable()
            .insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after.to_string(),
            ))
            .json(serde_json::json!({"error": {"code": "maintenance",
                "message": "the system is under maintenance (a simulated maintenance window)"}})),
        // A body that fails before its first byte: actix closes the connection without an answer.
        Some(DoorFault::Drop | DoorFault::Never) => {
            HttpResponse::Ok().streaming(futures_util::stream::once(async {
                Err::<actix_web::web::Bytes, _>(std::io::Error::other("dropped by a fault rule"))
            }))
        }
    }
}

async fn web_api<H: Handlers>(
    req: HttpRequest,
    payload: web::Payload,
    pipeline: web::Data<Pipeline<H>>,
    kind: MessageKind,
) -> HttpResponse {
    let token = crate::http::id_token(&req);
    let caller = pipeline
        .identify(
            Transport::WebApi,
            req.conn_data::<PeerCert>(),
            token.as_deref(),
        )
        .map_err(|e| (Transport::WebApi, e));
    let body = match read_limited(&caller, payload, &pipeline, kind).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (stage, reply) = pipeline.run(kind, caller, body).await;
    deliver(reply, |reply| {
        let content_type = if reply.is_pdf() {
            "application/pdf"
        } else {
            "application/json; charset=UTF-8"
        };
        HttpResponse::build(status(stage))
            .content_type(content_type)
            .body(reply.body)
    })
    .await
}
