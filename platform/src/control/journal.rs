//! The request journal: a bounded ring of the recent exchanges of this process (transport, message kind, facility,
//! timing, outcome, the controls that acted, and the request and answer bytes), with a query API. Memory is bounded
//! twice: by the number of entries and by the bytes of the bodies kept. The bodies live in one byte ring allocated
//! once ([`BODY_BUDGET`]); an entry whose bytes were written over leaves with them (the oldest go first). Keeping
//! them out of the heap matters: per-entry buffers fragmented it and cost the answer path ≈ 3 %
//! (`docs/PERFORMANCE.md`). A body larger than [`MAX_BODY`] is kept cut, and the entry says so with its full length —
//! never silently.
//!
//! Bodies carry personal data: they are kept only in sandbox mode; in strict mode the journal holds the exchange's
//! metadata only. Load mode turns it off or samples one exchange in N ([`JournalMode`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// How much the journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JournalMode {
    Off,
    /// Every exchange (the default).
    #[default]
    All,
    /// One exchange in N.
    Sample(u32),
}

impl JournalMode {
    /// `off`, `all` or `sample:N`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Self::Off),
            "all" => Some(Self::All),
            _ => match s.strip_prefix("sample:")?.parse().ok()? {
                0 => None,
                1 => Some(Self::All),
                n => Some(Self::Sample(n)),
            },
        }
    }
}

/// Entries kept at most.
pub const CAPACITY: usize = 2_000;
/// Bytes of bodies kept at most, all entries together.
pub const BODY_BUDGET: usize = 32 * 1024 * 1024;
/// Bytes kept of one body (request or answer); the rest is cut and the entry says so.
pub const MAX_BODY: usize = 256 * 1024;

/// One exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: u64,
    /// Simulated JST when the request entered the pipeline.
    pub at: String,
    pub transport: &'static str,
    pub kind: &'static str,
    /// The facility of the door or the request's header, when known (a facility code is not personal data).
    pub facility: Option<String>,
    pub outcome: String,
    /// Time in the pipeline (handler included, injected delays not).
    pub micros: u64,
    /// The controls that acted: `forced:<answer>`, `magic:<answer>`, `fault:<action>#<rule>`.
    pub marks: Vec<String>,
    pub request_bytes: usize,
    pub answer_bytes: usize,
    /// Whether the bodies were kept (sandbox mode) and whether either was cut at [`MAX_BODY`].
    pub bodies_kept: bool,
    pub bodies_cut: bool,
    /// Where the kept bodies are in the ring: their first byte in the stream of bytes ever written, and the kept
    /// lengths of the request and the answer.
    #[serde(skip)]
    span: (u64, usize, usize),
}

/// An entry with its bodies, as kept (`None` in strict mode).
#[derive(Debug, Clone)]
pub struct Full {
    pub entry: Entry,
    pub request: Option<Vec<u8>>,
    pub answer: Option<Vec<u8>>,
}

/// What the pipeline hands the journal for one exchange.
pub struct Exchange<'a> {
    pub at: String,
    pub transport: &'static str,
    pub kind: &'static str,
    pub facility: Option<String>,
    pub outcome: &'a str,
    pub micros: u64,
    pub marks: Vec<String>,
    pub request: &'a [u8],
    pub answer: &'a [u8],
}

/// A query: every field narrows it.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub facility: Option<String>,
    pub kind: Option<String>,
    pub outcome: Option<String>,
    pub transport: Option<String>,
    /// Entries at or after this simulated time (`2026-12-01T09:00:00`).
    pub since: Option<String>,
    /// Entries with a larger id (to follow the journal).
    pub after: Option<u64>,
    /// Entries with a control mark (`forced`, `magic`, `fault`).
    pub marked: Option<String>,
    /// At most this many, newest first (default 100, at most [`CAPACITY`]).
    pub limit: Option<usize>,
}

struct Ring {
    entries: VecDeque<Entry>,
    /// The bodies: [`BODY_BUDGET`] bytes, allocated at the first kept body, written round.
    arena: Vec<u8>,
    /// Bytes ever written to the arena (the next byte goes to `written % BODY_BUDGET`).
    written: u64,
}

