//! The demo population: named personas covering every QualificationValidity outcome, a facility of each type,
//! and a ready request file per persona (`seed/demo/requests/`, listed in the README). The files are embedded so
//! the binary is self-contained.
//!
//! Loading is idempotent: each step file is applied once (recognised by its digest); re-running changes nothing.

use anyhow::{bail, Context};

use onshi_platform::http::Core;
use onshi_wire::ids::Date;
use onshi_wire::record::FacilityRecord;

/// The demo facilities (医科, 歯科, 薬局, a 施術所 (資格確認限定型) and a 訪問看護ステーション operational; one clinic
/// still "ready").
pub const FACILITIES: &str = include_str!("../demo/facilities.json");

/// Every ready file of `seed/demo/` (the request files, the claim file, the checkup archive) by its path under it,
/// embedded so that scenarios run anywhere (`onshi scenario`). A unit test keeps the list equal to the folder.
pub const FILES: &[(&str, &[u8])] = &[
    (
        "requests/OQSmuimm01req_yamada_family.xml",
        include_bytes!("../demo/requests/OQSmuimm01req_yamada_family.xml"),
    ),
    (
        "requests/OQSmuquc01req_demo_clinic.xml",
        include_bytes!("../demo/requests/OQSmuquc01req_demo_clinic.xml"),
    ),
    (
        "requests/OQSmuhvq01req_home_visit.xml",
        include_bytes!("../demo/requests/OQSmuhvq01req_home_visit.xml"),
    ),
    (
        "requests/OQSmuonq01req_online_clinic.xml",
        include_bytes!("../demo/requests/OQSmuonq01req_online_clinic.xml"),
    ),
    (
        "requests/OQSmutic01req_demo_clinic.xml",
        include_bytes!("../demo/requests/OQSmutic01req_demo_clinic.xml"),
    ),
    (
        "requests/OQSsiquc01req_ogawa_shigeru.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_ogawa_shigeru.xml"),
    ),
    (
        "requests/YZKsiquc01req_judo_clinic.xml",
        include_bytes!("../demo/requests/YZKsiquc01req_judo_clinic.xml"),
    ),
    (
        "requests/OQSsiimm01req_sato_kenichi.xml",
        include_bytes!("../demo/requests/OQSsiimm01req_sato_kenichi.xml"),
    ),
    (
        "requests/OQSsiquc01req_inactive_facility.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_inactive_facility.xml"),
    ),
    (
        "requests/OQSsiquc01req_ito_new.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_ito_new.xml"),
    ),
    (
        "requests/OQSsiquc01req_ito_old.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_ito_old.xml"),
    ),
    (
        "requests/OQSsiquc01req_ito_old_past.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_ito_old_past.xml"),
    ),
    (
        "requests/OQSsiquc01req_kato_twins.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_kato_twins.xml"),
    ),
    (
        "requests/OQSsiquc01req_kimura_ken.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_kimura_ken.xml"),
    ),
    (
        "requests/OQSsiquc01req_kobayashi_yui.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_kobayashi_yui.xml"),
    ),
    (
        "requests/OQSsiquc01req_nakamura_misaki.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_nakamura_misaki.xml"),
    ),
    (
        "requests/OQSsiquc01req_not_found.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_not_found.xml"),
    ),
    (
        "requests/OQSsiquc01req_pharmacy_sjis.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_pharmacy_sjis.xml"),
    ),
    (
        "requests/OQSsiquc01req_sato_kenichi.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_sato_kenichi.xml"),
    ),
    (
        "requests/OQSsiquc01req_sato_kenichi_noconsent.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_sato_kenichi_noconsent.xml"),
    ),
    (
        "requests/OQSsiquc01req_suzuki_haru.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_suzuki_haru.xml"),
    ),
    (
        "requests/OQSsiquc01req_takahashi_tadashi.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_takahashi_tadashi.xml"),
    ),
    (
        "requests/OQSsiquc01req_watanabe_akira.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_watanabe_akira.xml"),
    ),
    (
        "requests/OQSsiquc01req_yamada_hanako.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_yamada_hanako.xml"),
    ),
    (
        "requests/OQSsiquc01req_yamada_sora.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_yamada_sora.xml"),
    ),
    (
        "requests/OQSsiquc01req_yamada_taro.xml",
        include_bytes!("../demo/requests/OQSsiquc01req_yamada_taro.xml"),
    ),
    (
        "requests/TKKsiquc01req_yamada_taro.xml",
        include_bytes!("../demo/requests/TKKsiquc01req_yamada_taro.xml"),
    ),
    (
        "requests/YZKsiquc01req_yamada_taro.xml",
        include_bytes!("../demo/requests/YZKsiquc01req_yamada_taro.xml"),
    ),
    (
        "claims/RECEIPTC_1310112345_202611.UKE",
        include_bytes!("../demo/claims/RECEIPTC_1310112345_202611.UKE"),
    ),
    (
        "checkups/1310112345_01130012_202506100_1.zip",
        include_bytes!("../demo/checkups/1310112345_01130012_202506100_1.zip"),
    ),
];

