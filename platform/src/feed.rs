//! The change-feed protocol between services.
//!
//! A publishing service appends versions to its own table and exposes them through a documented view
//! (`insurer.feed_v1`, `portal.feed_v1`): that view is the published contract, the tables behind it stay private.
//! Rows carry a `seq` from a sequence. Sequence order is not commit order when writers overlap, so:
//!
//! * every writer transaction takes the feed's advisory lock **shared** before inserting ([`publish_lock`]) and
//!   sends `NOTIFY <channel>` ([`notify`]) which is delivered at commit;
//! * a consumer reads a batch inside a transaction holding the same lock **exclusively** ([`read_batch`]), so no
//!   writer is half-way: every row below the highest `seq` it sees is committed and visible. It uses a
//!   try-lock (never queues in front of writers) and simply retries shortly when writers are busy.
//!
//! A consumer may read the rows from a streaming replica ([`Source::replica`]): the lock and the watermark (the
//! highest `seq`, with the primary's WAL position) are taken on the primary, the rows — the heavy part, the whole
//! feed at start-up — are read on the replica once it has replayed past that position. A replica accepts neither
//! `LISTEN` nor the writers' locks, so both stay on the primary; what is read is exactly what a consumer of the
//! primary would read, later by the replication lag.

use std::time::Duration;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgPool, Postgres, Transaction};

/// A published feed: its advisory-lock key, NOTIFY channel and the view consumers read.
#[derive(Debug, Clone, Copy)]
pub struct Feed {
    pub lock_key: i64,
    pub channel: &'static str,
    pub view: &'static str,
}

/// The insurer registry's qualification versions.
pub const INSURER: Feed = Feed {
    lock_key: 0x6f6e_7368_0001,
    channel: "onshi_feed_insurer",
    view: "insurer.feed_v1",
};

/// The portal's facility versions.
pub const PORTAL: Feed = Feed {
    lock_key: 0x6f6e_7368_0002,
    channel: "onshi_feed_portal",
    view: "portal.feed_v1",
};

/// Writer side: call first in every transaction that appends to the feed.
pub async fn publish_lock(tx: &mut Transaction<'_, Postgres>, feed: Feed) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(feed.lock_key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writer side: wakes consumers once the transaction commits.
pub async fn notify(tx: &mut Transaction<'_, Postgres>, feed: Feed) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(feed.channel)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Where a consumer reads a feed.
#[derive(Debug, Clone)]
pub struct Source {
    /// The publisher's database: the lock, the watermark, NOTIFY.
    pub primary: PgPool,
    /// A streaming replica of it, where the rows are read.
    pub replica: Option<PgPool>,
}

impl Source {
    pub fn primary(pool: &PgPool) -> Self {
        Self {
            primary: pool.clone(),
            replica: None,
        }
    }
}

/// How long a replica may take to replay up to a watermark before the batch is given up (and retried).
pub const REPLAY_TIMEOUT: Duration = Duration::from_secs(30);

/// Consumer side: rows of `select` (which must filter `seq > $1 AND seq <= $3`, order by seq and `LIMIT $2`), or
/// `None` when writers hold the lock right now (try again shortly).
pub async fn read_batch<T>(
    source: &Source,
    feed: Feed,
    select: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Option<Vec<T>>>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let mut tx = source.primary.begin().await?;
    let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
        .bind(feed.lock_key)
        .fetch_one(&mut *tx)
        .await?;
    if !got {
        tx.rollback().await?;
        return Ok(None);
    }
    let Some(replica) = &source.replica else {
        let rows = sqlx::query_as::<_, T>(select)
            .bind(after)
            .bind(limit)
            .bind(i64::MAX)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(Some(rows));
    };
    // Every row up to the watermark is committed (the lock); the replica has them once it has replayed past the
    // primary's WAL position read after it.
    let (watermark, lsn): (i64, String) = sqlx::query_as(&format!(
        "SELECT coalesce(max(seq), 0), pg_current_wal_lsn()::text FROM {}",
        feed.view
    ))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if watermark <= after {
        return Ok(Some(Vec::new()));
    }
    let started = std::time::Instant::now();
    loop {
        let (replayed,): (bool,) =
            sqlx::query_as("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true)")
                .bind(&lsn)
                .fetch_one(replica)
                .await?;
        if replayed {
            break;
        }
        if started.elapsed() > REPLAY_TIMEOUT {
            return Err(sqlx::Error::Protocol(format!(
                "the replica has not replayed up to {lsn} within {} s",
                REPLAY_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rows = sqlx::query_as::<_, T>(select)
        .bind(after)
        .bind(limit)
        .bind(watermark)
        .fetch_all(replica)
        .await?;
    Ok(Some(rows))
}

/// Waits for a NOTIFY on `feed` or `fallback`, whichever comes first. Returns a listener to reuse.
pub async fn wait(
    pool: &PgPool,
    listener: &mut Option<sqlx::postgres::PgListener>,
    feed: Feed,
    fallback: Duration,
) {
    if listener.is_none() {
        if let Ok(mut l) = sqlx::postgres::PgListener::connect_with(pool).await {
            if l.listen(feed.channel).await.is_ok() {
                *listener = Some(l);
            }
        }
    }
    match listener.as_mut() {
        Some(l) => {
            if let Ok(Err(_)) = tokio::time::timeout(fallback, l.recv()).await {
                *listener = None;
            }
        }
        None => tokio::time::sleep(fallback).await,
    }
}
