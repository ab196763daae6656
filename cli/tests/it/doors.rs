//! One front door: every bad input of the suites, for every message kind the simulator answers, sent through
//! every door — a file in the facility's folder, HTTP POST of the file, the same over the TLS listener with the
//! facility's terminal certificate, and the JSON Web API where the kind has a path — gets the same answer: the
//! same result code in the message's own error shape and the same HTTP status. The file doors answer
//! byte-for-byte alike apart from the processing time.

use std::collections::BTreeMap;

use onshi_platform::config::Config;
use onshi_wire::msg::file_name::{web_api_path, MessageKind};
use onshi_wire::result_codes::{outcome, ResultKey};
use onshi_wire::xml::{self, Element, Limits};

use crate::app::{tree, TerminalCert, TestApp, DENTAL, MED, NOW};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    Folder,
    Http,
    Tls,
    WebApi,
}

/// What an answer says, for comparison: its status (HTTP doors) and the values of the result elements.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: Option<u16>,
    fields: BTreeMap<&'static str, String>,
}

const RESULT_ELEMENTS: &[&str] = &[
    "SegmentOfResult",
    "ErrorCode",
    "ErrorMessage",
    "ProcessingResultStatus",
    "ProcessingResultCode",
    "ResultCode",
    "MessageContents",
];

fn summarize(t: &Element, out: &mut BTreeMap<&'static str, String>) {
    for c in &t.children {
        if let Some(name) = RESULT_ELEMENTS.iter().find(|n| **n == c.name) {
            out.entry(name).or_insert_with(|| c.text.clone());
        }
        summarize(c, out);
    }
}

impl Answer {
    fn of(status: Option<u16>, t: &Element) -> Self {
        let mut fields = BTreeMap::new();
        summarize(t, &mut fields);
        Self { status, fields }
    }

    /// Whether the answer carries `key`: as its code, or (YZK/TKKsiquc01, which have no code) as its message.
    fn carries(&self, key: ResultKey) -> bool {
        let o = outcome(key, "");
        let prefix = o.message.split('（').next().unwrap_or_default();
        self.fields.get("ErrorCode") == Some(&o.code)
            || self.fields.get("ProcessingResultCode") == Some(&o.code)
            || self
                .fields
                .get("MessageContents")
                .is_some_and(|m| m.starts_with(prefix))
    }

    /// The answer without the parts that say how the input was written (an XML parser's or a JSON parser's
    /// detail in a malformed-input message).
    fn without_messages(&self) -> Self {
        let mut a = self.clone();
        a.fields.remove("ErrorMessage");
        a.fields.remove("MessageContents");
        a
    }
}

/// The JSON of the Web API for a request tree (the inverse of `xml::from_json`).
fn to_json(e: &Element) -> serde_json::Value {
    if e.children.is_empty() {
        return serde_json::Value::String(e.text.clone());
    }
    let mut map = serde_json::Map::new();
    for c in &e.children {
        let v = to_json(c);
        match map.get_mut(&c.name) {
            Some(serde_json::Value::Array(items)) => items.push(v),
            Some(first) => *first = serde_json::Value::Array(vec![first.clone(), v]),
            None => {
                map.insert(c.name.clone(), v);
            }
        }
    }
    serde_json::Value::Object(map)
}

fn json_of(xml_bytes: &[u8]) -> Vec<u8> {
    let t = xml::parse(xml_bytes, &Limits::default()).unwrap().root;
    serde_json::json!({ t.name.clone(): to_json(&t) })
        .to_string()
        .into_bytes()
}

/// A well-formed request of each kind, for the clinic.
fn good(kind: MessageKind) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml");
    match kind {
        MessageKind::OqsSiquc01 => std::fs::read_to_string(path).unwrap(),
        MessageKind::OqsSiimm01 => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
             <MedicalInstitutionCode>{MED}</MedicalInstitutionCode><ArbitraryFileIdentifier>r1</ArbitraryFileIdentifier>\
             </MessageHeader><MessageBody><ReferenceNumberRegistrationInfo><ReferenceNumber>P-1</ReferenceNumber>\
             <InsurerNumber>06131270</InsurerNumber><InsuredCardSymbol>55</InsuredCardSymbol>\
             <InsuredIdentificationNumber>1203</InsuredIdentificationNumber><InsuredBranchNumber>00</InsuredBranchNumber>\
             </ReferenceNumberRegistrationInfo></MessageBody></XmlMsg>"
        ),
        MessageKind::YzkSiquc01 => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
             <MedicalInstitutionCode>{MED}</MedicalInstitutionCode><InsurerNumber>01130012</InsurerNumber>\
             <InsuranceCardSymbol>12345678</InsuranceCardSymbol><InsuredPersonIdentificationNumber>1</InsuredPersonIdentificationNumber>\
             <BranchNumber>00</BranchNumber><ArbitraryFileIdentifier>y1</ArbitraryFileIdentifier></MessageHeader>\
             <MessageBody><StartDate>202601</StartDate><EndDate>202612</EndDate><FileCategory>2</FileCategory>\
             <PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag></MessageBody></XmlMsg>"
        ),
        MessageKind::TkkSiquc01 => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader>\
             <MedicalInstitutionCode>{MED}</MedicalInstitutionCode><InsurerNumber>01130012</InsurerNumber>\
             <InsuranceCardSymbol>12345678</InsuranceCardSymbol><InsuredPersonIdentificationNumber>1</InsuredPersonIdentificationNumber>\
             <BranchNumber>00</BranchNumber><ArbitraryFileIdentifier>t1</ArbitraryFileIdentifier></MessageHeader>\
             <MessageBody><FileCategory>2</FileCategory></MessageBody></XmlMsg>"
        ),
        other => panic!("no request for {}", other.stem()),
    }
}

