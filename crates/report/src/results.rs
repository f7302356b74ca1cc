//! The report of experiment results or a panel's backtest.
//!
//! Two JSON documents are read, told apart by their keys:
//!
//! - `forecast experiment run --json` (and `experiments/results/<name>.json`): a
//!   `results` array of horizons, each with its `models` and their `metrics` beside the
//!   naive forecast's;
//! - a panel's `forecast backtest --json`: one `model`, its pooled `metrics` beside
//!   `baseline.naive`, and `per_series` scores.
//!
//! The page holds the accuracy table (each model beside the naive forecast, and their
//! ratio), a bar chart of the main metric per model and, for a panel, a searchable table
//! of every series and small charts of the best and worst six. A per-series entry that
//! carries its `ds`, `actual` and `forecast` arrays (optionally `lower` / `upper`) is
//! drawn as forecast against actual; one without them as bars of its metrics.

use crate::page::{finite, Block, Chart, ChartSpec, Page, Section, Series, Table, TimeChart};
use crate::{ReportError, Result};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The metrics shown, in order, when a result has them.
const METRICS: [&str; 5] = ["mae", "rmse", "mape", "smape", "mase"];

/// Series drawn at each end of a panel's ranking.
const RANKED: usize = 6;

/// Builds the report of the results JSON in `path`.
pub fn build(path: &Path) -> Result<Page> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReportError::input(path, format!("cannot read the results: {e}")))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| ReportError::input(path, format!("not valid JSON: {e}")))?;
    let Some(keys) = doc.as_object() else {
        return Err(ReportError::input(
            path,
            "expected a JSON object (`experiment run --json` or a panel's `backtest --json`)",
        ));
    };
    if keys.contains_key("results") {
        let exp: Experiment = serde_json::from_value(doc)
            .map_err(|e| ReportError::input(path, format!("experiment results: {e}")))?;
        experiment_page(path, exp)
    } else if keys.contains_key("metrics") && keys.contains_key("baseline") {
        let bt: PanelBacktest = serde_json::from_value(doc)
            .map_err(|e| ReportError::input(path, format!("backtest results: {e}")))?;
        backtest_page(path, bt)
    } else {
        Err(ReportError::input(
            path,
            format!(
                "not a results document: expected `results` (`experiment run --json`) or `metrics`, `baseline` and `per_series` (a panel's `backtest --json`); found keys: {}",
                keys.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ))
    }
}

/// Metrics by name; `null` where undefined (MAPE with a zero actual).
type Metrics = BTreeMap<String, Option<f64>>;

fn metric(m: Option<&Metrics>, name: &str) -> Option<f64> {
    m.and_then(|m| m.get(name).copied().flatten())
        .and_then(finite)
}

/// `experiment run --json`.
#[derive(Debug, Deserialize)]
struct Experiment {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    series: usize,
    results: Vec<HorizonResult>,
}

#[derive(Debug, Deserialize)]
struct HorizonResult {
    horizon: usize,
    #[serde(default)]
    folds: usize,
    models: Vec<ModelResult>,
}

#[derive(Debug, Deserialize)]
struct ModelResult {
    name: String,
    metrics: Option<Metrics>,
    naive: Option<Metrics>,
    owa: Option<f64>,
    #[serde(default)]
    seconds: f64,
    error: Option<String>,
}

/// A panel's `backtest --json`.
#[derive(Debug, Deserialize)]
struct PanelBacktest {
    model: String,
    #[serde(default)]
    horizon: usize,
    #[serde(default)]
    evaluation: Option<String>,
    metrics: Metrics,
    baseline: Baseline,
    #[serde(default)]
    per_series: Vec<SeriesResult>,
    #[serde(default)]
    skipped: Vec<Value>,
    #[serde(default)]
    failed: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Baseline {
    naive: Metrics,
}

#[derive(Debug, Deserialize)]
struct SeriesResult {
    unique_id: String,
    #[serde(default)]
    rows: usize,
    metrics: Metrics,
    naive: Metrics,
    /// Optional values of the scored steps, for drawing the series.
    #[serde(default)]
    ds: Vec<Value>,
    #[serde(default)]
    actual: Vec<Option<f64>>,
    #[serde(default)]
    forecast: Vec<Option<f64>>,
    #[serde(default)]
    lower: Vec<Option<f64>>,
    #[serde(default)]
    upper: Vec<Option<f64>>,
}

/// One row of the accuracy table.
struct Row<'a> {
    label: String,
    horizon: Option<usize>,
    metrics: Option<&'a Metrics>,
    naive: Option<&'a Metrics>,
    owa: Option<f64>,
    seconds: Option<f64>,
    error: Option<&'a str>,
}

