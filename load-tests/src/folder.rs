//! The folder driver: a request file is written into `<folders>/<医療機関コード>/req/` (under a hidden name, then
//! renamed, as careful clients do) and its answer awaited under the paired name in `res/`, which is read and
//! removed as a レセコン does. One thread looks at the folders with waiting requests every 10 ms (the resolution of
//! folder latencies; the server's own scan interval is far longer).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

type Waiters = HashMap<PathBuf, oneshot::Sender<Result<Vec<u8>, String>>>;

/// The facility folders of a running simulator.
pub struct Folders {
    root: PathBuf,
    pending: Mutex<Waiters>,
}

/// The answer name paired with a request name (`OQSsiquc01req_x.xml` → `OQSsiquc01res_x.xml`), by the wire
/// crate's file-name rules.
pub fn answer_name(request: &str) -> Option<String> {
    onshi_wire::msg::file_name::RequestName::parse(request)
        .ok()
        .map(|n| n.response())
}

impl Folders {
    /// Watches `root` (the simulator's `<home>/folders`) until the returned value is dropped.
    pub fn new(root: &Path) -> anyhow::Result<Arc<Self>> {
        if !root.is_dir() {
            anyhow::bail!(
                "{}: no such folder (the simulator's <home>/folders)",
                root.display()
            );
        }
        let me = Arc::new(Self {
            root: root.to_path_buf(),
            pending: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&me);
        std::thread::Builder::new()
            .name("onshi-load folders".into())
            .spawn(move || poll(weak))?;
        Ok(me)
    }

    /// Writes one request file for `facility` and waits for its answer.
    pub async fn exchange(
        &self,
        facility: &str,
        name: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, String> {
        let dir = self.root.join(facility);
        let answer = answer_name(name).ok_or_else(|| format!("{name}: not a request name"))?;
        let (tx, rx) = oneshot::channel();
        let res = dir.join("res");
        self.pending
            .lock()
            .expect("waiters")
            .insert(res.join(&answer), tx);
        let req = dir.join("req");
        let tmp = req.join(format!(".{name}.tmp"));
        let written =
            std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, req.join(name)));
        if let Err(e) = written {
            self.pending
                .lock()
                .expect("waiters")
                .remove(&res.join(&answer));
            return Err(format!("writing into {}: {e}", req.display()));
        }
        // The `.err` convention: an unpaired request comes back in res/ with `<name>.err` beside it.
        self.pending
            .lock()
            .expect("waiters")
            .entry(res.join(format!("{name}.err")))
            .or_insert_with(|| oneshot::channel().0);
        rx.await
            .map_err(|_| "the folder driver stopped".to_string())?
    }
}

fn poll(me: Weak<Folders>) {
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let Some(f) = me.upgrade() else { return };
        let dirs: Vec<PathBuf> = {
            let p = f.pending.lock().expect("waiters");
            let mut d: Vec<PathBuf> = p
                .keys()
                .filter_map(|k| k.parent().map(Path::to_path_buf))
                .collect();
            d.sort();
            d.dedup();
            d
        };
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !f.pending.lock().expect("waiters").contains_key(&path) {
                    continue;
                }
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let is_err = path.extension().is_some_and(|e| e == "err");
                // An answer published in place may still be being written: take it when whole.
                if !is_err && !bytes.trim_ascii_end().ends_with(b"</XmlMsg>") {
                    continue;
                }
                let _ = std::fs::remove_file(&path);
                let mut p = f.pending.lock().expect("waiters");
                if is_err {
                    // The request itself came back: answer its waiter with the reason.
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    let request = name.trim_end_matches(".err");
                    let _ = std::fs::remove_file(dir.join(request));
                    p.remove(&path);
                    if let Some(tx) = answer_name(request).and_then(|a| p.remove(&dir.join(a))) {
                        let _ = tx.send(Err(format!(
                            "unpaired: {}",
                            String::from_utf8_lossy(&bytes).trim()
                        )));
                    }
                } else if let Some(tx) = p.remove(&path) {
                    let _ = tx.send(Ok(bytes));
                    // Its `.err` twin will never come.
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    let request = name.replacen("res", "req", 1);
                    p.remove(&dir.join(format!("{request}.err")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_names_pair_with_request_names() {
        assert_eq!(
            answer_name("OQSsiquc01req_L1_7.xml").unwrap(),
            "OQSsiquc01res_L1_7.xml"
        );
        assert_eq!(
            answer_name("OQSmuquc02req_a.xml").unwrap(),
            "OQSmuquc02res_a.xml"
        );
        assert!(answer_name("hello.xml").is_none());
    }

    #[tokio::test]
    async fn an_answer_written_into_res_reaches_its_waiter_and_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let fac = root.path().join("1310112345");
        std::fs::create_dir_all(fac.join("req")).unwrap();
        std::fs::create_dir_all(fac.join("res")).unwrap();
        let f = Folders::new(root.path()).unwrap();
        let server = {
            let fac = fac.clone();
            tokio::spawn(async move {
                let req = fac.join("req/OQSsiquc01req_t.xml");
                while !req.exists() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                std::fs::remove_file(&req).unwrap();
                std::fs::write(fac.join("res/OQSsiquc01res_t.xml"), "<XmlMsg>ok</XmlMsg>\n")
                    .unwrap();
            })
        };
        let answer = f
            .exchange("1310112345", "OQSsiquc01req_t.xml", b"<XmlMsg/>")
            .await
            .unwrap();
        server.await.unwrap();
        assert_eq!(answer, b"<XmlMsg>ok</XmlMsg>\n");
        assert!(!fac.join("res/OQSsiquc01res_t.xml").exists());
        assert!(f.pending.lock().unwrap().is_empty());
        assert!(Folders::new(&root.path().join("nope")).is_err());
    }
}
