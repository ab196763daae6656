//! The hc08 特定健診情報ファイル: one HL7 CDA R2 `ClinicalDocument` per examinee (reference `checkups-cda.md` §2.5–2.8).
//! Read as a stream of events (quick-xml), by local name — namespace prefixes vary in real files — into the header
//! fields the system keeps and one [`Observation`] per result, grouped observations (一連検査グループ) flattened
//! and the doctor's name of an `author` item turned into its own item. Schema defaults apply (`codeSystem` of an
//! item code is `.1005` when absent). A DOCTYPE, more than [`MAX_ELEMENTS`] elements or nesting deeper than
//! [`MAX_DEPTH`] refuse the file; a BOM is accepted.

use chrono::NaiveDate;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Most elements one document may have (a full checkup has well under 2,000).
pub const MAX_ELEMENTS: usize = 20_000;
/// Deepest nesting (grouped observations reach about 12).
pub const MAX_DEPTH: usize = 32;

/// OIDs the header uses.
pub mod oid {
    pub const REPORT: &str = "1.2.392.200119.6.1001";
    pub const PROGRAM: &str = "1.2.392.200119.6.1002";
    pub const ITEM: &str = "1.2.392.200119.6.1005";
    pub const INSURER: &str = "1.2.392.200119.6.101";
    pub const INSTITUTION: &str = "1.2.392.200119.6.102";
    pub const SYMBOL: &str = "1.2.392.200119.6.204";
    pub const NUMBER: &str = "1.2.392.200119.6.205";
    pub const BRANCH: &str = "1.2.392.200119.6.211";
    pub const SEX: &str = "1.2.392.200119.6.1104";
}

/// The value of one observation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Value {
    /// `PQ`: the number as written, and its unit.
    Quantity { value: String, unit: String },
    /// `CD`/`CO`: a code and its code system (when written).
    Coded {
        code: String,
        system: Option<String>,
    },
    /// `ST`.
    Text(String),
    /// No value: not performed (`negationInd`) or not measurable (`nullFlavor`).
    Missing,
}

/// One result (`observation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub code: String,
    /// The item code's code system when written (the default `.1005` otherwise).
    pub code_system: Option<String>,
    pub value: Value,
    /// H / L / N.
    pub interpretation: Option<String>,
}

/// The header fields of a document and its observations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub root: String,
    /// 報告区分 (`code/@code`): 10 特定健診情報, 19 削除依頼.
    pub report: Option<String>,
    pub report_system: Option<String>,
    pub created: Option<String>,
    pub insurer: Option<String>,
    pub symbol: Option<String>,
    pub number: Option<String>,
    pub branch: Option<String>,
    pub name: Option<String>,
    pub sex: Option<String>,
    pub birth: Option<String>,
    /// 健診プログラム種別 (010 特定健診, 020 後期高齢者健診).
    pub program: Option<String>,
    pub program_system: Option<String>,
    /// 受診日.
    pub date: Option<String>,
    /// The performing institution (or the author's when absent): number and name.
    pub institution: Option<String>,
    pub institution_name: Option<String>,
    pub observations: Vec<Observation>,
}

impl Document {
    pub fn checkup_date(&self) -> Option<NaiveDate> {
        date(self.date.as_deref()?)
    }
    pub fn birth_date(&self) -> Option<NaiveDate> {
        date(self.birth.as_deref()?)
    }
}

/// A `YYYYMMDD` date.
pub fn date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    (s.len() == 8)
        .then(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .flatten()
}

/// Why a file is not a readable CDA document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CdaError(pub String);

/// The doctor-name items written as `author` of another item (item-table column `author要素で表現される項目コード`).
const AUTHOR_ITEMS: &[(&str, &str)] = &[
    ("9N511000000000049", "9N516000000000049"),
    ("9N521000000000049", "9N526000000000049"),
];

/// An observation being read.
#[derive(Default)]
struct Open {
    depth: usize,
    code: Option<String>,
    code_system: Option<String>,
    value: Option<Value>,
    negated: bool,
    interpretation: Option<String>,
    author: Option<String>,
}

fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, CdaError> {
    let [v] = attrs(e, [name])?;
    Ok(v)
}

/// Several attributes of an element, by local name, in one pass over them.
fn attrs<const N: usize>(
    e: &BytesStart,
    names: [&str; N],
) -> Result<[Option<String>; N], CdaError> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for a in e.attributes() {
        let a = a.map_err(|e| CdaError(format!("malformed attribute: {e}")))?;
        let Some(k) = names
            .iter()
            .position(|n| a.key.local_name().as_ref() == n.as_bytes())
        else {
            continue;
        };
        let v = a
            .unescape_value()
            .map_err(|e| CdaError(format!("malformed attribute: {e}")))?;
        if let std::borrow::Cow::Owned(v) = &v {
            check_chars(v)?; // a character reference; the raw text was checked whole
        }
        out[k] = Some(v.trim().to_string());
    }
    Ok(out)
}