/// One bad input: its file form, its Web API form (when it has one), the result it must get, and the doors it
/// is the same on (a request naming another facility is refused where the door knows the caller's facility).
struct Case {
    label: &'static str,
    file: Vec<u8>,
    json: Option<Vec<u8>>,
    key: ResultKey,
    doors: &'static [Door],
}

const ALL_DOORS: &[Door] = &[Door::Folder, Door::Http, Door::Tls, Door::WebApi];
const IDENTIFIED: &[Door] = &[Door::Folder, Door::Tls, Door::WebApi];

fn cases(kind: MessageKind) -> Vec<Case> {
    let good = good(kind);
    let big = vec![b' '; Limits::default().max_bytes + 1];
    let tree_case = |label, file: String, key, doors| Case {
        label,
        json: Some(json_of(file.as_bytes())),
        file: file.into_bytes(),
        key,
        doors,
    };
    let sjis_bad = {
        let mut b = good.replace("UTF-8", "Shift_JIS").into_bytes();
        let at = b.len() - 30;
        b[at] = 0x81;
        b[at + 1] = 0x20;
        b
    };
    let mut cases = vec![
        Case {
            label: "over the size limit",
            file: big.clone(),
            json: Some(big),
            key: ResultKey::TooLarge,
            doors: ALL_DOORS,
        },
        Case {
            label: "malformed",
            file: b"<XmlMsg><MessageHeader></XmlMsg>".to_vec(),
            json: Some(b"{\"XmlMsg\":".to_vec()),
            key: ResultKey::MalformedXml,
            doors: ALL_DOORS,
        },
        Case {
            label: "doctype",
            file: good
                .replacen(
                    "<XmlMsg>",
                    "<!DOCTYPE XmlMsg [<!ENTITY x \"xxxxxxxx\">]><XmlMsg>",
                    1,
                )
                .into_bytes(),
            json: None,
            key: ResultKey::Doctype,
            doors: ALL_DOORS,
        },
        Case {
            label: "invalid Shift_JIS",
            file: sjis_bad,
            json: None,
            key: ResultKey::BadEncoding,
            doors: ALL_DOORS,
        },
        tree_case(
            "wrong root",
            good.replace("XmlMsg", "Message"),
            ResultKey::WrongRoot,
            ALL_DOORS,
        ),
        tree_case(
            "missing institution code",
            good.replace(
                &format!("<MedicalInstitutionCode>{MED}</MedicalInstitutionCode>"),
                "",
            ),
            ResultKey::HeaderMissing,
            ALL_DOORS,
        ),
        tree_case(
            "institution check digit",
            good.replace(MED, "1310112346"),
            ResultKey::HeaderInvalid,
            ALL_DOORS,
        ),
        tree_case(
            "another facility's code",
            good.replace(MED, DENTAL),
            ResultKey::TerminalMismatch,
            IDENTIFIED,
        ),
    ];
    cases.extend(match kind {
        MessageKind::OqsSiquc01 => siquc01_cases(&good),
        MessageKind::YzkSiquc01 | MessageKind::TkkSiquc01 => vec![tree_case(
            "FileCategory out of range",
            good.replace(
                "<FileCategory>2</FileCategory>",
                "<FileCategory>9</FileCategory>",
            ),
            ResultKey::HeaderInvalid,
            ALL_DOORS,
        )],
        _ => vec![],
    });
    cases
}

/// The bad inputs of the `OQSsiquc01` suite (`e2e.rs`) that do not depend on the door's facility.
fn siquc01_cases(good: &str) -> Vec<Case> {
    let tree_case = |label, file: String, key| Case {
        label,
        json: Some(json_of(file.as_bytes())),
        file: file.into_bytes(),
        key,
        doors: ALL_DOORS,
    };
    let missing_body = good
        .split("<MessageBody>")
        .next()
        .unwrap()
        .replace("</MessageHeader>", "</MessageHeader></XmlMsg>");
    vec![
        tree_case("missing body", missing_body, ResultKey::BodyMissing),
        tree_case(
            "bad date",
            good.replace("20261120", "20261199"),
            ResultKey::HeaderInvalid,
        ),
        tree_case(
            "future date",
            good.replace("20261120", "20261122"),
            ResultKey::FutureDate,
        ),
        tree_case(
            "insurer check digit",
            good.replace("01130012", "01130013"),
            ResultKey::InsurerInvalid,
        ),
        tree_case(
            "missing person element",
            good.replace("<Birthdate>19800515</Birthdate>", ""),
            ResultKey::PersonMissing,
        ),
        tree_case(
            "bad birthdate",
            good.replace("19800515", "19800532"),
            ResultKey::BirthdateInvalid,
        ),
        tree_case(
            "bad branch",
            good.replace(
                "<InsuredBranchNumber>00</InsuredBranchNumber>",
                "<InsuredBranchNumber>0A</InsuredBranchNumber>",
            ),
            ResultKey::BranchInvalid,
        ),
        tree_case(
            "bad consent flag",
            good.replace(">0</LimitApplication", ">2</LimitApplication"),
            ResultKey::ConsentFlagInvalid,
        ),
        Case {
            label: "entity reference",
            file: good.replace("demo-yamada_taro", "&x;").into_bytes(),
            json: None,
            key: ResultKey::MalformedXml,
            doors: ALL_DOORS,
        },
    ]
}

