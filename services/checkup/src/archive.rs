//! Reading a submission: a ZIP archive of the electronic standard format (reference `checkups-cda.md` §2.2–2.4) or
//! one hc08 document. Archive-level problems refuse the whole submission before any person is read: not a ZIP, an
//! entry name that is absolute or climbs out (`..`), an archive inside the archive, entries outside one root folder
//! named `{sender10}_{receiver8}_{YYYYMMDD}{N}_{X}`, no `ix08_V08.xml`, an index whose `totalRecordCount` is not the
//! number of DATA + CLAIMS files, a 保健指導 archive, a `su08_V08.xml` summary outside its schema or of another
//! kind, too many entries, or an entry that expands beyond its limit or by more than [`limits::CHECKUP_RATIO`] times
//! (a ZIP bomb). CLAIMS files are paired with their DATA documents by name (unpaired ones are warned about). Then each `DATA/*.xml` is read (at most
//! [`limits::CHECKUP_DOCUMENT`] bytes), parsed and checked on its own: one person's problems never stop the others.
//! Everything runs on a blocking thread that hands the files over one at a time through a bounded channel, so
//! memory does not depend on the size of the archive.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use chrono::NaiveDate;
use onshi_platform::config::limits;

use crate::validate::{self, Checkup, Problem};

/// What the index of an archive says.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ArchiveInfo {
    pub root: String,
    /// 種別コード: 10 保険者→国 (annual report), 12 閲覧用 (the monthly registration for viewing), …
    pub interaction_type: Option<String>,
    /// 実施区分: 1 特定健診情報, 3 国への実績報告, …
    pub service_event_type: Option<String>,
    pub total_record_count: Option<u64>,
    pub sender: Option<String>,
    pub receiver: Option<String>,
    /// What `su08_V08.xml` says, when the archive has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<SummaryInfo>,
}

/// What the summary of an archive (`su08_V08.xml`, 集計情報 of the 決済情報) says; amounts in yen.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SummaryInfo {
    pub service_event_type: Option<String>,
    pub total_subject_count: Option<u64>,
    pub total_cost_amount: Option<u64>,
    pub total_payment_amount: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_payment_by_other_program: Option<u64>,
    pub total_claim_amount: Option<u64>,
}

/// One person file, read and checked.
#[derive(Debug)]
pub struct File {
    pub name: String,
    pub sha256: String,
    pub checked: Result<Checkup, Vec<Problem>>,
}

/// Why a submission was refused whole.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Invalid(String),
    #[error("reading the submission: {0}")]
    Io(#[from] std::io::Error),
}

fn invalid<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Invalid(message.into()))
}

/// Warnings about an archive: the first [`crate::submit::LISTED`], and how many there were.
#[derive(Debug, Clone, Default)]
pub struct Warnings {
    pub listed: Vec<String>,
    pub total: usize,
}

impl Warnings {
    fn push(&mut self, warning: String) {
        self.total += 1;
        if self.listed.len() < crate::submit::LISTED {
            self.listed.push(warning);
        }
    }
}

/// A submission being read: what its index says, its warnings, and its files as they come.
pub struct Submission {
    pub archive: Option<ArchiveInfo>,
    pub warnings: Warnings,
    files: tokio::sync::mpsc::Receiver<File>,
    task: tokio::task::JoinHandle<Result<(), Refusal>>,
}

impl Submission {
    /// Opens the submission stored at `path` (checked as a whole first); `today` bounds checkup dates.
    pub async fn open(path: &Path, today: NaiveDate) -> Result<Self, Refusal> {
        let path = path.to_path_buf();
        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        // Room for two batches of the applying side, so that reading goes on while a batch is written.
        let (tx, files) = tokio::sync::mpsc::channel(2 * crate::submit::BATCH);
        let task = tokio::task::spawn_blocking(move || {
            read(
                std::fs::File::open(&path)?,
                today,
                |head| head_tx.send(head).is_ok(),
                |file| tx.blocking_send(file).is_ok(),
            )
        });
        match head_rx.await {
            Ok((archive, warnings)) => Ok(Self {
                archive,
                warnings,
                files,
                task,
            }),
            Err(_) => Err(outcome(task).await.err().unwrap_or_else(|| {
                Refusal::Io(std::io::Error::other(
                    "the submission ended before it was read",
                ))
            })),
        }
    }

    pub async fn next(&mut self) -> Option<File> {
        self.files.recv().await
    }

