//! Runtime configuration, in one place: the settings of a process ([`Config`], with one struct per service that
//! has its own), the environment variables that set them ([`env`]) and every body limit ([`limits`]).
//! `docs/CONFIG.md` lists them all for users. Every setting that stands in for an unknown of the real system
//! (reference markers [U]/[I]) says so with its default and the reason for it.

use std::path::PathBuf;
use std::time::Duration;

use onshi_wire::xml::{Encoding, Limits};

/// Rules of the qualification decision that the public sources leave open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityRules {
    /// A card whose 有効終了年月日 is before the confirmation date answers 2 (無効). Default true: an expired
    /// card is not a valid means of confirmation even while the qualification continues.
    pub card_expiry_invalidates: bool,
    /// A valid card that expires within this many days carries the informational code `card_expiring`
    /// (reference §2.8 "card-expiry warning"). Default 90 (≈ "within 3 months"); 0 turns it off.
    pub expiry_warning_days: i64,
    /// Accept a `QualificationConfirmationDate` after the simulated today. Default false (answered with
    /// `future_date`): the system confirms qualifications for today or the past.
    pub allow_future_dates: bool,
}

impl Default for EligibilityRules {
    fn default() -> Self {
        Self {
            card_expiry_invalidates: true,
            expiry_warning_days: 90,
            allow_future_dates: false,
        }
    }
}

/// How callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// First contact: every route is open; a request without a client certificate is accepted (one that presents a
    /// certificate is still checked). Like the NHS sandbox environment. Printed at start.
    Sandbox,
    /// Integration: every route's role is checked (`platform::roles`). Facility routes need a valid, unrevoked,
    /// unexpired terminal certificate from the simulator's CA whose facility is the request's; the former value
    /// `mtls` is an alias.
    Strict,
}

/// The eligibility service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityConfig {
    pub rules: EligibilityRules,
    /// Lifetime of a Web API `idToken` on the simulated clock.
    pub web_api_token_minutes: i64,
    /// Lifetime of a Web API `refreshToken` on the simulated clock (the real one is unknown [U]).
    pub web_api_refresh_minutes: i64,
    /// How long the results of a two-step bulk job can be downloaded after it was received (simulated days; the
    /// real retention is not published [U]). Later `…02req` get EC0017 and the job is removed.
    pub bulk_result_days: i64,
    /// Whether a done job's results (`…02res`) come as a `.zip` holding the XML.
    pub bulk_results_zip: BulkZip,
    /// The 2024 rule on re-queries by stored numbers (seed 004).
    pub requery: RequeryRule,
    /// Where the read model is kept between runs with its feed positions (`onshi up`: `<home>/read-model.bin`);
    /// `None`: it is read from the feeds at every start.
    pub read_model: Option<std::path::PathBuf>,
}

/// The 2024 rule on re-queries by the numbers a facility keeps (seed 004, 令和6年4月17日 事務連絡): qualification is
/// confirmed from what the patient presents — the My Number card at the reader, or the insurance card — at least once
/// in each month (the claim's unit); other visits of that month may be confirmed by re-querying the stored numbers.
/// The simulator records each facility's last presentation per patient; a re-query in a month without one is
/// flagged (the requery log, the usage statistics) or, if set, refused. The wire cannot tell a card held in the hand
/// from numbers typed from a file, so what a single query counts as is a setting [I].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequeryRule {
    pub single_query: SingleQuery,
    pub unpresented: Unpresented,
}

/// What a single query by insurance-card data (`OQSsiquc01`) counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SingleQuery {
    /// The patient presented the insurance card (or 資格確認書) — the default.
    #[default]
    Presentation,
    /// A re-query by the numbers the facility keeps, like every 一括照会 person.
    IdOnly,
}

impl SingleQuery {
    /// `presentation` or `id-only`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "presentation" => Some(Self::Presentation),
            "id-only" => Some(Self::IdOnly),
            _ => None,
        }
    }
}

/// What becomes of a re-query in a month without a presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unpresented {
    /// Answered as usual, flagged in the requery log and counted (the real system enforces nothing) — the default.
    #[default]
    Flag,
    /// Refused per person (`requery_unpresented`), nothing disclosed; flagged and counted too.
    Refuse,
}

