//! The `onshi` command. See `onshi --help` and the README.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use onshi::database::Database;
use onshi::host::{self, Host, Peers, Service, ALL};
use onshi_platform::clock::{parse_clock_time, parse_delta, SimClock};
use onshi_platform::config::{
    env, AuthMode, BulkZip, Config, FaceNameClock, FolderErrors, Publish, RequeryRule, SingleQuery,
    Unpresented,
};
use onshi_platform::control::journal::JournalMode;
use onshi_platform::http::{Core, Metrics};
use onshi_wire::ids::ZeroPadding;
use onshi_wire::xml::Encoding;

#[derive(Parser)]
#[command(
    name = "onshi",
    version,
    about = "A simulator of Japan's Online Qualification Confirmation System (オンライン資格確認等システム)"
)]
struct Cli {
    /// Working directory of the simulator: the embedded PostgreSQL, the facility folders, run files.
    #[arg(long, env = env::HOME, default_value = ".onshi", global = true)]
    home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct PeerArgs {
    /// Where the eligibility service answers when it is not in this process (http://host:port).
    #[arg(long, env = env::ELIGIBILITY_URL)]
    eligibility_url: Option<String>,
    /// Where the consent service answers when it is not in this process.
    #[arg(long, env = env::CONSENT_URL)]
    consent_url: Option<String>,
    /// Where the portal answers (a front door without it asks it for its TLS certificate).
    #[arg(long, env = env::PORTAL_URL)]
    portal_url: Option<String>,
    /// Where the medication service answers (the front door forwards YZKsiquc01 there).
    #[arg(long, env = env::MEDICATION_URL)]
    medication_url: Option<String>,
    /// Where the checkup service answers (the front door forwards TKKsiquc01 there).
    #[arg(long, env = env::CHECKUP_URL)]
    checkup_url: Option<String>,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = env::BIND, default_value = "127.0.0.1:8080")]
    bind: String,
    /// Root of the facility folders (<root>/<医療機関コード>/{req,res,face}); default <home>/folders.
    #[arg(long, env = env::FOLDERS)]
    folders: Option<PathBuf>,
    /// Encoding of response files for facilities that do not set their own.
    #[arg(long, env = env::RESPONSE_ENCODING, default_value = "utf-8", value_parser = parse_encoding)]
    response_encoding: Encoding,
    /// Accept QualificationConfirmationDate after the simulated today.
    #[arg(long, env = env::ALLOW_FUTURE_DATES)]
    allow_future_dates: bool,
    /// Answer an expired card (有効終了年月日 passed) as valid while the qualification lasts.
    #[arg(long, env = env::EXPIRED_CARDS_VALID)]
    expired_cards_valid: bool,
    /// Roles: sandbox (every route open; a client certificate presented is still checked) or strict (every route's
    /// role checked: terminal certificates, insurer credentials, patient tokens, the operator token; `mtls` is an
    /// alias).
    #[arg(long, env = env::AUTH, default_value = "sandbox", value_parser = parse_auth)]
    auth: AuthMode,
    /// The TLS listener with client-certificate authentication ("off" for none).
    #[arg(long, env = env::TLS_BIND, default_value = "127.0.0.1:8443")]
    tls_bind: String,
    /// Days before a card's expiry from which a valid answer carries the expiry notice (0: never).
    #[arg(long, env = env::EXPIRY_WARNING_DAYS, default_value_t = 90)]
    expiry_warning_days: i64,
    /// How answers appear in res/ and face/: in-place (created under the final name, then written, like the real
    /// terminal software) or rename (a hidden temporary file renamed in).
    #[arg(long, env = env::FOLDER_PUBLISH, default_value = "in-place", value_parser = parse_with(Publish::parse, "in-place or rename"))]
    folder_publish: Publish,
    /// A request file whose answer cannot be paired with it: err (moved to res/ with <name>.err, like the real
    /// terminal software) or response (an error response file).
    #[arg(long, env = env::FOLDER_ERRORS, default_value = "err", value_parser = parse_with(FolderErrors::parse, "err or response"))]
    folder_errors: FolderErrors,
    /// Two-step bulk results (…02res): never zipped, always, or over:<bytes> (a .zip holding the XML; when the real
    /// system zips is not published).
    #[arg(long, env = env::BULK_RESULTS_ZIP, default_value = "never", value_parser = parse_with(BulkZip::parse, "never, always or over:<bytes>"))]
    bulk_results_zip: BulkZip,
    /// What a single insurance-card query counts as under the 2024 re-query rule: presentation (the patient showed
    /// the card) or id-only (a re-query by the numbers the facility keeps).
    #[arg(long, env = env::SINGLE_QUERY, default_value = "presentation", value_parser = parse_with(SingleQuery::parse, "presentation or id-only"))]
    single_query: SingleQuery,
    /// A re-query in a month without a presentation: flag (answered, logged and counted) or refuse.
    #[arg(long, env = env::UNPRESENTED_REQUERY, default_value = "flag", value_parser = parse_with(Unpresented::parse, "flag or refuse"))]
    unpresented_requery: Unpresented,
    /// The request journal: all, sample:N (one exchange in N; for load tests) or off.
    #[arg(long, env = env::JOURNAL, default_value = "all", value_parser = parse_with(JournalMode::parse, "all, sample:N or off"))]
    journal: JournalMode,
    /// Magic ArbitraryFileIdentifiers (FORCE-…) force answers: on or off.
    #[arg(long, env = env::MAGIC_VALUES, default_value = "on", action = clap::ArgAction::Set, value_parser = parse_with(parse_on_off, "on or off"))]
    magic_values: bool,
    /// The clock of face file names: wall (the machine's time in JST) or simulated.
    #[arg(long, env = env::FACE_NAME_CLOCK, default_value = "wall", value_parser = parse_with(FaceNameClock::parse, "wall or simulated"))]
    face_name_clock: FaceNameClock,
    /// Lanes that extract a medication batch in parallel (one institution's files on one lane, in order).
    #[arg(long, env = env::EXTRACT_WORKERS, default_value_t = 2)]
    extract_workers: usize,
    /// A streaming replica of DATABASE_URL the eligibility service reads the change feeds from (postgres://…).
    #[arg(long, env = env::FEED_REPLICA_URL)]
    feed_replica_url: Option<String>,
    /// Where the eligibility service keeps its read model between runs (default <home>/read-model.bin; off: read
    /// the whole feeds at every start).
    #[arg(long, env = env::READ_MODEL)]
    read_model: Option<String>,
}

