//! The admin API of an `onshi up`/`serve` running from the same home, for the commands that act on a running
//! process (snapshots, reset, the journal): its address is in `<home>/run/url` while it runs, the operator's token
//! in `<home>/operator-token`. Plain HTTP/1.1 over a loopback socket; one request per connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};

/// The running simulator of a home.
pub struct Remote {
    addr: String,
    token: String,
}

/// The run file naming the running simulator's HTTP address.
pub fn url_file(home: &Path) -> std::path::PathBuf {
    home.join("run").join("url")
}

impl Remote {
    /// The simulator running from `home`, if one answers there.
    pub fn find(home: &Path) -> Option<Self> {
        let url = std::fs::read_to_string(url_file(home)).ok()?;
        let addr = url.trim().strip_prefix("http://")?.to_string();
        let token = std::fs::read_to_string(home.join("operator-token")).ok()?;
        TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
        Some(Self {
            addr,
            token: token.trim().to_string(),
        })
    }

    /// The simulator at `addr` (`127.0.0.1:8080`), called with the operator's `token`.
    pub fn new(addr: &str, token: &str) -> Self {
        Self {
            addr: addr.to_string(),
            token: token.to_string(),
        }
    }

    /// Calls the admin API as the operator; returns the status and the JSON answer (`null` for an empty one).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, answer) = self.send(method, path, body.as_bytes())?;
        let json = if answer.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&answer).context("a JSON answer")?
        };
        Ok((status, json))
    }

    /// Sends one request as the operator; returns the status and the answer's bytes.
    pub fn send(&self, method: &str, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(&self.addr)
            .with_context(|| format!("connecting to the running onshi at {}", self.addr))?;
        s.set_read_timeout(Some(Duration::from_secs(600)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            self.token,
            body.len()
        )?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            bail!("the running onshi sent no answer");
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .context("an HTTP status")?;
        let body = &raw[split + 4..];
        let body = if head.contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_vec()
        };
        Ok((status, body))
    }
}

/// The body of a chunked answer.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let tail = &rest[eol + 2..];
        if n == 0 || tail.len() < n {
            break;
        }
        out.extend_from_slice(&tail[..n]);
        rest = tail[n..].strip_prefix(b"\r\n").unwrap_or(&tail[n..]);
    }
    out
}
