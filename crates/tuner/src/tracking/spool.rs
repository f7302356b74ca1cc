//! The local spool: every run is written here before anything is sent to a server.
//!
//! ```text
//! <runs dir>/<run id>/run.json       what the run is: names, params, tags, status, artifacts
//!                    /metrics.jsonl  one metric point per line, append-only
//!                    /artifacts/     copies of the logged files
//!                    /shipped.json   per tracking server: what has been shipped (written by
//!                                    the shipper only)
//!                    /ship.lock      held while a process ships the run
//! ```
//! JSON files are replaced atomically (temporary name, then rename). No credentials are
//! ever written here: tracking URIs are stored without their `user:password@` part.

use super::error::{Result, TrackingError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Version of the spool layout this build writes.
pub(crate) const SPOOL_FORMAT: u32 = 1;

/// A local run id: `YYYYMMDD-HHMMSS-` and 8 hex digits (sortable, unique enough).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A fresh id for a run starting now.
    pub fn generate() -> RunId {
        let now = chrono::Utc::now();
        RunId(format!(
            "{}-{:08x}",
            now.format("%Y%m%d-%H%M%S"),
            rand::random::<u32>()
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(s: &str) -> Option<RunId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| RunId(s.to_string()))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Status of a run, with MLflow's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    /// Still going (or the process died before finishing it).
    Running,
    /// Ended normally.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped from outside (a trial cut by the experiment's time budget; early stopping
    /// by a scheduler counts as finished, not killed).
    Killed,
}

impl RunStatus {
    /// MLflow's name (`FINISHED`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

/// One file logged as an artifact, copied under the run's `artifacts/` directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Path relative to the run's artifact root, `/`-separated (`model/model.json`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What a run is (`run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Spool layout version.
    pub format: u32,
    /// Local id.
    pub id: RunId,
    /// Run name shown in MLflow.
    pub name: String,
    /// Experiment name.
    pub experiment: String,
    /// Parent run (tuning experiment) for a trial's run.
    #[serde(default)]
    pub parent: Option<RunId>,
    /// Tracking URI given when the run started (credentials removed), if any.
    #[serde(default)]
    pub tracking_uri: Option<String>,
    /// Current status.
    pub status: RunStatus,
    /// Start, milliseconds since the epoch.
    pub start_time: i64,
    /// End, milliseconds since the epoch.
    #[serde(default)]
    pub end_time: Option<i64>,
    /// Parameters (MLflow params are strings and cannot change once logged).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Logged files.
    #[serde(default)]
    pub artifacts: Vec<ArtifactRecord>,
    /// Register the run's `model` artifact under this name.
    #[serde(default)]
    pub register_model: Option<String>,
    /// Bumped on every change of params or tags, so the shipper knows what is new.
    #[serde(default)]
    pub revision: u64,
}

/// One metric point (a line of `metrics.jsonl`, and the wire format of log-batch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric name.
    pub key: String,
    /// Value; non-finite values travel as `"NaN"`, `"Infinity"`, `"-Infinity"`.
    #[serde(serialize_with = "ser_value", deserialize_with = "de_value")]
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Step (the epoch for training curves).
    pub step: i64,
}

fn ser_value<S: Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if *v == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(*v)
    }
}

fn de_value<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        N(f64),
        S(String),
    }
    match V::deserialize(d)? {
        V::N(x) => Ok(x),
        V::S(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(serde::de::Error::custom),
        },
    }
}

/// How registration of the run's model ended on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Registration {
    /// A model version was created.
    Registered {
        /// Registered model name.
        name: String,
        /// Version number, as MLflow returns it.
        version: String,
    },
    /// The server has no Model Registry (DagsHub answers 404); the run itself is fine.
    Unsupported {
        /// The server's answer.
        message: String,
    },
}

/// What has been shipped of one run to one server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// MLflow experiment id.
    #[serde(default)]
    pub experiment_id: Option<String>,
    /// MLflow run id.
    #[serde(default)]
    pub remote_run_id: Option<String>,
    /// The run's `artifact_uri` as the server gave it.
    #[serde(default)]
    pub artifact_uri: Option<String>,
    /// `RunRecord::revision` whose params and tags are on the server.
    #[serde(default)]
    pub revision_shipped: Option<u64>,
    /// Bytes of `metrics.jsonl` shipped (whole lines only).
    #[serde(default)]
    pub metrics_offset: u64,
    /// Metric points shipped.
    #[serde(default)]
    pub metrics_shipped: u64,
    /// Artifact paths shipped.
    #[serde(default)]
    pub artifacts_shipped: BTreeSet<String>,
    /// Status last sent.
    #[serde(default)]
    pub status_shipped: Option<RunStatus>,
    /// Model registration outcome.
    #[serde(default)]
    pub registration: Option<Registration>,
    /// The last failure, as shown to the user (no credentials).
    #[serde(default)]
    pub last_error: Option<String>,
    /// When this entry last changed, milliseconds since the epoch.
    #[serde(default)]
    pub updated: i64,
}

