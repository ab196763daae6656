//! The demo population: named personas covering every QualificationValidity outcome, a facility of each type,
//! and a ready request file per persona (`seed/demo/requests/`, listed in the README). The files are embedded so
//! the binary is self-contained.
//!
//! Loading is idempotent: each step file is applied once (recognised by its digest); re-running changes nothing.

use anyhow::{bail, Context};

use onshi_core::http::Core;
use onshi_core::record::FacilityRecord;

/// The demo facilities (医科, 歯科, 薬局 operational; one clinic still "ready").
pub const FACILITIES: &str = include_str!("../demo/facilities.json");

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
        f.web_api_secret_sha256 = Some(onshi_core::sha256_hex(
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
    for (label, text) in STEPS {
        if onshi_insurer::already_loaded(core, label, text.as_bytes()).await? {
            loaded.steps_skipped += 1;
            continue;
        }
        let report = onshi_insurer::load_bulk(core, text.as_bytes(), false, label).await?;
        if !report.accepted {
            bail!("demo step {label} was refused: {:?}", report.errors);
        }
        loaded.steps_applied += 1;
    }
    Ok(loaded)
}
