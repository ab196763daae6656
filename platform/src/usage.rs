//! Usage statistics like the seed documents' tables: confirmations by method (マイナ保険証 at the card reader, 保険証
//! data, 一括照会 persons) and views of 薬剤・診療・特定健診 information, per facility and simulated month. Each
//! process counts in memory (one short lock per answer, no database write on the answer path) and adds its counts
//! to `usage.counts` every two seconds and at shutdown; the report groups them by facility type and prefecture (the
//! 医療機関コード's digits) or per facility with its マイナ保険証利用率. JSON and CSV.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use sqlx::PgPool;

use onshi_wire::ids::FacilityKind;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// A confirmation with a My Number card at the reader (a face result).
    MyNumberCard,
    /// A confirmation by insurance-card data (`OQSsiquc01`).
    InsuranceCard,
    /// Persons of a bulk pre-check (`OQSmuquc01`).
    Bulk,
    /// 薬剤情報 shown (`YZKsiquc01`).
    ViewMedication,
    /// 診療情報 shown (`YZKsiquc01`, `FileCategory` 3/4).
    ViewClinical,
    /// 特定健診情報 shown (`TKKsiquc01`).
    ViewCheckup,
    /// A re-query by stored numbers in a month the patient presented their card (allowed; seed 004).
    Requery,
    /// A re-query by stored numbers in a month without a presentation (flagged; seed 004).
    RequeryUnpresented,
}

impl Method {
    pub const ALL: &'static [Method] = &[
        Self::MyNumberCard,
        Self::InsuranceCard,
        Self::Bulk,
        Self::ViewMedication,
        Self::ViewClinical,
        Self::ViewCheckup,
        Self::Requery,
        Self::RequeryUnpresented,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::MyNumberCard => "mynumber_card",
            Self::InsuranceCard => "insurance_card",
            Self::Bulk => "bulk",
            Self::ViewMedication => "view_medication",
            Self::ViewClinical => "view_clinical",
            Self::ViewCheckup => "view_checkup",
            Self::Requery => "requery",
            Self::RequeryUnpresented => "requery_unpresented",
        }
    }
}

/// Shards of the pending counts: the answer path's threads rarely meet on one lock.
const SHARDS: usize = 16;

/// A count's key: month as `YYYYMM`, the 医療機関コード as a number, what.
type Key = (u32, u64, Method);

/// The counts of one process not yet written.
#[derive(Debug, Default)]
pub struct Usage {
    pending: [Mutex<HashMap<Key, i64>>; SHARDS],
}

/// The migrations of the `usage` schema.
pub const MIGRATIONS: crate::db::Migrations = crate::db::Migrations {
    schema: "usage",
    steps: &[(
        "0001_counts",
        include_str!("../../schema/usage/0001_counts.sql"),
    )],
};

impl Usage {
    /// Counts `n` of `method` for `facility` (a 医療機関コード) at simulated time `at` (its month). No allocation.
    pub fn record(&self, facility: &str, at: chrono::NaiveDateTime, method: Method, n: i64) {
        use chrono::Datelike;
        let Some(code) = (facility.len() == 10)
            .then(|| facility.parse::<u64>().ok())
            .flatten()
        else {
            return;
        };
        if n <= 0 {
            return;
        }
        let month = at.year().max(0) as u32 * 100 + at.month();
        let mut p = self.pending[code as usize % SHARDS]
            .lock()
            .expect("usage lock");
        *p.entry((month, code, method)).or_default() += n;
    }

    fn take(&self) -> HashMap<Key, i64> {
        let mut all = HashMap::new();
        for shard in &self.pending {
            for (k, n) in std::mem::take(&mut *shard.lock().expect("usage lock")) {
                *all.entry(k).or_default() += n;
            }
        }
        all
    }

    fn put_back(&self, counts: HashMap<Key, i64>) {
        for (k, n) in counts {
            let mut p = self.pending[k.1 as usize % SHARDS]
                .lock()
                .expect("usage lock");
            *p.entry(k).or_default() += n;
        }
    }

