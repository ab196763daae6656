//! The one data table of result codes and messages (`wire/data/result-codes.tsv`).
//!
//! The real 別紙6-1 codes are not public, so code values and messages are data: the embedded table gives the
//! defaults and `ONSHI_RESULT_CODES` names a file (same columns) whose rows replace them key by key
//! (loaded at start-up by [`ResultCodes::init_from_file`]).

use std::collections::HashMap;
use std::sync::OnceLock;

static TABLE: OnceLock<ResultCodes> = OnceLock::new();

const EMBEDDED: &str = include_str!("../data/result-codes.tsv");

/// Where a code surfaces in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Header `ErrorCode`/`ErrorMessage` with `SegmentOfResult` 9.
    File,
    /// Body `ProcessingResultStatus` 2 with `ProcessingResultCode`/`Message`.
    Person,
    /// `ProcessingResultStatus` 1 with an informational code.
    Info,
}

macro_rules! keys {
    ($($v:ident = $k:literal),+ $(,)?) => {
        /// A situation that has a result code. The wire code and message come from the table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ResultKey { $($v),+ }
        impl ResultKey {
            pub const ALL: &'static [ResultKey] = &[$(ResultKey::$v),+];
            pub fn key(self) -> &'static str { match self { $(ResultKey::$v => $k),+ } }
            /// The key named `key` (its [`ResultKey::key`]).
            pub fn from_key(key: &str) -> Option<Self> { Self::ALL.iter().copied().find(|k| k.key() == key) }
        }
        impl serde::Serialize for ResultKey {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.key()) }
        }
        impl<'de> serde::Deserialize<'de> for ResultKey {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let key = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_key(&key).ok_or_else(|| serde::de::Error::custom(format!("unknown result key {key:?}")))
            }
        }
    };
}

keys! {
    MalformedXml = "malformed_xml",
    BadEncoding = "bad_encoding",
    Doctype = "doctype",
    WrongRoot = "wrong_root",
    HeaderMissing = "header_missing",
    HeaderInvalid = "header_invalid",
    InstitutionUnknown = "institution_unknown",
    InstitutionInactive = "institution_inactive",
    TooLarge = "too_large",
    UnknownFile = "unknown_file",
    FutureDate = "future_date",
    TerminalMismatch = "terminal_mismatch",
    UnsupportedMessage = "unsupported_message",
    AuthRequired = "auth_required",
    BodyMissing = "body_missing",
    PersonMissing = "person_missing",
    InsurerInvalid = "insurer_invalid",
    BirthdateInvalid = "birthdate_invalid",
    BranchInvalid = "branch_invalid",
    ConsentFlagInvalid = "consent_flag_invalid",
    NumberInvalid = "number_invalid",
    CardExpiring = "card_expiring",
    ReceptionUnknown = "reception_unknown",
    ReceptionExpired = "reception_expired",
    BulkDuplicate = "bulk_duplicate",
    ReferenceInvalid = "reference_invalid",
    ReferenceTargetUnknown = "reference_target_unknown",
    RequeryUnpresented = "requery_unpresented",
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultCode {
    pub code: String,
    pub scope: Scope,
    pub template: String,
}

/// A code with its message filled in, ready to write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub key: ResultKey,
    pub code: String,
    pub message: String,
}

/// The loaded table.
#[derive(Debug, Clone)]
pub struct ResultCodes {
    rows: HashMap<&'static str, ResultCode>,
}

fn parse_rows(text: &str) -> Result<Vec<(String, ResultCode)>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 4 {
            return Err(format!("line {}: expected 4 tab-separated columns", i + 1));
        }
        let scope = match cols[2] {
            "file" => Scope::File,
            "person" => Scope::Person,
            "info" => Scope::Info,
            other => return Err(format!("line {}: unknown scope {other:?}", i + 1)),
        };
        rows.push((
            cols[0].to_string(),
            ResultCode {
                code: cols[1].to_string(),
                scope,
                template: cols[3].to_string(),
            },
        ));
    }
    Ok(rows)
}

impl ResultCodes {
    /// The embedded table, with the rows of `override_text` replacing those of the same key.
    pub fn load(override_text: Option<&str>) -> Result<Self, String> {
        let mut rows = HashMap::new();
        let texts = std::iter::once(EMBEDDED).chain(override_text);
        for text in texts {
            for (key, row) in parse_rows(text)? {
                let k = ResultKey::ALL
                    .iter()
                    .find(|k| k.key() == key)
                    .ok_or_else(|| format!("unknown result key {key:?}"))?;
                rows.insert(k.key(), row);
            }
        }
        for k in ResultKey::ALL {
            if !rows.contains_key(k.key()) {
                return Err(format!("result key {:?} has no row", k.key()));
            }
        }
        Ok(Self { rows })
    }

    /// Loads the override file at `path` (the `ONSHI_RESULT_CODES` setting) as the process-wide table. Call at
    /// start-up: a bad file is reported here, not on the first request. Without this call the embedded table is
    /// used.
    pub fn init_from_file(path: &str) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let table = ResultCodes::load(Some(&text)).map_err(|e| format!("{path}: {e}"))?;
        TABLE
            .set(table)
            .map_err(|_| "the result code table was already in use".to_string())
    }

    /// The process-wide table.
    pub fn global() -> &'static ResultCodes {
        TABLE.get_or_init(|| {
            ResultCodes::load(None).expect("the embedded table is valid (unit-tested)")
        })
    }

    pub fn row(&self, key: ResultKey) -> &ResultCode {
        &self.rows[key.key()]
    }

    pub fn outcome(&self, key: ResultKey, detail: &str) -> Outcome {
        let row = self.row(key);
        Outcome {
            key,
            code: row.code.clone(),
            message: row.template.replace("{detail}", detail),
        }
    }
}

/// Shorthand for `ResultCodes::global().outcome(key, detail)`.
pub fn outcome(key: ResultKey, detail: &str) -> Outcome {
    ResultCodes::global().outcome(key, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_covers_every_key() {
        let t = ResultCodes::load(None).unwrap();
        let o = t.outcome(ResultKey::HeaderMissing, "MedicalInstitutionCode");
        assert_eq!(o.code, "EC0005");
        assert!(o.message.contains("MedicalInstitutionCode"));
        assert_eq!(t.row(ResultKey::CardExpiring).scope, Scope::Info);
    }

    #[test]
    fn override_replaces_rows_by_key() {
        let t = ResultCodes::load(Some("too_large\tX9\tfile\tbig {detail}\n")).unwrap();
        assert_eq!(t.outcome(ResultKey::TooLarge, "10").message, "big 10");
        assert!(ResultCodes::load(Some("nope\tX\tfile\tm\n")).is_err());
        assert!(ResultCodes::load(Some("too_large\tX\n")).is_err());
    }
}
