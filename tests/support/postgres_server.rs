//! A throwaway PostgreSQL server for the tests that need one: `initdb` into
//! a temporary directory (as the `postgres` user when the tests run as
//! root, since PostgreSQL refuses to run as root), the server on a free
//! loopback port with trust authentication for local test clients only, and
//! stopped and removed when dropped. Statements go through `psql`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str =
    "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH). \
     The PostgreSQL tests need a real server: run `bash .ci/install.sh` (as root, on Debian) \
     to install it, then rerun the tests.";

/// A running PostgreSQL server that this test owns.
#[derive(Debug)]
pub struct PostgresServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// `name=value` settings given at start, after the defaults.
    settings: Vec<String>,
}

/// The directory holding `initdb` and `postgres`: the newest Debian
/// install, else whatever is on PATH.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    let on_path = Command::new("initdb").arg("--version").output();
    match on_path {
        Ok(out) if out.status.success() => PathBuf::new(),
        _ => panic!("{INSTALL_HINT}"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program` from `bin`, run as the `postgres` user when we are root.
fn server_command(bin: &Path, program: &str) -> Command {
    let path = if bin.as_os_str().is_empty() {
        PathBuf::from(program)
    } else {
        bin.join(program)
    };
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// Spawns `postgres` on `data`, listening on 127.0.0.1:`port` (socket in
/// `dir`), tuned for throwaway tests (no fsync), then `settings`
/// (`name=value`, which override the defaults).
fn spawn_server(
    bin: &Path,
    data: &Path,
    dir: &Path,
    port: u16,
    settings: &[String],
) -> Result<Child, String> {
    let mut command = server_command(bin, "postgres");
    command
        .arg("-D")
        .arg(data)
        .args(["-p", &port.to_string()])
        .arg("-k")
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=200"]);
    for setting in settings {
        command.args(["-c", setting]);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn postgres: {e}"))
}

impl PostgresServer {
    /// Starts a server and waits until it answers. Panics with the install
    /// hint if PostgreSQL is missing: these tests never skip.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with `settings` (`name=value`) over the defaults.
    pub fn start_with(settings: &[&str]) -> Self {
        let settings: Vec<String> = settings.iter().map(|s| (*s).to_owned()).collect();
        let mut last_error = String::new();
        for _ in 0..5 {
            match Self::try_start(&settings) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start PostgreSQL: {last_error}");
    }

    /// A free loopback port and a new directory for a server's files.
    fn new_place() -> Result<(u16, PathBuf), String> {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let dir = std::env::temp_dir().join(format!(
            "otpguard-pg-{}-{}-{port}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
        if is_root() {
            let chown = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err("chown of the data directory failed".to_owned());
            }
        }
        Ok((port, dir))
    }

    /// A streaming standby of this server: a base backup (`pg_basebackup
    /// -R`, which writes the standby's connection to this one), started on
    /// a port of its own with `settings`.
    pub fn standby(&self, settings: &[&str]) -> Self {
        let (port, dir) = Self::new_place().unwrap();
        let data = dir.join("data");
        let backup = server_command(&self.bin, "pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(&data)
            .args(["-R", "-X", "stream", "--no-sync", "-c", "fast"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            backup.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&backup.stderr)
        );
        let settings: Vec<String> = settings.iter().map(|s| (*s).to_owned()).collect();
        let child = spawn_server(&self.bin, &data, &dir, port, &settings).unwrap();
        let mut standby = Self {
            child,
            port,
            dir,
            bin: self.bin.clone(),
            settings,
        };
        standby.wait_until_up().unwrap();
        standby
    }

    /// Promotes this standby to a primary, and waits until it is one.
    pub fn promote(&self) {
        assert_eq!(self.psql("SELECT pg_promote(true, 60)"), "t");
    }

    fn try_start(settings: &[String]) -> Result<Self, String> {
        let bin = bin_dir();
        let (port, dir) = Self::new_place()?;
        let data = dir.join("data");
        let init = server_command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !init.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&init.stderr)
            ));
        }
        let child = spawn_server(&bin, &data, &dir, port, settings)?;
        let mut server = Self {
            child,
            port,
            dir,
            bin,
            settings: settings.to_vec(),
        };
        server.wait_until_up()?;
        Ok(server)
    }

    /// Waits until this server answers on its port. The port was free when
    /// it was picked, but another test's server may have taken it since
    /// (then this one cannot listen, and the other answers): the server
    /// that answers must be the one on this data directory.
    fn wait_until_up(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let ours = self.dir.join("data").to_string_lossy().into_owned();
        while Instant::now() < deadline {
            if let Ok(out) = self.psql_raw("SHOW data_directory") {
                let answering = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if answering == ours {
                    return Ok(());
                }
                return Err(format!(
                    "port {} is another server's (its data is in {answering})",
                    self.port
                ));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("postgres exited early with {status}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("postgres did not answer within 30 s".to_owned())
    }

    /// Starts the stopped server again on the same data and port.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn_server(
            &self.bin,
            &self.dir.join("data"),
            &self.dir,
            self.port,
            &self.settings,
        )
        .unwrap_or_else(|e| panic!("restart: {e}"));
        self.wait_until_up()
            .unwrap_or_else(|e| panic!("restart: {e}"));
    }

    /// Runs `sql`, which must fail; returns psql's error message.
    pub fn psql_error(&self, sql: &str) -> String {
        match self.psql_raw(sql) {
            Ok(out) => panic!(
                "SQL succeeded but should have failed: {sql}\n{}",
                String::from_utf8_lossy(&out.stdout)
            ),
            Err(e) => e,
        }
    }

    /// `pg_dump` of the `postgres` database (schema and data, plain SQL),
    /// as bytes.
    pub fn dump(&self) -> Vec<u8> {
        let pg_dump = if self.bin.as_os_str().is_empty() {
            PathBuf::from("pg_dump")
        } else {
            self.bin.join("pg_dump")
        };
        let out = Command::new(pg_dump)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The process id of the server (its postmaster).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `postgres://` URL for database `postgres` as user `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `psql` for this server's `postgres` database, as user `postgres`.
    fn psql_command(&self) -> Command {
        let psql = if self.bin.as_os_str().is_empty() {
            PathBuf::from("psql")
        } else {
            self.bin.join("psql")
        };
        let mut command = Command::new(psql);
        command
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres"])
            .args(["-X", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::null());
        command
    }

    fn psql_raw(&self, sql: &str) -> Result<Output, String> {
        let out = self
            .psql_command()
            .args(["-q", "-A", "-t", "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs `sql` (one or more statements, autocommit) and returns what it
    /// printed, one line per row, columns separated by `|`. Panics on an
    /// SQL error.
    pub fn psql(&self, sql: &str) -> String {
        match self.psql_raw(sql) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            Err(e) => panic!("SQL failed: {e}\n{sql}"),
        }
    }

    /// Runs `sql` and returns the number of rows the last statement
    /// affected, as psql's command tag reports it (`INSERT 0 1`,
    /// `UPDATE 0`, `DELETE 3`).
    pub fn affected(&self, sql: &str) -> u64 {
        let out = self.psql_command().args(["-c", sql]).output().unwrap();
        assert!(
            out.status.success(),
            "SQL failed: {}\n{sql}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tag = String::from_utf8_lossy(&out.stdout);
        let last = tag.lines().last().unwrap_or_default().to_owned();
        last.split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no row count in {last:?}"))
    }

    /// Stops the server with an immediate shutdown (SIGQUIT): every
    /// session ends at once, without finishing what it was doing; the next
    /// start recovers from the log.
    pub fn stop_immediately(&mut self) {
        self.signal_and_wait("-QUIT");
    }

    /// Stops the server now: PostgreSQL's fast shutdown (SIGINT: aborts
    /// sessions, exits cleanly).
    pub fn stop(&mut self) {
        self.signal_and_wait("-INT");
    }

    /// Sends `signal` to the server and waits up to 10 s for it to exit;
    /// SIGKILL if it does not go in time.
    fn signal_and_wait(&mut self, signal: &str) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([signal, &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
