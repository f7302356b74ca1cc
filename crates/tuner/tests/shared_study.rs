//! `Experiment::run_shared` against a real PostgreSQL (127.0.0.1:5432, trust auth): many
//! runners on one study, TPE over the whole study's history, median stopping decided
//! once, connections dropped by the server, and a database that goes away. Each test
//! makes a database of its own and drops it. Without a server the tests say SKIPPED
//! (FORECAST_REQUIRE_POSTGRES=1, as CI sets, makes that a failure).

use forecast_test_support::pg::{admin, TestDb};
use postgres::{Client, NoTls};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tuner::{Control, Error, Experiment, SchedulerSpec, SearchKind, SearchSpace, TuneConfig};

fn shared(url: &str, dir: &std::path::Path) -> tuner::SharedStudy {
    let mut s = tuner::SharedStudy::new(url, dir.to_path_buf());
    s.heartbeat_interval = Duration::from_millis(200);
    s.grace = Duration::from_secs(2);
    s.unreachable_limit = Duration::from_secs(10);
    s
}

fn experiment(samples: usize, scheduler: SchedulerSpec, search: SearchKind) -> Experiment {
    let mut c = TuneConfig::new("loss");
    c.samples = samples;
    c.max_concurrent = 2;
    c.threads_per_trial = Some(1);
    c.scheduler = scheduler;
    c.search = search;
    c.seed = 3;
    let space = SearchSpace::from_toml("x = { uniform = [-2.0, 2.0] }").unwrap();
    let spec = serde_json::json!({"name": "quadratic", "tune": {"samples": samples}});
    Experiment::new("quadratic", space, c).with_spec(spec)
}

/// (x - 0.5)^2 shrinking over 6 iterations; `pause` between reports.
fn objective(
    pause: Duration,
) -> impl Fn(&mut tuner::TrialContext<'_>) -> Result<(), tuner::TrialError> + Sync {
    move |t| {
        let x = t.params()["x"].as_f64().ok_or("x")?;
        for i in t.iteration()..6 {
            std::thread::sleep(pause);
            let loss = (x - 0.5).powi(2) + 1.0 / (i + 1) as f64;
            if t.report(&[("loss", loss)], None) == Control::Stop {
                break;
            }
        }
        Ok(())
    }
}

#[test]
fn three_runners_share_a_tpe_study_with_median_stopping() {
    let Some(db) = TestDb::new("lib") else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let summaries: Vec<tuner::Summary> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (url, dir) = (url.clone(), dir.path());
                s.spawn(move || {
                    let median = SchedulerSpec::MedianStopping {
                        grace_period: 2,
                        min_samples_required: 3,
                    };
                    experiment(24, median, SearchKind::Tpe)
                        .run_shared(&shared(&url, dir), objective(Duration::ZERO))
                        .unwrap()
                        .0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for s in &summaries {
        assert_eq!(s.trials, 24);
        assert_eq!(s.completed + s.stopped_early, 24, "{s:?}");
        assert_eq!(s.best, summaries[0].best);
    }
    assert!(summaries[0].stopped_early > 0, "{:?}", summaries[0]);
    let mut c = Client::connect(&url, NoTls).unwrap();
    let rows = c
        .query(
            "SELECT id, starts, params::text FROM trials ORDER BY id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 24);
    let mut params = BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.get::<_, i32>(0), i as i32);
        assert_eq!(r.get::<_, i32>(1), 1);
        assert!(params.insert(r.get::<_, String>(2)));
    }
    // One decision per (trial, iteration), all stops of the median rule after its grace.
    let n: i64 = c
        .query_one("SELECT count(*) FROM decisions", &[])
        .unwrap()
        .get(0);
    let distinct: i64 = c
        .query_one(
            "SELECT count(DISTINCT (trial_id, iteration)) FROM decisions",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, distinct);
    let early: i64 = c
        .query_one(
            "SELECT count(*) FROM decisions WHERE action = 'stop' AND iteration < 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(early, 0);
    // The study's best is the summary's.
    let best: Option<i32> = c
        .query_one("SELECT best_trial FROM studies", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        best.map(|b| b as usize),
        summaries[0].best.as_ref().map(|b| b.trial)
    );
}

#[test]
fn connections_dropped_by_the_server_are_retried() {
    let Some(db) = TestDb::new("lib") else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let done = AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let out = experiment(8, SchedulerSpec::Fifo, SearchKind::Random).run_shared(
                &shared(&url, dir.path()),
                objective(Duration::from_millis(30)),
            );
            done.store(true, Ordering::SeqCst);
            out
        });
        // Cut every connection of the study's workers a few times while they run.
        let mut admin = admin().unwrap();
        let mut cuts = 0;
        while !done.load(Ordering::SeqCst) && cuts < 5 {
            let n: i64 = admin
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                      WHERE datname = $1 AND application_name = 'forecast-tune'",
                    &[&db.name],
                )
                .unwrap()
                .get(0);
            if n > 0 {
                cuts += 1;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        assert!(cuts > 0, "no connection was cut");
        h.join().unwrap()
    });
    let (summary, store) = summary.unwrap();
    assert_eq!(summary.trials, 8);
    assert_eq!(summary.completed, 8);
    for t in &store.state().trials {
        let its: Vec<usize> = t.history.iter().map(|r| r.iteration).collect();
        assert_eq!(its, (1..=6).collect::<Vec<_>>(), "trial {}", t.id);
    }
}

