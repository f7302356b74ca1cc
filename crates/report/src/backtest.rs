//! The report of a backtest (`forecast backtest --json`): every fold's forecast against
//! what happened, the error per fold, and the pooled metrics beside the naive
//! forecast's.
//!
//! It reads the `"windows"` the JSON carries since this version (one per fold:
//! `origin`, `ds`, `actual`, `forecast`, `naive`); a panel's backtest JSON has no
//! windows (it scores many series) and is reported with `--results`.

use crate::page::{finite, Block, Chart, ChartSpec, Page, Section, Series, Table, TimeChart};
use crate::{ReportError, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// More folds than this are drawn as one forecast line (in two alternating series, so
/// that neighbouring folds do not join) instead of one line per fold.
pub const MAX_FOLD_LINES: usize = 12;

/// Builds the report of the backtest JSON in `path`.
pub fn build(path: &Path) -> Result<Page> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReportError::input(path, format!("cannot read the backtest JSON: {e}")))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        ReportError::input(
            path,
            format!("is not JSON ({e}); pass the output of forecast backtest --json"),
        )
    })?;
    from_json(&doc, &path.display().to_string())
}

/// Builds the report of a backtest's JSON document (`forecast backtest --json`'s
/// output, or the same document in memory); `source` names it in errors and on the page.
pub fn from_json(doc: &Value, source: &str) -> Result<Page> {
    let at = PathBuf::from(source);
    let Some(obj) = doc.as_object() else {
        return Err(ReportError::input(
            &at,
            "is not a backtest (expected the JSON object forecast backtest --json prints)",
        ));
    };
    if obj.contains_key("per_series") {
        return Err(ReportError::input(
            &at,
            "is a panel's backtest (many series): it has no per-fold windows; report it with --results",
        ));
    }
    let Some(windows) = obj.get("windows") else {
        return Err(ReportError::input(
            &at,
            "has no \"windows\" (each fold's forecast and actual values): re-run forecast backtest --json with this version",
        ));
    };
    let folds = parse_windows(windows, &at)?;
    if folds.is_empty() {
        return Err(ReportError::empty(&at, "the backtest has no folds"));
    }
    let model = obj.get("model").and_then(Value::as_str).unwrap_or("model");
    let horizon = obj
        .get("horizon")
        .and_then(Value::as_u64)
        .map_or_else(|| folds[0].ds.len().to_string(), |h| h.to_string());
    let metrics = (obj.get("metrics"), doc.pointer("/baseline/naive"));
    Ok(Page {
        title: format!("Backtest report: {model}"),
        subtitle: Some(format!(
            "{source} — {} folds, horizon {horizon}, origins {} to {}",
            folds.len(),
            folds[0].origin,
            folds[folds.len() - 1].origin
        )),
        sections: vec![
            forecast_vs_actual(model, &folds),
            error_per_fold(model, &folds, metrics),
        ],
    })
}

/// One fold's window.
#[derive(Debug, Clone, PartialEq)]
struct Fold {
    origin: String,
    ds: Vec<String>,
    actual: Vec<Option<f64>>,
    forecast: Vec<Option<f64>>,
    naive: Vec<Option<f64>>,
}

impl Fold {
    fn mae(&self, forecast: &[Option<f64>]) -> Option<f64> {
        let errors: Vec<f64> = self
            .actual
            .iter()
            .zip(forecast)
            .filter_map(|(a, f)| Some((a.as_ref()? - f.as_ref()?).abs()))
            .collect();
        (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
    }
}

fn parse_windows(windows: &Value, at: &Path) -> Result<Vec<Fold>> {
    let bad = |i: usize, what: &str| ReportError::input(at, format!("\"windows\"[{i}]: {what}"));
    let Some(list) = windows.as_array() else {
        return Err(ReportError::input(at, "\"windows\" is not a list of folds"));
    };
    let label = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let numbers = |w: &Value, key: &str, i: usize| -> Result<Vec<Option<f64>>> {
        w.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(i, &format!("no \"{key}\" list")))?
            .iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                v => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| bad(i, &format!("\"{key}\" holds {v}, not a number"))),
            })
            .collect()
    };
    list.iter()
        .enumerate()
        .map(|(i, w)| {
            let origin = w
                .get("origin")
                .and_then(label)
                .ok_or_else(|| bad(i, "no \"origin\""))?;
            let ds: Vec<String> = w
                .get("ds")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(i, "no \"ds\" list"))?
                .iter()
                .map(|v| label(v).ok_or_else(|| bad(i, &format!("\"ds\" holds {v}"))))
                .collect::<Result<_>>()?;
            let fold = Fold {
                actual: numbers(w, "actual", i)?,
                forecast: numbers(w, "forecast", i)?,
                naive: numbers(w, "naive", i)?,
                origin,
                ds,
            };
            let n = fold.ds.len();
            if n == 0 {
                return Err(bad(i, "an empty window"));
            }
            if [&fold.actual, &fold.forecast, &fold.naive]
                .iter()
                .any(|v| v.len() != n)
            {
                return Err(bad(
                    i,
                    &format!(
                        "\"ds\", \"actual\", \"forecast\" and \"naive\" differ in length ({n}, {}, {}, {})",
                        fold.actual.len(),
                        fold.forecast.len(),
                        fold.naive.len()
                    ),
                ));
            }
            Ok(fold)
        })
        .collect()
}

