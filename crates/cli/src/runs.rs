//! `forecast runs` and the tracking of `train` / `backtest`: every run is recorded in the
//! local spool; with a tracking URI it is also shipped to MLflow.

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tuner::tracking::{
    default_runs_dir, experiment_from_env, is_complete, sync_run, ActiveRun, Destination,
    MlflowClient, RetryPolicy, RunRecord, RunStatus, Spool, Tracker,
};

/// How long `train` / `backtest` wait at the end for their run to ship before leaving it
/// to `forecast runs sync`.
const FINAL_FLUSH: Duration = Duration::from_secs(20);

/// Runs recorded locally and their shipping state to MLflow.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast runs list\n  \
    forecast runs show 20261126-013000-1a2b\n  \
    forecast runs sync --tracking-uri http://127.0.0.1:5000\n\n\
    The spool lives in FORECAST_RUNS_DIR (default $FORECAST_HOME/runs, else ~/.local/share/forecast/runs).")]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: RunsCommand,
}

/// `forecast runs` subcommands.
#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// One line per recorded run: id, status, experiment, name, metric points, shipping state.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Everything recorded about one run (id or unique id prefix), as JSON.
    Show {
        /// Run id or a unique prefix of it.
        id: String,
    },
    /// Ship what has not reached the tracking server yet (idempotent).
    Sync {
        /// MLflow tracking URI [default: MLFLOW_TRACKING_URI, else each run's own].
        #[arg(long)]
        tracking_uri: Option<String>,
        /// Only this run (id or unique prefix).
        #[arg(long)]
        run: Option<String>,
    },
}

fn spool() -> Result<Spool> {
    Ok(Spool::open(default_runs_dir()?)?)
}

fn metric_summary(spool: &Spool, r: &RunRecord) -> Result<(u64, BTreeMap<String, Value>)> {
    let chunk = spool.read_metrics(&r.id, 0)?;
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for p in &chunk.points {
        last.insert(
            p.key.clone(),
            json!({"value": json_num(p.value), "step": p.step}),
        );
    }
    Ok((chunk.points.len() as u64, last))
}

fn json_num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or_else(|| Value::String(x.to_string()), Value::Number)
}

fn shipping_state(spool: &Spool, r: &RunRecord) -> Result<String> {
    let Some(uri) = &r.tracking_uri else {
        let ledger = spool.load_ledger(&r.id)?;
        return Ok(match ledger.destinations.keys().next() {
            Some(u) => shipping_word(spool, r, u)?,
            None => "local".to_string(),
        });
    };
    shipping_word(spool, r, uri)
}

fn shipping_word(spool: &Spool, r: &RunRecord, uri: &str) -> Result<String> {
    if is_complete(spool, r, uri)? {
        return Ok("shipped".into());
    }
    let ledger = spool.load_ledger(&r.id)?;
    Ok(match ledger.destinations.get(uri) {
        Some(s) if s.last_error.is_some() => "failed".into(),
        Some(s) if s.remote_run_id.is_some() => "partial".into(),
        _ => "pending".into(),
    })
}

