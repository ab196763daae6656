//! Snapshots of a running simulator through the admin API: what was written after a snapshot (a qualification the
//! read model answers, a 照会番号, a forced rule, the clock, a file in a folder) is gone after the restore, and the
//! answers follow at once; a snapshot of another schema version is refused; bad names and unknown snapshots get the
//! API's error shape; `reset` needs the demo snapshot.

use onshi_platform::testkit::http;

use crate::app::{child, tree, TestApp, MED, NOW};

fn person_query() -> Vec<u8> {
    format!(
        r#"<XmlMsg><MessageHeader><QualificationConfirmationDate>20261120</QualificationConfirmationDate>
<MedicalInstitutionCode>{MED}</MedicalInstitutionCode></MessageHeader><MessageBody><QualificationConfirmSearchInfo>
<InsurerNumber>01130012</InsurerNumber><InsuredCardSymbol>7777</InsuredCardSymbol>
<InsuredIdentificationNumber>77</InsuredIdentificationNumber><Birthdate>19900101</Birthdate>
<LimitApplicationCertificateRelatedConsFlg>0</LimitApplicationCertificateRelatedConsFlg>
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#
    )
    .into_bytes()
}

async fn validity(s: &TestApp) -> String {
    let r = s.post_file("OQSsiquc01req_s.xml", &person_query()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    child(&tree(&r.body), &["MessageBody"])
        .value("QualificationValidity")
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_takes_away_what_was_written_after_the_snapshot() {
    let s = TestApp::start().await;
    assert_eq!(validity(&s).await, "4");
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots",
            serde_json::json!({"name": "before"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let meta = r.json();
    assert_eq!(meta["name"], "before");
    assert_eq!(meta["clock"], NOW);
    assert!(meta["bytes"].as_i64().unwrap() > 0);

    // After it: a new insured person, a forced rule, the clock moved, a file left in a folder.
    let person = serde_json::json!({
        "person_id": "snap-1", "insurer_number": "01130012", "insurer_name": "全国健康保険協会東京支部",
        "card_classification": "01", "symbol": "7777", "number": "77", "branch": "00", "personal_family": "1",
        "name": "試験　二郎", "name_kana": "ｼｹﾝ ｼﾞﾛｳ", "sex": "1", "birth_date": "19900101",
        "address": "東京都千代田区一番町", "qualification_date": "20240401"
    });
    let r = http::post_json(&s.addr, "/insurer/v1/qualifications", &person).await;
    assert_eq!(r.status, 201, "{}", r.text());
    s.sync().await;
    assert_eq!(validity(&s).await, "1");
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/forced",
            serde_json::json!({"answer": "EC0013", "kind": "YZKsiquc01"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/clock",
            serde_json::json!({"advance": "30d"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let stray = s.folder(MED).join("face").join("later.xml");
    std::fs::write(&stray, b"<x/>").unwrap();

    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots/before/restore",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The answers follow at once: the person is unknown again, the rule gone, the clock back, the file gone.
    assert_eq!(validity(&s).await, "4");
    assert!(s.host.controls.rules().forced.is_empty());
    let r = s
        .as_operator("GET", "/admin/v1/forced", serde_json::Value::Null)
        .await;
    assert_eq!(r.json()["forced"].as_array().unwrap().len(), 0);
    assert_eq!(s.core.clock.view().now, NOW);
    assert!(!stray.exists());
    // The folders themselves are still there and answered.
    let body = s
        .drop_in_folder(
            MED,
            "OQSsiquc01req_f.xml",
            &person_query(),
            "OQSsiquc01res_f.xml",
        )
        .await;
    assert_eq!(
        child(&tree(&body), &["MessageBody"]).value("QualificationValidity"),
        Some("4")
    );
    // Listed, then deleted.
    let r = s
        .as_operator("GET", "/admin/v1/snapshots", serde_json::Value::Null)
        .await;
    assert_eq!(r.json()["snapshots"][0]["name"], "before");
    let r = s
        .as_operator(
            "DELETE",
            "/admin/v1/snapshots/before",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 204);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_refuse_bad_names_other_versions_and_unknown_names() {
    let s = TestApp::start().await;
    for name in ["Bad-Name", "", "x;y"] {
        let r = s
            .as_operator(
                "POST",
                "/admin/v1/snapshots",
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "bad_request");
    }
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots/nope/restore",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = s
        .as_operator("POST", "/admin/v1/reset", serde_json::Value::Null)
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots",
            serde_json::json!({"name": "v"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots",
            serde_json::json!({"name": "v"}),
        )
        .await;
    assert_eq!(r.status, 409, "taken twice");
    // A snapshot written by another schema version is refused, and nothing changes.
    let meta_path = s.snapshots.path().join("v").join("snapshot.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["schema_version"] = "0000000000000000".into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let r = s
        .as_operator(
            "POST",
            "/admin/v1/snapshots/v/restore",
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("schema version"));
    assert_eq!(http::get(&s.addr, "/readyz").await.status, 200);
    s.stop().await;
}