/// A TCP relay to the server that can be cut: the database "goes away".
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
}

impl Relay {
    fn start() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: connection closed at once
                }
                let Ok(server) = TcpStream::connect("127.0.0.1:5432") else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if !flag.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, up }
    }
}

#[test]
fn a_worker_that_cannot_reach_the_database_stops_with_an_error() {
    let Some(db) = TestDb::new("lib") else { return };
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start();
    let url = db.url_at(relay.port);
    let started = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut sh = shared(&url, dir.path());
            sh.unreachable_limit = Duration::from_millis(1500);
            experiment(4, SchedulerSpec::Fifo, SearchKind::Random).run_shared(&sh, |t| {
                started.store(true, Ordering::SeqCst);
                objective(Duration::from_millis(100))(t)
            })
        });
        let t0 = Instant::now();
        while !started.load(Ordering::SeqCst) {
            assert!(t0.elapsed() < Duration::from_secs(30), "no trial started");
            std::thread::sleep(Duration::from_millis(10));
        }
        relay.up.store(false, Ordering::SeqCst);
        let cut = Instant::now();
        let r = h.join().unwrap();
        (r, cut.elapsed())
    });
    let (result, after_cut) = result;
    match result {
        Err(e @ Error::Unreachable { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("unreachable") && text.contains("limit"),
                "{text}"
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(after_cut < Duration::from_secs(20), "{after_cut:?}");
}

#[test]
fn heartbeats_keep_a_long_trial_with_its_live_worker() {
    let Some(db) = TestDb::new("lib") else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    // Each trial reports once, after twice the grace period: only the heartbeats keep
    // it from being taken over by the other runner, which waits meanwhile.
    let runs = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (url, dir, runs) = (url.clone(), dir.path(), &runs);
            s.spawn(move || {
                let mut sh = shared(&url, dir);
                sh.grace = Duration::from_millis(800);
                let mut c = TuneConfig::new("loss");
                c.samples = 2;
                let space = SearchSpace::from_toml("x = { uniform = [-2.0, 2.0] }").unwrap();
                let e = Experiment::new("long", space, c)
                    .with_spec(serde_json::json!({"name": "long"}));
                let (summary, _) = e
                    .run_shared(&sh, |t| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1600));
                        t.report(&[("loss", 1.0)], None);
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(summary.trials, 2);
                assert_eq!(summary.completed, 2);
            });
        }
    });
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "a live worker's trial was taken over"
    );
    let mut c = Client::connect(&url, NoTls).unwrap();
    let starts: i64 = c
        .query_one("SELECT sum(starts) FROM trials", &[])
        .unwrap()
        .get(0);
    assert_eq!(starts, 2);
}
