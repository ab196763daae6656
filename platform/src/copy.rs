//! PostgreSQL binary COPY (`COPY … FROM STDIN (FORMAT binary)`): an encoder for the tuple stream, used for bulk
//! loads (the synthetic nation) where row-by-row INSERTs would be far too slow.

use chrono::{NaiveDate, NaiveDateTime};

/// Builds one binary COPY stream: header, tuples, trailer.
pub struct BinaryCopy {
    buf: Vec<u8>,
    rows: usize,
}

const PG_EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};

impl BinaryCopy {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf, rows: 0 }
    }

    /// Starts a tuple of `fields` columns.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.field(s.as_bytes())
    }

    pub fn bytea(&mut self, b: &[u8]) -> &mut Self {
        self.field(b)
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub fn opt_int2(&mut self, v: Option<i32>) -> &mut Self {
        match v.and_then(|v| i16::try_from(v).ok()) {
            Some(v) => self.field(&v.to_be_bytes()),
            None => self.null(),
        }
    }

    pub fn int4(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn int8(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn boolean(&mut self, v: bool) -> &mut Self {
        self.field(&[u8::from(v)])
    }

    pub fn date(&mut self, d: NaiveDate) -> &mut Self {
        let days = (d - PG_EPOCH).num_days() as i32;
        self.int4(days)
    }

    pub fn opt_date(&mut self, d: Option<NaiveDate>) -> &mut Self {
        match d {
            Some(d) => self.date(d),
            None => self.null(),
        }
    }

    pub fn timestamp(&mut self, t: NaiveDateTime) -> &mut Self {
        let micros = (t - PG_EPOCH.and_hms_opt(0, 0, 0).expect("midnight"))
            .num_microseconds()
            .unwrap_or(0);
        self.int8(micros)
    }

    /// A `jsonb` value from its JSON text.
    pub fn jsonb(&mut self, json: &str) -> &mut Self {
        self.buf
            .extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        self.buf.extend_from_slice(json.as_bytes());
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The complete stream (with the trailer).
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

impl Default for BinaryCopy {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends a finished stream with `statement` (`COPY t (cols) FROM STDIN (FORMAT binary)`) on `conn`.
pub async fn send(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    stream: Vec<u8>,
) -> sqlx::Result<u64> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(stream).await?;
    copy.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_header_rows_and_trailer() {
        let mut c = BinaryCopy::new();
        c.row(2).text("a").int4(7);
        c.row(2)
            .null()
            .date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap());
        assert_eq!(c.rows(), 2);
        let b = c.finish();
        assert!(b.starts_with(b"PGCOPY\n\xff\r\n\0"));
        assert!(b.ends_with(&[0xff, 0xff]));
        // row 2: field count, null (-1), date length 4, day 1.
        let tail = &b[b.len() - 2 - 2 - 4 - 4 - 4..b.len() - 2];
        assert_eq!(tail, [0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, 0, 0, 0, 1]);
    }
}
