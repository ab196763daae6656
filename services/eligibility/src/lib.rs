//! # onshi-eligibility — the eligibility service (資格確認)
//!
//! Answers the qualification messages that reach it through the entry pipeline (`onshi_platform::pipeline`),
//! from every door alike: request files in a facility's `req/` folder, HTTP POST of the file, and the JSON Web API
//! behind an `idToken` login. One handler module per message stem:
//!
//! | module | what |
//! |---|---|
//! | [`oqs_siquc01`] | 資格確認 by card data: the pure answer path, request tree → checks → decision → response |
//! | [`oqs_siimm01`] | 照会番号登録, single |
//! | [`oqs_muquc01`] / [`oqs_muquc02`] | 一括照会: receipt with a `ReceptionNumber`, 処理中, then one `BulkConfirmUnit` per person |
//! | [`oqs_muimm01`] / [`oqs_muimm02`] | 照会番号登録, bulk: receipt with a `ReceptionNumber`, then the results |
//! | [`home_care`] | 居宅同意取得型 bulk: `OQSmuhvq01/02` (訪問), `OQSmuonq01/02` (オンライン), by consent or examination date |
//! | [`medical_aid`] | 医療扶助 bulk: `OQSmutic01/02` by `MedicalTreatmentMonth` (single answers: `apply_medical_aid`) |
//! | [`bulk`] | the two-step bulk engine: durable jobs, the worker, step-2 polling, expiry |
//! | [`presentations`] | the 2024 re-query rule: each facility's last presentation per patient, the requery log |
//! | [`reference_numbers`] | what the three 照会番号 messages share (admission, storage, `ReferenceNumber` lookup) |
//! | [`gate`] | who may ask: the client certificate's facility, the facility check of every message |
//! | [`registry`] | the in-memory read model built from the insurer and portal change feeds |
//! | `packed` | its compact layout: 56-byte versions, interned strings, dates as days, spills for rare fields |
//! | `index` | its hash indexes: 4-byte buckets of slot numbers and string handles |
//! | `persisted` | the read model's file with its feed positions, checked before it is trusted |
//! | [`decide`] | the pure QualificationValidity decision |
//! | [`webapi`] | the Web API login (`idToken` issue and verification) |
//! | [`directory`] | the [`Directory`](onshi_platform::directory::Directory) other services ask, in process and over `/internal/v1/directory/…` |
//! | this file | [`Eligibility`]: feed consumption, status |

pub mod bulk;
pub mod decide;
pub mod directory;
pub mod gate;
pub mod home_care;
mod index;
pub mod medical_aid;
pub mod oqs_muimm01;
pub mod oqs_muimm02;
pub mod oqs_muquc01;
pub mod oqs_muquc02;
pub mod oqs_siimm01;
pub mod oqs_siquc01;
mod packed;
mod persisted;
pub mod presentations;
pub mod reference_numbers;
pub mod registry;
pub mod webapi;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use anyhow::Context;

use onshi_platform::db::Migrations;
use onshi_platform::feed::{self, Feed};
use onshi_platform::http::{ApiError, Core};
use onshi_platform::pki::PeerCert;
use onshi_platform::roles::{route, Access, RouteAccess};
use onshi_platform::versioned::{read_feed_text, FeedText};
use onshi_wire::ids::Date;
use onshi_wire::msg::FileError;
use onshi_wire::record::{FacilityRecord, QualificationRecord};

use crate::registry::Registry;

pub const MIGRATIONS: Migrations = Migrations {
    schema: "eligibility",
    steps: &[
        (
            "0001_settings",
            include_str!("../../../schema/eligibility/0001_settings.sql"),
        ),
        (
            "0002_reference_numbers",
            include_str!("../../../schema/eligibility/0002_reference_numbers.sql"),
        ),
        (
            "0003_token_key_moved",
            include_str!("../../../schema/eligibility/0003_token_key_moved.sql"),
        ),
        (
            "0004_bulk_jobs",
            include_str!("../../../schema/eligibility/0004_bulk_jobs.sql"),
        ),
        (
            "0005_presentations",
            include_str!("../../../schema/eligibility/0005_presentations.sql"),
        ),
    ],
};