impl Unpresented {
    /// `flag` or `refuse`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "flag" => Some(Self::Flag),
            "refuse" => Some(Self::Refuse),
            _ => None,
        }
    }
}

/// Whether the results of a two-step bulk job come zipped. The real system sends some bulk results as a `.zip`
/// holding the XML; which, and from what size, is not published [U] — so it is a setting, off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkZip {
    /// Always the XML (the default).
    #[default]
    Never,
    /// Always a `.zip`.
    Always,
    /// A `.zip` when the XML is larger than this many bytes.
    Over(usize),
}

impl BulkZip {
    /// `never`, `always` or `over:<bytes>`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "never" => Some(Self::Never),
            "always" => Some(Self::Always),
            _ => s.strip_prefix("over:")?.parse().ok().map(Self::Over),
        }
    }

    /// Whether results of `len` bytes are zipped.
    pub fn applies(self, len: usize) -> bool {
        match self {
            Self::Never => false,
            Self::Always => true,
            Self::Over(n) => len > n,
        }
    }
}

impl Default for EligibilityConfig {
    fn default() -> Self {
        Self {
            rules: EligibilityRules::default(),
            web_api_token_minutes: 60,
            web_api_refresh_minutes: 24 * 60,
            bulk_result_days: 7,
            bulk_results_zip: BulkZip::Never,
            requery: RequeryRule::default(),
            read_model: None,
        }
    }
}

/// The medication service's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicationConfig {
    /// Days of the month on which claim files are accepted (default the real 5th–12th).
    pub claims_window: (u32, u32),
    /// Lanes extracting a batch in parallel (each its own transaction and connection; one institution's files on
    /// one lane, in order). Default 2, the cores of the machines this is measured on.
    pub extract_workers: usize,
}

impl Default for MedicationConfig {
    fn default() -> Self {
        Self {
            claims_window: (5, 12),
            extract_workers: 2,
        }
    }
}

/// How answers appear in the facility folders (`res/`, `face/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Publish {
    /// Like the real terminal software: the file is created under its final name and written, so watchers see it
    /// *created* and then *changed* (.NET `FileSystemWatcher.Created`, chokidar/`fs.watch` `change`); the whole
    /// content is there when the file is closed. The default.
    #[default]
    InPlace,
    /// Written to a hidden temporary file and renamed in: one moved-in event, never a partial file.
    Rename,
}

impl Publish {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in-place" => Some(Self::InPlace),
            "rename" => Some(Self::Rename),
            _ => None,
        }
    }
}

/// What the folder door does with a request file it cannot pair an answer with (unknown file name, unreadable
/// XML, no `XmlMsg`/`MessageHeader`, over the size limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FolderErrors {
    /// Like the real terminal software: the request file is moved to `res/` and `<request file name>.err` beside it
    /// says why (result code and message). The default.
    #[default]
    Err,
    /// An error response file (`SegmentOfResult` 9) under the paired name, the request removed.
    Response,
}

impl FolderErrors {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "err" => Some(Self::Err),
            "response" => Some(Self::Response),
            _ => None,
        }
    }
}

/// The clock whose time stamps face file names (`OQSsiquc01res_face_<facility><hex>_<yyyyMMddHHmmss>.xml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaceNameClock {
    /// The machine's local time: clients that take only files stamped with their machine's today keep seeing face
    /// files after a trainer moves the simulated clock. The default. (The XML inside carries the simulated time.)
    #[default]
    Wall,
    /// The simulated clock, like everything else the simulator writes.
    Simulated,
}

impl FaceNameClock {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wall" => Some(Self::Wall),
            "simulated" => Some(Self::Simulated),
            _ => None,
        }
    }
}

