//! PostgreSQL for the shared-study tests: the server on 127.0.0.1:5432 (trust auth, as on
//! the development and CI machines) and a fresh database per test, dropped at the end.
//! Without a server a test is skipped with a loud notice, unless
//! `FORECAST_REQUIRE_POSTGRES=1` (CI), where a missing server fails it.

use postgres::{Client, NoTls};
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
