//! decode → answer → serialize of one `OQSsiquc01` message (the pipeline's decode step and the handler's pure
//! answer path) (issue target: under 20 µs), with the registry in
//! memory as the eligibility service holds it.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use onshi_eligibility::oqs_siquc01::respond;
use onshi_eligibility::registry::Registry;
use onshi_platform::config::Config;
use onshi_platform::pipeline::{decode, Form};
use onshi_wire::ids::DateTime;
use onshi_wire::record::{FacilityRecord, QualificationRecord};

const REGISTRATIONS: &str = include_str!("../../seed/demo/01-registrations.jsonl");
const FACILITIES: &str = include_str!("../../seed/demo/facilities.json");
const REQUEST: &[u8] = include_bytes!("../../seed/demo/requests/OQSsiquc01req_sato_kenichi.xml");

fn records() -> Vec<QualificationRecord> {
    REGISTRATIONS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("effective_date");
            serde_json::from_value(v).unwrap()
        })
        .collect()
}

/// The demo registry plus `extra` synthetic qualifications on other card numbers.
fn registry(extra: u32) -> Registry {
    let mut reg = Registry::default();
    let facilities: Vec<FacilityRecord> = serde_json::from_str(FACILITIES).unwrap();
    for (i, f) in facilities.into_iter().enumerate() {
        reg.apply_facility(i as i64 + 1, f);
    }
    let recs = records();
    let mut seq = 0;
    for r in &recs {
        seq += 1;
        reg.apply_qualification(seq, r.qualification_date, r.clone())
            .unwrap();
    }
    let template = recs[0].clone();
    for n in 0..extra {
        let mut r = template.clone();
        r.person_id = format!("bench-{n}");
        r.number = onshi_wire::ids::CardNumber::parse(&format!("9{n:08}")).unwrap();
        seq += 1;
        reg.apply_qualification(seq, r.qualification_date, r)
            .unwrap();
    }
    reg
}

fn bench(c: &mut Criterion) {
    let config = Config::default();
    let now = DateTime::parse("20261121100000").unwrap();
    for (label, extra) in [("demo", 0u32), ("1M", 1_000_000)] {
        let reg = registry(extra);
        c.bench_function(&format!("siquc01_parse_answer_serialize/{label}"), |b| {
            b.iter(|| {
                let tree = decode(black_box(REQUEST), Form::File, &config.limits);
                let resp = respond(&reg, &config, tree.as_ref(), None, now).response;
                black_box(resp.to_xml())
            })
        });
    }
    // The handler also records the presentation (the 2024 re-query rule) in memory: the same path with it, in the
    // same run as the one above.
    let reg = registry(0);
    let presented = onshi_eligibility::presentations::Presentations::default();
    c.bench_function("siquc01_parse_answer_record_serialize/demo", |b| {
        b.iter(|| {
            let tree = decode(black_box(REQUEST), Form::File, &config.limits);
            let answered = respond(&reg, &config, tree.as_ref(), None, now);
            if let Some(c) = &answered.confirmed {
                presented.record(
                    &c.facility,
                    &c.person,
                    now.naive(),
                    onshi_eligibility::presentations::How::InsuranceCard,
                );
            }
            black_box(answered.response.to_xml())
        })
    });
    c.bench_function("siquc01_parse_only", |b| {
        b.iter(|| black_box(onshi_wire::xml::parse(black_box(REQUEST), &config.limits).unwrap()))
    });
    let tree = decode(REQUEST, Form::File, &config.limits);
    let resp = respond(&reg, &config, tree.as_ref(), None, now).response;
    c.bench_function("siquc01_serialize_only", |b| {
        b.iter(|| black_box(resp.to_xml()))
    });
    sql_baseline(c);
}

/// The baseline: one SQL round trip per request (a primary-key lookup of the same record as JSONB) on a
/// real PostgreSQL — the embedded cluster, or `ONSHI_BENCH_DATABASE_URL`.
fn sql_baseline(c: &mut Criterion) {
    use onshi_platform::pg::{Durability, EmbeddedCluster};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut cluster = None;
    let url = match std::env::var(onshi_platform::config::env::BENCH_DATABASE_URL) {
        Ok(u) => u,
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("onshi-bench-pg-{}", std::process::id()));
            let cl = EmbeddedCluster::start(&dir, Durability::Throwaway).unwrap();
            let u = cl.url("postgres");
            cluster = Some(cl);
            u
        }
    };
    let pool = rt.block_on(onshi_platform::db::connect(&url, 1)).unwrap();
    let recs = records();
    rt.block_on(async {
        sqlx::raw_sql("DROP TABLE IF EXISTS bench_q; CREATE TABLE bench_q (id text PRIMARY KEY, record jsonb NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        for r in &recs {
            sqlx::query("INSERT INTO bench_q VALUES ($1, $2)")
                .bind(r.individual_number().key())
                .bind(serde_json::to_value(r).unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
    });
    let id = recs[5].individual_number().key();
    c.bench_function("baseline_one_sql_round_trip", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (v,): (serde_json::Value,) =
                    sqlx::query_as("SELECT record FROM bench_q WHERE id = $1")
                        .bind(black_box(&id))
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                black_box(v)
            })
        })
    });
    rt.block_on(pool.close());
    drop(cluster);
}

criterion_group!(benches, bench);
criterion_main!(benches);