/// `shipped.json`: shipping state per tracking URI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// By tracking URI (credentials removed).
    #[serde(default)]
    pub destinations: BTreeMap<String, Shipment>,
}

/// The spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

/// The metric points of a run from some byte offset on, with the offset after each line.
#[derive(Debug, Default)]
pub struct MetricChunk {
    /// Points in file order.
    pub points: Vec<Metric>,
    /// `ends[i]` is the byte offset just after `points[i]`'s line.
    pub ends: Vec<u64>,
}

impl Spool {
    /// Opens (creating if needed) a spool directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Spool> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| TrackingError::io(&root, e))?;
        Ok(Spool { root })
    }

    /// The spool directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A run's directory.
    pub fn run_dir(&self, id: &RunId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// Writes a new run's directory and `run.json`.
    pub fn create(&self, record: &RunRecord) -> Result<()> {
        let dir = self.run_dir(&record.id);
        fs::create_dir_all(dir.join("artifacts")).map_err(|e| TrackingError::io(&dir, e))?;
        self.save_record(record)
    }

    /// Reads `run.json`.
    pub fn load_record(&self, id: &RunId) -> Result<RunRecord> {
        read_json(&self.run_dir(id).join("run.json"))?.ok_or_else(|| TrackingError::UnknownRun {
            id: id.to_string(),
            message: format!("no run.json in {}", self.root.display()),
        })
    }

    /// Replaces `run.json` atomically. A top-level run's record is written durably
    /// (fsynced); a child run's (a tuning trial's, thousands of them in a sweep) only
    /// atomically, made durable with the others by [`Spool::sync`] when its parent
    /// ends (until then it is as durable as the experiment store's journal).
    pub fn save_record(&self, record: &RunRecord) -> Result<()> {
        let path = self.run_dir(&record.id).join("run.json");
        if record.parent.is_some() {
            let text = serde_json::to_vec_pretty(record).map_err(|e| TrackingError::Spool {
                path: path.clone(),
                message: e.to_string(),
            })?;
            return Ok(forecast_core::fsio::write_file_atomic(&path, &text)?);
        }
        write_json(&path, record)
    }

    /// Make every run written so far durable (one filesystem sync).
    pub fn sync(&self) -> Result<()> {
        Ok(forecast_core::fsio::sync_filesystem(&self.root)?)
    }

    /// Reads `shipped.json` (empty when nothing was shipped yet).
    pub fn load_ledger(&self, id: &RunId) -> Result<Ledger> {
        Ok(read_json(&self.run_dir(id).join("shipped.json"))?.unwrap_or_default())
    }

    /// Replaces `shipped.json` atomically.
    pub fn save_ledger(&self, id: &RunId, ledger: &Ledger) -> Result<()> {
        write_json(&self.run_dir(id).join("shipped.json"), ledger)
    }

    /// All runs, oldest first. Directories that are not runs are skipped.
    pub fn list(&self) -> Result<Vec<RunRecord>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.root).map_err(|e| TrackingError::io(&self.root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| TrackingError::io(&self.root, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(RunId::parse) else {
                continue;
            };
            if !entry.path().join("run.json").is_file() {
                continue;
            }
            out.push(self.load_record(&id)?);
        }
        out.sort_by(|a, b| (a.start_time, &a.id).cmp(&(b.start_time, &b.id)));
        Ok(out)
    }

    /// The run whose id is `id` or starts with `id`; an error when none or several match.
    pub fn resolve(&self, id: &str) -> Result<RunId> {
        if let Some(exact) = RunId::parse(id) {
            if self.run_dir(&exact).join("run.json").is_file() {
                return Ok(exact);
            }
        }
        let matches: Vec<RunId> = self
            .list()?
            .into_iter()
            .map(|r| r.id)
            .filter(|r| r.as_str().starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one match")),
            0 => Err(TrackingError::UnknownRun {
                id: id.to_string(),
                message: format!("no such run in {}", self.root.display()),
            }),
            n => Err(TrackingError::UnknownRun {
                id: id.to_string(),
                message: format!("{n} runs start with it; give more characters"),
            }),
        }
    }

    /// Opens the run's metric file for appending.
    pub fn metrics_writer(&self, id: &RunId) -> Result<File> {
        let path = self.run_dir(id).join("metrics.jsonl");
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| TrackingError::io(&path, e))
    }

    /// Appends points as whole lines in one write, so a crash leaves at most one partial
    /// last line (which readers ignore).
    pub fn append_metrics(&self, file: &mut File, id: &RunId, points: &[Metric]) -> Result<()> {
        let mut buf = Vec::with_capacity(points.len() * 80);
        for p in points {
            serde_json::to_writer(&mut buf, p).map_err(|e| TrackingError::Spool {
                path: self.run_dir(id).join("metrics.jsonl"),
                message: e.to_string(),
            })?;
            buf.push(b'\n');
        }
        file.write_all(&buf)
            .map_err(|e| TrackingError::io(self.run_dir(id).join("metrics.jsonl"), e))
    }

    /// Complete metric lines from byte `offset` on. A trailing line without its newline
    /// (being written, or cut by a crash) is left for later; a corrupt complete line is
    /// an error naming the file and offset.
    pub fn read_metrics(&self, id: &RunId, offset: u64) -> Result<MetricChunk> {
        let path = self.run_dir(id).join("metrics.jsonl");
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(MetricChunk::default()),
            Err(e) => return Err(TrackingError::io(&path, e)),
        };
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| TrackingError::io(&path, e))?;
        let mut reader = BufReader::new(file);
        let mut chunk = MetricChunk::default();
        let mut pos = offset;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| TrackingError::io(&path, e))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let point: Metric =
                serde_json::from_slice(&line).map_err(|e| TrackingError::Spool {
                    path: path.clone(),
                    message: format!("bad metric line at byte {pos}: {e}"),
                })?;
            pos += n as u64;
            chunk.points.push(point);
            chunk.ends.push(pos);
        }
        Ok(chunk)
    }

    /// Copies the files under `src` (a file or a directory) to the run's artifacts under
    /// `artifact_path` and returns their records. Files are copied under a temporary name
    /// and renamed, so a listed artifact is always complete.
    pub fn copy_artifacts(
        &self,
        id: &RunId,
        src: &Path,
        artifact_path: &str,
    ) -> Result<Vec<ArtifactRecord>> {
        let base = artifact_path.trim_matches('/');
        if base.split('/').any(|s| s == ".." || s == ".") {
            return Err(TrackingError::Config(format!(
                "artifact path `{artifact_path}`: `.` and `..` are not allowed"
            )));
        }
        let mut files = Vec::new();
        collect_files(src, String::new(), &mut files)?;
        let root = self.run_dir(id).join("artifacts");
        let mut out = Vec::with_capacity(files.len());
        for (path, rel) in files {
            let rel = if base.is_empty() {
                rel
            } else if rel.is_empty() {
                base.to_string()
            } else {
                format!("{base}/{rel}")
            };
            let rel = if rel.is_empty() {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("artifact")
                    .to_string()
            } else {
                rel
            };
            let dest = root.join(&rel);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|e| TrackingError::io(parent, e))?;
            }
            let mut size = 0;
            forecast_core::fsio::write_file_with(&dest, |f| {
                let mut src = File::open(&path).map_err(|e| forecast_core::Error::io(&path, e))?;
                size =
                    std::io::copy(&mut src, f).map_err(|e| forecast_core::Error::io(&path, e))?;
                Ok(())
            })?;
            out.push(ArtifactRecord { path: rel, size });
        }
        Ok(out)
    }

    /// The local copy of an artifact.
    pub fn artifact_file(&self, id: &RunId, rel: &str) -> PathBuf {
        self.run_dir(id).join("artifacts").join(rel)
    }

    /// Takes the run's shipping lock (non-blocking): only one process ships a run at a time.
    /// The lock is released when the returned file is dropped.
    pub fn lock_shipping(&self, id: &RunId) -> Result<File> {
        forecast_core::fsio::try_lock(&self.run_dir(id).join("ship.lock"))?
            .ok_or_else(|| TrackingError::Busy(id.to_string()))
    }
}

