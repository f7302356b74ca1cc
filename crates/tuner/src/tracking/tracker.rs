//! Recording runs (always, to the spool) and shipping them in the background.

use super::client::{MlflowClient, RetryPolicy};
use super::config::{redact_uri, Destination};
use super::error::{Result, TrackingError};
use super::ship::{sync_run, MODEL_ARTIFACT_PATH};
use super::spool::{now_ms, Metric, RunId, RunRecord, RunStatus, Spool, SPOOL_FORMAT};
#[cfg(feature = "forecast")]
use forecast_core::reporter::{Decision, EpochReport, Reporter};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Receives warnings about shipping (server unreachable, rejected batch, no registry).
pub type Notifier = Arc<dyn Fn(&str) + Send + Sync>;

/// How the background shipper behaves.
#[derive(Debug, Clone, Copy)]
pub struct ShipperOptions {
    /// Ship at least this often while runs are active.
    pub interval: Duration,
    /// Ship as soon as this many metric points are waiting.
    pub batch_points: usize,
    /// Retries of a single request (short: the shipper itself retries later).
    pub request_retry: RetryPolicy,
    /// First wait after a failed pass; doubles (with jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between passes while the server is failing.
    pub max_backoff: Duration,
}

impl Default for ShipperOptions {
    fn default() -> Self {
        ShipperOptions {
            interval: Duration::from_secs(2),
            batch_points: 1000,
            request_retry: RetryPolicy {
                attempts: 2,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(1),
            },
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Default)]
struct ShipState {
    /// Runs with something (possibly) not shipped yet.
    pending: BTreeSet<RunId>,
    /// Points logged since the last pass.
    points_waiting: usize,
    wake: bool,
    /// Ship now even while backing off (a flush).
    force: bool,
    shutdown: bool,
    /// Passes completed.
    passes: u64,
    in_pass: bool,
    /// The server failed transiently at the last pass.
    server_down: bool,
}

struct Shipper {
    state: Mutex<ShipState>,
    cv: Condvar,
    options: ShipperOptions,
}

impl Shipper {
    fn lock(&self) -> MutexGuard<'_, ShipState> {
        // A panic while holding the lock cannot leave ShipState inconsistent in a way
        // that matters more than losing tracking; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn touch(&self, id: &RunId, points: usize, wake: bool) {
        let mut s = self.lock();
        s.pending.insert(id.clone());
        s.points_waiting += points;
        if wake || s.points_waiting >= self.options.batch_points {
            s.wake = true;
            self.cv.notify_all();
        }
    }
}

struct Inner {
    spool: Spool,
    destination: Option<Destination>,
    experiment: String,
    shipper: Option<Arc<Shipper>>,
    notifier: Notifier,
}

/// Records runs in the local spool and, when a tracking server is configured, ships them
/// to it from a background thread. Cheap to clone; safe to share between threads (one
/// tracker can record a tuning experiment's parent run and its trials' child runs).
///
/// ```
/// use tuner::tracking::{Tracker, RunStatus};
/// let dir = tempfile::tempdir().unwrap();
/// let tracker = Tracker::new(dir.path(), None, "demo").unwrap(); // local only
/// let mut run = tracker.start_run("arima", None).unwrap();
/// run.log_params([("order", "(1,1,1)")]).unwrap();
/// run.log_metrics(&[("mae".to_string(), 1.5)], 1).unwrap();
/// let id = run.finish(RunStatus::Finished).unwrap();
/// assert_eq!(tracker.spool().load_record(&id).unwrap().status, RunStatus::Finished);
/// ```
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("spool", &self.inner.spool.root())
            .field(
                "destination",
                &self.inner.destination.as_ref().map(|d| &d.uri),
            )
            .field("experiment", &self.inner.experiment)
            .finish()
    }
}