/// Rows read from a feed per batch.
const FEED_BATCH: i64 = 5_000;

/// The running eligibility service.
pub struct Eligibility {
    pub core: Core,
    registry: RwLock<Registry>,
    credentials: onshi_platform::credentials::Credentials,
    ready: AtomicBool,
    /// Wakes the bulk worker when a job is queued in this process.
    bulk_wake: tokio::sync::Notify,
    /// Bulk jobs this process is processing right now.
    bulk_running: AtomicI64,
    /// The presentations of this process not yet written (the 2024 re-query rule).
    pub presentations: presentations::Presentations,
    /// Who consented for home care (the consent service), set when it runs with this one.
    home_care: std::sync::OnceLock<Arc<dyn onshi_consent::port::HomeCarePort>>,
    /// Where the feeds are read: the primary, or a streaming replica of it.
    feeds: feed::Source,
    /// Held while feed rows are applied or the read model is written to its file: a write waits here, not on
    /// the registry's lock, so answers never queue behind it.
    applying: tokio::sync::Mutex<()>,
    /// The feed positions of the read model last written to its file.
    saved: Mutex<Option<(i64, i64)>>,
    /// Whether this start loaded the read model from its file.
    from_file: AtomicBool,
}

/// How often the read model is written to its file when it changed.
const SAVE_EVERY: Duration = Duration::from_secs(600);

impl Eligibility {
    /// Catches up with both feeds, and keeps following them in the background.
    pub async fn start(
        core: Core,
        credentials: onshi_platform::credentials::Credentials,
    ) -> anyhow::Result<Arc<Self>> {
        let replica = match &core.config.feed_replica_url {
            Some(url) => Some(onshi_platform::db::connect(url, 4).await?),
            None => None,
        };
        let feeds = feed::Source {
            primary: core.pool.clone(),
            replica,
        };
        let me = Arc::new(Self {
            feeds,
            core,
            registry: RwLock::new(Registry::default()),
            credentials,
            ready: AtomicBool::new(false),
            bulk_wake: tokio::sync::Notify::new(),
            bulk_running: AtomicI64::new(0),
            presentations: presentations::Presentations::default(),
            home_care: std::sync::OnceLock::new(),
            applying: tokio::sync::Mutex::new(()),
            saved: Mutex::new(None),
            from_file: AtomicBool::new(false),
        });
        let started = Instant::now();
        me.load_persisted().await?;
        me.reserve().await?;
        me.sync().await?;
        me.registry.write().expect("registry").shrink();
        me.ready.store(true, Ordering::SeqCst);
        let (q, p, f) = me.registry.read().expect("registry").counts();
        tracing::info!(
            qualifications = q,
            persons = p,
            facilities = f,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "eligibility: read model loaded"
        );
        for (name, feed) in [
            ("eligibility: insurer feed", feed::INSURER),
            ("eligibility: portal feed", feed::PORTAL),
        ] {
            let weak = Arc::downgrade(&me);
            me.core
                .tasks
                .spawn(name, move || follow(weak.clone(), feed));
        }
        let weak = Arc::downgrade(&me);
        me.core
            .tasks
            .spawn("eligibility: bulk jobs", move || bulk::work(weak.clone()));
        if me.core.config.eligibility.read_model.is_some() {
            let weak = Arc::downgrade(&me);
            me.core
                .tasks
                .spawn("eligibility: read model file", move || {
                    keep_saved(weak.clone())
                });
        }
        let weak = Arc::downgrade(&me);
        me.core
            .tasks
            .spawn("eligibility: gauges", move || gauges(weak.clone()));
        let weak = Arc::downgrade(&me);
        me.core.tasks.spawn("eligibility: presentations", move || {
            write_presentations(weak.clone())
        });
        Ok(me)
    }

    /// Connects the consent service's home-care questions (`OQSmuhvq`, `OQSmuonq`); once.
    pub fn set_home_care(&self, port: Arc<dyn onshi_consent::port::HomeCarePort>) {
        let _ = self.home_care.set(port);
    }

    /// The consent service's home-care questions, when it runs with this one.
    pub fn home_care(&self) -> Option<&dyn onshi_consent::port::HomeCarePort> {
        self.home_care.get().map(|p| p.as_ref())
    }

