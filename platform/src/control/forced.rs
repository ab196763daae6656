//! Forced outcomes: the answer a request gets instead of the one the simulator would compute. Two sources:
//! *magic values* written by the client itself (an `ArbitraryFileIdentifier` starting with `FORCE-`, [`magic`]) and
//! the operator's rules ("the next N answers matching {facility, message kind, person} are …", with sequences),
//! stored in `control.forced` and consumed atomically ([`super::Controls::force_for`]).
//!
//! One grammar names an answer everywhere ([`Force::parse`]): `pass` (the real answer — a step of a sequence),
//! `processing` (処理中, step 2 of a bulk flow), `validity:N` (QualificationValidity N), or a result code of the
//! table (`EC0016`, or its key `reception_unknown`): a file-level code answers `SegmentOfResult` 9 in the message's
//! own error shape (every message kind), a person-level code `ProcessingResultStatus` 2 (`OQSsiquc01`).

use onshi_wire::codes::{CodeTable, QualificationValidity};
use onshi_wire::msg::file_name::MessageKind;
use onshi_wire::result_codes::{ResultCodes, ResultKey, Scope};
use onshi_wire::xml::Element;

/// An answer forced on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Force {
    /// The answer the simulator computes (a step of a sequence: "first an error, then success").
    Pass,
    /// A file-level error (`SegmentOfResult` 9 with the code), in the message's own error shape.
    FileError(ResultKey),
    /// A person-level error (`ProcessingResultStatus` 2 with the code).
    PersonError(ResultKey),
    /// The person's `QualificationValidity` (4 answers without qualification results).
    Validity(QualificationValidity),
    /// 処理中 (`SegmentOfResult` 2) for step 2 of a two-step bulk flow, whatever the job's state.
    Processing,
}

impl Force {
    /// Reads an answer: `pass`, `processing`, `validity:N`, a result code (`EC0016`) or its key.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "pass" {
            return Ok(Self::Pass);
        }
        if s == "processing" {
            return Ok(Self::Processing);
        }
        if let Some(n) = s.strip_prefix("validity:") {
            return QualificationValidity::from_code(n)
                .map(Self::Validity)
                .ok_or_else(|| format!("{s:?}: validity is one of 1–6 (OQSCD006)"));
        }
        let table = ResultCodes::global();
        let key = ResultKey::ALL
            .iter()
            .copied()
            .find(|k| k.key() == s || table.row(*k).code == s)
            .ok_or_else(|| {
                format!(
                    "{s:?}: give pass, processing, validity:N, or a result code of the table (EC0016, EP0002, …)"
                )
            })?;
        match table.row(key).scope {
            Scope::File => Ok(Self::FileError(key)),
            Scope::Person => Ok(Self::PersonError(key)),
            Scope::Info => Err(format!(
                "{s:?} is an informational code, not an answer that can be forced"
            )),
        }
    }

    /// The answer's name in the grammar of [`Force::parse`] (the result code as the table writes it).
    pub fn name(self) -> String {
        match self {
            Self::Pass => "pass".into(),
            Self::Processing => "processing".into(),
            Self::Validity(v) => format!("validity:{}", v.code()),
            Self::FileError(k) | Self::PersonError(k) => ResultCodes::global().row(k).code.clone(),
        }
    }

    /// Whether a request of `kind` can be given this answer.
    pub fn applies_to(self, kind: MessageKind) -> bool {
        match self {
            Self::Pass | Self::FileError(_) => true,
            Self::PersonError(_) | Self::Validity(_) => kind == MessageKind::OqsSiquc01,
            Self::Processing => matches!(kind, MessageKind::OqsMuquc02 | MessageKind::OqsMuimm02),
        }
    }
}

/// Gives the answered person of an `OQSsiquc01res` (a query's answer or a card reader's face result) the answer
/// forced: a validity (4 without results) or a person-level error. A file-level error has no person to change.
pub fn apply(resp: &mut onshi_wire::msg::oqs_siquc01::Response, f: Force) {
    use onshi_wire::codes::ProcessingResultStatus;
    let Some(body) = resp.body.as_mut().filter(|_| resp.header.error.is_none()) else {
        return;
    };
    match f {
        Force::Validity(v) => {
            body.status = ProcessingResultStatus::Normal;
            body.validity = Some(v);
            if v == QualificationValidity::NotFound {
                body.results.clear();
                body.code = None;
            }
        }
        Force::PersonError(key) => {
            body.status = ProcessingResultStatus::Error;
            body.code = Some(onshi_wire::result_codes::outcome(key, "forced"));
            body.validity = None;
            body.results.clear();
        }
        Force::Pass | Force::FileError(_) | Force::Processing => {}
    }
}

/// The prefix of a magic `ArbitraryFileIdentifier`.
pub const MAGIC_PREFIX: &str = "FORCE-";

/// The answer a request's magic `ArbitraryFileIdentifier` asks for: `FORCE-<token>[-<anything>]` where the token is
/// `PROCESSING`, `V1`…`V6` (QualificationValidity) or a result code (`EC0016`, `EP0002`). An identifier that does
/// not parse, or asks for an answer the message kind cannot give, forces nothing.
pub fn magic(tree: &Element, kind: MessageKind) -> Option<Force> {
    let id = tree
        .child("MessageHeader")?
        .value("ArbitraryFileIdentifier")?;
    let token = id.strip_prefix(MAGIC_PREFIX)?.split('-').next()?;
    let force = match token {
        "PROCESSING" => Force::Processing,
        v if v.len() == 2 && v.starts_with('V') => {
            Force::Validity(QualificationValidity::from_code(&v[1..])?)
        }
        code => Force::parse(code).ok()?,
    };
    (force != Force::Pass && force.applies_to(kind)).then_some(force)
}

