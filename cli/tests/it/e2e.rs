//! End-to-end tests: the real services on a random port, a fresh PostgreSQL database each, real request files
//! over HTTP, through the folder interface and through the Web API. Responses are parsed by element name and
//! checked field by field against the registered data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::{tree, wait_for, TestApp, MED};
use onshi_platform::http::Core;
use onshi_platform::testkit::http;
use onshi_wire::codes::CodeTable;
use onshi_wire::ids::Date;
use onshi_wire::record::{is_preschool, QualificationRecord};
use onshi_wire::xml::{self, Element, Limits};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seed/demo")
}

fn request_file(slug: &str) -> Vec<u8> {
    std::fs::read(demo_dir().join(format!("requests/OQSsiquc01req_{slug}.xml"))).unwrap()
}

fn header(t: &Element) -> &Element {
    t.child("MessageHeader").expect("MessageHeader")
}

fn body(t: &Element) -> &Element {
    t.child("MessageBody").expect("MessageBody")
}

fn results(t: &Element) -> Vec<&Element> {
    body(t)
        .child("ResultList")
        .map(|l| {
            l.children_named("ResultOfQualificationConfirmation")
                .collect()
        })
        .unwrap_or_default()
}

/// The demo records by person: the state after each step file.
fn demo_records() -> (
    HashMap<String, QualificationRecord>,
    HashMap<String, QualificationRecord>,
) {
    let mut first = HashMap::new();
    let mut latest = HashMap::new();
    for (i, (_, text)) in onshi_seed::demo::STEPS.iter().enumerate() {
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (r, _) =
                onshi_insurer::parse_registration(serde_json::from_str(line).unwrap()).unwrap();
            let key = r.individual_number().key();
            if i == 0 {
                first.insert(key.clone(), r.clone());
            }
            latest.insert(key, r);
        }
    }
    (first, latest)
}

fn opt_eq(el: &Element, name: &str, expected: Option<String>) {
    assert_eq!(
        el.value(name).map(str::to_string),
        expected,
        "element {name}"
    );
}

