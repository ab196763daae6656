//! Medication extraction throughput (issue target: ≥ 0.5× a raw COPY of the same extracted rows, same run):
//! parse the stored UKE files, map codes through the drug master, supersede earlier claims, write the rows.
//! `cargo bench -p onshi-benches --bench extraction [-- <files>]` (100 receipts × 10 drug lines per file).

use std::sync::Arc;
use std::time::Instant;

use onshi_benches::Everyone;
use onshi_platform::directory::Directory;

const CODES: [&str; 10] = [
    "610406079",
    "620160501",
    "620007805",
    "620098801",
    "610406193",
    "610406227",
    "610406231",
    "620008912",
    "620007096",
    "699999999",
];

/// File `n` of institution `n % 20` (real months have many institutions).
fn file(n: usize) -> Vec<u8> {
    let code =
        onshi_wire::ids::InstitutionCode::from_body(&format!("13102{:04}", 1000 + n % 20)).unwrap();
    let mut t = format!(
        "IR,1,13,1,{},,試験クリニック,202611,00,\r\n",
        &code.as_str()[3..]
    );
    for r in 0..100 {
        let number = n * 100 + r + 1;
        t.push_str(&format!(
            "RE,{},1112,202610,試験　太郎,1,19800101,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\r\n",
            r + 1
        ));
        t.push_str(&format!(
            "HO,01130012,1,{number},1,100,,,,,,,,,\r\nSN,1,01,,,,00,,\r\n"
        ));
        for (i, code) in CODES.iter().enumerate() {
            let day = 1 + (i % 28);
            let days: Vec<String> = (1..=31)
                .map(|d| if d == day { "7".into() } else { String::new() })
                .collect();
            t.push_str(&format!(
                "IY,{},1,{code},3,10,7,,,,,,,{}\r\n",
                if i == 0 { "21" } else { "" },
                days.join(",")
            ));
        }
    }
    t.push_str("GO,100,1000,99\r\n");
    let mut b = encoding_rs::SHIFT_JIS.encode(&t).0.into_owned();
    b.push(0x1A);
    b
}

/// Takes `files` files in (intake) on `pool`; file numbers start at `first`.
async fn take_in(pool: &sqlx::PgPool, first: usize, files: usize) {
    onshi_medication::master::ensure_loaded(pool).await.unwrap();
    let received = onshi_platform::clock::parse_time("2026-11-09T10:00:00").unwrap();
    let dir: Arc<dyn Directory> = Arc::new(Everyone);
    for n in first..first + files {
        let bytes = file(n);
        let spooled = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(spooled.path(), &bytes).unwrap();
        let sha256 = onshi_platform::sha256_hex(&bytes);
        let claim = onshi_medication::claims::ClaimFile {
            path: spooled.path(),
            sha256: &sha256,
        };
        onshi_medication::claims::intake(pool, dir.as_ref(), (5, 12), received, None, claim)
            .await
            .unwrap();
    }
}

/// Extracts everything due on `pool` with `workers` lanes; seconds taken.
async fn extract(pool: &sqlx::PgPool, workers: usize) -> f64 {
    let after = onshi_platform::clock::parse_time("2026-11-11T06:00:00").unwrap();
    let t = Instant::now();
    onshi_medication::claims::run_batches(pool, after, false, workers)
        .await
        .unwrap();
    t.elapsed().as_secs_f64()
}

fn main() {
    let files = onshi_benches::count_arg(200) as usize;
    let server = onshi_benches::BenchServer::start("extract");
    let rt = onshi_benches::runtime(2);
    rt.block_on(async {
        let pool = server.database("bench", 8).await;
        take_in(&pool, 0, files).await;
        let t_extract = extract(&pool, 2).await;
        let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM medication.dispensings").fetch_one(&pool).await.unwrap();
        // Baseline: the same rows, as a binary COPY stream, into an identical empty table.
        sqlx::raw_sql(
            "CREATE TABLE medication.dispensings_copy (LIKE medication.dispensings INCLUDING ALL); \
             ALTER TABLE medication.dispensings_copy ALTER COLUMN id DROP DEFAULT",
        )
        .execute(&pool)
        .await
        .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let mut out = conn.copy_out_raw("COPY medication.dispensings TO STDOUT (FORMAT binary)").await.unwrap();
        let mut stream = Vec::new();
        use futures_util::StreamExt;
        while let Some(chunk) = out.next().await {
            stream.extend_from_slice(&chunk.unwrap());
        }
        drop(out);
        let t = Instant::now();
        onshi_platform::copy::send(&mut conn, "COPY medication.dispensings_copy FROM STDIN (FORMAT binary)", stream).await.unwrap();
        let t_copy = t.elapsed().as_secs_f64();

        let receipts = files * 100;
        println!("extraction: {files} files, {receipts} receipts, {rows} medication rows");
        println!("  extraction (parse + map + supersede + write)  {t_extract:7.2} s   {:>9.0} rows/s   {:>7.0} receipts/s", rows as f64 / t_extract, receipts as f64 / t_extract);
        println!("  baseline: raw COPY of the same rows           {t_copy:7.2} s   {:>9.0} rows/s", rows as f64 / t_copy);
        println!("  ratio extraction / raw COPY throughput        {:7.2}", t_copy / t_extract);
        let national = 180_000_000.0;
        println!("  projection, a national month of 180,000,000 claims at this rate: {:.1} h on these 2 cores", national / (receipts as f64 / t_extract) / 3600.0);

        // Scaling: the same files on a fresh database per setting; then two databases (a month split by
        // institution, as processes on separate databases or partitions would hold it) extracted at once.
        if std::env::var_os("EXTRACTION_SCALING").is_some() {
            for workers in [1, 2, 4] {
                let pool = server.database(&format!("bench_w{workers}"), 8).await;
                take_in(&pool, 0, files).await;
                let t = extract(&pool, workers).await;
                println!("  scaling: {workers} worker(s), one database          {t:7.2} s   {:>7.0} receipts/s", receipts as f64 / t);
            }
            let halves = [server.database("bench_a", 8).await, server.database("bench_b", 8).await];
            take_in(&halves[0], 0, files / 2).await;
            take_in(&halves[1], files / 2, files - files / 2).await;
            let t = Instant::now();
            let (a, b) = tokio::join!(extract(&halves[0], 1), extract(&halves[1], 1));
            let t = t.elapsed().as_secs_f64();
            println!("  scaling: 2 databases × 1 worker, at once           {t:7.2} s   {:>7.0} receipts/s   (each {a:.2} s, {b:.2} s)", receipts as f64 / t);
        }
    });
    drop(server);
}
