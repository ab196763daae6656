//! Criterion benchmarks of the hot paths (`cargo bench -p onshi-benches`); results and the commands that
//! produced them are recorded in `docs/PERFORMANCE.md`.
//!
//! | bench | what |
//! |---|---|
//! | `siquc01` | one `OQSsiquc01` request: parse → answer → serialize, on the demo registry and on 1,000,000 qualifications |
