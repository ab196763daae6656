//! The read model on disk: a process writes its registry with the feed positions it reached (after start-up, every
//! few minutes when it changed, and when it stops), and the next start loads it and reads only the feed rows
//! after those positions. The file is checked before it is trusted: its format version, its SHA-256, every
//! handle and link inside it, and that the database still holds the same feed row at each saved position (a
//! file of another database, or of a state a snapshot restore went back from, is ignored and the model is read
//! from the feeds).
//!
//! Layout (little-endian): `ONSHIRM4`, the two feed positions and row ids, the string arena, the insurers, the
//! slots, the later versions and their links, the facilities as JSON, and the SHA-256 of all that.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{bail, Context};
use ring::digest;

use onshi_wire::ids::InsurerNumber;
use onshi_wire::record::FacilityRecord;

use crate::packed::{Insurers, Packed, Strings, NONE, PACKED_BYTES};
use crate::registry::{Later, Registry, Slot};

const MAGIC: &[u8; 8] = b"ONSHIRM4";

/// A writer that hashes what passes through it (under a `BufWriter`, so in large pieces).
struct HashingWrite<W> {
    inner: W,
    hash: digest::Context,
}

impl<W: Write> Write for HashingWrite<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hash.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it (under a `BufReader`, so in large pieces).
struct HashingRead<R> {
    inner: R,
    hash: digest::Context,
}

impl<R: Read> Read for HashingRead<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(b)?;
        self.hash.update(&b[..n]);
        Ok(n)
    }
}

/// The fields of the file.
struct Out<W: Write> {
    w: W,
}

impl<W: Write> Out<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.w.write_all(b)
    }
    fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.put(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.put(&v.to_le_bytes())
    }
    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.u64(b.len() as u64)?;
        self.put(b)
    }
}

/// Writes `reg` to `path` (through a temporary file renamed into place, so a reader never sees half a file).
pub fn save(reg: &Registry, path: &Path) -> anyhow::Result<u64> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Processes sharing a directory (containers on one volume may even share a pid) never share a temporary file.
    let mut nonce = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| anyhow::anyhow!("no random numbers for a temporary file name"))?;
    let tmp = path.with_extension(format!("tmp-{}", u64::from_le_bytes(nonce)));
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut out = Out {
        w: BufWriter::with_capacity(
            1 << 20,
            HashingWrite {
                inner: file,
                hash: digest::Context::new(&digest::SHA256),
            },
        ),
    };
    write_body(reg, &mut out).with_context(|| format!("writing {}", tmp.display()))?;
    let HashingWrite {
        inner: mut file,
        hash,
    } = out.w.into_inner().map_err(|e| e.into_error())?;
    file.write_all(hash.finish().as_ref())?;
    file.sync_all()?;
    let len = file.metadata()?.len();
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(len)
}

fn write_body<W: Write>(reg: &Registry, w: &mut Out<W>) -> std::io::Result<()> {
    w.put(MAGIC)?;
    w.u64(reg.insurer_seq as u64)?;
    w.u64(reg.portal_seq as u64)?;
    w.bytes(reg.insurer_last.as_bytes())?;
    w.bytes(reg.portal_last.as_bytes())?;
    w.bytes(reg.strings.bytes())?;
    let insurers = reg.insurers.rows();
    w.u64(insurers.len() as u64)?;
    for (number, name) in insurers {
        w.bytes(number.to_string().as_bytes())?;
        w.u32(*name)?;
    }
    let mut buf = Vec::with_capacity(PACKED_BYTES + 12);
    w.u64(reg.slots.len() as u64)?;
    for s in &reg.slots {
        buf.clear();
        for v in [s.person, s.next_card] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        s.first.write(&mut buf);
        w.put(&buf)?;
    }
    w.u64(reg.later.len() as u64)?;
    for l in &reg.later {
        buf.clear();
        buf.extend_from_slice(&l.next.to_le_bytes());
        l.packed.write(&mut buf);
        w.put(&buf)?;
    }
    for links in [&reg.later_of, &reg.next_person] {
        w.u64(links.len() as u64)?;
        for (from, to) in links {
            w.u32(*from)?;
            w.u32(*to)?;
        }
    }
    let facilities: Vec<&FacilityRecord> = reg.facilities.values().collect();
    w.bytes(&serde_json::to_vec(&facilities).map_err(std::io::Error::other)?)
}

