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

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
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
    let s = TestApp::start().await; // the clock frozen at 2026-11-21T10:00:00
    let Some(b) = Browser::start().await else {
        s.stop().await;
        return;
    };
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
    let s = TestApp::start().await;
    let Some(b) = Browser::start().await else {
        s.stop().await;
        return;
    };
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
    let s = TestApp::start().await;
    let Some(b) = Browser::start().await else {
        s.stop().await;
        return;
    };
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
    let s = TestApp::start().await;
    let Some(b) = Browser::start().await else {
        s.stop().await;
        return;
    };
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
    let s = TestApp::start().await;
    let Some(b) = Browser::start().await else {
        s.stop().await;
        return;
    };
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
    b.screenshot("patient-portal").await;
    b.stop().await;
    s.stop().await;
}
