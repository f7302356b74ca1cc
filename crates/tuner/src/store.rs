//! The experiment store: everything needed to resume an experiment after a crash.
//!
//! On disk, an experiment directory holds
//!
//! - `state.json`: a snapshot of the experiment (settings and every trial record),
//!   written to a temporary file and renamed over the old one;
//! - `journal.jsonl`: one line per trial event since the snapshot (the full trial record
//!   after the event), appended with a single write. Opening the store replays it onto
//!   the snapshot; a torn last line (a kill during the write) is ignored. The journal
//!   is folded into a new snapshot once it is as long as the trial table, so each event
//!   costs a constant amount of I/O however many trials the experiment has;
//! - `checkpoints/trial_<id>.bin`: each trial's latest checkpoint (atomic writes);
//! - `trials.csv`: one row per trial, rewritten with each snapshot.

use crate::error::{Error, Result};
use crate::space::Params;
use forecast_core::fsio::write_file;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a trial stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Created, never started.
    Pending,
    /// Started and not finished (after a crash: to be restarted from its checkpoint).
    Running,
    /// Paused by the scheduler (synchronous HyperBand) until its rung is complete;
    /// resumed from its checkpoint.
    Paused,
    /// Ran to its end.
    Completed,
    /// Stopped early by the scheduler or the time budget.
    Stopped,
    /// Failed more than `max_failures` times.
    Failed,
}

impl TrialStatus {
    /// Whether the trial will not run again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialStatus::Completed | TrialStatus::Stopped | TrialStatus::Failed
        )
    }

    /// The name used in `trials.csv` and `state.json`.
    pub fn name(self) -> &'static str {
        match self {
            TrialStatus::Pending => "pending",
            TrialStatus::Running => "running",
            TrialStatus::Paused => "paused",
            TrialStatus::Completed => "completed",
            TrialStatus::Stopped => "stopped",
            TrialStatus::Failed => "failed",
        }
    }
}

/// One reported result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Iterations completed when reported (1-based).
    pub iteration: usize,
    /// Metrics by name.
    pub metrics: BTreeMap<String, f64>,
}

/// A saved checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRef {
    /// Iterations completed when it was saved.
    pub iteration: usize,
    /// File name inside the experiment's `checkpoints/` folder.
    pub file: String,
}

/// A PBT exploit step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploitStep {
    /// Iteration at which the trial was replaced.
    pub iteration: usize,
    /// The trial whose checkpoint was copied.
    pub donor: usize,
    /// The hyperparameters before the step.
    pub previous: Params,
}

/// Everything known about one trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0-based id, in creation order.
    pub id: usize,
    /// Current hyperparameters.
    pub params: Params,
    /// Where it stands.
    pub status: TrialStatus,
    /// How many times the objective was started for it (retries and restarts after a
    /// crash included; PBT restarts are counted in `exploits`).
    pub starts: usize,
    /// Failed attempts.
    pub failures: usize,
    /// The last error or panic message.
    pub error: Option<String>,
    /// Why it was stopped early.
    pub stop_reason: Option<String>,
    /// Every reported result.
    pub history: Vec<ResultRow>,
    /// The trial's value of the experiment's metric (best or last result, per scope).
    pub metric: Option<f64>,
    /// Seconds spent running it.
    pub seconds: f64,
    /// Its latest checkpoint.
    pub checkpoint: Option<CheckpointRef>,
    /// PBT exploit steps.
    pub exploits: Vec<ExploitStep>,
}

impl TrialRecord {
    /// A new pending trial.
    pub fn new(id: usize, params: Params) -> Self {
        TrialRecord {
            id,
            params,
            status: TrialStatus::Pending,
            starts: 0,
            failures: 0,
            error: None,
            stop_reason: None,
            history: Vec::new(),
            metric: None,
            seconds: 0.0,
            checkpoint: None,
            exploits: Vec::new(),
        }
    }

    /// Iterations completed (the last reported iteration).
    pub fn iterations(&self) -> usize {
        self.history.last().map_or(0, |r| r.iteration)
    }
}

/// The persisted experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentState {
    /// Format version.
    pub version: u32,
    /// Experiment name.
    pub name: String,
    /// The settings it was started with (checked on resume).
    pub spec: Value,
    /// Every trial, by id.
    pub trials: Vec<TrialRecord>,
    /// Whether the experiment ran to its end.
    pub finished: bool,
}

const VERSION: u32 = 1;

/// The experiment store, on disk or in memory.
#[derive(Debug)]
pub struct Store {
    dir: Option<PathBuf>,
    state: ExperimentState,
    journal: Option<File>,
    journal_lines: usize,
    memory_checkpoints: HashMap<String, Vec<u8>>,
    /// The held lock of an on-disk experiment (released when the store is dropped).
    _lock: Option<File>,
}

/// Take the experiment directory's lock (`dir/lock`), so that a second process that
/// creates or resumes the same experiment is refused instead of racing the first. The
/// operating system releases it when the process ends, however it ends.
fn lock_dir(dir: &Path) -> Result<File> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    forecast_core::fsio::try_lock(&dir.join("lock"))?.ok_or_else(|| Error::Locked {
        path: dir.to_path_buf(),
    })
}

