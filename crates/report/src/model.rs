//! The report of a saved model: its forecast with interval bands after the history, the
//! diagnostics of its one-step residuals, its fit, and a network's training curve.
//!
//! A model artifact keeps its parameters and the last rows it saw, not its training
//! data: the history and the residual diagnostics come from the training data when it
//! is given ([`build_with_history`], checked against the artifact's fingerprint), and
//! the page says so when it is not ([`build`]).

use crate::page::{finite, Block, Chart, ChartSpec, Page, Section, Series, Table, TimeChart};
use crate::{ReportError, Result};
use forecast_core::data::{format_timestamp, load, LoadOptions, MissingPolicy};
use forecast_core::diagnostics::{acf, arma_params, ljung_box, one_step_fitted, OneStep};
use forecast_core::models::FittedModel;
use forecast_core::panel::level_name;
use forecast_core::pipeline::fingerprint_rows;
use forecast_core::{artifact, Forecast, Forecaster};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What a model report forecasts.
#[derive(Debug, Clone)]
pub struct ModelReportOptions {
    /// Steps to forecast [default: chosen from the model's season].
    pub horizon: Option<usize>,
    /// Interval levels in percent.
    pub levels: Vec<f64>,
    /// The regressors' values over the horizon (a model trained with features).
    pub future: Option<PathBuf>,
}

/// The default horizon: two seasons, at least 10 steps (a network's: at most the
/// horizon it was trained for).
pub fn default_horizon(season_length: usize) -> usize {
    (2 * season_length).max(10)
}

/// Builds the report of the model saved in `model_dir`. When the artifact records the
/// file it was trained from (`forecast train` does) and that file still holds the
/// training data, the whole history is shown and the residuals are diagnosed;
/// otherwise (a file gone or changed since) the page shows the last rows the artifact
/// keeps and says the diagnostics need the training data ([`build_with_history`]).
pub fn build(model_dir: &Path, opts: &ModelReportOptions) -> Result<Page> {
    build_with_history(model_dir, opts, None)
}

/// Builds the report of the model saved in `model_dir`; `history` (else the file the
/// artifact records, see [`build`]) is the data it was trained on (the same file `forecast train --data` read, possibly with later rows,
/// which are ignored), shown in full before the forecast and used for the residual
/// diagnostics. A file that is not that data (its first rows do not hash to the
/// artifact's fingerprint) is an error naming it.
pub fn build_with_history(
    model_dir: &Path,
    opts: &ModelReportOptions,
    history: Option<&Path>,
) -> Result<Page> {
    if artifact::is_panel(model_dir) {
        return Err(ReportError::input(
            model_dir,
            "is a panel model (one model per series): a model report shows one series' model",
        ));
    }
    if opts.horizon == Some(0) {
        return Err(ReportError::input(
            model_dir,
            "--horizon must be at least 1",
        ));
    }
    if let Some(l) = opts.levels.iter().find(|l| !(**l > 0.0 && **l < 100.0)) {
        return Err(ReportError::input(
            model_dir,
            format!("interval level {l} is not between 0 and 100 (percent)"),
        ));
    }
    let model = artifact::load(model_dir)?;
    let fc = forecast(model_dir, &model, opts)?;
    let past = match history {
        Some(path) => Past::from_file(path, &model)?,
        // The file `forecast train` recorded, when it still holds the training data
        // (a file gone or changed since is passed over).
        None => artifact::training_source(model_dir)
            .ok()
            .flatten()
            .filter(|p| p.is_file())
            .and_then(|p| Past::from_file(&p, &model).ok())
            .unwrap_or_else(|| Past::recent(&model)),
    };
    let future_x = match model.future_timestamps(fc.point.len()) {
        Some(t) => t,
        None => (1..=fc.point.len())
            .map(|i| (model.schema.conditioned_rows + i).to_string())
            .collect(),
    };
    let mut sections = vec![forecast_section(&model, &past, &fc, &future_x)];
    sections.push(residual_section(&model, &past)?);
    sections.push(fit_section(model_dir, &model));
    if let Some(s) = training_section(&model) {
        sections.push(s);
    }
    let levels: Vec<String> = fc
        .intervals
        .iter()
        .map(|iv| format!("{}%", level_name(iv.level)))
        .collect();
    Ok(Page {
        title: format!("Model report: {}", model.spec.model.kind()),
        subtitle: Some(format!(
            "{} — target '{}', {} steps forecast from {}{}",
            model_dir.display(),
            model.schema.target,
            fc.point.len(),
            model
                .schema
                .last_timestamp
                .map(|t| format_timestamp(t, model.schema.date_only))
                .unwrap_or_else(|| format!("row {}", model.schema.conditioned_rows)),
            if levels.is_empty() {
                String::new()
            } else {
                format!(", intervals at {}", levels.join(", "))
            }
        )),
        sections,
    })
}