/// The metric a page ranks by: MASE when every scored row has it, else sMAPE, else MAE.
fn main_metric(rows: &[Row<'_>]) -> &'static str {
    let scored: Vec<&Row> = rows.iter().filter(|r| r.metrics.is_some()).collect();
    ["mase", "smape", "mae"]
        .into_iter()
        .find(|m| scored.iter().all(|r| metric(r.metrics, m).is_some()))
        .unwrap_or("mae")
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 1000.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.4}"),
        None => "–".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => finite(a / b),
        _ => None,
    }
}

/// The metrics any row defines, in [`METRICS`] order.
fn shown_metrics(rows: &[Row<'_>]) -> Vec<&'static str> {
    METRICS
        .into_iter()
        .filter(|m| rows.iter().any(|r| metric(r.metrics, m).is_some()))
        .collect()
}

fn accuracy_table(rows: &[Row<'_>]) -> Table {
    let metrics = shown_metrics(rows);
    let horizons = rows.iter().any(|r| r.horizon.is_some());
    let owa = rows.iter().any(|r| r.owa.is_some());
    let seconds = rows.iter().any(|r| r.seconds.is_some());
    let errors = rows.iter().any(|r| r.error.is_some());
    let mut columns = vec!["model".to_string()];
    if horizons {
        columns.push("horizon".into());
    }
    for m in &metrics {
        columns.push(m.to_string());
        columns.push(format!("naive {m}"));
        columns.push(format!("{m} / naive"));
    }
    if owa {
        columns.push("owa".into());
    }
    if seconds {
        columns.push("seconds".into());
    }
    if errors {
        columns.push("error".into());
    }
    let body = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.label.clone()];
            if horizons {
                cells.push(r.horizon.map_or(String::new(), |h| h.to_string()));
            }
            for m in &metrics {
                let (a, b) = (metric(r.metrics, m), metric(r.naive, m));
                cells.push(fmt(a));
                cells.push(fmt(b));
                cells.push(fmt(ratio(a, b)));
            }
            if owa {
                cells.push(fmt(r.owa));
            }
            if seconds {
                cells.push(r.seconds.map_or(String::new(), |s| format!("{s:.2}")));
            }
            if errors {
                cells.push(r.error.unwrap_or_default().to_string());
            }
            cells
        })
        .collect();
    Table {
        id: "accuracy".into(),
        columns,
        rows: body,
        searchable: rows.len() > 20,
    }
}

