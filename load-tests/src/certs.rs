//! Terminal certificates for mutual TLS, one per simulated facility: read from a directory laid out as
//! `onshi up` writes `<home>/certs` (`<code>/<name>.crt` + `.key`), and with `--issue-certs` the missing ones
//! issued through the portal API (`POST /portal/v1/facilities/{code}/certificates`, operator role) and saved there.

use std::path::{Path, PathBuf};

use crate::client::{Conn, Endpoint};

/// The (certificate, key) PEM of a facility's terminal in `dir`, if there is one.
pub fn find(dir: &Path, code: &str) -> Option<(String, String)> {
    let mut crts: Vec<PathBuf> = std::fs::read_dir(dir.join(code))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "crt"))
        .collect();
    crts.sort();
    crts.into_iter().find_map(|crt| {
        let key = crt.with_extension("key");
        Some((
            std::fs::read_to_string(&crt).ok()?,
            std::fs::read_to_string(key).ok()?,
        ))
    })
}

/// Issues a terminal certificate for `code` through the portal API at `admin` and saves it in `dir/<code>/`.
pub async fn issue(
    admin: &Endpoint,
    token: Option<&str>,
    dir: &Path,
    code: &str,
) -> anyhow::Result<(String, String)> {
    let mut conn = Conn::new(admin.clone());
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let a = conn
        .send(
            "POST",
            &format!("/portal/v1/facilities/{code}/certificates"),
            &headers,
            b"{\"terminal\":\"onshi-load\"}",
        )
        .await
        .map_err(|e| anyhow::anyhow!("issuing a certificate for {code}: {e}"))?;
    let body: serde_json::Value = serde_json::from_slice(conn.body(&a)).unwrap_or_default();
    if a.status != 201 {
        anyhow::bail!(
            "issuing a certificate for {code}: the portal answered {} {}",
            a.status,
            body["error"]["message"].as_str().unwrap_or("")
        );
    }
    let (Some(cert), Some(key)) = (body["cert_pem"].as_str(), body["key_pem"].as_str()) else {
        anyhow::bail!("issuing a certificate for {code}: no cert_pem/key_pem in the answer");
    };
    let fdir = dir.join(code);
    std::fs::create_dir_all(&fdir)?;
    std::fs::write(fdir.join("onshi-load.crt"), cert)?;
    // The private key readable by its owner only.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(fdir.join("onshi-load.key"))?
            .write_all(key.as_bytes())?;
    }
    Ok((cert.to_string(), key.to_string()))
}
