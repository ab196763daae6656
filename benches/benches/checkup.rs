//! Checkup ingestion and retrieval (issue targets: a 100,000-person annual submission — unzip + parse + validate +
//! judge + write — at ≥ 0.5× a raw COPY of the same rows, same run; `TKKsiquc01` parse → query → serialize under
//! 1 ms at p99). `cargo bench -p onshi-benches --bench checkup [-- <persons>]` (`PARSE_ROUNDS` sets how many times the
//! parse-only timing parses one document).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use onshi_benches::Everyone;
use onshi_checkup::synthetic::{self, Example};
use onshi_wire::msg::tkk_siquc01;
use onshi_wire::xml::{Encoding, OutputForm};

fn main() {
    let persons = onshi_benches::count_arg(100_000) as usize;
    let server = onshi_benches::BenchServer::start("checkup");
    let rt = onshi_benches::runtime(2);
    rt.block_on(async {
        let pool = server.database("bench", 4).await;
        onshi_checkup::MIGRATIONS.apply(&pool).await.unwrap();
        // The annual report of one insurer: one document per person (not timed).
        let file = tempfile::NamedTempFile::new().unwrap();
        let t = Instant::now();
        {
            let out = std::io::BufWriter::new(std::fs::File::create(file.path()).unwrap());
            let date = NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
            let mut w = synthetic::ArchiveWriter::new(out, "5521111111", "01130012", date);
            for n in 0..persons {
                let mut e = Example::vector_one();
                e.number = (1_000_000 + n).to_string();
                e.date = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap() + chrono::Days::new((n % 250) as u64);
                w.add(&synthetic::document(&e)).unwrap();
            }
            w.finish().unwrap();
        }
        let size = std::fs::metadata(file.path()).unwrap().len();
        println!("archive: {persons} persons, {:.1} MB, written in {:.1} s", size as f64 / 1e6, t.elapsed().as_secs_f64());
        let sample = synthetic::document(&Example::vector_one());
        let t = Instant::now();
        for _ in 0..1000 {
            let d = onshi_checkup::cda::parse(sample.as_bytes()).unwrap();
            onshi_checkup::validate::check(&d, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()).unwrap();
        }
        println!("parse + check: {:.1} µs a document", t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let rounds: u32 = std::env::var("PARSE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        for _ in 0..rounds {
            onshi_checkup::cda::parse(sample.as_bytes()).unwrap();
        }
        println!("  of which parse: {:.1} µs", t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds));
        let sha = onshi_platform::sha256_file(file.path()).unwrap();
        let now = onshi_platform::clock::parse_time("2026-06-01T10:00:00").unwrap();

        let t = Instant::now();
        let report = onshi_checkup::submit::submit(&pool, &Everyone, None, now, file.path(), &sha).await.unwrap();
        let t_ingest = t.elapsed().as_secs_f64();
        assert_eq!(report.registered, persons, "{:?}", report.problems.first());
        let (items,): (i64,) = sqlx::query_as("SELECT count(*) FROM checkup.items").fetch_one(&pool).await.unwrap();

        // Baseline: the same rows, as binary COPY streams, into identical empty tables.
        sqlx::raw_sql(
            "CREATE TABLE checkup.results_copy (LIKE checkup.results INCLUDING ALL); \
             CREATE TABLE checkup.items_copy (LIKE checkup.items INCLUDING ALL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let mut streams = Vec::new();
        for table in ["results", "items"] {
            use futures_util::StreamExt;
            let mut out = conn
                .copy_out_raw(&format!("COPY checkup.{table} TO STDOUT (FORMAT binary)"))
                .await
                .unwrap();
            let mut stream = Vec::new();
            while let Some(chunk) = out.next().await {
                stream.extend_from_slice(&chunk.unwrap());
            }
            drop(out);
            streams.push((table, stream));
        }
        let t = Instant::now();
        for (table, stream) in streams {
            onshi_platform::copy::send(&mut conn, &format!("COPY checkup.{table}_copy FROM STDIN (FORMAT binary)"), stream)
                .await
                .unwrap();
        }
        let t_copy = t.elapsed().as_secs_f64();
        drop(conn);

        println!("ingestion: {persons} persons, {items} items");
        println!("  submission (unzip + parse + validate + judge + write)  {t_ingest:7.2} s   {:>8.0} persons/s", persons as f64 / t_ingest);
        println!("  baseline: raw COPY of the same rows                     {t_copy:7.2} s   {:>8.0} persons/s", persons as f64 / t_copy);
        println!("  ratio submission / raw COPY throughput                  {:7.2}", t_copy / t_ingest);

        // TKKsiquc01: parse → query → serialize, for persons picked across the population.
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let mut times: Vec<Duration> = Vec::new();
        let limits = onshi_wire::xml::Limits::default();
        for i in 0..5_000usize {
            let n = 1_000_000 + (i * 7919) % persons;
            let request = format!(
                "<XmlMsg><MessageHeader><MedicalInstitutionCode>1310112345</MedicalInstitutionCode><InsurerNumber>01130012\
                 </InsurerNumber><InsuranceCardSymbol>12345678</InsuranceCardSymbol><InsuredPersonIdentificationNumber>{n}\
                 </InsuredPersonIdentificationNumber><BranchNumber>00</BranchNumber></MessageHeader><MessageBody>\
                 <FileCategory>2</FileCategory></MessageBody></XmlMsg>"
            );
            let t = Instant::now();
            let doc = onshi_wire::xml::parse(request.as_bytes(), &limits).unwrap();
            let r = tkk_siquc01::parse(&doc.root).unwrap();
            let person = format!("bench-{}", r.patient.number.as_str());
            let stored = onshi_checkup::results::viewable(&pool, &person, today).await.unwrap();
            let checkups = onshi_checkup::results::to_wire(&stored);
            let patient = tkk_siquc01::Patient { name: "試験　太郎".into(), kana: None, birth: "19800515".into(), sex: "1".into() };
            let body = tkk_siquc01::write(&r.patient.echo, Some(&patient), Ok(&checkups), OutputForm::Xml(Encoding::Utf8));
            times.push(t.elapsed());
            assert!(body.len() > 1000 && checkups.len() == 1);
        }
        times.sort();
        let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3;
        println!("TKKsiquc01 parse → query → serialize, {} requests: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms", times.len(), p(0.5), p(0.99), p(1.0));
    });
}