/// Files under `src` with their `/`-separated paths relative to it (empty for `src` itself
/// when it is a file), in a stable order.
fn collect_files(src: &Path, rel: String, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let meta = fs::metadata(src).map_err(|e| TrackingError::io(src, e))?;
    if meta.is_file() {
        out.push((src.to_path_buf(), rel));
        return Ok(());
    }
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(|e| TrackingError::io(src, e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| TrackingError::io(src, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(TrackingError::Config(format!(
                "artifact {}: file names must be UTF-8",
                entry.path().display()
            )));
        };
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        collect_files(&entry.path(), child, out)?;
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let mut text = String::new();
    match File::open(path) {
        Ok(mut f) => f
            .read_to_string(&mut text)
            .map_err(|e| TrackingError::io(path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrackingError::io(path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrackingError::Spool {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| TrackingError::Spool {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(forecast_core::fsio::write_file(path, &text)?)
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &RunId) -> RunRecord {
        RunRecord {
            format: SPOOL_FORMAT,
            id: id.clone(),
            name: "r".into(),
            experiment: "e".into(),
            parent: None,
            tracking_uri: None,
            status: RunStatus::Running,
            start_time: now_ms(),
            end_time: None,
            params: BTreeMap::new(),
            tags: BTreeMap::new(),
            artifacts: vec![],
            register_model: None,
            revision: 0,
        }
    }

    #[test]
    fn metrics_round_trip_with_non_finite_values_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let id = RunId::generate();
        spool.create(&record(&id)).unwrap();
        let mut f = spool.metrics_writer(&id).unwrap();
        let pts: Vec<Metric> = [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
            .iter()
            .enumerate()
            .map(|(i, &v)| Metric {
                key: "loss".into(),
                value: v,
                timestamp: 7,
                step: i as i64,
            })
            .collect();
        spool.append_metrics(&mut f, &id, &pts).unwrap();
        // A line cut by a crash is not read (yet).
        f.write_all(b"{\"key\":\"loss\",\"va").unwrap();
        let chunk = spool.read_metrics(&id, 0).unwrap();
        assert_eq!(chunk.points.len(), 4);
        assert_eq!(chunk.points[0].value, 1.5);
        assert!(chunk.points[1].value.is_nan());
        assert_eq!(chunk.points[2].value, f64::INFINITY);
        assert_eq!(chunk.points[3].value, f64::NEG_INFINITY);
        let rest = spool.read_metrics(&id, chunk.ends[1]).unwrap();
        assert_eq!(rest.points.len(), 2);
        assert_eq!(rest.points[0].step, 2);
        let line = serde_json::to_string(&pts[1]).unwrap();
        assert!(line.contains("\"NaN\""), "{line}");
    }

    #[test]
    fn resolve_by_prefix_and_list_in_start_order() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let a = RunId("20260101-000000-aaaa0000".into());
        let b = RunId("20260101-000000-aabb0000".into());
        let mut ra = record(&a);
        ra.start_time = 2;
        let mut rb = record(&b);
        rb.start_time = 1;
        spool.create(&ra).unwrap();
        spool.create(&rb).unwrap();
        fs::create_dir_all(dir.path().join("not a run")).unwrap();
        let ids: Vec<_> = spool.list().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![b.clone(), a.clone()]);
        assert_eq!(spool.resolve("20260101-000000-aaa").unwrap(), a);
        assert!(spool
            .resolve("20260101-000000-aa")
            .unwrap_err()
            .to_string()
            .contains("2 runs"));
        assert!(spool.resolve("nope").is_err());
    }

    #[test]
    fn artifacts_are_copied_with_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("sub")).unwrap();
        fs::write(src.path().join("model.json"), "{}").unwrap();
        fs::write(src.path().join("sub/w.bin"), [1u8, 2, 3]).unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let id = RunId::generate();
        spool.create(&record(&id)).unwrap();
        let recs = spool.copy_artifacts(&id, src.path(), "model").unwrap();
        let paths: Vec<_> = recs.iter().map(|r| (r.path.as_str(), r.size)).collect();
        assert_eq!(paths, vec![("model/model.json", 2), ("model/sub/w.bin", 3)]);
        assert_eq!(
            fs::read(spool.artifact_file(&id, "model/sub/w.bin")).unwrap(),
            [1, 2, 3]
        );
        assert!(spool.copy_artifacts(&id, src.path(), "../x").is_err());
        let _lock = spool.lock_shipping(&id).unwrap();
        assert!(matches!(
            spool.lock_shipping(&id),
            Err(TrackingError::Busy(_))
        ));
    }
}
