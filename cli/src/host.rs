//! Runs a set of services in one process: one actix-web server with each service's routes, the shared admin
//! endpoints, the folder watcher and the services' background work.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use tokio::task::JoinHandle;

use actix_web::middleware::from_fn;
use onshi_consent::port::{AccessPort, CardReaderPort, HomeCarePort};
use onshi_eligibility::Eligibility;
use onshi_platform::credentials::Credentials;
use onshi_platform::directory::{self, ReaderDirectory};
use onshi_platform::peer::Peer;
use onshi_platform::roles::{self, Guard, RouteAccess};

use crate::dispatch::{At, Services};
use onshi_platform::db::{Migrations, AUTH, CLOCK, CONTROL};
use onshi_platform::forward::{self, Forward};
use onshi_platform::http::{configure_common, Core};
use onshi_platform::pipeline::Pipeline;
use onshi_platform::transport::{self, Watcher};

/// A service this binary can run. Each runs alone in a process of its own (`onshi serve <service>`) or beside
/// others; a service it depends on that is not in the process is reached over the network ([`Peers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Service {
    Insurer,
    /// The front door (folders, HTTP, Web API, TLS) and the qualification messages; the directory other services
    /// ask about people and facilities.
    Eligibility,
    Portal,
    Consent,
    /// 薬剤情報: claims and retrieval; asks the eligibility and consent services.
    Medication,
    /// The card reader and the マイナ資格確認アプリ; asks the eligibility and consent services.
    Reader,
    /// 特定健診 results; asks the eligibility and consent services.
    Checkup,
}

/// Where the services not in this process answer (`http://host:port`), and the token they are called with (the
/// operator's, shared by every process of a deployment).
#[derive(Debug, Clone, Default)]
pub struct Peers {
    pub eligibility: Option<String>,
    pub consent: Option<String>,
    pub medication: Option<String>,
    pub checkup: Option<String>,
    /// The portal: the TLS listener's certificate.
    pub portal: Option<String>,
    pub token: String,
}

impl Peers {
    fn peer(&self, service: &'static str, url: &Option<String>) -> anyhow::Result<Option<Peer>> {
        url.as_deref()
            .map(|u| Peer::new(service, u, &self.token))
            .transpose()
    }

    /// Where a message-answering service is: here, at its URL, or nowhere.
    fn at<T>(
        &self,
        here: Option<T>,
        service: &'static str,
        url: &Option<String>,
    ) -> anyhow::Result<At<T>> {
        Ok(match (here, self.peer(service, url)?) {
            (Some(s), _) => At::Here(s),
            (None, Some(peer)) => At::There(Forward { peer }),
            (None, None) => At::Absent,
        })
    }
}

/// How long a process waits at start for a service it needs there (the portal, for the TLS listener's
/// certificate) to come up: the processes of one deployment start in any order.
const PEER_START_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

pub const ALL: &[Service] = &[
    Service::Insurer,
    Service::Eligibility,
    Service::Portal,
    Service::Consent,
    Service::Medication,
    Service::Reader,
    Service::Checkup,
];

/// Every schema's migrations, in dependency order.
pub const MIGRATIONS: &[Migrations] = &[
    CLOCK,
    AUTH,
    CONTROL,
    onshi_insurer::MIGRATIONS,
    onshi_portal::MIGRATIONS,
    onshi_consent::MIGRATIONS,
    onshi_reader::MIGRATIONS,
    onshi_medication::MIGRATIONS,
    onshi_checkup::MIGRATIONS,
    onshi_eligibility::MIGRATIONS,
    onshi_seed::nation::MIGRATIONS,
    onshi_platform::usage::MIGRATIONS,
];

pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    for m in MIGRATIONS {
        m.apply(pool).await?;
    }
    Ok(())
}

/// Keeps the client certificate a TLS connection presented (its fingerprint) as connection data.
fn record_peer_certificate(conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(tls) = conn.downcast_ref::<Tls>() {
        let (_, session) = tls.get_ref();
        if let Some(cert) = session.peer_certificates().and_then(|c| c.first()) {
            ext.insert(onshi_platform::pki::PeerCert {
                sha256: onshi_platform::pki::fingerprint(cert),
            });
        }
    }
}

