//! 薬剤情報 end to end: UKE claim files in, the 11th-day schedule on the simulated clock, consent-gated
//! `YZKsiquc01` retrieval, re-claims replacing earlier receipts, and bad files refused with nothing applied.

use onshi_wire::msg::file_name::{web_api_path, MessageKind};
use std::time::Duration;

use crate::app::{TestApp, MED, PHARMACY};
use onshi_platform::config::Config;
use onshi_platform::testkit::http;
use onshi_wire::xml::{self, Element};

fn days(day: u32, count: u32) -> String {
    (1..=31)
        .map(|d| {
            if d == day {
                count.to_string()
            } else {
                String::new()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn sjis(text: &str) -> Vec<u8> {
    let mut b = encoding_rs::SHIFT_JIS
        .encode(&text.replace('\n', "\r\n"))
        .0
        .into_owned();
    b.push(0x1A);
    b
}

/// A 医科 claim for 山田 太郎 (demo), treatment month 2026-10, with `drugs` (code, day, count).
fn medical_claim(drugs: &[(&str, u32, u32)], search: &str) -> Vec<u8> {
    let mut t = String::from("IR,1,13,1,0112345,,オンシ内科クリニック,202611,00,\n");
    t.push_str(&format!(
        "RE,1,1112,202610,山田　太郎,1,19800515,,,,,,,,,,,,{search},,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ,\n"
    ));
    t.push_str("HO,01130012,12345678,1,1,100,,,,,,,,,\nSN,1,01,,,,00,,\n");
    // 再診料 and a 手術 (創傷処理) on the day of the first drug (診療情報, 手術情報).
    if let Some((_, day, _)) = drugs.first() {
        t.push_str(&format!(
            "SI,12,1,112007410,,73,1,,,,,,,{}\n",
            days(*day, 1)
        ));
        t.push_str(&format!(
            "SI,50,1,150000110,,530,1,,,,,,,{}\n",
            days(*day, 1)
        ));
    }
    for (i, (code, day, count)) in drugs.iter().enumerate() {
        let shinryo = if i == 0 { "21" } else { "" };
        t.push_str(&format!(
            "IY,{shinryo},1,{code},3,10,{count},,,,,,,{}\n",
            days(*day, *count)
        ));
    }
    t.push_str("GO,1,100,99\n");
    sjis(&t)
}

fn pharmacy_claim() -> Vec<u8> {
    sjis(
        "YK,1,13,4,0140233,オンシ薬局,202611,00,\n\
         RE,1,4112,202611,山田　太郎,1,19800515,,,13,1,0112345,オンシ内科クリニック,,,,,,,,,,,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ\n\
         HO,01130012,12345678,1,1,100,,,,,,,,\n\
         SN,1,01,,,,00,,\n\
         SH,01,1,001,１日１回朝食後,100,,,,\n\
         CZ,1,20261110,20261112,1,28,,,,,,,,50\n\
         IY,1,610406079,1,,,,,,1\n\
         GO,1,200,99\n",
    )
}

/// The receipt of a one-receipt claim text (its RE line to the line before GO).
fn receipt_of(text: &str) -> String {
    let start = text.find("RE,").unwrap();
    let end = text.find("GO,").unwrap();
    text[start..end].to_string()
}

async fn claim(s: &TestApp, bytes: &[u8]) -> http::Reply {
    http::send(&s.addr, "POST", "/medication/v1/claims", &[], bytes).await
}

fn yzk(facility: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><MessageHeader>\
         <MedicalInstitutionCode>{facility}</MedicalInstitutionCode><InsurerNumber>01130012</InsurerNumber>\
         <InsuranceCardSymbol>12345678</InsuranceCardSymbol><InsuredPersonIdentificationNumber>1</InsuredPersonIdentificationNumber>\
         <BranchNumber>00</BranchNumber><ArbitraryFileIdentifier>y1</ArbitraryFileIdentifier></MessageHeader>\
         <MessageBody><StartDate>202601</StartDate><EndDate>202612</EndDate><FileCategory>2</FileCategory>\
         <PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag></MessageBody></XmlMsg>"
    )
    .into_bytes()
}

async fn ask(s: &TestApp, facility: &str) -> Element {
    let r = http::send(
        &s.addr,
        "POST",
        "/oqs/v1/req/YZKsiquc01req_1.xml",
        &[],
        &yzk(facility),
    )
    .await;
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"YZKsiquc01res_1.xml\"")
    );
    xml::parse(&r.body, &Default::default()).unwrap().root
}

fn header(t: &Element) -> &Element {
    t.child("MessageHeader").unwrap()
}

async fn until_extracted(s: &TestApp) {
    for _ in 0..100 {
        let b = http::get(&s.addr, "/medication/v1/batches").await.json();
        if b.as_array().unwrap().iter().all(|b| b["pending"] == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the due batches never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_become_history_on_the_schedule_and_only_with_consent() {
    let s = TestApp::with(Config::default(), "2026-11-09T10:00:00").await;
    // A claim on the 9th: accepted, visible from the morning of the 11th.
    let first = medical_claim(&[("610406079", 8, 14), ("699999999", 8, 14)], "");
    let r = claim(&s, &first).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let j = r.json();
    assert_eq!(
        (j["receipts"].clone(), j["drug_lines"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(j["visible_from"], "2026-11-11T05:00:00");
    assert_eq!(j["unmatched_receipts"].as_array().unwrap().len(), 0);
    // The same file again changes nothing.
    let again = claim(&s, &first).await;
    assert_eq!(
        (again.status, again.json()["duplicate"].clone()),
        (200, true.into())
    );

    // Without consent: refused, with the reference's error shape.
    let t = ask(&s, MED).await;
    assert_eq!(header(&t).value("ResultCode"), Some("2"));
    assert!(header(&t)
        .value("MessageContents")
        .unwrap()
        .contains("同意"));
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    // With consent but before the 11th: nothing visible yet.
    let t = ask(&s, MED).await;
    assert_eq!(header(&t).value("ResultCode"), Some("1"));
    assert_eq!(
        t.child("MessageBody")
            .unwrap()
            .children_named("MeTrMonthInf")
            .count(),
        0
    );

    // The pharmacy's claim arrives on the 12th (visible on the 13th).
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-12T09:00:00").unwrap())
        .await
        .unwrap();
    let r = claim(&s, &pharmacy_claim()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["visible_from"], "2026-11-13T05:00:00");
    until_extracted_for(&s, 1).await;
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let t = ask(&s, MED).await;
    let body = t.child("MessageBody").unwrap();
    let months: Vec<&Element> = body.children_named("MeTrMonthInf").collect();
    assert_eq!(months.len(), 1, "the 医科 claim is visible since the 11th");
    let drugs: Vec<&Element> = months[0]
        .child("DiDateInfs")
        .unwrap()
        .children_named("DiDateInf")
        .flat_map(|d| d.child("DrugInfs").unwrap().children_named("DrugInf"))
        .collect();
    assert_eq!(drugs.len(), 2);
    assert_eq!(drugs[0].value("DrugC"), Some("610406079"));
    assert_eq!(drugs[0].value("DrugN"), Some("ガスター散２％"));
    assert_eq!(drugs[0].value("IngreN"), Some("ファモチジン"));
    // 使用区分 as a code: the claim's 診療識別 (21 内服); the prescription came from this clinic itself.
    assert_eq!(drugs[0].value("MeTrIdCl"), Some("21"));
    assert_eq!(
        months[0].value("PrIsOrg"),
        Some("1"),
        "the asking clinic prescribed it"
    );
    assert_eq!(months[0].value("DiOrg"), Some("1"));
    assert_eq!(
        drugs[1].value("DrugN"),
        Some("（医薬品マスター未収載）699999999")
    );
    assert_eq!(
        months[0]
            .child("DiDateInfs")
            .unwrap()
            .child("DiDateInf")
            .unwrap()
            .value("DiDate"),
        Some("20261008")
    );
    assert!(
        body.child("CzDiInf").is_none(),
        "the pharmacy claim waits for the 13th"
    );

    // The 13th: the pharmacy's 院外 dispensing appears, with its prescriber.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-13T06:00:00").unwrap())
        .await
        .unwrap();
    until_extracted(&s).await;
    let t = ask(&s, MED).await;
    let cz = t
        .child("MessageBody")
        .unwrap()
        .child("CzDiInf")
        .expect("調剤 history");
    let m = cz.child("CzDiMonthInf").unwrap();
    assert_eq!(m.value("CzMeTrDiHCd"), Some(PHARMACY));
    assert_eq!(m.value("CzPrlsHCd"), Some(MED));
    let day = m
        .child("CzDiDateInfs")
        .unwrap()
        .child("CzDiDateInf")
        .unwrap();
    assert_eq!(
        (day.value("CzDiDate"), day.value("CzPrDate")),
        (Some("20261112"), Some("20261110"))
    );
    let drug = day.child("CzDrugInfs").unwrap().child("CzDrugInf").unwrap();
    assert_eq!(drug.value("CzUsageN"), Some("１日１回朝食後"));
    // 調剤: the 剤形コード as CzUsageCl (1 内服); prescribed by the asking clinic, so CzPrIsOrg 1.
    assert_eq!(drug.value("CzUsageCl"), Some("1"));
    assert!(drug.child("CzMeTrIdCl").is_none());
    assert_eq!(m.value("CzPrIsOrg"), Some("1"));
    assert_eq!(drug.value("CzTimes"), Some("28"));

    // 診療情報 (FileCategory 4) needs its own consent: under the medication consent alone it is refused.
    let with_clinical = String::from_utf8(yzk(MED))
        .unwrap()
        .replace("<FileCategory>2<", "<FileCategory>4<");
    let ask_clinical = || async {
        let r = http::send(
            &s.addr,
            "POST",
            "/oqs/v1/req/YZKsiquc01req_4.xml",
            &[],
            with_clinical.as_bytes(),
        )
        .await;
        xml::parse(&r.body, &Default::default()).unwrap().root
    };
    let t = ask_clinical().await;
    assert_eq!(header(&t).value("ResultCode"), Some("2"));
    assert_eq!(
        header(&t).value("MessageContents"),
        Some("診療情報の閲覧の同意がありません。")
    );
    assert!(t
        .child("MessageBody")
        .is_none_or(|b| b.children_named("MeTrMonthInf").count() == 0));
    let procedures_of = |t: &Element| -> Vec<(String, String, String)> {
        t.child("MessageBody")
            .unwrap()
            .children_named("MeTrMonthInf")
            .flat_map(|m| m.child("DiDateInfs").unwrap().children_named("DiDateInf"))
            .filter_map(|d| d.child("MeTrInfs"))
            .flat_map(|p| p.children_named("MeTrInf"))
            .map(|p| {
                (
                    p.value("SinInfCd").unwrap().to_string(),
                    p.value("SinInfN").unwrap().to_string(),
                    p.value("MeTrIdCl").unwrap().to_string(),
                )
            })
            .collect()
    };
    // With the 診療情報 consent: the 診療行為 of the day under MeTrInfs, named by the 診療行為マスター, without
    // the 手術 line (no 手術情報 consent).
    s.consent_to(
        MED,
        "D000000000000001",
        "1234",
        serde_json::json!({"medication": true, "clinical": true}),
    )
    .await;
    let t = ask_clinical().await;
    assert_eq!(header(&t).value("ResultCode"), Some("1"));
    assert_eq!(
        procedures_of(&t),
        [("112007410".into(), "再診料".into(), "12".into())]
    );
    // With the 手術情報 consent too, the 手術 (K) line is there.
    s.consent_to(
        MED,
        "D000000000000001",
        "1234",
        serde_json::json!({"medication": true, "clinical": true, "surgery": true}),
    )
    .await;
    let t = ask_clinical().await;
    assert_eq!(
        procedures_of(&t),
        [
            ("112007410".into(), "再診料".into(), "12".into()),
            (
                "150000110".into(),
                "創傷処理（筋肉、臓器に達しないもの）（長径５ｃｍ未満）".into(),
                "50".into()
            )
        ]
    );
    let day = t
        .child("MessageBody")
        .unwrap()
        .child("MeTrMonthInf")
        .unwrap()
        .child("DiDateInfs")
        .unwrap()
        .child("DiDateInf")
        .unwrap();
    let proc_ = day
        .child("MeTrInfs")
        .expect("診療情報")
        .child("MeTrInf")
        .unwrap();
    assert_eq!(proc_.value("Times"), Some("1"));
    // With 診療情報, DiOrg and PrIsOrg are left out as in real answers.
    let month = t
        .child("MessageBody")
        .unwrap()
        .child("MeTrMonthInf")
        .unwrap();
    assert!(month.child("DiOrg").is_none() && month.child("PrIsOrg").is_none());
    assert!(t
        .child("MessageBody")
        .unwrap()
        .child("MeTrMonthInf")
        .unwrap()
        .child("DiDateInfs")
        .unwrap()
        .child("DiDateInf")
        .unwrap()
        .child("DrugInfs")
        .is_some());
    // Without it (FileCategory 2), no MeTrInfs.
    assert!(ask(&s, MED)
        .await
        .child("MessageBody")
        .unwrap()
        .child("MeTrMonthInf")
        .unwrap()
        .child("DiDateInfs")
        .unwrap()
        .child("DiDateInf")
        .unwrap()
        .child("MeTrInfs")
        .is_none());
    // Another facility without consent sees nothing; the patient sees who looked.
    let t = ask(&s, "1330130129").await;
    assert_eq!(header(&t).value("ResultCode"), Some("2"));
    let log = http::get(&s.addr, "/consent/v1/persons/demo-yamada-taro/access-log")
        .await
        .json();
    let (seen, refused): (Vec<_>, Vec<_>) = log
        .as_array()
        .unwrap()
        .iter()
        .partition(|a| !a["basis"].as_str().unwrap().starts_with("refused:"));
    assert!(seen.iter().all(|a| a["facility"] == MED));
    let count = |kind: &str| seen.iter().filter(|a| a["kind"] == kind).count();
    // Each kind shown is logged on its own: 薬剤 in every answer, 診療 in the two FileCategory 4 answers, 手術 once.
    assert_eq!(
        (count("YZK"), count("SRJ"), count("SHJ")),
        (6, 2, 1),
        "{log}"
    );
    // The refused 診療情報 request is logged under the kind refused.
    assert!(refused
        .iter()
        .any(|a| a["kind"] == "SRJ" && a["basis"] == "refused:no_consent"));
    // Refused attempts are in the log too (before consent, and the other facility's).
    assert!(refused
        .iter()
        .any(|a| a["facility"] == "1330130129" && a["basis"] == "refused:no_consent"));
    s.host.stop().await;
}

async fn until_extracted_for(s: &TestApp, done: usize) {
    for _ in 0..100 {
        let b = http::get(&s.addr, "/medication/v1/batches").await.json();
        let finished = b
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["state"] == "done")
            .count();
        if finished >= done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("batch not run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_claim_replaces_the_earlier_receipt() {
    let s = TestApp::with(Config::default(), "2026-11-09T10:00:00").await;
    assert_eq!(
        claim(&s, &medical_claim(&[("610406079", 8, 14)], ""))
            .await
            .status,
        201
    );
    // Forced now by the admin endpoint (a trainer's "run the due batch now").
    // (グラケー 610407141 has a cheaper generic: メナテトレノン「トーワ」 620008109 at 9.90 yen.)
    let r = http::send(&s.addr, "POST", "/medication/v1/batches/run", &[], b"").await;
    assert_eq!(r.json()["files_extracted"], 1);
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let count = |t: &Element| {
        t.child("MessageBody")
            .unwrap()
            .children_named("MeTrMonthInf")
            .flat_map(|m| m.child("DiDateInfs").unwrap().children_named("DiDateInf"))
            .flat_map(|d| d.child("DrugInfs").unwrap().children_named("DrugInf"))
            .map(|g| g.value("DrugC").unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(count(&ask(&s, MED).await), ["610406079"]);
    // The returned receipt is re-claimed (with its 検索番号) with other drugs: it replaces the first as a whole.
    assert_eq!(
        claim(
            &s,
            &medical_claim(
                &[
                    ("620160501", 9, 7),
                    ("610406079", 9, 7),
                    ("610407141", 9, 7)
                ],
                "12345678901234567"
            )
        )
        .await
        .status,
        201
    );
    http::send(&s.addr, "POST", "/medication/v1/batches/run", &[], b"").await;
    let drugs = count(&ask(&s, MED).await);
    assert_eq!(drugs, ["620160501", "610406079", "610407141"]);
    // Running again changes nothing (each file is extracted exactly once).
    let r = http::send(&s.addr, "POST", "/medication/v1/batches/run", &[], b"").await;
    assert_eq!(r.json()["files_extracted"], 0);
    assert_eq!(count(&ask(&s, MED).await).len(), 3);
    // The Web API: login, then the same request as JSON.
    let login = http::post_json(
        &s.addr,
        "/oqs-api-pro/MSA12020/ILI12020SV01/auth",
        &serde_json::json!({"MedicalInstitutionCode": MED, "ClientSecret": onshi_seed::demo::demo_secret(MED)}),
    )
    .await;
    let token = login.json()["result"]["idToken"]
        .as_str()
        .unwrap()
        .to_string();
    let body = serde_json::json!({"XmlMsg": {"MessageHeader": {"MedicalInstitutionCode": MED, "InsurerNumber": "01130012",
        "InsuranceCardSymbol": "12345678", "InsuredPersonIdentificationNumber": "1", "BranchNumber": "00"},
        "MessageBody": {"FileCategory": "2"}}});
    let r = http::send(
        &s.addr,
        "POST",
        web_api_path(MessageKind::YzkSiquc01).unwrap(),
        &[("Authorization", &token)],
        body.to_string().as_bytes(),
    )
    .await;
    let j = r.json();
    assert_eq!(j["XmlMsg"]["MessageHeader"]["ResultCode"], "1", "{j}");
    // The body holds only repeated months: an array of one-member objects, like the real Web API's JSON.
    let months = j["XmlMsg"]["MessageBody"].as_array().unwrap();
    assert_eq!(months.len(), 1, "{j}");
    assert!(months[0]["MeTrMonthInf"].is_object(), "{j}");
    let r = http::send(
        &s.addr,
        "POST",
        web_api_path(MessageKind::YzkSiquc01).unwrap(),
        &[],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401);
    // The PDF form (FileCategory 1): same base name, .pdf.
    let pdf_req = String::from_utf8(yzk(MED))
        .unwrap()
        .replace("<FileCategory>2<", "<FileCategory>1<");
    let r = http::send(
        &s.addr,
        "POST",
        "/oqs/v1/req/YZKsiquc01req_p.xml",
        &[],
        pdf_req.as_bytes(),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"YZKsiquc01res_p.pdf\"")
    );
    assert!(r.body.starts_with(b"%PDF-1.4") && r.body.ends_with(b"%%EOF\n"));
    std::fs::write(std::env::temp_dir().join("onshi-yzk-sample.pdf"), &r.body).unwrap();
    // The patient's own view.
    let mine = http::get(
        &s.addr,
        "/medication/v1/persons/demo-yamada-taro/medications",
    )
    .await
    .json();
    let meds = mine["medications"].as_array().unwrap();
    assert_eq!(meds.len(), 3);
    assert_eq!(meds[0]["drug_code"], "620160501");
    // ガスター散２％: 9.50 yen/g × 3 g × 7 days × 3割 = 59.85 → 60 yen.
    let gaster = meds.iter().find(|m| m["drug_code"] == "610406079").unwrap();
    assert_eq!(gaster["self_pay_yen"], 60);
    assert_eq!(gaster["saving_yen"], 0, "no cheaper generic");
    // グラケー: 11.90 × 3 × 7 × 0.3 = 74.97 → 75; saving (11.90 − 9.90) × 21 × 0.3 = 12.6 → 13.
    let brand = meds.iter().find(|m| m["drug_code"] == "610407141").unwrap();
    assert_eq!(
        (brand["self_pay_yen"].as_i64(), brand["saving_yen"].as_i64()),
        (Some(75), Some(13))
    );
    assert_eq!(mine["saving_total_yen"], 13);
    assert_eq!(
        mine["self_pay_total_yen"].as_i64().unwrap(),
        meds.iter()
            .filter_map(|m| m["self_pay_yen"].as_i64())
            .sum::<i64>()
    );
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_claims_are_refused_whole_with_a_reason() {
    let s = TestApp::with(Config::default(), "2026-11-09T10:00:00").await;
    let count = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM medication.claim_files")
            .fetch_one(&s.core.pool)
            .await
            .unwrap();
        n
    };
    let good: String = encoding_rs::SHIFT_JIS
        .decode(&medical_claim(&[("610406079", 8, 14)], ""))
        .0
        .chars()
        .filter(|c| *c != '\r' && *c != '\u{1a}')
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated",
            sjis(&good.replace("GO,1,100,99\n", "")),
            "truncated",
        ),
        (
            "unknown record",
            sjis(&good.replace("SN,1,", "XX,1,")),
            "unknown record type",
        ),
        (
            "bad encoding",
            vec![0x49, 0x52, 0x2c, 0x81, 0x20, 0x1A],
            "Shift_JIS",
        ),
        (
            "bad date",
            sjis(&good.replace("19800515", "19800545")),
            "生年月日",
        ),
        ("not a claim", b"hello".to_vec(), "starts with"),
        (
            "receipt numbers out of order",
            sjis(&good.replace("GO,1,100,99\n", &format!("{}GO,1,100,99\n", receipt_of(&good)))),
            "numbers run 1..n",
        ),
        (
            // Read and stored in batches as it streams: the broken last receipt undoes the thousands before.
            "a bad receipt after 3,000 good ones",
            sjis(&good.replace(
                "GO,1,100,99\n",
                &format!(
                    "{}RE,3002,1112,202610,山田　太郎,1,19801345,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ,\nGO,1,100,99\n",
                    (2..3002)
                        .map(|n| receipt_of(&good).replacen("RE,1,", &format!("RE,{n},"), 1))
                        .collect::<String>()
                ),
            )),
            "line 18008: RE 生年月日",
        ),
        (
            "a record longer than the limit",
            sjis(&good.replace("SN,1,01,", &format!("SN,1,01{},", "9".repeat(70_000)))),
            "longer than 65536 bytes",
        ),
        (
            "0x1A inside the file",
            sjis(&good.replace("SN,1,", "SN,\u{1a}1,")),
            "0x1A before the end",
        ),
    ];
    for (label, bytes, reason) in cases {
        let r = claim(&s, &bytes).await;
        assert_eq!(r.status, 400, "{label}: {}", r.text());
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{label}: {}",
            r.text()
        );
    }
    assert_eq!(count().await, 0, "nothing stored");
    // A receipt for an unknown person is accepted, reported and kept, not extracted.
    let unknown = sjis(&good.replace("HO,01130012,12345678,1,", "HO,01130012,99999999,9,"));
    let r = claim(&s, &unknown).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["unmatched_receipts"], serde_json::json!([1]));
    // The same file again (three at once): one report from what was stored, never an error.
    let again = tokio::join!(
        claim(&s, &unknown),
        claim(&s, &unknown),
        claim(&s, &unknown)
    );
    for r in [&again.0, &again.1, &again.2] {
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        assert_eq!(j["duplicate"], true);
        assert_eq!(
            (
                j["receipts"].clone(),
                j["drug_lines"].clone(),
                j["unmatched"].clone()
            ),
            (1.into(), 1.into(), 1.into())
        );
        assert_eq!(j["unmatched_receipts"], serde_json::json!([1]));
    }
    assert_eq!(count().await, 1);
    // Outside the acceptance window (the 13th): refused with the window in the reason.
    s.core
        .clock
        .set(onshi_platform::clock::parse_time("2026-11-13T09:00:00").unwrap())
        .await
        .unwrap();
    let r = claim(&s, &medical_claim(&[("610406079", 9, 1)], "")).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("5th to the 12th"));
    assert_eq!(count().await, 1);
    s.host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_dropped_in_the_facility_folder_are_taken_in() {
    let s = TestApp::with(Config::default(), "2026-11-09T10:00:00").await;
    let claims = s.folder(MED).join("claims");
    std::fs::create_dir_all(&claims).unwrap();
    std::fs::write(
        claims.join("RECEIPTC.UKE"),
        medical_claim(&[("610406079", 8, 14)], ""),
    )
    .unwrap();
    // The clinic's file dropped in the pharmacy's folder.
    let other = s.folder(PHARMACY).join("claims");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("RECEIPTC.UKE"),
        medical_claim(&[("610406079", 9, 14)], ""),
    )
    .unwrap();
    let read = |p: std::path::PathBuf| async move {
        for _ in 0..100 {
            if let Ok(t) = std::fs::read_to_string(&p) {
                return serde_json::from_str::<serde_json::Value>(&t).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no report at {}", p.display());
    };
    let ok = read(claims.join("RECEIPTC.UKE.result.json")).await;
    assert_eq!(ok["receipts"], 1, "{ok}");
    assert!(
        !claims.join("RECEIPTC.UKE").exists(),
        "taken in and removed"
    );
    let refused = read(other.join("RECEIPTC.UKE.result.json")).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not for"),
        "{refused}"
    );
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM medication.claim_files")
        .fetch_one(&s.core.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the refused file was not stored");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_midway_is_completed_exactly_once() {
    let s = TestApp::with(Config::default(), "2026-11-09T10:00:00").await;
    assert_eq!(
        claim(&s, &medical_claim(&[("610406079", 8, 14)], ""))
            .await
            .status,
        201
    );
    let b = claim(
        &s,
        &medical_claim(&[("620160501", 9, 7)], "98765432109876543"),
    )
    .await
    .json()["file_id"]
        .as_i64()
        .unwrap();
    // The second file of the group cannot be read back (as if the process died while extracting it).
    let (content,): (Vec<u8>,) =
        sqlx::query_as("SELECT data FROM medication.claim_chunks WHERE file_id = $1 AND seq = 0")
            .bind(b)
            .fetch_one(&s.core.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE medication.claim_chunks SET data = 'garbage' WHERE file_id = $1")
        .bind(b)
        .execute(&s.core.pool)
        .await
        .unwrap();
    let after = onshi_platform::clock::parse_time("2026-11-11T06:00:00").unwrap();
    assert!(
        onshi_medication::claims::run_batches(&s.core.pool, after, false, 2)
            .await
            .is_err()
    );
    let rows = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM medication.dispensings")
            .fetch_one(&s.core.pool)
            .await
            .unwrap();
        n
    };
    assert_eq!(rows().await, 0, "nothing of the group was applied");
    // Repaired, the next run completes it, exactly once.
    sqlx::query("UPDATE medication.claim_chunks SET data = $2 WHERE file_id = $1")
        .bind(b)
        .bind(&content)
        .execute(&s.core.pool)
        .await
        .unwrap();
    assert_eq!(
        onshi_medication::claims::run_batches(&s.core.pool, after, false, 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(rows().await, 2);
    assert_eq!(
        onshi_medication::claims::run_batches(&s.core.pool, after, false, 2)
            .await
            .unwrap(),
        0
    );
    assert_eq!(rows().await, 2);
    s.host.stop().await;
}
