//! A worker of a shared study: claim trials from the study's database and run them
//! until the study is complete, keeping each running trial's heartbeat fresh; then
//! wait for the trials other workers still run.
//!
//! Any number of processes, on any hosts, run this on one study (`forecast tune
//! --storage postgresql://...`). Each runs `max_concurrent` slots of its own; a trial is
//! claimed in a transaction (`FOR UPDATE SKIP LOCKED`), so none runs twice at once, and
//! created under the study's creation lock, so exactly the requested number is created.
//! A trial whose heartbeat is older than the grace period (its worker died or lost the
//! database) is claimed again and resumes from its last checkpoint.

use super::drive::{panic_message, Pools};
use super::{summarize, Control, Experiment, Outcome, TrialContext, TrialSink, MAX_T_REASON};
use crate::error::{Error, Result, TrialError};
use crate::pgstore::{spec_hash, Claim, Claimed, Ending, History, PgStore, Replica};
use crate::scheduler::{Action, SchedulerSpec};
use crate::space::{Params, SearchSpace};
use crate::store::{CheckpointRef, ResultRow, Store, TrialStatus};
use crate::summary::Summary;
use crate::TuneConfig;
use forecast_core::fsio::write_file;
use rayon::ThreadPool;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a process takes part in a study shared through PostgreSQL.
#[derive(Debug, Clone)]
pub struct SharedStudy {
    /// The database: `postgresql://USER@HOST:PORT/DB`.
    pub url: String,
    /// How often a running trial's heartbeat is written.
    pub heartbeat_interval: Duration,
    /// A running trial whose heartbeat is older than this is taken over by another
    /// worker (from its last checkpoint).
    pub grace: Duration,
    /// How long a worker retries a database it cannot reach before it stops with an
    /// error.
    pub unreachable_limit: Duration,
    /// Where checkpoints are written: a directory every worker of the study sees (a
    /// shared file system when the workers are on several hosts).
    pub checkpoint_dir: PathBuf,
    /// This worker's name in the trials table (default: host and process id).
    pub worker: String,
}

impl SharedStudy {
    /// Settings with the defaults: heartbeat every 10 s, grace 60 s, give up after the
    /// database has been unreachable for 60 s.
    pub fn new(url: &str, checkpoint_dir: PathBuf) -> SharedStudy {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        SharedStudy {
            url: url.to_string(),
            heartbeat_interval: Duration::from_secs(10),
            grace: Duration::from_secs(60),
            unreachable_limit: Duration::from_secs(60),
            checkpoint_dir,
            worker: format!("{host}:{}", std::process::id()),
        }
    }
}

/// The trials this process runs: trial id → (claim, lost flag), for the heartbeat.
type Running = Mutex<HashMap<usize, (i32, Arc<AtomicBool>)>>;

/// What the slots of one process share.
struct Local<'a> {
    study: &'a SharedStudy,
    config: &'a TuneConfig,
    space: &'a SearchSpace,
    replica: Mutex<Replica>,
    running: Running,
    /// Set when this process must stop (its database is gone, or a slot failed).
    fatal: AtomicBool,
    error: Mutex<Option<Error>>,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Local<'_> {
    fn fail(&self, e: Error) {
        lock(&self.error).get_or_insert(e);
        self.fatal.store(true, Ordering::SeqCst);
    }

    fn over_budget(&self) -> bool {
        self.config
            .time_budget_s
            .is_some_and(|b| self.started.elapsed().as_secs_f64() >= b)
    }
}