/// The whole configuration of one process: what its doors share, then each service's own.
#[derive(Debug, Clone)]
pub struct Config {
    /// Encoding of response files unless the facility's record says otherwise (the real setting lives in the
    /// 連携アプリ). Default UTF-8.
    pub response_encoding: Encoding,
    pub limits: Limits,
    /// Root of the folder interface: `<root>/<医療機関コード>/{req,res,face}`. None: no folder interface.
    pub folder_root: Option<PathBuf>,
    /// How often `req/` folders are scanned. The real 連携アプリ picks files up "within seconds".
    pub folder_poll: Duration,
    /// How answers appear in `res/` and `face/`.
    pub folder_publish: Publish,
    /// What a request file that cannot be paired with an answer gets.
    pub folder_errors: FolderErrors,
    /// Which clock stamps face file names.
    pub face_name_clock: FaceNameClock,
    pub auth: AuthMode,
    /// The TLS listener (mTLS) for facility-facing endpoints; None: plain HTTP only.
    pub tls_bind: Option<String>,
    /// How long a request file's body may take to arrive over HTTP (default [`limits::BODY_SECONDS`]).
    pub body_timeout: Duration,
    pub eligibility: EligibilityConfig,
    pub medication: MedicationConfig,
    /// How long a continuing consent of 居宅同意取得型 (訪問診療等・オンライン診療等) lasts, in simulated days; after it
    /// the consent answers 2 (同意有効期限切れ). The real period is not in the references [U]. Default 365.
    pub home_consent_days: i64,
    /// The secret that keys the consent and access logs' hash chains (`onshi up` keeps it in `<home>/chain-key`,
    /// mode 0600); `None`: a development key that is not secret (tests, tools without a home).
    pub chain_key: Option<String>,
    /// Where the signed checkpoints of the logs' heads are kept, outside the database (`<home>/checkpoints`);
    /// `None`: no checkpoints (truncation is then not detected).
    pub checkpoint_dir: Option<PathBuf>,
    /// Where snapshots keep their files (`<home>/snapshots`); `None`: no snapshots.
    pub snapshot_dir: Option<PathBuf>,
    /// Where the demo's terminal certificates are exported (`<home>/certs`), copied with snapshots.
    pub certs_dir: Option<PathBuf>,
    /// What the request journal records (`platform::control::journal`).
    pub journal: crate::control::journal::JournalMode,
    /// Whether a magic `ArbitraryFileIdentifier` (`FORCE-…`) forces an answer (default true).
    pub magic_values: bool,
    /// SHA-256 of the operator's token (`onshi up` keeps the token in `<home>/operator-token`); `None`: no operator.
    pub operator_token_sha256: Option<String>,
    /// A streaming replica the eligibility service reads the change feeds from (the lock, the watermark and
    /// NOTIFY stay on the primary, `platform::feed`); `None`: the primary.
    pub feed_replica_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            response_encoding: Encoding::Utf8,
            limits: Limits::default(),
            folder_root: None,
            folder_poll: Duration::from_millis(200),
            folder_publish: Publish::default(),
            folder_errors: FolderErrors::default(),
            face_name_clock: FaceNameClock::default(),
            auth: AuthMode::Sandbox,
            tls_bind: None,
            body_timeout: Duration::from_secs(limits::BODY_SECONDS),
            eligibility: EligibilityConfig::default(),
            medication: MedicationConfig::default(),
            home_consent_days: 365,
            chain_key: None,
            checkpoint_dir: None,
            snapshot_dir: None,
            certs_dir: None,
            journal: Default::default(),
            magic_values: true,
            operator_token_sha256: None,
            feed_replica_url: None,
        }
    }
}

