//! Snapshots of the whole simulator state: every schema of the database (with the clock, the controls' rules and the
//! portal's CA and certificates) as a PostgreSQL *template database*, plus a copy of the facility folders (pending
//! requests, answers, face files, claims) and the exported certificates. Saving and restoring copy database files
//! (`CREATE DATABASE … TEMPLATE …`), so they take seconds whatever the scale.
//!
//! A snapshot records the schema version ([`crate::db::Schemas::version`]); restoring one of another version is
//! refused. Both operations need a moment without connections to the database: the caller pauses its doors
//! ([`crate::control::Controls::pause`]), and this module closes the remaining sessions (its own pool reconnects).
//! The restored database is built beside the current one and swapped in by renaming, so a failure before the swap
//! leaves the current state untouched.
//!
//! Layout: database `<db>__s_<name>`; files in `<snapshot dir>/<name>/` (`snapshot.json`, `folders/`, `certs/`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection, PgPool};

/// What `snapshot.json` records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    pub name: String,
    /// The template database holding the data.
    pub database: String,
    /// The schema version of the data ([`crate::db::Schemas::version`]).
    pub schema_version: String,
    /// The simulated time when it was taken.
    pub clock: String,
    /// Whether the facility folders were copied.
    pub folders: bool,
    /// Size of the template database in bytes.
    pub bytes: i64,
    /// How long saving took, in milliseconds.
    pub save_ms: u64,
}

/// Why a snapshot operation was refused (the API maps these to 400/404/409).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{0}")]
    BadName(String),
    #[error("no snapshot {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Where snapshots of one database are kept.
pub struct Store {
    admin: PgConnectOptions,
    database: String,
    dir: PathBuf,
    /// Directories copied with the state: `(label, path)` — the facility folders, the exported certificates.
    dirs: Vec<(&'static str, PathBuf)>,
}

/// A snapshot's name: 1–32 of `a-z`, `0-9`, `_` (it names a database).
pub fn check_name(name: &str) -> Result<(), SnapshotError> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SnapshotError::BadName(format!(
            "snapshot name {name:?}: 1 to 32 of a-z, 0-9 and _"
        )))
    }
}

/// The SQLSTATE of "database is being accessed by other users".
const IN_USE: &str = "55006";

impl Store {
    /// The store of the database `pool` is connected to, keeping files in `dir` and copying `dirs` with the state.
    pub async fn of(
        pool: &PgPool,
        dir: PathBuf,
        dirs: Vec<(&'static str, PathBuf)>,
    ) -> anyhow::Result<Self> {
        let (database,): (String,) = sqlx::query_as("SELECT current_database()")
            .fetch_one(pool)
            .await?;
        let admin = (*pool.connect_options())
            .clone()
            .database("postgres")
            .disable_statement_logging();
        Ok(Self {
            admin,
            database,
            dir,
            dirs,
        })
    }

    fn db_of(&self, name: &str) -> String {
        format!("{}__s_{name}", self.database)
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("snapshot.json")
    }

    async fn admin(&self) -> anyhow::Result<PgConnection> {
        self.admin
            .connect()
            .await
            .context("connecting to the server's postgres database (snapshots need CREATEDB)")
    }

    /// Every snapshot, by name.
    pub fn list(&self) -> Vec<Meta> {
        let mut out: Vec<Meta> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("snapshot.json")).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by(|a: &Meta, b| a.name.cmp(&b.name));
        out
    }

