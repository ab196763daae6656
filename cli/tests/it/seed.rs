//! The synthetic nation on a real PostgreSQL: the test decks replay against the running services with the
//! expected answers, the data does not depend on the number of threads, and a load killed with SIGKILL resumes
//! without duplicates or gaps.

use std::time::Duration;

use onshi::host::{Host, ALL, MIGRATIONS};
use onshi_platform::config::Config;
use onshi_platform::http::Core;
use onshi_platform::testkit::{self, http};
use onshi_seed::nation::{self, Options, Scale};

async fn core() -> Core {
    let core = testkit::core(MIGRATIONS, Config::default()).await;
    core.clock
        .set(onshi_platform::clock::parse_time("2026-11-21T09:00:00").unwrap())
        .await
        .unwrap();
    core
}

fn opts(persons: u64, threads: usize, decks: Option<std::path::PathBuf>) -> Options {
    Options {
        seed: 20261121,
        scale: Scale::parse(&persons.to_string()).unwrap(),
        threads,
        as_of: nation::default_as_of(),
        decks,
        progress: false,
    }
}

async fn digest(core: &Core) -> (i64, String, String) {
    sqlx::query_as(
        "SELECT count(*), md5(string_agg(id || record::text, '|' ORDER BY id)), \
         (SELECT md5(string_agg(serial || pin_sha256 || coalesce(qualification_id, ''), '|' ORDER BY serial)) \
          FROM consent.cards) FROM insurer.qualification_versions WHERE source LIKE 'seed:%'",
    )
    .fetch_one(&core.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decks_replay_with_the_expected_answers() {
    let core = core().await;
    let decks = tempfile::tempdir().unwrap();
    let summary = nation::run(
        &core.pool,
        &opts(45_000, 2, Some(decks.path().to_path_buf())),
    )
    .await
    .unwrap();
    assert_eq!(summary.persons_loaded, 45_000);
    let host = Host::start(core.clone(), ALL, "127.0.0.1:0").await.unwrap();
    let addr = host.addr.to_string();
    let facility = std::fs::read_to_string(decks.path().join("facilities_operational.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .expect("an operational facility")
        .to_string();
    let mut checked = 0;
    let mut categories = 0;
    for entry in std::fs::read_dir(decks.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("facilities") {
            continue;
        }
        categories += 1;
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for row in text.lines().skip(1) {
            let c: Vec<&str> = row.split(',').collect();
            let req = format!(
                "<XmlMsg><MessageHeader><QualificationConfirmationDate>{}</QualificationConfirmationDate>\
                 <MedicalInstitutionCode>{facility}</MedicalInstitutionCode></MessageHeader><MessageBody>\
                 <QualificationConfirmSearchInfo><InsurerNumber>{}</InsurerNumber><InsuredCardSymbol>{}</InsuredCardSymbol>\
                 <InsuredIdentificationNumber>{}</InsuredIdentificationNumber><InsuredBranchNumber>{}</InsuredBranchNumber>\
                 <Birthdate>{}</Birthdate><LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>\
                 </QualificationConfirmSearchInfo></MessageBody></XmlMsg>",
                c[5], c[0], c[1], c[2], c[3], c[4]
            );
            let reply = http::send(
                &addr,
                "POST",
                "/oqs/v1/req/OQSsiquc01req_deck.xml",
                &[],
                req.as_bytes(),
            )
            .await;
            let doc = onshi_wire::xml::parse(&reply.body, &Default::default()).unwrap();
            let body = doc
                .root
                .child("MessageBody")
                .unwrap_or_else(|| panic!("{name}: {}", reply.text()));
            assert_eq!(
                body.value("QualificationValidity"),
                Some(c[6]),
                "{name}: {row}\n{}",
                reply.text()
            );
            checked += 1;
        }
    }
    assert!(categories >= 12, "{categories} deck categories");
    assert!(checked > 40, "{checked} deck rows replayed");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_data_whatever_the_threads() {
    let a = core().await;
    let b = core().await;
    nation::run(&a.pool, &opts(41_000, 1, None)).await.unwrap();
    nation::run(&b.pool, &opts(41_000, 2, None)).await.unwrap();
    let (da, db) = (digest(&a).await, digest(&b).await);
    assert!(da.0 > 41_000);
    assert_eq!(da, db);
    // Running it again changes nothing.
    let again = nation::run(&a.pool, &opts(41_000, 2, None)).await.unwrap();
    assert_eq!(again.chunks_loaded, 0);
    assert_eq!(digest(&a).await, da);
    // Another seed on the same database is refused with a clear message.
    let mut other = opts(41_000, 2, None);
    other.seed = 1;
    let e = nation::run(&a.pool, &other).await.unwrap_err().to_string();
    assert!(e.contains("already holds"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_load_resumes_without_duplicates_or_gaps() {
    let core = core().await;
    let url = testkit::fresh_database_url().await;
    let pool = onshi_platform::db::connect(&url, 2).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_onshi"))
            .args([
                "--home",
                home.path().to_str().unwrap(),
                "seed",
                "--scale",
                "300000",
                "--seed",
                "5",
                "--threads",
                "1",
            ])
            .env("DATABASE_URL", &url)
            .env("ONSHI_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    // Kill it once some, but not all, chunks are in.
    let mut loaded = 0i64;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok((n,)) = sqlx::query_as::<_, (i64,)>("SELECT count(*) FROM seed.chunks")
            .fetch_one(&pool)
            .await
        {
            loaded = n;
            if n >= 2 {
                break;
            }
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    let total = nation::plan(300_000).len() as i64;
    assert!(
        loaded >= 2 && loaded < total,
        "killed after {loaded} of {total} chunks"
    );
    // Re-running completes it.
    let status = spawn().wait().unwrap();
    assert!(status.success());
    let (chunks, persons): (i64, i64) = sqlx::query_as(
        "SELECT count(*), sum(persons)::bigint FROM seed.chunks WHERE chunk < 1000000",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((chunks, persons), (total, 300_000));
    let (heads, versions, expected): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(DISTINCT id) FROM insurer.qualification_rows), (SELECT count(*) FROM insurer.qualification_rows), \
         (SELECT sum((stats ->> 'qualifications')::bigint)::bigint FROM seed.chunks)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(heads, expected, "no qualification lost or duplicated");
    assert_eq!(versions, expected);
    drop(core);
}
