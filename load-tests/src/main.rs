//! `onshi-load`: the command line of the load generator (see `docs/LOAD.md`). Exit status: 0 when every
//! threshold held, 1 when one did not (late or unsent sends are one: a target out of reach fails the run), 2 for a
//! configuration it cannot run.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use onshi_load::client::Endpoint;
use onshi_load::driver::{self, Door, Model, Plan};
use onshi_load::folder::Folders;
use onshi_load::profile::{parse_duration, Profile};
use onshi_load::report::{self, Setup, Thresholds};
use onshi_load::scenario::{self, Deck, Mix, Op};
use onshi_load::server::Scraper;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Shape {
    Constant,
    Ramp,
    Step,
    ClinicMorning,
}

/// Load onshi (or any HTTP server) at a scheduled arrival rate and report latency honestly.
#[derive(Parser, Debug)]
#[command(name = "onshi-load", version)]
struct Args {
    /// The server: http://host:port, or https://host:port for (mutual) TLS.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// The rate profile.
    #[arg(long, value_enum, default_value = "constant")]
    profile: Shape,
    /// Requests per second: the constant rate, the ramp's end, the step's top, the clinic morning's peak.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Where a ramp or the steps start (requests per second).
    #[arg(long)]
    from: Option<f64>,
    /// How much each step adds (default: --from).
    #[arg(long)]
    step: Option<f64>,
    /// How long each step lasts.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    every: Duration,
    /// How long the run lasts (not for step profiles).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Closed model: each connection sends when its previous answer came back (peak throughput only: it hides
    /// queueing latency).
    #[arg(long)]
    closed: bool,
    /// Connections (each one simulated terminal of one facility).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// `national` (December 2022 by facility type), one operation (hello, siquc01, reader, medication,
    /// checkup, bulk), or weights like `siquc01=90,reader=9,bulk=1`.
    #[arg(long, default_value = "national")]
    mix: String,
    /// Persons per 一括照会 file.
    #[arg(long, default_value_t = 100)]
    bulk_persons: usize,
    /// How often a 一括照会 polls for its results.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    bulk_poll: Duration,
    /// The test decks of a seeded nation (`onshi seed` writes `<home>/decks`); default: the demo personas.
    #[arg(long)]
    decks: Option<PathBuf>,
    /// Only these facilities of the deck (医療機関コード, comma-separated).
    #[arg(long, value_delimiter = ',')]
    facilities: Vec<String>,
    /// The CA certificate of an https target (`<home>/certs/ca.crt`).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Terminal certificates, one per facility (`<home>/certs`: `<code>/*.crt` + `.key`), for mutual TLS.
    #[arg(long)]
    certs: Option<PathBuf>,
    /// Issue the missing terminal certificates through the portal API (operator role) into --certs.
    #[arg(long)]
    issue_certs: bool,
    /// The portal API for --issue-certs.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    admin: String,
    /// The operator token (`<home>/operator-token`) for --issue-certs under `--auth strict`.
    #[arg(long, env = "ONSHI_OPERATOR_TOKEN")]
    operator_token: Option<String>,
    /// Use the folder door: request files into <FOLDERS>/<code>/req/, answers from res/.
    #[arg(long)]
    folders: Option<PathBuf>,
    /// A send this far behind its scheduled time is late.
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    late_after: Duration,
    /// Late or unsent sends allowed, per scheduled arrival (default: none).
    #[arg(long)]
    allow_late: Option<f64>,
    /// Stop at the first saturated second (always on for step profiles).
    #[arg(long)]
    stop_on_saturation: bool,
    /// Time sends with tokio's timer alone (1 ms coarse; latency then includes up to ~1 ms of the generator's
    /// own delay) instead of the pacer thread (sub-millisecond, at the cost of a thread's wake-ups).
    #[arg(long)]
    coarse_timer: bool,
    /// Longest wait for one operation.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Thresholds (JSON; `load-tests/thresholds.example.json`): a breach makes the exit status 1.
    #[arg(long)]
    thresholds: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Do not scrape the server's /metrics.
    #[arg(long)]
    no_server_metrics: bool,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

fn main() {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("onshi-load: cannot start its runtime: {e}");
            std::process::exit(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("onshi-load: {e:#}");
            std::process::exit(2);
        }
    }
}

