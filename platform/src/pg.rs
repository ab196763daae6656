//! The embedded default database: a private PostgreSQL cluster started from the machine's installed binaries.
//!
//! `initdb` + `pg_ctl` in a data directory of the project's; when running as root the cluster runs as the
//! `postgres` OS user (initdb refuses root). It listens on 127.0.0.1 on a free port with `trust` auth (it is
//! private to this machine's loopback). A watchdog process stops the cluster if the owning process dies without
//! stopping it (kill -9), so nothing is left running.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};

/// Tuning for throwaway clusters (tests): durability off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Throwaway,
}

/// A running embedded cluster. Dropping it stops the cluster.
pub struct EmbeddedCluster {
    data_dir: PathBuf,
    bin: PathBuf,
    run_as: Option<&'static str>,
    port: u16,
    watchdog: Option<Child>,
    stopped: bool,
    /// Throwaway clusters delete their data directory once stopped.
    remove_dir: bool,
    /// The `postgres` user's password (password authentication), `None` for a cluster made by an older version
    /// (trust authentication).
    password: Option<String>,
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EmbeddedCluster({}, port {})",
            self.data_dir.display(),
            self.port
        )
    }
}

/// Finds the PostgreSQL server binaries: `ONSHI_PG_BIN`, then `pg_config --bindir`, then the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var(crate::config::env::PG_BIN) {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries not found: install PostgreSQL (e.g. apt-get install postgresql), \
             set ONSHI_PG_BIN to the directory holding initdb and pg_ctl, or set DATABASE_URL"
        ),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

impl EmbeddedCluster {
    /// Starts (creating on first use) the cluster in `data_dir`.
    pub fn start(data_dir: &Path, durability: Durability) -> anyhow::Result<Self> {
        Self::start_watching(data_dir, durability, std::process::id())
    }

