//! The folder interface as clients of the real terminal software see it: the file-system events of answers
//! (watched with inotify) in each publication mode, the `.err` convention for requests that cannot be paired with
//! an answer, header echo on every answer whose header can be read, and a reader polling during writes.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use onshi_platform::config::{Config, FolderErrors, Publish};
use onshi_wire::xml;

use crate::app::{tree, wait_for, TestApp, MED, NOW};

/// A real inotify watch on one folder (no crate: the kernel interface through libc).
struct Inotify {
    fd: i32,
}

const MASK: u32 = libc::IN_CREATE | libc::IN_MODIFY | libc::IN_CLOSE_WRITE | libc::IN_MOVED_TO;

impl Inotify {
    fn watch(dir: &Path) -> Self {
        // SAFETY: plain system calls on a descriptor this value owns; the path is a valid C string.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
            assert!(fd >= 0, "inotify_init1");
            let path = CString::new(dir.as_os_str().as_bytes()).unwrap();
            assert!(libc::inotify_add_watch(fd, path.as_ptr(), MASK) >= 0);
            Self { fd }
        }
    }

    /// The events so far, by file name: `create`, `modify`, `close_write`, `moved_to`, in order.
    fn events(&self) -> HashMap<String, Vec<&'static str>> {
        let mut out: HashMap<String, Vec<&'static str>> = HashMap::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            // SAFETY: reads into a buffer of the length given.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return out;
            }
            let mut at = 0usize;
            while at < n as usize {
                // SAFETY: the kernel writes whole `inotify_event` records followed by `len` name bytes.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
                let head = std::mem::size_of::<libc::inotify_event>();
                let name = &buf[at + head..at + head + ev.len as usize];
                let name = String::from_utf8_lossy(name.split(|b| *b == 0).next().unwrap_or(&[]))
                    .into_owned();
                let kind = match ev.mask {
                    m if m & libc::IN_CREATE != 0 => "create",
                    m if m & libc::IN_MODIFY != 0 => "modify",
                    m if m & libc::IN_CLOSE_WRITE != 0 => "close_write",
                    _ => "moved_to",
                };
                out.entry(name).or_default().push(kind);
                at += head + ev.len as usize;
            }
        }
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns.
        unsafe { libc::close(self.fd) };
    }
}

fn demo_request() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../seed/demo/requests/OQSsiquc01req_yamada_taro.xml"),
    )
    .unwrap()
}