/// Every field of one ResultOfQualificationConfirmation against the registered record.
fn check_result(el: &Element, r: &QualificationRecord, on: Date, consent: bool) {
    let d = |x: Option<Date>| x.map(|d| d.compact());
    opt_eq(
        el,
        "InsuredCardClassification",
        Some(r.card_classification.code().into()),
    );
    opt_eq(el, "InsurerNumber", Some(r.insurer_number.xml_form()));
    opt_eq(
        el,
        "InsuredCardSymbol",
        (!r.symbol.is_empty()).then(|| r.symbol.as_str().into()),
    );
    opt_eq(
        el,
        "InsuredIdentificationNumber",
        Some(r.number.as_str().into()),
    );
    opt_eq(el, "InsuredBranchNumber", Some(r.branch.as_string()));
    opt_eq(
        el,
        "PersonalFamilyClassification",
        r.personal_family.map(|p| p.code().into()),
    );
    opt_eq(el, "InsuredName", r.insured_name.clone());
    opt_eq(el, "Name", Some(r.name.clone()));
    opt_eq(el, "NameOfOther", r.name_other.clone());
    opt_eq(el, "NameKana", r.name_kana.clone());
    opt_eq(el, "NameOfOtherKana", r.name_other_kana.clone());
    opt_eq(el, "Sex1", Some(r.sex.code().into()));
    opt_eq(el, "Birthdate", Some(r.birth_date.compact()));
    opt_eq(el, "Address", r.address.clone());
    opt_eq(
        el,
        "PostNumber",
        r.postal_code.as_ref().map(|p| p.as_str().into()),
    );
    opt_eq(
        el,
        "QualificationDate",
        Some(r.qualification_date.compact()),
    );
    opt_eq(el, "DisqualificationDate", d(r.disqualification_date));
    opt_eq(el, "ReasonOfLoss", r.loss_reason.map(|x| x.code().into()));
    opt_eq(el, "InsuredCertificateIssuanceDate", d(r.card_issued));
    opt_eq(el, "InsuredCardValidDate", d(r.card_valid_from));
    opt_eq(el, "InsuredCardExpirationDate", d(r.card_expires));
    opt_eq(
        el,
        "InsuredPartialContributionRatio",
        r.partial_contribution_percent.map(|p| format!("{p:03}")),
    );
    opt_eq(
        el,
        "PreschoolClassification",
        is_preschool(r.birth_date, on).then(|| "1".into()),
    );
    opt_eq(el, "InsurerName", Some(r.insurer_name.clone()));
    match &r.elderly_recipient {
        Some(e) if e.valid_from <= on && on <= e.valid_to => {
            let info = el
                .child("ElderlyRecipientCertificateInfo")
                .expect("elderly info");
            opt_eq(
                info,
                "ElderlyRecipientCertificateDate",
                Some(e.issued.compact()),
            );
            opt_eq(
                info,
                "ElderlyRecipientValidStartDate",
                Some(e.valid_from.compact()),
            );
            opt_eq(
                info,
                "ElderlyRecipientValidEndDate",
                Some(e.valid_to.compact()),
            );
            opt_eq(
                info,
                "ElderlyRecipientContributionRatio",
                Some(format!("{:03}", e.ratio_percent)),
            );
        }
        _ => assert!(el.child("ElderlyRecipientCertificateInfo").is_none()),
    }
    opt_eq(
        el,
        "LimitApplicationCertificateRelatedConsFlg",
        Some(if consent { "1" } else { "0" }.into()),
    );
    let limit = r
        .limit_certificates
        .iter()
        .find(|l| l.valid_from <= on && on <= l.valid_to);
    match (consent, limit) {
        (true, Some(l)) => {
            let info = el
                .child("LimitApplicationCertificateRelatedInfo")
                .expect("limit info");
            opt_eq(
                info,
                "LimitApplicationCertificateClassification",
                Some(l.classification.code().into()),
            );
            opt_eq(
                info,
                "LimitApplicationCertificateClassificationFlag",
                Some(l.flag.code().into()),
            );
            opt_eq(
                info,
                "LimitApplicationCertificateDate",
                Some(l.issued.compact()),
            );
            opt_eq(
                info,
                "LimitApplicationCertificateValidStartDate",
                Some(l.valid_from.compact()),
            );
            opt_eq(
                info,
                "LimitApplicationCertificateValidEndDate",
                Some(l.valid_to.compact()),
            );
        }
        _ => assert!(
            el.child("LimitApplicationCertificateRelatedInfo").is_none(),
            "限度額 info only with consent"
        ),
    }
    let diseases: Vec<_> = r
        .specific_diseases
        .iter()
        .filter(|s| consent && s.valid_from <= on && on <= s.valid_to)
        .collect();
    let listed: Vec<&Element> = el
        .child("SpecificDiseasesCertificateList")
        .map(|l| {
            l.children_named("SpecificDiseasesCertificateInfo")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(listed.len(), diseases.len(), "特定疾病 entries");
    for (info, s) in listed.iter().zip(diseases) {
        opt_eq(
            info,
            "SpecificDiseasesDiseaseCategory",
            Some(s.category.code().into()),
        );
        opt_eq(
            info,
            "SpecificDiseasesSelfPay",
            Some(s.self_pay_yen.to_string()),
        );
        opt_eq(
            info,
            "SpecificDiseasesValidEndDate",
            Some(s.valid_to.compact()),
        );
    }
}

/// (request file, expected QualificationValidity, the qualification ids reported, which step's record applies)
const PERSONAS: &[(&str, &str, &[&str], usize)] = &[
    ("yamada_taro", "1", &["01130012:12345678:1:00"], 1),
    ("yamada_hanako", "1", &["01130012:12345678:1:01"], 1),
    ("yamada_sora", "1", &["01130012:12345678:1:02"], 1),
    ("suzuki_haru", "1", &["39130018::00012345:00"], 1),
    ("takahashi_tadashi", "1", &["131201:練馬:7001:00"], 1),
    ("sato_kenichi", "1", &["06131270:55:1203:00"], 1),
    ("sato_kenichi_noconsent", "1", &["06131270:55:1203:00"], 1),
    ("ito_old", "3", &["01130012:23456789:15:00"], 1),
    ("ito_old_past", "1", &["01130012:23456789:15:00"], 0),
    ("ito_new", "1", &["06131270:77:301:00"], 1),
    ("watanabe_akira", "2", &["01130012:34567890:8:00"], 1),
    ("kobayashi_yui", "1", &["06131270:77:502:00"], 1),
    ("nakamura_misaki", "1", &["131151:杉並:12001:00"], 1),
    (
        "kato_twins",
        "5",
        &["06131270:88:4410:01", "06131270:88:4410:02"],
        1,
    ),
    ("kimura_ken", "1", &["31130016:310:88:00"], 1),
    ("not_found", "4", &[], 1),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_persona_answers_with_its_registered_data() {
    let s = TestApp::start().await;
    let (first, latest) = demo_records();
    for (slug, validity, ids, step) in PERSONAS {
        let req = request_file(slug);
        let req_tree = tree(&req);
        let on = Date::parse(
            header(&req_tree)
                .value("QualificationConfirmationDate")
                .unwrap(),
        )
        .unwrap();
        let consent = body(&req_tree)
            .child("QualificationConfirmSearchInfo")
            .unwrap()
            .value("LimitApplicationCertificateRelatedConsFlg")
            == Some("1");
        let reply = s
            .post_file(&format!("OQSsiquc01req_{slug}.xml"), &req)
            .await;
        assert_eq!(reply.status, 200, "{slug}");
        assert_eq!(
            reply.header("content-disposition"),
            Some(format!("attachment; filename=\"OQSsiquc01res_{slug}.xml\"").as_str())
        );
        let t = tree(&reply.body);
        let h = header(&t);
        assert_eq!(h.value("SegmentOfResult"), Some("1"), "{slug}");
        assert_eq!(h.value("ReferenceClassification"), Some("2"));
        assert_eq!(h.value("CharacterCodeIdentifier"), Some("0"));
        assert_eq!(h.value("ProcessExecutionTime"), Some("20261121100000"));
        assert_eq!(
            h.value("ArbitraryFileIdentifier"),
            Some(format!("demo-{slug}").as_str())
        );
        assert_eq!(h.value("MedicalInstitutionCode"), Some(MED));
        assert_eq!(h.value("ErrorCode"), None);
        let b = body(&t);
        assert_eq!(b.value("ProcessingResultStatus"), Some("1"), "{slug}");
        assert_eq!(b.value("QualificationValidity"), Some(*validity), "{slug}");
        // The search keys are echoed exactly as sent.
        let sent = body(&req_tree)
            .child("QualificationConfirmSearchInfo")
            .unwrap();
        let echo = b.child("QualificationConfirmSearchInfo").unwrap();
        for name in ["InsurerNumber", "InsuredIdentificationNumber", "Birthdate"] {
            assert_eq!(echo.value(name), sent.value(name), "{slug} echo {name}");
        }
        let res = results(&t);
        assert_eq!(res.len(), ids.len(), "{slug}: results");
        for (el, id) in res.iter().zip(ids.iter()) {
            let r = if *step == 0 {
                &first[*id]
            } else {
                &latest[*id]
            };
            check_result(el, r, on, consent);
        }
        let code = b.value("ProcessingResultCode");
        if *slug == "kimura_ken" {
            assert_eq!(code, Some("IN0001"));
        } else {
            assert_eq!(code, None, "{slug}");
        }
    }
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_api_speaks_the_real_json_shapes_and_tokens_refresh() {
    const AUTH: &str = "/oqs-api-pro/MSA12020/ILI12020SV01/auth";
    const SEARCH: &str = "/oqs-api-pro/MSA01030/ILI01030SV01/search";
    let s = TestApp::start().await;
    // Any credential JSON is taken: fields of the real credential file are unknown.
    let login = http::post_json(
        &s.addr,
        AUTH,
        &serde_json::json!({"MedicalInstitutionCode": MED, "clientId": "x", "certPassword": "y", "version": 2}),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.text());
    let j = login.json();
    assert_eq!(
        (j["status"].as_str(), j["msg"].as_str()),
        (Some("0"), Some("")),
        "{j}"
    );
    let result = &j["result"];
    for field in ["accessToken", "refreshToken", "idToken", "linkSysCharCd"] {
        assert!(result[field].is_string(), "{field}: {j}");
    }
    assert_eq!(result["linkSysCharCd"], "0", "UTF-8");
    let token = result["idToken"].as_str().unwrap().to_string();
    let search = |token: String| {
        let addr = s.addr.clone();
        async move {
            let req = serde_json::json!({"XmlMsg": {
                "MessageHeader": {"QualificationConfirmationDate": "20261120", "MedicalInstitutionCode": MED},
                "MessageBody": {"QualificationConfirmSearchInfo": {"InsurerNumber": "06131270",
                    "InsuredCardSymbol": "55", "InsuredIdentificationNumber": "1203", "InsuredBranchNumber": "00",
                    "Birthdate": "19681102", "LimitApplicationCertificateRelatedConsFlg": "1"}}}});
            http::send(
                &addr,
                "POST",
                SEARCH,
                &[("Authorization", &token)],
                req.to_string().as_bytes(),
            )
            .await
        }
    };
    // The result list as the real JSON has it: an array of {"ResultOfQualificationConfirmation": {…}}.
    let r = search(token.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = &r.json()["XmlMsg"]["MessageBody"];
    let list = body["ResultList"]
        .as_array()
        .expect("ResultList is an array");
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["ResultOfQualificationConfirmation"]["InsuredIdentificationNumber"],
        "1203"
    );
    assert_eq!(body["QualificationValidity"], "1");
    // Malformed credentials: the documented 400; a credential for no facility: 401 in the envelope.
    for bad in [&b"{"[..], b"[]", b"\"x\""] {
        let r = http::send(
            &s.addr,
            "POST",
            AUTH,
            &[("Content-Type", "application/json")],
            bad,
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let none = http::post_json(&s.addr, AUTH, &serde_json::json!({"clientId": "x"})).await;
    assert_eq!(
        (none.status, none.json()["status"].as_str()),
        (401, Some("1"))
    );
    // The idToken expires after 60 simulated minutes; the refresh token (24 h) gets new tokens.
    let refresh = result["refreshToken"].as_str().unwrap().to_string();
    let advance = |by: &'static str| {
        let addr = s.addr.clone();
        async move {
            let r = http::post_json(
                &addr,
                "/admin/v1/clock",
                &serde_json::json!({"advance": by}),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    };
    advance("61m").await;
    assert_eq!(search(token).await.status, 401, "expired idToken");
    let renewed =
        http::post_json(&s.addr, AUTH, &serde_json::json!({"refreshToken": refresh})).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    let fresh = renewed.json()["result"]["idToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(search(fresh).await.status, 200);
    advance("1d").await;
    let stale = http::post_json(&s.addr, AUTH, &serde_json::json!({"refreshToken": refresh})).await;
    assert_eq!(stale.status, 401, "expired refresh token");
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_padded_kokuho_number_reads_as_its_six_digits() {
    let s = TestApp::start().await;
    let spaces = String::from_utf8(request_file("nakamura_misaki")).unwrap();
    let zeros = spaces.replace("<InsurerNumber>  131151<", "<InsurerNumber>00131151<");
    assert_ne!(spaces, zeros);
    for (label, req) in [("spaces", &spaces), ("zeros", &zeros)] {
        let reply = s.post_file("OQSsiquc01req_pad.xml", req.as_bytes()).await;
        let t = tree(&reply.body);
        assert_eq!(
            body(&t).value("QualificationValidity"),
            Some("1"),
            "{label}"
        );
    }
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_http_and_web_api_answer_identically() {
    let s = TestApp::start().await;
    let req = request_file("sato_kenichi");
    let http_answer = s.post_file("OQSsiquc01req_x1.xml", &req).await.body;

    // Folder: written in place (a vendor may do that), picked up, answered under the paired name, removed.
    let fac = s.folders.path().join(MED);
    assert!(fac.join("face").is_dir(), "facility folders exist");
    std::fs::write(fac.join("req/OQSsiquc01req_x1.xml"), &req).unwrap();
    let folder_answer = wait_for(&fac.join("res/OQSsiquc01res_x1.xml")).await;
    assert_eq!(
        folder_answer, http_answer,
        "folder and HTTP answers are identical"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !fac.join("req/OQSsiquc01req_x1.xml").exists(),
        "request removed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(fac.join("res"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );

    // Web API: login, then the same request as JSON; the JSON tree equals the XML tree.
    let login = http::post_json(
        &s.addr,
        "/oqs-api-pro/MSA12020/ILI12020SV01/auth",
        &serde_json::json!({"MedicalInstitutionCode": MED, "ClientSecret": onshi_seed::demo::demo_secret(MED)}),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["result"]["idToken"]
        .as_str()
        .unwrap()
        .to_string();
    let json_req = serde_json::json!({"XmlMsg": {
        "MessageHeader": {"QualificationConfirmationDate": "20261120", "MedicalInstitutionCode": MED,
                          "ArbitraryFileIdentifier": "demo-sato_kenichi"},
        "MessageBody": {"QualificationConfirmSearchInfo": {"InsurerNumber": "06131270", "InsuredCardSymbol": "55",
            "InsuredIdentificationNumber": "1203", "InsuredBranchNumber": "00", "Birthdate": "19681102",
            "LimitApplicationCertificateRelatedConsFlg": "1"}}}});
    let reply = http::send(
        &s.addr,
        "POST",
        "/oqs-api-pro/MSA01030/ILI01030SV01/search",
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
        json_req.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let from_json = xml::from_json(&reply.json()).unwrap();
    assert_eq!(normalize(&from_json), normalize(&tree(&http_answer)));

    // No token, a forged token, a wrong secret.
    let no = http::post_json(
        &s.addr,
        "/oqs-api-pro/MSA01030/ILI01030SV01/search",
        &json_req,
    )
    .await;
    assert_eq!(no.status, 401);
    assert_eq!(no.json()["XmlMsg"]["MessageHeader"]["SegmentOfResult"], "9");
    // The last signature digit changed (to another digit: a test that could "forge" the same token is flaky).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let bad = http::send(
        &s.addr,
        "POST",
        "/oqs-api-pro/MSA01030/ILI01030SV01/search",
        &[("Authorization", &forged)],
        json_req.to_string().as_bytes(),
    )
    .await;
    assert_eq!(bad.status, 401);
    let wrong = http::post_json(
        &s.addr,
        "/oqs-api-pro/MSA12020/ILI12020SV01/auth",
        &serde_json::json!({"MedicalInstitutionCode": MED, "ClientSecret": "nope"}),
    )
    .await;
    assert_eq!(wrong.status, 401);
    // A token of facility A cannot query as facility B.
    let other = json_req.to_string().replace(MED, "1330130129");
    let mismatch = http::send(
        &s.addr,
        "POST",
        "/oqs-api-pro/MSA01030/ILI01030SV01/search",
        &[("Authorization", &token)],
        other.as_bytes(),
    )
    .await;
    assert_eq!(
        mismatch.json()["XmlMsg"]["MessageHeader"]["ErrorCode"],
        "EC0012"
    );
    s.host.stop().await;
}

/// Children sorted by name, so trees compare regardless of element order.
fn normalize(e: &Element) -> Element {
    let mut children: Vec<Element> = e.children.iter().map(normalize).collect();
    children.sort_by(|a, b| a.name.cmp(&b.name).then(a.text.cmp(&b.text)));
    Element {
        name: e.name.clone(),
        text: if e.children.is_empty() {
            e.text.clone()
        } else {
            String::new()
        },
        children,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_jis_in_and_the_facility_encoding_out() {
    let s = TestApp::start().await;
    let req = request_file("pharmacy_sjis");
    assert!(
        std::str::from_utf8(&req).is_err(),
        "the request file really is Shift_JIS"
    );
    let reply = s.post_file("OQSsiquc01req_sjis.xml", &req).await;
    assert!(reply
        .body
        .starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""));
    let doc = xml::parse(&reply.body, &Limits::default()).unwrap();
    assert_eq!(doc.encoding, xml::Encoding::ShiftJis);
    let h = header(&doc.root);
    assert_eq!(h.value("CharacterCodeIdentifier"), Some("1"));
    let r = results(&doc.root);
    assert_eq!(r[0].value("Name"), Some("高橋　正"));
    assert_eq!(r[0].value("InsuredCardSymbol"), Some("練馬"));
    assert_eq!(r[0].value("InsurerNumber"), Some("  131201"));
    s.host.stop().await;
}

async fn wait_feed(s: &TestApp) {
    s.host.eligibility.as_ref().unwrap().sync().await.unwrap();
}

fn query(date: &str, insurer: &str, symbol: &str, number: &str, birth: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
<QualificationConfirmationDate>{date}</QualificationConfirmationDate><MedicalInstitutionCode>{MED}</MedicalInstitutionCode>
</MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>{insurer}</InsurerNumber>
<InsuredCardSymbol>{symbol}</InsuredCardSymbol><InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>
<Birthdate>{birth}</Birthdate><LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_dated_queries_follow_the_version_history() {
    let s = TestApp::start().await;
    let person = serde_json::json!({
        "person_id": "e2e-1", "insurer_number": "01130012", "insurer_name": "全国健康保険協会東京支部",
        "card_classification": "01", "symbol": "4444", "number": "9", "branch": "00", "personal_family": "1",
        "name": "試験　一郎", "name_kana": "ｼｹﾝ ｲﾁﾛｳ", "sex": "1", "birth_date": "19900101",
        "address": "東京都千代田区一番町", "qualification_date": "20240401"
    });
    let r = http::post_json(&s.addr, "/insurer/v1/qualifications", &person).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let enc_id = id.replace(':', "%3A");
    // Registering the same qualification again is a conflict.
    assert_eq!(
        http::post_json(&s.addr, "/insurer/v1/qualifications", &person)
            .await
            .status,
        409
    );
    // A move effective 2026-06-01, recorded today.
    let patch = serde_json::json!({"address": "東京都港区芝", "effective_date": "20260601"});
    let r = http::send(
        &s.addr,
        "PATCH",
        &format!("/insurer/v1/qualifications/{enc_id}"),
        &[("Content-Type", "application/json")],
        patch.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], "changed");
    // The job change: lost on 2026-10-01, new insurer from the same day.
    let r = http::post_json(
        &s.addr,
        &format!("/insurer/v1/qualifications/{enc_id}/end"),
        &serde_json::json!({"disqualification_date": "20261001", "loss_reason": "03"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut new = person.clone();
    new["insurer_number"] = "06131270".into();
    new["insurer_name"] = "オンシ商事健康保険組合".into();
    new["symbol"] = "9".into();
    new["qualification_date"] = "20261001".into();
    new["address"] = "東京都港区芝".into();
    assert_eq!(
        http::post_json(&s.addr, "/insurer/v1/qualifications", &new)
            .await
            .status,
        201
    );
    wait_feed(&s).await;

    let ask = |date: &'static str| {
        let s = &s;
        async move {
            let t = tree(
                &s.post_file(
                    "OQSsiquc01req_h.xml",
                    &query(date, "01130012", "4444", "9", "19900101"),
                )
                .await
                .body,
            );
            let b = body(&t);
            let res = results(&t);
            (
                b.value("QualificationValidity").map(str::to_string),
                res.first()
                    .and_then(|r| r.value("Address"))
                    .map(str::to_string),
                res.first()
                    .and_then(|r| r.value("DisqualificationDate"))
                    .map(str::to_string),
            )
        }
    };
    assert_eq!(
        ask("20240331").await.0.as_deref(),
        Some("2"),
        "before the qualification"
    );
    let (v, addr, disq) = ask("20250101").await;
    assert_eq!(
        (v.as_deref(), addr.as_deref(), disq),
        (Some("1"), Some("東京都千代田区一番町"), None)
    );
    let (v, addr, _) = ask("20260601").await;
    assert_eq!(
        (v.as_deref(), addr.as_deref()),
        (Some("1"), Some("東京都港区芝"))
    );
    let (v, _, disq) = ask("20260930").await;
    assert_eq!((v.as_deref(), disq), (Some("1"), None));
    let (v, _, disq) = ask("20261001").await;
    assert_eq!(
        (v.as_deref(), disq.as_deref()),
        (Some("3"), Some("20261001"))
    );

    // The insurer API answers "as of" too, and lists every version.
    let r = http::get(
        &s.addr,
        &format!("/insurer/v1/qualifications/{enc_id}?as_of=20250101"),
    )
    .await;
    assert_eq!(r.json()["version"], 1);
    let r = http::get(
        &s.addr,
        &format!("/insurer/v1/qualifications/{enc_id}/versions"),
    )
    .await;
    let ops: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["op"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ops, ["register", "change", "end"]);
    // Identity cannot change.
    let r = http::send(
        &s.addr,
        "PATCH",
        &format!("/insurer/v1/qualifications/{enc_id}"),
        &[],
        br#"{"person_id":"someone-else"}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    s.host.stop().await;
}

async fn version_count(core: &Core) -> (i64, i64) {
    let (a,): (i64,) = sqlx::query_as("SELECT count(*) FROM insurer.qualification_versions")
        .fetch_one(&core.pool)
        .await
        .unwrap();
    let (b,): (i64,) = sqlx::query_as("SELECT count(*) FROM portal.facility_versions")
        .fetch_one(&core.pool)
        .await
        .unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_spec_error_shape_and_writes_nothing() {
    let s = TestApp::start().await;
    let before = version_count(&s.core).await;
    let good = String::from_utf8(request_file("yamada_taro")).unwrap();
    let sjis_bad = {
        let mut b = good.replace("UTF-8", "Shift_JIS").into_bytes();
        let at = b.len() - 30;
        b[at] = 0x81; // a lead byte followed by '<'... is not a valid pair
        b[at + 1] = 0x20;
        b
    };
    // (label, body, expected segment, expected header code or person code)
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "malformed",
            b"<XmlMsg><MessageHeader></XmlMsg>".to_vec(),
            "9",
            "EC0001",
        ),
        (
            "wrong root",
            good.replace("XmlMsg", "Message").into_bytes(),
            "9",
            "EC0004",
        ),
        (
            "missing header element",
            good.replace(
                "<MedicalInstitutionCode>1310112345</MedicalInstitutionCode>",
                "",
            )
            .into_bytes(),
            "9",
            "EC0005",
        ),
        (
            "missing body",
            good.split("<MessageBody>")
                .next()
                .unwrap()
                .to_string()
                .replace("</MessageHeader>", "</MessageHeader></XmlMsg>")
                .into_bytes(),
            "9",
            "EC0015",
        ),
        (
            "bad date",
            good.replace("20261120", "20261199").into_bytes(),
            "9",
            "EC0006",
        ),
        (
            "future date",
            good.replace("20261120", "20261122").into_bytes(),
            "9",
            "EC0011",
        ),
        (
            "institution check digit",
            good.replace(MED, "1310112346").into_bytes(),
            "9",
            "EC0006",
        ),
        (
            "unknown institution",
            good.replace(
                MED,
                &onshi_wire::ids::InstitutionCode::from_body("131019999")
                    .unwrap()
                    .to_string(),
            )
            .into_bytes(),
            "9",
            "EC0007",
        ),
        (
            "inactive institution",
            request_file("inactive_facility"),
            "9",
            "EC0008",
        ),
        ("invalid Shift_JIS", sjis_bad, "9", "EC0002"),
        (
            "doctype",
            good.replacen(
                "<XmlMsg>",
                "<!DOCTYPE XmlMsg [<!ENTITY x \"xxxxxxxx\">]><XmlMsg>",
                1,
            )
            .into_bytes(),
            "9",
            "EC0003",
        ),
        (
            "entity reference",
            good.replace("demo-yamada_taro", "&x;").into_bytes(),
            "9",
            "EC0001",
        ),
        (
            "insurer check digit",
            good.replace("01130012", "01130013").into_bytes(),
            "1",
            "EP0002",
        ),
        (
            "missing person element",
            good.replace("<Birthdate>19800515</Birthdate>", "")
                .into_bytes(),
            "1",
            "EP0001",
        ),
        (
            "bad birthdate",
            good.replace("19800515", "19800532").into_bytes(),
            "1",
            "EP0003",
        ),
        (
            "bad branch",
            good.replace(
                "<InsuredBranchNumber>00</InsuredBranchNumber>",
                "<InsuredBranchNumber>0A</InsuredBranchNumber>",
            )
            .into_bytes(),
            "1",
            "EP0004",
        ),
        (
            "bad consent flag",
            good.replace(">0</LimitApplication", ">2</LimitApplication")
                .into_bytes(),
            "1",
            "EP0005",
        ),
    ];
    for (label, bytes, segment, code) in cases {
        let reply = s.post_file("OQSsiquc01req_bad.xml", &bytes).await;
        assert_eq!(reply.status, 200, "{label}");
        let t = tree(&reply.body);
        let h = header(&t);
        assert_eq!(
            h.value("SegmentOfResult"),
            Some(segment),
            "{label}: {}",
            reply.text()
        );
        if segment == "9" {
            assert_eq!(h.value("ErrorCode"), Some(code), "{label}");
            assert!(h.value("ErrorMessage").is_some(), "{label}");
            assert!(t.child("MessageBody").is_none(), "{label}");
        } else {
            let b = body(&t);
            assert_eq!(b.value("ProcessingResultStatus"), Some("2"), "{label}");
            assert_eq!(b.value("ProcessingResultCode"), Some(code), "{label}");
            assert!(b.value("QualificationValidity").is_none(), "{label}");
        }
    }
    // Over the size limit: 413 with the error file.
    let big = vec![b' '; 2 * 1024 * 1024];
    let reply = s.post_file("OQSsiquc01req_big.xml", &big).await;
    assert_eq!(reply.status, 413);
    assert_eq!(
        header(&tree(&reply.body)).value("ErrorCode"),
        Some("EC0009")
    );
    // Unknown prefix over HTTP and in a folder.
    let reply = s.post_file("XYZsiquc01req_1.xml", good.as_bytes()).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        header(&tree(&reply.body)).value("ErrorCode"),
        Some("EC0010")
    );
    // In a folder, like the real terminal software: the request comes back in res/ with `<name>.err`.
    let fac = s.folders.path().join(MED);
    std::fs::write(fac.join("req/XYZsiquc01req_1.xml"), &good).unwrap();
    let err = wait_for(&fac.join("res/XYZsiquc01req_1.xml.err")).await;
    assert!(String::from_utf8(err).unwrap().starts_with("EC0010 "));
    assert_eq!(
        std::fs::read(fac.join("res/XYZsiquc01req_1.xml")).unwrap(),
        good.as_bytes(),
        "the request itself is returned"
    );
    assert!(!fac.join("res/XYZsiquc01res_1.xml").exists());
    // A request for facility A dropped in facility B's folder.
    let other = s.folders.path().join("1330130129");
    std::fs::write(other.join("req/OQSsiquc01req_m.xml"), &good).unwrap();
    let ans = wait_for(&other.join("res/OQSsiquc01res_m.xml")).await;
    assert_eq!(header(&tree(&ans)).value("ErrorCode"), Some("EC0012"));
    // Nothing was written to the database by any of it.
    assert_eq!(version_count(&s.core).await, before);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_files_are_all_or_nothing_and_idempotent() {
    let s = TestApp::start().await;
    let line = |n: u32| {
        serde_json::json!({
            "person_id": format!("bulk-{n}"), "insurer_number": "06131270", "insurer_name": "オンシ商事健康保険組合",
            "card_classification": "01", "symbol": "900", "number": n.to_string(), "branch": "00",
            "personal_family": "1", "name": "一括　太郎", "name_kana": "ｲｯｶﾂ ﾀﾛｳ", "sex": "1",
            "birth_date": "19850101", "qualification_date": "20200401"
        })
        .to_string()
    };
    let file: String = (1..=50).map(|n| line(n) + "\n").collect();
    let r = http::send(&s.addr, "POST", "/insurer/v1/bulk", &[], file.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["created"], 50);
    let after_first = version_count(&s.core).await;
    // Re-submitting the same file changes nothing.
    let r = http::send(&s.addr, "POST", "/insurer/v1/bulk", &[], file.as_bytes()).await;
    assert_eq!(
        (r.json()["created"].clone(), r.json()["unchanged"].clone()),
        (0.into(), 50.into())
    );
    assert_eq!(version_count(&s.core).await, after_first);
    // Bad records are reported line by line with reasons, and nothing of the file is applied.
    let mut bad: Vec<String> = (51..=55).map(line).collect();
    bad[1] = bad[1].replace("06131270", "06131271");
    bad[3] = bad[3]
        .replace("ｲｯｶﾂ ﾀﾛｳ", "イッカツ")
        .replace("19850101", "19851301");
    bad.push(line(51));
    bad.push("{not json".into());
    let r = http::send(
        &s.addr,
        "POST",
        "/insurer/v1/bulk",
        &[],
        bad.join("\n").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let errors = r.json()["report"]["errors"].as_array().unwrap().clone();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 6, 7], "{errors:?}");
    assert!(errors[0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("check digit"));
    assert_eq!(version_count(&s.core).await, after_first, "nothing applied");
    // The CLI path (dry run) reports the same.
    let report = onshi_insurer::load_bulk(&s.core, bad.join("\n").as_bytes(), true, "bulk", None)
        .await
        .unwrap();
    assert!(!report.accepted);
    assert_eq!(report.errors.len(), 4);
    // Eligibility sees the loaded records.
    wait_feed(&s).await;
    let t = tree(
        &s.post_file(
            "OQSsiquc01req_b.xml",
            &query("20261120", "06131270", "900", "7", "19850101"),
        )
        .await
        .body,
    );
    assert_eq!(body(&t).value("QualificationValidity"), Some("1"));
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_is_shared_and_moves_the_answers() {
    let s = TestApp::start().await;
    let r = http::get(&s.addr, "/admin/v1/clock").await;
    assert_eq!(r.json()["compact"], "20261121100000");
    assert_eq!(r.json()["frozen"], true);
    // A second process on the same database sees a change made through the first one.
    let other = onshi_platform::clock::SimClock::connect(&s.core.pool)
        .await
        .unwrap();
    let r = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"advance": "-30d"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["compact"], "20261022100000");
    let mut seen = None;
    for _ in 0..100 {
        if other.now_dt().compact() == "20261022100000" {
            seen = Some(());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.is_some(), "the other process saw the change");
    // With today = 2026-10-22 a query for 2026-11-20 is a future date.
    let t = tree(
        &s.post_file("OQSsiquc01req_c.xml", &request_file("yamada_taro"))
            .await
            .body,
    );
    assert_eq!(header(&t).value("ErrorCode"), Some("EC0011"));
    assert_eq!(
        header(&t).value("ProcessExecutionTime"),
        Some("20261022100000")
    );
    let bad = http::post_json(
        &s.addr,
        "/admin/v1/clock",
        &serde_json::json!({"advance": "soon"}),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "bad_request");
    s.host.stop().await;
}
