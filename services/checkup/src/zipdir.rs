//! Reading a ZIP archive in constant memory: the central directory is walked one entry at a time (ZIP64 included)
//! and an entry's data is inflated from its local header when asked for, so nothing grows with the number of
//! entries. Only what submissions need: one disk, stored or deflated entries, no encryption; every entry's CRC-32 and
//! size are checked.

use std::io::{Read, Seek, SeekFrom};

/// One entry of the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub method: u16,
    pub encrypted: bool,
    pub crc: u32,
    pub compressed: u64,
    pub size: u64,
    local: u64,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn bad<T>(m: impl Into<String>) -> Result<T, String> {
    Err(m.into())
}

fn read_exact_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> Result<(), String> {
    r.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
    r.read_exact(buf)
        .map_err(|_| "the archive is truncated".to_string())
}

/// Where the central directory is, and how many entries it has.
#[derive(Debug, Clone, Copy)]
pub struct Directory {
    pub entries: u64,
    offset: u64,
    size: u64,
}

/// Finds the end-of-central-directory record (and its ZIP64 form).
pub fn directory<R: Read + Seek>(r: &mut R) -> Result<Directory, String> {
    let len = r.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
    let tail_len = len.min(22 + 65_535);
    let mut tail = vec![0u8; tail_len as usize];
    read_exact_at(r, len - tail_len, &mut tail)?;
    let Some(at) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
    else {
        return bad("no end of central directory: not a ZIP archive");
    };
    let eocd = &tail[at..];
    if u16_at(eocd, 4) != 0 || u16_at(eocd, 6) != 0 {
        return bad("multi-disk archives are not accepted");
    }
    let mut d = Directory {
        entries: u64::from(u16_at(eocd, 10)),
        size: u64::from(u32_at(eocd, 12)),
        offset: u64::from(u32_at(eocd, 16)),
    };
    if d.entries == 0xFFFF || d.size == 0xFFFF_FFFF || d.offset == 0xFFFF_FFFF {
        let eocd_pos = len - tail_len + at as u64;
        let mut locator = [0u8; 20];
        read_exact_at(
            r,
            eocd_pos.checked_sub(20).ok_or("no ZIP64 locator")?,
            &mut locator,
        )?;
        if !locator.starts_with(b"PK\x06\x07") {
            return bad("no ZIP64 end of central directory locator");
        }
        let mut z = [0u8; 56];
        read_exact_at(r, u64_at(&locator, 8), &mut z)?;
        if !z.starts_with(b"PK\x06\x06") {
            return bad("no ZIP64 end of central directory");
        }
        d = Directory {
            entries: u64_at(&z, 32),
            size: u64_at(&z, 40),
            offset: u64_at(&z, 48),
        };
    }
    if d.offset.checked_add(d.size).is_none_or(|end| end > len) {
        return bad("the central directory lies outside the archive");
    }
    Ok(d)
}

/// A walk over the central directory.
pub struct Walk {
    pos: u64,
    end: u64,
    left: u64,
}

impl Walk {
    pub fn new(d: &Directory) -> Self {
        Self {
            pos: d.offset,
            end: d.offset + d.size,
            left: d.entries,
        }
    }

    /// The next entry, `None` after the last.
    pub fn next<R: Read + Seek>(&mut self, r: &mut R) -> Option<Result<Entry, String>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.read(r))
    }

    fn read<R: Read + Seek>(&mut self, r: &mut R) -> Result<Entry, String> {
        let mut h = [0u8; 46];
        if self.pos + 46 > self.end {
            return bad("the central directory ends early");
        }
        read_exact_at(r, self.pos, &mut h)?;
        if !h.starts_with(b"PK\x01\x02") {
            return bad("a central directory entry is malformed");
        }
        let (n, e, c) = (
            u16_at(&h, 28) as usize,
            u16_at(&h, 30) as usize,
            u16_at(&h, 32) as usize,
        );
        let mut var = vec![0u8; n + e];
        r.read_exact(&mut var)
            .map_err(|_| "the archive is truncated".to_string())?;
        self.pos += 46 + (n + e + c) as u64;
        if self.pos > self.end {
            return bad("the central directory ends early");
        }
        let (raw_name, mut extra) = var.split_at(n);
        let mut entry = Entry {
            name: String::from_utf8_lossy(raw_name).into_owned(),
            method: u16_at(&h, 10),
            encrypted: u16_at(&h, 8) & 1 != 0,
            crc: u32_at(&h, 16),
            compressed: u64::from(u32_at(&h, 20)),
            size: u64::from(u32_at(&h, 24)),
            local: u64::from(u32_at(&h, 42)),
        };
        // ZIP64: the 64-bit values of the fields that are all ones, in order.
        while extra.len() >= 4 {
            let (id, len) = (u16_at(extra, 0), u16_at(extra, 2) as usize);
            let Some(data) = extra.get(4..4 + len) else {
                break;
            };
            if id == 1 {
                let mut at = 0;
                for field in [&mut entry.size, &mut entry.compressed, &mut entry.local] {
                    if *field == 0xFFFF_FFFF {
                        let Some(v) = data.get(at..at + 8) else {
                            return bad("a ZIP64 field is missing");
                        };
                        *field = u64_at(v, 0);
                        at += 8;
                    }
                }
            }
            extra = &extra[4 + len..];
        }
        Ok(entry)
    }
}

/// Opens entries one after the other, reusing its inflate state and buffers (an archive holds many small ones).
pub struct Inflater {
    z: flate2::Decompress,
    input: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Self {
            z: flate2::Decompress::new(false),
            input: Vec::new(),
        }
    }
}

