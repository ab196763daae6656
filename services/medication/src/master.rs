//! The drug master: the レセ電 医薬品マスター (Y master, 42 columns) for names, units, prices, 後発品 and 剤形,
//! joined by 薬価基準収載医薬品コード to the MHLW 薬価基準収載品目リスト (15 columns) for 成分名. The project ships a
//! sample of the first and the whole second (`services/medication/data/`), loaded on first start;
//! `onshi master import <file>` loads the full official files as downloaded (Shift_JIS or UTF-8, header or not).

use anyhow::{bail, Context};
use sqlx::PgPool;

const Y_SAMPLE: &str = include_str!("../data/drug-master-y-sample.csv");
const PRICE_LIST: &str = include_str!("../data/drug-price-list-mhlw.csv");
const S_SAMPLE: &str = include_str!("../data/procedure-master-s-sample.csv");

/// Decodes a master file: UTF-8 (BOM allowed) or Shift_JIS (CP932).
pub fn decode(bytes: &[u8]) -> anyhow::Result<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| s.into_owned())
        .context("the file is neither UTF-8 nor Shift_JIS")
}

/// Splits one CSV line; fields may be quoted ("…", with "" for a quote) as in the official downloads.
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// What an import loaded.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Imported {
    pub kind: &'static str,
    pub rows: usize,
    pub skipped: usize,
}

fn date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y%m%d").ok()
}

/// Loads a master file, recognised by its shape: the 診療行為マスター by its マスター種別 `S` (second column; the
/// official file or the compact sample, which keeps its first 12 columns), else by the column count (42: Y master,
/// 15: price list).
pub async fn import(pool: &PgPool, bytes: &[u8]) -> anyhow::Result<Imported> {
    let text = decode(bytes)?;
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(split_csv)
        .collect();
    let Some(width) = rows.first().map(Vec::len) else {
        bail!("the file is empty");
    };
    let data = rows.iter().filter(|r| {
        let first = r[0].trim();
        first != "変更区分" && first != "区分"
    });
    let is_s_master = rows
        .iter()
        .find(|r| r[0].trim() != "変更区分")
        .is_some_and(|r| r.len() >= 12 && r[1].trim() == "S");
    if is_s_master {
        return import_procedures(pool, data).await;
    }
    match width {
        42 => {
            let mut imported = Imported { kind: "y_master", ..Imported::default() };
            let mut cols: [Vec<String>; 9] = Default::default();
            let mut from = Vec::new();
            let mut to = Vec::new();
            for r in data {
                if r.len() != 42 || r[2].trim().len() != 9 {
                    imported.skipped += 1;
                    continue;
                }
                for (c, i) in cols.iter_mut().zip([2, 4, 9, 11, 16, 27, 31, 37, 36]) {
                    c.push(r[i].trim().to_string());
                }
                from.push(date(&r[29]));
                to.push(date(&r[30]).filter(|d| d.format("%Y%m%d").to_string() != "99991231"));
                imported.rows += 1;
            }
            sqlx::query(
                "INSERT INTO medication.drugs (code, name, unit, price, generic, form, price_code, generic_name, generic_code, \
                 valid_from, valid_to) \
                 SELECT code, name, unit, price::numeric, generic = '1', form, nullif(pc, ''), nullif(gn, ''), nullif(gc, ''), vf, vt \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
                             $9::date[], $10::date[], $11::text[]) AS t(code, name, unit, price, generic, form, pc, gn, vf, vt, gc) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit, price = EXCLUDED.price, \
                   generic = EXCLUDED.generic, form = EXCLUDED.form, price_code = EXCLUDED.price_code, \
                   generic_name = EXCLUDED.generic_name, generic_code = EXCLUDED.generic_code, \
                   valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to",
            )
            .bind(&cols[0])
            .bind(&cols[1])
            .bind(&cols[2])
            .bind(cols[3].iter().map(|p| if p.is_empty() { "0".to_string() } else { p.clone() }).collect::<Vec<_>>())
            .bind(&cols[4])
            .bind(&cols[5])
            .bind(&cols[6])
            .bind(&cols[7])
            .bind(&from)
            .bind(&to)
            .bind(&cols[8])
            .execute(pool)
            .await
            .context("loading the Y master")?;
            link_ingredients(pool).await?;
            Ok(imported)
        }
        15 => {
            let mut imported = Imported { kind: "price_list", ..Imported::default() };
            let mut cols: [Vec<String>; 5] = Default::default();
            let mut exists = Vec::new();
            for r in data {
                if r.len() != 15 || r[1].trim().len() != 12 {
                    imported.skipped += 1;
                    continue;
                }
                for (c, i) in cols.iter_mut().zip([1, 0, 2, 7, 12]) {
                    c.push(r[i].trim().to_string());
                }
                exists.push(!r[11].trim().is_empty());
                imported.rows += 1;
            }
            sqlx::query(
                "INSERT INTO medication.price_list (price_code, category, ingredient, product, price, generic_exists) \
                 SELECT pc, cat, ing, prod, nullif(price, '')::numeric, ge \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[]) \
                   AS t(pc, cat, ing, prod, price, ge) \
                 ON CONFLICT (price_code) DO UPDATE SET category = EXCLUDED.category, ingredient = EXCLUDED.ingredient, \
                   product = EXCLUDED.product, price = EXCLUDED.price, generic_exists = EXCLUDED.generic_exists",
            )
            .bind(&cols[0])
            .bind(&cols[1])
            .bind(&cols[2])
            .bind(&cols[3])
            .bind(&cols[4])
            .bind(&exists)
            .execute(pool)
            .await
            .context("loading the price list")?;
            link_ingredients(pool).await?;
            Ok(imported)
        }
        n => bail!("a master file has 42 columns (医薬品マスター), 15 (薬価基準収載品目リスト) or `S` in its second (診療行為マスター); this one has {n} columns"),
    }
}