impl Store {
    /// A store that keeps everything in memory (benchmarks, tests, library users who
    /// need no resume).
    pub fn in_memory(name: &str, spec: Value) -> Store {
        Store {
            dir: None,
            state: ExperimentState {
                version: VERSION,
                name: name.to_string(),
                spec,
                trials: Vec::new(),
                finished: false,
            },
            journal: None,
            journal_lines: 0,
            memory_checkpoints: HashMap::new(),
            _lock: None,
        }
    }

    /// Start a new experiment in `dir`. An existing experiment there is an error (resume
    /// it with [`Store::open`] instead).
    pub fn create(dir: &Path, name: &str, spec: Value) -> Result<Store> {
        let lock = lock_dir(dir)?;
        if dir.join("state.json").exists() {
            return Err(Error::config(
                "tune.out",
                format!(
                    "{} already holds an experiment (resume it, or choose another directory)",
                    dir.display()
                ),
            ));
        }
        fs::create_dir_all(dir.join("checkpoints")).map_err(|e| Error::io(dir, e))?;
        let mut store = Store::in_memory(name, spec);
        store.dir = Some(dir.to_path_buf());
        store._lock = Some(lock);
        let _ = fs::remove_file(dir.join("journal.jsonl"));
        store.snapshot()?;
        Ok(store)
    }

    /// Open the experiment in `dir`: the snapshot plus the journal's events.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join("state.json");
        if !path.is_file() {
            return Err(Error::config(
                "tune.out",
                format!("{} holds no experiment to resume", dir.display()),
            ));
        }
        let lock = lock_dir(dir)?;
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut state: ExperimentState =
            serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if state.version != VERSION {
            return Err(Error::Corrupt {
                path,
                message: format!(
                    "format version {} (this build reads {VERSION})",
                    state.version
                ),
            });
        }
        let jpath = dir.join("journal.jsonl");
        let mut journal_lines = 0;
        if let Ok(text) = fs::read_to_string(&jpath) {
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                match serde_json::from_str::<TrialRecord>(line) {
                    Ok(rec) => {
                        upsert(&mut state.trials, rec);
                        journal_lines += 1;
                    }
                    // A kill in the middle of an append leaves a torn last line.
                    Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                    Err(e) => {
                        return Err(Error::Corrupt {
                            path: jpath,
                            message: format!("line {}: {e}", i + 1),
                        })
                    }
                }
            }
        }
        let mut store = Store {
            dir: Some(dir.to_path_buf()),
            state,
            journal: None,
            journal_lines,
            memory_checkpoints: HashMap::new(),
            _lock: Some(lock),
        };
        // Fold the replayed journal (and drop a torn line) before appending again.
        store.snapshot()?;
        Ok(store)
    }

    /// The experiment directory, when on disk.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The experiment.
    pub fn state(&self) -> &ExperimentState {
        &self.state
    }

    /// A trial by id.
    pub fn trial(&self, id: usize) -> Option<&TrialRecord> {
        self.state.trials.get(id).filter(|t| t.id == id)
    }

    /// Record a trial event: the trial's full record after it.
    pub fn put(&mut self, rec: TrialRecord) -> Result<()> {
        let Some(dir) = self.dir.clone() else {
            upsert(&mut self.state.trials, rec);
            return Ok(());
        };
        let mut line = serde_json::to_vec(&rec).map_err(|e| Error::Corrupt {
            path: dir.join("journal.jsonl"),
            message: e.to_string(),
        })?;
        line.push(b'\n');
        upsert(&mut self.state.trials, rec);
        if self.journal.is_none() {
            let path = dir.join("journal.jsonl");
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            self.journal = Some(f);
        }
        if let Some(f) = self.journal.as_mut() {
            f.write_all(&line)
                .map_err(|e| Error::io(dir.join("journal.jsonl"), e))?;
        }
        self.journal_lines += 1;
        if self.journal_lines >= self.state.trials.len().max(64) {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Mark the experiment finished (or not) and write a snapshot.
    pub fn set_finished(&mut self, finished: bool) -> Result<()> {
        self.state.finished = finished;
        self.snapshot()
    }

    /// Write `state.json` and `trials.csv`, then empty the journal.
    pub fn snapshot(&mut self) -> Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let json = serde_json::to_vec(&self.state).map_err(|e| Error::Corrupt {
            path: dir.join("state.json"),
            message: e.to_string(),
        })?;
        write_file(&dir.join("state.json"), &json)?;
        write_file(&dir.join("trials.csv"), self.trials_csv().as_bytes())?;
        // The snapshot holds every journalled event; replaying them again is harmless
        // (records are upserted), so a crash between these two steps loses nothing.
        let jpath = dir.join("journal.jsonl");
        self.journal = None;
        File::create(&jpath).map_err(|e| Error::io(&jpath, e))?;
        self.journal_lines = 0;
        Ok(())
    }

    /// Save trial `trial`'s checkpoint after `iteration` iterations.
    pub fn save_checkpoint(
        &mut self,
        trial: usize,
        iteration: usize,
        bytes: &[u8],
    ) -> Result<CheckpointRef> {
        let file = format!("trial_{trial}.bin");
        match &self.dir {
            Some(dir) => write_file(&dir.join("checkpoints").join(&file), bytes)?,
            None => {
                self.memory_checkpoints.insert(file.clone(), bytes.to_vec());
            }
        }
        Ok(CheckpointRef { iteration, file })
    }

    /// Read a checkpoint.
    pub fn load_checkpoint(&self, r: &CheckpointRef) -> Result<Vec<u8>> {
        match &self.dir {
            Some(dir) => {
                let path = dir.join("checkpoints").join(&r.file);
                fs::read(&path).map_err(|e| Error::io(&path, e))
            }
            None => self
                .memory_checkpoints
                .get(&r.file)
                .cloned()
                .ok_or_else(|| Error::Corrupt {
                    path: PathBuf::from(&r.file),
                    message: "checkpoint not found".into(),
                }),
        }
    }

    /// The trial table as CSV: `id,status,metric,epochs,seconds,starts`, one column per
    /// parameter key, then `error`.
    pub fn trials_csv(&self) -> String {
        let keys: BTreeSet<&String> = self
            .state
            .trials
            .iter()
            .flat_map(|t| t.params.keys())
            .collect();
        let mut out = String::from("id,status,metric,epochs,seconds,starts");
        for k in &keys {
            out.push(',');
            out.push_str(&csv_field(k));
        }
        out.push_str(",error\n");
        for t in &self.state.trials {
            let metric = t.metric.map(|m| m.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{:.3},{}",
                t.id,
                t.status.name(),
                metric,
                t.iterations(),
                t.seconds,
                t.starts
            ));
            for k in &keys {
                out.push(',');
                if let Some(v) = t.params.get(*k) {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out.push_str(&csv_field(&text));
                }
            }
            out.push(',');
            out.push_str(&csv_field(t.error.as_deref().unwrap_or("")));
            out.push('\n');
        }
        out
    }
}