fn check_chars(s: &str) -> Result<(), CdaError> {
    match onshi_wire::xml::forbidden_char(s) {
        Some(c) => Err(CdaError(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Parses one hc08 document (UTF-8, a BOM accepted).
pub fn parse(bytes: &[u8]) -> Result<Document, CdaError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| CdaError("the file is not UTF-8".into()))?;
    check_chars(text)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut doc = Document::default();
    let mut path: Vec<&'static str> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut elements = 0usize;
    let mut text_buf = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| CdaError(format!("malformed XML: {e}")))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            elements += 1;
            if elements > MAX_ELEMENTS {
                return Err(CdaError(format!("more than {MAX_ELEMENTS} elements")));
            }
            if path.len() >= MAX_DEPTH {
                return Err(CdaError(format!("nesting deeper than {MAX_DEPTH}")));
            }
            if path.is_empty() {
                doc.root = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
            }
            path.push(intern(e.local_name().as_ref()));
            text_buf.clear();
            on_start(&mut doc, &mut open, &path, e)?;
            if empty {
                on_end(&mut doc, &mut open, &path, "");
                path.pop();
            }
            continue;
        }
        match event {
            Event::End(_) => {
                let text = std::mem::take(&mut text_buf);
                on_end(&mut doc, &mut open, &path, text.trim());
                path.pop();
            }
            // Only the text of names and values is kept (the rest is layout whitespace and narrative).
            Event::Text(t) if matches!(path.last(), Some(&("name" | "value"))) => {
                let s = t
                    .unescape()
                    .map_err(|e| CdaError(format!("malformed XML: {e}")))?;
                if let std::borrow::Cow::Owned(s) = &s {
                    check_chars(s)?;
                }
                text_buf.push_str(&s);
            }
            Event::CData(t) => text_buf.push_str(&String::from_utf8_lossy(&t)),
            Event::DocType(_) => return Err(CdaError("DOCTYPE is not accepted".into())),
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(CdaError("the file ends inside an element".into()));
    }
    if doc.root != "ClinicalDocument" {
        return Err(CdaError(format!(
            "the root element is {:?}, not ClinicalDocument",
            doc.root
        )));
    }
    Ok(doc)
}

/// The local names the reader looks at; every other name is `""` (no allocation per element).
fn intern(name: &[u8]) -> &'static str {
    const NAMES: &[&str] = &[
        "ClinicalDocument",
        "code",
        "effectiveTime",
        "recordTarget",
        "patientRole",
        "id",
        "patient",
        "name",
        "administrativeGenderCode",
        "birthTime",
        "documentationOf",
        "serviceEvent",
        "performer",
        "assignedEntity",
        "representedOrganization",
        "author",
        "assignedAuthor",
        "assignedPerson",
        "observation",
        "value",
        "interpretationCode",
    ];
    NAMES
        .iter()
        .find(|n| n.as_bytes() == name)
        .copied()
        .unwrap_or("")
}