/// The forecast `forecast predict` makes with the same model, horizon, levels and
/// regressors.
fn forecast(model_dir: &Path, model: &Forecaster, opts: &ModelReportOptions) -> Result<Forecast> {
    let future = match &opts.future {
        Some(path) => Some(load(
            path,
            &LoadOptions {
                time_col: model.schema.time_column.clone(),
                required: vec![],
                missing: MissingPolicy::Error,
                ..Default::default()
            },
        )?),
        None => {
            let needed = model.future_columns();
            if !needed.is_empty() {
                return Err(ReportError::input(
                    model_dir,
                    format!(
                        "was trained with regressors ({}): pass their values over the horizon with --future FILE",
                        needed.join(", ")
                    ),
                ));
            }
            None
        }
    };
    let horizon = match (opts.horizon, &future) {
        (Some(h), _) => Some(h),
        (None, Some(_)) => None,
        // A network forecasts at most the horizon it was trained for.
        (None, None) => Some(match model.spec.model.max_horizon() {
            Some(max) => default_horizon(model.season_length).min(max),
            None => default_horizon(model.season_length),
        }),
    };
    let inputs = model.future_inputs(future.as_ref(), horizon).map_err(|e| {
        let at = opts.future.as_deref().unwrap_or(model_dir);
        ReportError::input(at, e.to_string())
    })?;
    Ok(model.predict(inputs.horizon, &opts.levels, &inputs.columns)?)
}

/// The history a report shows: the training data, or the last rows the artifact keeps.
struct Past {
    /// Axis labels.
    x: Vec<String>,
    /// Target values, original units.
    y: Vec<f64>,
    /// The series itself, when the training data was given (for residuals).
    series: Option<forecast_core::Series>,
}

impl Past {
    fn recent(model: &Forecaster) -> Past {
        let r = &model.recent;
        Past {
            x: r.times
                .iter()
                .map(|t| format_timestamp(*t, model.schema.date_only))
                .collect(),
            y: r.target.clone(),
            series: None,
        }
    }

    fn from_file(path: &Path, model: &Forecaster) -> Result<Past> {
        let schema = &model.schema;
        let series = model
            .read_series(path, MissingPolicy::Error)
            .map_err(|e| ReportError::input(path, e.to_string()))?;
        let rows = schema.conditioned_rows;
        if series.len() < rows {
            return Err(ReportError::input(
                path,
                format!(
                    "has {} rows; the model saw {rows}: pass the data it was trained on",
                    series.len()
                ),
            ));
        }
        let series = series.head(rows);
        let fitted = schema.fitted_rows.min(rows);
        let last = series.times.as_ref().and_then(|t| t.last().copied());
        if fingerprint_rows(&series, fitted) != model.fingerprint
            || (schema.last_timestamp.is_some() && last != schema.last_timestamp)
        {
            return Err(ReportError::input(
                path,
                format!(
                    "is not the data the model was trained on (its first {fitted} rows differ from the training rows, by their fingerprint)"
                ),
            ));
        }
        let x = match &series.times {
            Some(t) => t
                .iter()
                .map(|t| format_timestamp(*t, schema.date_only))
                .collect(),
            None => (1..=series.len()).map(|i| i.to_string()).collect(),
        };
        Ok(Past {
            x,
            y: series.target.clone(),
            series: Some(series),
        })
    }
}

