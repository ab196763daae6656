//! A lean HTTP/1.1 keep-alive client connection, plain or over (mutual) TLS: one request at a time, the request
//! head written into a reused buffer, the answer read into another (`Content-Length` or chunked), reconnecting
//! when the server closes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Where connections go: an address, and the TLS settings when it is an `https` target.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Endpoint {
    /// `http://host:port` or `https://host:port` (TLS trusting `ca_pem`, presenting `cert` = (cert, key) PEM).
    pub fn parse(
        url: &str,
        ca_pem: Option<&str>,
        cert: Option<(&str, &str)>,
    ) -> anyhow::Result<Self> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            anyhow::bail!("{url:?}: the target must start with http:// or https://");
        };
        let addr = rest.trim_end_matches('/').to_string();
        if addr.is_empty() || addr.contains('/') {
            anyhow::bail!("{url:?}: give the server only (scheme://host:port)");
        }
        let tls = if tls {
            let ca = ca_pem.ok_or_else(|| {
                anyhow::anyhow!("an https target needs the CA certificate (--ca)")
            })?;
            Some(Arc::new(crate::pki::client_config(ca, cert)?))
        } else {
            None
        };
        Ok(Self { addr, tls })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The same server with another client certificate.
    pub fn with_cert(&self, ca_pem: &str, cert: (&str, &str)) -> anyhow::Result<Self> {
        Ok(Self {
            addr: self.addr.clone(),
            tls: Some(Arc::new(crate::pki::client_config(ca_pem, Some(cert))?)),
        })
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One answer: its status and where its body lies in the connection's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    /// The end of the head in the connection's buffer.
    head: usize,
    body: (usize, usize),
}

/// A keep-alive connection.
pub struct Conn {
    endpoint: Endpoint,
    stream: Option<Stream>,
    out: Vec<u8>,
    buf: Vec<u8>,
    chunked: Vec<u8>,
    /// Connections opened (1 + reconnects).
    pub opened: u64,
}

impl Conn {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            stream: None,
            out: Vec::with_capacity(4096),
            buf: Vec::with_capacity(16 * 1024),
            chunked: Vec::new(),
            opened: 0,
        }
    }

    async fn connect(&mut self) -> io::Result<&mut Stream> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(&self.endpoint.addr).await?;
            tcp.set_nodelay(true)?;
            let s = match &self.endpoint.tls {
                None => Stream::Plain(tcp),
                Some(config) => {
                    let name = rustls::pki_types::ServerName::try_from("localhost")
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                    let tls = TlsConnector::from(config.clone())
                        .connect(name, tcp)
                        .await?;
                    Stream::Tls(Box::new(tls))
                }
            };
            self.opened += 1;
            self.stream = Some(s);
        }
        Ok(self.stream.as_mut().expect("connected"))
    }

    /// Opens the connection now (and completes the TLS handshake), so the first request does not pay for it.
    pub async fn warm(&mut self) -> io::Result<()> {
        self.connect().await.map(|_| ())
    }

    /// Sends one request and reads its answer. A failed exchange drops the connection (the next one reconnects).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Answer> {
        let r = self.exchange(method, path, headers, body).await;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Answer> {
        use std::io::Write;
        self.out.clear();
        write!(self.out, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n")?;
        for (n, v) in headers {
            write!(self.out, "{n}: {v}\r\n")?;
        }
        if method != "GET" || !body.is_empty() {
            write!(self.out, "Content-Length: {}\r\n", body.len())?;
        }
        self.out.extend_from_slice(b"\r\n");
        if body.len() <= 16 * 1024 {
            self.out.extend_from_slice(body);
        }
        let big = body.len() > 16 * 1024;
        let mut out = std::mem::take(&mut self.out);
        let stream = self.connect().await;
        let written = match stream {
            Ok(s) => {
                let mut r = s.write_all(&out).await;
                if r.is_ok() && big {
                    r = s.write_all(body).await;
                }
                if r.is_ok() {
                    r = s.flush().await;
                }
                r
            }
            Err(e) => Err(e),
        };
        out.clear();
        self.out = out;
        written?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> io::Result<Answer> {
        self.buf.clear();
        let stream = self.stream.as_mut().expect("connected");
        // The head.
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > 64 * 1024 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "HTTP head over 64 KiB",
                ));
            }
            read_more(stream, &mut self.buf).await?;
        };
        let head = &self.buf[..head_end];
        let status = head
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        for line in head.split(|&b| b == b'\n').skip(1) {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = line.split_at(colon);
            let value = std::str::from_utf8(&value[1..]).unwrap_or("").trim();
            if name.eq_ignore_ascii_case(b"content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let body = if chunked {
            self.read_chunked(head_end).await?
        } else {
            let len = length.unwrap_or(0);
            while self.buf.len() < head_end + len {
                read_more(self.stream.as_mut().expect("connected"), &mut self.buf).await?;
            }
            (head_end, head_end + len)
        };
        if close {
            self.stream = None;
        }
        Ok(Answer {
            status,
            head: head_end,
            body,
        })
    }

    /// Decodes a chunked body into `self.chunked` (the answer's body then lies there).
    async fn read_chunked(&mut self, mut at: usize) -> io::Result<(usize, usize)> {
        self.chunked.clear();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf[at..], b"\r\n") {
                    break at + i;
                }
                read_more(self.stream.as_mut().expect("connected"), &mut self.buf).await?;
            };
            let size_text = std::str::from_utf8(&self.buf[at..line_end]).unwrap_or("");
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            at = line_end + 2;
            while self.buf.len() < at + size + 2 {
                read_more(self.stream.as_mut().expect("connected"), &mut self.buf).await?;
            }
            self.chunked.extend_from_slice(&self.buf[at..at + size]);
            at += size + 2;
            if size == 0 {
                return Ok((usize::MAX, usize::MAX));
            }
        }
    }

    /// A header of the last answer (the first of that name).
    pub fn header(&self, a: &Answer, name: &str) -> Option<&str> {
        self.buf[..a.head]
            .split(|&b| b == b'\n')
            .skip(1)
            .find_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                let (n, v) = line.split_at(colon);
                n.eq_ignore_ascii_case(name.as_bytes())
                    .then(|| std::str::from_utf8(&v[1..]).ok())
                    .flatten()
                    .map(str::trim)
            })
    }

    /// The body of the last answer.
    pub fn body(&self, a: &Answer) -> &[u8] {
        if a.body.0 == usize::MAX {
            &self.chunked
        } else {
            &self.buf[a.body.0..a.body.1]
        }
    }
}

async fn read_more(stream: &mut Stream, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    let n = stream.read_buf(buf).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