    pub fn get(&self, name: &str) -> Result<Meta, SnapshotError> {
        check_name(name)?;
        let bytes = std::fs::read(self.meta_path(name))
            .map_err(|_| SnapshotError::NotFound(name.to_string()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}", self.meta_path(name).display()))
            .map_err(SnapshotError::Failed)
    }

    /// Saves the state as `name` (refused if it exists). Call with the doors paused.
    pub async fn save(
        &self,
        name: &str,
        schema_version: &str,
        clock: &str,
    ) -> Result<Meta, SnapshotError> {
        check_name(name)?;
        if self.meta_path(name).exists() {
            return Err(SnapshotError::Conflict(format!(
                "snapshot {name:?} exists: delete it first"
            )));
        }
        let started = Instant::now();
        let target = self.db_of(name);
        let mut admin = self.admin().await?;
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{target}\""))
            .execute(&mut admin)
            .await
            .context("removing a half-made snapshot")?;
        let sql = format!(
            "CREATE DATABASE \"{target}\" TEMPLATE \"{}\"",
            self.database
        );
        without_sessions(&mut admin, &self.database, &sql).await?;
        let (bytes,): (i64,) = sqlx::query_as("SELECT pg_database_size($1)")
            .bind(&target)
            .fetch_one(&mut admin)
            .await
            .context("sizing the snapshot")?;
        let home = self.dir.join(name);
        let copied = (|| -> anyhow::Result<bool> {
            std::fs::create_dir_all(&home)?;
            let mut any = false;
            for (label, from) in &self.dirs {
                // A directory not made yet is saved empty: the restore then empties it.
                std::fs::create_dir_all(from)?;
                copy_tree(from, &home.join(label))?;
                any |= *label == "folders";
            }
            Ok(any)
        })();
        let folders = match copied {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&home);
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{target}\""))
                    .execute(&mut admin)
                    .await;
                return Err(SnapshotError::Failed(e.context("copying the folders")));
            }
        };
        let meta = Meta {
            name: name.to_string(),
            database: target,
            schema_version: schema_version.to_string(),
            clock: clock.to_string(),
            folders,
            bytes,
            save_ms: started.elapsed().as_millis() as u64,
        };
        // The meta file is written last: a snapshot without it does not exist.
        crate::transport::write_atomically(
            &home,
            "snapshot.json",
            &serde_json::to_vec_pretty(&meta).map_err(anyhow::Error::from)?,
        )
        .context("writing snapshot.json")?;
        Ok(meta)
    }

    /// Replaces the state with snapshot `name` (refused for another schema version). Call with the doors paused,
    /// then reload every cache of the process.
    pub async fn restore(&self, name: &str, schema_version: &str) -> Result<Meta, SnapshotError> {
        let meta = self.get(name)?;
        if meta.schema_version != schema_version {
            return Err(SnapshotError::Conflict(format!(
                "snapshot {name:?} has schema version {} and this onshi {schema_version}: restore it with the \
                 onshi that took it, or take a new one",
                meta.schema_version
            )));
        }
        let mut admin = self.admin().await?;
        let staging = format!("{}__restoring", self.database);
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{staging}\""))
            .execute(&mut admin)
            .await
            .context("removing a half-made restore")?;
        // The copy is made beside the current database: until the swap, a failure changes nothing.
        sqlx::raw_sql(&format!(
            "CREATE DATABASE \"{staging}\" TEMPLATE \"{}\"",
            meta.database
        ))
        .execute(&mut admin)
        .await
        .with_context(|| format!("copying snapshot {name:?}"))?;
        let swap = format!("DROP DATABASE \"{db}\" WITH (FORCE)", db = self.database);
        without_sessions(&mut admin, &self.database, &swap).await?;
        sqlx::raw_sql(&format!(
            "ALTER DATABASE \"{staging}\" RENAME TO \"{}\"",
            self.database
        ))
        .execute(&mut admin)
        .await
        .context("swapping the restored database in")?;
        let home = self.dir.join(name);
        for (label, to) in &self.dirs {
            let from = home.join(label);
            if from.is_dir() {
                replace_tree(&from, to).with_context(|| format!("restoring {}", to.display()))?;
            }
        }
        Ok(meta)
    }

    /// Removes snapshot `name`.
    pub async fn delete(&self, name: &str) -> Result<(), SnapshotError> {
        let meta = self.get(name)?;
        let mut admin = self.admin().await?;
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{}\"", meta.database))
            .execute(&mut admin)
            .await
            .context("dropping the snapshot's database")?;
        std::fs::remove_dir_all(self.dir.join(name)).context("removing the snapshot's files")?;
        Ok(())
    }
}

/// Runs `sql` (which needs `database` without sessions) after closing them; pools reconnect at once, so it is tried
/// again until it gets its moment (a few tries at most in practice).
async fn without_sessions(
    admin: &mut PgConnection,
    database: &str,
    sql: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(database)
        .execute(&mut *admin)
        .await?;
        match sqlx::raw_sql(sql).execute(&mut *admin).await {
            Ok(_) => return Ok(()),
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some(IN_USE) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(sql.to_string())),
        }
    }
}

/// Copies the files under `from` to `to` (created), keeping the tree. A file that goes between the listing and its
/// copy (a temporary file renamed into place, e.g. a checkpoint being written) is not part of the state: skipped.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let kind = match e.file_type() {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            kind => kind?,
        };
        let dest = to.join(e.file_name());
        if kind.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else if kind.is_file() {
            match std::fs::copy(e.path(), &dest) {
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    let _ = std::fs::remove_file(&dest);
                }
                r => {
                    r.with_context(|| format!("copying {}", e.path().display()))?;
                }
            }
        }
    }
    Ok(())
}

/// Makes `to` hold exactly the tree of `from`: its entries are removed, then `from` copied in (the directory itself
/// stays, so watchers of it keep working).
fn replace_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(to)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            std::fs::remove_dir_all(e.path())?;
        } else {
            std::fs::remove_file(e.path())?;
        }
    }
    copy_tree(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_database_safe() {
        assert!(check_name("demo").is_ok());
        assert!(check_name("before_lunch_2").is_ok());
        for bad in ["", "Demo", "a-b", "x;drop", &"a".repeat(33), "日本"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tree_is_copied_and_replaced_exactly() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(a.path().join("1310112345/req")).unwrap();
        std::fs::write(a.path().join("1310112345/req/x.xml"), b"x").unwrap();
        std::fs::create_dir_all(b.path().join("other")).unwrap();
        std::fs::write(b.path().join("later.xml"), b"y").unwrap();
        replace_tree(a.path(), b.path()).unwrap();
        assert_eq!(
            std::fs::read(b.path().join("1310112345/req/x.xml")).unwrap(),
            b"x"
        );
        assert!(!b.path().join("later.xml").exists());
        assert!(!b.path().join("other").exists());
    }
}
