//! The models a server holds: one model directory, or a folder of them that is watched
//! for new versions (each swapped in whole, atomically, while requests keep running on
//! the version they started with).

use crate::error::ServeError;
use forecast_core::artifact;
use forecast_core::data::format_timestamp;
use forecast_core::panel::PanelForecaster;
use forecast_core::Forecaster;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Where the served models come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One model directory (a one-series or a panel model), named by its directory name.
    Model(PathBuf),
    /// A folder whose subdirectories are model directories, each named by its
    /// subdirectory's name. New, replaced and removed subdirectories are picked up
    /// while serving; names starting with `.` (temporary directories) are ignored.
    Folder(PathBuf),
}

impl Source {
    /// A model directory if `path` holds a model (`model.json` or `panel.json`),
    /// otherwise a folder of model directories.
    pub fn detect(path: &Path) -> Result<Source, ServeError> {
        if !path.is_dir() {
            return Err(ServeError::Source {
                path: path.to_path_buf(),
                message: "not a directory (expected a model directory or a folder of them)".into(),
            });
        }
        if is_model_dir(path) {
            Ok(Source::Model(path.to_path_buf()))
        } else {
            Ok(Source::Folder(path.to_path_buf()))
        }
    }
}

/// Whether `dir` holds a saved model (one series or a panel).
fn is_model_dir(dir: &Path) -> bool {
    dir.join("model.json").is_file() || artifact::is_panel(dir)
}

/// The loaded model of one directory.
#[derive(Debug)]
pub enum Loaded {
    /// A model of one series.
    Single(Box<Forecaster>),
    /// A model of a panel, with its series' positions by id.
    Panel {
        /// The panel model.
        model: PanelForecaster,
        /// Position of each series id in `model.series`.
        index: HashMap<String, usize>,
    },
}

/// One served model: its name, a version (a digest of its manifest) and the model.
#[derive(Debug)]
pub struct ServedModel {
    /// The name requests use (the directory's name).
    pub name: String,
    /// The first 12 hex digits of the SHA-256 of the model's manifest file.
    pub version: String,
    /// The model directory.
    pub path: PathBuf,
    /// The model.
    pub loaded: Loaded,
}

impl ServedModel {
    /// Load the model directory `path`, served as `name`.
    pub fn load(name: &str, path: &Path) -> Result<ServedModel, ServeError> {
        let panel = artifact::is_panel(path);
        let manifest = path.join(if panel { "panel.json" } else { "model.json" });
        let bytes = std::fs::read(&manifest).map_err(|e| ServeError::Source {
            path: manifest.clone(),
            message: e.to_string(),
        })?;
        let digest = Sha256::digest(&bytes);
        let version: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let loaded = if panel {
            let model = artifact::load_panel(path)?;
            let index = model
                .series
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (id.clone(), i))
                .collect();
            Loaded::Panel { model, index }
        } else {
            Loaded::Single(Box::new(artifact::load(path)?))
        };
        Ok(ServedModel {
            name: name.to_string(),
            version,
            path: path.to_path_buf(),
            loaded,
        })
    }

    /// The model kind (`arima`, `naive`, ...).
    pub fn kind(&self) -> &'static str {
        match &self.loaded {
            Loaded::Single(f) => f.spec.model.kind(),
            Loaded::Panel { model, .. } => model.kind(),
        }
    }

    /// Whether the model holds a panel (requests may name series).
    pub fn is_panel(&self) -> bool {
        matches!(self.loaded, Loaded::Panel { .. })
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        match &self.loaded {
            Loaded::Single(_) => 1,
            Loaded::Panel { model, .. } => model.series.len(),
        }
    }

    /// A forecaster of the model: the first series of a panel (facts shared by all).
    fn first(&self) -> Option<&Forecaster> {
        match &self.loaded {
            Loaded::Single(f) => Some(f),
            Loaded::Panel { model, .. } => model.series.first().map(|(_, f)| f),
        }
    }

    /// What `GET /v1/models` says about the model: name, version, kind, series, the
    /// data it was trained on and its held-out accuracy.
    pub fn describe(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "version": self.version,
            "kind": self.kind(),
            "panel": self.is_panel(),
            "series": self.series_count(),
        });
        if let Some(f) = self.first() {
            let s = &f.schema;
            v["target"] = json!(s.target);
            v["time_column"] = json!(s.time_column);
            v["frequency"] = json!(format!("{:?}", s.frequency));
            v["features"] = json!(s.features);
            v["season_length"] = json!(f.season_length);
        }
        match &self.loaded {
            Loaded::Single(f) => {
                v["training"] = json!({
                    "fitted_rows": f.schema.fitted_rows,
                    "conditioned_rows": f.schema.conditioned_rows,
                    "last_timestamp": f.schema.last_timestamp
                        .map(|t| format_timestamp(t, f.schema.date_only)),
                });
                v["metrics"] = json!({"valid": f.valid, "test": f.test});
            }
            Loaded::Panel { model, .. } => {
                let last = model
                    .series
                    .iter()
                    .filter_map(|(_, f)| f.schema.last_timestamp.map(|t| (t, f.schema.date_only)))
                    .max_by_key(|(t, _)| *t)
                    .map(|(t, d)| format_timestamp(t, d));
                v["id_column"] = json!(model.id_column);
                v["training"] = json!({
                    "fitted_rows": model.series.iter().map(|(_, f)| f.schema.fitted_rows).sum::<usize>(),
                    "conditioned_rows": model.series.iter().map(|(_, f)| f.schema.conditioned_rows).sum::<usize>(),
                    "last_timestamp": last,
                });
                v["skipped"] = json!(model.skipped);
            }
        }
        v
    }
}