fn forecast_section(
    model: &Forecaster,
    past: &Past,
    fc: &Forecast,
    future_x: &[String],
) -> Section {
    let (n, h) = (past.y.len(), fc.point.len());
    let mut x = past.x.clone();
    x.extend(future_x.iter().cloned());
    let pad = |tail: &[f64]| -> Vec<Option<f64>> {
        std::iter::repeat_n(None, n)
            .chain(tail.iter().map(|v| finite(*v)))
            .collect()
    };
    let mut series = vec![Series::Line {
        name: "history".into(),
        values: past
            .y
            .iter()
            .map(|v| finite(*v))
            .chain(std::iter::repeat_n(None, h))
            .collect(),
        dashed: false,
    }];
    // The widest band first, so the narrower ones draw on top of it.
    let mut intervals: Vec<_> = fc.intervals.iter().collect();
    intervals.sort_by(|a, b| b.level.total_cmp(&a.level));
    for iv in &intervals {
        series.push(Series::Band {
            name: format!("{}%", level_name(iv.level)),
            lo: pad(&iv.lower),
            hi: pad(&iv.upper),
        });
    }
    series.push(Series::Line {
        name: "forecast".into(),
        values: pad(&fc.point),
        dashed: true,
    });
    let mut columns = vec![
        if model.schema.time_column.is_some() {
            "timestamp".to_string()
        } else {
            "row".to_string()
        },
        "forecast".to_string(),
    ];
    for iv in &fc.intervals {
        let l = level_name(iv.level);
        columns.push(format!("lower_{l}"));
        columns.push(format!("upper_{l}"));
    }
    let rows = (0..h)
        .map(|i| {
            let mut row = vec![future_x[i].clone(), number(fc.point[i])];
            for iv in &fc.intervals {
                row.push(number(iv.lower[i]));
                row.push(number(iv.upper[i]));
            }
            row
        })
        .collect();
    let shown = if past.series.is_some() {
        format!("the {n} rows the model saw")
    } else if n > 0 {
        format!(
            "the last {n} rows the artifact keeps (the model saw {}; pass its training data for the whole history)",
            model.schema.conditioned_rows
        )
    } else {
        "no history (the artifact keeps no rows of row-indexed data; pass its training data to see it)".into()
    };
    Section {
        heading: "Forecast".into(),
        blocks: vec![
            Block::Chart(Chart {
                id: "forecast".into(),
                title: format!("{}: history and {h}-step forecast", model.schema.target),
                height: 420,
                spec: ChartSpec::Time(TimeChart {
                    x,
                    series,
                    y_name: Some(model.schema.target.clone()),
                }),
            }),
            Block::Text(format!(
                "History: {shown}. The dashed line is the point forecast; the bands are its prediction intervals."
            )),
            Block::Table(Table {
                id: "forecast-table".into(),
                columns,
                rows,
                searchable: false,
            }),
        ],
    }
}