/// A ready demo file by its path under `seed/demo/`.
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Registration steps, applied in order (step 2 holds later changes: a job change, a death, a move).
pub const STEPS: &[(&str, &str)] = &[
    (
        "demo:01-registrations",
        include_str!("../demo/01-registrations.jsonl"),
    ),
    ("demo:02-changes", include_str!("../demo/02-changes.jsonl")),
];

/// Web API client secret of a demo facility (demo data only; real secrets come from the portal).
pub fn demo_secret(code: &str) -> String {
    format!("demo-secret-{code}")
}

/// What `load` did.
#[derive(Debug, Default)]
pub struct Loaded {
    pub facilities: usize,
    pub steps_applied: usize,
    pub steps_skipped: usize,
}

/// Loads the demo facilities and population into the registries.
pub async fn load(core: &Core) -> anyhow::Result<Loaded> {
    let mut facilities: Vec<FacilityRecord> =
        serde_json::from_str(FACILITIES).context("demo facilities")?;
    for f in &mut facilities {
        f.web_api_secret_sha256 = Some(onshi_platform::sha256_hex(
            demo_secret(f.code.as_str()).as_bytes(),
        ));
    }
    onshi_portal::register_facilities(core, &facilities, "demo")
        .await
        .map_err(|e| anyhow::anyhow!("demo facilities: {e}"))?;
    let mut loaded = Loaded {
        facilities: facilities.len(),
        ..Loaded::default()
    };
    cards(core).await?;
    for (label, text) in STEPS {
        if onshi_insurer::already_loaded(core, label, text.as_bytes()).await? {
            loaded.steps_skipped += 1;
            continue;
        }
        let report = onshi_insurer::load_bulk(core, text.as_bytes(), false, label, None).await?;
        if !report.accepted {
            bail!("demo step {label} was refused: {:?}", report.errors);
        }
        loaded.steps_applied += 1;
    }
    Ok(loaded)
}

