//! The card reader and the consent log, end to end: real face files in the facility's folder, PIN brute force,
//! replayed sessions, card-side failures, consents that expire or belong to another facility, disaster mode,
//! the patient's access log and the tamper-evident chains.

use crate::app::{child, TestApp, DENTAL, MED};
use onshi_consent::access::{self, Basis, Refusal};
use onshi_consent::Kind;
use onshi_platform::testkit::http;
use onshi_wire::ids::InstitutionCode;
use onshi_wire::xml::{self, Element};

/// The path of the one result in a face-recognition answer.
const RESULT: &[&str] = &[
    "MessageBody",
    "ResultList",
    "ResultOfQualificationConfirmation",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn face_file_names_can_carry_the_simulated_time() {
    let config = onshi_platform::config::Config {
        face_name_clock: onshi_platform::config::FaceNameClock::Simulated,
        ..Default::default()
    };
    let s = TestApp::with(config, crate::app::NOW).await;
    let face = serde_json::json!({"method": "face", "match": true});
    let id = s.place_and_identify(MED, "D000000000000004", face).await;
    let (status, j) = s
        .consent(MED, &id, serde_json::json!({"medication": true}))
        .await;
    assert_eq!(status, 200, "{j}");
    let file = j["face_file"].as_str().unwrap();
    assert!(file.ends_with("_20261121100000.xml"), "{file}");
    assert!(s.folder(MED).join("face").join(file).exists());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_flow_writes_the_face_xml() {
    let s = TestApp::start().await;
    let (status, j) = s.place_card(MED, "D000000000000004").await;
    assert_eq!(status, 201, "{j}");
    assert_eq!(j["registered"], true);
    let id = j["session"].as_str().unwrap().to_string();
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/identify"),
            serde_json::json!({"method": "face", "match": true}),
        )
        .await;
    assert_eq!((status, j["next"].as_str()), (200, Some("consent")), "{j}");
    let (status, j) = s.post_json(&format!("/reader/v1/{MED}/sessions/{id}/consent"),
        serde_json::json!({"medication": true, "clinical": false, "surgery": false, "checkup": true,
                           "limit_certificate": true, "specific_disease": true, "prescription": "electronic",
                           "diagnosis_name": true, "allergy": true}),
    )
    .await;
    assert_eq!(status, 200, "{j}");
    let file = j["face_file"].as_str().unwrap().to_string();
    // The real file naming: OQSsiquc01res_face_ + code + 20 hex + _ + yyyyMMddHHmmss + .xml
    assert!(
        file.starts_with(&format!("OQSsiquc01res_face_{MED}")),
        "{file}"
    );
    // Stamped by the machine's clock in JST by default (clients take files of their own today), not the
    // simulated 2026-11-21 10:00.
    let stamp = &file[file.len() - 18..file.len() - 4];
    let wall = onshi_platform::clock::wall_jst().compact();
    assert_eq!(&stamp[..8], &wall[..8], "{file}");
    assert_ne!(stamp, "20261121100000");
    assert_eq!(
        file.len(),
        "OQSsiquc01res_face_".len() + 10 + 20 + 1 + 14 + 4
    );
    let path = s.folders.path().join(MED).join("face").join(&file);
    let bytes = std::fs::read(&path).expect("the face file is in the facility's face folder");
    let t = xml::parse(&bytes, &Default::default()).unwrap().root;
    // The header and body in the order of the real face answer (wire/data/samples/).
    let sample = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../wire/data/samples/myclinic-ts_face_2023-02-21.xml"),
    )
    .unwrap();
    let sample = xml::parse(&sample, &Default::default()).unwrap().root;
    let names = |e: &Element, part: &str| -> Vec<String> {
        child(e, &[part])
            .children
            .iter()
            .map(|c| c.name.clone())
            .collect()
    };
    assert_eq!(names(&t, "MessageHeader"), names(&sample, "MessageHeader"));
    assert_eq!(
        names(&t, "MessageBody")[..3],
        names(&sample, "MessageBody")[..],
        "ResultList, ProcessingResultStatus, QualificationValidity"
    );
    let h = child(&t, &["MessageHeader"]);
    assert_eq!(h.value("ReferenceClassification"), Some("1"));
    assert_eq!(h.value("SegmentOfResult"), Some("1"));
    assert_eq!(h.value("ArbitraryFileIdentifier").map(str::len), Some(16));
    let b = child(&t, &["MessageBody"]);
    assert_eq!(b.value("QualificationValidity"), Some("1"));
    assert_eq!(b.value("PrescriptionIssueSelect"), Some("1"));
    assert!(
        b.value("QualificationConfirmationKey").is_none(),
        "a registered card"
    );
    let r = child(&t, RESULT);
    assert_eq!(r.value("Name"), Some("佐藤　健一"));
    assert_eq!(r.value("PharmacistsInfoConsFlg"), Some("1"));
    assert_eq!(r.value("PharmacistsInfoConsTime"), Some("20261121100000"));
    assert_eq!(
        r.value("PharmacistsInfoAvailableTime"),
        Some("20261122100000"),
        "consent time + 24 h"
    );
    assert_eq!(r.value("DiagnosisInfoConsFlg"), Some("0"));
    assert_eq!(r.value("DiagnosisInfoAvailableTime"), None);
    assert_eq!(r.value("SpecificHealthCheckupsInfoConsFlg"), Some("1"));
    assert_eq!(
        r.value("LimitApplicationCertificateRelatedConsFlg"),
        Some("1")
    );
    assert!(r.child("LimitApplicationCertificateRelatedInfo").is_some());
    assert_eq!(
        r.value("SpecificDiseasesCertificateRelatedConsFlg"),
        Some("1")
    );
    assert!(r.child("SpecificDiseasesCertificateList").is_some());
    // The 2025 screens: each family with its flag, and time and limit when consented.
    assert_eq!(r.value("DiagnosisNameConsFlg"), Some("1"));
    assert_eq!(r.value("DiagnosisNameConsTime"), Some("20261121100000"));
    assert_eq!(
        r.value("DiagnosisNameAvailableTime"),
        Some("20261122100000")
    );
    assert_eq!(r.value("AllergyInfoConsFlg"), Some("1"));
    for family in [
        "InfectiousInfo",
        "ContraindicationInfo",
        "TestInfo",
        "PrescriptionInfo",
    ] {
        assert_eq!(r.value(&format!("{family}ConsFlg")), Some("0"), "{family}");
        assert_eq!(r.value(&format!("{family}ConsTime")), None, "{family}");
    }
    // Each consent given is in the consent log, the 2025 kinds under their own codes.
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM consent.consents ORDER BY kind")
        .fetch_all(&s.core.pool)
        .await
        .unwrap();
    for k in ["ALG", "DGN", "YZK", "TKK"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // Polling over HTTP returns the same face result.
    let faces = http::get(&s.addr, &format!("/reader/v1/{MED}/face?after=0"))
        .await
        .json();
    assert_eq!(faces[0]["file"], file.as_str());
    // Replaying the finished session is refused.
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/consent"),
            serde_json::json!({"medication": true}),
        )
        .await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (409, Some("session_used"))
    );
    // The consent log lists them, active.
    let log = http::get(&s.addr, "/consent/v1/persons/demo-sato-kenichi/consents")
        .await
        .json();
    let active: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["active"] == true)
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["YZK", "TKK", "LIM", "TSR", "DGN", "ALG"]);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_changer_s_card_shows_the_new_qualification_and_registration_happens_once() {
    let s = TestApp::start().await;
    // 伊藤: the card was registered with the old qualification; the face result shows the one valid today.
    let (_, j) = s.place_card(MED, "D000000000000002").await;
    let id = j["session"].as_str().unwrap().to_string();
    s.post_json(
        &format!("/reader/v1/{MED}/sessions/{id}/identify"),
        serde_json::json!({"method": "pin", "pin": "2345"}),
    )
    .await;
    let (_, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/consent"),
            serde_json::json!({}),
        )
        .await;
    let t = xml::parse(j["xml"].as_str().unwrap().as_bytes(), &Default::default())
        .unwrap()
        .root;
    let r = child(&t, RESULT);
    assert_eq!(r.value("InsurerNumber"), Some("06131270"));
    assert_eq!(r.value("PharmacistsInfoConsFlg"), Some("0"));
    // 鈴木: not registered. Declining 初回登録 ends the session with a face result carrying no qualification and
    // the QualificationConfirmationKey of unregistered cards.
    let face = serde_json::json!({"method": "face", "match": true});
    let id = s.place_and_identify(MED, "D000000000000003", face).await;
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/register"),
            serde_json::json!({"register": false}),
        )
        .await;
    assert_eq!(
        (status, j["registered"].as_bool()),
        (200, Some(false)),
        "{j}"
    );
    let t = xml::parse(j["xml"].as_str().unwrap().as_bytes(), &Default::default())
        .unwrap()
        .root;
    let body = child(&t, &["MessageBody"]);
    assert_eq!(body.value("QualificationValidity"), Some("4"));
    let key = body.value("QualificationConfirmationKey").unwrap();
    assert!(
        key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    assert!(body.child("ResultList").is_none());
    let face = s
        .folder(MED)
        .join("face")
        .join(j["face_file"].as_str().unwrap());
    assert!(face.exists());
    let (status, _) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/consent"),
            serde_json::json!({}),
        )
        .await;
    assert_ne!(status, 200, "the declined session is over");
    // Then 初回登録 at the reader, and consent.
    let (_, j) = s.place_card(MED, "D000000000000003").await;
    assert_eq!(j["registered"], false);
    let id = j["session"].as_str().unwrap().to_string();
    let (_, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/identify"),
            serde_json::json!({"method": "face", "match": true}),
        )
        .await;
    assert_eq!(j["next"], "register");
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/register"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{j}");
    let (status, _) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/consent"),
            serde_json::json!({"medication": true}),
        )
        .await;
    assert_eq!(status, 200);
    let card = http::get(&s.addr, "/consent/v1/cards/D000000000000003")
        .await
        .json();
    assert_eq!(card["registered"], true);
    assert!(
        card.get("pin_sha256").is_none(),
        "the PIN digest is never shown"
    );
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_side_failures_answer_like_the_reader() {
    let s = TestApp::start().await;
    // Lost (revoked) card.
    let (status, j) = s.place_card(MED, "D000000000000005").await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("card_revoked"))
    );
    // Unknown card.
    assert_eq!(
        s.place_card(MED, "FFFFFFFFFFFFFFFF").await.1["error"]["code"],
        "card_unreadable"
    );
    // A facility that is not operational.
    assert_eq!(
        s.place_card("1310115025", "D000000000000001").await.1["error"]["code"],
        "facility_inactive"
    );
    // Face no match, then PIN brute force: three wrong PINs lock the card.
    let (_, j) = s.place_card(MED, "D000000000000001").await;
    let id = j["session"].as_str().unwrap().to_string();
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/identify"),
            serde_json::json!({"method": "face", "match": false}),
        )
        .await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (401, Some("face_no_match"))
    );
    for left in [2, 1] {
        let (_, j) = s
            .post_json(
                &format!("/reader/v1/{MED}/sessions/{id}/identify"),
                serde_json::json!({"method": "pin", "pin": "0000"}),
            )
            .await;
        assert_eq!(j["error"]["code"], "pin_wrong");
        assert!(j["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("あと{left}回")));
    }
    let (status, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/identify"),
            serde_json::json!({"method": "pin", "pin": "0000"}),
        )
        .await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("card_locked"))
    );
    // Even the right PIN does nothing now, and the card cannot start a new session.
    let (_, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/identify"),
            serde_json::json!({"method": "pin", "pin": "1234"}),
        )
        .await;
    assert_eq!(j["error"]["code"], "session_used");
    assert_eq!(
        s.place_card(MED, "D000000000000001").await.1["error"]["code"],
        "card_locked"
    );
    // Expired card: its certificate ends 10 years after 2024-04-01.
    s.core
        .clock
        .advance(chrono::TimeDelta::days(365 * 10))
        .await
        .unwrap();
    assert_eq!(
        s.place_card(MED, "D000000000000004").await.1["error"]["code"],
        "card_expired"
    );
    // No face file was written for any of it.
    let faces = std::fs::read_dir(s.folders.path().join(MED).join("face"))
        .unwrap()
        .count();
    assert_eq!(faces, 0);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_expire_belong_to_one_facility_and_disasters_are_bounded() {
    let s = TestApp::start().await;
    let med = InstitutionCode::parse(MED).unwrap();
    let dental = InstitutionCode::parse(DENTAL).unwrap();
    let person = "demo-sato-kenichi";
    // No consent yet.
    let now = s.core.clock.now();
    assert_eq!(
        one(&s, person, &med, Kind::Medication, now).await,
        Err(Refusal::NoConsent)
    );
    s.consent_with_pin(MED, "D000000000000004", "4567").await;
    let now = s.core.clock.now();
    assert!(matches!(
        one(&s, person, &med, Kind::Medication, now).await,
        Ok(Basis::Consent(_))
    ));
    // Given to facility A, used by facility B.
    assert_eq!(
        one(&s, person, &dental, Kind::Medication, now).await,
        Err(Refusal::NoConsent)
    );
    // Another kind was not consented.
    assert_eq!(
        one(&s, person, &med, Kind::Clinical, now).await,
        Err(Refusal::NoConsent)
    );
    // 24 hours later it still holds to the second before, and not a second after.
    let t = now + chrono::TimeDelta::hours(24);
    assert!(one(
        &s,
        person,
        &med,
        Kind::Medication,
        t - chrono::TimeDelta::seconds(1)
    )
    .await
    .is_ok());
    assert_eq!(
        one(&s, person, &med, Kind::Medication, t).await,
        Err(Refusal::Expired)
    );
    // Revoked by the patient.
    s.consent_with_pin(MED, "D000000000000004", "4567").await;
    let (status, _) = s
        .post_json(
            &format!("/consent/v1/persons/{person}/consents/revoke"),
            serde_json::json!({"facility": MED, "kind": "YZK", "by": "patient"}),
        )
        .await;
    assert_eq!(status, 200);
    let now = s.core.clock.now();
    assert_eq!(
        one(&s, person, &med, Kind::Medication, now).await,
        Err(Refusal::Revoked)
    );
    // A disaster no longer opens data without the patient's consent (seed 003): the facility records the
    // patient's verbal consent, without the card, only inside a declared area and period.
    let app = &s;
    let verbal = |facility: &str, body: serde_json::Value| {
        let path = format!("/reader/v1/{facility}/disaster-consents");
        async move { app.post_json(&path, body).await }
    };
    let sato = serde_json::json!({"insurer": "06131270", "symbol": "55", "number": "1203", "branch": "00",
        "consents": {"medication": true, "checkup": true}});
    let (status, j) = verbal(DENTAL, sato.clone()).await;
    assert_eq!(
        (status, j["error"]["code"].as_str()),
        (403, Some("no_disaster")),
        "{j}"
    );
    let (status, _) = s.post_json("/admin/v1/disasters", serde_json::json!({"name": "大阪地震", "prefectures": [27], "from": "20261101", "to": "20261231"})).await;
    assert_eq!(status, 201);
    let (status, _) = verbal(DENTAL, sato.clone()).await;
    assert_eq!(status, 403, "a disaster in Osaka (27) does not cover Tokyo");
    // A declaration by district: Tokyo's 郡市区 01 (the dental clinic's), not the whole prefecture.
    let dental_district = dental.district();
    let (_, j) = s.post_json("/admin/v1/disasters", serde_json::json!({"name": "首都直下地震", "districts": [dental_district], "from": "20261120", "to": "20261121"})).await;
    let id = j["id"].as_i64().expect("declared");
    // Declared, but no consent yet: still refused.
    assert_eq!(
        one(&s, person, &dental, Kind::Checkup, now).await,
        Err(Refusal::NoConsent)
    );
    let (status, j) = verbal(DENTAL, sato.clone()).await;
    assert_eq!((status, j["declaration"].as_i64()), (201, Some(id)), "{j}");
    assert!(matches!(
        one(&s, person, &dental, Kind::Checkup, now).await,
        Ok(Basis::Disaster { declaration, .. }) if declaration == id
    ));
    // A facility of Tokyo outside the district cannot record one.
    let outside = InstitutionCode::from_body("131021234").unwrap();
    assert_ne!(outside.district(), dental_district);
    let declaration =
        access::record_disaster_consent(&s.core, person, &outside, &[Kind::Medication], now)
            .await
            .unwrap();
    assert_eq!(declaration, None);
    // After the period (the next day) the verbal consent opens nothing, though it has not expired yet.
    let after = now + chrono::TimeDelta::hours(15);
    assert_eq!(
        one(&s, person, &dental, Kind::Checkup, after).await,
        Err(Refusal::OutsideDisaster)
    );
    // An unknown person or no kind: refused.
    let mut nobody = sato.clone();
    nobody["number"] = "999999".into();
    assert_eq!(verbal(DENTAL, nobody).await.0, 404);
    let mut no_kind = sato.clone();
    no_kind["consents"] = serde_json::json!({});
    assert_eq!(verbal(DENTAL, no_kind).await.0, 400);
    // Bad declarations are refused.
    for bad in [
        serde_json::json!({"name": "x", "prefectures": [48], "from": "20261120", "to": "20261125"}),
        serde_json::json!({"name": "x", "districts": ["4801"], "from": "20261120", "to": "20261125"}),
        serde_json::json!({"name": "x", "districts": ["131"], "from": "20261120", "to": "20261125"}),
        serde_json::json!({"name": "x", "from": "20261120", "to": "20261125"}),
    ] {
        let (status, _) = s.post_json("/admin/v1/disasters", bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
    }
    // The patient sees who looked, and on what basis.
    let log = http::get(&s.addr, &format!("/consent/v1/persons/{person}/access-log"))
        .await
        .json();
    let allowed: Vec<&serde_json::Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["basis"].as_str().unwrap().starts_with("refused:"))
        .collect();
    assert_eq!(allowed.len(), 3);
    assert!(allowed[2]["basis"]
        .as_str()
        .unwrap()
        .starts_with("disaster:"));
    assert_eq!(allowed[2]["facility"], DENTAL);
    // Every refused attempt is there too, with its reason.
    let refused = log.as_array().unwrap().len() - allowed.len();
    assert!(refused >= 3, "{log}");
    // The chains verify, and a tampered row is detected.
    let v = http::get(&s.addr, "/consent/v1/verify").await.json();
    assert_eq!(v["ok"], true, "{v}");
    sqlx::query("UPDATE consent.consents SET facility = '1330130129' WHERE seq = (SELECT min(seq) FROM consent.consents)")
        .execute(&s.core.pool)
        .await
        .unwrap();
    let v = http::get(&s.addr, "/consent/v1/verify").await.json();
    assert_eq!(v["ok"], false);
    assert!(v["broken"]
        .as_str()
        .unwrap()
        .starts_with("consent.consents"));
    s.host.stop().await;
}