fn residual_section(model: &Forecaster, past: &Past) -> Result<Section> {
    let heading = "Residuals".to_string();
    let Some(series) = &past.series else {
        return Ok(Section {
            heading,
            blocks: vec![Block::Text(
                "A model artifact keeps its parameters, not its training data: the residual \
                 diagnostics (residuals over time, their autocorrelation, histogram and \
                 Ljung–Box test) need the data the model was trained on."
                    .into(),
            )],
        });
    };
    let one = one_step_fitted(model, series)?;
    let OneStep {
        start, residuals, ..
    } = &one;
    // The diagnostics judge the fit: rows after the training part (a validation or
    // test part the model was conditioned on) are forecasts outside it.
    let fitted_rows = model.schema.fitted_rows.min(series.len());
    let in_sample = &residuals[..fitted_rows.saturating_sub(*start).min(residuals.len())];
    let mut blocks = vec![Block::Chart(Chart {
        id: "residuals".into(),
        title: "One-step residuals (actual − fitted)".into(),
        height: 300,
        spec: ChartSpec::Time(TimeChart {
            x: past.x[*start..].to_vec(),
            series: vec![Series::Line {
                name: "residual".into(),
                values: residuals.iter().map(|v| finite(*v)).collect(),
                dashed: false,
            }],
            y_name: Some(model.schema.target.clone()),
        }),
    })];
    let mut text = format!(
        "Residuals are one-step-ahead errors of the fitted parameters: each row is \
         forecast from the rows before it, without refitting ({}), from row {} on.",
        fitted_kind(&model.model),
        start + 1
    );
    if fitted_rows < series.len() {
        text.push_str(&format!(
            " Rows after the training part's {fitted_rows} are forecasts outside the fit; the diagnostics below use the {} in-sample residuals.",
            in_sample.len()
        ));
    }
    blocks.push(Block::Text(text));
    let n = in_sample.len();
    let s = model.season_length;
    let max_lag = (2 * s).clamp(10, 40).min(n / 4);
    match acf(in_sample, max_lag) {
        Some(r) if max_lag >= 1 => {
            let bound = 1.96 / (n as f64).sqrt();
            let lags: Vec<String> = (1..=max_lag).map(|k| k.to_string()).collect();
            blocks.push(Block::ChartGrid(vec![
                Chart {
                    id: "acf".into(),
                    title: format!("Autocorrelation of the residuals (±1.96/√n, n = {n})"),
                    height: 300,
                    spec: ChartSpec::ECharts(json!({
                        "animation": false,
                        "title": {"text": "ACF of residuals", "left": "center", "textStyle": {"fontSize": 14}},
                        "tooltip": {"trigger": "axis", "formatter": "values"},
                        "legend": {"top": 26},
                        "grid": {"left": 56, "right": 20, "top": 64, "bottom": 40},
                        "xAxis": {"type": "category", "data": lags, "name": "lag"},
                        "yAxis": {"type": "value", "min": -1, "max": 1},
                        "series": [
                            {"name": "ACF", "type": "bar", "data": r[1..].iter().map(|v| finite(*v)).collect::<Vec<_>>()},
                            {"name": "+1.96/√n", "type": "line", "data": vec![bound; max_lag], "showSymbol": false, "lineStyle": {"type": "dashed", "width": 1}},
                            {"name": "−1.96/√n", "type": "line", "data": vec![-bound; max_lag], "showSymbol": false, "lineStyle": {"type": "dashed", "width": 1}},
                        ],
                    })),
                },
                histogram(in_sample),
            ]));
        }
        _ => blocks.push(Block::Text(format!(
            "Too few or constant residuals ({n}) for their autocorrelation."
        ))),
    }
    // Ljung–Box at 2 seasons for seasonal data, else min(10, n/5).
    let lag = if s > 1 { 2 * s } else { 10.min(n / 5) };
    let params = arma_params(&model.model);
    let mut kv = vec![
        ("residuals".to_string(), n.to_string()),
        ("mean".to_string(), number(mean(in_sample))),
        ("standard deviation".to_string(), number(sd(in_sample))),
    ];
    match ljung_box(in_sample, lag, params) {
        Ok(lb) => {
            kv.push((
                format!("Ljung–Box Q (lag {}, {} df)", lb.lag, lb.df),
                number(lb.q),
            ));
            kv.push((
                "Ljung–Box p-value".to_string(),
                format!("{:.4}", lb.p_value),
            ));
            blocks.push(Block::KeyValues(kv));
            blocks.push(Block::Text(format!(
                "Ljung–Box at lag {lag}{}: a small p-value (below 0.05) says the residuals are still autocorrelated, i.e. the model leaves structure unexplained.",
                if params > 0 {
                    format!(", degrees of freedom reduced by the {params} ARMA coefficients")
                } else {
                    String::new()
                }
            )));
        }
        Err(e) => {
            blocks.push(Block::KeyValues(kv));
            blocks.push(Block::Text(format!("No Ljung–Box test: {e}.")));
        }
    }
    Ok(Section { heading, blocks })
}