impl Ring {
    fn put(&mut self, bytes: &[u8]) {
        if self.arena.is_empty() {
            self.arena = vec![0; BODY_BUDGET];
        }
        let at = (self.written % BODY_BUDGET as u64) as usize;
        let first = bytes.len().min(BODY_BUDGET - at);
        self.arena[at..at + first].copy_from_slice(&bytes[..first]);
        self.arena[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.written += bytes.len() as u64;
    }

    fn read(&self, start: u64, len: usize) -> Option<Vec<u8>> {
        if self.written - start > BODY_BUDGET as u64 {
            return None;
        }
        let at = (start % BODY_BUDGET as u64) as usize;
        let first = len.min(BODY_BUDGET - at);
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.arena[at..at + first]);
        out.extend_from_slice(&self.arena[..len - first]);
        Some(out)
    }
}

/// The journal of one process.
pub struct Journal {
    mode: JournalMode,
    keep_bodies: bool,
    next: AtomicU64,
    ring: Mutex<Ring>,
}

impl Journal {
    pub fn new(mode: JournalMode, keep_bodies: bool) -> Self {
        Self {
            mode,
            keep_bodies,
            next: AtomicU64::new(0),
            ring: Mutex::new(Ring {
                entries: VecDeque::new(),
                arena: Vec::new(),
                written: 0,
            }),
        }
    }

    pub fn mode(&self) -> JournalMode {
        self.mode
    }