/// What identifies one version of a model directory on disk: the directory's inode
/// and the manifest's modification time and length (a directory renamed over the old
/// one has a new inode).
fn stamp(dir: &Path) -> Option<(u64, SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let d = std::fs::metadata(dir).ok()?;
    let manifest = if artifact::is_panel(dir) {
        dir.join("panel.json")
    } else {
        dir.join("model.json")
    };
    let m = std::fs::metadata(manifest).ok()?;
    Some((d.ino(), m.modified().ok()?, m.len()))
}

type Stamp = (u64, SystemTime, u64);

struct Entry {
    model: Arc<ServedModel>,
    stamp: Option<Stamp>,
    /// Consecutive scans that did not find the directory (a replaced directory is
    /// missing for an instant; a model is dropped on the second miss).
    missing: u32,
}

/// The models being served, swapped whole when a directory changes.
pub struct Registry {
    source: Source,
    models: RwLock<Arc<HashMap<String, Arc<ServedModel>>>>,
    entries: std::sync::Mutex<HashMap<String, Entry>>,
}

/// What one scan of a folder changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// Models loaded or replaced.
    pub loaded: Vec<String>,
    /// Models dropped (their directory is gone).
    pub removed: Vec<String>,
    /// Directories that failed to load, with the error (the previous version, if any,
    /// keeps serving).
    pub failed: Vec<(String, String)>,
}

impl Registry {
    /// Load every model of `source`. A single model directory that fails to load is an
    /// error; in a folder, a subdirectory that fails is reported and left out.
    pub fn open(source: Source) -> Result<(Registry, ScanReport), ServeError> {
        let registry = Registry {
            source: source.clone(),
            models: RwLock::new(Arc::new(HashMap::new())),
            entries: std::sync::Mutex::new(HashMap::new()),
        };
        let report = match &source {
            Source::Model(dir) => {
                let name = dir_name(dir)?;
                let model = ServedModel::load(&name, dir)?;
                let mut entries = registry.lock_entries();
                entries.insert(
                    name,
                    Entry {
                        model: Arc::new(model),
                        stamp: stamp(dir),
                        missing: 0,
                    },
                );
                registry.publish(&entries);
                ScanReport::default()
            }
            Source::Folder(_) => registry.scan(),
        };
        Ok((registry, report))
    }

    fn lock_entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while the lock was held cannot leave an entry half-written (entries
        // are replaced whole), so a poisoned lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, entries: &HashMap<String, Entry>) {
        let map: HashMap<String, Arc<ServedModel>> = entries
            .iter()
            .map(|(k, e)| (k.clone(), Arc::clone(&e.model)))
            .collect();
        let mut w = self
            .models
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *w = Arc::new(map);
    }

    /// The models now served.
    pub fn snapshot(&self) -> Arc<HashMap<String, Arc<ServedModel>>> {
        Arc::clone(
            &self
                .models
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The model named `name`, if served.
    pub fn get(&self, name: &str) -> Option<Arc<ServedModel>> {
        self.snapshot().get(name).cloned()
    }

    /// Whether the served models come from a folder that is watched.
    pub fn watches(&self) -> bool {
        matches!(self.source, Source::Folder(_))
    }

    /// Scan the folder once: load new and changed model directories, drop those gone
    /// (blocking; call from a blocking thread). A single model directory is not
    /// rescanned.
    pub fn scan(&self) -> ScanReport {
        let Source::Folder(root) = &self.source else {
            return ScanReport::default();
        };
        let mut report = ScanReport::default();
        let mut found: HashMap<String, PathBuf> = HashMap::new();
        if let Ok(rd) = std::fs::read_dir(root) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let path = e.path();
                if name.starts_with('.') || !path.is_dir() || !is_model_dir(&path) {
                    continue;
                }
                found.insert(name, path);
            }
        }
        let mut entries = self.lock_entries();
        let mut changed = false;
        for (name, path) in &found {
            let now = stamp(path);
            if let Some(e) = entries.get_mut(name) {
                e.missing = 0;
                if e.stamp == now {
                    continue;
                }
            }
            match ServedModel::load(name, path) {
                Ok(m) => {
                    entries.insert(
                        name.clone(),
                        Entry {
                            model: Arc::new(m),
                            stamp: now,
                            missing: 0,
                        },
                    );
                    report.loaded.push(name.clone());
                    changed = true;
                }
                Err(e) => {
                    // Keep serving the version that worked; retry on the next change.
                    if let Some(old) = entries.get_mut(name) {
                        old.stamp = now;
                    }
                    report.failed.push((name.clone(), e.to_string()));
                }
            }
        }
        let gone: Vec<String> = entries
            .keys()
            .filter(|k| !found.contains_key(*k))
            .cloned()
            .collect();
        for name in gone {
            let drop_it = entries.get_mut(&name).is_some_and(|e| {
                e.missing += 1;
                e.missing >= 2
            });
            if drop_it {
                entries.remove(&name);
                report.removed.push(name);
                changed = true;
            }
        }
        if changed {
            self.publish(&entries);
        }
        report.loaded.sort();
        report.removed.sort();
        report
    }
}

/// A directory's name (the served model's name).
fn dir_name(dir: &Path) -> Result<String, ServeError> {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| ServeError::Source {
            path: dir.to_path_buf(),
            message: "has no directory name to serve the model under".into(),
        })
}