fn profile(a: &Args) -> anyhow::Result<Profile> {
    if !(a.rate.is_finite() && a.rate > 0.0 && a.rate <= 10_000_000.0) {
        anyhow::bail!("--rate must be above 0 and at most 10,000,000 per second");
    }
    Ok(match a.profile {
        Shape::Constant => Profile::constant(a.rate, a.duration),
        Shape::Ramp => Profile::ramp(a.from.unwrap_or(0.0).max(0.0), a.rate, a.duration),
        Shape::Step => {
            let from = a.from.unwrap_or(a.rate / 10.0).max(1.0);
            let step = a.step.unwrap_or(from).max(1.0);
            Profile::step(from, step, a.rate, a.every)
        }
        Shape::ClinicMorning => Profile::clinic_morning(a.rate, a.duration),
    })
}

/// Open file descriptors this process may have.
fn open_files_limit() -> u64 {
    // SAFETY: getrlimit writes into the struct we pass.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return u64::MAX;
    }
    r.rlim_cur
}

async fn run(a: Args) -> anyhow::Result<bool> {
    let profile = profile(&a)?;
    let model = if a.closed { Model::Closed } else { Model::Open };
    if a.connections == 0 || a.connections > 100_000 {
        anyhow::bail!("--connections must be 1 to 100,000");
    }
    let files = open_files_limit();
    if (a.connections as u64) * 2 + 64 > files {
        anyhow::bail!(
            "this machine cannot hold {} connections: the open-file limit is {files} (raise it with ulimit -n)",
            a.connections
        );
    }
    if model == Model::Open && profile.peak() / a.connections as f64 > 200_000.0 {
        anyhow::bail!(
            "{:.0}/s over {} connections is over 200,000/s per connection: no HTTP/1.1 connection answers that fast; \
             use more connections",
            profile.peak(),
            a.connections
        );
    }
    let thresholds = match &a.thresholds {
        Some(p) => Thresholds::load(p)?,
        None => Thresholds {
            late_rate: a.allow_late,
            ..Default::default()
        },
    };
    let thresholds = Thresholds {
        late_rate: a.allow_late.or(thresholds.late_rate),
        ..thresholds
    };
    let mut deck = match &a.decks {
        Some(d) => Deck::load(d)?,
        None => Deck::demo(),
    };
    if !a.facilities.is_empty() {
        deck.facilities.retain(|f| a.facilities.contains(f));
        if deck.facilities.is_empty() {
            anyhow::bail!(
                "none of --facilities is an operational facility of {}",
                deck.source
            );
        }
        deck.source = format!("{} at {}", deck.source, deck.facilities.join(", "));
    }
    let deck = Arc::new(deck);
    let mix = Mix::parse(&a.mix, a.bulk_persons.max(1)).map_err(anyhow::Error::msg)?;
    if mix.ops().any(|o| o == Op::Reader) && deck.cards.is_empty() {
        anyhow::bail!(
            "the mix has card-reader flows but {} has no registered My Number card",
            deck.source
        );
    }
    let lanes = scenario::lanes(&deck, &mix, a.connections).map_err(anyhow::Error::msg)?;

    let ca = a
        .ca
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))
        })
        .transpose()?;
    let (door, door_name) = match &a.folders {
        Some(root) => {
            if mix.ops().any(|o| matches!(o, Op::Hello | Op::Reader)) {
                anyhow::bail!("the folder door carries request files only: use a mix without hello and reader");
            }
            (
                Door::Folder(Folders::new(root)?),
                format!("folder {}", root.display()),
            )
        }
        None => {
            let base = Endpoint::parse(&a.target, ca.as_deref(), None)?;
            let endpoints = match (&a.certs, base.is_tls()) {
                (Some(dir), true) => {
                    let admin = Endpoint::parse(&a.admin, ca.as_deref(), None)?;
                    let mut out = Vec::with_capacity(lanes.len());
                    let mut cache = std::collections::HashMap::new();
                    for lane in &lanes {
                        if !cache.contains_key(&lane.facility) {
                            let pair = match onshi_load::certs::find(dir, &lane.facility) {
                                Some(p) => p,
                                None if a.issue_certs => {
                                    onshi_load::certs::issue(
                                        &admin,
                                        a.operator_token.as_deref(),
                                        dir,
                                        &lane.facility,
                                    )
                                    .await?
                                }
                                None => anyhow::bail!(
                                    "no terminal certificate for {} in {} (add --issue-certs)",
                                    lane.facility,
                                    dir.display()
                                ),
                            };
                            cache.insert(lane.facility.clone(), pair);
                        }
                        let (c, k) = &cache[&lane.facility];
                        out.push(base.with_cert(ca.as_deref().unwrap_or(""), (c, k))?);
                    }
                    out
                }
                (Some(_), false) => anyhow::bail!("--certs needs an https:// target"),
                (None, _) => vec![base.clone(); lanes.len()],
            };
            let name = match (base.is_tls(), a.certs.is_some()) {
                (true, true) => "https with one client certificate per facility (mutual TLS)",
                (true, false) => "https",
                _ => "http",
            };
            (Door::Http(endpoints), name.to_string())
        }
    };
    let scraper = match (&door, a.no_server_metrics) {
        (Door::Http(e), false) => Some(Scraper::start(e[0].clone(), Duration::from_secs(5)).await),
        (Door::Folder(_), false) => match Endpoint::parse(&a.admin, None, None) {
            Ok(e) => Some(Scraper::start(e, Duration::from_secs(5)).await),
            Err(_) => None,
        },
        _ => None,
    };
    let interactive = std::io::stderr().is_terminal() && !a.quiet;
    if !a.quiet {
        eprintln!(
            "onshi-load: {} · {} · {} over {} · mix {} · {} connections · {} · {}",
            a.target,
            door_name,
            profile.name,
            humantime(profile.duration()),
            mix.name,
            lanes.len(),
            deck.source,
            match model {
                Model::Open => "open model",
                Model::Closed => "CLOSED model (latency hides queueing)",
            }
        );
    }
    let total = profile.duration().as_secs();
    let plan = Plan {
        door,
        lanes,
        deck: deck.clone(),
        profile: profile.clone(),
        model,
        late_after: a.late_after,
        stop_on_saturation: a.stop_on_saturation || matches!(a.profile, Shape::Step),
        bulk_persons: a.bulk_persons.max(1),
        bulk_poll: a.bulk_poll,
        timeout: a.timeout,
        threads: a.threads.max(1),
        precise: !a.coarse_timer,
    };
    let quiet = a.quiet;
    let outcomes = driver::run(plan, |s, _| {
        if quiet {
            return;
        }
        let line = format!(
            "[{:>4}s/{total}s] target {:>8.0}/s  done {:>7}/s  p50 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  \
             late {:>5}  refused {:>5}  failed {:>5}  behind {:>5} ms  cpu {:>3.0}%",
            s.t,
            s.target_rate,
            s.completed,
            s.latency.p50 as f64 / 1000.0,
            s.latency.p99 as f64 / 1000.0,
            s.latency.max as f64 / 1000.0,
            s.late,
            s.refused,
            s.failed,
            s.behind_ms,
            s.generator_cpu * 100.0
        );
        if interactive {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    })
    .await?;
    if interactive {
        eprintln!();
    }
    let server = match scraper {
        Some(s) => Some(s.finish().await),
        None => None,
    };
    let r = report::build(
        Setup {
            target: match &a.folders {
                Some(f) => f.display().to_string(),
                None => a.target.clone(),
            },
            door: door_name,
            model,
            profile,
            mix: mix.name.clone(),
            deck: deck.source.clone(),
            connections: a.connections,
            threads: a.threads.max(1),
            late_after_ms: a.late_after.as_secs_f64() * 1000.0,
            thresholds,
            step: matches!(a.profile, Shape::Step),
        },
        &outcomes,
        server,
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&r)?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
    }
    if let Some(p) = &a.html {
        std::fs::write(p, report::html(&r))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
    }
    print_summary(&r);
    // A target out of reach fails through the late-send check (none allowed unless said otherwise).
    Ok(r.passed)
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