/// Reads a file written by [`save`]; `Ok(None)` when there is none. The file is read as a stream (the registry
/// it holds is the only large allocation) and its SHA-256 checked at the end.
pub fn load(path: &Path) -> anyhow::Result<Option<Registry>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let len = file.metadata()?.len();
    if len < (MAGIC.len() + 32) as u64 {
        bail!("not a read model of this version of onshi");
    }
    let mut r = Reader {
        r: BufReader::with_capacity(
            1 << 20,
            HashingRead {
                inner: file.take(len - 32),
                hash: digest::Context::new(&digest::SHA256),
            },
        ),
        left: len - 32,
    };
    if r.take(MAGIC.len())? != MAGIC {
        bail!("not a read model of this version of onshi");
    }
    let reg = read_body(&mut r).context("the file is damaged");
    if reg.is_ok() && r.left != 0 {
        bail!("the file is damaged (bytes after its end)");
    }
    // The rest of the body, so the hash covers it whatever stopped the reading.
    std::io::copy(&mut r.r, &mut std::io::sink())?;
    let HashingRead { inner, hash } = r.r.into_inner();
    let mut sum = [0u8; 32];
    inner.into_inner().read_exact(&mut sum)?;
    if hash.finish().as_ref() != sum {
        bail!("the file is damaged (its SHA-256 does not match)");
    }
    let mut reg = reg?;
    check(&reg)?;
    reg.index_loaded();
    Ok(Some(reg))
}

struct Reader<R: Read> {
    r: R,
    /// Bytes of the body not read yet (a length read from a damaged file cannot make it allocate more).
    left: u64,
}

impl<R: Read> Reader<R> {
    fn take(&mut self, n: usize) -> anyhow::Result<Vec<u8>> {
        if n as u64 > self.left {
            bail!("truncated");
        }
        let mut b = vec![0; n];
        self.r.read_exact(&mut b)?;
        self.left -= n as u64;
        Ok(b)
    }
    fn array<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
        if N as u64 > self.left {
            bail!("truncated");
        }
        let mut b = [0; N];
        self.r.read_exact(&mut b)?;
        self.left -= N as u64;
        Ok(b)
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn len(&mut self) -> anyhow::Result<usize> {
        Ok(usize::try_from(self.u64()?)?)
    }
    fn bytes(&mut self) -> anyhow::Result<Vec<u8>> {
        let n = self.len()?;
        self.take(n)
    }
    fn text(&mut self) -> anyhow::Result<String> {
        Ok(String::from_utf8(self.bytes()?)?)
    }
    fn packed(&mut self) -> anyhow::Result<Packed> {
        Ok(Packed::read(&self.array()?))
    }
    /// A count of records of at least `size` bytes each, no more than the rest of the file can hold.
    fn count(&mut self, size: u64) -> anyhow::Result<usize> {
        let n = self.len()?;
        if n as u64 > self.left / size.max(1) {
            bail!("truncated");
        }
        Ok(n)
    }
}

fn read_body<R: Read>(r: &mut Reader<R>) -> anyhow::Result<Registry> {
    let mut reg = Registry::default();
    reg.insurer_seq = i64::try_from(r.u64()?)?;
    reg.portal_seq = i64::try_from(r.u64()?)?;
    reg.insurer_last = r.text()?;
    reg.portal_last = r.text()?;
    reg.strings = Strings::from_bytes(r.bytes()?).context("the strings are not UTF-8")?;
    let n = r.count(12)?;
    let mut insurers = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let number = InsurerNumber::parse(&r.text()?).map_err(|e| anyhow::anyhow!("{e}"))?;
        insurers.push((number, r.u32()?));
    }
    reg.insurers = Insurers::from_rows(insurers).context("insurers")?;
    let n = r.count(8 + PACKED_BYTES as u64)?;
    reg.slots.reserve_exact(n);
    for _ in 0..n {
        let (person, next_card) = (r.u32()?, r.u32()?);
        reg.slots.push(Slot {
            person,
            next_card,
            first: r.packed()?,
        });
    }
    let n = r.count(4 + PACKED_BYTES as u64)?;
    reg.later.reserve_exact(n);
    for _ in 0..n {
        let next = r.u32()?;
        reg.later.push(Later {
            next,
            packed: r.packed()?,
        });
    }
    for links in [&mut reg.later_of, &mut reg.next_person] {
        let n = r.count(8)?;
        links.reserve(n);
        for _ in 0..n {
            let (from, to) = (r.u32()?, r.u32()?);
            links.insert(from, to);
        }
    }
    let facilities: Vec<FacilityRecord> = serde_json::from_slice(&r.bytes()?)?;
    let portal_seq = reg.portal_seq;
    for f in facilities {
        reg.apply_facility(portal_seq, f);
    }
    Ok(reg)
}

