//! PostgreSQL for the shared-study tests: the server on 127.0.0.1:5432 (trust auth, as on
//! the development and CI machines) and a fresh database per test, dropped at the end.
//! Without a server a test is skipped with a loud notice, unless
//! `FORECAST_REQUIRE_POSTGRES=1` (CI), where a missing server fails it.

use postgres::{Client, NoTls};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server's maintenance connection (user `postgres`, else `root`, database `test`),
/// or `None` when no server answers.
pub fn admin() -> Option<Client> {
    for user in ["postgres", "root"] {
        let url = format!("host=127.0.0.1 port=5432 user={user} dbname=test connect_timeout=5");
        if let Ok(c) = Client::connect(&url, NoTls) {
            return Some(c);
        }
    }
    None
}

/// A fresh database for one test, dropped (with its connections) when this is dropped.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// The user it was made by (and is reached as).
    pub user: String,
}

impl TestDb {
    /// Make a database named `forecast_test_<prefix>_<pid>_<n>_<nanos>`; `None` after a
    /// SKIPPED notice when no server answers (a failure under
    /// `FORECAST_REQUIRE_POSTGRES=1`).
    pub fn new(prefix: &str) -> Option<TestDb> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let Some(mut admin) = admin() else {
            assert!(
                std::env::var("FORECAST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PostgreSQL is not reachable at 127.0.0.1:5432 (FORECAST_REQUIRE_POSTGRES=1)"
            );
            eprintln!("SKIPPED: PostgreSQL is not reachable at 127.0.0.1:5432");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "forecast_test_{prefix}_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        let user: String = admin
            .query_one("SELECT current_user::text", &[])
            .expect("current_user")
            .get(0);
        Some(TestDb { name, user })
    }

    /// The database's URL through `port` on 127.0.0.1 (a relay's, to cut connections).
    pub fn url_at(&self, port: u16) -> String {
        format!("postgresql://{}@127.0.0.1:{port}/{}", self.user, self.name)
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        self.url_at(5432)
    }

    /// A connection to the database.
    pub fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(mut admin) = admin() {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A throwaway PostgreSQL cluster of one test's own: a temporary directory, a free port
/// on 127.0.0.1, `scram-sha-256` authentication for every connection (user `postgres`
/// with the password given), so that a test can restart the server or try a wrong
/// password without disturbing the shared one. `initdb` and `pg_ctl` come from the
/// newest `/usr/lib/postgresql/*/bin` (or `FORECAST_PG_BINDIR`) and run as the
/// `postgres` user when the test runs as root (PostgreSQL refuses root). Stopped
/// (immediately) and removed when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl Cluster {
    /// Make and start a cluster whose `postgres` user has `password`; `None` after a
    /// SKIPPED notice when no PostgreSQL binaries are installed (a failure under
    /// `FORECAST_REQUIRE_POSTGRES=1`).
    pub fn start(password: &str) -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var("FORECAST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql (FORECAST_REQUIRE_POSTGRES=1)"
            );
            eprintln!("SKIPPED: no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("forecast-pg-")
            .tempdir()
            .expect("temporary directory");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, format!("{password}\n")).expect("password file");
        if as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "chown of the cluster directory to postgres"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster { dir, bin, port };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--pwfile",
                &pwfile.to_string_lossy(),
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.ctl("start");
        Some(cluster)
    }

    /// The URL of database `db` as `postgres` with `password`.
    pub fn url(&self, password: &str, db: &str) -> String {
        format!(
            "postgresql://postgres:{password}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// Stop the server (fast: connections are cut) and wait until it is down.
    pub fn stop(&self) {
        self.ctl("stop");
    }

    /// Start the stopped server again on the same port and wait until it accepts
    /// connections.
    pub fn resume(&self) {
        self.ctl("start");
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn ctl(&self, action: &str) {
        let data = self.data();
        let log = self.dir.path().join("log").to_string_lossy().into_owned();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-t", "60"];
        match action {
            "start" => args.extend(["-o", &options, "start"]),
            _ => args.extend(["-m", "fast", action]),
        }
        self.run("pg_ctl", &args);
    }

    /// `tool` of the cluster's binaries with `args`, as the `postgres` user when this
    /// runs as root, in the cluster's directory (the server's working directory must be
    /// one its user can enter).
    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(tool);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(self.dir.path());
        cmd
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool, args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The directory of `initdb` and `pg_ctl`: `FORECAST_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn bin_dir() -> Option<std::path::PathBuf> {
    if let Some(d) = std::env::var_os("FORECAST_PG_BINDIR") {
        return Some(d.into());
    }
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}