/// A value parser for a setting's `parse`.
fn parse_with<T>(
    parse: fn(&str) -> Option<T>,
    expected: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone {
    move |s| parse(s).ok_or_else(|| format!("{s:?}: use {expected}"))
}

fn parse_on_off(s: &str) -> Option<bool> {
    match s {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

fn parse_auth(s: &str) -> Result<AuthMode, String> {
    match s {
        "sandbox" => Ok(AuthMode::Sandbox),
        "strict" | "mtls" => Ok(AuthMode::Strict),
        _ => Err(format!("{s:?}: use sandbox or strict")),
    }
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    Encoding::parse(s).ok_or_else(|| format!("{s:?}: use utf-8 or shift_jis"))
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole simulator (all services, demo data) on the embedded PostgreSQL unless DATABASE_URL is set.
    Up {
        #[command(flatten)]
        serve: ServeArgs,
        /// Do not load the demo population.
        #[arg(long)]
        no_demo: bool,
    },
    /// Run the named services in one process (no demo data); the services they ask that run elsewhere are
    /// reached at their URLs (docs/ARCHITECTURE.md, "One process per service").
    Serve {
        #[arg(value_enum, required = true)]
        services: Vec<Service>,
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        peers: PeerArgs,
    },
    /// Apply the database migrations of every service.
    Migrate,
    /// Load the demo population (idempotent) and write the demo terminals' certificates to `<home>/certs`.
    Demo,
    /// Exit 0 when the onshi at ADDR is ready (`GET /ready` answers 200), 1 otherwise: for container health checks.
    Probe {
        #[arg(default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Read or change the simulated clock shared by every process.
    Clock {
        #[command(subcommand)]
        action: Option<ClockAction>,
    },
    /// Generate and load the synthetic nation (resumable; see docs/SEED.md).
    Seed(SeedArgs),
    /// Drug master tools.
    Master {
        #[command(subcommand)]
        action: MasterAction,
    },
    /// Consent service tools.
    Consent {
        #[command(subcommand)]
        action: ConsentAction,
    },
    /// Insurer registry tools.
    Insurer {
        #[command(subcommand)]
        action: InsurerAction,
    },
    /// Snapshots of the whole state (through the running onshi of this home, or directly when none runs).
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// Return to the demo state (the snapshot "demo" that onshi up saves).
    Reset,
    /// Forced outcomes: "the next N answers matching … are …" (docs/CONTROLS.md).
    Forced {
        #[command(subcommand)]
        action: RuleAction,
    },
    /// Fault and latency rules (docs/CONTROLS.md).
    Fault {
        #[command(subcommand)]
        action: RuleAction,
    },
    /// Named training and test scenarios (docs/SCENARIOS.md).
    Scenario {
        #[command(subcommand)]
        action: ScenarioAction,
    },
    /// Usage statistics: confirmations by method and views, by area (prefecture × facility type) or per facility
    /// with the マイナ保険証利用率 (the running onshi's latest counts are written every 2 s).
    Statistics {
        /// Only this simulated month (YYYYMM).
        #[arg(long)]
        month: Option<String>,
        /// area or facility.
        #[arg(long, default_value = "area")]
        by: String,
        /// CSV instead of JSON.
        #[arg(long)]
        csv: bool,
    },
    /// The request journal of the running onshi of this home, newest first.
    Journal {
        /// Only this facility (医療機関コード).
        #[arg(long)]
        facility: Option<String>,
        /// Only this message stem (OQSsiquc01, …).
        #[arg(long)]
        kind: Option<String>,
        /// Only this outcome (validity_1, file_error, …).
        #[arg(long)]
        outcome: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum ScenarioAction {
    /// List the scenarios.
    List,
    /// Set the stage of a scenario in the running onshi and print its steps (for a trainer).
    Run { name: String },
    /// Set the stage, perform the steps through HTTP and the folders, and report pass/fail (exit 1 on a failure);
    /// NAME "all" checks every scenario.
    Check {
        name: String,
        /// The running onshi's folder root (default <home>/folders).
        #[arg(long)]
        folders: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SnapshotAction {
    /// Save the state as NAME (a-z, 0-9, _).
    Save { name: String },
    /// Replace the state with snapshot NAME.
    Restore { name: String },
    /// List the snapshots.
    List,
    /// Delete snapshot NAME.
    Delete { name: String },
}

#[derive(Subcommand)]
enum RuleAction {
    /// List the rules.
    List,
    /// Add a rule written as JSON (docs/CONTROLS.md), e.g. '{"kind":"OQSsiquc01","answer":"EC0013","times":2}'.
    Add { json: String },
    /// Replace a fault rule by its id (fault rules only).
    Change { id: i64, json: String },
    /// Remove a rule by its id, or every rule with "all".
    Remove { id: String },
}

#[derive(clap::Args)]
struct SeedArgs {
    /// demo (1,000), city (100,000), large (5,000,000), nation (126,146,000) or a number of persons.
    #[arg(long, default_value = "city")]
    scale: String,
    /// The random seed: the same seed and scale always give the same population.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parallel generators/loaders (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Where to write the test decks (default <home>/decks).
    #[arg(long)]
    decks: Option<PathBuf>,
    /// Only print the report of the population already loaded.
    #[arg(long)]
    report: bool,
    /// Also write the claim files (UKE) of this treatment month (YYYYMM) for the population, into
    /// <folders>/<医療機関コード>/claims/ where a running simulator takes them in (between the 5th and the 12th).
    #[arg(long, value_name = "YYYYMM")]
    claims: Option<String>,
    /// Also write the checkup results (特定健診・後期高齢者健診) of this fiscal year for the population, one submission
    /// archive per insurer, into <folders>/insurers/<保険者番号>/checkups/ where a running simulator takes them in.
    #[arg(long, value_name = "FY")]
    checkups: Option<i32>,
    /// Root of the facility folders for --claims and --checkups (default <home>/folders).
    #[arg(long)]
    folders: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ClockAction {
    /// Print the simulated time.
    Show,
    /// Set the time (2026-04-01, 2026-04-01T09:00:00, 20260401090000).
    Set { time: String },
    /// Move the time by a duration (1d, 3h, -30m).
    Advance {
        #[arg(allow_hyphen_values = true)]
        delta: String,
    },
    /// Stop the clock at the current simulated time.
    Freeze,
    /// Let the clock run again from the current simulated time.
    Resume,
}

#[derive(Subcommand)]
enum MasterAction {
    /// Load an official master file as downloaded: the 医薬品マスター (42 columns) or the 薬価基準収載品目リスト
    /// (15 columns), Shift_JIS or UTF-8, with or without the header.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum ConsentAction {
    /// Recompute the consent and access logs' hash chains; fails if any row was changed or removed.
    Verify,
}

#[derive(Subcommand)]
enum InsurerAction {
    /// Load a JSON Lines bulk registration file (all-or-nothing; see docs/INSURER.md).
    Load {
        file: PathBuf,
        /// Check every record without applying anything.
        #[arg(long)]
        dry_run: bool,
    },
}

fn init_logging() -> anyhow::Result<()> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter: Targets = std::env::var(env::LOG)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            Targets::new()
                .with_default(tracing::Level::INFO)
                .with_target("sqlx", tracing::Level::WARN)
                .with_target("actix_server", tracing::Level::WARN)
        });
    // Colours only on a terminal (a log file gets plain text); ONSHI_LOG_FORMAT=json writes one object per line.
    use std::io::IsTerminal;
    let json = match std::env::var(env::LOG_FORMAT).as_deref() {
        Err(_) | Ok("text") => false,
        Ok("json") => true,
        Ok(other) => bail!("{}={other:?}: use text or json", env::LOG_FORMAT),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(layer.json()).init();
    } else {
        registry.with(layer).init();
    }
    Ok(())
}

fn config_of(args: &ServeArgs, home: &std::path::Path) -> Config {
    let mut c = Config {
        response_encoding: args.response_encoding,
        folder_root: Some(args.folders.clone().unwrap_or_else(|| home.join("folders"))),
        feed_replica_url: args.feed_replica_url.clone(),
        ..Config::default()
    };
    let rules = &mut c.eligibility.rules;
    rules.allow_future_dates = args.allow_future_dates;
    rules.card_expiry_invalidates = !args.expired_cards_valid;
    rules.expiry_warning_days = args.expiry_warning_days;
    c.medication.extract_workers = args.extract_workers.max(1);
    c.eligibility.read_model = match args.read_model.as_deref() {
        Some("off") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => Some(home.join("read-model.bin")),
    };
    c.eligibility.bulk_results_zip = args.bulk_results_zip;
    c.eligibility.requery = RequeryRule {
        single_query: args.single_query,
        unpresented: args.unpresented_requery,
    };
    c.auth = args.auth;
    c.folder_publish = args.folder_publish;
    c.folder_errors = args.folder_errors;
    c.face_name_clock = args.face_name_clock;
    c.tls_bind = (args.tls_bind != "off").then(|| args.tls_bind.clone());
    c.snapshot_dir = Some(home.join("snapshots"));
    c.certs_dir = Some(home.join("certs"));
    c.journal = args.journal;
    c.magic_values = args.magic_values;
    c
}

async fn core_on(db: &Database, config: Config) -> anyhow::Result<Core> {
    let pool = db.pool(20).await?;
    host::migrate(&pool).await?;
    let clock = SimClock::connect(&pool).await?;
    Ok(Core {
        pool,
        clock,
        metrics: Metrics::new(),
        config: Arc::new(config),
        tasks: Default::default(),
        usage: Default::default(),
    })
}

async fn wait_for_shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn serve(
    home: &std::path::Path,
    args: ServeArgs,
    services: &[Service],
    peers: Option<PeerArgs>,
    demo: bool,
) -> anyhow::Result<()> {
    refuse_if_running(&args)?;
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let mut db = Database::resolve(home).await?;
    db.advertise(home)?;
    let operator = operator_token(home)?;
    let mut config = with_home_secrets(home, config_of(&args, home))?;
    config.operator_token_sha256 = Some(onshi_platform::sha256_hex(operator.as_bytes()));
    let core = core_on(&db, config).await?;
    if demo {
        let loaded = onshi_seed::demo::load(&core).await?;
        tracing::info!(
            facilities = loaded.facilities,
            steps_applied = loaded.steps_applied,
            steps_already_loaded = loaded.steps_skipped,
            "demo population ready"
        );
        onshi_seed::demo::terminal_certificates(&core, &home.join("certs")).await?;
        // Without it only `reset` is missing (a DATABASE_URL role may lack CREATEDB): said, not fatal.
        if let Err(e) = onshi::snapshots::ensure_demo(&core).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "the demo state could not be saved: onshi reset will not be available"
            );
        }
    }
    let peers = peers.map_or_else(Peers::default, |p| Peers {
        eligibility: p.eligibility_url,
        consent: p.consent_url,
        medication: p.medication_url,
        checkup: p.checkup_url,
        portal: p.portal_url,
        token: operator.clone(),
    });
    let running = Host::start_with(core.clone(), services, &args.bind, &peers).await?;
    // The admin commands of this home (snapshot, journal, …) talk to the process with the front door.
    let url_file = onshi::remote::url_file(home);
    let front_door = services.contains(&Service::Eligibility);
    if front_door {
        std::fs::create_dir_all(url_file.parent().unwrap_or(home))?;
        std::fs::write(&url_file, running.url())?;
    }
    print_banner(&running, services, &core, &db, home, demo);
    print_roles(core.config.auth, home, &operator, db.cluster.is_some());
    wait_for_shutdown().await;
    tracing::info!("shutting down");
    if front_door {
        let _ = std::fs::remove_file(&url_file);
    }
    running.stop().await;
    core.pool.close().await;
    drop(db);
    Ok(())
}

/// What `onshi up`/`serve` prints: where to send requests, and a first request to try.
fn print_banner(
    running: &Host,
    services: &[Service],
    core: &Core,
    db: &Database,
    home: &std::path::Path,
    demo: bool,
) {
    let folders = core.config.folder_root.clone();
    let url = running.url();
    let names: Vec<String> = services
        .iter()
        .map(|s| format!("{s:?}").to_lowercase())
        .collect();
    println!();
    println!("onshi is running: {}", names.join(", "));
    println!("  HTTP            {url}");
    if services.contains(&Service::Eligibility) {
        println!("  request files   POST {url}/oqs/v1/req/<OQSsiquc01req_….xml>  (body: the file)");
        println!(
            "  Web API         POST {url}{}  then",
            onshi_wire::msg::file_name::WEB_API_LOGIN
        );
        for (path, kind) in onshi_wire::msg::file_name::WEB_API_MESSAGES {
            println!("                  POST {url}{path}  ({})", kind.stem());
        }
        if let Some(f) = &folders {
            println!(
                "  folders         {}/<医療機関コード>/req → res",
                f.display()
            );
        }
    }
    if services.contains(&Service::Insurer) {
        println!("  insurer API     {url}/insurer/v1/qualifications");
    }
    if services.contains(&Service::Portal) {
        println!("  portal API      {url}/portal/v1/facilities");
    }
    println!(
        "  clock           {url}/admin/v1/clock   now {}",
        core.clock.view().now
    );
    println!("  health, metrics {url}/healthz  {url}/readyz  {url}/metrics");
    println!("  API, schemas    {url}/docs  {url}/openapi.json  {url}/xsd/");
    println!(
        "  controls        onshi scenario list · onshi snapshot save NAME · onshi journal · {url}/admin/v1/magic"
    );
    println!("  database        {}", db.description);
    if demo {
        println!();
        println!("Try:  curl --data-binary @seed/demo/requests/OQSsiquc01req_yamada_taro.xml \\");
        println!("           {url}/oqs/v1/req/OQSsiquc01req_yamada_taro.xml");
        if let Some(tls) = running.tls_addr {
            let c = home.join("certs");
            println!(
                "With a terminal certificate:  curl --cacert {0}/ca.crt --cert {0}/1310112345/terminal-1.crt --key {0}/1310112345/terminal-1.key \\",
                c.display()
            );
            println!(
                "           --data-binary @seed/demo/requests/OQSsiquc01req_yamada_taro.xml https://localhost:{}/oqs/v1/req/OQSsiquc01req_yamada_taro.xml",
                tls.port()
            );
        }
    }
}

/// Stops before anything is changed (database, certificates, folders) when the addresses are taken: another onshi
/// (or another program) is listening there.
fn refuse_if_running(args: &ServeArgs) -> anyhow::Result<()> {
    let tls = (args.tls_bind != "off").then_some(args.tls_bind.as_str());
    for addr in std::iter::once(args.bind.as_str()).chain(tls) {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                bail!(
                    "onshi is already running at {addr} (or another program listens there): stop it, or choose \
                     another address with --bind / --tls-bind; nothing was changed"
                );
            }
            return Err(anyhow::Error::new(e).context(format!("cannot listen on {addr}")));
        }
    }
    Ok(())
}

/// The operator's token: `<home>/operator-token`, generated at first start with mode 0600.
fn operator_token(home: &std::path::Path) -> anyhow::Result<String> {
    match std::env::var(env::OPERATOR_TOKEN) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => secret_file(home, "operator-token"),
    }
}

/// What every command of a home shares: the key of the logs' chains (`<home>/chain-key`, 0600) and where their
/// checkpoints are kept (`<home>/checkpoints`).
fn with_home_secrets(home: &std::path::Path, config: Config) -> anyhow::Result<Config> {
    Ok(Config {
        chain_key: Some(secret_file(home, "chain-key")?),
        checkpoint_dir: Some(home.join("checkpoints")),
        ..config
    })
}

/// A secret kept in `<home>/<name>`, generated on first use and readable by its owner only (mode 0600).
fn secret_file(home: &std::path::Path, name: &str) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = home.join(name);
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    // Written beside, then linked into place: processes of one home starting together agree on one secret.
    let token = onshi_platform::credentials::random_secret()?;
    let beside = home.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&beside)
        .with_context(|| format!("writing {}", beside.display()))?;
    writeln!(f, "{token}")?;
    drop(f);
    let linked = std::fs::hard_link(&beside, &path);
    let _ = std::fs::remove_file(&beside);
    match linked {
        Ok(()) => Ok(token),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let t = std::fs::read_to_string(&path)?.trim().to_string();
            if t.is_empty() {
                bail!(
                    "{} is empty: remove it to have a new one made",
                    path.display()
                );
            }
            Ok(t)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("writing {}", path.display()))),
    }
}