impl Tracker {
    /// A tracker writing runs under `runs_dir` and shipping them to `destination` (if any)
    /// into experiment `experiment`. Warnings go to stderr.
    pub fn new(
        runs_dir: &Path,
        destination: Option<Destination>,
        experiment: &str,
    ) -> Result<Tracker> {
        Self::with_options(
            runs_dir,
            destination,
            experiment,
            ShipperOptions::default(),
            Arc::new(|msg: &str| eprintln!("warning: tracking: {msg}")),
        )
    }

    /// As [`Tracker::new`] with explicit shipper options and a receiver for warnings.
    pub fn with_options(
        runs_dir: &Path,
        destination: Option<Destination>,
        experiment: &str,
        options: ShipperOptions,
        notifier: Notifier,
    ) -> Result<Tracker> {
        let spool = Spool::open(runs_dir)?;
        let shipper = match &destination {
            Some(dest) => {
                let client = MlflowClient::new(dest.clone(), options.request_retry)?;
                let shipper = Arc::new(Shipper {
                    state: Mutex::new(ShipState::default()),
                    cv: Condvar::new(),
                    options,
                });
                let (s, sp, n) = (shipper.clone(), spool.clone(), notifier.clone());
                std::thread::Builder::new()
                    .name("mlflow-shipper".into())
                    .spawn(move || ship_loop(&s, &sp, &client, &n))
                    .map_err(|e| TrackingError::io(runs_dir, e))?;
                Some(shipper)
            }
            None => None,
        };
        Ok(Tracker {
            inner: Arc::new(Inner {
                spool,
                destination,
                experiment: experiment.to_string(),
                shipper,
                notifier,
            }),
        })
    }

    /// The spool this tracker writes.
    pub fn spool(&self) -> &Spool {
        &self.inner.spool
    }

    /// The tracking server, if any.
    pub fn destination(&self) -> Option<&Destination> {
        self.inner.destination.as_ref()
    }

    /// Starts a run named `name`; with `parent`, a child run of it (a trial of a tuning
    /// experiment). The run is on disk when this returns.
    pub fn start_run(&self, name: &str, parent: Option<&RunId>) -> Result<ActiveRun> {
        self.start_run_with(name, parent, Vec::new(), Vec::new())
    }