    /// After the last file: whether the whole submission was read.
    pub async fn finish(self) -> Result<(), Refusal> {
        drop(self.files);
        outcome(self.task).await
    }
}

async fn outcome(task: tokio::task::JoinHandle<Result<(), Refusal>>) -> Result<(), Refusal> {
    task.await.unwrap_or_else(|e| {
        Err(Refusal::Io(std::io::Error::other(format!(
            "the reading thread failed: {e}"
        ))))
    })
}

type Head = (Option<ArchiveInfo>, Warnings);

/// A whole submission held in memory, read the same way (tests and the fuzzer): what its index says, its warnings
/// and its files.
pub fn read_all(bytes: &[u8], today: NaiveDate) -> Result<(Head, Vec<File>), Refusal> {
    let (mut head, mut files) = (None, Vec::new());
    read(
        std::io::Cursor::new(bytes),
        today,
        |h| {
            head = Some(h);
            true
        },
        |f| {
            files.push(f);
            true
        },
    )?;
    Ok((head.unwrap_or_default(), files))
}

/// Reads a submission: `head` gets what the index says once the archive is sound as a whole (`false`: stop),
/// `sink` each person file in turn (`false`: stop).
fn read<R: Read + Seek>(
    mut source: R,
    today: NaiveDate,
    head: impl FnOnce(Head) -> bool,
    sink: impl FnMut(File) -> bool,
) -> Result<(), Refusal> {
    let mut magic = Vec::with_capacity(4);
    (&mut source).take(4).read_to_end(&mut magic)?;
    source.seek(SeekFrom::Start(0))?;
    if magic.starts_with(b"PK\x03\x04") {
        return read_archive(source, today, head, sink);
    }
    let bytes = read_limited(source, "the document")?;
    let text_like = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&bytes)
        .trim_ascii_start();
    if !text_like.starts_with(b"<") {
        return invalid("the submission is neither a ZIP archive nor an hc08 XML document");
    }
    let mut sink = sink;
    if head((None, Warnings::default())) {
        sink(file("document".into(), &bytes, today));
    }
    Ok(())
}

/// Reads at most [`limits::CHECKUP_DOCUMENT`] bytes; more refuses.
fn read_limited(r: impl Read, what: &str) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    r.take(limits::CHECKUP_DOCUMENT as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > limits::CHECKUP_DOCUMENT {
        return invalid(format!(
            "{what} is larger than the limit of {} bytes",
            limits::CHECKUP_DOCUMENT
        ));
    }
    Ok(bytes)
}

fn file(name: String, bytes: &[u8], today: NaiveDate) -> File {
    let checked = match crate::cda::parse(bytes) {
        Ok(doc) => validate::check(&doc, today),
        Err(e) => Err(vec![Problem {
            item: None,
            message: e.0,
        }]),
    };
    File {
        name,
        sha256: onshi_platform::sha256_hex(bytes),
        checked,
    }
}

/// Whether a root folder name follows `{sender10}_{receiver8}_{YYYYMMDD}{N}_{X}`.
fn root_name_ok(root: &str) -> bool {
    let parts: Vec<&str> = root.split('_').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 4
        && digits(parts[0], 10)
        && digits(parts[1], 8)
        && digits(parts[2], 9)
        && crate::cda::date(&parts[2][..8]).is_some()
        && digits(parts[3], 1)
}

/// Whether a DATA file name follows `{h}{institution10}{YYYYMMDD}{N}{X}{serial6}.xml`.
fn data_name_ok(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".xml") else {
        return false;
    };
    stem.len() == 27
        && stem.starts_with(['h', 'g'])
        && stem[1..].bytes().all(|b| b.is_ascii_digit())
}

const NESTED: &[&str] = &[
    ".zip", ".gz", ".tgz", ".tar", ".7z", ".lzh", ".rar", ".bz2", ".xz",
];

/// What an entry is in the archive layout.
enum Part<'a> {
    Folder,
    Index,
    Summary,
    Data(&'a str),
    Claims(&'a str),
    Schema,
    Other,
}

fn part(rest: &str) -> Part<'_> {
    match rest.split_once('/') {
        _ if rest.is_empty() || rest.ends_with('/') => Part::Folder,
        None if rest == "ix08_V08.xml" => Part::Index,
        None if rest == "su08_V08.xml" => Part::Summary,
        Some(("DATA", f)) if f.ends_with(".xml") && !f.contains('/') => Part::Data(f),
        Some(("CLAIMS", f)) if f.ends_with(".xml") && !f.contains('/') => Part::Claims(f),
        Some(("XSD", _)) => Part::Schema,
        _ => Part::Other,
    }
}

