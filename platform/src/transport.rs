//! Request files in, response files out, over two transports that answer identically: the folder interface of
//! the 資格確認端末 (reference §1.2–1.3) and `POST /oqs/v1/req/<file name>` over HTTP.
//!
//! Layout: `<root>/<医療機関コード>/req`, `res`, `face`. The watcher scans every facility's `req/` folder; a file is
//! taken once it has stopped changing between two scans (or is older than one second), so a vendor may write in
//! place or write-then-rename. Names starting with `.` or ending in `.tmp`/`.part` are left alone (a vendor's own
//! temporary files). The answer is written under the paired name in `res/` as a hidden temporary file and then
//! renamed, so a half-written response is never visible; then the request is removed.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use onshi_wire::msg::file_name::{error_response_name, MessageKind, RequestName};
use onshi_wire::msg::oqs_siquc01::Response;
use onshi_wire::msg::FileError;
use onshi_wire::result_codes::ResultKey;
use onshi_wire::xml::Encoding;

/// A request taken from a folder (or posted over HTTP, which shares this path).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub name: RequestName,
    pub bytes: Vec<u8>,
    /// The facility whose terminal the file came from (the folder name), when known.
    pub terminal: Option<String>,
    /// Transport label for metrics: `folder`, `http`.
    pub transport: &'static str,
}

/// A handler's answer: the response file's bytes.
pub type Answer = Vec<u8>;

type HandlerFn = dyn Fn(Incoming) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync;

type AuthFn = dyn Fn(&actix_web::HttpRequest) -> Result<Option<String>, FileError> + Send + Sync;

/// Message kind → handler, for the kinds this process answers; and who may send them over HTTP.
#[derive(Clone, Default)]
pub struct Router {
    handlers: HashMap<MessageKind, Arc<HandlerFn>>,
    auth: Option<Arc<AuthFn>>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add<F, Fut>(&mut self, kind: MessageKind, f: F)
    where
        F: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |i| Box::pin(f(i))));
    }

    pub fn merge(&mut self, other: Router) {
        self.handlers.extend(other.handlers);
        if other.auth.is_some() {
            self.auth = other.auth;
        }
    }

    /// Sets how HTTP requests are authenticated: the facility they speak for (`None`: not bound to one).
    pub fn set_auth<F>(&mut self, f: F)
    where
        F: Fn(&actix_web::HttpRequest) -> Result<Option<String>, FileError> + Send + Sync + 'static,
    {
        self.auth = Some(Arc::new(f));
    }

    fn authenticate(&self, req: &actix_web::HttpRequest) -> Result<Option<String>, FileError> {
        match &self.auth {
            Some(f) => f(req),
            None => Ok(None),
        }
    }

    /// Answers a request file; kinds without a handler get a file-level error.
    pub async fn answer(
        &self,
        incoming: Incoming,
        now: onshi_wire::ids::DateTime,
        enc: Encoding,
    ) -> Answer {
        match self.handlers.get(&incoming.name.kind) {
            Some(h) => h(incoming).await,
            None => Response::file_error(
                FileError::new(ResultKey::UnsupportedMessage, incoming.name.kind.stem()),
                now,
                enc,
            )
            .to_xml(),
        }
    }
}

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

fn ignored(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part")
}

/// Settings of the watcher.
pub struct Watcher {
    pub root: PathBuf,
    pub poll: Duration,
    pub router: Router,
    pub clock: crate::clock::SimClock,
    pub encoding: Encoding,
    pub max_bytes: usize,
}

/// Size and modification time of files seen at the previous scan.
pub type Seen = HashMap<PathBuf, (u64, SystemTime)>;

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

