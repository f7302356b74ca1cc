//! The shared study store: one study in PostgreSQL, joined by many worker processes
//! (Optuna's RDB storage, for this tuner). Every statement of the shared store is in
//! this module; the runner's `worker` module drives trials with it.
//!
//! # Schema (version 1)
//!
//! - `schema_version(version, applied_at)`: the migrations applied. The first process
//!   to connect applies the missing ones in one transaction under a transaction-level
//!   advisory lock, so workers that start together neither race nor fail.
//! - `studies(id, name UNIQUE, spec, spec_hash, total_trials, best_trial, best_metric,
//!   best_loss, created_at, finished_at)`: one row per study, named by the spec's `name`.
//! - `trials(study_id, id, params, status, claim, worker, starts, failures, error,
//!   stop_reason, metric, seconds, checkpoint_iteration, checkpoint_file, heartbeat_at,
//!   ...)`: `claim` is bumped by every claim and every write of a trial names the claim
//!   it holds, so a worker that lost its trial (its heartbeat went stale and another
//!   worker took it over) can no longer write it.
//! - `results(study_id, trial_id, iteration, metrics)`: every reported result.
//! - `decisions(study_id, seq, trial_id, iteration, loss, action, worker)`: the
//!   scheduler's answer to every result that carried the metric, `UNIQUE (study_id,
//!   trial_id, iteration)`. `seq` orders them: each worker keeps a replica of the
//!   scheduler fed with the decisions in `seq` order, so every worker's replica is in
//!   the same state when it decides, and each decision (an ASHA rung's cut included)
//!   is made once, under the study's decision lock, and read back by any worker that
//!   asks again.
//!
//! Checkpoints stay files (the training loop's tar archives of weights and optimizer
//! state, as the directory store writes them); the database holds their names.

use crate::error::{Error, Result};
use crate::scheduler::{Action, Scheduler};
use crate::space::Params;
use crate::store::{CheckpointRef, ResultRow, TrialRecord, TrialStatus};
use postgres::{Client, NoTls, Transaction};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 1;

/// Advisory lock held while migrating (any 64-bit key of ours: "forecast" in ASCII).
const MIGRATION_LOCK: i64 = 0x666f_7265_6361_7374;
/// First key of the two-key advisory locks of one study (the second is its id): trial
/// creation.
const CREATE_LOCK: i32 = 0x6663_0001;
/// First key of a study's decision lock.
const DECIDE_LOCK: i32 = 0x6663_0002;

/// Migrations, numbered; each runs once, in order, in the migrating transaction.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    r#"
CREATE TABLE studies (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    spec jsonb NOT NULL,
    spec_hash text NOT NULL,
    total_trials integer NOT NULL,
    best_trial integer,
    best_metric double precision,
    best_loss double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE TABLE trials (
    study_id integer NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    id integer NOT NULL,
    params jsonb NOT NULL,
    status text NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'stopped', 'failed')),
    claim integer NOT NULL DEFAULT 0,
    worker text,
    starts integer NOT NULL DEFAULT 0,
    failures integer NOT NULL DEFAULT 0,
    error text,
    stop_reason text,
    metric double precision,
    seconds double precision NOT NULL DEFAULT 0,
    checkpoint_iteration integer,
    checkpoint_file text,
    heartbeat_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (study_id, id)
);
CREATE INDEX trials_by_status ON trials (study_id, status, heartbeat_at);
CREATE TABLE results (
    study_id integer NOT NULL,
    trial_id integer NOT NULL,
    iteration integer NOT NULL,
    metrics jsonb NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (study_id, trial_id, iteration),
    FOREIGN KEY (study_id, trial_id) REFERENCES trials (study_id, id) ON DELETE CASCADE
);
CREATE TABLE decisions (
    study_id integer NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    trial_id integer NOT NULL,
    iteration integer NOT NULL,
    loss double precision NOT NULL,
    action text NOT NULL CHECK (action IN ('continue', 'stop')),
    worker text,
    decided_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (study_id, seq),
    UNIQUE (study_id, trial_id, iteration)
);
"#,
)];