/// Every handle and link points inside the file.
fn check(reg: &Registry) -> anyhow::Result<()> {
    let arena = reg.strings.bytes().len() as u64;
    let handle = |h: u32| h == NONE || u64::from(h) < arena;
    let (slots, later) = (reg.slots.len() as u64, reg.later.len() as u64);
    let link = |i: u32, n: u64| i == NONE || u64::from(i) < n;
    let insurers = reg.insurers.rows().len();
    let packed_ok = |p: &Packed| p.handles().all(handle) && usize::from(p.insurer) < insurers;
    let slots_ok = reg.slots.iter().all(|s| {
        s.person != NONE && handle(s.person) && link(s.next_card, slots) && packed_ok(&s.first)
    });
    let later_ok = reg
        .later
        .iter()
        .all(|l| link(l.next, later) && packed_ok(&l.packed));
    let links_ok = reg
        .later_of
        .iter()
        .all(|(&s, &l)| u64::from(s) < slots && u64::from(l) < later)
        && reg
            .next_person
            .iter()
            .all(|(&a, &b)| u64::from(a) < slots && u64::from(b) < slots);
    if !(slots_ok && later_ok && links_ok) {
        bail!("a handle or link points outside the file");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use onshi_wire::ids::{CardNumber, CardSymbol, Date};
    use onshi_wire::record::QualificationRecord;

    fn rec(person: &str, number: &str, branch: &str, name: &str) -> QualificationRecord {
        serde_json::from_value(serde_json::json!({
            "person_id": person, "insurer_number": "06130488", "insurer_name": "保険者",
            "card_classification": "01", "symbol": "10", "number": number, "branch": branch,
            "name": name, "sex": "1", "birth_date": "19800101", "qualification_date": "20200401",
            "address": "東京都千代田区霞が関1丁目2番2号", "postal_code": "100-8916"
        }))
        .unwrap()
    }

    fn everything(reg: &Registry) -> String {
        let card = |n: &str| {
            reg.by_card(
                &InsurerNumber::parse("06130488").unwrap(),
                &CardSymbol::parse("10").unwrap(),
                &CardNumber::parse(n).unwrap(),
            )
            .map(|q| format!("{q:?}"))
            .collect::<Vec<_>>()
        };
        format!(
            "{:?} {:?} {:?} {:?} {:?} {}",
            card("1"),
            card("2"),
            reg.of_person("p1").map(|q| q.id).collect::<Vec<_>>(),
            reg.qual("06130488:10:1:01").map(|q| q.versions.len()),
            reg.counts(),
            reg.insurer_seq
        )
    }

    #[test]
    fn a_saved_read_model_loads_the_same() {
        let d = |s: &str| Date::parse(s).unwrap();
        let mut reg = Registry::default();
        reg.apply_qualification(1, d("20200401"), rec("p1", "1", "00", "山田　太郎"))
            .unwrap();
        reg.apply_qualification(2, d("20200401"), rec("p2", "1", "01", "山田　花子"))
            .unwrap();
        let mut moved = rec("p2", "1", "01", "山田　花子");
        moved.address = Some("大阪府大阪市北区3丁目".into());
        reg.apply_qualification(3, d("20230101"), moved).unwrap();
        reg.apply_qualification(4, d("20240101"), rec("p1", "2", "00", "山田　太郎"))
            .unwrap();
        reg.insurer_last = "06130488:10:2:00".into();
        let path = std::env::temp_dir().join(format!("onshi-rm-{}.bin", std::process::id()));
        save(&reg, &path).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(everything(&back), everything(&reg));
        assert!(everything(&back).contains("大阪府大阪市北区3丁目"));
        assert_eq!(back.insurer_last, "06130488:10:2:00");

        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = load(&path).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        std::fs::remove_file(&path).unwrap();
        assert!(load(&path).unwrap().is_none());
    }
}
