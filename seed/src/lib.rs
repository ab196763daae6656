//! # onshi-seed — data for the simulator
//!
//! | module | what |
//! |---|---|
//! | [`demo`] | the small, deterministic demo population loaded by `onshi up` (personas, facilities, request files) |
//!
//! The synthetic nation generator (`onshi seed --scale …`) will live here too.

pub mod demo;