/// The hash that identifies a study's spec: SHA-256 of its canonical JSON (keys
/// sorted) without the settings each worker may choose for itself (`tune.out`,
/// `tune.max_concurrent`, `tune.threads_per_trial`, `tracking`).
pub fn spec_hash(spec: &Value) -> String {
    let mut spec = spec.clone();
    if let Some(t) = spec.get_mut("tune").and_then(Value::as_object_mut) {
        for k in ["out", "max_concurrent", "threads_per_trial"] {
            t.remove(k);
        }
    }
    if let Some(o) = spec.as_object_mut() {
        o.remove("tracking");
    }
    let text = canonical(&spec);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            let parts: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), canonical(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// `url` without its password, for messages.
fn shown(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &url[s + 3..at];
            match user.split_once(':') {
                Some((name, _)) => format!("{}{name}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Why a database step failed: the database (perhaps worth a retry) or anything else.
enum Fail {
    Pg(postgres::Error),
    Other(Error),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Other(e)
    }
}

/// Errors worth another try on a new connection: the connection broke or could not be
/// made, the server is shutting down or starting, a serialization failure or deadlock.
fn transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08")
                || matches!(code, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
        }
        None => {
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                if s.is::<std::io::Error>() {
                    return true;
                }
                source = s.source();
            }
            let text = e.to_string();
            text.starts_with("error connecting") || text.starts_with("timeout")
        }
    }
}

/// The text of a database error, with the server's message and detail when it sent one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            if let Some(s) = std::error::Error::source(e) {
                text = format!("{text}: {s}");
            }
            text
        }
    }
}

/// A claimed trial, to run.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Trial id.
    pub id: usize,
    /// The claim this worker holds (every write of the trial names it).
    pub claim: i32,
    /// Hyperparameters.
    pub params: Params,
    /// Failed attempts so far.
    pub failures: usize,
    /// Its checkpoint, when an earlier attempt saved one.
    pub checkpoint: Option<CheckpointRef>,
    /// Its metric so far.
    pub metric: Option<f64>,
}

/// What a worker may do next.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Run this trial.
    Trial(Claimed),
    /// Every trial is created and some still run elsewhere: wait.
    Wait,
    /// Every trial is finished.
    Done,
}

/// How a finished attempt ends.
#[derive(Debug, Clone)]
pub struct Ending {
    /// The trial's new status (`pending` for a failure to retry).
    pub status: TrialStatus,
    /// Why it was stopped early.
    pub stop_reason: Option<String>,
    /// The error of a failed attempt.
    pub error: Option<String>,
    /// Seconds this attempt added.
    pub seconds: f64,
    /// The trial's metric and its loss (lower is better), for the study's best.
    pub metric: Option<(f64, f64)>,
}

/// A trial's finished predecessors, for the searcher: id, params, loss (None when the
/// trial failed or reported no metric).
pub type History = Vec<(usize, Params, Option<f64>)>;

/// A worker's replica of the study's scheduler: fed with the study's decisions in
/// their order, it decides the next one.
pub struct Replica {
    build: Box<dyn Fn() -> Result<Box<dyn Scheduler>> + Send + Sync>,
    scheduler: Box<dyn Scheduler>,
    applied: i32,
}

impl Replica {
    /// A replica of the scheduler that `build` makes (called again to start over).
    pub fn new(
        build: Box<dyn Fn() -> Result<Box<dyn Scheduler>> + Send + Sync>,
    ) -> Result<Replica> {
        let scheduler = build()?;
        Ok(Replica {
            build,
            scheduler,
            applied: 0,
        })
    }

    /// The most iterations a trial may run, when the scheduler caps them.
    pub fn max_iterations(&self) -> Option<usize> {
        self.scheduler.max_iterations()
    }