    /// Sets the feed-lag and bulk-job gauges from the database (once a second, see [`gauges`]).
    async fn refresh_gauges(&self) -> sqlx::Result<()> {
        let m = &self.core.metrics;
        for (label, feed) in [("insurer", feed::INSURER), ("portal", feed::PORTAL)] {
            let (head,): (i64,) =
                sqlx::query_as(&format!("SELECT coalesce(max(seq), 0) FROM {}", feed.view))
                    .fetch_one(&self.core.pool)
                    .await?;
            m.feed_lag
                .with_label_values(&[label])
                .set((head - self.seq(feed)).max(0));
        }
        bulk::refresh_gauges(self).await
    }

    fn seq(&self, feed: Feed) -> i64 {
        let r = self.registry.read().expect("registry");
        if feed.channel == feed::INSURER.channel {
            r.insurer_seq
        } else {
            r.portal_seq
        }
    }

    /// Reads one batch of `feed` and applies it; returns rows applied, or `None` when writers were busy.
    async fn pull(&self, feed: Feed) -> anyhow::Result<Option<usize>> {
        let after = self.seq(feed);
        let Some(rows) = read_feed_text(&self.feeds, feed, after, FEED_BATCH).await? else {
            return Ok(None);
        };
        let n = rows.len();
        self.apply_when_free(feed, rows).await;
        Ok(Some(n))
    }

    /// Applies rows once the read model is not being written to its file (waiting without blocking a thread).
    async fn apply_when_free(&self, feed: Feed, rows: Vec<FeedText>) {
        if rows.is_empty() {
            return;
        }
        let _applying = self.applying.lock().await;
        self.apply(feed, rows);
    }

    /// Reads the batch of `feed` after `after` on another task (the database builds it while this one applies
    /// the batch before).
    fn read_ahead(&self, feed: Feed, after: i64) -> ReadAhead {
        let source = self.feeds.clone();
        ReadAhead(tokio::spawn(async move {
            read_feed_text(&source, feed, after, FEED_BATCH).await
        }))
    }