    /// Adds the pending counts to `usage.counts` (in one statement); they are kept for the next flush if it fails.
    pub async fn flush(&self, pool: &PgPool) -> anyhow::Result<usize> {
        let taken = self.take();
        if taken.is_empty() {
            return Ok(0);
        }
        let mut months = Vec::with_capacity(taken.len());
        let mut facilities = Vec::with_capacity(taken.len());
        let mut methods = Vec::with_capacity(taken.len());
        let mut counts = Vec::with_capacity(taken.len());
        for ((m, f, k), n) in &taken {
            months.push(m.to_string());
            facilities.push(format!("{f:010}"));
            methods.push(k.label());
            counts.push(*n);
        }
        let written = sqlx::query(
            "INSERT INTO usage.counts (month, facility, method, count) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) \
             ON CONFLICT (month, facility, method) DO UPDATE SET count = usage.counts.count + excluded.count",
        )
        .bind(&months)
        .bind(&facilities)
        .bind(&methods)
        .bind(&counts)
        .execute(pool)
        .await;
        if let Err(e) = written {
            let n = taken.len();
            self.put_back(taken);
            return Err(anyhow::Error::new(e).context(format!("{n} counts kept for the next try")));
        }
        Ok(taken.len())
    }

    /// Flushes every two seconds until the task is dropped.
    pub async fn run(self: std::sync::Arc<Self>, pool: PgPool) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            if let Err(e) = self.flush(&pool).await {
                tracing::warn!(error = %e, "usage: counts not written yet");
            }
        }
    }
}

/// One row of the report by facility type and prefecture.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    pub month: String,
    pub prefecture: String,
    pub facility_type: &'static str,
    pub method: String,
    pub count: i64,
}

/// One facility's month: its confirmations by method and its マイナ保険証利用率.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FacilityRow {
    pub month: String,
    pub facility: String,
    pub facility_type: &'static str,
    pub mynumber_card: i64,
    pub insurance_card: i64,
    pub bulk: i64,
    /// Re-queries by stored numbers in a month with a presentation (allowed), and without one (flagged).
    pub requery: i64,
    pub requery_unpresented: i64,
    /// マイナ保険証 confirmations ÷ (マイナ保険証 + 保険証) confirmations; `None` without either.
    pub mynumber_rate: Option<f64>,
}

async fn rows(
    pool: &PgPool,
    month: Option<&str>,
) -> anyhow::Result<Vec<(String, String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT month, facility, method, count FROM usage.counts \
         WHERE $1::text IS NULL OR month = $1 ORDER BY month, facility, method",
    )
    .bind(month)
    .fetch_all(pool)
    .await?)
}

/// Counts by month × prefecture × facility type × method.
pub async fn by_area(pool: &PgPool, month: Option<&str>) -> anyhow::Result<Vec<Row>> {
    let mut sums: std::collections::BTreeMap<(String, String, &'static str, String), i64> =
        Default::default();
    for (m, f, k, n) in rows(pool, month).await? {
        let kind = FacilityKind::metric(FacilityKind::of_code(&f));
        *sums.entry((m, f[..2].to_string(), kind, k)).or_default() += n;
    }
    Ok(sums
        .into_iter()
        .map(|((month, prefecture, facility_type, method), count)| Row {
            month,
            prefecture,
            facility_type,
            method,
            count,
        })
        .collect())
}

/// Per facility and month, with the マイナ保険証利用率.
pub async fn by_facility(pool: &PgPool, month: Option<&str>) -> anyhow::Result<Vec<FacilityRow>> {
    let mut out: Vec<FacilityRow> = Vec::new();
    for (m, f, k, n) in rows(pool, month).await? {
        if out.last().is_none_or(|r| r.month != m || r.facility != f) {
            out.push(FacilityRow {
                month: m.clone(),
                facility_type: FacilityKind::metric(FacilityKind::of_code(&f)),
                facility: f.clone(),
                mynumber_card: 0,
                insurance_card: 0,
                bulk: 0,
                requery: 0,
                requery_unpresented: 0,
                mynumber_rate: None,
            });
        }
        let r = out.last_mut().expect("pushed");
        match k.as_str() {
            "mynumber_card" => r.mynumber_card += n,
            "insurance_card" => r.insurance_card += n,
            "bulk" => r.bulk += n,
            "requery" => r.requery += n,
            "requery_unpresented" => r.requery_unpresented += n,
            _ => {}
        }
    }
    for r in &mut out {
        let total = r.mynumber_card + r.insurance_card;
        r.mynumber_rate = (total > 0).then(|| r.mynumber_card as f64 / total as f64);
    }
    Ok(out)
}

/// Rows as CSV with a header (values are codes and numbers: nothing to quote).
pub fn csv<T: Serialize>(rows: &[T]) -> String {
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(r) else {
            continue;
        };
        if i == 0 {
            out.push_str(&map.keys().cloned().collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        let cells: Vec<String> = map
            .values()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A simulated month as the statistics name it: `YYYYMM`.
pub fn check_month(m: &str) -> Result<(), String> {
    let ok = m.len() == 6
        && m.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&m[4..].parse::<u32>().unwrap_or(0));
    if ok {
        Ok(())
    } else {
        Err(format!("month {m:?}: YYYYMM, e.g. 202611"))
    }
}

/// How a report groups the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// Month × prefecture × facility type × method.
    Area,
    /// Per facility and month, with the マイナ保険証利用率.
    Facility,
}

impl By {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "area" => Ok(Self::Area),
            "facility" => Ok(Self::Facility),
            other => Err(format!("by {other:?}: area or facility")),
        }
    }
}