    /// Forget everything (after a transaction that fed it failed).
    fn reset(&mut self) {
        if let Ok(s) = (self.build)() {
            self.scheduler = s;
            self.applied = 0;
        }
    }
}

/// One connection to a shared study's database, reconnected on failure.
pub struct PgStore {
    config: postgres::Config,
    url: String,
    client: Option<Client>,
    limit: Duration,
    study: i32,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .field("study", &self.study)
            .finish()
    }
}

impl PgStore {
    /// Connect to `url` (`postgresql://USER@HOST:PORT/DB`). An unreachable server is an
    /// error at once; once connected, a lost connection is retried with backoff for up
    /// to `limit` before a step fails with [`Error::Unreachable`].
    pub fn connect(url: &str, limit: Duration) -> Result<PgStore> {
        let shown = shown(url);
        let mut config = postgres::Config::from_str(url).map_err(|e| {
            Error::config(
                "--storage",
                format!("{shown}: not a PostgreSQL URL (postgresql://USER@HOST:PORT/DB): {e}"),
            )
        })?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("forecast-tune");
        let client = config.connect(NoTls).map_err(|e| Error::Database {
            url: shown.clone(),
            message: format!("cannot connect: {}", describe(&e)),
        })?;
        Ok(PgStore {
            config,
            url: shown,
            client: Some(client),
            limit,
            study: 0,
        })
    }

    /// Another connection to the same database and study.
    pub fn reopen(&self) -> Result<PgStore> {
        let mut other = PgStore {
            config: self.config.clone(),
            url: self.url.clone(),
            client: None,
            limit: self.limit,
            study: self.study,
        };
        other.retry(|_| Ok(()))?;
        Ok(other)
    }

    /// The database's URL without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Run `step` on a connection; on a transient failure, reconnect and run it again
    /// with exponential backoff until `limit` has passed since the first failure.
    fn retry<T>(&mut self, mut step: impl FnMut(&mut Client) -> Result<T, Fail>) -> Result<T> {
        let mut first_failure: Option<Instant> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            let outcome = match self.client.as_mut().filter(|c| !c.is_closed()) {
                Some(client) => step(client),
                None => match self.config.connect(NoTls) {
                    Ok(client) => {
                        self.client = Some(client);
                        continue;
                    }
                    Err(e) => Err(Fail::Pg(e)),
                },
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err(Fail::Other(e)) => return Err(e),
                Err(Fail::Pg(e)) if transient(&e) => {
                    let since = *first_failure.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.limit {
                        return Err(Error::Unreachable {
                            url: self.url.clone(),
                            seconds: since.elapsed().as_secs_f64(),
                            limit: self.limit.as_secs_f64(),
                            message: describe(&e),
                        });
                    }
                    self.client = None;
                    std::thread::sleep(backoff.min(self.limit.saturating_sub(since.elapsed())));
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(Fail::Pg(e)) => {
                    return Err(Error::Database {
                        url: self.url.clone(),
                        message: describe(&e),
                    })
                }
            }
        }
    }