/// One kind's decision, as the data services ask it.
async fn one(
    s: &TestApp,
    person: &str,
    facility: &InstitutionCode,
    kind: Kind,
    at: chrono::NaiveDateTime,
) -> Result<Basis, Refusal> {
    access::view(&s.core, person, facility, &[kind], &[], at)
        .await
        .unwrap()
        .map(|g| g.0[0].1.clone())
        .map_err(|r| r.why)
}

fn registration(items: &[(&str, &str, &str, &str, &str)]) -> String {
    let infos: String = items
        .iter()
        .map(|(r, i, s, n, b)| {
            format!(
                "<ReferenceNumberRegistrationInfo><ReferenceNumber>{r}</ReferenceNumber><InsurerNumber>{i}</InsurerNumber>\
                 <InsuredCardSymbol>{s}</InsuredCardSymbol><InsuredIdentificationNumber>{n}</InsuredIdentificationNumber>\
                 <InsuredBranchNumber>{b}</InsuredBranchNumber></ReferenceNumberRegistrationInfo>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?><XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{MED}</MedicalInstitutionCode><ArbitraryFileIdentifier>ref</ArbitraryFileIdentifier>\
         </MessageHeader><MessageBody>{infos}</MessageBody></XmlMsg>"
    )
}

async fn file(s: &TestApp, name: &str, body: &str) -> Element {
    let bytes = encoding_rs::SHIFT_JIS.encode(body).0.into_owned();
    let r = http::send(&s.addr, "POST", &format!("/oqs/v1/req/{name}"), &[], &bytes).await;
    xml::parse(&r.body, &Default::default()).unwrap().root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_numbers_are_registered_and_echoed_in_face_results() {
    let s = TestApp::start().await;
    let t = file(
        &s,
        "OQSsiimm01req_1.xml",
        &registration(&[("P-0042", "06131270", "55", "1203", "00")]),
    )
    .await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("SegmentOfResult"),
        Some("1")
    );
    assert_eq!(
        child(&t, &["MessageBody"]).value("ProcessingResultStatus"),
        Some("1")
    );
    assert_eq!(
        child(&t, &["MessageBody", "ReferenceNumberRegistrationInfo"]).value("ReferenceNumber"),
        Some("P-0042")
    );
    // The face result of that person at that facility carries it.
    let (_, j) = s.place_card(MED, "D000000000000004").await;
    let id = j["session"].as_str().unwrap().to_string();
    s.post_json(
        &format!("/reader/v1/{MED}/sessions/{id}/identify"),
        serde_json::json!({"method": "face", "match": true}),
    )
    .await;
    let (_, j) = s
        .post_json(
            &format!("/reader/v1/{MED}/sessions/{id}/consent"),
            serde_json::json!({}),
        )
        .await;
    let face = xml::parse(j["xml"].as_str().unwrap().as_bytes(), &Default::default())
        .unwrap()
        .root;
    assert_eq!(
        child(
            &face,
            &[
                "MessageBody",
                "ResultList",
                "ResultOfQualificationConfirmation"
            ]
        )
        .value("ReferenceNumber"),
        Some("P-0042")
    );
    // Bulk, two steps: a receipt, then the results (one unknown qualification refused per person).
    let t = file(
        &s,
        "OQSmuimm01req_2.xml",
        &registration(&[
            ("P-1", "01130012", "12345678", "1", "00"),
            ("P-2", "01130012", "12345678", "1", "09"),
        ]),
    )
    .await;
    let number = child(&t, &["MessageBody"])
        .value("ReceptionNumber")
        .unwrap()
        .to_string();
    assert_eq!(number.len(), 20);
    // Step 2: 処理中 (SegmentOfResult 2) until the job is done.
    let poll = format!("<XmlMsg><MessageHeader><MedicalInstitutionCode>{MED}</MedicalInstitutionCode></MessageHeader>\
                  <MessageBody><ReceptionNumber>{number}</ReceptionNumber></MessageBody></XmlMsg>");
    let mut result = file(&s, "OQSmuimm02req_2.xml", &poll).await;
    for _ in 0..100 {
        if child(&result, &["MessageHeader"]).value("SegmentOfResult") != Some("2") {
            break;
        }
        assert!(
            result.child("MessageBody").is_none(),
            "no results while processing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        result = file(&s, "OQSmuimm02req_2.xml", &poll).await;
    }
    assert_eq!(
        child(&result, &["MessageHeader"]).value("ReceptionNumber"),
        Some(number.as_str())
    );
    let units: Vec<&Element> = child(&result, &["MessageBody"])
        .children_named("BulkRegistrationUnit")
        .collect();
    assert_eq!(units.len(), 2);
    assert_eq!(units[0].value("ProcessingResultStatus"), Some("1"));
    assert_eq!(units[1].value("ProcessingResultStatus"), Some("2"));
    assert_eq!(units[1].value("ProcessingResultCode"), Some("EP0008"));
    // An unknown reception number.
    let t = file(
        &s,
        "OQSmuimm02req_3.xml",
        &format!("<XmlMsg><MessageHeader><MedicalInstitutionCode>{MED}</MedicalInstitutionCode></MessageHeader>\
                  <MessageBody><ReceptionNumber>0</ReceptionNumber></MessageBody></XmlMsg>"),
    )
    .await;
    assert_eq!(
        child(&t, &["MessageHeader"]).value("ErrorCode"),
        Some("EC0016")
    );
    s.host.stop().await;
}