fn upsert(trials: &mut Vec<TrialRecord>, rec: TrialRecord) {
    let id = rec.id;
    if id < trials.len() {
        trials[id] = rec;
    } else {
        while trials.len() < id {
            let n = trials.len();
            trials.push(TrialRecord::new(n, Params::new()));
        }
        trials.push(rec);
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: usize, status: TrialStatus) -> TrialRecord {
        let mut r = TrialRecord::new(id, [("a".to_string(), Value::from("x,y"))].into());
        r.status = status;
        r
    }

    #[test]
    fn journal_replays_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::create(dir.path(), "e", Value::Null).unwrap();
        s.put(rec(0, TrialStatus::Running)).unwrap();
        s.put(rec(1, TrialStatus::Running)).unwrap();
        s.put(rec(0, TrialStatus::Completed)).unwrap();
        drop(s);
        // Simulate a kill in the middle of an append.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("journal.jsonl"))
            .unwrap();
        f.write_all(b"{\"id\": 1, \"params\"").unwrap();
        drop(f);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.state().trials.len(), 2);
        assert_eq!(s.trial(0).unwrap().status, TrialStatus::Completed);
        assert_eq!(s.trial(1).unwrap().status, TrialStatus::Running);
        let csv = fs::read_to_string(dir.path().join("trials.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.contains("\"x,y\""), "{csv}");
        // A second create in the same directory is refused.
        assert!(Store::create(dir.path(), "e", Value::Null).is_err());
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::create(dir.path(), "e", Value::Null).unwrap();
        s.put(rec(0, TrialStatus::Running)).unwrap();
        drop(s);
        let j = dir.path().join("journal.jsonl");
        let text = fs::read_to_string(&j).unwrap();
        fs::write(&j, format!("garbage\n{text}")).unwrap();
        let e = Store::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("journal.jsonl") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_second_process_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::create(dir.path(), "e", Value::Null).unwrap();
        // flock locks belong to the open file, so a second open in this process stands
        // for a second process.
        let e = Store::open(dir.path()).unwrap_err();
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        assert!(e.to_string().contains("another process"), "{e}");
        drop(first);
        let again = Store::open(dir.path()).unwrap();
        assert!(matches!(
            Store::open(dir.path()).unwrap_err(),
            Error::Locked { .. }
        ));
        drop(again);
    }

    #[test]
    fn checkpoints_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::create(dir.path(), "e", Value::Null).unwrap();
        let r = s.save_checkpoint(3, 7, b"weights").unwrap();
        assert_eq!(s.load_checkpoint(&r).unwrap(), b"weights");
        let mut m = Store::in_memory("e", Value::Null);
        let r = m.save_checkpoint(3, 7, b"w").unwrap();
        assert_eq!(m.load_checkpoint(&r).unwrap(), b"w");
    }
}
