//! The web view in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs),
//! driven over the W3C WebDriver protocol as a trainee would: the operator console shows the simulated clock and
//! moves it, follows the request journal live and opens a request beside its answer; its controls have accessible
//! labels. Screenshots go to `docs/screens/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use onshi_platform::testkit::http;
use serde_json::{json, Value};

use crate::app::{TestApp, MED};

/// A chromedriver process and one browser session.
struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Self> {
        let mut probe = Command::new("chromedriver");
        probe.arg("--version");
        if !crate::documents::tool_available(&mut probe, "chromedriver") {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        let r = call(&addr, "POST", "/session", Some(caps)).await;
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Some(Self {
            driver,
            addr,
            session,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )
        .await["value"]
            .take()
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The element matching a CSS selector, waiting for it (5 s).
    async fn find(&self, css: &str) -> String {
        for _ in 0..100 {
            let v = self
                .cmd(
                    "POST",
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = v
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no element {css}");
    }

    /// Clicks an element as a user would (scrolled into view; a click that WebDriver refuses, e.g. on an element
    /// covered by another, fails the test).
    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        let r = self
            .cmd("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
        assert!(r.get("error").is_none(), "clicking {css}: {r}");
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (10 s) until the element's text contains `want`.
    async fn wait_text(&self, css: &str, want: &str) -> String {
        let mut last = String::new();
        for _ in 0..200 {
            last = self.text(css).await;
            if last.contains(want) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never showed {want:?}; it shows {last:?}");
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    /// Presses keys on whatever has the focus (WebDriver key actions; `\u{E004}` Tab, `\u{E007}` Enter).
    async fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
        self.cmd("DELETE", "/actions", None).await;
    }

    /// Picks an option of a `<select>` by its text and tells the page.
    async fn choose(&self, select: &str, text: &str) {
        let js = format!(
            "const s = document.querySelector('{select}'); \
             const o = [...s.options].find(o => o.textContent.includes('{text}')); \
             if (!o) return null; s.value = o.value; s.dispatchEvent(new Event('change')); return o.textContent;"
        );
        assert!(
            self.script(&js).await.is_string(),
            "no option {text:?} in {select}"
        );
    }

    /// Writes a screenshot to `docs/screens/<name>.png`.
    async fn screenshot(&self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None).await;
        let png = base64(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screens");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn stop(mut self) {
        call(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        )
        .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A fresh simulator and a browser; `None` (the simulator stopped) where Chromium is not installed.
async fn start() -> Option<(TestApp, Browser)> {
    let s = TestApp::start().await;
    match Browser::start().await {
        Some(b) => Some((s, b)),
        None => {
            s.stop().await;
            None
        }
    }
}

async fn call(addr: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let r = http::send(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await;
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{method} {path}: {e}: {}", r.text()))
}

/// Standard Base64 (the WebDriver screenshot).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_console_moves_the_clock_and_follows_the_journal_live() {
    let Some((s, b)) = start().await else { return }; // the clock frozen at 2026-11-21T10:00:00
    b.goto(&format!("http://{}/", s.addr)).await;
    b.wait_text("#clock-now", "2026-11-21 10:00:00").await;
    // Every control has an accessible name: a label, or text.
    let unnamed = b
        .script(
            "return [...document.querySelectorAll('input, button')].filter(e => \
             !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).length",
        )
        .await;
    assert_eq!(unnamed, json!(0));
    // The operator moves the clock a day.
    b.click("#clock-day").await;
    b.wait_text("#clock-now", "2026-11-22 10:00:00").await;
    assert_eq!(s.core.clock.view().now, "2026-11-22T10:00:00");
    // A request file arrives; the journal shows it without reloading; selected, request and answer side by side.
    let file = onshi_seed::demo::file("requests/OQSsiquc01req_yamada_taro.xml").unwrap();
    assert_eq!(
        s.post_file("OQSsiquc01req_console.xml", file).await.status,
        200
    );
    let row = b.wait_text("#journal", "OQSsiquc01").await;
    assert!(row.contains(MED) && row.contains("validity_1"), "{row}");
    b.click("#journal tr").await;
    b.wait_text(
        "#j-answer",
        "<QualificationValidity>1</QualificationValidity>",
    )
    .await;
    assert!(b.text("#j-request").await.contains("demo-yamada_taro"));
    // The scenarios are listed.
    b.wait_text("#scenarios", "Job changer at reception").await;
    b.screenshot("operator-console").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_screen_confirms_demo_personas_like_the_real_screen() {
    let Some((s, b)) = start().await else { return };
    b.goto(&format!("http://{}/ui/terminal", s.addr)).await;
    let pick = |name: &'static str| {
        let b = &b;
        async move {
            let js = format!(
                "const s = document.getElementById('persona'); \
                 const o = [...s.options].find(o => o.textContent === '{name}'); \
                 s.value = o.value; s.dispatchEvent(new Event('change')); return o.textContent;"
            );
            assert_eq!(b.script(&js).await, json!(name));
            b.click("#confirm").await;
        }
    };
    b.wait_text("#persona", "yamada_taro").await;
    // The job changer's old card: the warning the receptionist must act on.
    pick("ito_old").await;
    b.wait_text("#r-banner", "無効（新しい資格あり）").await;
    // 佐藤 健一 with consent: 限度額 and 特定疾病 shown.
    pick("sato_kenichi").await;
    b.wait_text("#r-banner", "有効").await;
    let table = b.wait_text("#r-table", "佐藤").await;
    assert!(
        table.contains("限度額適用区分") && table.contains("特定疾病"),
        "{table}"
    );
    b.screenshot("terminal").await;
    // An unknown card.
    pick("not_found").await;
    b.wait_text("#r-banner", "該当資格なし").await;
    // The requests went through the real door: the journal has them.
    let j = s
        .as_operator("GET", "/admin/v1/journal?kind=OQSsiquc01", Value::Null)
        .await
        .json();
    assert!(j["entries"].as_array().unwrap().len() >= 3, "{j}");
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_reader_screen_writes_the_face_file_and_locks_after_three_wrong_pins() {
    let Some((s, b)) = start().await else { return };
    b.goto(&format!("http://{}/ui/reader", s.addr)).await;
    // 山田 太郎: face recognition, then the consent screens.
    b.click("#place").await;
    b.wait_text("#screen", "本人確認").await;
    b.click("#face-ok").await;
    b.wait_text("#screen", "情報提供").await;
    b.click("#k-medication").await;
    b.click("#k-checkup").await;
    b.click("#consent-send").await;
    let file = b
        .wait_text("#face-file", "OQSsiquc01res_face_1310112345")
        .await;
    let xml = b
        .wait_text(
            "#face-xml",
            "<PharmacistsInfoConsFlg>1</PharmacistsInfoConsFlg>",
        )
        .await;
    assert!(xml.contains("<QualificationValidity>1</QualificationValidity>"));
    assert!(
        s.folder(MED).join("face").join(file.trim()).exists(),
        "the same file in face/"
    );
    b.screenshot("card-reader").await;
    // 伊藤 誠's card: three wrong PINs lock it.
    b.script("document.getElementById('card').value = 'D000000000000002'; return 1")
        .await;
    b.click("#place").await;
    b.wait_text("#screen", "本人確認").await;
    for _ in 0..3 {
        b.script("document.getElementById('pin').value = '0000'; return 1")
            .await;
        b.click("#pin-form button").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.wait_text("#screen", "card_locked").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_shows_medication_only_with_consent_and_only_from_the_11th() {
    let Some((s, b)) = start().await else { return };
    let at = |t: &str| onshi_platform::clock::parse_time(t).unwrap();
    s.core.clock.set(at("2026-12-07T09:00:00")).await.unwrap();
    let claims = onshi_seed::demo::file("claims/RECEIPTC_1310112345_202611.UKE").unwrap();
    let r = http::send(&s.addr, "POST", "/medication/v1/claims", &[], claims).await;
    assert_eq!(r.status, 201, "{}", r.text());
    s.core.clock.set(at("2026-12-10T09:00:00")).await.unwrap();
    b.goto(&format!("http://{}/ui/terminal", s.addr)).await;
    b.wait_text("#persona", "yamada_taro").await;
    b.script(
        "const s = document.getElementById('persona'); \
         s.value = [...s.options].find(o => o.textContent === 'yamada_taro').value; \
         s.dispatchEvent(new Event('change')); return 1",
    )
    .await;
    // No consent yet: refused.
    b.click("#view-yzk").await;
    b.wait_text("#v-banner", "閲覧できません").await;
    // He consents at the reader; on the 10th, November is not there yet.
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    b.click("#view-yzk").await;
    b.wait_text("#v-banner", "該当する薬剤情報はありません")
        .await;
    // The 11th, after the 05:00 batch: it is.
    s.core.clock.set(at("2026-12-11T06:00:00")).await.unwrap();
    let r = s
        .as_operator("POST", "/medication/v1/batches/run", Value::Null)
        .await;
    assert_eq!(r.status, 200);
    b.click("#view-yzk").await;
    b.wait_text("#v-banner", "薬剤情報").await;
    b.wait_text("#v-table", "610406079").await;
    b.screenshot("terminal-medication").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_portal_shows_who_viewed_what_and_when() {
    let Some((s, b)) = start().await else { return };
    // 山田 太郎 consents at the clinic, which then views his medication.
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    let yzk = onshi_seed::demo::file("requests/YZKsiquc01req_yamada_taro.xml").unwrap();
    assert_eq!(
        s.post_file("YZKsiquc01req_portal.xml", yzk).await.status,
        200
    );
    b.goto(&format!("http://{}/ui/portal", s.addr)).await;
    // A wrong PIN is refused; the right one logs in.
    b.script("document.getElementById('pin').value = '9999'; return 1")
        .await;
    b.click("#login-send").await;
    b.wait_text("#who", "wrong PIN").await;
    b.script("document.getElementById('pin').value = '1234'; return 1")
        .await;
    b.click("#login-send").await;
    b.wait_text("#who", "demo-yamada-taro").await;
    let log = b.wait_text("#a-table", MED).await;
    assert!(log.contains("YZK") || log.contains("medication"), "{log}");
    b.wait_text("#m-total", "自己負担相当額").await;
    b.wait_text("#q-table", "有効").await;
    b.wait_text("#q-table", "全国健康保険協会").await;
    // His insurer submits his FY2025 checkup: logged in again, the portal shows it as that year's column.
    let zip = onshi_seed::demo::file("checkups/1310112345_01130012_202506100_1.zip").unwrap();
    let r = http::send(&s.addr, "POST", "/checkup/v1/submissions", &[], zip).await;
    assert!(r.status < 300, "{}", r.text());
    b.script("document.getElementById('pin').value = '1234'; return 1")
        .await;
    b.click("#login-send").await;
    let years = b.wait_text("#c-head", "FY2025").await;
    assert!(years.contains("2025年度"), "{years}");
    b.wait_text("#c-table", "HbA1c").await;
    b.screenshot("patient-portal").await;
    b.stop().await;
    s.stop().await;
}

/// What the terminal screen's banner must say for an answer: the same words whichever door the request came by.
fn banner_for(answer: &[u8]) -> String {
    let doc = onshi_wire::xml::parse(answer, &Default::default()).unwrap();
    let header = doc.root.child("MessageHeader").unwrap();
    if header.value("SegmentOfResult") == Some("9") {
        return format!("エラー {}", header.value("ErrorCode").unwrap());
    }
    let body = doc.root.child("MessageBody").unwrap();
    if body.value("ProcessingResultStatus") == Some("2") {
        return format!("照会エラー {}", body.value("ProcessingResultCode").unwrap());
    }
    let validity = body.value("QualificationValidity").unwrap();
    let ja = match validity {
        "1" => "資格 有効",
        "2" => "資格 無効",
        "3" => "資格 無効（新しい資格あり）",
        "4" => "資格 該当資格なし",
        "5" => "資格 複数該当",
        "6" => "資格 有効（未登録）",
        other => panic!("validity {other}"),
    };
    ja.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reception_flow_answers_every_demo_persona_as_the_file_door_does_by_keyboard() {
    let Some((s, b)) = start().await else { return };
    b.goto(&format!("http://{}/ui/terminal", s.addr)).await;
    b.wait_text("#persona", "yamada_taro").await;
    let personas: Vec<String> = serde_json::from_value(
        b.script("return [...document.getElementById('persona').options].map(o => o.textContent).filter(t => t !== '—')")
            .await,
    )
    .unwrap();
    let files: Vec<&str> = onshi_seed::demo::FILES
        .iter()
        .filter_map(|(p, _)| {
            p.strip_prefix("requests/OQSsiquc01req_")?
                .strip_suffix(".xml")
        })
        .collect();
    assert_eq!(
        personas.len(),
        files.len(),
        "every demo request is a persona"
    );
    for name in &personas {
        // The answer of the demo file itself, by the HTTP door.
        let file = onshi_seed::demo::file(&format!("requests/OQSsiquc01req_{name}.xml")).unwrap();
        let want = banner_for(
            &s.post_file(&format!("OQSsiquc01req_{name}.xml"), file)
                .await
                .body,
        );
        // The same person on the screen, by keyboard only: the persona list focused, the choice made, Tab to the
        // form's fields and Enter on the button.
        b.choose("#persona", name).await;
        b.script("document.getElementById('r-banner').textContent = ''; document.getElementById('f-consent').focus(); return 1")
            .await;
        b.keys("\u{E004}\u{E007}").await;
        let got = b.wait_text("#r-banner", &want).await;
        assert!(got.starts_with(&want), "{name}: {got} (want {want})");
    }
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_lists_face_results_live_finds_them_by_reference_number_and_shows_the_forms() {
    let Some((s, b)) = start().await else { return };
    // The clinic registered 佐藤 健一 as its patient P-0042.
    let siimm = onshi_seed::demo::file("requests/OQSsiimm01req_sato_kenichi.xml").unwrap();
    assert_eq!(
        s.post_file("OQSsiimm01req_web.xml", siimm).await.status,
        200
    );
    b.goto(&format!("http://{}/ui/terminal", s.addr)).await;
    b.wait_text("#faces", "まだありません").await;
    // He confirms at the card reader while the screen is open: his result appears without reloading.
    s.consent_to(
        MED,
        "D000000000000004",
        "4567",
        json!({"medication": true, "clinical": true}),
    )
    .await;
    s.consent_with_pin(MED, "D000000000000001", "1234").await;
    b.wait_text("#faces", "P-0042").await;
    b.wait_text("#faces", "山田").await;
    // Searched by the 照会番号: only his; opened by keyboard (Tab from the search button, Enter).
    b.script("document.getElementById('face-ref').value = 'P-0042'; return 1")
        .await;
    b.click("#face-search button").await;
    let rows = b.text("#faces").await;
    assert!(rows.contains("佐藤") && !rows.contains("山田"), "{rows}");
    b.script("document.querySelector('#face-search button').focus(); return 1")
        .await;
    b.keys("\u{E004}\u{E007}").await;
    b.wait_text("#r-banner", "資格 有効").await;
    b.wait_text("#r-table", "佐藤").await;
    assert_eq!(
        b.script("return document.getElementById('f-number').value")
            .await,
        json!("1203"),
        "the card data filled in for the views"
    );
    // The views follow: 診療情報 and the PDF form (consented to medication and 診療情報 at the reader).
    b.click("#view-sry").await;
    b.wait_text("#v-banner", "診療情報").await;
    assert_eq!(
        b.script("return document.getElementById('v-banner').className")
            .await,
        json!("ok"),
        "shown under the 診療情報 consent"
    );
    b.click("#pdf-yzk").await;
    b.wait_text("#v-banner", "PDF").await;
    assert_eq!(
        b.script("return document.getElementById('v-pdf').hidden")
            .await,
        json!(false)
    );
    b.screenshot("terminal-face-results").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_demo_card_made_on_the_reader_page_starts_with_the_first_registration() {
    let Some((s, b)) = start().await else { return };
    b.goto(&format!("http://{}/ui/reader", s.addr)).await;
    b.click("#new-card summary").await;
    b.wait_text("#nc-person", "山田　花子").await;
    b.choose("#nc-person", "山田　花子").await;
    b.script("document.getElementById('nc-pin').value = '2468'; return 1")
        .await;
    b.click("#card-form button").await;
    b.wait_text("#nc-status", "発行しました").await;
    b.click("#place").await;
    b.wait_text("#screen", "本人確認").await;
    // The PIN typed and entered from the keyboard.
    b.script("document.getElementById('pin').focus(); return 1")
        .await;
    b.keys("2468\u{E007}").await;
    b.wait_text("#screen", "初回登録").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_performs_a_scenario_and_shows_batches_disasters_rules_snapshots_and_usage() {
    let Some((s, b)) = start().await else { return };
    // The demo state that scenarios return to (`onshi up` saves it).
    let r = s
        .as_operator("POST", "/admin/v1/snapshots", json!({"name": "demo"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    b.goto(&format!("http://{}/", s.addr)).await;
    // A scenario step by step from the page, then checked whole.
    b.wait_text("#scenarios", "Locked card").await;
    b.click("[aria-label='perform the next step of Locked card']")
        .await;
    b.wait_text("#sc-steps", "He places his card").await;
    b.wait_text("#sc-status", "step 2 of 6").await;
    b.click("[aria-label='set the stage of Locked card and check every step']")
        .await;
    b.wait_text("#sc-status", "PASS").await;
    assert!(!b.text("#sc-steps").await.contains('✗'));
    // The state view: a medication batch, pending then done, without reloading.
    b.click("#tab-state").await;
    let at = |t: &str| onshi_platform::clock::parse_time(t).unwrap();
    s.core.clock.set(at("2026-12-07T09:00:00")).await.unwrap();
    let claims = onshi_seed::demo::file("claims/RECEIPTC_1310112345_202611.UKE").unwrap();
    let r = http::send(&s.addr, "POST", "/medication/v1/claims", &[], claims).await;
    assert_eq!(r.status, 201, "{}", r.text());
    b.wait_text("#batches", "pending").await;
    s.core.clock.set(at("2026-12-11T06:00:00")).await.unwrap();
    b.click("#batch-run").await;
    b.wait_text("#batches", "done").await;
    // A disaster declared from the page.
    for (id, v) in [
        ("d-name", "令和8年 台風"),
        ("d-prefs", "13, 14"),
        ("d-districts", "0415"),
        ("d-from", "20261201"),
        ("d-to", "20261231"),
    ] {
        b.script(&format!(
            "document.getElementById('{id}').value = '{v}'; return 1"
        ))
        .await;
    }
    b.click("#d-form button").await;
    b.wait_text("#disasters", "令和8年 台風").await;
    b.wait_text("#disasters", "郡市区 0415").await;
    // A terminal certificate issued, then revoked.
    b.click("[aria-label='issue a terminal certificate for 1310112345']")
        .await;
    b.wait_text("#f-status", "issued").await;
    assert!(b.text("#f-pem").await.contains("BEGIN CERTIFICATE"));
    b.click("[aria-label^='revoke the certificate of 1310112345 terminal-web']")
        .await;
    b.wait_text("#f-status", "revoked").await;
    b.wait_text("#facilities", "失効 revoked").await;
    // The controls view: a forced outcome added, listed, and removed; a bad fault refused in the API's words.
    b.click("#tab-controls").await;
    b.click("#forced-form button").await;
    b.wait_text("#forced", "validity:2").await;
    b.click("#forced button").await;
    b.wait_text("#forced", "なし").await;
    b.script(
        "document.getElementById('fault-spec').value = '{\"action\": \"sideways\"}'; return 1",
    )
    .await;
    b.click("#fault-form button").await;
    b.wait_text("#fault-status", "bad_request").await;
    // A snapshot saved.
    b.script("document.getElementById('snap-name').value = 'web_test'; return 1")
        .await;
    b.click("#snap-form button[type=submit]").await;
    b.wait_text("#snapshots", "web_test").await;
    b.screenshot("operator-controls").await;
    // The view is in the address: reloaded, the page opens on it.
    b.goto(&format!("http://{}/#controls", s.addr)).await;
    b.wait_text("#snapshots", "web_test").await;
    b.click("#tab-usage").await;
    // Usage: the confirmations of this test, as bars and per facility.
    b.click("#u-form button").await;
    b.wait_text("#u-facilities", MED).await;
    b.screenshot("operator-usage").await;
    // Japanese only: the English labels are hidden.
    b.choose("#lang", "日本語のみ").await;
    assert_eq!(
        b.script("return getComputedStyle(document.querySelector('h2 .en')).display")
            .await,
        json!("none")
    );
    b.choose("#lang", "日本語＋English").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_activated_reads_a_card_at_home_and_records_the_consent() {
    let Some((s, b)) = start().await else { return };
    b.goto(&format!("http://{}/ui/app", s.addr)).await;
    // Reading before activation is refused on screen.
    b.click("#read button").await;
    b.wait_text("#result", "activate this device first").await;
    // The terminal issues a code; the device activates with it.
    b.click("#issue").await;
    b.wait_text("#code", "居宅同意取得型").await;
    b.click("#activate button").await;
    b.wait_text("#device", "利用開始しました").await;
    // 高橋 正 at home: his PIN, then the consent screens for home visits.
    b.script("document.getElementById('pin').value = '6789'; return 1")
        .await;
    b.choose("#care", "訪問診療等").await;
    b.click("#k-medication").await;
    b.click("#read button").await;
    b.wait_text("#result", "同意を記録しました").await;
    b.wait_text("#xml", "<PharmacistsInfoConsFlg>1</PharmacistsInfoConsFlg>")
        .await;
    b.wait_text("#xml", "高橋").await;
    b.screenshot("app-home-visit").await;
    // A wrong PIN is refused with the reader's message.
    b.script("document.getElementById('pin').value = '0000'; return 1")
        .await;
    b.click("#read button").await;
    b.wait_text("#result", "pin_wrong").await;
    // At the 施術所 the device is qualification-only: no consent screens.
    b.choose("#facility", "オンシ整骨院").await;
    b.click("#issue").await;
    b.wait_text("#code", "資格確認限定型").await;
    b.click("#activate button").await;
    b.wait_text("#device", "資格確認限定型").await;
    assert_eq!(
        b.script("return document.getElementById('home').hidden")
            .await,
        json!(true)
    );
    b.click("#how-visual").await;
    b.choose("#card", "佐藤 健一").await;
    b.click("#read button").await;
    b.wait_text("#result", "qualification confirmed").await;
    b.stop().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_tablet_without_scrolling_sideways() {
    let Some((s, b)) = start().await else { return };
    // A journal entry, so the console's widest table has a row.
    let file = onshi_seed::demo::file("requests/OQSsiquc01req_yamada_taro.xml").unwrap();
    s.post_file("OQSsiquc01req_tablet.xml", file).await;
    // An iPad in portrait (CSS pixels).
    b.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 820, "height": 1180})),
    )
    .await;
    for page in ["/", "/ui/terminal", "/ui/reader", "/ui/portal", "/ui/app"] {
        b.goto(&format!("http://{}{page}", s.addr)).await;
        b.find("header").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sizes = b
            .script("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        assert!(
            sizes[0].as_i64() <= sizes[1].as_i64(),
            "{page} is wider than a tablet: {sizes}"
        );
    }
    b.goto(&format!("http://{}/ui/terminal", s.addr)).await;
    b.find("#persona option:nth-child(2)").await;
    b.screenshot("terminal-tablet").await;
    b.stop().await;
    s.stop().await;
}