/// A report as JSON (`{"by", "rows"}`) and as CSV: the one report of the API and the CLI.
pub async fn report(
    pool: &PgPool,
    month: Option<&str>,
    by: By,
) -> anyhow::Result<(serde_json::Value, String)> {
    Ok(match by {
        By::Area => {
            let rows = by_area(pool, month).await?;
            (serde_json::json!({"by": "area", "rows": rows}), csv(&rows))
        }
        By::Facility => {
            let rows = by_facility(pool, month).await?;
            (
                serde_json::json!({"by": "facility", "rows": rows}),
                csv(&rows),
            )
        }
    })
}

/// Who may call the statistics route.
pub const ROUTES: &[crate::roles::RouteAccess] = &[crate::roles::route(
    "GET",
    "/admin/v1/statistics",
    crate::roles::Access::Operator,
)];

/// `GET /admin/v1/statistics?month=YYYYMM&by=area|facility&format=json|csv` (needs `web::Data<Core>`).
pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.route("/admin/v1/statistics", actix_web::web::get().to(statistics));
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    month: Option<String>,
    by: Option<String>,
    format: Option<String>,
}

async fn statistics(
    core: actix_web::web::Data<crate::http::Core>,
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, crate::http::ApiError> {
    use crate::http::ApiError;
    let q = actix_web::web::Query::<Query>::from_query(req.query_string())
        .map_err(|e| ApiError::bad(format!("query: {e}")))?;
    if let Some(m) = &q.month {
        check_month(m).map_err(ApiError::bad)?;
    }
    let by = By::parse(q.by.as_deref().unwrap_or("area")).map_err(ApiError::bad)?;
    let csv_wanted = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad(format!("format {other:?}: json or csv"))),
    };
    // This process's latest counts first.
    core.usage.flush(&core.pool).await?;
    let (json, text) = report(&core.pool, q.month.as_deref(), by).await?;
    Ok(if csv_wanted {
        actix_web::HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(text)
    } else {
        actix_web::HttpResponse::Ok().json(json)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let rows = vec![Row {
            month: "202611".into(),
            prefecture: "13".into(),
            facility_type: "medical",
            method: "insurance_card".into(),
            count: 3,
        }];
        let text = csv(&rows);
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().next().unwrap().contains("prefecture"));
        assert!(text.contains("13"));
    }

    #[test]
    fn months_and_groupings_are_checked() {
        assert!(check_month("202611").is_ok());
        for bad in ["2026-11", "202613", "202600", "20261", "abcdef"] {
            assert!(check_month(bad).is_err(), "{bad}");
        }
        assert_eq!(By::parse("facility"), Ok(By::Facility));
        assert!(By::parse("city").is_err());
    }

    #[test]
    fn counts_are_kept_per_month_facility_and_method() {
        let u = Usage::default();
        let at = |s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        u.record(
            "1310112345",
            at("2026-11-01T09:00:00"),
            Method::InsuranceCard,
            1,
        );
        u.record(
            "1310112345",
            at("2026-11-30T23:00:00"),
            Method::InsuranceCard,
            2,
        );
        u.record(
            "1310112345",
            at("2026-12-01T00:00:00"),
            Method::InsuranceCard,
            1,
        );
        u.record("bad", at("2026-11-01T09:00:00"), Method::InsuranceCard, 2);
        let all = u.take();
        assert_eq!(all.len(), 2);
        assert_eq!(all[&(202611, 1310112345, Method::InsuranceCard)], 3);
        u.put_back(all);
        assert_eq!(u.take().values().sum::<i64>(), 4);
    }
}