/// The main metric of every model, bars beside the naive forecast's.
fn metric_bars(rows: &[Row<'_>], main: &str) -> Chart {
    let scored: Vec<&Row> = rows.iter().filter(|r| r.metrics.is_some()).collect();
    let labels: Vec<String> = scored
        .iter()
        .map(|r| match r.horizon {
            Some(h) => format!("{} (h={h})", r.label),
            None => r.label.clone(),
        })
        .collect();
    let model: Vec<Option<f64>> = scored.iter().map(|r| metric(r.metrics, main)).collect();
    let naive: Vec<Option<f64>> = scored.iter().map(|r| metric(r.naive, main)).collect();
    let title = format!("{} by model (lower is better)", main.to_uppercase());
    Chart {
        id: "main-metric".into(),
        title: title.clone(),
        height: 360,
        spec: ChartSpec::ECharts(json!({
            "animation": false,
            "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}, "formatter": "values"},
            "legend": {"top": 26},
            "grid": {"left": 72, "right": 28, "top": 64, "bottom": 96},
            "xAxis": {"type": "category", "data": labels, "axisLabel": {"rotate": 30, "interval": 0}},
            "yAxis": {"type": "value", "name": main},
            "series": [
                {"name": "model", "type": "bar", "data": model},
                {"name": "naive", "type": "bar", "data": naive, "itemStyle": {"color": "#b0b7c3"}},
            ],
        })),
    }
}

fn experiment_page(path: &Path, exp: Experiment) -> Result<Page> {
    let several = exp.results.len() > 1;
    let rows: Vec<Row> = exp
        .results
        .iter()
        .flat_map(|h| {
            h.models.iter().map(move |m| Row {
                label: m.name.clone(),
                horizon: several.then_some(h.horizon),
                metrics: m.metrics.as_ref(),
                naive: m.naive.as_ref(),
                owa: m.owa,
                seconds: Some(m.seconds),
                error: m.error.as_deref(),
            })
        })
        .collect();
    if rows.is_empty() {
        return Err(ReportError::empty(
            path,
            "the experiment results hold no models",
        ));
    }
    if rows.iter().all(|r| r.metrics.is_none()) {
        return Err(ReportError::empty(
            path,
            "every model of the experiment failed: there is no accuracy to show",
        ));
    }
    let main = main_metric(&rows);
    let name = exp.name.clone().unwrap_or_else(|| file_stem(path));
    let mut kv = vec![("Study".to_string(), name.clone())];
    if let Some(d) = &exp.description {
        kv.push(("Question".into(), d.clone()));
    }
    if exp.series > 1 {
        kv.push(("Series".into(), exp.series.to_string()));
    }
    for h in &exp.results {
        kv.push((
            format!("Horizon {}", h.horizon),
            format!("{} models, {} folds", h.models.len(), h.folds),
        ));
    }
    kv.push(("Ranked by".into(), main.to_string()));
    Ok(Page {
        title: format!("Experiment results: {name}"),
        subtitle: Some(path.display().to_string()),
        sections: vec![
            Section {
                heading: "Accuracy".into(),
                blocks: vec![
                    Block::KeyValues(kv),
                    Block::Text(
                        "Each model beside the naive forecast on the same folds; a ratio below 1 beats naive."
                            .into(),
                    ),
                    Block::Table(accuracy_table(&rows)),
                ],
            },
            Section {
                heading: format!("{} by model", main.to_uppercase()),
                blocks: vec![Block::Chart(metric_bars(&rows, main))],
            },
        ],
    })
}

fn backtest_page(path: &Path, bt: PanelBacktest) -> Result<Page> {
    if bt.per_series.is_empty() {
        return Err(ReportError::empty(
            path,
            "the backtest scored no series (`per_series` is empty or missing; a backtest of one series is reported with --backtest)",
        ));
    }
    let rows = [Row {
        label: bt.model.clone(),
        horizon: None,
        metrics: Some(&bt.metrics),
        naive: Some(&bt.baseline.naive),
        owa: None,
        seconds: None,
        error: None,
    }];
    let main = main_metric(&rows);
    let mut kv = vec![
        ("Model".to_string(), bt.model.clone()),
        ("Horizon".into(), bt.horizon.to_string()),
    ];
    if let Some(e) = &bt.evaluation {
        kv.push(("Evaluation".into(), e.clone()));
    }
    kv.push(("Series scored".into(), bt.per_series.len().to_string()));
    kv.push(("Skipped".into(), bt.skipped.len().to_string()));
    kv.push(("Failed".into(), bt.failed.len().to_string()));
    kv.push(("Ranked by".into(), main.to_string()));
    let mut sections = vec![
        Section {
            heading: "Accuracy".into(),
            blocks: vec![
                Block::KeyValues(kv),
                Block::Text(
                    "Metrics are the mean over series, beside the naive forecast's on the same steps; a ratio below 1 beats naive."
                        .into(),
                ),
                Block::Table(accuracy_table(&rows)),
            ],
        },
        Section {
            heading: format!("{} by model", main.to_uppercase()),
            blocks: vec![Block::Chart(metric_bars(&rows, main))],
        },
    ];
    sections.push(Section {
        heading: "Series".into(),
        blocks: vec![Block::Table(series_table(&bt.per_series, main))],
    });
    sections.push(ranked_section(&bt.per_series, main));
    Ok(Page {
        title: format!("Panel backtest: {}", bt.model),
        subtitle: Some(format!(
            "{} · {} series · horizon {}",
            path.display(),
            bt.per_series.len(),
            bt.horizon
        )),
        sections,
    })
}

fn series_table(per_series: &[SeriesResult], main: &str) -> Table {
    let metrics: Vec<&str> = METRICS
        .into_iter()
        .filter(|m| {
            per_series
                .iter()
                .any(|s| metric(Some(&s.metrics), m).is_some())
        })
        .collect();
    let mut columns = vec!["id".to_string(), "n".to_string()];
    columns.extend(metrics.iter().map(|m| m.to_string()));
    columns.push(format!("naive {main}"));
    columns.push(format!("{main} / naive"));
    let rows = per_series
        .iter()
        .map(|s| {
            let mut cells = vec![s.unique_id.clone(), s.rows.to_string()];
            cells.extend(metrics.iter().map(|m| fmt(metric(Some(&s.metrics), m))));
            let (a, b) = (metric(Some(&s.metrics), main), metric(Some(&s.naive), main));
            cells.push(fmt(b));
            cells.push(fmt(ratio(a, b)));
            cells
        })
        .collect();
    Table {
        id: "series".into(),
        columns,
        rows,
        searchable: true,
    }
}

/// The best and the worst series by `main` (each series at most once; series without
/// the metric are not ranked).
fn ranked<'a>(
    per_series: &'a [SeriesResult],
    main: &str,
) -> (Vec<&'a SeriesResult>, Vec<&'a SeriesResult>) {
    let mut scored: Vec<(&SeriesResult, f64)> = per_series
        .iter()
        .filter_map(|s| metric(Some(&s.metrics), main).map(|v| (s, v)))
        .collect();
    scored.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then_with(|| a.0.unique_id.cmp(&b.0.unique_id))
    });
    let best: Vec<&SeriesResult> = scored.iter().take(RANKED).map(|(s, _)| *s).collect();
    let rest = scored.len().saturating_sub(best.len()).min(RANKED);
    let worst: Vec<&SeriesResult> = scored.iter().rev().take(rest).map(|(s, _)| *s).collect();
    (best, worst)
}

