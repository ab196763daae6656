//! The face result (`OQSsiquc01res` with `ReferenceClassification` 1): what the card reader writes into the
//! facility's `face/` folder once the patient has consented, and keeps per facility for polling.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use onshi_consent::Kind;
use onshi_platform::directory::CurrentQualification;
use onshi_wire::codes::{
    ConsentStatus, PrescriptionIssueSelect, ProcessingResultStatus, QualificationValidity,
    ReferenceClassification, SegmentOfResult,
};
use onshi_wire::ids::DateTime;
use onshi_wire::msg::oqs_siquc01::{Body, Response};
use onshi_wire::msg::qualification::{apply_medical_aid, Consent, Disclosure, QualificationResult};
use onshi_wire::msg::{HeaderEcho, ResponseHeader};
use onshi_wire::xml::Encoding;

/// Face results kept per facility for polling.
const KEEP: usize = 1_000;

/// The face results produced by this process, per facility, for `GET /reader/v1/{code}/face`.
#[derive(Default)]
pub struct FaceStore {
    seq: AtomicU64,
    by_facility: Mutex<HashMap<String, VecDeque<FaceResult>>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaceResult {
    pub seq: u64,
    pub file: String,
    pub xml: String,
}

impl FaceStore {
    pub fn push(&self, facility: &str, file: String, xml: String) -> u64 {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let mut m = self.by_facility.lock().expect("face store");
        let q = m.entry(facility.to_string()).or_default();
        q.push_back(FaceResult { seq, file, xml });
        while q.len() > KEEP {
            q.pop_front();
        }
        seq
    }

    pub fn after(&self, facility: &str, after: u64) -> Vec<FaceResult> {
        let m = self.by_facility.lock().expect("face store");
        m.get(facility)
            .map(|q| q.iter().filter(|r| r.seq > after).cloned().collect())
            .unwrap_or_default()
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut raw = [0u8; N];
    let _ = ring::rand::SystemRandom::new().fill(&mut raw);
    raw
}

/// A 16-character base64 token, like the system's face-result `ArbitraryFileIdentifier`.
/// A `QualificationConfirmationKey`: 32 hex characters [I: only its presence is reported, not its form].
fn confirmation_key() -> String {
    onshi_platform::hex(&random_bytes::<16>())
}

fn token() -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw: [u8; 12] = random_bytes();
    raw.chunks(3)
        .flat_map(|c| {
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            [18, 12, 6, 0].map(|s| A[((n >> s) & 63) as usize] as char)
        })
        .collect()
}

/// `OQSsiquc01res_face_<code><20 hex>_<yyyyMMddHHmmss>.xml`.
pub fn file_name(facility: &str, now: DateTime) -> String {
    format!(
        "OQSsiquc01res_face_{}{}_{}.xml",
        facility,
        onshi_platform::hex(&random_bytes::<10>()),
        now.compact()
    )
}

/// What a face result says.
pub struct Face<'a> {
    pub facility: &'a str,
    pub encoding: Encoding,
    /// The person's qualification to show, if any.
    pub qualification: Option<CurrentQualification>,
    pub given: &'a [Kind],
    pub prescription: Option<PrescriptionIssueSelect>,
    /// The facility's 照会番号 for the person, if registered.
    pub reference_number: Option<String>,
    pub now: DateTime,
    /// End of the viewing period of the consents given.
    pub until: DateTime,
    /// The card is not registered for health-insurance use: no qualification is shown, and the face XML carries
    /// a `QualificationConfirmationKey`.
    pub unregistered: bool,
}

/// The face result: ReferenceClassification 1, the person's qualification today, the consents just given.
pub fn response(f: Face<'_>) -> Response {
    let now = f.now;
    let today = now.date();
    let has = |k: Kind| f.given.contains(&k);
    let consent = |k: Kind| {
        Some(if has(k) {
            Consent {
                flag: ConsentStatus::Consented,
                time: Some(now),
                available_until: Some(f.until),
            }
        } else {
            Consent {
                flag: ConsentStatus::NoConsent,
                time: None,
                available_until: None,
            }
        })
    };
    let (validity, results) = match &f.qualification {
        _ if f.unregistered => (QualificationValidity::NotFound, vec![]),
        None => (QualificationValidity::NotFound, vec![]),
        Some(q) => {
            let mut r = QualificationResult::from_record(
                &q.record,
                today,
                Disclosure {
                    limit_consent: has(Kind::Limit),
                    specific_consent: has(Kind::SpecificDisease),
                    consent_time: now,
                },
            );
            r.checkup_consent = consent(Kind::Checkup);
            r.pharmacists_consent = consent(Kind::Medication);
            r.diagnosis_consent = consent(Kind::Clinical);
            r.operation_consent = consent(Kind::Surgery);
            r.consents_2025 = Kind::ALL
                .into_iter()
                .filter_map(|kind| match kind {
                    Kind::Info(info) => consent(kind).map(|c| (info, c)),
                    _ => None,
                })
                .collect();
            if !has(Kind::SpecificDisease) {
                r.specific_consent = Some((ConsentStatus::NoConsent, None));
            }
            r.reference_number = f.reference_number;
            let validity = if q.valid {
                QualificationValidity::Valid
            } else {
                QualificationValidity::Invalid
            };
            let month = &today.compact()[..6];
            let validity = apply_medical_aid(&mut r, &q.record, f.facility, month, validity);
            (validity, vec![r])
        }
    };
    Response {
        header: ResponseHeader {
            process_time: now,
            echo: HeaderEcho {
                confirmation_date: Some(today.compact()),
                institution: Some(f.facility.to_string()),
                arbitrary_file_identifier: Some(token()),
            },
            reference_classification: ReferenceClassification::MyNumberCard,
            segment: SegmentOfResult::Normal,
            error: None,
            encoding: f.encoding,
        },
        body: Some(Body {
            status: ProcessingResultStatus::Normal,
            code: None,
            validity: Some(validity),
            search: None,
            prescription_issue_select: f.prescription,
            results,
            confirmation_key: f.unregistered.then(confirmation_key),
        }),
    }
}