/// Who may call every route of these services (`platform::roles`).
pub fn routes(services: &[Service]) -> Vec<RouteAccess> {
    let mut r: Vec<RouteAccess> = onshi_platform::http::ROUTES.to_vec();
    r.extend_from_slice(onshi_platform::control::api::ROUTES);
    r.extend_from_slice(crate::snapshots::ROUTES);
    r.extend_from_slice(crate::scenarios::ROUTES);
    r.extend_from_slice(onshi_platform::openapi::ROUTES);
    r.extend_from_slice(onshi_platform::usage::ROUTES);
    r.extend_from_slice(crate::web::ROUTES);
    let front_door = services.contains(&Service::Eligibility);
    if !front_door
        && services
            .iter()
            .any(|s| matches!(s, Service::Medication | Service::Checkup))
    {
        r.extend_from_slice(forward::ROUTES);
    }
    for s in services {
        match s {
            Service::Eligibility => {
                r.extend(onshi_platform::transport::routes());
                r.extend_from_slice(onshi_eligibility::ROUTES);
                r.extend_from_slice(onshi_eligibility::directory::ROUTES);
            }
            Service::Insurer => r.extend(onshi_insurer::routes()),
            Service::Portal => r.extend(onshi_portal::routes()),
            Service::Consent => {
                r.extend_from_slice(onshi_consent::ROUTES);
                r.extend_from_slice(onshi_consent::remote::ROUTES);
            }
            Service::Medication => r.extend_from_slice(onshi_medication::ROUTES),
            Service::Reader => r.extend_from_slice(onshi_reader::ROUTES),
            Service::Checkup => r.extend_from_slice(onshi_checkup::ROUTES),
        }
    }
    r
}

/// The consent service's ports as this process reaches them (one value answering all three).
struct ConsentPorts {
    reader: Arc<dyn CardReaderPort>,
    access: Arc<dyn AccessPort>,
    home: Arc<dyn HomeCarePort>,
}

impl ConsentPorts {
    fn of<T: CardReaderPort + AccessPort + HomeCarePort + 'static>(ports: Arc<T>) -> Self {
        Self {
            reader: ports.clone(),
            access: ports.clone(),
            home: ports,
        }
    }
}