/// Writes a client certificate for terminal `terminal-1` of each operational demo facility, and the CA, under
/// `dir` (`<dir>/ca.crt`, `<dir>/<code>/terminal-1.crt|.key`). A certificate already there is kept while the
/// portal still lists it as valid, so re-running changes nothing.
pub async fn terminal_certificates(core: &Core, dir: &std::path::Path) -> anyhow::Result<usize> {
    use onshi_wire::record::FacilityStatus;
    let facilities: Vec<FacilityRecord> =
        serde_json::from_str(FACILITIES).context("demo facilities")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca = onshi_portal::ca(&core.pool).await?;
    std::fs::write(dir.join("ca.crt"), &ca.cert_pem)?;
    let today = core.clock.today();
    let mut issued = 0;
    for f in facilities
        .iter()
        .filter(|f| f.status == FacilityStatus::Operational)
    {
        let code = f.code.as_str();
        let fdir = dir.join(code);
        let (crt, key) = (fdir.join("terminal-1.crt"), fdir.join("terminal-1.key"));
        let current: FacilityRecord = match onshi_portal::STORE
            .versions_of(&core.pool, code)
            .await?
            .pop()
        {
            Some(v) => serde_json::from_value(v.record)?,
            None => continue,
        };
        let still_valid = std::fs::read_to_string(&crt)
            .ok()
            .and_then(|pem| onshi_platform::pki::pem_to_der(&pem).ok())
            .map(|der| onshi_platform::pki::fingerprint(&der))
            .is_some_and(|sha| {
                current.certificates.iter().any(|c| {
                    c.sha256 == sha
                        && c.revoked_on.is_none()
                        && c.not_before <= today
                        && today <= c.not_after
                })
            });
        if still_valid && key.exists() {
            continue;
        }
        // Valid as long as the CA, so moving the clock (back before today, or years ahead) keeps them working.
        let (cert, _) = onshi_portal::issue_certificate(
            core,
            code,
            "terminal-1",
            Date::parse(DEMO_CERTS_FROM).expect("a date"),
            Date::parse(DEMO_CERTS_TO).expect("a date"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo certificate for {code}: {e}"))?;
        std::fs::create_dir_all(&fdir)?;
        std::fs::write(&crt, &cert.cert_pem)?;
        write_private(&key, &cert.key_pem)?;
        issued += 1;
    }
    Ok(issued)
}

/// The validity of the demo terminal certificates: the CA's (`platform::pki`).
pub const DEMO_CERTS_FROM: &str = "20200101";
pub const DEMO_CERTS_TO: &str = "20991231";

/// Writes a private key readable by its owner only (mode 0600), replacing any earlier file.
fn write_private(path: &std::path::Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(pem.as_bytes())
}

/// The demo My Number cards: (serial, person, PIN, registered qualification, reported lost).
pub const CARDS: &[(&str, &str, &str, Option<&str>, bool)] = &[
    (
        "D000000000000001",
        "demo-yamada-taro",
        "1234",
        Some("01130012:12345678:1:00"),
        false,
    ),
    (
        "D000000000000002",
        "demo-ito-makoto",
        "2345",
        Some("01130012:23456789:15:00"),
        false,
    ),
    ("D000000000000003", "demo-suzuki-haru", "3456", None, false),
    (
        "D000000000000004",
        "demo-sato-kenichi",
        "4567",
        Some("06131270:55:1203:00"),
        false,
    ),
    (
        "D000000000000005",
        "demo-kobayashi-yui",
        "5678",
        Some("06131270:77:502:00"),
        true,
    ),
    // The home-visit patient (居宅同意取得型): the visiting nurse reads his card at home.
    (
        "D000000000000006",
        "demo-takahashi-tadashi",
        "6789",
        Some("131201:練馬:7001:00"),
        false,
    ),
];

/// Issues the demo cards (idempotent): registered ones as registered on 2024-06-01; the lost one revoked.
pub async fn cards(core: &Core) -> anyhow::Result<()> {
    let issued = onshi_wire::ids::Date::parse("20240401").expect("date");
    let registered_on = onshi_wire::ids::Date::parse("20240601").expect("date");
    for (serial, person, pin, qualification, lost) in CARDS {
        onshi_consent::cards::issue_fixed(
            core,
            serial,
            person,
            pin,
            issued,
            10,
            qualification.map(|q| (q, registered_on)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo card {serial}: {e}"))?;
        if *lost {
            let card = onshi_consent::cards::get(&core.pool, serial).await?;
            if card.is_some_and(|c| c.revoked_on.is_none()) {
                onshi_consent::cards::report_lost(&core.pool, serial, registered_on)
                    .await
                    .map_err(|e| anyhow::anyhow!("demo card {serial}: {e}"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_files_are_the_folder() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        let mut on_disk = vec![];
        for sub in ["requests", "claims", "checkups"] {
            for e in std::fs::read_dir(base.join(sub)).unwrap() {
                on_disk.push(format!(
                    "{sub}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        on_disk.sort();
        let mut listed: Vec<String> = super::FILES.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(listed, on_disk, "seed/demo changed: update demo::FILES");
        for (p, b) in super::FILES {
            assert_eq!(std::fs::read(base.join(p)).unwrap(), *b);
        }
    }
}
