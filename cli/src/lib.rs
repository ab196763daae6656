//! # onshi — the command-line host
//!
//! | module | what |
//! |---|---|
//! | [`database`] | where the data lives: `DATABASE_URL`, a running `onshi up`, or the embedded PostgreSQL |
//! | [`host`] | runs any set of services in one process: one HTTP server, the folder watcher, the feeds |
//! | [`dispatch`] | the dispatcher: one `match` from each message kind to its handler module |
//! | [`snapshots`] | snapshots and reset of a running simulator (admin API) |
//! | [`scenarios`] | named training and test scenarios: the stage (server side) and the steps checked (client side) |
//! | [`web`] | the web view served at `/` (`cli/web/`): the operator console |
//! | [`remote`] | the admin API of the simulator running from a home, for the CLI |
//!
//! `main.rs` holds the commands (`up`, `serve`, `migrate`, `demo`, `clock`, `snapshot`, `forced`, `fault`, `journal`, …).

pub mod database;
pub mod dispatch;
pub mod host;
pub mod remote;
pub mod scenarios;
pub mod snapshots;
pub mod web;