    /// As [`Tracker::start_run`], with the run's first params and tags written with it
    /// (one `run.json` write instead of one per call; a tuning trial starts this way).
    pub fn start_run_with(
        &self,
        name: &str,
        parent: Option<&RunId>,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<ActiveRun> {
        for (k, _) in &params {
            check_key("param", k)?;
        }
        for (k, _) in &tags {
            check_key("tag", k)?;
        }
        if let Some(p) = parent {
            // Fails early, naming the run, rather than at shipping time.
            self.inner.spool.load_record(p)?;
        }
        let record = RunRecord {
            format: SPOOL_FORMAT,
            id: RunId::generate(),
            name: name.to_string(),
            experiment: self.inner.experiment.clone(),
            parent: parent.cloned(),
            tracking_uri: self.inner.destination.as_ref().map(|d| redact_uri(&d.uri)),
            status: RunStatus::Running,
            start_time: now_ms(),
            end_time: None,
            params: params.into_iter().collect(),
            tags: tags.into_iter().collect(),
            artifacts: Vec::new(),
            register_model: None,
            revision: 0,
        };
        self.inner.spool.create(&record)?;
        self.active(record)
    }

    /// Reopens run `id` of the spool (a tuning experiment or a trial continued after a
    /// crash or a `--resume`): its status goes back to `RUNNING`, its end time is cleared,
    /// and what it had recorded stays. Params already logged keep their values.
    pub fn resume_run(&self, id: &RunId) -> Result<ActiveRun> {
        let mut record = self.inner.spool.load_record(id)?;
        record.status = RunStatus::Running;
        record.end_time = None;
        self.inner.spool.save_record(&record)?;
        self.active(record)
    }

    /// The handle of `record`, a running run saved in the spool, with its metrics file
    /// open for appending; the shipper is woken to ship it.
    fn active(&self, record: RunRecord) -> Result<ActiveRun> {
        let metrics = self.inner.spool.metrics_writer(&record.id)?;
        self.touch(&record.id, 0, true);
        Ok(ActiveRun {
            tracker: self.clone(),
            record,
            metrics,
            ended: false,
        })
    }

    /// Passes a warning to this tracker's receiver of warnings (stderr by default).
    pub fn notify(&self, message: &str) {
        (self.inner.notifier)(message);
    }

    /// The experiment new runs are recorded in.
    pub fn experiment(&self) -> &str {
        &self.inner.experiment
    }

    /// Asks the shipper to ship now and waits until it has tried everything recorded so
    /// far, or `timeout` passed. Returns true when no run is left unshipped. Without a
    /// tracking server, returns true at once.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(shipper) = &self.inner.shipper else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        let mut s = shipper.lock();
        // A pass already running may have read the spool before our last writes.
        let target = s.passes + if s.in_pass { 2 } else { 1 };
        s.wake = true;
        s.force = true;
        shipper.cv.notify_all();
        while s.passes < target {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            s = shipper
                .cv
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        s.pending.is_empty()
    }

    /// Runs recorded by this tracker that are not yet fully shipped.
    pub fn unshipped(&self) -> Vec<RunId> {
        match &self.inner.shipper {
            Some(s) => s.lock().pending.iter().cloned().collect(),
            None => Vec::new(),
        }
    }

    fn touch(&self, id: &RunId, points: usize, wake: bool) {
        if let Some(s) = &self.inner.shipper {
            s.touch(id, points, wake);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(s) = &self.shipper {
            let mut st = s.lock();
            st.shutdown = true;
            s.cv.notify_all();
        }
    }
}

fn ship_loop(shipper: &Shipper, spool: &Spool, client: &MlflowClient, notify: &Notifier) {
    let opts = shipper.options;
    let mut backoff = opts.initial_backoff;
    let mut retry_at: Option<Instant> = None;
    let mut warned_down = false;
    let mut reported: BTreeSet<RunId> = BTreeSet::new();
    loop {
        let runs: Vec<RunId> = {
            let mut s = shipper.lock();
            loop {
                if s.shutdown {
                    return;
                }
                let due = match retry_at {
                    Some(t) => Instant::now() >= t,
                    None => true,
                };
                if s.force || (s.wake && due) {
                    break;
                }
                let wait = match retry_at {
                    Some(t) => t
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                    None => opts.interval,
                };
                let (g, timeout) = shipper
                    .cv
                    .wait_timeout(s, wait)
                    .unwrap_or_else(|p| p.into_inner());
                s = g;
                if timeout.timed_out() && !s.pending.is_empty() {
                    let due = retry_at.is_none_or(|t| Instant::now() >= t);
                    if due {
                        break;
                    }
                }
            }
            s.wake = false;
            s.force = false;
            s.points_waiting = 0;
            s.in_pass = true;
            s.pending.iter().cloned().collect()
        };

        let mut done = Vec::new();
        let mut transient = None;
        for id in &runs {
            match sync_run(spool, client, id) {
                Ok(report) => {
                    for w in &report.warnings {
                        notify(&format!("run {id}: {w}"));
                    }
                    if report.complete {
                        done.push(id.clone());
                    }
                }
                Err(e) if e.is_transient() => {
                    transient = Some(e);
                    break;
                }
                Err(e) => {
                    if reported.insert(id.clone()) {
                        notify(&format!(
                            "run {id} not shipped to {}: {e}; it stays in the spool (`forecast runs sync` retries)",
                            client.uri()
                        ));
                    }
                    done.push(id.clone());
                }
            }
        }

        let mut s = shipper.lock();
        for id in &done {
            s.pending.remove(id);
        }
        match transient {
            Some(e) => {
                if !warned_down {
                    notify(&format!(
                        "{e}; runs stay in the local spool and ship when the server answers (or with `forecast runs sync`)"
                    ));
                    warned_down = true;
                }
                s.server_down = true;
                retry_at = Some(
                    Instant::now()
                        + RetryPolicy {
                            attempts: 1,
                            initial_backoff: backoff,
                            max_backoff: opts.max_backoff,
                        }
                        .delay(0),
                );
                backoff = (backoff * 2).min(opts.max_backoff);
            }
            None => {
                s.server_down = false;
                warned_down = false;
                retry_at = None;
                backoff = opts.initial_backoff;
            }
        }
        s.in_pass = false;
        s.passes += 1;
        shipper.cv.notify_all();
    }
}

/// A run being recorded. Every call writes the spool first; shipping happens elsewhere.
/// Dropping an unfinished run records it as `FAILED`.
pub struct ActiveRun {
    tracker: Tracker,
    record: RunRecord,
    metrics: File,
    ended: bool,
}

impl std::fmt::Debug for ActiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveRun")
            .field("id", &self.record.id)
            .finish()
    }
}