impl Experiment {
    /// Join the study named as this experiment in the database of `shared` (creating
    /// it, and the schema, if needed) and run its trials with this process's
    /// `max_concurrent` slots until every trial of the study is finished. Returns the
    /// whole study's summary and its trials (an in-memory store). A study of the same
    /// name started with another spec is refused ([`Error::StudyMismatch`]).
    ///
    /// Schedulers: FIFO, ASHA, asynchronous HyperBand and median stopping (their
    /// decisions are made once, in the database). Synchronous HyperBand and PBT pause
    /// and exchange trials between slots, which a shared study does not do yet.
    pub fn run_shared<F>(self, shared: &SharedStudy, objective: F) -> Result<(Summary, Store)>
    where
        F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
    {
        let config = self.config.clone();
        config.check()?;
        if matches!(
            config.scheduler,
            SchedulerSpec::Hyperband { .. } | SchedulerSpec::Pbt { .. }
        ) {
            return Err(Error::config(
                "tune.scheduler",
                "synchronous hyperband and pbt do not run in a shared study (--storage) yet: use asha, async-hyperband, median-stopping or fifo",
            ));
        }
        if shared.heartbeat_interval.is_zero() || shared.grace <= shared.heartbeat_interval {
            return Err(Error::config(
                "--heartbeat-grace",
                format!(
                    "the grace period ({:.1} s) must be longer than the heartbeat interval ({:.1} s)",
                    shared.grace.as_secs_f64(),
                    shared.heartbeat_interval.as_secs_f64()
                ),
            ));
        }
        let started = Instant::now();
        let searcher = config
            .search
            .build(&self.space, config.samples, config.seed)?;
        let mut total = searcher.total().unwrap_or(config.samples);
        if let Some(m) = config.max_trials {
            total = total.min(m);
        }
        let space = self.space.clone();
        let (spec, seed) = (config.scheduler.clone(), config.seed);
        let replica = Replica::new(Box::new(move || spec.build(&space, seed)))?;

        let mut db = PgStore::connect(&shared.url, shared.unreachable_limit)?;
        db.migrate()?;
        db.join(&self.name, &self.spec, &spec_hash(&self.spec), total)?;
        std::fs::create_dir_all(&shared.checkpoint_dir)
            .map_err(|e| Error::io(&shared.checkpoint_dir, e))?;

        let local = Local {
            study: shared,
            config: &config,
            space: &self.space,
            replica: Mutex::new(replica),
            running: Mutex::new(HashMap::new()),
            fatal: AtomicBool::new(false),
            error: Mutex::new(None),
            started,
        };
        let pools = Pools::new(&config)?;
        let beat_db = db.reopen()?;
        let mut slot_dbs = Vec::new();
        for _ in 0..config.max_concurrent {
            slot_dbs.push(db.reopen()?);
        }
        let (stop_beat, beat_stopped) = mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let local = &local;
            let objective = &objective;
            scope.spawn(move || heartbeat(local, beat_db, beat_stopped));
            let slots: Vec<_> = pools
                .work
                .iter()
                .zip(slot_dbs)
                .map(|(pool, sdb)| {
                    let threads = pools.threads;
                    scope.spawn(move || {
                        if let Err(e) = slot(local, sdb, pool, threads, objective) {
                            local.fail(e);
                        }
                    })
                })
                .collect();
            for s in slots {
                if s.join().is_err() {
                    local.fail(Error::config("tune", "a trial slot panicked"));
                }
            }
            let _ = stop_beat.send(());
        });
        if let Some(e) = lock(&local.error).take() {
            return Err(e);
        }
        let trials = db.trials()?;
        if trials.iter().all(|t| t.status.is_finished()) {
            db.mark_finished()?;
        }
        let mut store = Store::in_memory(&self.name, self.spec.clone());
        for t in trials {
            store.put(t)?;
        }
        let summary = summarize(&store, &config, started.elapsed().as_secs_f64());
        Ok((summary, store))
    }
}

/// Keep the heartbeats of this process's running trials fresh until told to stop; a
/// trial whose claim is gone is marked lost (its objective is told to stop).
fn heartbeat(local: &Local<'_>, mut db: PgStore, stop: mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(local.study.heartbeat_interval) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let trials: Vec<(usize, i32, Arc<AtomicBool>)> = lock(&local.running)
            .iter()
            .map(|(id, (claim, lost))| (*id, *claim, lost.clone()))
            .collect();
        for (id, claim, lost) in trials {
            match db.heartbeat(id, claim) {
                Ok(true) => {}
                Ok(false) => lost.store(true, Ordering::SeqCst),
                Err(e) => {
                    local.fail(e);
                    return;
                }
            }
        }
    }
}