/// The table of magic values (served at `/admin/v1/magic`, written in `docs/CONTROLS.md`).
pub fn magic_table() -> Vec<serde_json::Value> {
    let mut rows = vec![
        serde_json::json!({"value": "FORCE-PROCESSING", "answer": "processing", "messages": ["OQSmuquc02", "OQSmuimm02"],
            "effect": "SegmentOfResult 2 (処理中), whatever the job's state"}),
    ];
    for v in QualificationValidity::ALL {
        rows.push(serde_json::json!({"value": format!("FORCE-V{}", v.code()), "answer": Force::Validity(*v).name(),
            "messages": ["OQSsiquc01"], "effect": format!("QualificationValidity {} ({})", v.code(), v.label())}));
    }
    let table = ResultCodes::global();
    for k in ResultKey::ALL {
        let row = table.row(*k);
        let (messages, effect) = match row.scope {
            Scope::File => (
                serde_json::json!(["every message"]),
                "SegmentOfResult 9 with this ErrorCode, in the message's own error shape",
            ),
            Scope::Person => (
                serde_json::json!(["OQSsiquc01"]),
                "ProcessingResultStatus 2 with this ProcessingResultCode",
            ),
            Scope::Info => continue,
        };
        rows.push(serde_json::json!({"value": format!("FORCE-{}", row.code), "answer": row.code, "key": k.key(),
            "messages": messages, "effect": effect}));
    }
    rows
}

/// Whether the request names `person`: an `InsuredIdentificationNumber` or `ReferenceNumber` of its body.
pub fn names_person(tree: &Element, person: &str) -> bool {
    fn walk(e: &Element, person: &str, depth: usize) -> bool {
        if matches!(
            e.name.as_str(),
            "InsuredIdentificationNumber" | "ReferenceNumber"
        ) && e.text.trim() == person
        {
            return true;
        }
        depth < 16 && e.children.iter().any(|c| walk(c, person, depth + 1))
    }
    walk(tree, person, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(id: &str) -> Element {
        onshi_wire::xml::parse(
            format!(
                "<XmlMsg><MessageHeader><ArbitraryFileIdentifier>{id}</ArbitraryFileIdentifier></MessageHeader>\
                 <MessageBody><InsuredIdentificationNumber>1234</InsuredIdentificationNumber></MessageBody></XmlMsg>"
            )
            .as_bytes(),
            &Default::default(),
        )
        .unwrap()
        .root
    }

    #[test]
    fn the_grammar_reads_every_kind_of_answer() {
        assert_eq!(Force::parse("pass"), Ok(Force::Pass));
        assert_eq!(Force::parse("processing"), Ok(Force::Processing));
        assert_eq!(
            Force::parse("validity:3"),
            Ok(Force::Validity(QualificationValidity::InvalidNewExists))
        );
        assert_eq!(
            Force::parse("EC0016"),
            Ok(Force::FileError(ResultKey::ReceptionUnknown))
        );
        assert_eq!(
            Force::parse("reception_unknown"),
            Ok(Force::FileError(ResultKey::ReceptionUnknown))
        );
        assert_eq!(
            Force::parse("EP0002"),
            Ok(Force::PersonError(ResultKey::InsurerInvalid))
        );
        assert!(Force::parse("IN0001")
            .unwrap_err()
            .contains("informational"));
        assert!(Force::parse("validity:9").is_err());
        assert!(Force::parse("nonsense").is_err());
        for f in ["pass", "processing", "validity:4", "EC0013", "EP0006"] {
            assert_eq!(Force::parse(f).unwrap().name(), f);
        }
    }

    #[test]
    fn magic_values_force_what_the_kind_can_answer() {
        let k = MessageKind::OqsSiquc01;
        assert_eq!(
            magic(&tree("FORCE-V3-0001"), k),
            Some(Force::Validity(QualificationValidity::InvalidNewExists))
        );
        assert_eq!(
            magic(&tree("FORCE-EC0007"), k),
            Some(Force::FileError(ResultKey::InstitutionUnknown))
        );
        assert_eq!(
            magic(&tree("FORCE-EP0001-x"), k),
            Some(Force::PersonError(ResultKey::PersonMissing))
        );
        assert_eq!(magic(&tree("FORCE-PROCESSING"), k), None);
        assert_eq!(
            magic(&tree("FORCE-PROCESSING"), MessageKind::OqsMuquc02),
            Some(Force::Processing)
        );
        assert_eq!(magic(&tree("FORCE-V9"), k), None);
        assert_eq!(magic(&tree("FORCE-pass"), k), None);
        assert_eq!(magic(&tree("ordinary-id"), k), None);
        assert!(magic_table().len() > 20);
    }

    #[test]
    fn a_person_is_found_in_the_body() {
        assert!(names_person(&tree("x"), "1234"));
        assert!(!names_person(&tree("x"), "123"));
    }
}