/// What the one-step fitted values of a model kind are.
fn fitted_kind(model: &FittedModel) -> &'static str {
    match model {
        FittedModel::Arima(_) | FittedModel::AutoArima(_) => {
            "the Kalman filter's one-step predictions; the residuals are its innovations"
        }
        FittedModel::Naive(_) => "the previous value",
        FittedModel::SeasonalNaive(_) => "the value one season before",
        FittedModel::Drift(_) => "the previous value plus the fitted drift",
        FittedModel::Mean(_) => "the mean of the training part",
        FittedModel::Lstm(_) | FittedModel::Transformer(_) => {
            "the network's first forecast step from the window before each row"
        }
        _ => "the model's one-step forecast from the rows before each row",
    }
}

fn histogram(x: &[f64]) -> Chart {
    let n = x.len();
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    // Sturges' rule, between 5 and 40 bins.
    let bins = (((n.max(1) as f64).log2().ceil() as usize) + 1).clamp(5, 40);
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0usize; bins];
    for v in x {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let labels: Vec<String> = (0..bins)
        .map(|b| {
            let a = lo + width * b as f64;
            format!("{} – {}", number(a), number(a + width))
        })
        .collect();
    Chart {
        id: "residual-histogram".into(),
        title: "Histogram of residuals".into(),
        height: 300,
        spec: ChartSpec::ECharts(json!({
            "animation": false,
            "title": {"text": "Histogram of residuals", "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis", "formatter": "values"},
            "grid": {"left": 56, "right": 20, "top": 48, "bottom": 56},
            "xAxis": {"type": "category", "data": labels, "axisLabel": {"rotate": 30, "fontSize": 9}},
            "yAxis": {"type": "value", "name": "rows"},
            "series": [{"name": "residuals", "type": "bar", "barCategoryGap": "2%", "data": counts}],
        })),
    }
}

fn fit_section(model_dir: &Path, model: &Forecaster) -> Section {
    let schema = &model.schema;
    let mut kv = vec![
        ("model".to_string(), model.spec.model.kind().to_string()),
        (
            "config".to_string(),
            model
                .spec
                .model
                .resolved(&model.model)
                .config_json()
                .to_string(),
        ),
        (
            "transform".to_string(),
            serde_json::to_value(model.spec.transform)
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_default(),
        ),
        ("season length".to_string(), model.season_length.to_string()),
        ("training rows".to_string(), schema.fitted_rows.to_string()),
        ("rows seen".to_string(), schema.conditioned_rows.to_string()),
        ("target".to_string(), schema.target.clone()),
        ("artifact".to_string(), model_dir.display().to_string()),
    ];
    if !schema.features.is_empty() {
        kv.push(("features".to_string(), schema.features.join(", ")));
    }
    let mut stats = Vec::new();
    flatten("", &model.fit_stats(), &mut stats);
    let mut blocks = vec![Block::KeyValues(kv)];
    if !stats.is_empty() {
        blocks.push(Block::Text("Fit statistics the model reports:".into()));
        blocks.push(Block::KeyValues(stats));
    }
    if let Some(table) = coefficient_table(&model.model) {
        blocks.push(table);
    }
    Section {
        heading: "Fit".into(),
        blocks,
    }
}

/// The scalar fit statistics as `key` / `parent.key` pairs; the coefficient maps (shown
/// as a table) and lists are left out.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let Value::Object(map) = v else { return };
    for (k, v) in map {
        if prefix.is_empty() && matches!(k.as_str(), "coef" | "se") {
            continue;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(_) => flatten(&key, v, out),
            Value::Array(_) => {}
            Value::Null => out.push((key, "–".into())),
            Value::Number(n) => out.push((key, n.as_f64().map_or(n.to_string(), number))),
            Value::String(s) => out.push((key, s.clone())),
            Value::Bool(b) => out.push((key, b.to_string())),
        }
    }
}