/// MLflow's rule for metric, param and tag keys.
pub fn check_key(kind: &str, key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 250
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-. :/".contains(c))
        && !key.split('/').any(|s| s == "..");
    if ok {
        Ok(())
    } else {
        Err(TrackingError::Config(format!(
            "{kind} key `{key}`: keys are 1-250 characters of letters, digits, `_ - . : /` and space"
        )))
    }
}

impl ActiveRun {
    /// The run's local id.
    pub fn id(&self) -> &RunId {
        &self.record.id
    }

    /// The run as recorded so far.
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    fn save(&mut self, wake: bool) -> Result<()> {
        self.tracker.inner.spool.save_record(&self.record)?;
        self.tracker.touch(&self.record.id, 0, wake);
        Ok(())
    }

    /// Logs parameters. MLflow params cannot change once logged: a different value for a
    /// key already logged is an error naming it.
    pub fn log_params<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        self.update("param", params, |record, k, v| match record.params.get(k) {
            Some(old) if old == v => Ok(false),
            Some(old) => Err(TrackingError::Config(format!(
                "param `{k}` already logged as `{old}`; MLflow params cannot change (new value `{v}`)"
            ))),
            None => {
                record.params.insert(k.to_string(), v.to_string());
                Ok(true)
            }
        })
    }

    /// Sets tags (a later value overwrites).
    pub fn set_tags<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        self.update("tag", tags, |record, k, v| {
            if record.tags.get(k).map(String::as_str) == Some(v) {
                return Ok(false);
            }
            record.tags.insert(k.to_string(), v.to_string());
            Ok(true)
        })
    }

    /// Applies `apply` to the record for each pair (its key checked as a `what` key first;
    /// `apply` says whether it changed the record), then saves the record once, with a new
    /// revision, if anything changed.
    fn update<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        what: &str,
        pairs: impl IntoIterator<Item = (K, V)>,
        mut apply: impl FnMut(&mut RunRecord, &str, &str) -> Result<bool>,
    ) -> Result<()> {
        let mut changed = false;
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            check_key(what, k)?;
            changed |= apply(&mut self.record, k, v)?;
        }
        if changed {
            self.record.revision += 1;
            self.save(false)?;
        }
        Ok(())
    }

    /// Logs metric values at `step` (e.g. the epoch), all with the current time.
    pub fn log_metrics(&mut self, metrics: &[(String, f64)], step: i64) -> Result<()> {
        let timestamp = now_ms();
        let mut points = Vec::with_capacity(metrics.len());
        for (k, v) in metrics {
            check_key("metric", k)?;
            points.push(Metric {
                key: k.clone(),
                value: *v,
                timestamp,
                step,
            });
        }
        self.log_points(&points)
    }

    /// Logs metric points as given (key, value, timestamp, step).
    pub fn log_points(&mut self, points: &[Metric]) -> Result<()> {
        for p in points {
            check_key("metric", &p.key)?;
        }
        let spool = &self.tracker.inner.spool;
        spool.append_metrics(&mut self.metrics, &self.record.id, points)?;
        self.tracker.touch(&self.record.id, points.len(), false);
        Ok(())
    }

    /// Copies a file or directory into the run's artifacts under `artifact_path`
    /// (`""` for the root).
    pub fn log_artifacts(&mut self, src: &Path, artifact_path: &str) -> Result<()> {
        let added = self
            .tracker
            .inner
            .spool
            .copy_artifacts(&self.record.id, src, artifact_path)?;
        for a in added {
            self.record.artifacts.retain(|old| old.path != a.path);
            self.record.artifacts.push(a);
        }
        self.save(false)
    }

    /// Logs a model directory (with `model.json` and `MLmodel`) as the run's `model`
    /// artifact, and optionally asks for it to be registered as `register_as`.
    pub fn log_model(&mut self, model_dir: &Path, register_as: Option<&str>) -> Result<()> {
        self.log_artifacts(model_dir, MODEL_ARTIFACT_PATH)?;
        if let Some(name) = register_as {
            if name.trim().is_empty() {
                return Err(TrackingError::Config(
                    "registered model name is empty".into(),
                ));
            }
            self.record.register_model = Some(name.to_string());
            self.save(false)?;
        }
        Ok(())
    }

    /// Ends the run with `status` and asks the shipper to ship it. Returns its id.
    pub fn finish(mut self, status: RunStatus) -> Result<RunId> {
        self.end(status)?;
        Ok(self.record.id.clone())
    }

    /// Sets `tags` and ends the run with `status` in one `run.json` write. Returns its id.
    pub fn finish_with_tags(
        mut self,
        tags: Vec<(String, String)>,
        status: RunStatus,
    ) -> Result<RunId> {
        for (k, _) in &tags {
            check_key("tag", k)?;
        }
        let mut changed = false;
        for (k, v) in tags {
            if self.record.tags.get(&k) != Some(&v) {
                self.record.tags.insert(k, v);
                changed = true;
            }
        }
        if changed {
            self.record.revision += 1;
        }
        self.finish(status)
    }

    fn end(&mut self, status: RunStatus) -> Result<()> {
        self.ended = true;
        self.record.status = status;
        self.record.end_time = Some(now_ms());
        if self.record.parent.is_none() {
            // The child runs (trials) were written without fsync: durable from here.
            self.tracker.inner.spool.sync()?;
        }
        self.save(true)
    }
}