impl Watcher {
    /// Runs until the task is dropped.
    pub async fn run(self) {
        tracing::info!(root = %self.root.display(), "folder interface: watching req/ folders");
        let mut seen: Seen = HashMap::new();
        loop {
            if let Err(e) = self.scan(&mut seen).await {
                tracing::warn!(error = %e, "folder scan failed");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// One pass over every facility's `req/`; returns how many files were answered.
    pub async fn scan(&self, seen: &mut Seen) -> std::io::Result<usize> {
        let mut answered = 0;
        for f in complete_files(&self.root, "req", seen) {
            self.answer_file(&f.facility_dir, &f.facility, &f.name, &f.path, f.len)
                .await?;
            answered += 1;
        }
        Ok(answered)
    }

    async fn answer_file(
        &self,
        fac_dir: &Path,
        terminal: &str,
        name: &str,
        path: &Path,
        len: u64,
    ) -> std::io::Result<()> {
        let res_dir = fac_dir.join("res");
        std::fs::create_dir_all(&res_dir)?;
        let now = self.clock.now_dt();
        let (res_name, bytes) = match RequestName::parse(name) {
            Err(e) => (
                error_response_name(name),
                Response::file_error(
                    FileError::new(ResultKey::UnknownFile, &e.to_string()),
                    now,
                    self.encoding,
                )
                .to_xml(),
            ),
            Ok(_) if len as usize > self.max_bytes => (
                RequestName::parse(name).expect("parsed").response(),
                Response::file_error(
                    FileError::new(ResultKey::TooLarge, &self.max_bytes.to_string()),
                    now,
                    self.encoding,
                )
                .to_xml(),
            ),
            Ok(req_name) => {
                let bytes = std::fs::read(path)?;
                let res_name = req_name.response();
                let incoming = Incoming {
                    name: req_name,
                    bytes,
                    terminal: Some(terminal.to_string()),
                    transport: "folder",
                };
                (
                    res_name,
                    self.router.answer(incoming, now, self.encoding).await,
                )
            }
        };
        write_atomically(&res_dir, &res_name, &bytes)?;
        std::fs::remove_file(path)?;
        tracing::debug!(file = %res_name, "folder: answered");
        Ok(())
    }
}

/// `POST /oqs/v1/req/{file_name}`: the body is the request file, the answer the response file (named in
/// `Content-Disposition`). Needs `web::Data<Router>` and `web::Data<Core>` in the app.
pub fn configure_http(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.route(
        "/oqs/v1/req/{file_name}",
        actix_web::web::post().to(post_request),
    );
}

async fn post_request(
    req: actix_web::HttpRequest,
    path: actix_web::web::Path<String>,
    mut payload: actix_web::web::Payload,
    router: actix_web::web::Data<Router>,
    core: actix_web::web::Data<crate::http::Core>,
) -> actix_web::HttpResponse {
    use actix_web::http::StatusCode;
    use futures_util::StreamExt;
    let name = path.into_inner();
    let now = core.clock.now_dt();
    let enc = core.config.response_encoding;
    let max = core.config.limits.max_bytes;
    let reply = |status: StatusCode, file: &str, bytes: Vec<u8>| {
        actix_web::HttpResponse::build(status)
            .content_type("application/xml")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{file}\""),
            ))
            .body(bytes)
    };
    let req_name = match RequestName::parse(&name) {
        Ok(n) => n,
        Err(e) => {
            let bytes = Response::file_error(
                FileError::new(ResultKey::UnknownFile, &e.to_string()),
                now,
                enc,
            )
            .to_xml();
            return reply(StatusCode::NOT_FOUND, &error_response_name(&name), bytes);
        }
    };
    let terminal = match router.authenticate(&req) {
        Ok(t) => t,
        Err(e) => {
            let bytes = Response::file_error(e, now, enc).to_xml();
            return reply(StatusCode::UNAUTHORIZED, &req_name.response(), bytes);
        }
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return actix_web::HttpResponse::BadRequest().finish();
        };
        if body.len() + chunk.len() > max {
            let bytes = Response::file_error(
                FileError::new(ResultKey::TooLarge, &max.to_string()),
                now,
                enc,
            )
            .to_xml();
            return reply(StatusCode::PAYLOAD_TOO_LARGE, &req_name.response(), bytes);
        }
        body.extend_from_slice(&chunk);
    }
    let incoming = Incoming {
        name: req_name.clone(),
        bytes: body,
        terminal,
        transport: "http",
    };
    let bytes = router.answer(incoming, now, enc).await;
    let res_name = req_name.response_for(&bytes);
    if res_name.ends_with(".pdf") {
        return actix_web::HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{res_name}\""),
            ))
            .body(bytes);
    }
    reply(StatusCode::OK, &res_name, bytes)
}