    /// Whether the next exchange is recorded, and its id. Decided before it runs: a skipped exchange touches only
    /// a counter of its own thread (no shared cache line on the answer path).
    pub fn samples(&self) -> Option<u64> {
        let n = match self.mode {
            JournalMode::Off => return None,
            JournalMode::All => 1,
            JournalMode::Sample(n) => u64::from(n),
        };
        thread_local! {
            static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
        }
        let seen = SEEN.with(|c| {
            let v = c.get();
            c.set(v.wrapping_add(1));
            v
        });
        seen.is_multiple_of(n)
            .then(|| self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Records an exchange chosen by [`Journal::samples`] under its id.
    pub fn record(&self, id: u64, x: Exchange<'_>) {
        let keep = self.keep_bodies;
        let (req, ans) = (
            &x.request[..x.request.len().min(MAX_BODY)],
            &x.answer[..x.answer.len().min(MAX_BODY)],
        );
        let mut ring = self.ring.lock().expect("journal lock");
        let start = ring.written;
        if keep {
            ring.put(req);
            ring.put(ans);
        }
        let written = ring.written;
        ring.entries.push_back(Entry {
            id,
            at: x.at,
            transport: x.transport,
            kind: x.kind,
            facility: x.facility,
            outcome: x.outcome.to_string(),
            micros: x.micros,
            marks: x.marks,
            request_bytes: x.request.len(),
            answer_bytes: x.answer.len(),
            bodies_kept: keep,
            bodies_cut: keep && (x.request.len() > MAX_BODY || x.answer.len() > MAX_BODY),
            span: (
                start,
                if keep { req.len() } else { 0 },
                if keep { ans.len() } else { 0 },
            ),
        });
        // Out go the entries beyond the count, and those whose bytes were just written over.
        while ring.entries.len() > CAPACITY
            || ring
                .entries
                .front()
                .is_some_and(|e| e.bodies_kept && written - e.span.0 > BODY_BUDGET as u64)
        {
            ring.entries.pop_front();
        }
    }

    /// The entries matching `q`, newest first (without their bodies).
    pub fn query(&self, q: &Query) -> Result<Vec<Entry>, String> {
        let since = q
            .since
            .as_deref()
            .map(crate::clock::parse_clock_time)
            .transpose()
            .map_err(|e| format!("since: {e}"))?
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string());
        let limit = q.limit.unwrap_or(100).min(CAPACITY);
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        let ring = self.ring.lock().expect("journal lock");
        Ok(ring
            .entries
            .iter()
            .rev()
            .filter(|e| {
                same(&q.kind, e.kind)
                    && same(&q.outcome, &e.outcome)
                    && same(&q.transport, e.transport)
                    && q.facility
                        .as_deref()
                        .is_none_or(|f| e.facility.as_deref() == Some(f))
                    && q.after.is_none_or(|a| e.id > a)
                    && since.as_deref().is_none_or(|s| e.at.as_str() >= s)
                    && q.marked
                        .as_deref()
                        .is_none_or(|m| e.marks.iter().any(|k| k.starts_with(m)))
            })
            .take(limit)
            .cloned()
            .collect())
    }

    /// One entry with its bodies.
    pub fn get(&self, id: u64) -> Option<Full> {
        let ring = self.ring.lock().expect("journal lock");
        let e = ring.entries.iter().find(|e| e.id == id)?.clone();
        let (start, req, ans) = e.span;
        let (request, answer) = if e.bodies_kept {
            (ring.read(start, req), ring.read(start + req as u64, ans))
        } else {
            (None, None)
        };
        Some(Full {
            entry: e,
            request,
            answer,
        })
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        let mut ring = self.ring.lock().expect("journal lock");
        ring.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x<'a>(kind: &'static str, body: &'a [u8]) -> Exchange<'a> {
        Exchange {
            at: "2026-12-01T09:00:00".into(),
            transport: "http",
            kind,
            facility: Some("1310112345".into()),
            outcome: "validity_1",
            micros: 10,
            marks: vec![],
            request: body,
            answer: body,
        }
    }

    #[test]
    fn sampling_keeps_one_in_n() {
        let j = Journal::new(JournalMode::Sample(10), true);
        let kept: Vec<u64> = (0..100).filter_map(|_| j.samples()).collect();
        assert_eq!(kept.len(), 10);
        assert_eq!(kept, (1..=10).collect::<Vec<_>>(), "ids follow each other");
        assert!(Journal::new(JournalMode::Off, true).samples().is_none());
        assert_eq!(JournalMode::parse("sample:1"), Some(JournalMode::All));
        assert_eq!(JournalMode::parse("sample:0"), None);
        assert_eq!(
            JournalMode::parse("sample:50"),
            Some(JournalMode::Sample(50))
        );
    }

    #[test]
    fn memory_is_bounded_by_entries_and_by_body_bytes() {
        let j = Journal::new(JournalMode::All, true);
        for _ in 0..CAPACITY + 10 {
            let id = j.samples().unwrap();
            j.record(id, x("OQSsiquc01", b"<XmlMsg/>"));
        }
        assert_eq!(
            j.query(&Query {
                limit: Some(usize::MAX),
                ..Default::default()
            })
            .unwrap()
            .len(),
            CAPACITY
        );
        let big: Vec<u8> = (0..MAX_BODY + 1).map(|i| (i % 251) as u8).collect();
        let mut last = 0;
        for _ in 0..(BODY_BUDGET / MAX_BODY) + 5 {
            last = j.samples().unwrap();
            j.record(last, x("OQSmuquc01", &big));
        }
        // Every entry still kept has its whole (cut) bodies, across the ring's wrap; the oldest are gone.
        let kept = j
            .query(&Query {
                limit: Some(usize::MAX),
                ..Default::default()
            })
            .unwrap();
        assert!(kept.len() < BODY_BUDGET / MAX_BODY);
        for e in &kept {
            let full = j.get(e.id).unwrap();
            assert_eq!(full.request.unwrap(), big[..MAX_BODY]);
            assert_eq!(full.answer.unwrap(), big[..MAX_BODY]);
        }
        let e = j.get(last).unwrap().entry;
        assert!(e.bodies_cut);
        assert_eq!(e.request_bytes, MAX_BODY + 1);
        assert_eq!(j.ring.lock().unwrap().arena.len(), BODY_BUDGET);
    }

    #[test]
    fn strict_mode_keeps_no_bodies_and_queries_narrow() {
        let j = Journal::new(JournalMode::All, false);
        for kind in ["OQSsiquc01", "YZKsiquc01", "OQSsiquc01"] {
            let id = j.samples().unwrap();
            j.record(id, x(kind, b"secret"));
        }
        let q = Query {
            kind: Some("OQSsiquc01".into()),
            ..Default::default()
        };
        let found = j.query(&q).unwrap();
        assert_eq!(found.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3, 1]);
        assert!(j.get(3).unwrap().request.is_none() && !found[0].bodies_kept);
        assert!(
            j.ring.lock().unwrap().arena.is_empty(),
            "nothing allocated for bodies"
        );
        let after = Query {
            after: Some(2),
            ..Default::default()
        };
        assert_eq!(j.query(&after).unwrap().len(), 1);
        let bad = Query {
            since: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(j.query(&bad).is_err());
        j.clear();
        assert!(j.get(1).is_none());
    }
}