/// An ARIMA model's coefficients with their standard errors (from the Hessian of the
/// exact log-likelihood at the optimum), z statistics and two-sided normal p-values.
fn coefficient_table(model: &FittedModel) -> Option<Block> {
    let m = match model {
        FittedModel::Arima(m) => m,
        FittedModel::AutoArima(m) => &m.model,
        _ => return None,
    };
    let rows = m
        .names()
        .into_iter()
        .zip(m.coefs.iter().chain(&m.beta))
        .enumerate()
        .map(|(i, (name, est))| {
            let se =
                m.se.get(i)
                    .copied()
                    .flatten()
                    .filter(|s| s.is_finite() && *s > 0.0);
            let z = se.map(|s| est / s);
            let p = z.map(|z| erfc(z.abs() / std::f64::consts::SQRT_2));
            vec![
                name,
                number(*est),
                se.map_or("–".into(), number),
                z.map_or("–".into(), |z| format!("{z:.3}")),
                p.map_or("–".into(), |p| format!("{p:.4}")),
            ]
        })
        .collect::<Vec<_>>();
    (!rows.is_empty()).then(|| {
        Block::Table(Table {
            id: "coefficients".into(),
            columns: ["coefficient", "estimate", "std. error", "z", "p-value"]
                .map(String::from)
                .to_vec(),
            rows,
            searchable: false,
        })
    })
}

/// The complementary error function, through the chi-square tail probability with one
/// degree of freedom: `erfc(x) = P(χ²₁ > 2x²)`.
fn erfc(x: f64) -> f64 {
    forecast_core::diagnostics::chi_square_sf(2.0 * x * x, 1).unwrap_or(f64::NAN)
}

/// A network's training and validation loss per epoch, when the artifact records them.
fn training_section(model: &Forecaster) -> Option<Section> {
    let (FittedModel::Lstm(m) | FittedModel::Transformer(m)) = &model.model else {
        return None;
    };
    let st = &m.stats;
    let summary = format!(
        "{} epochs (stopped by {}); kept epoch {} with training loss {} and validation loss {} (MSE on the standardised target).",
        st.epochs,
        st.stopped_by,
        st.best_epoch,
        number(st.train_loss),
        st.valid_loss.map_or("–".into(), number)
    );
    let history = &st.history;
    if history.is_empty() {
        return Some(Section {
            heading: "Training".into(),
            blocks: vec![Block::Text(format!(
                "{summary} This artifact records no per-epoch losses (written before they were kept)."
            ))],
        });
    }
    let x = history.iter().map(|e| e.epoch.to_string()).collect();
    let mut series = vec![Series::Line {
        name: "training loss".into(),
        values: history.iter().map(|e| finite(e.train_loss)).collect(),
        dashed: false,
    }];
    if history.iter().any(|e| e.valid_loss.is_some()) {
        series.push(Series::Line {
            name: "validation loss".into(),
            values: history
                .iter()
                .map(|e| e.valid_loss.and_then(finite))
                .collect(),
            dashed: false,
        });
    }
    Some(Section {
        heading: "Training".into(),
        blocks: vec![
            Block::Chart(Chart {
                id: "training-loss".into(),
                title: "Loss per epoch".into(),
                height: 300,
                spec: ChartSpec::Time(TimeChart {
                    x,
                    series,
                    y_name: Some("MSE (standardised)".into()),
                }),
            }),
            Block::Text(summary),
        ],
    })
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

fn sd(x: &[f64]) -> f64 {
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len().max(2) - 1) as f64).sqrt()
}

/// A number as the page prints it: up to 6 significant digits, no trailing noise.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{v:.4e}")
    } else {
        let digits: usize = if a >= 1.0 {
            (5 - a.log10().floor() as i32).max(0) as usize
        } else {
            6
        };
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_short() {
        assert_eq!(number(432.0), "432");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1234.56789), "1234.57");
        assert_eq!(number(-3.0e-7), "-3.0000e-7");
        assert_eq!(number(f64::NAN), "–");
        assert_eq!(default_horizon(12), 24);
        assert_eq!(default_horizon(1), 10);
    }

    #[test]
    fn the_histogram_counts_every_residual_once() {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
        let c = histogram(&x);
        let ChartSpec::ECharts(v) = &c.spec else {
            unreachable!()
        };
        let total: u64 = v["series"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(total, 100);
    }
}
