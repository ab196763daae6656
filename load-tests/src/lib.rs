//! onshi-load: an honest load generator for onshi (and any HTTP server), and the actix-web hello-world it is
//! measured against (`src/bin/hello.rs`). `docs/LOAD.md` is the manual; `load-tests/README.md` the quick start.
//!
//! | module | what |
//! |---|---|
//! | [`profile`] | arrival-rate profiles (constant, ramp, step, clinic morning) and each arrival's scheduled time |
//! | [`scenario`] | persons and facilities (test decks or demo), operations, the national mix, request bodies |
//! | [`client`] | `onshi_platform::client`: a lean HTTP/1.1 keep-alive connection, plain or mutual TLS |
//! | [`folder`] | the folder door: request files in `req/`, answers awaited in `res/` |
//! | [`driver`] | the open/closed-model engine, late sends, saturation and its cause, progress each second |
//! | [`pacer`] | sub-millisecond send times (a thread with a heap of wake-ups; tokio's timer is 1 ms coarse) |
//! | [`stats`] | HDR histograms per operation and connection, drained each second |
//! | [`server`] | the server's `/metrics` over the same window |
//! | [`report`] | JSON, thresholds, the self-contained HTML report |
//! | [`certs`] | one terminal certificate per simulated facility for mutual TLS |

pub mod certs;
pub use onshi_platform::client;
pub mod driver;
pub mod folder;
pub mod pacer;
pub mod profile;
pub mod report;
pub mod scenario;
pub mod server;
pub mod stats;