fn forecast_vs_actual(model: &str, folds: &[Fold]) -> Section {
    // The union of the folds' steps, in order of first appearance: chronological, as
    // the origins increase.
    let mut x: Vec<String> = Vec::new();
    let mut pos = std::collections::HashMap::new();
    for f in folds {
        for d in &f.ds {
            if !pos.contains_key(d) {
                pos.insert(d.clone(), x.len());
                x.push(d.clone());
            }
        }
    }
    let n = x.len();
    let mut actual = vec![None; n];
    let mut naive = vec![None; n];
    for f in folds {
        for (i, d) in f.ds.iter().enumerate() {
            let p = pos[d];
            actual[p] = actual[p].or(f.actual[i]).and_then(finite);
            naive[p] = f.naive[i].and_then(finite);
        }
    }
    let on_axis = |f: &Fold, into: &mut Vec<Option<f64>>| {
        for (i, d) in f.ds.iter().enumerate() {
            into[pos[d]] = f.forecast[i].and_then(finite);
        }
    };
    let mut series = vec![Series::Line {
        name: "actual".into(),
        values: actual,
        dashed: false,
    }];
    if folds.len() <= MAX_FOLD_LINES {
        for f in folds {
            let mut values = vec![None; n];
            on_axis(f, &mut values);
            series.push(Series::Line {
                name: format!("origin {}", f.origin),
                values,
                dashed: true,
            });
        }
    } else {
        let (mut odd, mut even) = (vec![None; n], vec![None; n]);
        for (k, f) in folds.iter().enumerate() {
            on_axis(f, if k % 2 == 0 { &mut odd } else { &mut even });
        }
        series.push(Series::Line {
            name: format!("{model} (folds 1, 3, 5, …)"),
            values: odd,
            dashed: true,
        });
        series.push(Series::Line {
            name: format!("{model} (folds 2, 4, 6, …)"),
            values: even,
            dashed: true,
        });
    }
    series.push(Series::Points {
        name: "naive".into(),
        values: naive,
    });
    let how = if folds.len() <= MAX_FOLD_LINES {
        "each fold's forecast is its own dashed line, named by its origin (the last training row)"
            .to_string()
    } else {
        format!(
            "with {} folds, the forecasts are drawn as one dashed line in two alternating series, so that neighbouring folds stay apart",
            folds.len()
        )
    };
    Section {
        heading: "Forecast vs actual".into(),
        blocks: vec![
            Block::Chart(Chart {
                id: "backtest".into(),
                title: format!("{model}: forecast vs actual at {} origins", folds.len()),
                height: 420,
                spec: ChartSpec::Time(TimeChart {
                    x,
                    series,
                    y_name: None,
                }),
            }),
            Block::Text(format!(
                "The solid line is what happened over the folds' windows; {how}; the points are the naive forecast (the last training value)."
            )),
        ],
    }
}