/// One slot: claim a trial, run it, repeat until the study is complete.
fn slot<F>(
    local: &Local<'_>,
    db: PgStore,
    pool: &ThreadPool,
    threads: usize,
    objective: &F,
) -> Result<()>
where
    F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
{
    let config = local.config;
    let study = local.study;
    let db = Mutex::new(db);
    // Waiting for other workers' trials: poll often enough to notice a stale one soon
    // after its grace period.
    let poll = (study.grace / 10).clamp(Duration::from_millis(100), Duration::from_secs(1));
    loop {
        if local.fatal.load(Ordering::SeqCst) {
            return Ok(());
        }
        let create = !local.over_budget();
        let claim = {
            let mut suggest = |id: usize, history: &History| -> Result<Option<Params>> {
                let mut searcher = config
                    .search
                    .build(local.space, config.samples, config.seed)?;
                for (tid, params, metric) in history {
                    searcher.observe(*tid, params, metric.map(|m| config.loss(m)));
                }
                Ok(searcher.suggest(id))
            };
            lock(&db).claim(&study.worker, study.grace, create, &mut suggest)?
        };
        match claim {
            Claim::Done => return Ok(()),
            Claim::Wait if !create => return Ok(()),
            Claim::Wait => std::thread::sleep(poll),
            Claim::Trial(t) => run_claimed(local, &db, t, pool, threads, objective)?,
        }
    }
}

/// What the objective's reports go through: the study's database.
struct Remote<'a, 'b> {
    local: &'a Local<'b>,
    db: &'a Mutex<PgStore>,
    id: usize,
    claim: i32,
    lost: Arc<AtomicBool>,
    state: Mutex<RemoteState>,
}

struct RemoteState {
    metric: Option<f64>,
    stop_reason: Option<String>,
    error: Option<Error>,
}

impl Remote<'_, '_> {
    fn gone(&self) -> bool {
        self.lost.load(Ordering::SeqCst) || self.local.fatal.load(Ordering::SeqCst)
    }

    fn write_checkpoint(&self, iteration: usize, bytes: &[u8]) -> Result<bool> {
        // The claim in the name: a worker that lost the trial never overwrites the
        // checkpoint of the one that took it over.
        let file = format!("trial_{}.claim_{}.bin", self.id, self.claim);
        write_file(&self.local.study.checkpoint_dir.join(&file), bytes)?;
        lock(self.db).record_checkpoint(self.id, self.claim, iteration, &file)
    }

    fn failed(&self, e: Error) -> (Control, Outcome) {
        lock(&self.state).error.get_or_insert(e);
        self.local.fatal.store(true, Ordering::SeqCst);
        (Control::Stop, Outcome::Abandoned)
    }
}

impl TrialSink for Remote<'_, '_> {
    fn save_checkpoint(&self, id: usize, iteration: usize, checkpoint: &[u8]) {
        debug_assert_eq!(id, self.id);
        if self.gone() {
            return;
        }
        match self.write_checkpoint(iteration, checkpoint) {
            Ok(true) => {}
            Ok(false) => self.lost.store(true, Ordering::SeqCst),
            Err(e) => {
                self.failed(e);
            }
        }
    }

    fn report(
        &self,
        id: usize,
        row: ResultRow,
        checkpoint: Option<&[u8]>,
        seconds: f64,
    ) -> (Control, Outcome) {
        debug_assert_eq!(id, self.id);
        if self.gone() {
            return (Control::Stop, Outcome::Abandoned);
        }
        let config = self.local.config;
        if let Some(bytes) = checkpoint {
            match self.write_checkpoint(row.iteration, bytes) {
                Ok(true) => {}
                Ok(false) => {
                    self.lost.store(true, Ordering::SeqCst);
                    return (Control::Stop, Outcome::Abandoned);
                }
                Err(e) => return self.failed(e),
            }
        }
        let value = row
            .metrics
            .get(&config.metric)
            .copied()
            .filter(|v| !v.is_nan());
        let metric = {
            let mut st = lock(&self.state);
            if let Some(v) = value {
                st.metric = config.scoped(st.metric, v);
            }
            st.metric
        };
        let recorded = {
            let mut replica = lock(&self.local.replica);
            lock(self.db).record_result(
                self.id,
                self.claim,
                &row,
                metric,
                seconds,
                value.map(|v| config.loss(v)),
                &self.local.study.worker,
                &mut replica,
            )
        };
        match recorded {
            Err(e) => self.failed(e),
            Ok(None) => {
                self.lost.store(true, Ordering::SeqCst);
                (Control::Stop, Outcome::Abandoned)
            }
            Ok(Some(_)) if self.local.over_budget() => {
                lock(&self.state).stop_reason = Some("time budget".into());
                (Control::Stop, Outcome::Stopped)
            }
            Ok(Some(Action::Stop)) => {
                lock(&self.state).stop_reason = Some("scheduler".into());
                (Control::Stop, Outcome::Stopped)
            }
            Ok(Some(_)) => (Control::Continue, Outcome::Running),
        }
    }
}