fn ranked_section(per_series: &[SeriesResult], main: &str) -> Section {
    let (best, worst) = ranked(per_series, main);
    let drawable = |s: &SeriesResult| !s.actual.is_empty() && s.actual.len() == s.forecast.len();
    let all_drawable = best.iter().chain(&worst).all(|s| drawable(s));
    let mut charts = Vec::new();
    for (which, list) in [("best", &best), ("worst", &worst)] {
        for (i, s) in list.iter().enumerate() {
            let title = format!(
                "{which} {}: {} · {main} {} (naive {})",
                i + 1,
                s.unique_id,
                fmt(metric(Some(&s.metrics), main)),
                fmt(metric(Some(&s.naive), main))
            );
            let id = format!("{which}-{}", i + 1);
            charts.push(if all_drawable {
                series_chart(s, id, title)
            } else {
                series_metric_bars(s, id, title)
            });
        }
    }
    let text = if all_drawable {
        format!(
            "The {} series with the lowest and the {} with the highest {main}: forecast against actual over the scored steps.",
            best.len(),
            worst.len()
        )
    } else {
        format!(
            "The {} series with the lowest and the {} with the highest {main}: each series' metrics beside the naive forecast's (log scale). The backtest JSON carries no per-series values to draw the series themselves.",
            best.len(),
            worst.len()
        )
    };
    Section {
        heading: format!("Best and worst series by {main}"),
        blocks: vec![Block::Text(text), Block::ChartGrid(charts)],
    }
}

/// A series' scored steps: actual, forecast and its interval when given.
fn series_chart(s: &SeriesResult, id: String, title: String) -> Chart {
    let n = s.actual.len();
    let x: Vec<String> = if s.ds.len() == n {
        s.ds.iter()
            .map(|v| match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            })
            .collect()
    } else {
        (1..=n).map(|i| i.to_string()).collect()
    };
    let clean = |v: &[Option<f64>]| v.iter().map(|v| v.and_then(finite)).collect::<Vec<_>>();
    let mut series = Vec::new();
    if s.lower.len() == n && s.upper.len() == n {
        series.push(Series::Band {
            name: "interval".into(),
            lo: clean(&s.lower),
            hi: clean(&s.upper),
        });
    }
    series.push(Series::Line {
        name: "actual".into(),
        values: clean(&s.actual),
        dashed: false,
    });
    series.push(Series::Line {
        name: "forecast".into(),
        values: clean(&s.forecast),
        dashed: true,
    });
    Chart {
        id,
        title,
        height: 240,
        spec: ChartSpec::Time(TimeChart {
            x,
            series,
            y_name: None,
        }),
    }
}