fn error_per_fold(
    model: &str,
    folds: &[Fold],
    metrics: (Option<&Value>, Option<&Value>),
) -> Section {
    let origins: Vec<&str> = folds.iter().map(|f| f.origin.as_str()).collect();
    let model_mae: Vec<Option<f64>> = folds.iter().map(|f| f.mae(&f.forecast)).collect();
    let naive_mae: Vec<Option<f64>> = folds.iter().map(|f| f.mae(&f.naive)).collect();
    let mut blocks = vec![Block::Chart(Chart {
        id: "fold-errors".into(),
        title: "MAE per fold".into(),
        height: 320,
        spec: ChartSpec::ECharts(json!({
            "animation": false,
            "title": {"text": "MAE per fold", "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis", "formatter": "values"},
            "legend": {"top": 26},
            "grid": {"left": 64, "right": 28, "top": 64, "bottom": 64},
            "xAxis": {"type": "category", "data": origins, "name": "origin", "nameLocation": "middle", "nameGap": 40},
            "yAxis": {"type": "value", "name": "MAE"},
            "dataZoom": [{"type": "inside"}],
            "series": [
                {"name": model, "type": "bar", "data": model_mae},
                {"name": "naive", "type": "bar", "data": naive_mae},
            ],
        })),
    })];
    let (Some(m), Some(nv)) = metrics else {
        blocks.push(Block::Text(
            "The JSON holds no pooled metrics (\"metrics\" and \"baseline\".\"naive\").".into(),
        ));
        return Section {
            heading: "Error per fold".into(),
            blocks,
        };
    };
    let rows = [
        ("MAE", "mae"),
        ("RMSE", "rmse"),
        ("MAPE %", "mape"),
        ("sMAPE %", "smape"),
        ("MASE", "mase"),
        ("directional accuracy", "directional_accuracy"),
    ]
    .iter()
    .map(|(label, key)| {
        let a = m.get(key).and_then(Value::as_f64);
        let b = nv.get(key).and_then(Value::as_f64);
        let ratio = match (a, b) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        };
        let cell = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
        vec![label.to_string(), cell(a), cell(b), cell(ratio)]
    })
    .collect();
    blocks.push(Block::Table(Table {
        id: "metrics".into(),
        columns: vec![
            "metric".into(),
            model.to_string(),
            "naive".into(),
            format!("{model} / naive"),
        ],
        rows,
        searchable: false,
    }));
    blocks.push(Block::Text(
        "Metrics pooled over every fold's steps. A ratio below 1 means the model beats the naive forecast on that metric (above 1 for directional accuracy, where higher is better).".into(),
    ));
    Section {
        heading: "Error per fold".into(),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(folds: usize) -> Value {
        let windows: Vec<Value> = (0..folds)
            .map(|k| {
                let o = 10 + 3 * k;
                json!({
                    "origin": o.to_string(),
                    "ds": [(o + 1).to_string(), (o + 2).to_string(), (o + 3).to_string()],
                    "actual": [1.0, 2.0, 3.0],
                    "forecast": [1.5, 2.0, 2.0],
                    "naive": [0.0, 0.0, 0.0],
                })
            })
            .collect();
        json!({
            "model": "drift", "horizon": 3, "folds": folds,
            "metrics": {"mae": 0.5, "rmse": 0.6, "mape": null, "smape": 10.0, "mase": 0.4, "directional_accuracy": 0.5},
            "baseline": {"naive": {"mae": 2.0, "rmse": 2.2, "mape": null, "smape": 200.0, "mase": 1.6, "directional_accuracy": 0.0}},
            "windows": windows,
        })
    }

    fn charts(page: &Page) -> Vec<&Chart> {
        page.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .filter_map(|b| match b {
                Block::Chart(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn few_folds_get_a_line_each_and_the_forecast_chart_comes_first() {
        let page = from_json(&doc(3), "bt.json").unwrap();
        let c = charts(&page);
        let ChartSpec::Time(t) = &c[0].spec else {
            panic!("the first chart is the forecast vs actual time chart")
        };
        assert_eq!(t.x.len(), 9);
        let names: Vec<&str> = t.series.iter().map(Series::name).collect();
        assert_eq!(
            names,
            ["actual", "origin 10", "origin 13", "origin 16", "naive"]
        );
        let Series::Line { values, .. } = &t.series[2] else {
            unreachable!()
        };
        assert_eq!(values[3..6], [Some(1.5), Some(2.0), Some(2.0)]);
        assert!(values[..3].iter().chain(&values[6..]).all(Option::is_none));
        // MAE per fold: model 0.5/3·... = (0.5 + 0 + 1) / 3, naive (1 + 2 + 3) / 3.
        let ChartSpec::ECharts(bars) = &c[1].spec else {
            unreachable!()
        };
        assert_eq!(bars["series"][0]["data"][0], 0.5);
        assert_eq!(bars["series"][1]["data"][0], 2.0);
        let Some(Block::Table(table)) = page.sections[1].blocks.get(1) else {
            panic!("a metrics table")
        };
        assert_eq!(table.rows[0], ["MAE", "0.5000", "2.0000", "0.2500"]);
        assert_eq!(table.rows[2][3], "–");
    }

    #[test]
    fn many_folds_alternate_between_two_series() {
        let page = from_json(&doc(20), "bt.json").unwrap();
        let ChartSpec::Time(t) = &charts(&page)[0].spec else {
            unreachable!()
        };
        assert_eq!(t.series.len(), 4);
        let Series::Line { values, .. } = &t.series[1] else {
            unreachable!()
        };
        // Folds 1, 3, ...: positions 0..3 filled, 3..6 (fold 2) empty.
        assert!(values[..3].iter().all(Option::is_some));
        assert!(values[3..6].iter().all(Option::is_none));
    }

    #[test]
    fn bad_documents_are_errors_naming_the_source() {
        let mut no_windows = doc(2);
        no_windows.as_object_mut().unwrap().remove("windows");
        let e = from_json(&no_windows, "old.json").unwrap_err().to_string();
        assert!(
            e.starts_with("old.json: ") && e.contains("re-run forecast backtest --json"),
            "{e}"
        );
        let e = from_json(&doc(0), "empty.json").unwrap_err();
        assert!(matches!(e, ReportError::Empty { .. }), "{e}");
        let mut ragged = doc(2);
        ragged["windows"][1]["actual"] = json!([1.0]);
        let e = from_json(&ragged, "r.json").unwrap_err().to_string();
        assert!(e.contains("\"windows\"[1]") && e.contains("length"), "{e}");
        assert!(from_json(&json!([1, 2]), "a.json").is_err());
        let e = from_json(&json!({"per_series": []}), "p.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("panel"), "{e}");
    }

    #[test]
    fn files_that_are_missing_or_not_json_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let e = build(&missing).unwrap_err().to_string();
        assert!(e.contains("nope.json") && e.contains("cannot read"), "{e}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "model,mae\nx,1\n").unwrap();
        let e = build(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("not JSON"), "{e}");
    }
}