impl Inflater {
    /// An entry's data, inflated, at most `limit` bytes; its size and CRC-32 checked.
    pub fn open<R: Read + Seek>(
        &mut self,
        r: &mut R,
        e: &Entry,
        limit: usize,
    ) -> Result<Vec<u8>, String> {
        let too_large = || format!("{} is larger than the limit of {limit} bytes", e.name);
        if e.encrypted {
            return bad(format!("{} is encrypted", e.name));
        }
        // Deflate never grows data by more than a few bytes per 16 KiB block.
        if e.compressed > limit as u64 + limit as u64 / 64 + 1024 {
            return Err(too_large());
        }
        let mut h = [0u8; 30];
        read_exact_at(r, e.local, &mut h)?;
        if !h.starts_with(b"PK\x03\x04") {
            return bad(format!(
                "{}: no local header where the directory says",
                e.name
            ));
        }
        let skip = u64::from(u16_at(&h, 26)) + u64::from(u16_at(&h, 28));
        self.input.clear();
        self.input.resize(e.compressed as usize, 0);
        read_exact_at(r, e.local + 30 + skip, &mut self.input)?;
        let out = match e.method {
            0 => self.input.clone(),
            8 => self.inflate(e, limit)?,
            m => {
                return bad(format!(
                    "{}: compression method {m} is not accepted",
                    e.name
                ))
            }
        };
        if out.len() > limit {
            return Err(too_large());
        }
        if out.len() as u64 != e.size || crc32fast::hash(&out) != e.crc {
            return bad(format!("{} is corrupt (size or CRC-32 differs)", e.name));
        }
        Ok(out)
    }

    fn inflate(&mut self, e: &Entry, limit: usize) -> Result<Vec<u8>, String> {
        use flate2::{FlushDecompress, Status};
        self.z.reset(false);
        let mut out = Vec::with_capacity((e.size as usize).min(limit) + 1);
        loop {
            let consumed = self.z.total_in() as usize;
            let produced = out.len();
            let status = self
                .z
                .decompress_vec(&self.input[consumed..], &mut out, FlushDecompress::None)
                .map_err(|err| format!("{}: {err}", e.name))?;
            match status {
                Status::StreamEnd => return Ok(out),
                _ if out.len() > limit => return Ok(out),
                // Grow (doubling, at least 4 KiB) up to one byte past the limit, which refuses it.
                _ if out.len() == out.capacity() => {
                    out.reserve((limit + 1 - out.len()).min(out.len().max(4096)))
                }
                _ if self.z.total_in() as usize >= self.input.len()
                    || (self.z.total_in() as usize == consumed && out.len() == produced) =>
                {
                    return bad(format!("{}: the compressed data ends early", e.name))
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(entries: &[(&str, &[u8])], zip64: bool) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(zip64);
        for (name, bytes) in entries {
            z.start_file(*name, options).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn walks_and_opens_every_entry() {
        for zip64 in [false, true] {
            let bytes = archive(&[("a/1.xml", b"hello"), ("a/2.xml", &[7u8; 5000])], zip64);
            let mut r = std::io::Cursor::new(&bytes);
            let d = directory(&mut r).unwrap();
            assert_eq!(d.entries, 2);
            let mut walk = Walk::new(&d);
            let a = walk.next(&mut r).unwrap().unwrap();
            let b = walk.next(&mut r).unwrap().unwrap();
            assert!(walk.next(&mut r).is_none());
            assert_eq!((a.name.as_str(), b.size), ("a/1.xml", 5000));
            let mut z = Inflater::default();
            assert_eq!(z.open(&mut r, &b, 10_000).unwrap(), vec![7u8; 5000]);
            assert_eq!(z.open(&mut r, &a, 10_000).unwrap(), b"hello");
            assert!(z.open(&mut r, &b, 100).unwrap_err().contains("larger than"));
            // A declared size below the real one: the output grows in steps up to the limit.
            let mut lying = b.clone();
            lying.size = 10;
            let e = z.open(&mut r, &lying, 4_999).unwrap_err();
            assert!(e.contains("larger than"), "{e}");
            assert!(z
                .open(&mut r, &lying, 6_000)
                .unwrap_err()
                .contains("corrupt"));
            assert_eq!(
                z.open(&mut r, &b, 10_000).unwrap(),
                vec![7u8; 5000],
                "reused"
            );
        }
    }

    #[test]
    fn many_entries_need_zip64_counts() {
        let names: Vec<String> = (0..70_000).map(|n| format!("d/{n}")).collect();
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        let bytes = archive(&entries, false);
        let mut r = std::io::Cursor::new(&bytes);
        let d = directory(&mut r).unwrap();
        assert_eq!(d.entries, 70_000);
        let mut walk = Walk::new(&d);
        let mut n = 0;
        while let Some(e) = walk.next(&mut r) {
            e.unwrap();
            n += 1;
        }
        assert_eq!(n, 70_000);
    }

    #[test]
    fn corruption_is_found() {
        let mut bytes = archive(&[("x.xml", &[b'a'; 2000])], false);
        let mut r = std::io::Cursor::new(bytes.clone());
        let d = directory(&mut r).unwrap();
        let e = Walk::new(&d).next(&mut r).unwrap().unwrap();
        // Flip a byte of the compressed data.
        bytes[e.local as usize + 30 + "x.xml".len() + 2] ^= 0xFF;
        let mut r = std::io::Cursor::new(bytes);
        assert!(Inflater::default().open(&mut r, &e, 10_000).is_err());
        assert!(directory(&mut std::io::Cursor::new(b"PK\x03\x04 not really")).is_err());
    }
}