    /// Loads the persisted read model when it is of this database's feeds (see [`persisted`]).
    async fn load_persisted(&self) -> anyhow::Result<()> {
        let Some(path) = self.core.config.eligibility.read_model.clone() else {
            return Ok(());
        };
        let started = Instant::now();
        let shown = path.display().to_string();
        let reg = match tokio::task::spawn_blocking(move || persisted::load(&path)).await? {
            Ok(Some(reg)) => reg,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(file = shown, error = %e, "eligibility: the read model file is not used; reading the feeds");
                return Ok(());
            }
        };
        for (feed, seq, id) in [
            (feed::INSURER, reg.insurer_seq, &reg.insurer_last),
            (feed::PORTAL, reg.portal_seq, &reg.portal_last),
        ] {
            if seq == 0 {
                continue;
            }
            let row: Option<(String,)> =
                sqlx::query_as(&format!("SELECT id FROM {} WHERE seq = $1", feed.view))
                    .bind(seq)
                    .fetch_optional(&self.core.pool)
                    .await?;
            if row.as_ref().map(|r| &r.0) != Some(id) {
                tracing::warn!(
                    file = shown,
                    feed = feed.view,
                    seq,
                    "eligibility: the read model file is of another database or of a state since restored; reading the feeds"
                );
                return Ok(());
            }
        }
        let (q, p, _) = reg.counts();
        tracing::info!(
            file = shown,
            qualifications = q,
            persons = p,
            insurer_feed_seq = reg.insurer_seq,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "eligibility: read model file loaded"
        );
        *self.saved.lock().expect("saved") = Some((reg.insurer_seq, reg.portal_seq));
        *self.registry.write().expect("registry") = reg;
        self.from_file.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Makes room for the qualifications the insurer feed holds beyond the read model.
    async fn reserve(&self) -> anyhow::Result<()> {
        let after = self.seq(feed::INSURER);
        let (n,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM {} WHERE seq > $1 AND version = 1",
            feed::INSURER.view
        ))
        .bind(after)
        .fetch_one(&self.core.pool)
        .await?;
        let n = usize::try_from(n).unwrap_or(0);
        self.registry.write().expect("registry").reserve(n);
        Ok(())
    }

    /// Writes the read model to its file if it changed since it was last written; returns whether it did.
    /// Blocking: call it from a blocking thread (`spawn_blocking`), never on the async runtime.
    pub fn save_read_model(&self) -> anyhow::Result<bool> {
        let Some(path) = &self.core.config.eligibility.read_model else {
            return Ok(false);
        };
        let _applying = self.applying.blocking_lock();
        let reg = self.registry.read().expect("registry");
        let at = (reg.insurer_seq, reg.portal_seq);
        let mut saved = self.saved.lock().expect("saved");
        if *saved == Some(at) {
            return Ok(false);
        }
        write(&reg, path)?;
        *saved = Some(at);
        Ok(true)
    }

    /// Writes the read model to `path` now, whether or not it changed; returns the file's size.
    /// Blocking: call it from a blocking thread (`spawn_blocking`), never on the async runtime.
    pub fn write_read_model(&self, path: &std::path::Path) -> anyhow::Result<u64> {
        let _applying = self.applying.blocking_lock();
        let reg = self.registry.read().expect("registry");
        write(&reg, path)
    }

    fn apply(&self, feed: Feed, rows: Vec<FeedText>) {
        enum Parsed {
            Qualification(i64, String, Date, Box<QualificationRecord>),
            Facility(i64, String, Box<FacilityRecord>),
            Unreadable(i64, String),
        }
        let insurer = feed.channel == feed::INSURER.channel;
        // Parse outside the lock: queries keep being answered while a large feed is read.
        let parsed: Vec<Parsed> = rows
            .into_iter()
            .map(|row| {
                let eff = Date::from_naive(row.effective_from);
                let result = if insurer {
                    serde_json::from_str::<QualificationRecord>(&row.record)
                        .map(|r| Parsed::Qualification(row.seq, row.id.clone(), eff, Box::new(r)))
                } else {
                    serde_json::from_str::<FacilityRecord>(&row.record)
                        .map(|f| Parsed::Facility(row.seq, row.id.clone(), Box::new(f)))
                };
                result.unwrap_or_else(|e| {
                    tracing::error!(seq = row.seq, feed = feed.view, error = %e, "feed: unreadable record skipped");
                    Parsed::Unreadable(row.seq, row.id)
                })
            })
            .collect();
        let mut new_facilities = Vec::new();
        let seq = {
            let mut reg = self.registry.write().expect("registry");
            for p in parsed {
                match p {
                    Parsed::Qualification(seq, id, eff, r) => {
                        if let Err(e) = reg.apply_qualification(seq, eff, *r) {
                            tracing::error!(seq, error = %e, "feed: record not held");
                        }
                        reg.insurer_last = id;
                    }
                    Parsed::Facility(seq, id, f) => {
                        new_facilities.push(f.code.as_str().to_string());
                        reg.apply_facility(seq, *f);
                        reg.portal_last = id;
                    }
                    Parsed::Unreadable(seq, id) if insurer => {
                        reg.insurer_seq = reg.insurer_seq.max(seq);
                        reg.insurer_last = id;
                    }
                    Parsed::Unreadable(seq, id) => {
                        reg.portal_seq = reg.portal_seq.max(seq);
                        reg.portal_last = id;
                    }
                }
            }
            if insurer {
                reg.insurer_seq
            } else {
                reg.portal_seq
            }
        };
        self.core
            .metrics
            .feed_seq
            .with_label_values(&[if insurer { "insurer" } else { "portal" }])
            .set(seq);
        // The terminal's folders exist for every registered facility.
        if let Some(root) = &self.core.config.folder_root {
            for code in new_facilities {
                if let Err(e) = onshi_platform::transport::ensure_facility_dirs(root, &code) {
                    tracing::warn!(error = %e, "cannot create the facility folders");
                }
            }
        }
    }

    /// Builds the read model again from the start of both feeds (after a snapshot is restored: the feeds may have
    /// gone back).
    pub async fn rebuild(&self) -> anyhow::Result<()> {
        *self.registry.write().expect("registry") = Registry::default();
        *self.saved.lock().expect("saved") = None;
        if let Some(path) = &self.core.config.eligibility.read_model {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(error = %e, "eligibility: the read model file was not removed")
                }
                _ => {}
            }
        }
        self.presentations.clear();
        self.reserve().await?;
        self.sync().await?;
        self.registry.write().expect("registry").shrink();
        Ok(())
    }

    /// Catches up with both feeds now (waits while writers are busy). A full batch is followed by reading the
    /// next one while it is applied, so a long catch-up (a start without the read model's file) keeps the
    /// database and this process busy at once.
    pub async fn sync(&self) -> anyhow::Result<()> {
        for feed in [feed::PORTAL, feed::INSURER] {
            let mut ahead: Option<ReadAhead> = None;
            loop {
                let batch = match ahead.take() {
                    Some(mut next) => (&mut next.0).await.context("feed read-ahead task")??,
                    None => read_feed_text(&self.feeds, feed, self.seq(feed), FEED_BATCH).await?,
                };
                let Some(rows) = batch else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let full = rows.len() as i64 == FEED_BATCH;
                if let (true, Some(last)) = (full, rows.last()) {
                    ahead = Some(self.read_ahead(feed, last.seq));
                }
                self.apply_when_free(feed, rows).await;
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The facility a client certificate speaks for (see [`gate::authenticate`]).
    pub fn certificate(&self, peer: Option<&PeerCert>) -> Result<Option<String>, FileError> {
        let reg = self.registry.read().expect("registry");
        gate::authenticate(&reg, self.core.config.auth, peer, self.core.clock.today())
    }

    /// The facility an HTTP request speaks for: its TLS client certificate, if any.
    pub fn authenticate(&self, req: &actix_web::HttpRequest) -> Result<Option<String>, FileError> {
        self.certificate(req.conn_data::<PeerCert>())
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Validity of a qualification decision, for tests and tools.
    pub fn status(&self) -> serde_json::Value {
        let r = self.registry.read().expect("registry");
        let (q, p, f) = r.counts();
        serde_json::json!({
            "ready": self.is_ready(),
            "insurer_feed_seq": r.insurer_seq,
            "portal_feed_seq": r.portal_seq,
            "qualifications": q,
            "persons": p,
            "facilities": f,
            "read_model_bytes": r.qualification_bytes(),
            "started_from_file": self.from_file.load(Ordering::SeqCst),
        })
    }
}

/// Writes `reg` to `path` (see [`persisted`]), logging how long it took.
fn write(reg: &Registry, path: &std::path::Path) -> anyhow::Result<u64> {
    let started = Instant::now();
    let bytes = persisted::save(reg, path)?;
    tracing::info!(
        file = %path.display(),
        bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "eligibility: read model written"
    );
    Ok(bytes)
}

/// Writes the read model to its file after start-up and then every [`SAVE_EVERY`] when it changed.
async fn keep_saved(me: Weak<Eligibility>) {
    loop {
        let Some(e) = me.upgrade() else { return };
        match tokio::task::spawn_blocking(move || e.save_read_model()).await {
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "eligibility: the read model was not written")
            }
            Err(err) => tracing::warn!(error = %err, "eligibility: the read model writer stopped"),
            Ok(Ok(_)) => {}
        }
        tokio::time::sleep(SAVE_EVERY).await;
    }
}

/// Refreshes the gauges of [`Eligibility::refresh_gauges`] every second.
async fn gauges(me: Weak<Eligibility>) {
    loop {
        let Some(e) = me.upgrade() else { return };
        if let Err(err) = e.refresh_gauges().await {
            tracing::debug!(error = %err, "eligibility: gauges not refreshed");
        }
        drop(e);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Follows one feed: applies new rows as soon as a NOTIFY arrives (or every second).
async fn follow(me: Weak<Eligibility>, feed: Feed) {
    let mut listener = None;
    loop {
        let Some(e) = me.upgrade() else { return };
        let pool = e.core.pool.clone();
        let more = match e.pull(feed).await {
            Ok(Some(n)) => n as i64 == FEED_BATCH,
            Ok(None) => {
                drop(e);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
            // Shutting down: the pool was closed under us.
            Err(_) if pool.is_closed() => return,
            Err(err) => {
                tracing::warn!(error = %err, feed = feed.view, "feed read failed; retrying");
                false
            }
        };
        drop(e);
        if !more {
            feed::wait(&pool, &mut listener, feed, Duration::from_secs(1)).await;
        }
    }
}

async fn status(e: web::Data<Arc<Eligibility>>) -> HttpResponse {
    HttpResponse::Ok().json(e.status())
}

async fn sync(e: web::Data<Arc<Eligibility>>) -> Result<HttpResponse, ApiError> {
    e.sync().await?;
    Ok(HttpResponse::Ok().json(e.status()))
}

/// `GET /eligibility/v1/persons/{person_id}/qualifications` (the patient's own, for the portal): every
/// qualification of the person, newest first, with its state today (`valid`, `lost`, `expired`, `not_yet`) and the
/// record in force then (or its first).
async fn person_qualifications(
    e: web::Data<Arc<Eligibility>>,
    person: web::Path<String>,
) -> HttpResponse {
    let today = e.core.clock.today();
    let reg = e.registry.read().expect("registry");
    let rules = &e.core.config.eligibility.rules;
    let mut list: Vec<_> = reg
        .of_person(&person)
        .map(|q| {
            let record = &q.shown_on(today).record;
            let state = decide::state(&q, today, rules).label();
            (
                record.qualification_date,
                serde_json::json!({"id": q.id, "state": state, "record": record}),
            )
        })
        .collect();
    drop(reg);
    list.sort_by_key(|q| std::cmp::Reverse(q.0));
    let list: Vec<_> = list.into_iter().map(|(_, v)| v).collect();
    HttpResponse::Ok().json(serde_json::json!({"on": today, "qualifications": list}))
}

/// A feed batch read on another task, stopped when no longer wanted (a catch-up that ends in an error).
struct ReadAhead(tokio::task::JoinHandle<sqlx::Result<Option<Vec<FeedText>>>>);

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RequeryQuery {
    facility: Option<String>,
    /// `YYYYMM`.
    month: Option<String>,
    flagged: Option<bool>,
    limit: Option<i64>,
}

/// `GET /eligibility/v1/requeries`: the requery log (the 2024 rule), newest first — person ids, never names.
async fn requeries(
    e: web::Data<Arc<Eligibility>>,
    q: web::Query<RequeryQuery>,
) -> Result<HttpResponse, ApiError> {
    let month = match q.month.as_deref() {
        None => None,
        Some(m) => Some(
            chrono::NaiveDate::parse_from_str(&format!("{m}01"), "%Y%m%d")
                .ok()
                .filter(|_| m.len() == 6)
                .ok_or_else(|| ApiError::bad("month: YYYYMM"))?,
        ),
    };
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad("limit: 1 to 10000"));
    }
    let rows =
        presentations::list(&e.core.pool, q.facility.as_deref(), month, q.flagged, limit).await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Who may call the eligibility endpoints (the messages are the entry pipeline's, `platform::transport::routes`).
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/eligibility/v1/status", Access::Operator),
    route("GET", "/eligibility/v1/requeries", Access::Operator),
    route("POST", "/eligibility/v1/sync", Access::Operator),
    route(
        "GET",
        "/eligibility/v1/persons/{person_id}/qualifications",
        Access::OwnPatient,
    ),
    // The login checks the certificate's facility against the one logging in.
    route(
        "POST",
        onshi_wire::msg::file_name::WEB_API_LOGIN,
        Access::Facility,
    ),
];

/// The eligibility endpoints: status/sync and the Web API (needs `web::Data<Arc<Eligibility>>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/eligibility/v1/status", web::get().to(status))
        .route("/eligibility/v1/sync", web::post().to(sync))
        .route("/eligibility/v1/requeries", web::get().to(requeries))
        .route(
            "/eligibility/v1/persons/{person_id}/qualifications",
            web::get().to(person_qualifications),
        );
    webapi::configure(cfg);
}

/// Writes the presentations of this process every second while the service lives.
async fn write_presentations(me: Weak<Eligibility>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(e) = me.upgrade() else { return };
        if let Err(err) = e.presentations.flush(&e.core.pool).await {
            tracing::warn!(error = %err, "eligibility: presentations not written yet");
        }
    }
}