/// Every environment variable onshi reads (command-line options of `onshi up`/`serve` take them as defaults).
pub mod env {
    /// Working directory: the embedded PostgreSQL, the facility folders, certificates, run files (`.onshi`).
    pub const HOME: &str = "ONSHI_HOME";
    /// HTTP listen address (`127.0.0.1:8080`).
    pub const BIND: &str = "ONSHI_BIND";
    /// TLS listen address for terminal certificates (`127.0.0.1:8443`; `off` for none).
    pub const TLS_BIND: &str = "ONSHI_TLS_BIND";
    /// Lanes extracting a medication batch in parallel (default 2).
    pub const EXTRACT_WORKERS: &str = "ONSHI_EXTRACT_WORKERS";
    /// A streaming replica of the database the eligibility service reads the change feeds from.
    pub const FEED_REPLICA_URL: &str = "ONSHI_FEED_REPLICA_URL";
    /// Where the eligibility service keeps its read model between runs (`off`: nowhere).
    pub const READ_MODEL: &str = "ONSHI_READ_MODEL";
    /// `onshi serve`: where the eligibility service answers when it is not in this process (`http://host:port`).
    pub const ELIGIBILITY_URL: &str = "ONSHI_ELIGIBILITY_URL";
    /// `onshi serve`: where the consent service answers when it is not in this process.
    pub const CONSENT_URL: &str = "ONSHI_CONSENT_URL";
    /// `onshi serve`: where the medication service answers (`YZKsiquc01` is forwarded there).
    pub const MEDICATION_URL: &str = "ONSHI_MEDICATION_URL";
    /// `onshi serve`: where the portal answers (the TLS listener's certificate).
    pub const PORTAL_URL: &str = "ONSHI_PORTAL_URL";
    /// `onshi serve`: where the checkup service answers (`TKKsiquc01` is forwarded there).
    pub const CHECKUP_URL: &str = "ONSHI_CHECKUP_URL";
    /// The operator's token, instead of `<home>/operator-token` (processes of one deployment on separate homes,
    /// containers, call each other with it).
    pub const OPERATOR_TOKEN: &str = "ONSHI_OPERATOR_TOKEN";
    /// Root of the facility folders (`<home>/folders`).
    pub const FOLDERS: &str = "ONSHI_FOLDERS";
    /// Encoding of response files for facilities that set none (`utf-8` or `shift_jis`).
    pub const RESPONSE_ENCODING: &str = "ONSHI_RESPONSE_ENCODING";
    /// `sandbox` or `strict` (`mtls` is an alias of `strict`).
    pub const AUTH: &str = "ONSHI_AUTH";
    /// Accept a `QualificationConfirmationDate` after the simulated today.
    pub const ALLOW_FUTURE_DATES: &str = "ONSHI_ALLOW_FUTURE_DATES";
    /// Answer an expired card as valid while the qualification lasts.
    pub const EXPIRED_CARDS_VALID: &str = "ONSHI_EXPIRED_CARDS_VALID";
    /// Days before a card's expiry from which answers carry the expiry notice (90; 0 never).
    pub const EXPIRY_WARNING_DAYS: &str = "ONSHI_EXPIRY_WARNING_DAYS";
    /// A result-code table replacing rows of the embedded one (`wire/data/result-codes.tsv` columns).
    pub const RESULT_CODES: &str = "ONSHI_RESULT_CODES";
    /// A checkup item table extending the shipped subset of the MHLW item master
    /// (`services/checkup/data/items.tsv` columns; a code already there is replaced).
    pub const CHECKUP_ITEMS: &str = "ONSHI_CHECKUP_ITEMS";
    /// How answers appear in the folders: `in-place` (created under the final name, then written; default) or
    /// `rename` (a hidden temporary file renamed in).
    pub const FOLDER_PUBLISH: &str = "ONSHI_FOLDER_PUBLISH";
    pub const BULK_RESULTS_ZIP: &str = "ONSHI_BULK_RESULTS_ZIP";
    /// What a single insurance-card query counts as: `presentation` or `id-only` (the 2024 re-query rule).
    pub const SINGLE_QUERY: &str = "ONSHI_SINGLE_QUERY";
    /// A re-query in a month without a presentation: `flag` or `refuse`.
    pub const UNPRESENTED_REQUERY: &str = "ONSHI_UNPRESENTED_REQUERY";
    /// A request file that cannot be paired with an answer: `err` (moved to `res/` with `<name>.err`; default) or
    /// `response` (an error response file).
    pub const FOLDER_ERRORS: &str = "ONSHI_FOLDER_ERRORS";
    /// The clock of face file names: `wall` (the machine's local time; default) or `simulated`.
    pub const FACE_NAME_CLOCK: &str = "ONSHI_FACE_NAME_CLOCK";
    /// A 6-digit 国保 insurer number written zero-padded (`00131151`): `six-digit` (read as `131151`; default) or
    /// `as-written` (an 8-digit number, usually unknown).
    pub const INSURER_ZERO_PADDING: &str = "ONSHI_INSURER_ZERO_PADDING";
    /// What the request journal records: `all` (default), `sample:N` (one exchange in N) or `off`.
    pub const JOURNAL: &str = "ONSHI_JOURNAL";
    /// Magic `ArbitraryFileIdentifier`s (`FORCE-…`): `on` (default) or `off`.
    pub const MAGIC_VALUES: &str = "ONSHI_MAGIC_VALUES";
    /// Log format: `text` (default; colours only on a terminal) or `json` (one object per line).
    pub const LOG_FORMAT: &str = "ONSHI_LOG_FORMAT";
    /// Log filter (`tracing` targets syntax, e.g. `info,sqlx=warn`).
    pub const LOG: &str = "ONSHI_LOG";
    /// Directory of the PostgreSQL server binaries (`initdb`, `pg_ctl`) for the embedded cluster.
    pub const PG_BIN: &str = "ONSHI_PG_BIN";
    /// An existing PostgreSQL server instead of the embedded one.
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// The server the tests create their databases on (default: one embedded cluster per test run).
    pub const TEST_DATABASE_URL: &str = "ONSHI_TEST_DATABASE_URL";
    /// The server the benchmarks use (default: a private cluster per benchmark).
    pub const BENCH_DATABASE_URL: &str = "ONSHI_BENCH_DATABASE_URL";
}

