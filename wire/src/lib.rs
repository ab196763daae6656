//! # onshi-wire — the wire domain of the simulator, framework-free
//!
//! Everything a message is made of, with no HTTP, database or async runtime in sight (the crate depends only on
//! chrono, serde, quick-xml, encoding_rs and thiserror), so it compiles fast on its own and its unit tests run
//! without a server.
//!
//! Map of the crate:
//!
//! | module | what it holds |
//! |---|---|
//! | [`ids`] | validated identifiers: 保険者番号, 医療機関コード, 記号・番号・枝番, dates (check digits, spec formats) |
//! | [`codes`] | the OQSCD001–044 code tables as typed enums with wire code and Japanese label |
//! | [`xml`] | hardened request parsing (UTF-8 / Shift_JIS, no DTDs, limits) and the one XML/JSON emitter |
//! | [`msg`] | one module per message stem (`oqs_siquc01`, `yzk_siquc01`, …) plus shared header/result parts and file names |
//! | [`record`] | the qualification and facility records that registries publish on their change feeds |
//! | [`result_codes`] | the data table of result codes and messages (別紙6-1 is not public) |
//! | [`xsd`] | XML Schemas generated from the files the message modules read and write (`wire/xsd/`) |

pub mod codes;
pub mod ids;
pub mod msg;
pub mod record;
pub mod result_codes;
pub mod xml;
pub mod xsd;
