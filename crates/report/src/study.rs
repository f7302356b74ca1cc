//! The report of a tuning study: a `forecast tune` experiment directory (`tune.out`), or
//! a study shared through PostgreSQL (`postgresql://…`, the database `forecast tune
//! --storage` wrote; read with plain queries, nothing created or changed).
//!
//! The directory is read, never written: `state.json` (the snapshot of every trial)
//! with the events of `journal.jsonl` replayed onto it, as [`tuner::Store::open`] reads
//! them, but without taking the experiment's lock, so a study can be reported while it
//! runs. The page shows the objective over trials with the running best, each trial's
//! learning curve (where the scheduler stopped a trial, its line ends, drawn dashed),
//! one scatter of objective against each parameter, the best configuration and a table
//! of every trial.

use crate::page::{finite, Block, Chart, ChartSpec, Page, Section, Table};
use crate::{ReportError, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tuner::store::{ExperimentState, TrialRecord, TrialStatus};
use tuner::Mode;

/// Builds the report of the study at `location` (a study directory, or its
/// `state.json`; or a PostgreSQL URL, with `name` the study's name, which may be left
/// out when the database holds one study).
pub fn build(location: &str, name: Option<&str>) -> Result<Page> {
    if location.starts_with("postgresql://") || location.starts_with("postgres://") {
        return Study::from_database(location, name)?.page();
    }
    if let Some(name) = name {
        return Err(ReportError::input(
            location,
            format!("a study name ('{name}') picks a study in a PostgreSQL database; a study directory holds one"),
        ));
    }
    let dir = study_dir(Path::new(location));
    let study = Study::read(&dir)?;
    study.page()
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The experiment directory named by `path` (the directory itself, or a file in it).
fn study_dir(path: &Path) -> PathBuf {
    if path.is_file() {
        if let Some(parent) = path.parent() {
            return parent.to_path_buf();
        }
    }
    path.to_path_buf()
}

/// A study as read from its directory.
#[derive(Debug, Clone)]
struct Study {
    dir: PathBuf,
    state: ExperimentState,
    metric: String,
    mode: Mode,
}

impl Study {
    /// A study of a PostgreSQL database (as `forecast tune --storage` wrote it).
    fn from_database(url: &str, name: Option<&str>) -> Result<Study> {
        let shown = redact(url);
        let fail = |e: tuner::Error| ReportError::input(&shown, e.to_string());
        let mut store = tuner::pgstore::PgStore::connect(url, std::time::Duration::from_secs(10))
            .map_err(fail)?;
        let (name, spec) = store.open_study(name).map_err(fail)?;
        let trials = store.trials().map_err(fail)?;
        Study::from_state(
            PathBuf::from(format!("{shown} (study '{name}')")),
            ExperimentState {
                version: 1,
                name,
                spec,
                trials,
                finished: false,
            },
            None,
        )
    }

    fn read(dir: &Path) -> Result<Study> {
        if !dir.is_dir() {
            return Err(ReportError::input(
                dir,
                "no such study directory (expected the `tune.out` directory of `forecast tune`)",
            ));
        }
        let path = dir.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ReportError::input(
                dir,
                if e.kind() == std::io::ErrorKind::NotFound {
                    "holds no study (state.json not found; expected the `tune.out` directory of `forecast tune`)".to_string()
                } else {
                    format!("reading state.json: {e}")
                },
            )
        })?;
        let mut state: ExperimentState = serde_json::from_str(&text)
            .map_err(|e| ReportError::input(&path, format!("not a study snapshot: {e}")))?;
        let journal = dir.join("journal.jsonl");
        if let Ok(text) = std::fs::read_to_string(&journal) {
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                match serde_json::from_str::<TrialRecord>(line) {
                    Ok(rec) => match state.trials.iter_mut().find(|t| t.id == rec.id) {
                        Some(t) => *t = rec,
                        None => state.trials.push(rec),
                    },
                    // A kill in the middle of an append leaves a torn last line.
                    Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                    Err(e) => {
                        return Err(ReportError::input(&journal, format!("line {}: {e}", i + 1)))
                    }
                }
            }
        }
        let best_file = std::fs::read_to_string(dir.join("best.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        Study::from_state(dir.to_path_buf(), state, best_file)
    }

    /// The study of `state`; its metric and mode from the spec's `[tune]`, else from
    /// `best_file` (a directory's `best.json`).
    fn from_state(
        dir: PathBuf,
        mut state: ExperimentState,
        best_file: Option<Value>,
    ) -> Result<Study> {
        state.trials.sort_by_key(|t| t.id);
        let tune = state.spec.get("tune");
        let lookup = |key: &str| {
            tune.and_then(|t| t.get(key))
                .or_else(|| best_file.as_ref().and_then(|b| b.get(key)))
                .cloned()
        };
        let metric = lookup("metric")
            .and_then(|m| m.as_str().map(str::to_string))
            .unwrap_or_else(|| "objective".to_string());
        let mode = lookup("mode")
            .and_then(|m| serde_json::from_value::<Mode>(m).ok())
            .unwrap_or_default();
        Ok(Study {
            dir,
            state,
            metric,
            mode,
        })
    }

    /// Trials with an objective that will not run again (completed or stopped early).
    fn finished(&self) -> Vec<(&TrialRecord, f64)> {
        self.state
            .trials
            .iter()
            .filter(|t| t.status.is_finished() && t.status != TrialStatus::Failed)
            .filter_map(|t| t.metric.and_then(finite).map(|m| (t, m)))
            .collect()
    }

    fn better(&self, a: f64, b: f64) -> bool {
        match self.mode {
            Mode::Min => a < b,
            Mode::Max => a > b,
        }
    }

    /// The best finished trial (the first of equals).
    fn best(&self) -> Option<(&TrialRecord, f64)> {
        let mut best: Option<(&TrialRecord, f64)> = None;
        for (t, m) in self.finished() {
            if best.is_none_or(|(_, b)| self.better(m, b)) {
                best = Some((t, m));
            }
        }
        best
    }

    fn page(&self) -> Result<Page> {
        let finished = self.finished();
        let Some((best, best_metric)) = self.best() else {
            return Err(ReportError::empty(
                &self.dir,
                format!(
                    "no finished trial with a '{}' yet ({} trials: {})",
                    self.metric,
                    self.state.trials.len(),
                    self.counts()
                ),
            ));
        };
        let direction = match self.mode {
            Mode::Min => "lower is better",
            Mode::Max => "higher is better",
        };
        let mut sections = vec![Section {
            heading: "Objective".into(),
            blocks: vec![
                Block::KeyValues(vec![
                    ("Study".into(), self.state.name.clone()),
                    ("Objective".into(), format!("{} ({direction})", self.metric)),
                    ("Trials".into(), self.counts()),
                    (
                        "Status".into(),
                        if self.state.finished {
                            "finished".into()
                        } else {
                            "not finished (running, interrupted or resumable)".into()
                        },
                    ),
                ]),
                Block::Chart(self.objective_chart(&finished)),
            ],
        }];
        sections.push(Section {
            heading: "Learning curves".into(),
            blocks: self.learning_curves(),
        });
        let params = self.param_charts(&finished);
        if !params.is_empty() {
            sections.push(Section {
                heading: "Parameters".into(),
                blocks: vec![
                    Block::Text(format!(
                        "Each finished trial's {} against one parameter's value.",
                        self.metric
                    )),
                    Block::ChartGrid(params),
                ],
            });
        }
        let mut kv = vec![
            ("Trial".into(), best.id.to_string()),
            (self.metric.clone(), best_metric.to_string()),
            ("State".into(), state_name(best).into()),
            ("Epochs".into(), best.iterations().to_string()),
        ];
        for (k, v) in &best.params {
            kv.push((k.clone(), value_text(v)));
        }
        sections.push(Section {
            heading: "Best configuration".into(),
            blocks: vec![Block::KeyValues(kv)],
        });
        sections.push(Section {
            heading: "Trials".into(),
            blocks: vec![Block::Table(self.trials_table())],
        });
        Ok(Page {
            title: format!("Tuning study: {}", self.state.name),
            subtitle: Some(format!(
                "{} · {} trials · best {} = {} (trial {})",
                self.dir.display(),
                self.state.trials.len(),
                self.metric,
                best_metric,
                best.id
            )),
            sections,
        })
    }

    fn counts(&self) -> String {
        let mut parts = Vec::new();
        for s in [
            TrialStatus::Completed,
            TrialStatus::Stopped,
            TrialStatus::Failed,
            TrialStatus::Running,
            TrialStatus::Paused,
            TrialStatus::Pending,
        ] {
            let n = self.state.trials.iter().filter(|t| t.status == s).count();
            if n > 0 {
                let name = if s == TrialStatus::Stopped {
                    "stopped early"
                } else {
                    s.name()
                };
                parts.push(format!("{n} {name}"));
            }
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }

    /// Every finished trial's objective by trial number (completed and stopped-early
    /// trials apart) and the running best.
    fn objective_chart(&self, finished: &[(&TrialRecord, f64)]) -> Chart {
        let point = |t: &TrialRecord, m: f64| json!({"value": [t.id, m], "name": format!("trial {}", t.id)});
        let completed: Vec<Value> = finished
            .iter()
            .filter(|(t, _)| t.status != TrialStatus::Stopped)
            .map(|(t, m)| point(t, *m))
            .collect();
        let stopped: Vec<Value> = finished
            .iter()
            .filter(|(t, _)| t.status == TrialStatus::Stopped)
            .map(|(t, m)| point(t, *m))
            .collect();
        let mut running = Vec::new();
        let mut best: Option<f64> = None;
        for (t, m) in finished {
            if best.is_none_or(|b| self.better(*m, b)) {
                best = Some(*m);
            }
            if let Some(b) = best {
                running.push(json!({"value": [t.id, b], "name": format!("after trial {}", t.id)}));
            }
        }
        let mut series = vec![json!({
            "name": "completed", "type": "scatter", "data": completed, "symbolSize": 8,
        })];
        if !stopped.is_empty() {
            series.push(json!({
                "name": "stopped early", "type": "scatter", "data": stopped,
                "symbol": "triangle", "symbolSize": 9,
            }));
        }
        series.push(json!({
            "name": "best so far", "type": "line", "step": "end", "data": running,
            "showSymbol": false, "lineStyle": {"width": 2},
        }));
        Chart {
            id: "objective".into(),
            title: format!("{} by trial", self.metric),
            height: 360,
            spec: ChartSpec::ECharts(json!({
                "animation": false,
                "title": {"text": format!("{} by trial", self.metric), "left": "center",
                          "textStyle": {"fontSize": 14}},
                "tooltip": {"trigger": "item", "formatter": "values"},
                "legend": {"top": 26},
                "grid": {"left": 72, "right": 28, "top": 64, "bottom": 72},
                "xAxis": {"type": "value", "name": "trial", "minInterval": 1},
                "yAxis": {"type": "value", "name": self.metric, "scale": true},
                "dataZoom": [{"type": "inside"}, {"type": "slider", "bottom": 14}],
                "series": series,
            })),
        }
    }

    /// One line per trial of the objective at each reported epoch / step; a trial the
    /// scheduler stopped ends where it stopped and is dashed.
    fn learning_curves(&self) -> Vec<Block> {
        let with_curves: Vec<&TrialRecord> = self
            .state
            .trials
            .iter()
            .filter(|t| {
                t.history
                    .iter()
                    .any(|r| r.metrics.contains_key(&self.metric))
            })
            .collect();
        let longest = with_curves
            .iter()
            .map(|t| t.history.len())
            .max()
            .unwrap_or(0);
        if longest < 2 {
            return vec![Block::Text(format!(
                "Every trial reported its {} once: there are no learning curves to draw.",
                self.metric
            ))];
        }
        let mut series = Vec::new();
        for t in &with_curves {
            let data: Vec<Value> = t
                .history
                .iter()
                .filter_map(|r| {
                    let v = r.metrics.get(&self.metric).copied().and_then(finite)?;
                    Some(json!({"value": [r.iteration, v], "name": format!("epoch {}", r.iteration)}))
                })
                .collect();
            let stopped = t.status == TrialStatus::Stopped;
            let failed = t.status == TrialStatus::Failed;
            let mut s = json!({
                "name": format!("trial {} ({})", t.id, state_name(t)),
                "type": "line", "data": data, "showSymbol": false,
                "emphasis": {"focus": "series"},
                "lineStyle": {"width": if stopped || failed { 1.0 } else { 1.6 },
                              "type": if stopped { "dashed" } else if failed { "dotted" } else { "solid" },
                              "opacity": if stopped || failed { 0.6 } else { 0.9 }},
            });
            if stopped || failed {
                // A marker where the trial ended.
                if let Some(last) = s["data"].as_array().and_then(|d| d.last()).cloned() {
                    s["markPoint"] = json!({
                        "symbol": if stopped { "triangle" } else { "pin" }, "symbolSize": 9,
                        "silent": true, "label": {"show": false},
                        "data": [{"coord": last["value"]}],
                    });
                }
            }
            series.push(s);
        }
        let stopped = with_curves
            .iter()
            .filter(|t| t.status == TrialStatus::Stopped)
            .count();
        vec![
            Block::Text(format!(
                "{} per epoch of {} trials; {stopped} stopped early by the scheduler (dashed, ending where it stopped, marked with a triangle).",
                self.metric,
                with_curves.len()
            )),
            Block::Chart(Chart {
                id: "learning-curves".into(),
                title: format!("{} per epoch", self.metric),
                height: 420,
                spec: ChartSpec::ECharts(json!({
                    "animation": false,
                    "title": {"text": format!("{} per epoch", self.metric), "left": "center",
                              "textStyle": {"fontSize": 14}},
                    "tooltip": {"trigger": "item", "formatter": "values"},
                    "legend": {"top": 26, "type": "scroll"},
                    "grid": {"left": 72, "right": 28, "top": 64, "bottom": 72},
                    "xAxis": {"type": "value", "name": "epoch", "minInterval": 1},
                    "yAxis": {"type": "value", "name": self.metric, "scale": true},
                    "dataZoom": [{"type": "inside"}, {"type": "slider", "bottom": 14}],
                    "series": series,
                })),
            }),
        ]
    }

    /// One small scatter per parameter: objective against the parameter's value (a
    /// category axis for strings and booleans, a log axis for values spanning orders of
    /// magnitude).
    fn param_charts(&self, finished: &[(&TrialRecord, f64)]) -> Vec<Chart> {
        let names: BTreeSet<&String> = finished.iter().flat_map(|(t, _)| t.params.keys()).collect();
        let mut charts = Vec::new();
        for (k, name) in names.into_iter().enumerate() {
            let values: Vec<(&TrialRecord, &Value, f64)> = finished
                .iter()
                .filter_map(|(t, m)| t.params.get(name).map(|v| (*t, v, *m)))
                .collect();
            let numeric = values.iter().all(|(_, v, _)| v.is_number());
            let (x_axis, data): (Value, Vec<Value>) = if numeric {
                let xs: Vec<f64> = values.iter().filter_map(|(_, v, _)| v.as_f64()).collect();
                let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log = lo > 0.0 && hi / lo >= 100.0;
                (
                    json!({"type": if log { "log" } else { "value" }, "name": name, "scale": true}),
                    values
                        .iter()
                        .map(
                            |(t, v, m)| json!({"value": [v, m], "name": format!("trial {}", t.id)}),
                        )
                        .collect(),
                )
            } else {
                let mut categories: Vec<String> =
                    values.iter().map(|(_, v, _)| value_text(v)).collect();
                categories.sort();
                categories.dedup();
                (
                    json!({"type": "category", "name": name, "data": categories}),
                    values
                        .iter()
                        .map(|(t, v, m)| json!({"value": [value_text(v), m], "name": format!("trial {}", t.id)}))
                        .collect(),
                )
            };
            charts.push(Chart {
                id: format!("param-{k}"),
                title: format!("{} vs {name}", self.metric),
                height: 260,
                spec: ChartSpec::ECharts(json!({
                    "animation": false,
                    "title": {"text": name, "left": "center", "textStyle": {"fontSize": 13}},
                    "tooltip": {"trigger": "item", "formatter": "values"},
                    "grid": {"left": 64, "right": 24, "top": 40, "bottom": 48},
                    "xAxis": x_axis,
                    "yAxis": {"type": "value", "name": self.metric, "scale": true},
                    "series": [{"name": self.metric, "type": "scatter", "data": data, "symbolSize": 7}],
                })),
            });
        }
        charts
    }

    fn trials_table(&self) -> Table {
        let rows = self
            .state
            .trials
            .iter()
            .map(|t| {
                vec![
                    t.id.to_string(),
                    state_name(t).to_string(),
                    t.params
                        .iter()
                        .map(|(k, v)| format!("{k}={}", value_text(v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    t.metric.map_or("–".into(), |m| m.to_string()),
                    t.iterations().to_string(),
                    format!("{:.1}", t.seconds),
                    t.error
                        .clone()
                        .or_else(|| t.stop_reason.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        Table {
            id: "trials".into(),
            columns: vec![
                "trial".into(),
                "state".into(),
                "params".into(),
                self.metric.clone(),
                "epochs".into(),
                "seconds".into(),
                "note".into(),
            ],
            rows,
            searchable: true,
        }
    }
}

fn state_name(t: &TrialRecord) -> &'static str {
    match t.status {
        TrialStatus::Stopped => "stopped early",
        s => s.name(),
    }
}

/// A parameter value as written in tables and category axes (strings unquoted).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tuner::store::ResultRow;

    fn trial(id: usize, status: TrialStatus, params: Value, curve: &[f64]) -> TrialRecord {
        let mut t = TrialRecord::new(id, serde_json::from_value(params).unwrap());
        t.status = status;
        t.history = curve
            .iter()
            .enumerate()
            .map(|(i, v)| ResultRow {
                iteration: i + 1,
                metrics: BTreeMap::from([("valid_loss".to_string(), *v)]),
            })
            .collect();
        t.metric = curve.iter().copied().reduce(f64::min);
        if status == TrialStatus::Stopped {
            t.stop_reason = Some("asha".into());
        }
        t
    }

    fn write_study(dir: &Path, trials: &[TrialRecord], journal: &[TrialRecord]) {
        let state = json!({
            "version": 1, "name": "demo", "finished": true,
            "spec": {"tune": {"metric": "valid_loss", "mode": "min"}},
            "trials": trials,
        });
        std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
        let lines: String = journal
            .iter()
            .map(|t| serde_json::to_string(t).unwrap() + "\n")
            .collect();
        std::fs::write(dir.join("journal.jsonl"), lines).unwrap();
    }

    fn demo(dir: &Path) {
        write_study(
            dir,
            &[
                trial(
                    0,
                    TrialStatus::Completed,
                    json!({"hidden": 8, "lr": 0.001, "cell": "lstm"}),
                    &[0.9, 0.6, 0.5, 0.45],
                ),
                trial(
                    1,
                    TrialStatus::Stopped,
                    json!({"hidden": 16, "lr": 0.1, "cell": "gru"}),
                    &[1.2, 1.1],
                ),
                trial(
                    2,
                    TrialStatus::Running,
                    json!({"hidden": 32, "lr": 0.01, "cell": "lstm"}),
                    &[],
                ),
            ],
            // The journal finishes trial 2 and adds a failed trial 3.
            &[
                trial(
                    2,
                    TrialStatus::Completed,
                    json!({"hidden": 32, "lr": 0.01, "cell": "lstm"}),
                    &[0.8, 0.5, 0.4, 0.3],
                ),
                trial(
                    3,
                    TrialStatus::Failed,
                    json!({"hidden": 8, "lr": 0.5, "cell": "gru"}),
                    &[],
                ),
            ],
        );
    }

    fn chart<'a>(page: &'a Page, id: &str) -> &'a Chart {
        page.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .flat_map(|b| match b {
                Block::Chart(c) => vec![c],
                Block::ChartGrid(cs) => cs.iter().collect(),
                _ => vec![],
            })
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no chart {id}"))
    }

    #[test]
    fn a_study_has_its_sections_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        demo(dir.path());
        let page = build(dir.path().to_str().unwrap(), None).unwrap();
        let headings: Vec<&str> = page.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(
            headings,
            [
                "Objective",
                "Learning curves",
                "Parameters",
                "Best configuration",
                "Trials"
            ]
        );
        let obj = chart(&page, "objective").option();
        let series = obj["series"].as_array().unwrap();
        assert_eq!(series.len(), 3);
        assert_eq!(series[0]["data"].as_array().unwrap().len(), 2); // trials 0 and 2
        assert_eq!(series[1]["name"], "stopped early");
        assert_eq!(series[1]["data"][0]["value"], json!([1, 1.1]));
        // running best: 0.45, 0.45, 0.3
        let best: Vec<f64> = series[2]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"][1].as_f64().unwrap())
            .collect();
        assert_eq!(best, [0.45, 0.45, 0.3]);

        let curves = chart(&page, "learning-curves").option();
        let lines = curves["series"].as_array().unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["lineStyle"]["type"], "dashed");
        assert_eq!(lines[1]["data"].as_array().unwrap().len(), 2);
        assert_eq!(lines[1]["markPoint"]["data"][0]["coord"], json!([2, 1.1]));
        assert_eq!(lines[2]["data"][3]["value"], json!([4, 0.3]));

        // hidden and lr numeric (lr on a log axis), cell categorical
        let cell = chart(&page, "param-0").option();
        assert_eq!(cell["xAxis"]["type"], "category");
        assert_eq!(cell["xAxis"]["data"], json!(["gru", "lstm"]));
        assert_eq!(chart(&page, "param-1").option()["xAxis"]["type"], "value");
        assert_eq!(chart(&page, "param-2").option()["xAxis"]["type"], "log");
        assert_eq!(
            chart(&page, "param-2").option()["series"][0]["data"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        let Block::KeyValues(kv) = &page.sections[3].blocks[0] else {
            panic!("best configuration")
        };
        assert!(kv.contains(&("Trial".into(), "2".into())));
        assert!(kv.contains(&("valid_loss".into(), "0.3".into())));
        assert!(kv.contains(&("hidden".into(), "32".into())));
        let Block::Table(t) = &page.sections[4].blocks[0] else {
            panic!("trials table")
        };
        assert!(t.searchable);
        assert_eq!(t.rows.len(), 4);
        assert_eq!(t.rows[1][1], "stopped early");
        assert_eq!(t.rows[3][1], "failed");
        assert_eq!(t.rows[0][4], "4");
    }

    #[test]
    fn maximising_studies_take_the_highest() {
        let dir = tempfile::tempdir().unwrap();
        let trials = [
            trial(0, TrialStatus::Completed, json!({"x": 1}), &[0.2]),
            trial(1, TrialStatus::Completed, json!({"x": 2}), &[0.7]),
        ];
        let state = json!({
            "version": 1, "name": "max", "finished": true,
            "spec": {"tune": {"metric": "valid_loss", "mode": "max"}},
            "trials": trials,
        });
        std::fs::write(dir.path().join("state.json"), state.to_string()).unwrap();
        let page = build(dir.path().to_str().unwrap(), None).unwrap();
        let Block::KeyValues(kv) = &page.sections[3].blocks[0] else {
            panic!("best configuration")
        };
        assert!(kv.contains(&("Trial".into(), "1".into())));
        // One report per trial: no learning curves, said in words.
        assert!(
            matches!(&page.sections[1].blocks[0], Block::Text(t) if t.contains("no learning curves"))
        );
    }

    #[test]
    fn bad_locations_are_clear_errors() {
        // Nothing listens on port 1: a clear error, the password not shown.
        let err = build("postgresql://tuner:secret@127.0.0.1:1/studies", None).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReportError::Input { .. }));
        assert!(
            msg.contains("cannot connect")
                && msg.contains("127.0.0.1:1")
                && !msg.contains("secret"),
            "{msg}"
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let msg = build(missing.to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("nope"), "{msg}");
        let msg = build(dir.path().to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("state.json not found"), "{msg}");

        std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
        let msg = build(dir.path().to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("state.json") && msg.contains("not a study"),
            "{msg}"
        );

        write_study(
            dir.path(),
            &[trial(0, TrialStatus::Failed, json!({"x": 1}), &[])],
            &[],
        );
        let err = build(dir.path().to_str().unwrap(), None).unwrap_err();
        assert!(matches!(err, ReportError::Empty { .. }), "{err}");

        std::fs::write(dir.path().join("journal.jsonl"), "garbage\n{}\n").unwrap();
        let msg = build(dir.path().to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("journal.jsonl") && msg.contains("line 1"),
            "{msg}"
        );
    }
}