struct Doors {
    app: TestApp,
    cert: TerminalCert,
    token: String,
}

impl Doors {
    async fn send(&self, door: Door, kind: MessageKind, case: &Case, n: usize) -> Option<Answer> {
        let name = format!("{}req_d{n}.xml", kind.stem());
        let answer = format!("{}res_d{n}.xml", kind.stem());
        match door {
            Door::Folder => {
                let bytes = self
                    .app
                    .drop_in_folder(MED, &name, &case.file, &answer)
                    .await;
                Some(Answer::of(None, &tree(&bytes)))
            }
            Door::Http => {
                let r = self.app.post_file(&name, &case.file).await;
                Some(Answer::of(Some(r.status), &tree(&r.body)))
            }
            Door::Tls => {
                let r = self.app.post_file_tls(&self.cert, &name, &case.file).await;
                Some(Answer::of(Some(r.status), &tree(&r.body)))
            }
            Door::WebApi => {
                let json = case.json.as_ref()?;
                web_api_path(kind)?;
                let r = self.app.web_api(kind, &self.token, json).await;
                let t = xml::from_json(&r.json()).unwrap();
                Some(Answer::of(Some(r.status), &t))
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_gives_the_same_answer_to_the_same_bad_input() {
    // The folder answers unpairable requests with an error file too (not the `.err` convention), so that every
    // door's answer can be compared.
    let config = Config {
        tls_bind: Some("127.0.0.1:0".into()),
        folder_errors: onshi_platform::config::FolderErrors::Response,
        ..Config::default()
    };
    let app = TestApp::with(config, NOW).await;
    let cert = app.issue_certificate(MED, 365).await;
    let token = app.login(MED).await;
    let doors = Doors { app, cert, token };
    let mut n = 0;
    let mut compared = 0;
    for kind in [
        MessageKind::OqsSiquc01,
        MessageKind::OqsSiimm01,
        MessageKind::YzkSiquc01,
        MessageKind::TkkSiquc01,
    ] {
        for case in cases(kind) {
            let what = format!("{} / {}", kind.stem(), case.label);
            let mut file_answer: Option<Answer> = None;
            for &door in case.doors {
                n += 1;
                let Some(a) = doors.send(door, kind, &case, n).await else {
                    continue;
                };
                compared += 1;
                assert!(
                    a.carries(case.key),
                    "{what} via {door:?}: expected {:?}, got {a:?}",
                    case.key
                );
                let status = if case.key == ResultKey::TooLarge {
                    413
                } else {
                    200
                };
                if door != Door::Folder {
                    assert_eq!(a.status, Some(status), "{what} via {door:?}: {a:?}");
                }
                let a = Answer { status: None, ..a };
                match (&file_answer, door) {
                    (None, Door::Folder | Door::Http | Door::Tls) => file_answer = Some(a),
                    (Some(first), Door::Folder | Door::Http | Door::Tls) => {
                        assert_eq!(
                            &a, first,
                            "{what}: {door:?} differs from the other file doors"
                        )
                    }
                    (Some(first), Door::WebApi) => assert_eq!(
                        a.without_messages(),
                        first.without_messages(),
                        "{what}: the Web API differs from the file doors"
                    ),
                    (None, Door::WebApi) => {}
                }
            }
        }
    }
    assert!(compared >= 100, "only {compared} answers compared");
    // A name that is no request name: the same error file from every file door (404 over HTTP).
    let bad_name = "XYZsiquc01req_1.xml";
    let body = good(MessageKind::OqsSiquc01);
    let folder = doors
        .app
        .drop_in_folder(MED, bad_name, body.as_bytes(), "XYZsiquc01res_1.xml")
        .await;
    let http = doors.app.post_file(bad_name, body.as_bytes()).await;
    let tls = doors
        .app
        .post_file_tls(&doors.cert, bad_name, body.as_bytes())
        .await;
    assert_eq!((http.status, tls.status), (404, 404));
    for t in [tree(&folder), tree(&http.body), tree(&tls.body)] {
        assert!(Answer::of(None, &t).carries(ResultKey::UnknownFile));
    }
    doors.app.stop().await;
}
