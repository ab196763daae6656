//! # onshi-reader — the card-reader service (顔認証付きカードリーダー)
//!
//! Place the card → face or PIN → 初回登録 → consents → the face XML in the facility's `face/` folder. The service
//! owns the reader sessions and the face results; it reaches the eligibility service only through
//! [`ReaderDirectory`] (who is calling, the qualification to show, the facility's 照会番号) and the consent service
//! only through [`CardReaderPort`] (cards, PINs, 初回登録, the consent log), so either may later be another
//! process.
//!
//! | module | what |
//! |---|---|
//! | [`routes`] | the HTTP API under `/reader/v1` (`docs/CONSENT.md`) |
//! | [`app`] | the マイナ資格確認アプリ: activation at the terminal, devices, card confirmation (資格確認限定型, 居宅同意取得型; `docs/HOME.md`) |
//! | [`sessions`] | single-use sessions, their state a PostgreSQL enum moved by compare-and-set |
//! | [`finish`] | the group commit of finished sessions and their consents |
//! | [`faces`] | the face result (`OQSsiquc01res`, `ReferenceClassification` 1), its file name, the polling store |
//! | this file | [`Reader`]: the running service, publishing a face result (folder, store, metrics) |

#[cfg(test)]
mod api_tests;
pub mod app;
pub mod faces;
pub mod finish;
pub mod routes;
pub mod sessions;

use std::sync::Arc;
use std::time::Instant;

use onshi_consent::port::CardReaderPort;
use onshi_platform::config::FaceNameClock;
use onshi_platform::db::Migrations;
use onshi_platform::directory::ReaderDirectory;
use onshi_platform::http::Core;
use onshi_wire::ids::{DateTime, FacilityKind};
use onshi_wire::msg::oqs_siquc01::Response;
use onshi_wire::xml::Encoding;

pub use routes::{configure, ROUTES};

pub const MIGRATIONS: Migrations = Migrations {
    schema: "reader",
    steps: &[
        (
            "0001_sessions",
            include_str!("../../../schema/reader/0001_sessions.sql"),
        ),
        (
            "0002_app",
            include_str!("../../../schema/reader/0002_app.sql"),
        ),
    ],
};

/// The running card-reader service.
pub struct Reader {
    pub core: Core,
    pub eligibility: Arc<dyn ReaderDirectory>,
    pub consent: Arc<dyn CardReaderPort>,
    /// Face results of this process, for polling.
    pub faces: faces::FaceStore,
    finisher: finish::Finisher,
}

impl Reader {
    pub fn start(
        core: Core,
        eligibility: Arc<dyn ReaderDirectory>,
        consent: Arc<dyn CardReaderPort>,
    ) -> Arc<Self> {
        let finisher = finish::Finisher::start(core.pool.clone(), consent.clone(), &core.tasks);
        Arc::new(Self {
            core,
            eligibility,
            consent,
            faces: faces::FaceStore::default(),
            finisher,
        })
    }

    /// Writes a face result into the facility's `face/` folder (when the folder interface is on) and keeps it for
    /// polling; returns its sequence number, file name and text.
    pub fn publish_face(
        &self,
        facility: &str,
        resp: &Response,
        now: DateTime,
    ) -> (u64, String, String) {
        let config = &self.core.config;
        let stamp = match config.face_name_clock {
            FaceNameClock::Wall => onshi_platform::clock::wall_jst(),
            FaceNameClock::Simulated => now,
        };
        let file = faces::file_name(facility, stamp);
        let bytes = resp.to_xml();
        if let Some(root) = &config.folder_root {
            let dir = root.join(facility).join("face");
            if let Err(err) = std::fs::create_dir_all(&dir).and_then(|_| {
                onshi_platform::transport::publish(&dir, &file, &bytes, config.folder_publish)
            }) {
                tracing::warn!(error = %err, "card reader: cannot write the face file");
            }
        }
        let xml = match resp.header.encoding {
            Encoding::Utf8 => String::from_utf8_lossy(&bytes).into_owned(),
            Encoding::ShiftJis => encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned(),
        };
        let seq = self.faces.push(facility, file.clone(), xml.clone());
        (seq, file, xml)
    }

    /// Records metrics for one card-reader flow that produced a face result.
    pub fn observe_face(&self, facility: &str, started: Instant) {
        self.core.usage.record(
            facility,
            self.core.clock.now(),
            onshi_platform::usage::Method::MyNumberCard,
            1,
        );
        let m = &self.core.metrics;
        let kind = FacilityKind::metric(FacilityKind::of_code(facility));
        m.messages
            .with_label_values(&["OQSsiquc01_face", "reader", kind, "face"])
            .inc();
        m.latency
            .with_label_values(&["OQSsiquc01_face", "reader"])
            .observe(started.elapsed().as_secs_f64());
    }
}