    /// Create or upgrade the schema to [`SCHEMA_VERSION`] (safe when many processes do
    /// it at once: one transaction under an advisory lock).
    pub fn migrate(&mut self) -> Result<()> {
        let url = self.url.clone();
        self.retry(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_version (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now())",
            )?;
            let current: i32 = tx
                .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?
                .get(0);
            if current > SCHEMA_VERSION {
                return Err(Fail::Other(Error::Database {
                    url: url.clone(),
                    message: format!(
                        "the study schema is at version {current}, newer than this build's {SCHEMA_VERSION}: upgrade forecast"
                    ),
                }));
            }
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
                tx.batch_execute(sql)?;
                tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[version])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Join the study `name` (creating it with `spec` and `total` trials if it does not
    /// exist). A study of that name with another spec hash is refused.
    pub fn join(&mut self, name: &str, spec: &Value, hash: &str, total: usize) -> Result<()> {
        let total = i32::try_from(total)
            .map_err(|_| Error::config("tune.samples", "more trials than a study can hold"))?;
        let url = self.url.clone();
        let id = self.retry(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO studies (name, spec, spec_hash, total_trials)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                &[&name, spec, &hash, &total],
            )?;
            let row = tx.query_one(
                "SELECT id, spec_hash FROM studies WHERE name = $1",
                &[&name],
            )?;
            let stored: String = row.get(1);
            if stored != hash {
                return Err(Fail::Other(Error::StudyMismatch {
                    name: name.to_string(),
                    url: url.clone(),
                    stored,
                    given: hash.to_string(),
                }));
            }
            tx.commit()?;
            Ok(row.get::<_, i32>(0))
        })?;
        self.study = id;
        Ok(())
    }

    /// Open an existing study for reading, without creating or changing anything (no
    /// schema, no study): the study `name`, or with `None` the database's only study.
    /// Returns the study's name and its stored spec. A database without the study schema,
    /// an unknown name, or several studies and no name are errors that name what the
    /// database holds.
    pub fn open_study(&mut self, name: Option<&str>) -> Result<(String, Value)> {
        let url = self.url.clone();
        let rows = self.retry(|c| {
            let schema: Option<String> = c
                .query_one("SELECT to_regclass('studies')::text", &[])?
                .get(0);
            if schema.is_none() {
                return Err(Fail::Other(Error::Database {
                    url: url.clone(),
                    message: "holds no shared study (no `studies` table: `forecast tune --storage` creates it)".into(),
                }));
            }
            Ok(c.query("SELECT id, name, spec FROM studies ORDER BY name", &[])?)
        })?;
        let names: Vec<String> = rows.iter().map(|r| r.get::<_, String>(1)).collect();
        let row = match name {
            Some(n) => rows.iter().find(|r| r.get::<_, String>(1) == n),
            None if rows.len() == 1 => rows.first(),
            None => None,
        };
        let Some(row) = row else {
            let held = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            let message = match name {
                Some(n) => format!("holds no study named '{n}' (its studies: {held})"),
                None if names.is_empty() => "holds no study".to_string(),
                None => format!("holds several studies, name one (its studies: {held})"),
            };
            return Err(Error::Database { url, message });
        };
        self.study = row.get(0);
        Ok((row.get(1), row.get(2)))
    }

    /// The joined study's id.
    pub fn study(&self) -> i32 {
        self.study
    }

    /// Claim the next trial for `worker`: a pending trial, or a running one whose
    /// heartbeat is older than `grace` (its worker died: it resumes from its checkpoint);
    /// else a new trial, its parameters from `suggest(id, history)` (`None`: the search
    /// has no more); else wait for the running ones, or stop.
    pub fn claim(
        &mut self,
        worker: &str,
        grace: Duration,
        create: bool,
        suggest: &mut dyn FnMut(usize, &History) -> Result<Option<Params>>,
    ) -> Result<Claim> {
        let study = self.study;
        let grace_s = grace.as_secs_f64();
        self.retry(|c| {
            let mut tx = c.transaction()?;
            // Row locks on the trial taken; SKIP LOCKED: a trial another worker is
            // claiming right now is not waited for, the next one is taken instead.
            let row = tx.query_opt(
                "SELECT id, params, failures, checkpoint_iteration, checkpoint_file, metric
                   FROM trials
                  WHERE study_id = $1
                    AND (status = 'pending'
                         OR (status = 'running'
                             AND heartbeat_at < now() - make_interval(secs => $2)))
                  ORDER BY id
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED",
                &[&study, &grace_s],
            )?;
            if let Some(row) = row {
                let id: i32 = row.get(0);
                let params: Value = row.get(1);
                let failures: i32 = row.get(2);
                let ckpt_it: Option<i32> = row.get(3);
                let ckpt_file: Option<String> = row.get(4);
                let metric: Option<f64> = row.get(5);
                let claim: i32 = tx
                    .query_one(
                        "UPDATE trials
                            SET status = 'running', claim = claim + 1, starts = starts + 1,
                                worker = $3, heartbeat_at = now()
                          WHERE study_id = $1 AND id = $2
                      RETURNING claim",
                        &[&study, &id, &worker],
                    )?
                    .get(0);
                // Results after the checkpoint will be reported again.
                tx.execute(
                    "DELETE FROM results WHERE study_id = $1 AND trial_id = $2 AND iteration > $3",
                    &[&study, &id, &ckpt_it.unwrap_or(0)],
                )?;
                tx.commit()?;
                let params = params_of(&params).ok_or_else(|| {
                    self_corrupt(format!("trial {id}: params are not a JSON object"))
                })?;
                return Ok(Claim::Trial(Claimed {
                    id: id as usize,
                    claim,
                    params,
                    failures: failures.max(0) as usize,
                    checkpoint: match (ckpt_it, ckpt_file) {
                        (Some(it), Some(file)) => Some(CheckpointRef {
                            iteration: it.max(0) as usize,
                            file,
                        }),
                        _ => None,
                    },
                    metric,
                }));
            }
            if create {
                // One creator at a time: the count and the insert see the same trials,
                // so exactly `total_trials` are created.
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[&CREATE_LOCK, &study],
                )?;
                let row = tx.query_one(
                    "SELECT (SELECT count(*) FROM trials WHERE study_id = $1)::integer,
                            total_trials
                       FROM studies WHERE id = $1",
                    &[&study],
                )?;
                let (count, total): (i32, i32) = (row.get(0), row.get(1));
                if count < total {
                    let mut history = History::new();
                    for r in tx.query(
                        "SELECT id, params, metric, status FROM trials
                          WHERE study_id = $1 AND status IN ('completed', 'stopped', 'failed')
                          ORDER BY id",
                        &[&study],
                    )? {
                        let id: i32 = r.get(0);
                        let params: Value = r.get(1);
                        let metric: Option<f64> = r.get(2);
                        let status: String = r.get(3);
                        if let Some(p) = params_of(&params) {
                            history.push((id as usize, p, metric.filter(|_| status != "failed")));
                        }
                    }
                    if let Some(params) = suggest(count as usize, &history)? {
                        let json = serde_json::to_value(&params)
                            .map_err(|e| self_corrupt(format!("params: {e}")))?;
                        tx.execute(
                            "INSERT INTO trials (study_id, id, params, status, claim, worker,
                                                 starts, heartbeat_at)
                             VALUES ($1, $2, $3, 'running', 1, $4, 1, now())",
                            &[&study, &count, &json, &worker],
                        )?;
                        tx.commit()?;
                        return Ok(Claim::Trial(Claimed {
                            id: count as usize,
                            claim: 1,
                            params,
                            failures: 0,
                            checkpoint: None,
                            metric: None,
                        }));
                    }
                }
            }
            let unfinished: i64 = tx
                .query_one(
                    "SELECT count(*) FROM trials
                      WHERE study_id = $1 AND status IN ('pending', 'running')",
                    &[&study],
                )?
                .get(0);
            tx.commit()?;
            Ok(if unfinished > 0 {
                Claim::Wait
            } else {
                Claim::Done
            })
        })
    }

    /// Record result `row` of trial `id` under `claim`, with the trial's metric after
    /// it and the seconds it took; with a `loss`, the scheduler's decision (made once:
    /// a result decided before is answered with the stored decision). `None` when the
    /// claim is lost (the trial is another worker's now).
    #[allow(clippy::too_many_arguments)]
    pub fn record_result(
        &mut self,
        id: usize,
        claim: i32,
        row: &ResultRow,
        metric: Option<f64>,
        seconds: f64,
        loss: Option<f64>,
        worker: &str,
        replica: &mut Replica,
    ) -> Result<Option<Action>> {
        let study = self.study;
        let tid = id as i32;
        let it = row.iteration as i32;
        let metrics = serde_json::to_value(&row.metrics).unwrap_or(Value::Null);
        self.retry(|c| {
            let outcome = (|| -> Result<Option<Action>, Fail> {
                let mut tx = c.transaction()?;
                if !holds(&mut tx, study, tid, claim)? {
                    return Ok(None);
                }
                tx.execute(
                    "INSERT INTO results (study_id, trial_id, iteration, metrics)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (study_id, trial_id, iteration)
                     DO UPDATE SET metrics = EXCLUDED.metrics, reported_at = now()",
                    &[&study, &tid, &it, &metrics],
                )?;
                let action = match loss {
                    Some(loss) => decide(&mut tx, study, tid, it, loss, worker, replica)?,
                    None => Action::Continue,
                };
                tx.execute(
                    "UPDATE trials SET metric = $3, seconds = seconds + $4, heartbeat_at = now()
                      WHERE study_id = $1 AND id = $2",
                    &[&study, &tid, &metric, &seconds],
                )?;
                tx.commit()?;
                Ok(Some(action))
            })();
            if outcome.is_err() {
                // The replica may have heard results the database has not kept.
                replica.reset();
            }
            outcome
        })
    }

    /// Record that trial `id` (under `claim`) has a checkpoint after `iteration`
    /// iterations in `file`; false when the claim is lost.
    pub fn record_checkpoint(
        &mut self,
        id: usize,
        claim: i32,
        iteration: usize,
        file: &str,
    ) -> Result<bool> {
        let study = self.study;
        let (tid, it) = (id as i32, iteration as i32);
        self.retry(|c| {
            let n = c.execute(
                "UPDATE trials SET checkpoint_iteration = $4, checkpoint_file = $5
                  WHERE study_id = $1 AND id = $2 AND claim = $3 AND status = 'running'
                    AND (checkpoint_iteration IS NULL OR checkpoint_iteration <= $4)",
                &[&study, &tid, &claim, &it, &file],
            )?;
            if n == 1 {
                return Ok(true);
            }
            // A newer checkpoint is no loss of the claim.
            let row = c.query_opt(
                "SELECT claim, status FROM trials WHERE study_id = $1 AND id = $2",
                &[&study, &tid],
            )?;
            Ok(row
                .is_some_and(|r| r.get::<_, i32>(0) == claim && r.get::<_, String>(1) == "running"))
        })
    }

    /// Keep trial `id`'s claim alive (`heartbeat_at = now()`, the database's clock);
    /// false when the claim is lost.
    pub fn heartbeat(&mut self, id: usize, claim: i32) -> Result<bool> {
        let study = self.study;
        let tid = id as i32;
        self.retry(|c| {
            let n = c.execute(
                "UPDATE trials SET heartbeat_at = now()
                  WHERE study_id = $1 AND id = $2 AND claim = $3 AND status = 'running'",
                &[&study, &tid, &claim],
            )?;
            Ok(n == 1)
        })
    }

    /// End an attempt of trial `id` under `claim`: its status (pending again for a
    /// failure to retry), and the study's best; false when the claim is lost.
    pub fn finish(&mut self, id: usize, claim: i32, end: &Ending) -> Result<bool> {
        let study = self.study;
        let tid = id as i32;
        let status = end.status.name();
        let failed_attempt = i32::from(end.error.is_some());
        self.retry(|c| {
            let mut tx = c.transaction()?;
            if !holds(&mut tx, study, tid, claim)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE trials
                    SET status = $3, stop_reason = $4, error = coalesce($5, error),
                        failures = failures + $6, seconds = seconds + $7,
                        finished_at = CASE WHEN $3 IN ('completed', 'stopped', 'failed')
                                           THEN now() END,
                        heartbeat_at = now()
                  WHERE study_id = $1 AND id = $2",
                &[
                    &study,
                    &tid,
                    &status,
                    &end.stop_reason,
                    &end.error,
                    &failed_attempt,
                    &end.seconds,
                ],
            )?;
            if let (Some((metric, loss)), true) = (end.metric, end.status.is_finished()) {
                if end.status != TrialStatus::Failed {
                    // The study's row lock: one best at a time.
                    let best = tx.query_one(
                        "SELECT best_loss, best_trial FROM studies WHERE id = $1 FOR UPDATE",
                        &[&study],
                    )?;
                    let (best_loss, best_trial): (Option<f64>, Option<i32>) =
                        (best.get(0), best.get(1));
                    let better = match (best_loss, best_trial) {
                        (Some(b), Some(t)) => loss < b || (loss == b && tid < t),
                        _ => true,
                    };
                    if better {
                        tx.execute(
                            "UPDATE studies SET best_trial = $2, best_metric = $3, best_loss = $4
                              WHERE id = $1",
                            &[&study, &tid, &metric, &loss],
                        )?;
                    }
                }
            }
            tx.commit()?;
            Ok(true)
        })
    }

    /// Mark the study finished (the first process to see every trial finished).
    pub fn mark_finished(&mut self) -> Result<()> {
        let study = self.study;
        self.retry(|c| {
            c.execute(
                "UPDATE studies SET finished_at = now() WHERE id = $1 AND finished_at IS NULL",
                &[&study],
            )?;
            Ok(())
        })
    }

    /// Every trial of the study with its results, in id order.
    pub fn trials(&mut self) -> Result<Vec<TrialRecord>> {
        let study = self.study;
        let url = self.url.clone();
        self.retry(|c| {
            let mut history: BTreeMap<i32, Vec<ResultRow>> = BTreeMap::new();
            for r in c.query(
                "SELECT trial_id, iteration, metrics FROM results
                  WHERE study_id = $1 ORDER BY trial_id, iteration",
                &[&study],
            )? {
                let metrics: Value = r.get(2);
                let metrics: BTreeMap<String, f64> = serde_json::from_value(metrics)
                    .map_err(|e| corrupt_at(&url, format!("results: {e}")))?;
                history.entry(r.get(0)).or_default().push(ResultRow {
                    iteration: r.get::<_, i32>(1).max(0) as usize,
                    metrics,
                });
            }
            let mut out = Vec::new();
            for r in c.query(
                "SELECT id, params, status, starts, failures, error, stop_reason, metric,
                        seconds, checkpoint_iteration, checkpoint_file
                   FROM trials WHERE study_id = $1 ORDER BY id",
                &[&study],
            )? {
                let id: i32 = r.get(0);
                let params: Value = r.get(1);
                let params = params_of(&params)
                    .ok_or_else(|| corrupt_at(&url, format!("trial {id}: params")))?;
                let status: String = r.get(2);
                let status = status_of(&status)
                    .ok_or_else(|| corrupt_at(&url, format!("trial {id}: status {status}")))?;
                let mut rec = TrialRecord::new(id.max(0) as usize, params);
                rec.status = status;
                rec.starts = r.get::<_, i32>(3).max(0) as usize;
                rec.failures = r.get::<_, i32>(4).max(0) as usize;
                rec.error = r.get(5);
                rec.stop_reason = r.get(6);
                rec.metric = r.get(7);
                rec.seconds = r.get(8);
                rec.checkpoint = match (r.get::<_, Option<i32>>(9), r.get::<_, Option<String>>(10))
                {
                    (Some(it), Some(file)) => Some(CheckpointRef {
                        iteration: it.max(0) as usize,
                        file,
                    }),
                    _ => None,
                };
                rec.history = history.remove(&id).unwrap_or_default();
                out.push(rec);
            }
            Ok(out)
        })
    }
}

