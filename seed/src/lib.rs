//! # onshi-seed — data for the simulator
//!
//! | module | what |
//! |---|---|
//! | [`demo`] | the small, deterministic demo population loaded by `onshi up` (personas, facilities, request files) |
//! | [`nation`] | the synthetic nation at any scale (`onshi seed`), loaded with COPY, resumable |

pub mod demo;
pub mod nation;