/// Drops a request, waits for its answer, and returns the events `res/` saw.
async fn events_of_one_answer(s: &TestApp, slug: &str) -> HashMap<String, Vec<&'static str>> {
    let res = s.folder(MED).join("res");
    let watch = Inotify::watch(&res);
    std::fs::write(
        s.folder(MED).join(format!("req/OQSsiquc01req_{slug}.xml")),
        demo_request(),
    )
    .unwrap();
    wait_for(&res.join(format!("OQSsiquc01res_{slug}.xml"))).await;
    watch.events()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_created_under_their_final_name_or_renamed_in_as_configured() {
    // Default: created and written like the real terminal software (FileSystemWatcher.Created, fs.watch change).
    let s = TestApp::start().await;
    let events = events_of_one_answer(&s, "inplace").await;
    let answer = &events["OQSsiquc01res_inplace.xml"];
    assert_eq!(answer.first(), Some(&"create"), "{events:?}");
    assert!(
        answer.contains(&"modify") && answer.contains(&"close_write"),
        "{events:?}"
    );
    assert!(!answer.contains(&"moved_to"), "{events:?}");
    assert!(
        events.keys().all(|n| !n.starts_with('.')),
        "no temporary file: {events:?}"
    );
    s.stop().await;

    // The option: one moved-in event, never a partial file under the final name.
    let config = Config {
        folder_publish: Publish::Rename,
        ..Config::default()
    };
    let s = TestApp::with(config, NOW).await;
    let events = events_of_one_answer(&s, "renamed").await;
    assert_eq!(
        events["OQSsiquc01res_renamed.xml"],
        vec!["moved_to"],
        "{events:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_cannot_be_paired_comes_back_with_its_err_file() {
    let s = TestApp::start().await;
    let fac = s.folder(MED);
    let good = String::from_utf8(demo_request()).unwrap();
    // Unreadable XML: the request is returned beside `<name>.err` (code and message), and no answer is written.
    let broken = good.replace("</MessageHeader>", "");
    std::fs::write(fac.join("req/OQSsiquc01req_broken.xml"), &broken).unwrap();
    let err = wait_for(&fac.join("res/OQSsiquc01req_broken.xml.err")).await;
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.starts_with("EC0001 ") && err.ends_with("\r\n"),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_to_string(fac.join("res/OQSsiquc01req_broken.xml")).unwrap(),
        broken
    );
    assert!(!fac.join("req/OQSsiquc01req_broken.xml").exists());
    assert!(!fac.join("res/OQSsiquc01res_broken.xml").exists());
    // A readable header with a bad value: a response paired by its ArbitraryFileIdentifier, never an `.err`.
    let bad_date = good.replace(
        "<QualificationConfirmationDate>",
        "<QualificationConfirmationDate>x",
    );
    std::fs::write(fac.join("req/OQSsiquc01req_paired.xml"), &bad_date).unwrap();
    let ans = tree(&wait_for(&fac.join("res/OQSsiquc01res_paired.xml")).await);
    let h = ans.child("MessageHeader").unwrap();
    assert_eq!(h.value("SegmentOfResult"), Some("9"));
    assert_eq!(h.value("MedicalInstitutionCode"), Some(MED));
    assert!(h.value("ArbitraryFileIdentifier").is_some());
    assert!(!fac.join("res/OQSsiquc01req_paired.xml.err").exists());
    // A file whose body is another kind's (a 資格確認 body sent as 医療扶助) still echoes the header it could read.
    std::fs::write(fac.join("req/OQSmutic01req_kind.xml"), &good).unwrap();
    let ans = tree(&wait_for(&fac.join("res/OQSmutic01res_kind.xml")).await);
    let h = ans.child("MessageHeader").unwrap();
    assert_eq!(h.value("ErrorCode"), Some("EC0015"));
    assert_eq!(h.value("MedicalInstitutionCode"), Some(MED));
    assert_eq!(
        h.value("ArbitraryFileIdentifier"),
        tree(good.as_bytes())
            .child("MessageHeader")
            .unwrap()
            .value("ArbitraryFileIdentifier")
    );
    s.stop().await;

    // The option: an error response file instead, the request removed.
    let config = Config {
        folder_errors: FolderErrors::Response,
        ..Config::default()
    };
    let s = TestApp::with(config, NOW).await;
    let fac = s.folder(MED);
    std::fs::write(fac.join("req/OQSsiquc01req_broken.xml"), &broken).unwrap();
    let ans = tree(&wait_for(&fac.join("res/OQSsiquc01res_broken.xml")).await);
    assert_eq!(
        ans.child("MessageHeader").unwrap().value("ErrorCode"),
        Some("EC0001")
    );
    assert!(!fac.join("res/OQSsiquc01req_broken.xml.err").exists());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_polling_during_writes_never_sees_a_half_file_that_looks_whole() {
    let s = TestApp::start().await;
    let res = s.folder(MED).join("res");
    let req = s.folder(MED).join("req");
    let answers = 40;
    // A client polling res/ as fast as it can, keeping every read that parses as a whole XML document.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (res, stop) = (res.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut whole: Vec<(PathBuf, Vec<u8>)> = Vec::new();
            let mut reads = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for e in std::fs::read_dir(&res).unwrap().flatten() {
                    if let Ok(b) = std::fs::read(e.path()) {
                        reads += 1;
                        if xml::parse(&b, &Default::default()).is_ok() {
                            whole.push((e.path(), b));
                        }
                    }
                }
            }
            (whole, reads)
        })
    };
    for n in 0..answers {
        std::fs::write(req.join(format!("OQSsiquc01req_p{n}.xml")), demo_request()).unwrap();
    }
    for n in 0..answers {
        wait_for(&res.join(format!("OQSsiquc01res_p{n}.xml"))).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (whole, reads) = poller.join().unwrap();
    assert!(reads > answers, "the poller read {reads} times");
    for (path, bytes) in whole {
        assert_eq!(
            bytes,
            std::fs::read(&path).unwrap(),
            "{} was read complete-looking before it was whole",
            path.display()
        );
    }
    s.stop().await;
}