fn print_summary(r: &report::Report) {
    let ms = |us: u64| us as f64 / 1000.0;
    let t = &r.totals;
    println!("{}", r.model_note);
    println!(
        "scheduled {}  completed {}  ok {}  refused {}  failed {}  late {}  unsent {}  rate {:.1}/s  reconnects {}",
        t.scheduled, t.completed, t.ok, t.refused, t.failed, t.late, t.unsent, t.achieved_rate, t.reconnects
    );
    println!(
        "{:<11} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}   (ms, from the scheduled send)",
        "operation", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for (name, o) in &r.ops {
        let p = &o.latency_us;
        println!(
            "{name:<11} {:>9} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            o.count,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max)
        );
        for (code, n) in &o.refused {
            println!("{:<11} refused {code}: {n}", "");
        }
        for (why, n) in &o.failed {
            println!("{:<11} failed {why}: {n}", "");
        }
    }
    if let Some(s) = &r.saturation {
        println!("SATURATED: {}", s.why);
    }
    if let Some(m) = r.max_sustained_rate {
        println!("highest step held without saturation: {m:.0}/s");
    }
    for c in &r.checks {
        println!(
            "{} {}: {:.4} (limit {:.4})",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.actual,
            c.limit
        );
    }
    println!("{}", if r.passed { "PASSED" } else { "FAILED" });
}