/// Every limit on the size of what a client sends. A larger body is refused whole with the API's error shape
/// (413), or for a request file with the `too_large` result code; nothing of it is read further.
///
/// Request files and Web API messages are bounded by [`Config::limits`] (`onshi_wire::xml::Limits`: 1 MiB, nesting
/// depth and element count), which the framework-free wire crate's parser enforces.
pub mod limits {
    /// The Web API login body.
    pub const WEB_API_LOGIN: usize = 16 * 1024;
    /// One card-reader step (place, identify, register, consent).
    pub const READER_STEP: usize = 4 * 1024;
    /// One registry record or merge patch (insurer qualifications, portal facilities and certificates).
    pub const REGISTRY_RECORD: usize = 64 * 1024;
    /// An insurer's JSON Lines bulk registration file.
    pub const INSURER_BULK: usize = 256 * 1024 * 1024;
    /// A checkup submission (a ZIP archive or one hc08 document), spooled to disk and read entry by entry.
    pub const CHECKUP_SUBMISSION: usize = 1024 * 1024 * 1024;
    /// One hc08 document inside an archive, uncompressed (a full checkup is under 64 KiB).
    pub const CHECKUP_DOCUMENT: usize = 1024 * 1024;
    /// Entries of one archive (a large insurer's annual report holds some 100,000 persons; larger ones are split,
    /// the name's `N`). Memory does not depend on it (the central directory is walked entry by entry); it bounds time.
    pub const CHECKUP_ENTRIES: usize = 500_000;
    /// Everything an archive may expand to, and the ratio of an entry's size to its compressed size beyond which it
    /// is taken for a ZIP bomb.
    pub const CHECKUP_EXPANDED: u64 = 8 * 1024 * 1024 * 1024;
    pub const CHECKUP_RATIO: u64 = 200;
    /// One simulator-control call (a forced rule, a fault rule).
    pub const CONTROL_CALL: usize = 64 * 1024;
    /// One consent-service call (cards, registration, revocation, disasters).
    pub const CONSENT_CALL: usize = 16 * 1024;
    /// A claim file (UKE), over HTTP or in a claims folder. It is spooled to disk and read as a stream, so memory
    /// does not depend on it; the limit bounds disk and database use (a large hospital's monthly file is a few
    /// hundred MB).
    pub const CLAIM_FILE: usize = 2 * 1024 * 1024 * 1024;
    /// Most drug or 診療行為 lines one `YZKsiquc01` answer carries; a history with more is refused with a request
    /// to narrow the months asked (never cut silently). The real limit is not public [U].
    pub const ANSWER_LINES: usize = 10_000;
    /// A two-step bulk request file (`OQS mu… 01req`): 100,000 persons of `QualificationConfirmSearchInfo` take about
    /// 35 MB. The file is read as a tree, so memory is bounded by this limit (≈ 10 × the file at the maximum), not
    /// independent of it [streaming the bulk file is future work].
    pub const BULK_FILE: usize = 48 * 1024 * 1024;
    /// Elements of one bulk request file (8 per person, 100,000 persons).
    pub const BULK_ELEMENTS: usize = 1_000_000;
    /// Seconds a request body may take to arrive in all (a slow client is answered 408; headers have actix's own
    /// 5-second limit).
    pub const BODY_SECONDS: u64 = 30;
}