/// The path inside the root folder of a checked entry name.
fn inside(name: &str) -> &str {
    name.split_once('/').map_or("", |(_, rest)| rest)
}

fn read_archive<R: Read + Seek>(
    source: R,
    today: NaiveDate,
    head: impl FnOnce(Head) -> bool,
    mut sink: impl FnMut(File) -> bool,
) -> Result<(), Refusal> {
    let mut source = std::io::BufReader::new(source);
    let dir = crate::zipdir::directory(&mut source)
        .map_err(|e| Refusal::Invalid(format!("the archive cannot be read as ZIP: {e}")))?;
    if dir.entries > limits::CHECKUP_ENTRIES as u64 {
        return invalid(format!(
            "the archive has {} entries; the limit is {}",
            dir.entries,
            limits::CHECKUP_ENTRIES
        ));
    }
    let entry_error =
        |e: String| Refusal::Invalid(format!("the archive cannot be read as ZIP: {e}"));
    // Pass 1, over the central directory only (nothing is expanded): every name, size and ratio.
    let mut root: Option<String> = None;
    let (mut documents, mut claims, mut warnings) = (0u64, 0u64, Warnings::default());
    let (mut index, mut summary) = (None, None);
    // DATA and CLAIMS files pair by their names without the first letter; kept as hashes (bounded by the
    // entries limit) to warn about claims without their document.
    let mut data_keys = std::collections::HashSet::new();
    let mut claim_keys: Vec<(u64, String)> = Vec::new();
    let mut expanded = 0u64;
    let mut walk = crate::zipdir::Walk::new(&dir);
    while let Some(entry) = walk.next(&mut source) {
        let entry = entry.map_err(entry_error)?;
        let name = entry.name.replace('\\', "/");
        let bad_name = name.starts_with('/')
            || name.split('/').any(|p| p == ".." || p == ".")
            || name.as_bytes().get(1) == Some(&b':')
            || name.contains('\0');
        if bad_name {
            return invalid(format!(
                "entry {name:?} is absolute or leaves the archive's folder"
            ));
        }
        let lower = name.to_ascii_lowercase();
        if NESTED.iter().any(|x| lower.ends_with(x)) {
            return invalid(format!(
                "entry {name:?} is an archive: nested archives are not accepted"
            ));
        }
        expanded = expanded.saturating_add(entry.size);
        let ratio = entry.size / entry.compressed.max(1);
        if ratio > limits::CHECKUP_RATIO || expanded > limits::CHECKUP_EXPANDED {
            return invalid(format!(
                "entry {name:?} expands {ratio} times (to {} bytes): refused as a ZIP bomb",
                entry.size
            ));
        }
        let first = name.split('/').next().unwrap_or_default();
        match &root {
            None => root = Some(first.to_string()),
            Some(r) if r != first => {
                return invalid(format!(
                    "entries must all be inside one root folder: {r:?} and {first:?}"
                ))
            }
            _ => {}
        }
        match part(inside(&name)) {
            Part::Index => index = Some(entry),
            Part::Summary => summary = Some(entry),
            Part::Data(f) => {
                data_keys.insert(pair_key(f));
                if entry.size > limits::CHECKUP_DOCUMENT as u64 {
                    return invalid(format!(
                        "entry {name:?} is larger than the limit of {} bytes",
                        limits::CHECKUP_DOCUMENT
                    ));
                }
                if !data_name_ok(f) {
                    warnings.push(format!(
                        "{name}: the name does not follow h + 機関番号 + date + serial (accepted)"
                    ));
                }
                documents += 1;
            }
            Part::Claims(f) => {
                claims += 1;
                if claim_keys.len() < crate::submit::LISTED {
                    claim_keys.push((pair_key(f), name.clone()));
                } else if !data_keys.contains(&pair_key(f)) {
                    warnings.push(format!("{name}: a claim without its DATA document"));
                }
            }
            Part::Other => {
                warnings.push(format!("{name}: not part of the archive layout (ignored)"))
            }
            Part::Folder | Part::Schema => {}
        }
    }
    let Some(root) = root else {
        return invalid("the archive is empty");
    };
    if !root_name_ok(&root) {
        return invalid(format!(
            "the root folder {root:?} is not named {{sender10}}_{{receiver8}}_{{YYYYMMDD}}{{N}}_{{X}}"
        ));
    }
    let Some(index) = index else {
        return invalid(format!("{root}/ix08_V08.xml (the index) is missing"));
    };
    let mut inflater = crate::zipdir::Inflater::default();
    let bytes = inflater
        .open(&mut source, &index, limits::CHECKUP_DOCUMENT)
        .map_err(|e| Refusal::Invalid(format!("the index cannot be read: {e}")))?;
    let mut info = read_index(&bytes)?;
    info.root = root.clone();
    if info.total_record_count != Some(documents + claims) {
        return invalid(format!(
            "ix08 totalRecordCount is {:?}, but the archive holds {documents} DATA and {claims} CLAIMS files",
            info.total_record_count,
        ));
    }
    match info.service_event_type.as_deref() {
        Some("1" | "3" | "4" | "5") => {}
        Some("2") => {
            return invalid("特定保健指導 archives (実施区分 2) are not registered by this system")
        }
        other => {
            return invalid(format!(
                "ix08 serviceEventType must be 1 (特定健診情報), not {other:?}"
            ))
        }
    }
    for (key, name) in claim_keys {
        if !data_keys.contains(&key) {
            warnings.push(format!("{name}: a claim without its DATA document"));
        }
    }
    drop(data_keys);
    match summary {
        Some(entry) => {
            let bytes = inflater
                .open(&mut source, &entry, limits::CHECKUP_DOCUMENT)
                .map_err(|e| Refusal::Invalid(format!("the summary cannot be read: {e}")))?;
            let summary = read_summary(&bytes)?;
            if summary.service_event_type != info.service_event_type {
                return invalid(format!(
                    "su08 serviceEventType is {:?}, but the index says {:?}",
                    summary.service_event_type, info.service_event_type
                ));
            }
            if summary.total_subject_count != Some(claims) {
                warnings.push(format!(
                    "su08 totalSubjectCount is {:?}, but the archive holds {claims} CLAIMS files",
                    summary.total_subject_count
                ));
            }
            info.summary = Some(summary);
        }
        None if claims > 0 => warnings.push(format!(
            "{root}: {claims} CLAIMS files but no su08_V08.xml (the summary goes with the claims)"
        )),
        None => {}
    }
    if !head((Some(info), warnings)) {
        return Ok(());
    }
    // Pass 2: each person document, read and checked in turn.
    let mut walk = crate::zipdir::Walk::new(&dir);
    while let Some(entry) = walk.next(&mut source) {
        let entry = entry.map_err(entry_error)?;
        let name = entry.name.replace('\\', "/");
        if !matches!(part(inside(&name)), Part::Data(_)) {
            continue;
        }
        let bytes = inflater
            .open(&mut source, &entry, limits::CHECKUP_DOCUMENT)
            .map_err(Refusal::Invalid)?;
        if !sink(file(name, &bytes, today)) {
            return Ok(());
        }
    }
    Ok(())
}

