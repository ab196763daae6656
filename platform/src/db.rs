//! PostgreSQL access: the connection pool and the per-service migration runner.
//!
//! Each service owns one PostgreSQL schema; its migrations are the SQL files under `schema/<service>/`, embedded
//! at build time and applied in order, recorded in `<schema>.schema_migrations` with a checksum so an edited,
//! already-applied migration is refused instead of silently diverging.

use anyhow::{bail, Context};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// One migration step: a version name (`0001_init`) and its SQL.
pub type Step = (&'static str, &'static str);

/// The migrations of one schema.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub schema: &'static str,
    pub steps: &'static [Step],
}

/// The clock's migrations (owned by the core crate, used by every process).
pub const CLOCK: Migrations = Migrations {
    schema: "clock",
    steps: &[(
        "0001_clock",
        include_str!("../../schema/clock/0001_clock.sql"),
    )],
};

/// The platform's credentials (the token signing key).
pub const AUTH: Migrations = Migrations {
    schema: "auth",
    steps: &[("0001_keys", include_str!("../../schema/auth/0001_keys.sql"))],
};

/// The simulator controls' rules (forced outcomes, faults), shared by every process.
pub const CONTROL: Migrations = Migrations {
    schema: "control",
    steps: &[(
        "0001_control",
        include_str!("../../schema/control/0001_control.sql"),
    )],
};

/// A connection listening on `channel`, or `None` (logged) when it cannot be made: its followers then poll.
pub async fn listen(pool: &PgPool, channel: &str) -> Option<sqlx::postgres::PgListener> {
    let mut l = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(channel, error = %e, "listener connection failed; polling only");
            return None;
        }
    };
    match l.listen(channel).await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!(channel, error = %e, "LISTEN failed; polling only");
            None
        }
    }
}

/// Keeps a cache fresh: calls `reload` after every notification on `listener` and at least every few seconds (every
/// two without a listener, which is dropped when its connection fails), until `reload` answers `false` (its owner is
/// gone). Make the listener before the first load, so no change between the two is missed.
pub fn follow<F, Fut>(mut listener: Option<sqlx::postgres::PgListener>, reload: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        loop {
            match listener.as_mut() {
                Some(l) => {
                    if let Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(5), l.recv()).await
                    {
                        listener = None;
                    }
                }
                None => tokio::time::sleep(Duration::from_secs(2)).await,
            }
            if !reload().await {
                return;
            }
        }
    });
}

/// Whether the server of a `postgres://user[:password]@host:port/db` URL accepts TCP connections within a second
/// (a quick check before a pool, whose connect retries for half a minute).
pub fn reachable(url: &str) -> bool {
    let Some(addr) = url
        .rsplit_once('@')
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
    else {
        return false;
    };
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .and_then(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(1)).ok()
        })
        .is_some()
}