/// Run one claimed trial (from its checkpoint, when it has one) and record its end.
fn run_claimed<F>(
    local: &Local<'_>,
    db: &Mutex<PgStore>,
    t: Claimed,
    pool: &ThreadPool,
    threads: usize,
    objective: &F,
) -> Result<()>
where
    F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
{
    let config = local.config;
    let lost = Arc::new(AtomicBool::new(false));
    lock(&local.running).insert(t.id, (t.claim, lost.clone()));
    // A checkpoint that cannot be read (the shared directory is not shared after all)
    // costs the epochs before it, not the trial.
    let (checkpoint, iteration) = match &t.checkpoint {
        Some(CheckpointRef { iteration, file }) => {
            match std::fs::read(local.study.checkpoint_dir.join(file)) {
                Ok(bytes) => (Some(bytes), *iteration),
                Err(_) => (None, 0),
            }
        }
        None => (None, 0),
    };
    let remote = Remote {
        local,
        db,
        id: t.id,
        claim: t.claim,
        lost,
        state: Mutex::new(RemoteState {
            metric: t.metric,
            stop_reason: None,
            error: None,
        }),
    };
    let mut ctx = TrialContext {
        id: t.id,
        params: t.params.clone(),
        checkpoint,
        iteration,
        threads,
        sink: &remote,
        started: Instant::now(),
        outcome: Outcome::Running,
    };
    let result = pool.install(|| catch_unwind(AssertUnwindSafe(|| objective(&mut ctx))));
    let (outcome, iterations) = (ctx.outcome, ctx.iteration);
    let seconds_since_report = ctx.started.elapsed().as_secs_f64();
    drop(ctx);
    lock(&local.running).remove(&t.id);
    let state = remote.state.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = state.error {
        return Err(e);
    }
    if outcome == Outcome::Abandoned || remote.lost.load(Ordering::SeqCst) {
        return Ok(());
    }
    let error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(p) => Some(format!("panicked: {}", panic_message(p.as_ref()))),
    };
    let loss_of = |m: Option<f64>| m.map(|m| (m, config.loss(m)));
    let end = match error {
        None => {
            let mut status = if outcome == Outcome::Stopped {
                TrialStatus::Stopped
            } else {
                TrialStatus::Completed
            };
            let mut stop_reason = state.stop_reason;
            // A trial the scheduler stopped at its cap ran to its end.
            if status == TrialStatus::Stopped
                && stop_reason.as_deref() != Some("time budget")
                && lock(&local.replica)
                    .max_iterations()
                    .is_some_and(|m| iterations >= m)
            {
                status = TrialStatus::Completed;
                stop_reason = Some(MAX_T_REASON.into());
            }
            Ending {
                status,
                stop_reason,
                error: None,
                seconds: seconds_since_report,
                metric: loss_of(state.metric),
            }
        }
        Some(msg) => {
            let retry = t.failures < config.max_failures && !local.over_budget();
            Ending {
                status: if retry {
                    TrialStatus::Pending
                } else {
                    TrialStatus::Failed
                },
                stop_reason: None,
                error: Some(msg),
                seconds: seconds_since_report,
                metric: None,
            }
        }
    };
    lock(db).finish(t.id, t.claim, &end)?;
    Ok(())
}
