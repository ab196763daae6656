//! Shared by the integration tests: the whole simulator on a random port, over a fresh database with the demo
//! population, the simulated clock frozen at a given time.

use onshi::host::{Host, ALL, MIGRATIONS};
use onshi_platform::config::Config;
use onshi_platform::http::Core;
use onshi_platform::testkit;

/// Starts every service in this process on `127.0.0.1:0` with `config`, the clock frozen at `now`
/// (`YYYY-MM-DDTHH:MM:SS`) and the demo population loaded.
pub async fn demo_host(config: Config, now: &str) -> (Core, Host) {
    let core = testkit::core(MIGRATIONS, config).await;
    core.clock.set_frozen(true).await.unwrap();
    core.clock
        .set(onshi_platform::clock::parse_time(now).unwrap())
        .await
        .unwrap();
    onshi_seed::demo::load(&core).await.unwrap();
    let host = Host::start(core.clone(), ALL, "127.0.0.1:0").await.unwrap();
    (core, host)
}
