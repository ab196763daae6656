//! The insurer registry's lean layout (schema/insurer/0002): a database written before it moves to it with every
//! version unchanged (seq, op, dates, source and the JSON record as consumers read it), and writes after it read
//! back exactly as written.

use onshi::host::MIGRATIONS;
use onshi_platform::config::Config;
use onshi_platform::db::Migrations;
use onshi_platform::testkit;
use onshi_seed::nation::{self, Options, Scale};

type Version = (
    i64,
    String,
    i32,
    String,
    chrono::NaiveDate,
    chrono::NaiveDateTime,
    String,
    serde_json::Value,
);

const ALL_VERSIONS: &str =
    "SELECT seq, id, version, op, effective_from, recorded_at, source, record \
                            FROM insurer.qualification_versions ORDER BY seq";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_written_before_the_lean_layout_moves_to_it_unchanged() {
    // Every record shape the simulator writes: the demo personas and a chunk of the synthetic nation.
    let core = testkit::core(MIGRATIONS, Config::default()).await;
    onshi_seed::demo::load(&core).await.unwrap();
    let opts = Options {
        seed: 7,
        scale: Scale::parse("20000").unwrap(),
        threads: 1,
        as_of: nation::default_as_of(),
        decks: None,
        progress: false,
    };
    nation::run(&core.pool, &opts).await.unwrap();
    let mut written: Vec<Version> = sqlx::query_as(ALL_VERSIONS)
        .fetch_all(&core.pool)
        .await
        .unwrap();
    assert!(written.len() > 20_000);
    for rare in [
        "elderly_recipient",
        "limit_certificates",
        "specific_diseases",
        "medical_tickets",
    ] {
        assert!(
            written.iter().any(|v| v.7.get(rare).is_some()),
            "no record with {rare}"
        );
    }
    // Records the columns cannot hold as they are: id parts that are not the record's, another insurer name.
    let mut odd = written.last().unwrap().clone();
    odd.0 += 1;
    odd.1 = format!("{}:x", odd.1);
    written.push(odd);
    let mut renamed = written.last().unwrap().clone();
    renamed.0 += 1;
    renamed.2 = 2;
    renamed.3 = "change".into();
    renamed.7["insurer_name"] = "改称後の保険者".into();
    written.push(renamed);

    // The old layout (the first migration only), holding those versions.
    let old = onshi_platform::db::connect(&testkit::fresh_database_url().await, 4)
        .await
        .unwrap();
    let first = Migrations {
        schema: "insurer",
        steps: &onshi_insurer::MIGRATIONS.steps[..1],
    };
    first.apply(&old).await.unwrap();
    for (seq, id, version, op, eff, at, source, record) in &written {
        sqlx::query(
            "INSERT INTO insurer.qualification_heads VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET latest_version = excluded.latest_version",
        )
        .bind(id)
        .bind(version)
        .execute(&old)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO insurer.qualification_versions VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(id)
        .bind(version)
        .bind(op)
        .bind(eff)
        .bind(at)
        .bind(source)
        .bind(record)
        .execute(&old)
        .await
        .unwrap();
    }
    sqlx::query("SELECT setval('insurer.qualification_versions_seq_seq', $1)")
        .bind(written.last().unwrap().0)
        .execute(&old)
        .await
        .unwrap();

    onshi_insurer::MIGRATIONS.apply(&old).await.unwrap();
    let moved: Vec<Version> = sqlx::query_as(ALL_VERSIONS).fetch_all(&old).await.unwrap();
    assert_eq!(moved.len(), written.len());
    for (m, w) in moved.iter().zip(&written) {
        assert_eq!(m, w, "version {} changed in the move", w.0);
    }
    let (feed,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM insurer.feed_v1 f JOIN insurer.qualification_versions v USING (seq) \
         WHERE f.record = v.record",
    )
    .fetch_one(&old)
    .await
    .unwrap();
    assert_eq!(
        feed as usize,
        written.len(),
        "the feed shows the same records"
    );
    // New versions continue the old sequence.
    let (next,): (i64,) =
        sqlx::query_as("SELECT nextval('insurer.qualification_versions_seq_seq')")
            .fetch_one(&old)
            .await
            .unwrap();
    assert_eq!(next, written.last().unwrap().0 + 1);
    let (rows, kept): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(extra) FROM insurer.qualification_rows")
            .fetch_one(&old)
            .await
            .unwrap();
    assert_eq!(rows as usize, written.len());
    assert!(
        (kept as usize) < written.len() / 5,
        "most records fit the columns ({kept} of {rows} kept JSON)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacting_rebuilds_every_index_and_drops_copies_an_interrupted_rebuild_left() {
    let pool = onshi_platform::db::connect(&testkit::fresh_database_url().await, 2)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (id text PRIMARY KEY, n int); \
         INSERT INTO t SELECT md5(i::text), i % 10 FROM generate_series(1, 20000) i; \
         CREATE INDEX t_n ON t (n);",
    )
    .execute(&pool)
    .await
    .unwrap();
    // What a rebuild stopped half-way leaves: an invalid index (here: a unique one that failed).
    let failed = sqlx::raw_sql("CREATE UNIQUE INDEX CONCURRENTLY t_n_unique ON t (n)")
        .execute(&pool)
        .await;
    assert!(failed.is_err());
    let indexes = |pool: sqlx::PgPool| async move {
        let rows: Vec<(String, bool)> = sqlx::query_as(
            "SELECT indexrelid::regclass::text, indisvalid FROM pg_index WHERE indrelid = 't'::regclass ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        rows
    };
    assert!(indexes(pool.clone()).await.iter().any(|(_, valid)| !valid));
    let before: (i64,) = sqlx::query_as("SELECT pg_relation_size('t_pkey')")
        .fetch_one(&pool)
        .await
        .unwrap();

    onshi_platform::db::compact_indexes(&pool, "t")
        .await
        .unwrap();
    assert_eq!(
        indexes(pool.clone()).await,
        vec![("t_n".to_string(), true), ("t_pkey".to_string(), true)]
    );
    let after: (i64,) = sqlx::query_as("SELECT pg_relation_size('t_pkey')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        after.0 < before.0,
        "random keys: {} bytes before, {} after",
        before.0,
        after.0
    );
    let (found,): (i64,) = sqlx::query_as("SELECT count(*) FROM t WHERE id = md5('777')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(found, 1);
}