impl Drop for ActiveRun {
    fn drop(&mut self) {
        if !self.ended {
            if let Err(e) = self.end(RunStatus::Failed) {
                (self.tracker.inner.notifier)(&format!("run {}: {e}", self.record.id));
            }
        }
    }
}

/// A [`Reporter`] that logs every epoch's metrics (step = epoch) to a run, then passes the
/// report on. A tracking failure is a warning: it never stops training.
#[cfg_attr(not(feature = "forecast"), allow(dead_code))]
pub struct TrackingReporter<'a, R> {
    run: &'a mut ActiveRun,
    inner: R,
    warned: bool,
}

#[cfg(feature = "forecast")]
impl<'a, R: Reporter> TrackingReporter<'a, R> {
    /// Wraps `inner`, logging to `run`.
    pub fn new(run: &'a mut ActiveRun, inner: R) -> Self {
        TrackingReporter {
            run,
            inner,
            warned: false,
        }
    }

    /// The wrapped reporter.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

#[cfg(feature = "forecast")]
impl<R: Reporter> Reporter for TrackingReporter<'_, R> {
    fn report(&mut self, report: &EpochReport) -> Decision {
        let step = i64::try_from(report.epoch).unwrap_or(i64::MAX);
        if let Err(e) = self.run.log_metrics(&report.metrics(), step) {
            if !self.warned {
                self.warned = true;
                (self.run.tracker.inner.notifier)(&format!("run {}: {e}", self.run.id()));
            }
        }
        self.inner.report(report)
    }
}
