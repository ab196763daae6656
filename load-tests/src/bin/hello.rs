//! `hello`: the actix-web hello-world onshi's speed is measured against (issue 12), built with the same actix-web,
//! the same worker count and the same TLS set-up (`onshi_platform::pki::server_config`) as onshi, so the ratio
//! compares onshi's work, not its framework. `GET /` answers `Hello, world!`; `POST /echo` and
//! `POST /oqs/v1/req/{name}` answer with the request body.
//!
//! `hello [--bind 127.0.0.1:8090] [--tls-bind 127.0.0.1:8453 --pki DIR]`: with TLS it writes its CA to
//! `DIR/ca.crt` and one terminal certificate per demo facility to `DIR/<code>/terminal-1.{crt,key}`, the layout
//! `onshi-load --certs` reads.

use actix_web::{web, App, HttpResponse, HttpServer};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "hello")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: String,
    #[arg(long)]
    tls_bind: Option<String>,
    /// Where the TLS CA and client certificates are written.
    #[arg(long, default_value = "hello-pki")]
    pki: std::path::PathBuf,
}

async fn hello() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body("Hello, world!")
}

async fn echo(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/xml")
        .body(body)
}

fn tls(args: &Args) -> anyhow::Result<rustls::ServerConfig> {
    use onshi_platform::pki::Ca;
    let ca = Ca::generate()?;
    std::fs::create_dir_all(&args.pki)?;
    std::fs::write(args.pki.join("ca.crt"), &ca.cert_pem)?;
    // The machine's date (a tool, not a service): the certificates are valid from yesterday for a year.
    let today = onshi_platform::clock::wall_jst().date();
    for code in ["1310112345", "1330130129", "1340140233"] {
        let c = ca.issue_client(code, "terminal-1", today.add_days(-1), today.add_days(365))?;
        let dir = args.pki.join(code);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("terminal-1.crt"), &c.cert_pem)?;
        std::fs::write(dir.join("terminal-1.key"), &c.key_pem)?;
    }
    let server = onshi_platform::pki::ServerIdentity::issue(&ca, &["localhost", "127.0.0.1"])?;
    let clock = onshi_platform::clock::SimClock::fixed(onshi_platform::clock::wall_jst().naive());
    onshi_platform::pki::server_config(&server, clock)
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let server = HttpServer::new(|| {
        App::new()
            .route("/", web::get().to(hello))
            .route("/echo", web::post().to(echo))
            .route("/oqs/v1/req/{name}", web::post().to(echo))
    })
    .workers(workers)
    .bind(&args.bind)?;
    let server = match &args.tls_bind {
        Some(addr) => server.bind_rustls_0_23(addr, tls(&args)?)?,
        None => server,
    };
    for (addr, scheme) in server.addrs_with_scheme() {
        println!("hello: {scheme}://{addr}");
    }
    server.run().await?;
    Ok(())
}
