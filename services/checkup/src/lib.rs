//! # onshi-checkup — 特定健診・後期高齢者健診 results
//!
//! | module | what |
//! |---|---|
//! | [`cda`] | the hc08 CDA document parser |
//! | [`items`] | the item master (codes, types, units, ranges, what each kind of checkup requires) |
//! | [`validate`] | a document checked against the reference, per item, into a checkup to store |
//! | [`judge`] | メタボリックシンドローム判定 and 特定保健指導レベル from the values |
//! | [`synthetic`] | hc08 documents and submission archives written as insurers' software does |
pub mod cda;
pub mod items;
pub mod judge;
pub mod synthetic;
pub mod validate;