/// The key pairing a DATA file with its CLAIMS file: the name without its first letter (reference §2.3).
fn pair_key(file: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    file.get(1..).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Walks a small header file (the index or the summary) whose root element is `root`: `each` gets every element's
/// parent name, name and attributes (by local name). Refuses what is not well-formed, has a DOCTYPE or nests deep.
fn read_header(
    bytes: &[u8],
    what: &str,
    root: &str,
    mut each: impl FnMut(Option<&str>, &str, &dyn Fn(&str) -> Option<String>),
) -> Result<(), Refusal> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| Refusal::Invalid(format!("the {what} is not UTF-8")))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let bad =
        |e: &dyn std::fmt::Display| Refusal::Invalid(format!("the {what} is not well-formed: {e}"));
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::DocType(_) => return invalid(format!("the {what} has a DOCTYPE")),
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (Event::Start(e) | Event::Empty(e)) = &ev else {
                    unreachable!()
                };
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.len() > 8 {
                    return invalid(format!("the {what} nests too deep"));
                }
                if path.is_empty() && name != root {
                    return invalid(format!("the {what}'s root is {name:?}, not {root}"));
                }
                let attr = |key: &str| -> Option<String> {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == key.as_bytes())
                        .and_then(|a| a.unescape_value().ok().map(|v| v.trim().to_string()))
                };
                each(path.last().map(String::as_str), &name, &attr);
                if matches!(ev, Event::Start(_)) {
                    path.push(name);
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(())
}