pub fn run(a: RunsArgs) -> Result<()> {
    let spool = spool()?;
    match a.command {
        RunsCommand::List { json } => {
            let runs = spool.list()?;
            let mut rows = Vec::new();
            for r in &runs {
                let (points, _) = metric_summary(&spool, r)?;
                rows.push(json!({
                    "id": r.id, "status": r.status, "experiment": r.experiment, "name": r.name,
                    "parent": r.parent, "metric_points": points,
                    "shipping": shipping_state(&spool, r)?, "tracking_uri": r.tracking_uri,
                }));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<26} {:<9} {:<20} {:<24} {:>7} SHIPPING",
                    "ID", "STATUS", "EXPERIMENT", "NAME", "POINTS"
                );
                for row in rows {
                    let s = |k: &str| row[k].as_str().unwrap_or("").to_string();
                    println!(
                        "{:<26} {:<9} {:<20} {:<24} {:>7} {}",
                        s("id"),
                        s("status"),
                        s("experiment"),
                        s("name"),
                        row["metric_points"],
                        s("shipping")
                    );
                }
            }
        }
        RunsCommand::Show { id } => {
            let id = spool.resolve(&id)?;
            let r = spool.load_record(&id)?;
            let (points, last) = metric_summary(&spool, &r)?;
            let ledger = spool.load_ledger(&id)?;
            let doc = json!({
                "run": r,
                "dir": spool.run_dir(&id),
                "metric_points": points,
                "latest_metrics": last,
                "shipping": shipping_state(&spool, &r)?,
                "shipped": ledger.destinations,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        RunsCommand::Sync { tracking_uri, run } => sync(&spool, tracking_uri.as_deref(), run)?,
    }
    Ok(())
}

fn sync(spool: &Spool, uri_flag: Option<&str>, only: Option<String>) -> Result<()> {
    let forced = Destination::from_env(uri_flag)?;
    let runs = match only {
        Some(id) => vec![spool.load_record(&spool.resolve(&id)?)?],
        None => spool.list()?,
    };
    let mut clients: BTreeMap<String, MlflowClient> = BTreeMap::new();
    let (mut shipped, mut failed, mut skipped) = (0, 0, 0);
    for r in runs {
        let dest = match (&forced, &r.tracking_uri) {
            (Some(d), _) => d.clone(),
            // The run's own server; credentials (never stored) come from the environment.
            (None, Some(u)) => match Destination::from_env(Some(u))? {
                Some(d) => d,
                None => continue,
            },
            (None, None) => {
                skipped += 1;
                continue;
            }
        };
        if is_complete(spool, &r, &dest.uri)? {
            continue;
        }
        let client = match clients.get(&dest.uri) {
            Some(c) => c.clone(),
            None => {
                let c = MlflowClient::new(dest.clone(), RetryPolicy::default())?;
                clients.insert(dest.uri.clone(), c.clone());
                c
            }
        };
        match sync_run(spool, &client, &r.id) {
            Ok(rep) => {
                for w in &rep.warnings {
                    eprintln!("warning: run {}: {w}", r.id);
                }
                eprintln!(
                    "run {} -> {} run {}: {} metric points, {} artifacts sent{}",
                    r.id,
                    client.uri(),
                    rep.remote_run_id.as_deref().unwrap_or("?"),
                    rep.metrics_sent,
                    rep.artifacts_sent,
                    if rep.complete {
                        ""
                    } else {
                        " (run still in progress)"
                    }
                );
                shipped += 1;
            }
            Err(e) => {
                eprintln!("run {}: not shipped: {e}", r.id);
                failed += 1;
            }
        }
    }
    if skipped > 0 {
        eprintln!(
            "{skipped} run(s) have no tracking URI: give --tracking-uri or set MLFLOW_TRACKING_URI to ship them"
        );
    }
    eprintln!("{shipped} run(s) synced, {failed} failed");
    if failed > 0 {
        return Err(anyhow!(
            "{failed} run(s) could not be shipped; they stay in the spool"
        ));
    }
    Ok(())
}

/// Tracking of one `train` / `backtest` invocation. Failures of tracking are warnings: the
/// command itself never fails because of them (a bad `--tracking-uri` is an error, early).
pub struct CommandRun {
    tracker: Option<Tracker>,
    run: Option<ActiveRun>,
}

impl CommandRun {
    /// Starts a run named `name` in the spool (always), shipping to the tracking URI when
    /// one is given by flag or environment.
    pub fn start(flags: &crate::args::TrackingArgs, name: &str) -> Result<CommandRun> {
        let destination = Destination::from_env(flags.tracking_uri.as_deref())?;
        let experiment = experiment_from_env(flags.experiment.as_deref());
        let started = default_runs_dir()
            .and_then(|dir| Tracker::new(&dir, destination, &experiment))
            .and_then(|t| t.start_run(name, None).map(|r| (t, r)));
        match started {
            Ok((t, r)) => Ok(CommandRun {
                tracker: Some(t),
                run: Some(r),
            }),
            Err(e) => {
                eprintln!("warning: tracking: run not recorded: {e}");
                Ok(CommandRun {
                    tracker: None,
                    run: None,
                })
            }
        }
    }

    /// The run, if recording works.
    pub fn run_mut(&mut self) -> Option<&mut ActiveRun> {
        self.run.as_mut()
    }

    /// Does `f` on the run; an error becomes a warning.
    pub fn with(&mut self, f: impl FnOnce(&mut ActiveRun) -> tuner::tracking::Result<()>) {
        if let Some(r) = self.run.as_mut() {
            if let Err(e) = f(r) {
                eprintln!("warning: tracking: run {}: {e}", r.id());
            }
        }
    }

    /// Ends the run, waits a little for it to ship, and says where it is.
    pub fn finish(mut self, status: RunStatus) {
        let (Some(tracker), Some(run)) = (self.tracker.take(), self.run.take()) else {
            return;
        };
        // A failed command prints exactly one `error:` line: the failed run stays in the
        // spool (and ships as FAILED) without a word here.
        let quiet = !matches!(status, RunStatus::Finished);
        let id = match run.finish(status) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("warning: tracking: {e}");
                return;
            }
        };
        if quiet {
            let _ = tracker.flush(FINAL_FLUSH);
            return;
        }
        match tracker.destination() {
            None => eprintln!("run {id} recorded locally (no tracking URI)"),
            Some(d) => {
                if tracker.flush(FINAL_FLUSH) {
                    eprintln!("run {id} logged to {}", d.uri);
                } else {
                    eprintln!(
                        "run {id} recorded locally; not all of it reached {} yet: `forecast runs sync` ships the rest",
                        d.uri
                    );
                }
            }
        }
    }
}
