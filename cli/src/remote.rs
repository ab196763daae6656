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

    /// Calls the admin API as the operator; returns the status and the JSON answer (`null` for an empty one).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = TcpStream::connect(&self.addr)
            .with_context(|| format!("connecting to the running onshi at {}", self.addr))?;
        s.set_read_timeout(Some(Duration::from_secs(600)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            self.token,
            body.len()
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            bail!("the running onshi sent no answer");
        };
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .context("an HTTP status")?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        let json = if body.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&body).context("a JSON answer")?
        };
        Ok((status, json))
    }
}

/// The body of a chunked answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}
