//! # onshi — the command-line host
//!
//! | module | what |
//! |---|---|
//! | [`database`] | where the data lives: `DATABASE_URL`, a running `onshi up`, or the embedded PostgreSQL |
//! | [`host`] | runs any set of services in one process: one HTTP server, the folder watcher, the feeds |
//! | [`dispatch`] | the dispatcher: one `match` from each message kind to its handler module |
//!
//! `main.rs` holds the commands (`up`, `serve`, `migrate`, `demo`, `clock`, `insurer load`).

pub mod database;
pub mod dispatch;
pub mod host;