/// Loads 診療行為マスター rows: 3 診療行為コード, 5 省略漢字名称, 10 データ規格名 (unit), 12 新又は現点数 (1-based).
async fn import_procedures<'a>(
    pool: &PgPool,
    data: impl Iterator<Item = &'a Vec<String>>,
) -> anyhow::Result<Imported> {
    let mut imported = Imported {
        kind: "s_master",
        ..Imported::default()
    };
    let mut cols: [Vec<String>; 4] = Default::default();
    for r in data {
        let code = r.get(2).map_or("", |c| c.trim());
        if r.len() < 12
            || r[1].trim() != "S"
            || code.len() != 9
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            imported.skipped += 1;
            continue;
        }
        for (c, i) in cols.iter_mut().zip([2, 4, 9, 11]) {
            c.push(r[i].trim().to_string());
        }
        imported.rows += 1;
    }
    sqlx::query(
        "INSERT INTO medication.procedure_master (code, name, unit, points) \
         SELECT code, name, nullif(unit, ''), nullif(points, '')::numeric \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS t(code, name, unit, points) \
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit, points = EXCLUDED.points",
    )
    .bind(&cols[0])
    .bind(&cols[1])
    .bind(&cols[2])
    .bind(&cols[3])
    .execute(pool)
    .await
    .context("loading the 診療行為マスター")?;
    Ok(imported)
}

async fn link_ingredients(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE medication.drugs d SET ingredient = p.ingredient FROM medication.price_list p \
         WHERE d.price_code = p.price_code AND d.ingredient IS DISTINCT FROM p.ingredient",
    )
    .execute(pool)
    .await?;
    // Drugs whose price code is not listed fall back to the generic-name text.
    sqlx::query(
        "UPDATE medication.drugs SET ingredient = regexp_replace(generic_name, '^【般】', '') \
         WHERE ingredient IS NULL AND generic_name IS NOT NULL",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Loads the shipped masters when the master is empty.
pub async fn ensure_loaded(pool: &PgPool) -> anyhow::Result<()> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM medication.drugs")
        .fetch_one(pool)
        .await?;
    if n == 0 {
        import(pool, PRICE_LIST.as_bytes()).await?;
        import(pool, Y_SAMPLE.as_bytes()).await?;
        tracing::info!("medication: shipped drug masters loaded");
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM medication.procedure_master")
        .fetch_one(pool)
        .await?;
    if n == 0 {
        import(pool, S_SAMPLE.as_bytes()).await?;
        tracing::info!("medication: shipped 診療行為マスター sample loaded");
    }
    Ok(())
}

/// A drug as the history shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Drug {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub ingredient: Option<String>,
}

/// The name shown for a code the master does not know.
pub const NOT_IN_MASTER: &str = "（医薬品マスター未収載）";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_and_without_quotes() {
        assert_eq!(split_csv("a,b,,c"), ["a", "b", "", "c"]);
        assert_eq!(split_csv("\"a,1\",\"b\"\"q\",c"), ["a,1", "b\"q", "c"]);
    }

    #[test]
    fn shipped_files_have_the_documented_shape() {
        let y: Vec<Vec<String>> = Y_SAMPLE.lines().map(split_csv).collect();
        assert_eq!(y.len(), 781);
        assert!(y.iter().all(|r| r.len() == 42));
        let p: Vec<Vec<String>> = PRICE_LIST.lines().map(split_csv).collect();
        assert_eq!(p.len(), 12_435);
        assert!(p.iter().all(|r| r.len() == 15));
        let s: Vec<Vec<String>> = S_SAMPLE.lines().map(split_csv).collect();
        assert!(s.len() >= 20);
        assert!(s
            .iter()
            .all(|r| r.len() == 12 && r[1] == "S" && r[2].len() == 9));
    }
}