/// The roles mode and the operator's credential, then how to stop (`embedded`: the PostgreSQL is ours).
fn print_roles(mode: AuthMode, home: &std::path::Path, operator: &str, embedded: bool) {
    match mode {
        AuthMode::Sandbox => println!(
            "Roles: SANDBOX — every route is open (first contact). Use --auth strict to check every role."
        ),
        AuthMode::Strict => println!(
            "Roles: strict — facilities need their terminal certificate, insurers their credential, patients their \
             token, administration the operator token."
        ),
    }
    println!(
        "Operator token ({}, mode 0600): Authorization: Bearer {operator}",
        home.join("operator-token").display()
    );
    println!(
        "Ctrl-C stops onshi{}.",
        if embedded { " and its PostgreSQL" } else { "" }
    );
}

async fn one_off<F, Fut>(home: &std::path::Path, f: F) -> anyhow::Result<()>
where
    F: FnOnce(Core) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let db = Database::resolve(home).await?;
    let core = core_on(&db, with_home_secrets(home, Config::default())?).await?;
    let pool = core.pool.clone();
    let result = f(core).await;
    pool.close().await;
    drop(db);
    result
}

fn print_clock(c: &SimClock) {
    let v = c.view();
    println!(
        "{} ({}){}",
        v.now,
        v.compact,
        if v.frozen { " frozen" } else { " running" }
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging()?;
    let cli = Cli::parse();
    if let Ok(path) = std::env::var(env::RESULT_CODES) {
        onshi_wire::result_codes::ResultCodes::init_from_file(&path)
            .map_err(|e| anyhow::anyhow!("{}={e}", env::RESULT_CODES))?;
    }
    if let Ok(rule) = std::env::var(env::INSURER_ZERO_PADDING) {
        let rule = match rule.as_str() {
            "six-digit" => ZeroPadding::SixDigit,
            "as-written" => ZeroPadding::AsWritten,
            other => bail!(
                "{}={other:?}: use six-digit or as-written",
                env::INSURER_ZERO_PADDING
            ),
        };
        onshi_wire::ids::set_zero_padding(rule).map_err(anyhow::Error::msg)?;
    }
    if let Ok(path) = std::env::var(env::CHECKUP_ITEMS) {
        onshi_checkup::items::Master::init_from_file(&path)
            .map_err(|e| anyhow::anyhow!("{}={e}", env::CHECKUP_ITEMS))?;
    }
    let home = cli.home;
    match cli.command {
        Command::Up {
            serve: args,
            no_demo,
        } => serve(&home, args, ALL, None, !no_demo).await,
        Command::Serve {
            services,
            serve: args,
            peers,
        } => serve(&home, args, &services, Some(peers), false).await,
        Command::Migrate => {
            one_off(&home, |_| async {
                println!("migrations applied");
                Ok(())
            })
            .await
        }
        Command::Demo => one_off(&home, |core| demo(core, home.join("certs"))).await,
        Command::Probe { addr } => probe(&addr),
        Command::Clock { action } => {
            one_off(&home, |core| {
                clock(core, action.unwrap_or(ClockAction::Show))
            })
            .await
        }
        Command::Seed(args) => seed(&home, args).await,
        Command::Master {
            action: MasterAction::Import { file },
        } => {
            let bytes = read_file(&file)?;
            one_off(&home, |core| async move {
                let n = onshi_medication::master::import(&core.pool, &bytes).await?;
                println!("{}: {} rows loaded, {} skipped", n.kind, n.rows, n.skipped);
                Ok(())
            })
            .await
        }
        Command::Consent {
            action: ConsentAction::Verify,
        } => one_off(&home, consent_verify).await,
        Command::Insurer {
            action: InsurerAction::Load { file, dry_run },
        } => one_off(&home, |core| insurer_load(core, file, dry_run)).await,
        Command::Snapshot { action } => snapshot(&home, action).await,
        Command::Reset => {
            snapshot(
                &home,
                SnapshotAction::Restore {
                    name: onshi::snapshots::DEMO.into(),
                },
            )
            .await
        }
        Command::Forced { action } => one_off(&home, |core| rules(core, action, false)).await,
        Command::Fault { action } => one_off(&home, |core| rules(core, action, true)).await,
        Command::Scenario { action } => scenario(&home, action).await,
        Command::Statistics { month, by, csv } => {
            one_off(&home, |core| statistics(core, month, by, csv)).await
        }
        Command::Journal {
            facility,
            kind,
            outcome,
            limit,
        } => journal(&home, facility, kind, outcome, limit),
    }
}

/// Prints an API answer, or fails with its error message.
fn answered(status: u16, json: serde_json::Value) -> anyhow::Result<()> {
    if status >= 400 {
        bail!(
            "{}",
            json["error"]["message"]
                .as_str()
                .unwrap_or("the request was refused")
        );
    }
    if !json.is_null() {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(())
}

/// `onshi snapshot …` / `onshi reset`: through the running onshi (which pauses and reloads), else directly.
async fn snapshot(home: &std::path::Path, action: SnapshotAction) -> anyhow::Result<()> {
    if let Some(r) = onshi::remote::Remote::find(home) {
        let (status, json) = match &action {
            SnapshotAction::Save { name } => r.call(
                "POST",
                "/admin/v1/snapshots",
                Some(&serde_json::json!({ "name": name })),
            )?,
            SnapshotAction::Restore { name } => {
                r.call("POST", &format!("/admin/v1/snapshots/{name}/restore"), None)?
            }
            SnapshotAction::List => r.call("GET", "/admin/v1/snapshots", None)?,
            SnapshotAction::Delete { name } => {
                r.call("DELETE", &format!("/admin/v1/snapshots/{name}"), None)?
            }
        };
        return answered(status, json);
    }
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let db = Database::resolve(home).await?;
    let config = Config {
        snapshot_dir: Some(home.join("snapshots")),
        certs_dir: Some(home.join("certs")),
        folder_root: Some(home.join("folders")),
        ..Config::default()
    };
    let core = core_on(&db, with_home_secrets(home, config)?).await?;
    let store = onshi::snapshots::store(&core).await?;
    let version = onshi::snapshots::version();
    let result = match action {
        SnapshotAction::Save { name } => store
            .save(&name, &version, &core.clock.view().now)
            .await
            .map(|m| serde_json::json!(m)),
        SnapshotAction::Restore { name } => {
            // Our own pool is closed first: the restore swaps the database under it.
            store
                .restore(&name, &version)
                .await
                .map(|m| serde_json::json!(m))
        }
        SnapshotAction::List => {
            Ok(serde_json::json!({"schema_version": version, "snapshots": store.list()}))
        }
        SnapshotAction::Delete { name } => {
            store.delete(&name).await.map(|_| serde_json::Value::Null)
        }
    };
    core.pool.close().await;
    drop(db);
    println!("{}", serde_json::to_string_pretty(&result?)?);
    Ok(())
}

/// `onshi forced …` / `onshi fault …`: the rules in the database (every process follows them).
async fn rules(core: Core, action: RuleAction, faults: bool) -> anyhow::Result<()> {
    use onshi_platform::control;
    let pool = &core.pool;
    let shown = |e: onshi_platform::http::ApiError| anyhow::anyhow!("{e}");
    let out = match action {
        RuleAction::List => {
            let r = control::stored(pool).await?;
            if faults {
                serde_json::json!({"faults": r.faults})
            } else {
                serde_json::json!({"forced": r.forced})
            }
        }
        RuleAction::Add { json } if faults => {
            let spec = serde_json::from_str(&json).context("the rule's JSON")?;
            serde_json::json!(control::put_fault(pool, None, spec).await.map_err(shown)?)
        }
        RuleAction::Add { json } => {
            let spec = serde_json::from_str(&json).context("the rule's JSON")?;
            serde_json::json!(control::add_forced(pool, spec).await.map_err(shown)?)
        }
        RuleAction::Change { id, json } if faults => {
            let spec = serde_json::from_str(&json).context("the rule's JSON")?;
            match control::put_fault(pool, Some(id), spec)
                .await
                .map_err(shown)?
            {
                Some(r) => serde_json::json!(r),
                None => bail!("no fault rule {id}"),
            }
        }
        RuleAction::Change { .. } => bail!("forced rules are not changed: remove and add"),
        RuleAction::Remove { id } => {
            let id = match id.as_str() {
                "all" => None,
                n => Some(
                    n.parse()
                        .map_err(|_| anyhow::anyhow!("{n:?}: a rule id or all"))?,
                ),
            };
            let n = if faults {
                control::remove_fault(pool, id).await?
            } else {
                control::remove_forced(pool, id).await?
            };
            if n == 0 && id.is_some() {
                bail!("no such rule");
            }
            serde_json::json!({"removed": n})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `onshi scenario …`.
async fn scenario(home: &std::path::Path, action: ScenarioAction) -> anyhow::Result<()> {
    use onshi::scenarios::{self, Scenario};
    if let ScenarioAction::List = action {
        for s in scenarios::all().map_err(anyhow::Error::msg)? {
            println!(
                "{:<24} {} — {} ({} steps)",
                s.name,
                s.title,
                s.title_en,
                s.steps.len()
            );
        }
        return Ok(());
    }
    let remote = onshi::remote::Remote::find(home).ok_or_else(|| {
        anyhow::anyhow!(
            "no onshi is running from {}: start it with onshi up",
            home.display()
        )
    })?;
    let fetch = |name: &str| -> anyhow::Result<Scenario> {
        let (status, json) = remote.call("GET", &format!("/admin/v1/scenarios/{name}"), None)?;
        if status != 200 {
            return answered(status, json).and_then(|_| bail!("no scenario {name:?}"));
        }
        Ok(serde_json::from_value(json)?)
    };
    let set_stage = |s: &Scenario| -> anyhow::Result<()> {
        let (status, json) = remote.call(
            "POST",
            &format!("/admin/v1/scenarios/{}/setup", s.name),
            None,
        )?;
        if status != 200 {
            answered(status, json)?;
        }
        Ok(())
    };
    match action {
        ScenarioAction::List => unreachable!("answered above"),
        ScenarioAction::Run { name } => {
            let s = fetch(&name)?;
            set_stage(&s)?;
            println!("{} — {}\n{}\n", s.title, s.title_en, s.description);
            for (i, step) in s.steps.iter().enumerate() {
                println!("{:>2}. {}", i + 1, step.say);
            }
            println!("\nThe stage is set. `onshi scenario check {}` performs the steps and checks the answers.", s.name);
            Ok(())
        }
        ScenarioAction::Check { name, folders } => {
            let folders = folders.unwrap_or_else(|| home.join("folders"));
            let names: Vec<String> = if name == "all" {
                scenarios::all()
                    .map_err(anyhow::Error::msg)?
                    .into_iter()
                    .map(|s| s.name)
                    .collect()
            } else {
                vec![name]
            };
            let mut failed = 0;
            for n in names {
                let s = fetch(&n)?;
                set_stage(&s)?;
                let report = scenarios::check(&s, &remote, &folders);
                println!(
                    "{} {} — {}",
                    if report.passed { "PASS" } else { "FAIL" },
                    s.name,
                    s.title_en
                );
                for r in &report.steps {
                    println!(
                        "  {} {:>2}. {}",
                        if r.passed { "✓" } else { "✗" },
                        r.step,
                        r.say
                    );
                    for f in &r.failures {
                        println!("        {f}");
                    }
                }
                failed += usize::from(!report.passed);
            }
            if failed > 0 {
                bail!("{failed} scenario(s) failed");
            }
            Ok(())
        }
    }
}

/// `onshi statistics`: the usage statistics in the database.
async fn statistics(
    core: Core,
    month: Option<String>,
    by: String,
    csv: bool,
) -> anyhow::Result<()> {
    use onshi_platform::usage;
    if let Some(m) = &month {
        usage::check_month(m).map_err(|e| anyhow::anyhow!("--month: {e}"))?;
    }
    let by = usage::By::parse(&by).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let (json, text) = usage::report(&core.pool, month.as_deref(), by).await?;
    let out = if csv {
        text
    } else {
        serde_json::to_string_pretty(&json)?
    };
    println!("{}", out.trim_end());
    Ok(())
}

/// `onshi journal`: the running onshi's journal.
fn journal(
    home: &std::path::Path,
    facility: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    limit: usize,
) -> anyhow::Result<()> {
    let r = onshi::remote::Remote::find(home).ok_or_else(|| {
        anyhow::anyhow!(
            "no onshi is running from {} (the journal is in its memory)",
            home.display()
        )
    })?;
    let mut query = vec![format!("limit={limit}")];
    for (k, v) in [("facility", facility), ("kind", kind), ("outcome", outcome)] {
        if let Some(v) = v {
            if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                bail!("--{k} {v:?}: letters, digits and _ only");
            }
            query.push(format!("{k}={v}"));
        }
    }
    let (status, json) = r.call(
        "GET",
        &format!("/admin/v1/journal?{}", query.join("&")),
        None,
    )?;
    if status >= 400 {
        return answered(status, json);
    }
    for e in json["entries"].as_array().into_iter().flatten() {
        println!(
            "#{:<6} {} {:<7} {:<11} {:<10} {:<14} {:>6}µs {}",
            e["id"],
            e["at"].as_str().unwrap_or(""),
            e["transport"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            e["facility"].as_str().unwrap_or("-"),
            e["outcome"].as_str().unwrap_or(""),
            e["micros"],
            e["marks"]
                .as_array()
                .map(|m| m
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn read_file(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

/// `onshi demo`: loads the demo population (idempotent).
async fn demo(core: Core, certs: PathBuf) -> anyhow::Result<()> {
    let l = onshi_seed::demo::load(&core).await?;
    onshi_seed::demo::terminal_certificates(&core, &certs).await?;
    println!(
        "demo: {} facilities; {} step(s) applied, {} already loaded; terminal certificates in {}",
        l.facilities,
        l.steps_applied,
        l.steps_skipped,
        certs.display()
    );
    Ok(())
}

/// `onshi probe ADDR`: whether the process there is ready.
fn probe(addr: &str) -> anyhow::Result<()> {
    let (status, _) = onshi::remote::Remote::new(addr, "").send("GET", "/ready", b"")?;
    if status != 200 {
        bail!("{addr}: not ready ({status})");
    }
    println!("{addr}: ready");
    Ok(())
}

/// `onshi clock …`: reads or changes the simulated clock, then prints it.
async fn clock(core: Core, action: ClockAction) -> anyhow::Result<()> {
    let c = &core.clock;
    match action {
        ClockAction::Show => {}
        ClockAction::Set { time } => {
            c.set(parse_clock_time(&time).map_err(anyhow::Error::msg)?)
                .await?;
        }
        ClockAction::Advance { delta } => {
            c.advance(parse_delta(&delta).map_err(anyhow::Error::msg)?)
                .await?;
        }
        ClockAction::Freeze => {
            c.set_frozen(true).await?;
        }
        ClockAction::Resume => {
            c.set_frozen(false).await?;
        }
    }
    print_clock(c);
    Ok(())
}

/// `onshi seed`: checks the options, loads the nation (unless `--report`), prints the report, writes claims.
async fn seed(home: &std::path::Path, args: SeedArgs) -> anyhow::Result<()> {
    use onshi_seed::nation;
    if let Some(m) = &args.claims {
        onshi_platform::usage::check_month(m)
            .map_err(|e| anyhow::anyhow!("--claims: a treatment {e}"))?;
    }
    if let Some(fy) = args.checkups {
        let last = onshi_checkup::validate::fiscal_year(nation::default_as_of());
        if !(onshi_checkup::validate::FIRST_FISCAL_YEAR..=last).contains(&fy) {
            bail!(
                "--checkups: a fiscal year from {} to {last}",
                onshi_checkup::validate::FIRST_FISCAL_YEAR
            );
        }
    }
    let scale = nation::Scale::parse(&args.scale).map_err(anyhow::Error::msg)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    if threads == 0 || threads > 64 {
        bail!("--threads must be between 1 and 64");
    }
    let folders = args.folders.unwrap_or_else(|| home.join("folders"));
    let decks = args.decks.unwrap_or_else(|| home.join("decks"));
    let (seed, report_only, claims, checkups) =
        (args.seed, args.report, args.claims, args.checkups);
    one_off(home, |core| async move {
        if !report_only {
            let opts = nation::Options {
                seed,
                scale,
                threads,
                as_of: nation::default_as_of(),
                decks: Some(decks.clone()),
                progress: true,
            };
            let s = nation::run(&core.pool, &opts).await?;
            println!(
                "seed {seed}: {} chunks loaded now, {} were already loaded, {} persons in {:.1}s; test decks in {}",
                s.chunks_loaded,
                s.chunks_already_loaded,
                s.persons_loaded,
                s.elapsed.as_secs_f64(),
                decks.display()
            );
        }
        let Some((scale, seed, stats)) = nation::loaded_stats(&core.pool).await? else {
            println!("no synthetic nation is loaded in this database");
            return Ok(());
        };
        println!("{}", nation::report::format(&scale, seed, &stats));
        if let Some(month) = claims {
            write_claims(seed, scale.persons, &month, &folders)?;
        }
        if let Some(fy) = checkups {
            write_checkups(seed, scale.persons, fy, &folders)?;
        }
        Ok(())
    })
    .await
}

/// Writes the month's claim files of the loaded nation under `<folders>/<code>/claims/`.
fn write_claims(
    seed: u64,
    persons: u64,
    month: &str,
    folders: &std::path::Path,
) -> anyhow::Result<()> {
    use onshi_seed::nation;
    let files = nation::claims::month_files(seed, persons, nation::default_as_of(), month)?;
    let mut receipts = 0;
    for f in &files {
        let dir = folders.join(&f.facility).join("claims");
        std::fs::create_dir_all(&dir)?;
        let name = f.file_name.replace(".UKE", &format!("_{month}.UKE"));
        onshi_platform::transport::write_atomically(&dir, &name, &f.bytes)?;
        receipts += f.receipts;
    }
    println!(
        "claims {month}: {} files, {receipts} receipts written under {}/<code>/claims/",
        files.len(),
        folders.display()
    );
    Ok(())
}

/// Writes the fiscal year's checkup archives of the loaded nation under `<folders>/insurers/<保険者番号>/checkups/`.
fn write_checkups(
    seed: u64,
    persons: u64,
    fy: i32,
    folders: &std::path::Path,
) -> anyhow::Result<()> {
    use onshi_seed::nation;
    let archives = nation::checkups::year_archives(seed, persons, nation::default_as_of(), fy)?;
    let mut checkups = 0;
    for a in &archives {
        let dir = folders.join("insurers").join(&a.insurer).join("checkups");
        std::fs::create_dir_all(&dir)?;
        onshi_platform::transport::write_atomically(&dir, &a.file_name, &a.bytes)?;
        checkups += a.persons;
    }
    println!(
        "checkups FY{fy}: {} archives, {checkups} checkups written under {}/insurers/<保険者番号>/checkups/",
        archives.len(),
        folders.display()
    );
    Ok(())
}

/// `onshi consent verify`: recomputes the hash chains; fails when a row was changed or removed.
async fn consent_verify(core: Core) -> anyhow::Result<()> {
    let v = onshi_consent::chain::verify(&onshi_consent::chain::Log::of(&core)).await?;
    println!(
        "consent log: {} rows, access log: {} rows: {}",
        v.consents,
        v.accesses,
        if v.ok {
            "intact".to_string()
        } else {
            format!("BROKEN at {}", v.broken.unwrap_or_default())
        }
    );
    if !v.ok {
        bail!("the consent or access log was tampered with");
    }
    Ok(())
}

/// `onshi insurer load`: a JSON Lines bulk registration file, all-or-nothing, read line by line.
async fn insurer_load(core: Core, file: PathBuf, dry_run: bool) -> anyhow::Result<()> {
    let sha256 = onshi_platform::sha256_file(&file)
        .with_context(|| format!("reading {}", file.display()))?;
    let source = onshi_insurer::BulkSource::File(&file);
    let report =
        onshi_insurer::load_bulk_from(&core, source, &sha256, dry_run, "bulk", None).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.accepted {
        bail!(
            "{} record(s) refused; nothing was applied",
            report.errors_total
        );
    }
    Ok(())
}