/// The fields of `ix08_V08.xml`.
fn read_index(bytes: &[u8]) -> Result<ArchiveInfo, Refusal> {
    let mut info = ArchiveInfo::default();
    read_header(bytes, "index", "index", |parent, name, attr| {
        match (parent, name) {
            (Some("index"), "interactionType") => info.interaction_type = attr("code"),
            (Some("index"), "serviceEventType") => info.service_event_type = attr("code"),
            (Some("index"), "totalRecordCount") => {
                info.total_record_count = attr("value").and_then(|v| v.parse().ok())
            }
            (Some("sender"), "id") => info.sender = attr("extension"),
            (Some("receiver"), "id") => info.receiver = attr("extension"),
            _ => {}
        }
    })?;
    Ok(info)
}

/// The fields of `su08_V08.xml`, checked against `su08_V08.xsd` (reference §2.4): the subject count 0–999,999,
/// each amount 0–999,999,999 yen (`currency` JPY when written); all but `totalPaymentByOtherProgram` required.
fn read_summary(bytes: &[u8]) -> Result<SummaryInfo, Refusal> {
    let mut info = SummaryInfo::default();
    let mut problems: Vec<String> = Vec::new();
    read_header(bytes, "summary", "summary", |parent, name, attr| {
        if parent != Some("summary") {
            return;
        }
        let number = |max: u64| {
            let value = attr("value");
            value
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("su08 {name} value {value:?} is not a number 0–{max}"))
        };
        let amount = || match attr("currency") {
            Some(c) if c != "JPY" => Err(format!("su08 {name} is in {c:?}, not JPY")),
            _ => number(999_999_999),
        };
        let (slot, got) = match name {
            "serviceEventType" => {
                info.service_event_type = attr("code");
                return;
            }
            "totalSubjectCount" => (&mut info.total_subject_count, number(999_999)),
            "totalCostAmount" => (&mut info.total_cost_amount, amount()),
            "totalPaymentAmount" => (&mut info.total_payment_amount, amount()),
            "totalPaymentByOtherProgram" => (&mut info.total_payment_by_other_program, amount()),
            "totalClaimAmount" => (&mut info.total_claim_amount, amount()),
            _ => return,
        };
        match got {
            Ok(v) => *slot = Some(v),
            Err(p) => problems.push(p),
        }
    })?;
    let required = [
        ("serviceEventType", info.service_event_type.is_some()),
        ("totalSubjectCount", info.total_subject_count.is_some()),
        ("totalCostAmount", info.total_cost_amount.is_some()),
        ("totalPaymentAmount", info.total_payment_amount.is_some()),
        ("totalClaimAmount", info.total_claim_amount.is_some()),
    ];
    if let Some(p) = problems.into_iter().next() {
        return invalid(p);
    }
    if let Some((missing, _)) = required.iter().find(|(_, present)| !present) {
        return invalid(format!("su08 {missing} is missing"));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(root_name_ok("5521111111_00280081_202405271_1"));
        assert!(!root_name_ok("5521111111_00280081_20240527_1"));
        assert!(!root_name_ok("../x"));
        assert!(data_name_ok("h12345678902025010101000001.xml"));
        assert!(!data_name_ok("h2813000000_0059_00280081.xml"));
    }

    #[test]
    fn warnings_are_listed_up_to_the_cap_and_counted() {
        use std::io::Write;
        let date = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
        let root = crate::synthetic::root_name("1310112345", "01130012", date, 0, 1);
        let mut out = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default();
        for n in 0..1_100 {
            z.start_file(format!("{root}/notes/{n}.txt"), options)
                .unwrap();
            z.write_all(b"x").unwrap();
        }
        z.start_file(format!("{root}/ix08_V08.xml"), options)
            .unwrap();
        z.write_all(crate::synthetic::index("1310112345", "01130012", date, 12, 1, 0).as_bytes())
            .unwrap();
        z.finish().unwrap();
        let ((_, warnings), files) = read_all(out.get_ref(), date).unwrap();
        assert!(files.is_empty());
        assert_eq!(
            (warnings.listed.len(), warnings.total),
            (crate::submit::LISTED, 1_100)
        );
    }

    #[test]
    fn the_index_is_read() {
        let x = crate::synthetic::index(
            "1310112345",
            "01130012",
            NaiveDate::from_ymd_opt(2025, 6, 10).unwrap(),
            12,
            1,
            3,
        );
        let i = read_index(x.as_bytes()).unwrap();
        assert_eq!(
            (
                i.interaction_type.as_deref(),
                i.service_event_type.as_deref(),
                i.total_record_count,
                i.receiver.as_deref()
            ),
            (Some("12"), Some("1"), Some(3), Some("01130012"))
        );
    }

    /// An archive of one DATA document and these CLAIMS names, with `summary` as su08 when given.
    fn with_claims(claims: &[&str], summary: Option<&str>) -> Vec<u8> {
        use std::io::Write;
        let date = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
        let root = crate::synthetic::root_name("1310112345", "01130012", date, 0, 1);
        let mut out = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default();
        let doc = crate::synthetic::document(&crate::synthetic::Example::vector_one());
        z.start_file(
            format!("{root}/DATA/h13101123452025061001000001.xml"),
            options,
        )
        .unwrap();
        z.write_all(doc.as_bytes()).unwrap();
        for c in claims {
            z.start_file(format!("{root}/CLAIMS/{c}"), options).unwrap();
            z.write_all(b"<ClinicalDocument/>").unwrap();
        }
        if let Some(summary) = summary {
            z.start_file(format!("{root}/su08_V08.xml"), options)
                .unwrap();
            z.write_all(summary.as_bytes()).unwrap();
        }
        z.start_file(format!("{root}/ix08_V08.xml"), options)
            .unwrap();
        let index = crate::synthetic::index("1310112345", "01130012", date, 1, 1, 1 + claims.len());
        z.write_all(index.as_bytes()).unwrap();
        z.finish().unwrap();
        out.into_inner()
    }

    fn summary(kind: u8, subjects: &str, currency: &str, claim: bool) -> String {
        let claim = if claim {
            r#"<totalClaimAmount value="7000" currency="JPY"/>"#
        } else {
            ""
        };
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><summary xmlns="https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000161103.html">
<serviceEventType code="{kind}"/><totalSubjectCount value="{subjects}"/>
<totalCostAmount value="9000" currency="{currency}"/><totalPaymentAmount value="2000" currency="JPY"/>{claim}</summary>"#
        )
    }

    #[test]
    fn the_summary_is_checked_and_claims_pair_with_their_documents() {
        let today = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
        let paired = "c13101123452025061001000001.xml";
        let alone = "c13101123452025061001000002.xml";
        let zip = with_claims(&[paired, alone], Some(&summary(1, "2", "JPY", true)));
        let ((info, warnings), files) = read_all(&zip, today).unwrap();
        assert_eq!(files.len(), 1);
        let s = info.unwrap().summary.unwrap();
        assert_eq!(
            (
                s.total_subject_count,
                s.total_cost_amount,
                s.total_claim_amount
            ),
            (Some(2), Some(9000), Some(7000))
        );
        assert_eq!(warnings.total, 1, "{:?}", warnings.listed);
        assert!(
            warnings.listed[0].ends_with(&format!("{alone}: a claim without its DATA document"))
        );

        // The subject count disagrees: a warning. Claims without a summary: a warning.
        let zip = with_claims(&[paired], Some(&summary(1, "5", "JPY", true)));
        let ((_, warnings), _) = read_all(&zip, today).unwrap();
        assert!(
            warnings.listed[0].contains("totalSubjectCount is Some(5)"),
            "{:?}",
            warnings.listed
        );
        let ((_, warnings), _) = read_all(&with_claims(&[paired], None), today).unwrap();
        assert!(
            warnings.listed[0].contains("no su08_V08.xml"),
            "{:?}",
            warnings.listed
        );

        // A summary of another kind, in another currency, or without a required amount: refused whole.
        for (bad, why) in [
            (
                summary(3, "1", "JPY", true),
                "serviceEventType is Some(\"3\")",
            ),
            (summary(1, "1", "USD", true), "not JPY"),
            (summary(1, "x", "JPY", true), "not a number"),
            (summary(1, "1", "JPY", false), "totalClaimAmount is missing"),
            ("<index/>".to_string(), "not summary"),
        ] {
            match read_all(&with_claims(&[paired], Some(&bad)), today) {
                Err(Refusal::Invalid(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{why}: {:?}", other.map(|_| ())),
            }
        }
    }
}
