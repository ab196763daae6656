//! # onshi-checkup — 特定健診・後期高齢者健診 results
//!
//! | module | what |
//! |---|---|
//! | [`archive`] | a submission read as a whole (ZIP layout, names, index, limits) and file by file |
//! | [`cda`] | the hc08 CDA document parser |
//! | [`items`] | the item master (codes, types, units, ranges, what each kind of checkup requires) and code meanings |
//! | [`validate`] | a document checked against the reference, per item, into a checkup to store |
//! | [`judge`] | メタボリックシンドローム判定 and 特定保健指導レベル from the values |
//! | [`submit`] | a submission taken in: registrations, replacements, deletions, one transaction |
//! | [`results`] | the stored results of a person (the viewing window, items with their meanings) |
//! | [`tkk_siquc01`] | the handler of `TKKsiquc01` retrieval (consent-gated), XML, JSON or PDF |
//! | [`zipdir`] | ZIP reading in constant memory (the central directory walked entry by entry, ZIP64 included) |
//! | [`synthetic`] | hc08 documents and submission archives written as insurers' software does |
//! | this file | [`Checkups`]: the HTTP API, the insurers' folders and the patient view |
//!
//! Insurers submit (`POST /checkup/v1/submissions`, or `<folders>/insurers/<保険者番号>/checkups/`); the service
//! finds the person through [`onshi_platform::directory::Directory`] and every facility view goes through the
//! consent service's access decision and log ([`onshi_consent::port::AccessPort`]).

pub mod archive;
pub mod cda;
pub mod items;
pub mod judge;
pub mod results;
pub mod submit;
pub mod synthetic;
pub mod tkk_siquc01;
pub mod validate;
pub mod zipdir;

use std::sync::Arc;

use actix_web::{web, HttpMessage, HttpResponse};

use onshi_platform::db::Migrations;
use onshi_platform::directory::Directory;
use onshi_platform::http::{spool_body, ApiError, Core};
use onshi_platform::roles::{route, Access, Caller, RouteAccess};

pub const MIGRATIONS: Migrations = Migrations {
    schema: "checkup",
    steps: &[(
        "0001_checkup",
        include_str!("../../../schema/checkup/0001_checkup.sql"),
    )],
};

/// The checkup service.
pub struct Checkups {
    pub core: Core,
    pub directory: Arc<dyn Directory>,
    pub consent: Arc<dyn onshi_consent::port::AccessPort>,
}

impl Checkups {
    pub fn start(
        core: Core,
        directory: Arc<dyn Directory>,
        consent: Arc<dyn onshi_consent::port::AccessPort>,
    ) -> Arc<Self> {
        let me = Arc::new(Self {
            core,
            directory,
            consent,
        });
        if let Some(root) = me.core.config.folder_root.clone() {
            let weak = Arc::downgrade(&me);
            me.core.tasks.spawn("checkup submissions folder", move || {
                onshi_platform::transport::intake_folder(
                    weak.clone(),
                    root.join("insurers"),
                    "checkups",
                    onshi_platform::config::limits::CHECKUP_SUBMISSION,
                    Checkups::take_in,
                )
            });
        }
        me
    }

    /// Takes in a submission stored at `path`.
    pub async fn submit(
        &self,
        insurer: Option<&str>,
        path: &std::path::Path,
        sha256: &str,
    ) -> Result<submit::SubmissionReport, submit::SubmitError> {
        submit::submit(
            &self.core.pool,
            self.directory.as_ref(),
            insurer,
            self.core.clock.now(),
            path,
            sha256,
        )
        .await
    }
}

impl Checkups {
    /// Takes in one submission of an insurer's `checkups/` folder (`transport::intake_folder`), as that insurer.
    async fn take_in(
        self: Arc<Self>,
        f: onshi_platform::transport::Complete,
        sha: String,
    ) -> serde_json::Value {
        let error = |code: &str, message: String| serde_json::json!({"error": {"code": code, "message": message}});
        if onshi_wire::ids::InsurerNumber::parse(&f.facility).is_err() {
            return error(
                "refused",
                format!("{:?} is not a 保険者番号 folder", f.facility),
            );
        }
        match self.submit(Some(&f.facility), &f.path, &sha).await {
            Ok(report) => serde_json::to_value(&report).unwrap_or_default(),
            Err(submit::SubmitError::Refused(m)) => error("refused", m),
            Err(e) => error("internal", e.to_string()),
        }
    }
}

/// Every route of the service and who may call it.
pub const ROUTES: &[RouteAccess] = &[
    route("POST", "/checkup/v1/submissions", Access::Insurer),
    route(
        "GET",
        "/checkup/v1/persons/{person_id}/results",
        Access::OwnPatient,
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/checkup/v1")
            .route("/submissions", web::post().to(post_submission))
            .route("/persons/{person_id}/results", web::get().to(get_results)),
    );
}

/// A submission over HTTP: an insurer registers its own members' results.
async fn post_submission(
    m: web::Data<Arc<Checkups>>,
    req: actix_web::HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let insurer = match req.extensions().get::<Caller>() {
        Some(Caller::Insurer(number)) => Some(number.clone()),
        _ => None,
    };
    let spooled = spool_body(body, onshi_platform::config::limits::CHECKUP_SUBMISSION).await?;
    match m
        .submit(insurer.as_deref(), spooled.file.path(), &spooled.sha256)
        .await
    {
        Ok(report) if report.duplicate => Ok(HttpResponse::Ok().json(report)),
        Ok(report) => Ok(HttpResponse::Created().json(report)),
        Err(submit::SubmitError::Refused(message)) => Err(ApiError::BadRequest {
            message,
            details: vec![],
        }),
        Err(submit::SubmitError::Io(e)) => Err(ApiError::Internal(e.into())),
        Err(submit::SubmitError::Db(e)) => Err(e.into()),
        Err(submit::SubmitError::Directory(e)) => Err(e.into()),
    }
}

/// The patient view: the person's own results over the viewable years, with the values a person follows.
async fn get_results(
    m: web::Data<Arc<Checkups>>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let today = m.core.clock.now().date();
    match results::patient_view(&m.core.pool, &path, today).await {
        Ok(view) => Ok(HttpResponse::Ok().json(view)),
        Err(results::ViewError::TooMany(cap)) => Err(ApiError::BadRequest {
            message: format!("the results hold more than {cap} items"),
            details: vec![],
        }),
        Err(results::ViewError::Db(e)) => Err(e.into()),
    }
}