/// The migrations a process runs on (every schema of its services), for `/readyz` and snapshots.
#[derive(Debug, Clone, Copy)]
pub struct Schemas(pub &'static [Migrations]);

impl Schemas {
    /// The schema version of the whole database: every schema's steps and their checksums, as one digest. A
    /// snapshot records it; a restore into another version is refused.
    pub fn version(&self) -> String {
        let mut all = String::new();
        for m in self.0 {
            for (version, sql) in m.steps {
                all.push_str(&format!(
                    "{}/{version}/{}\n",
                    m.schema,
                    crate::sha256_hex(sql.as_bytes())
                ));
            }
        }
        crate::sha256_hex(all.as_bytes())[..16].to_string()
    }

    /// The steps not applied in the database (`schema/version`).
    pub async fn pending(&self, pool: &PgPool) -> anyhow::Result<Vec<String>> {
        let applied: Vec<(String,)> = sqlx::query_as(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'schema_migrations'",
        )
        .fetch_all(pool)
        .await?;
        let mut pending = Vec::new();
        for m in self.0 {
            let done: Vec<(String,)> = if applied.iter().any(|(s,)| s == m.schema) {
                sqlx::query_as(&format!(
                    "SELECT version FROM {}.schema_migrations",
                    m.schema
                ))
                .fetch_all(pool)
                .await?
            } else {
                vec![]
            };
            for (version, _) in m.steps {
                if !done.iter().any(|(v,)| v == version) {
                    pending.push(format!("{}/{version}", m.schema));
                }
            }
        }
        Ok(pending)
    }
}

impl Migrations {
    /// Applies the missing steps in one transaction, serialised across processes by an advisory lock.
    pub async fn apply(&self, pool: &PgPool) -> anyhow::Result<usize> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('onshi_migrate'))")
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s}; \
             CREATE TABLE IF NOT EXISTS {s}.schema_migrations ( \
               version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            s = self.schema
        ))
        .execute(&mut *tx)
        .await?;
        let applied: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT version, checksum FROM {}.schema_migrations",
            self.schema
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut count = 0;
        for (version, sql) in self.steps {
            let sum = crate::sha256_hex(sql.as_bytes());
            match applied.iter().find(|(v, _)| v == version) {
                Some((_, s)) if *s == sum => continue,
                Some(_) => bail!(
                    "migration {}/{version} was changed after it was applied; add a new migration instead",
                    self.schema
                ),
                None => {}
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("applying migration {}/{version}", self.schema))?;
            sqlx::query(&format!(
                "INSERT INTO {}.schema_migrations (version, checksum) VALUES ($1, $2)",
                self.schema
            ))
            .bind(version)
            .bind(&sum)
            .execute(&mut *tx)
            .await?;
            count += 1;
        }
        tx.commit().await?;
        if count > 0 {
            tracing::info!(schema = self.schema, applied = count, "migrations applied");
        }
        Ok(count)
    }
}

/// Rebuilds a table's indexes compact and online (`REINDEX INDEX CONCURRENTLY`): after a bulk load whose keys
/// arrived in random order, index pages are about two-thirds full. One index at a time, so the extra disk needed
/// is one index's new copy and its sort, not all of them at once; the invalid copies an interrupted rebuild left
/// behind are dropped first.
pub async fn compact_indexes(pool: &PgPool, table: &str) -> sqlx::Result<()> {
    // Its own connection, closed at the end: the larger sort memory set here never goes back to the pool, whether
    // the rebuild ends, fails or is cancelled.
    let mut conn = pool.acquire().await?.detach();
    let invalid: Vec<(String,)> = sqlx::query_as(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass AND NOT indisvalid",
    )
    .bind(table)
    .fetch_all(&mut conn)
    .await?;
    for (index,) in invalid {
        sqlx::raw_sql(&format!("DROP INDEX CONCURRENTLY {index}"))
            .execute(&mut conn)
            .await?;
    }
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass \
         ORDER BY pg_relation_size(indexrelid)",
    )
    .bind(table)
    .fetch_all(&mut conn)
    .await?;
    sqlx::raw_sql("SET maintenance_work_mem = '1GB'")
        .execute(&mut conn)
        .await?;
    for (index,) in indexes {
        tracing::info!(index, "rebuilding an index compact");
        sqlx::raw_sql(&format!("REINDEX INDEX CONCURRENTLY {index}"))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await
}

/// Opens a pool on `url` (statement logging off; it would log personal data).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let opts = PgConnectOptions::from_str(url)
        .with_context(|| "invalid database URL")?
        .disable_statement_logging();
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await
        .context("connecting to PostgreSQL")
}

/// Creates database `name` on the server of `admin_url` unless it exists.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("database name {name:?} must be [A-Za-z0-9_]");
    }
    let pool = connect(admin_url, 1).await?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&pool)
        .await?;
    if exists.is_none() {
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    pool.close().await;
    Ok(())
}

/// Replaces the database name of a `postgres://…/db?params` URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5/a?x=1", "b"),
            "postgres://u@h:5/b?x=1"
        );
        assert_eq!(with_database("postgres://u@h:5", "b"), "postgres://u@h:5/b");
    }
}