/// A series' metrics as bars beside the naive forecast's, on a log axis (the metrics
/// differ in scale).
fn series_metric_bars(s: &SeriesResult, id: String, title: String) -> Chart {
    let names: Vec<&str> = METRICS
        .into_iter()
        .filter(|m| metric(Some(&s.metrics), m).is_some())
        .collect();
    let positive = |m: &Metrics, name: &str| metric(Some(m), name).filter(|v| *v > 0.0);
    let model: Vec<Option<f64>> = names.iter().map(|m| positive(&s.metrics, m)).collect();
    let naive: Vec<Option<f64>> = names.iter().map(|m| positive(&s.naive, m)).collect();
    let mut option = Map::new();
    option.insert("animation".into(), json!(false));
    option.insert(
        "title".into(),
        json!({"text": title, "left": "center", "textStyle": {"fontSize": 12}}),
    );
    option.insert(
        "tooltip".into(),
        json!({"trigger": "axis", "axisPointer": {"type": "shadow"}, "formatter": "values"}),
    );
    option.insert("legend".into(), json!({"top": 22, "itemHeight": 8}));
    option.insert(
        "grid".into(),
        json!({"left": 52, "right": 16, "top": 52, "bottom": 28}),
    );
    option.insert("xAxis".into(), json!({"type": "category", "data": names}));
    option.insert("yAxis".into(), json!({"type": "log"}));
    option.insert(
        "series".into(),
        json!([
            {"name": "model", "type": "bar", "data": model},
            {"name": "naive", "type": "bar", "data": naive, "itemStyle": {"color": "#b0b7c3"}},
        ]),
    );
    Chart {
        id,
        title,
        height: 240,
        spec: ChartSpec::ECharts(Value::Object(option)),
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../experiments/results")
            .join(name)
    }

    fn charts(page: &Page) -> Vec<&Chart> {
        page.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .flat_map(|b| match b {
                Block::Chart(c) => vec![c],
                Block::ChartGrid(cs) => cs.iter().collect(),
                _ => vec![],
            })
            .collect()
    }

    fn table<'a>(page: &'a Page, id: &str) -> &'a Table {
        page.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .find_map(|b| match b {
                Block::Table(t) if t.id == id => Some(t),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no table {id}"))
    }

    #[test]
    fn an_experiment_has_its_accuracy_table_and_bars() {
        let path = shipped("quick-airpassengers.json");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let models = doc["results"][0]["models"].as_array().unwrap();
        let page = build(&path).unwrap();
        let headings: Vec<&str> = page.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["Accuracy", "MASE by model"]);
        let t = table(&page, "accuracy");
        assert_eq!(t.rows.len(), models.len());
        assert_eq!(t.rows[3][0], models[3]["name"].as_str().unwrap());
        let mase_col = t.columns.iter().position(|c| c == "mase").unwrap();
        let m = models[3]["metrics"]["mase"].as_f64().unwrap();
        assert_eq!(t.rows[3][mase_col], format!("{m:.4}"));
        assert!(t.columns.contains(&"mase / naive".to_string()));

        let bars = charts(&page)[0].option();
        assert_eq!(bars["series"].as_array().unwrap().len(), 2);
        assert_eq!(
            bars["xAxis"]["data"].as_array().unwrap().len(),
            models.len()
        );
        assert_eq!(bars["series"][0]["data"][3].as_f64(), Some(m));
        assert_eq!(
            bars["series"][1]["data"][3].as_f64(),
            models[3]["naive"]["mase"].as_f64()
        );
    }

    #[test]
    fn every_shipped_result_renders() {
        for entry in std::fs::read_dir(shipped("")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let page = build(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!page.to_html().is_empty());
            }
        }
    }

    fn panel(n: usize, values: bool) -> Value {
        let per_series: Vec<Value> = (0..n)
            .map(|i| {
                let mase = 0.5 + i as f64 * 0.01;
                let mut s = json!({
                    "unique_id": format!("S{i:04}"), "rows": 18,
                    "metrics": {"mae": 10.0 + i as f64, "rmse": 12.0, "mape": null, "smape": 8.0, "mase": mase, "directional_accuracy": 0.5},
                    "naive": {"mae": 11.0, "rmse": 13.0, "mape": null, "smape": 9.0, "mase": 1.0, "directional_accuracy": 0.0},
                });
                if values {
                    s["ds"] = json!(["2020-01", "2020-02"]);
                    s["actual"] = json!([1.0, 2.0]);
                    s["forecast"] = json!([1.5, 2.5]);
                }
                s
            })
            .collect();
        json!({
            "model": "theta", "horizon": 18, "evaluation": "test",
            "metrics": {"mae": 12.0, "rmse": 14.0, "mape": null, "smape": 8.5, "mase": 0.9, "directional_accuracy": 0.5},
            "baseline": {"naive": {"mae": 13.0, "rmse": 15.0, "mape": null, "smape": 9.5, "mase": 1.1, "directional_accuracy": 0.0}},
            "rows": 18 * n, "series": n, "per_series": per_series, "skipped": [], "failed": [],
        })
    }

    fn write(dir: &Path, name: &str, doc: &Value) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, doc.to_string()).unwrap();
        p
    }

    #[test]
    fn a_panel_backtest_ranks_its_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bt.json", &panel(1000, false));
        let started = std::time::Instant::now();
        let page = build(&path).unwrap();
        let html = page.to_html();
        assert!(started.elapsed().as_secs_f64() < 2.0);
        assert!(html.len() < 10_000_000, "{} bytes", html.len());
        let headings: Vec<&str> = page.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(
            headings,
            [
                "Accuracy",
                "MASE by model",
                "Series",
                "Best and worst series by mase"
            ]
        );
        let t = table(&page, "series");
        assert!(t.searchable);
        assert_eq!(t.rows.len(), 1000);
        assert_eq!(t.rows[0][0], "S0000");
        assert_eq!(t.rows[0].last().unwrap(), "0.5000");
        let acc = table(&page, "accuracy");
        assert_eq!(acc.rows.len(), 1);
        let ratio_col = acc
            .columns
            .iter()
            .position(|c| c == "mase / naive")
            .unwrap();
        assert_eq!(acc.rows[0][ratio_col], format!("{:.4}", 0.9 / 1.1));
        assert!(!acc.columns.contains(&"mape".to_string()));

        let cs = charts(&page);
        assert_eq!(cs.len(), 1 + 12);
        assert_eq!(cs[1].id, "best-1");
        assert!(cs[1].title.contains("S0000"));
        assert!(cs[7].title.contains("S0999"), "{}", cs[7].title);
        let bars = cs[1].option();
        assert_eq!(
            bars["xAxis"]["data"],
            json!(["mae", "rmse", "smape", "mase"])
        );
        assert_eq!(bars["series"][0]["data"][3].as_f64(), Some(0.5));
        assert_eq!(bars["series"][1]["data"][0].as_f64(), Some(11.0));
    }

    #[test]
    fn per_series_values_are_drawn_as_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "bt.json", &panel(4, true));
        let page = build(&path).unwrap();
        let cs = charts(&page);
        // 4 series: 4 best, none left for the worst.
        assert_eq!(cs.len(), 1 + 4);
        let ChartSpec::Time(t) = &cs[1].spec else {
            panic!("a time chart")
        };
        assert_eq!(t.x, ["2020-01", "2020-02"]);
        assert_eq!(t.series.len(), 2);
    }

    #[test]
    fn bad_input_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        assert!(build(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing.json"));

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").unwrap();
        let msg = build(&bad).unwrap_err().to_string();
        assert!(
            msg.contains("bad.json") && msg.contains("not valid JSON"),
            "{msg}"
        );

        let other = write(dir.path(), "other.json", &json!({"foo": 1, "bar": 2}));
        let msg = build(&other).unwrap_err().to_string();
        assert!(
            msg.contains("expected `results`") && msg.contains("foo"),
            "{msg}"
        );

        let none = write(
            dir.path(),
            "none.json",
            &json!({"name": "x", "results": []}),
        );
        assert!(matches!(
            build(&none).unwrap_err(),
            ReportError::Empty { .. }
        ));

        let mut empty = panel(0, false);
        empty["per_series"] = json!([]);
        let empty = write(dir.path(), "empty.json", &empty);
        let err = build(&empty).unwrap_err();
        assert!(matches!(err, ReportError::Empty { .. }) && err.to_string().contains("empty.json"));
    }
}