fn corrupt_at(url: &str, message: String) -> Fail {
    Fail::Other(Error::Database {
        url: url.to_string(),
        message,
    })
}

fn self_corrupt(message: String) -> Fail {
    corrupt_at("(study)", message)
}

fn params_of(v: &Value) -> Option<Params> {
    serde_json::from_value(v.clone()).ok()
}

fn status_of(s: &str) -> Option<TrialStatus> {
    Some(match s {
        "pending" => TrialStatus::Pending,
        "running" => TrialStatus::Running,
        "completed" => TrialStatus::Completed,
        "stopped" => TrialStatus::Stopped,
        "failed" => TrialStatus::Failed,
        _ => return None,
    })
}

/// Whether trial `tid` is running under `claim`; its row stays locked until the end of
/// the transaction (the heartbeat and a claimer wait for it).
fn holds(tx: &mut Transaction<'_>, study: i32, tid: i32, claim: i32) -> Result<bool, Fail> {
    let row = tx.query_opt(
        "SELECT claim, status FROM trials WHERE study_id = $1 AND id = $2 FOR UPDATE",
        &[&study, &tid],
    )?;
    Ok(row.is_some_and(|r| r.get::<_, i32>(0) == claim && r.get::<_, String>(1) == "running"))
}

/// The scheduler's decision on a result, made once under the study's decision lock:
/// the stored one if the result was decided before, else the replica's after it has
/// heard every earlier decision in order.
fn decide(
    tx: &mut Transaction<'_>,
    study: i32,
    tid: i32,
    it: i32,
    loss: f64,
    worker: &str,
    replica: &mut Replica,
) -> Result<Action, Fail> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&DECIDE_LOCK, &study],
    )?;
    if let Some(r) = tx.query_opt(
        "SELECT action FROM decisions WHERE study_id = $1 AND trial_id = $2 AND iteration = $3",
        &[&study, &tid, &it],
    )? {
        let action: String = r.get(0);
        return Ok(if action == "stop" {
            Action::Stop
        } else {
            Action::Continue
        });
    }
    for r in tx.query(
        "SELECT seq, trial_id, iteration, loss FROM decisions
          WHERE study_id = $1 AND seq > $2 ORDER BY seq",
        &[&study, &replica.applied],
    )? {
        let (seq, t, i, l): (i32, i32, i32, f64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        replica
            .scheduler
            .on_result(t.max(0) as usize, i.max(0) as usize, l);
        replica.applied = seq;
    }
    let action = replica
        .scheduler
        .on_result(tid as usize, it.max(0) as usize, loss);
    let name = match action {
        Action::Continue => "continue",
        Action::Stop => "stop",
        Action::Pause | Action::Exploit { .. } => {
            return Err(self_corrupt(
                "the scheduler paused or exploited a trial, which a shared study cannot do".into(),
            ))
        }
    };
    let seq = replica.applied + 1;
    tx.execute(
        "INSERT INTO decisions (study_id, seq, trial_id, iteration, loss, action, worker)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&study, &seq, &tid, &it, &loss, &name, &worker],
    )?;
    replica.applied = seq;
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_each_workers_own_settings_and_key_order() {
        let a = serde_json::json!({"name": "s", "tune": {"samples": 4, "out": "a", "max_concurrent": 1}, "space": {"x": 1, "y": 2}});
        let b = serde_json::json!({"space": {"y": 2, "x": 1}, "tune": {"out": "b", "samples": 4}, "name": "s", "tracking": {"uri": "u"}});
        assert_eq!(spec_hash(&a), spec_hash(&b));
        let c = serde_json::json!({"name": "s", "tune": {"samples": 5}, "space": {"x": 1, "y": 2}});
        assert_ne!(spec_hash(&a), spec_hash(&c));
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            shown("postgresql://bob:secret@db:5432/x"),
            "postgresql://bob:***@db:5432/x"
        );
        assert_eq!(shown("postgresql://bob@db/x"), "postgresql://bob@db/x");
    }

    #[test]
    fn a_bad_url_is_a_config_error() {
        let e = PgStore::connect("postgresql://a@b:notaport/x", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--storage"), "{e}");
    }
}