/// A running host.
pub struct Host {
    pub addr: SocketAddr,
    /// The mTLS listener, when configured.
    pub tls_addr: Option<SocketAddr>,
    pub eligibility: Option<Arc<Eligibility>>,
    /// Forced outcomes, faults and the journal of this process.
    pub controls: Arc<onshi_platform::control::Controls>,
    core: Core,
    handle: actix_web::dev::ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl Host {
    /// Starts `services` on `bind` (use port 0 for a free port), all in this process.
    pub async fn start(core: Core, services: &[Service], bind: &str) -> anyhow::Result<Host> {
        Self::start_with(core, services, bind, &Peers::default()).await
    }

    /// Starts `services` on `bind`, reaching the services they depend on that are not among them at `peers`.
    pub async fn start_with(
        core: Core,
        services: &[Service],
        bind: &str,
        peers: &Peers,
    ) -> anyhow::Result<Host> {
        let has = |s| services.contains(&s);
        let credentials = Credentials::load(
            &core.pool,
            core.clock.clone(),
            core.config.operator_token_sha256.clone(),
        )
        .await?;
        let eligibility = if has(Service::Eligibility) {
            Some(Eligibility::start(core.clone(), credentials.clone()).await?)
        } else {
            None
        };
        // The directory: the eligibility service here, or over the network.
        let directory: Option<Arc<dyn ReaderDirectory>> =
            match (&eligibility, peers.peer("eligibility", &peers.eligibility)?) {
                (Some(e), _) => Some(e.clone()),
                (None, Some(peer)) => Some(Arc::new(directory::Remote { peer })),
                (None, None) => None,
            };
        // The consent service's ports: here, or over the network.
        let consent = if has(Service::Consent) {
            Some(ConsentPorts::of(Arc::new(onshi_consent::port::Local {
                core: core.clone(),
            })))
        } else {
            peers
                .peer("consent", &peers.consent)?
                .map(|peer| ConsentPorts::of(Arc::new(onshi_consent::remote::Remote { peer })))
        };
        let needs = |service: &str| {
            anyhow::anyhow!(
                "the {service} service asks the eligibility and consent services: run them in this process or give \
                 --eligibility-url and --consent-url"
            )
        };
        if let (Some(e), Some(c)) = (&eligibility, &consent) {
            e.set_home_care(c.home.clone());
        }
        let medication = if has(Service::Medication) {
            let (Some(dir), Some(c)) = (&directory, &consent) else {
                return Err(needs("medication"));
            };
            Some(
                onshi_medication::Medication::start(core.clone(), dir.clone(), c.access.clone())
                    .await?,
            )
        } else {
            None
        };
        let checkup = if has(Service::Checkup) {
            let (Some(dir), Some(c)) = (&directory, &consent) else {
                return Err(needs("checkup"));
            };
            Some(onshi_checkup::Checkups::start(
                core.clone(),
                dir.clone(),
                c.access.clone(),
            ))
        } else {
            None
        };
        let reader = if has(Service::Reader) {
            let (Some(dir), Some(c)) = (&directory, &consent) else {
                return Err(needs("reader"));
            };
            Some(onshi_reader::Reader::start(
                core.clone(),
                dir.clone(),
                c.reader.clone(),
            ))
        } else {
            None
        };
        let mut background = Vec::new();
        let controls = onshi_platform::control::Controls::start(
            &core.pool,
            core.metrics.clone(),
            core.config.journal,
            core.config.auth == onshi_platform::config::AuthMode::Sandbox,
            core.config.magic_values,
        )
        .await?;
        let (usage, pool) = (core.usage.clone(), core.pool.clone());
        background.push(
            core.tasks
                .spawn("usage statistics", move || usage.clone().run(pool.clone())),
        );
        let handlers = Arc::new(Services {
            eligibility: eligibility.clone(),
            medication: peers.at(medication.clone(), "medication", &peers.medication)?,
            checkup: peers.at(checkup.clone(), "checkup", &peers.checkup)?,
        });
        // Messages forwarded by a front door in another process are answered by the same dispatcher.
        let forwarded = (eligibility.is_none() && (medication.is_some() || checkup.is_some()))
            .then(|| web::Data::from(handlers.clone()));
        let pipeline = eligibility.is_some().then(|| {
            Arc::new(Pipeline {
                handlers: handlers.clone(),
                clock: core.clock.clone(),
                metrics: core.metrics.clone(),
                limits: core.config.limits,
                body_timeout: core.config.body_timeout,
                default_encoding: core.config.response_encoding,
                controls: controls.clone(),
                usage: core.usage.clone(),
            })
        });
        if let (Some(root), Some(pipeline)) = (&core.config.folder_root, &pipeline) {
            std::fs::create_dir_all(root)?;
            let watcher = Watcher {
                root: root.clone(),
                poll: core.config.folder_poll,
                publish: core.config.folder_publish,
                errors: core.config.folder_errors,
                pipeline: pipeline.clone(),
            };
            background.push(
                core.tasks
                    .spawn("folder watcher", move || watcher.clone().run()),
            );
        }
        let table = routes(services);
        let openapi = serde_json::to_vec_pretty(&onshi_platform::openapi::document(
            &table,
            env!("CARGO_PKG_VERSION"),
        ))?;
        let openapi = web::Data::new(onshi_platform::openapi::Document(openapi));
        let guard = web::Data::new(Guard::new(
            core.config.auth,
            table,
            credentials.clone(),
            directory.clone(),
        ));
        let credentials = web::Data::new(credentials);
        let services = services.to_vec();
        let core_data = web::Data::new(core.clone());
        let controls_data = web::Data::new(controls.clone());
        let snapshots_data = web::Data::new(crate::snapshots::Snapshots::new(
            core.clone(),
            controls.clone(),
            eligibility.clone(),
        ));
        let runs = web::Data::new(crate::scenarios::Runs::default());
        let runs_data = runs.clone();
        let pipeline_data = pipeline.map(web::Data::from);
        let elig_data = eligibility.clone().map(web::Data::new);
        let med_data = medication.map(web::Data::new);
        let reader_data = reader.map(web::Data::new);
        let checkup_data = checkup.map(web::Data::new);
        let server = HttpServer::new(move || {
            let mut app = App::new()
                .wrap(from_fn(roles::guard))
                .app_data(guard.clone())
                .app_data(credentials.clone())
                .app_data(core_data.clone());
            // The message doors first: actix tries routes in the order they were registered, and a pattern with a
            // `{…}` segment is matched with a regular expression — registered before the doors, every admin route
            // of that kind cost the answer path ≈ 10 % (docs/PERFORMANCE.md).
            if let Some(p) = &pipeline_data {
                app = app
                    .app_data(p.clone())
                    .configure(transport::configure::<Services>);
            }
            if let Some(h) = &forwarded {
                app = app
                    .app_data(h.clone())
                    .configure(forward::configure::<Services>);
            }
            app = app
                .app_data(controls_data.clone())
                .app_data(web::Data::new(onshi_platform::db::Schemas(MIGRATIONS)))
                .configure(configure_common)
                .configure(onshi_platform::control::api::configure)
                .app_data(snapshots_data.clone())
                .configure(crate::snapshots::configure)
                .app_data(runs_data.clone())
                .configure(crate::scenarios::configure)
                .app_data(openapi.clone())
                .configure(onshi_platform::openapi::configure)
                .configure(onshi_platform::usage::configure)
                .configure(crate::web::configure);
            if let Some(e) = &elig_data {
                app = app
                    .app_data(e.clone())
                    .configure(onshi_eligibility::configure)
                    .configure(onshi_eligibility::directory::configure);
            }
            if services.contains(&Service::Insurer) {
                app = app.configure(onshi_insurer::configure);
            }
            if services.contains(&Service::Portal) {
                app = app.configure(onshi_portal::configure);
            }
            if services.contains(&Service::Consent) {
                app = app
                    .configure(onshi_consent::configure)
                    .configure(onshi_consent::remote::configure);
            }
            if let Some(m) = &med_data {
                app = app
                    .app_data(m.clone())
                    .configure(onshi_medication::configure);
            }
            if let Some(r) = &reader_data {
                app = app.app_data(r.clone()).configure(onshi_reader::configure);
            }
            if let Some(c) = &checkup_data {
                app = app.app_data(c.clone()).configure(onshi_checkup::configure);
            }
            app
        })
        .workers(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .disable_signals()
        .on_connect(record_peer_certificate)
        .bind(bind)?;
        let server = match &core.config.tls_bind {
            Some(tls_bind) => {
                let identity = if has(Service::Portal) {
                    onshi_portal::server_identity(&core.pool).await?
                } else if let Some(portal) = peers.peer("portal", &peers.portal)? {
                    portal
                        .query_when_up(onshi_portal::SERVER_CERTIFICATE, &(), PEER_START_PATIENCE)
                        .await?
                } else {
                    anyhow::bail!(
                        "the TLS listener's certificate comes from the portal's CA: run the portal in this process, \
                         give --portal-url, or --tls-bind off"
                    )
                };
                server.bind_rustls_0_23(
                    tls_bind,
                    onshi_platform::pki::server_config(&identity, core.clock.clone())?,
                )?
            }
            None => server,
        };
        let addrs = server.addrs_with_scheme();
        let addr = addrs
            .iter()
            .find(|(_, scheme)| *scheme == "http")
            .map(|(a, _)| *a)
            .ok_or_else(|| anyhow::anyhow!("bound to no address"))?;
        let tls_addr = addrs
            .iter()
            .find(|(_, scheme)| *scheme == "https")
            .map(|(a, _)| *a);
        let _ = runs.own_addr.set(addr.to_string());
        let server = server.run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        Ok(Host {
            addr,
            tls_addr,
            eligibility,
            controls,
            core,
            handle,
            server,
            background,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving (in-flight requests finish).
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
        for b in self.background {
            b.abort();
        }
        // A pooled connection opened on an HTTP worker's runtime dies with it: the last writes go over a fresh
        // connection of this runtime.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*self.core.pool.connect_options()).clone());
        if let Err(e) = self.core.usage.flush(&pool).await {
            tracing::warn!(error = %e, "usage: the last counts were not written");
        }
        if let Some(e) = &self.eligibility {
            if let Err(err) = e.presentations.flush(&pool).await {
                tracing::warn!(error = %err, "eligibility: the last presentations were not written");
            }
            let e = e.clone();
            match tokio::task::spawn_blocking(move || e.save_read_model()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "eligibility: the read model was not written")
                }
                Err(err) => {
                    tracing::warn!(error = %err, "eligibility: the read model writer stopped")
                }
            }
        }
    }
}