    /// Starts the cluster with a watchdog that stops it when process `pid` ends (not necessarily this one: the
    /// tests' cluster lives as long as the `cargo test` run).
    pub fn start_watching(
        data_dir: &Path,
        durability: Durability,
        pid: u32,
    ) -> anyhow::Result<Self> {
        let bin = find_bin_dir()?;
        let run_as = is_root().then_some("postgres");
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("resolving {}", data_dir.display()))?;
        if let Some(user) = run_as {
            chown_to(&data_dir, user)?;
        }
        let mut cluster = Self {
            data_dir,
            bin,
            run_as,
            port: free_port()?,
            watchdog: None,
            stopped: false,
            remove_dir: durability == Durability::Throwaway,
            password: None,
        };
        if cluster.is_running() {
            bail!(
                "the embedded PostgreSQL in {} is already running (is another `onshi up` running? stop it first)",
                cluster.data_dir.display()
            );
        }
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        cluster.password = std::fs::read_to_string(cluster.password_file())
            .ok()
            .map(|p| p.trim().to_string());
        cluster.pg_start(durability)?;
        cluster.spawn_watchdog(pid)?;
        Ok(cluster)
    }

    /// A streaming replica of `primary`: a base backup (`pg_basebackup -R`, which writes the standby settings) into
    /// `data_dir`, started as a hot standby on a free port. The primary must run with `full_page_writes` on
    /// ([`Durability::Normal`]).
    pub fn replica_of(
        primary: &EmbeddedCluster,
        data_dir: &Path,
        durability: Durability,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        if let Some(user) = primary.run_as {
            chown_to(&data_dir, user)?;
        }
        let cluster = Self {
            data_dir,
            bin: primary.bin.clone(),
            run_as: primary.run_as,
            port: free_port()?,
            watchdog: None,
            stopped: false,
            remove_dir: durability == Durability::Throwaway,
            password: primary.password.clone(),
        };
        let mut c = cluster.command("pg_basebackup");
        c.arg("-d")
            .arg(primary.url("postgres"))
            .arg("-D")
            .arg(&cluster.data_dir)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"]);
        cluster.run(c, "pg_basebackup")?;
        if let Some(p) = &cluster.password {
            std::fs::write(cluster.password_file(), p)?;
            std::fs::set_permissions(
                cluster.password_file(),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )?;
        }
        let mut cluster = cluster;
        cluster.pg_start(durability)?;
        cluster.spawn_watchdog(std::process::id())?;
        Ok(cluster)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn run(&self, mut cmd: Command, what: &str) -> anyhow::Result<()> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// The generated password of the `postgres` user, beside the data directory (mode 0600, readable by the user
    /// that runs onshi, not by the cluster's user).
    fn password_file(&self) -> PathBuf {
        self.data_dir.with_extension("password")
    }

    fn initdb(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        tracing::info!(dir = %self.data_dir.display(), "initdb: creating the embedded PostgreSQL cluster");
        let password = crate::credentials::random_secret()?;
        // initdb reads the password from a file the cluster's user can read; it is removed once read.
        let pwfile = self.data_dir.with_extension("pwfile");
        std::fs::write(&pwfile, &password)?;
        if let Some(user) = self.run_as {
            chown_to(&pwfile, user)?;
        }
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))?;
        let mut c = self.command("initdb");
        c.arg("-D")
            .arg(&self.data_dir)
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()));
        let made = self.run(c, "initdb");
        let _ = std::fs::remove_file(&pwfile);
        made.with_context(|| {
            format!(
                "the data directory {} must be writable by the {} user (every parent directory must be \
                 traversable); set ONSHI_HOME to another directory or DATABASE_URL to use an existing server",
                self.data_dir.display(),
                self.run_as.unwrap_or("current")
            )
        })?;
        let file = self.password_file();
        std::fs::write(&file, &password)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    }

    fn pg_start(&self, durability: Durability) -> anyhow::Result<()> {
        let mut opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' -c max_connections=200",
            self.port,
            self.data_dir.display()
        );
        if durability == Durability::Throwaway {
            opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let log = self.data_dir.join("server.log");
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(opts)
            .arg("start")
            // Its own process group: a Ctrl-C in the terminal must not stop PostgreSQL before we are done.
            .process_group(0);
        self.run(c, "pg_ctl start")
            .with_context(|| format!("see {}", log.display()))
    }

    fn stop_command(&self) -> Command {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "stop"]);
        c
    }

    fn is_running(&self) -> bool {
        let mut c = self.command("pg_ctl");
        c.arg("-D").arg(&self.data_dir).arg("status");
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// A shell loop that waits for process `pid` to end and then stops the cluster (covers kill -9).
    fn spawn_watchdog(&mut self, pid: u32) -> anyhow::Result<()> {
        let stop = self.stop_command();
        let mut line = String::new();
        line.push_str(&shell_quote(stop.get_program().to_string_lossy().as_ref()));
        for a in stop.get_args() {
            line.push(' ');
            line.push_str(&shell_quote(a.to_string_lossy().as_ref()));
        }
        if self.remove_dir {
            line.push_str(&format!(
                "; rm -rf {} {}",
                shell_quote(&self.data_dir.to_string_lossy()),
                shell_quote(&self.password_file().to_string_lossy())
            ));
        }
        let script =
            format!("while kill -0 {pid} 2>/dev/null; do sleep 1; done; {line} >/dev/null 2>&1");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the PostgreSQL watchdog")?;
        self.watchdog = Some(child);
        Ok(())
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        match &self.password {
            Some(p) => format!("postgres://postgres:{p}@127.0.0.1:{}/{db}", self.port),
            None => format!("postgres://postgres@127.0.0.1:{}/{db}", self.port),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Leaves the cluster running after this handle is gone: only its watchdog stops it.
    pub fn detach(mut self) {
        self.stopped = true;
        self.watchdog = None;
    }

    /// Stops the cluster (also done on drop).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.run(self.stop_command(), "pg_ctl stop")?;
        if self.remove_dir {
            std::fs::remove_dir_all(&self.data_dir)?;
            let _ = std::fs::remove_file(self.password_file());
        }
        Ok(())
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping the embedded PostgreSQL");
        }
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn chown_to(dir: &Path, user: &str) -> anyhow::Result<()> {
    let out = Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(dir)
        .output()
        .context("chown of the PostgreSQL data directory")?;
    if !out.status.success() {
        bail!(
            "chown {user} {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The data directory must not be group/world accessible.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}