/// Whether the path ends with these names.
fn at(path: &[&str], tail: &[&str]) -> bool {
    path.len() >= tail.len()
        && path[path.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

fn on_start(
    doc: &mut Document,
    open: &mut Vec<Open>,
    path: &[&str],
    e: &BytesStart,
) -> Result<(), CdaError> {
    let depth = path.len();
    let name = path[depth - 1];
    if name == "observation" {
        open.push(Open {
            depth,
            negated: attr(e, "negationInd")?.as_deref() == Some("true"),
            ..Open::default()
        });
        return Ok(());
    }
    // A direct child of the innermost observation.
    if let Some(o) = open.last_mut().filter(|o| o.depth + 1 == depth) {
        match name {
            "code" => {
                [o.code, o.code_system] = attrs(e, ["code", "codeSystem"])?;
            }
            "value" => {
                let [null, kind, value, unit, code, system] = attrs(
                    e,
                    ["nullFlavor", "type", "value", "unit", "code", "codeSystem"],
                )?;
                o.value = Some(if null.is_some() {
                    Value::Missing
                } else {
                    match kind.as_deref() {
                        Some("PQ") => Value::Quantity {
                            value: value.unwrap_or_default(),
                            unit: unit.unwrap_or_default(),
                        },
                        Some("CD" | "CO") => Value::Coded {
                            code: code.unwrap_or_default(),
                            system,
                        },
                        _ => Value::Text(String::new()),
                    }
                });
            }
            "interpretationCode" => o.interpretation = attr(e, "code")?,
            _ => {}
        }
        return Ok(());
    }
    if !open.is_empty() {
        return Ok(());
    }
    let cd = |tail: &[&str]| at(path, tail) && path.len() == tail.len() + 1;
    if cd(&["code"]) {
        doc.report = attr(e, "code")?;
        doc.report_system = attr(e, "codeSystem")?;
    } else if cd(&["effectiveTime"]) {
        doc.created = attr(e, "value")?;
    } else if cd(&["recordTarget", "patientRole", "id"]) {
        let value = attr(e, "extension")?;
        match attr(e, "root")?.as_deref() {
            Some(oid::INSURER) => doc.insurer = value,
            Some(oid::SYMBOL) => doc.symbol = value,
            Some(oid::NUMBER) => doc.number = value,
            Some(oid::BRANCH) => doc.branch = value,
            _ => {}
        }
    } else if cd(&[
        "recordTarget",
        "patientRole",
        "patient",
        "administrativeGenderCode",
    ]) {
        doc.sex = attr(e, "code")?;
    } else if cd(&["recordTarget", "patientRole", "patient", "birthTime"]) {
        doc.birth = attr(e, "value")?;
    } else if cd(&["documentationOf", "serviceEvent", "code"]) {
        doc.program = attr(e, "code")?;
        doc.program_system = attr(e, "codeSystem")?;
    } else if cd(&["documentationOf", "serviceEvent", "effectiveTime"]) {
        doc.date = attr(e, "value")?;
    } else if organization(path, "id", doc.institution.is_some()) {
        doc.institution = attr(e, "extension")?;
    }
    Ok(())
}

fn on_end(doc: &mut Document, open: &mut Vec<Open>, path: &[&str], text: &str) {
    let depth = path.len();
    let name = path[depth - 1];
    if let Some(o) = open.last_mut() {
        if name == "observation" && o.depth == depth {
            let o = open.pop().expect("an open observation");
            finish(doc, o);
        } else if name == "value" && o.depth + 1 == depth {
            if let Some(Value::Text(t)) = &mut o.value {
                *t = text.to_string();
            }
        } else if at(
            path,
            &["author", "assignedAuthor", "assignedPerson", "name"],
        ) && o.depth + 4 == depth
        {
            o.author = Some(text.to_string());
        }
        return;
    }
    if at(path, &["recordTarget", "patientRole", "patient", "name"]) {
        doc.name = Some(text.to_string());
    } else if organization(path, "name", doc.institution_name.is_some()) {
        doc.institution_name = Some(text.to_string());
    }
}

/// Whether the path is the organization whose number and name are kept: the performer's (it comes after the
/// author's and wins), else the author's while none is known.
fn organization(path: &[&str], last: &str, known: bool) -> bool {
    let performer = [
        "serviceEvent",
        "performer",
        "assignedEntity",
        "representedOrganization",
        last,
    ];
    let author = ["author", "assignedAuthor", "representedOrganization", last];
    at(path, &performer) || (!known && at(path, &author))
}

/// An observation read to its end becomes a result (a group's outer observation has no code and is dropped).
fn finish(doc: &mut Document, o: Open) {
    let Some(code) = o.code.filter(|c| !c.is_empty()) else {
        return;
    };
    if let Some(name) = o.author {
        if let Some((_, item)) = AUTHOR_ITEMS.iter().find(|(of, _)| *of == code) {
            doc.observations.push(Observation {
                code: item.to_string(),
                code_system: None,
                value: Value::Text(name),
                interpretation: None,
            });
        }
    }
    let value = if o.negated {
        Value::Missing
    } else {
        o.value.unwrap_or(Value::Missing)
    };
    doc.observations.push(Observation {
        code,
        code_system: o.code_system,
        value,
        interpretation: o.interpretation,
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> String {
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
 <id nullFlavor="NI"/>
 <code code="10" codeSystem="1.2.392.200119.6.1001"/>
 <effectiveTime value="20250610"/>
 <confidentialityCode code="N"/>
 <recordTarget><patientRole>
  <id root="1.2.392.200119.6.101" extension="01130012"/>
  <id root="1.2.392.200119.6.204" extension="12345678"/>
  <id root="1.2.392.200119.6.205" extension="1"/>
  <id root="1.2.392.200119.6.211" extension="00"/>
  <patient><name>ヤマダ タロウ</name><administrativeGenderCode code="1" codeSystem="1.2.392.200119.6.1104"/><birthTime value="19800515"/></patient>
 </patientRole></recordTarget>
 <documentationOf><serviceEvent><code code="010" codeSystem="1.2.392.200119.6.1002"/><effectiveTime value="20250601"/>
  <performer typeCode="PRF"><assignedEntity><representedOrganization><id root="1.2.392.200119.6.102" extension="1310112345"/><name>オンシ健診センター</name></representedOrganization></assignedEntity></performer>
 </serviceEvent></documentationOf>
 <component><structuredBody><component><section><code code="01010" codeSystem="1.2.392.200119.6.1010"/>
  <entry><observation classCode="OBS" moodCode="EVN"><code code="9N016160100000001"/><value xsi:type="PQ" value="90.0" unit="cm"/><interpretationCode code="H"/></observation></entry>
  <entry><observation classCode="OBS" moodCode="EVN"><code nullFlavor="NA"/>
   <entryRelationship typeCode="COMP"><observation classCode="OBS" moodCode="EVN"><code code="2A030000001930101"/><value xsi:type="PQ" value="14.2" unit="g/dL"/></observation></entryRelationship>
   <entryRelationship typeCode="RSON"><observation classCode="OBS" moodCode="EVN"><code code="2A020161001930149"/><value xsi:type="ST">医師の判断</value></observation></entryRelationship>
  </observation></entry>
  <entry><observation classCode="OBS" moodCode="EVN"><code code="9N736000000000011"/><value xsi:type="CD" code="1" codeSystem="1.2.392.200119.6.24060"/></observation></entry>
  <entry><observation classCode="OBS" moodCode="EVN" negationInd="true"><code code="3D046000001906202"/></observation></entry>
  <entry><observation classCode="OBS" moodCode="EVN"><code code="9N511000000000049"/><value xsi:type="ST">異常なし</value>
   <author><time nullFlavor="NI"/><assignedAuthor><id nullFlavor="NI"/><assignedPerson><name>健診 花子</name></assignedPerson></assignedAuthor></author></observation></entry>
 </section></component></structuredBody></component>
</ClinicalDocument>"#
            .to_string()
    }

    #[test]
    fn reads_the_header_and_every_observation() {
        let d = parse(sample().as_bytes()).unwrap();
        assert_eq!(d.report.as_deref(), Some("10"));
        assert_eq!(
            (
                d.insurer.as_deref(),
                d.symbol.as_deref(),
                d.number.as_deref(),
                d.branch.as_deref()
            ),
            (Some("01130012"), Some("12345678"), Some("1"), Some("00"))
        );
        assert_eq!(d.name.as_deref(), Some("ヤマダ タロウ"));
        assert_eq!(d.program.as_deref(), Some("010"));
        assert_eq!(d.checkup_date(), NaiveDate::from_ymd_opt(2025, 6, 1));
        assert_eq!(d.institution_name.as_deref(), Some("オンシ健診センター"));
        let codes: Vec<&str> = d.observations.iter().map(|o| o.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "9N016160100000001",
                "2A030000001930101",
                "2A020161001930149",
                "9N736000000000011",
                "3D046000001906202",
                "9N516000000000049",
                "9N511000000000049"
            ]
        );
        assert_eq!(
            d.observations[0].value,
            Value::Quantity {
                value: "90.0".into(),
                unit: "cm".into()
            }
        );
        assert_eq!(d.observations[2].value, Value::Text("医師の判断".into()));
        assert_eq!(d.observations[4].value, Value::Missing, "negationInd");
        assert_eq!(d.observations[5].value, Value::Text("健診 花子".into()));
    }

    #[test]
    fn hostile_files_are_refused() {
        assert!(parse(b"<!DOCTYPE x [<!ENTITY a 'b'>]><ClinicalDocument/>").is_err());
        assert!(parse(b"<ClinicalDocument><a></b></ClinicalDocument>").is_err());
        assert!(parse(b"<index/>")
            .unwrap_err()
            .0
            .contains("not ClinicalDocument"));
        let deep = format!(
            "<ClinicalDocument>{}{}</ClinicalDocument>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert!(parse(deep.as_bytes()).unwrap_err().0.contains("deeper"));
        assert!(parse("<ClinicalDocument>\u{1}</ClinicalDocument>".as_bytes()).is_err());
        let reference = sample().replace("ヤマダ タロウ", "ヤマダ&#1;");
        assert!(parse(reference.as_bytes())
            .unwrap_err()
            .0
            .contains("U+0001"));
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
