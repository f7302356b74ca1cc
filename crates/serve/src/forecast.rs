//! One forecast request against a served model, and its answer as records.

use crate::error::ApiError;
use crate::registry::{Loaded, ServedModel};
use chrono::NaiveDateTime;
use forecast_core::data::{format_timestamp, parse_timestamp, Column, DataSchema, RowMatch};
use forecast_core::panel::{level_name, SeriesForecast};
use forecast_core::Forecaster;
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;

/// Limits every request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest horizon a request may ask for.
    pub max_horizon: usize,
    /// Largest number of forecast rows (steps × series) one answer may hold.
    pub max_rows: usize,
}

/// A forecast request: horizon, interval levels and, for panels, the series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Steps to forecast.
    pub h: usize,
    /// Interval levels in percent.
    pub levels: Vec<f64>,
    /// Series to forecast (panels; `None`: every series).
    pub ids: Option<Vec<String>>,
    /// New observations and future regressors, by series id (`""` for a one-series
    /// model): the native API's `history` and `future`.
    pub rows: HashMap<String, NewRows>,
}

/// New observations after the model's last row, and regressors over the horizon, for
/// one series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRows {
    /// The new rows, in time order.
    pub bars: Vec<Bar>,
    /// The model's input columns over the horizon (ARIMAX regressors).
    pub future: Vec<Column>,
}

/// One new observation of a series: a stream's bar message or a row of a request's
/// `history`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The observation (the target, in original units).
    pub y: f64,
    /// Its time (`None` for row-indexed models).
    pub time: Option<NaiveDateTime>,
    /// The model's input columns, in the schema's order.
    pub inputs: Vec<f64>,
    /// The bar's open, high and low when the client sent them (the dashboard draws
    /// them; the model never sees them unless they are its input columns).
    pub ohlc: Option<[f64; 3]>,
}

/// `f` conditioned on `bars` (in time order): the one path by which new observations
/// enter a served model's state, for streams, `history` rows and the live feeds.
pub(crate) fn condition(f: &Forecaster, bars: &[Bar]) -> Result<Forecaster, forecast_core::Error> {
    let target: Vec<f64> = bars.iter().map(|b| b.y).collect();
    let times: Vec<NaiveDateTime> = bars.iter().filter_map(|b| b.time).collect();
    let features: Vec<Column> = f
        .schema
        .features
        .iter()
        .enumerate()
        .map(|(c, name)| Column {
            name: name.clone(),
            values: bars
                .iter()
                .map(|b| b.inputs.get(c).copied().unwrap_or(f64::NAN))
                .collect(),
            integer: false,
        })
        .collect();
    f.extend(&target, &features, &times)
}

/// The optional `open`, `high`, `low` of a bar or history row (all three or none),
/// unless the model takes them as input columns.
pub(crate) fn ohlc_of(obj: &Map<String, Value>, at: &str) -> Result<Option<[f64; 3]>, ApiError> {
    let keys = ["open", "high", "low"];
    if !keys.iter().any(|k| obj.contains_key(*k)) {
        return Ok(None);
    }
    let mut v = [0.0; 3];
    for (slot, key) in v.iter_mut().zip(keys) {
        let x = obj.get(key).ok_or_else(|| {
            ApiError::invalid(format!(
                "{at}{key}: give open, high and low together (or none of them)"
            ))
        })?;
        *slot = finite_of(x, &format!("{at}{key}"))?;
    }
    Ok(Some(v))
}

/// Fields a bar or history row may carry besides the model's own columns.
pub(crate) const OHLC_FIELDS: [&str; 3] = ["open", "high", "low"];

/// The schema shared by a served model's series.
fn schema_of(model: &ServedModel) -> Option<&DataSchema> {
    match &model.loaded {
        Loaded::Single(f) => Some(&f.schema),
        Loaded::Panel { model, .. } => model.series.first().map(|(_, f)| &f.schema),
    }
}

/// The forecaster of series `id` (`""` for a one-series model).
fn forecaster_of<'a>(model: &'a ServedModel, id: &str) -> Option<&'a Forecaster> {
    match &model.loaded {
        Loaded::Single(f) => id.is_empty().then_some(&**f),
        Loaded::Panel { model: p, index } => index.get(id).map(|&i| &p.series[i].1),
    }
}

/// The native API's `history` and `future` rows, checked against the model and grouped
/// by series. `history` rows follow the model's last row of their series, in time
/// order, with the target (`y` or its own name), the time (`ds` or its own name) and
/// the model's input columns; `future` rows carry the input columns over the horizon.
pub(crate) fn new_rows(
    model: &ServedModel,
    history: &[Value],
    future: &[Value],
) -> Result<HashMap<String, NewRows>, ApiError> {
    let mut out: HashMap<String, NewRows> = HashMap::new();
    if history.is_empty() && future.is_empty() {
        return Ok(out);
    }
    let schema = schema_of(model)
        .ok_or_else(|| ApiError::invalid(format!("model '{}' holds no series", model.name)))?;
    if !history.is_empty() && !schema.indicators.is_empty() {
        return Err(ApiError::invalid(format!(
            "history: model '{}' computes indicators from the whole history, which new rows alone cannot update",
            model.name
        )));
    }
    let time_key = schema.time_column.as_deref();
    let id_of_row = |obj: &Map<String, Value>, at: &str| -> Result<String, ApiError> {
        match (model.is_panel(), obj.get("unique_id")) {
            (true, Some(v)) => {
                let id = id_of(v, &format!("{at}.unique_id"))?;
                if forecaster_of(model, &id).is_none() {
                    return Err(ApiError::not_found(format!(
                        "{at}.unique_id: series '{id}' is not in model '{}'",
                        model.name
                    )));
                }
                Ok(id)
            }
            (true, None) => Err(ApiError::invalid(format!(
                "{at}.unique_id: model '{}' is a panel; each row names its series",
                model.name
            ))),
            (false, None) => Ok(String::new()),
            (false, Some(_)) => Err(ApiError::invalid(format!(
                "{at}.unique_id: model '{}' holds one series",
                model.name
            ))),
        }
    };
    let number = |obj: &Map<String, Value>, key: &str, at: &str| -> Result<f64, ApiError> {
        let v = obj
            .get(key)
            .ok_or_else(|| ApiError::invalid(format!("{at}.{key}: missing")))?;
        finite_of(v, &format!("{at}.{key}"))
    };
    // A row's values of the model's input columns, in order.
    let inputs = |obj: &Map<String, Value>, at: &str| -> Result<Vec<f64>, ApiError> {
        schema
            .features
            .iter()
            .map(|name| number(obj, name, at))
            .collect()
    };
    for (i, row) in history.iter().enumerate() {
        let at = format!("history[{i}]");
        let obj = row.as_object().ok_or_else(|| {
            ApiError::invalid(format!("{at}: must be an object, got {}", short(row)))
        })?;
        for key in obj.keys() {
            let known = ["unique_id", "ds", "y"].contains(&key.as_str())
                || OHLC_FIELDS.contains(&key.as_str())
                || key == &schema.target
                || time_key == Some(key.as_str())
                || schema.features.contains(key);
            if !known {
                return Err(ApiError::invalid(format!(
                    "{at}.{key}: unknown column (a history row takes unique_id, ds, y, open/high/low and the model's input columns)"
                )));
            }
        }
        let id = id_of_row(obj, &at)?;
        let f = forecaster_of(model, &id).ok_or_else(|| ApiError::internal("series vanished"))?;
        let target_key = if obj.contains_key("y") || !obj.contains_key(&schema.target) {
            "y"
        } else {
            schema.target.as_str()
        };
        let y = number(obj, target_key, &at).map_err(|e| {
            if obj.contains_key(target_key) {
                e
            } else {
                ApiError::invalid(format!(
                    "{at}.y: missing (the observation, \"y\" or \"{}\")",
                    schema.target
                ))
            }
        })?;
        let x = inputs(obj, &at)?;
        let ohlc = ohlc_of(obj, &format!("{at}."))?;
        let entry = out.entry(id.clone()).or_default();
        let time = match (
            time_key,
            obj.get("ds").or_else(|| time_key.and_then(|k| obj.get(k))),
        ) {
            (Some(k), None) => {
                return Err(ApiError::invalid(format!(
                    "{at}.ds: missing (\"ds\" or \"{k}\")"
                )))
            }
            (Some(_), Some(v)) => Some(v.as_str().and_then(parse_timestamp).ok_or_else(|| {
                ApiError::invalid(format!("{at}.ds: not a date or timestamp: {}", short(v)))
            })?),
            (None, _) => None,
        };
        if let Some(t) = time {
            let series = if id.is_empty() {
                String::new()
            } else {
                format!(" '{id}'")
            };
            let fmt = |t| format_timestamp(t, schema.date_only);
            if let Some(prev) = entry.bars.last().and_then(|b| b.time) {
                if t <= prev {
                    return Err(ApiError::invalid(format!(
                        "{at}.ds: {} does not continue the series{series}: it must come after the previous history row of its series ({})",
                        fmt(t),
                        fmt(prev)
                    )));
                }
            } else if let Some(last) = f.schema.last_timestamp.filter(|last| t <= *last) {
                // A row the model may already hold: a repeat is skipped, anything
                // else is refused.
                match f.recent.check(t, y, &x) {
                    RowMatch::Repeat => continue,
                    RowMatch::Contradicts(column, kept) => {
                        let (key, value) = match column {
                            None => ("y", y),
                            Some(c) => (schema.features[c].as_str(), x[c]),
                        };
                        return Err(ApiError::invalid(format!(
                            "{at}.{key}: {value} contradicts the model's row of series{series} at {} ({kept})",
                            fmt(t)
                        )));
                    }
                    RowMatch::Missing => {
                        return Err(ApiError::invalid(format!(
                            "{at}.ds: {} does not continue the series{series}: the model's data has no row at that time (its last row is at {})",
                            fmt(t),
                            fmt(last)
                        )));
                    }
                    RowMatch::TooOld => {
                        let kept = match f.recent.times.first() {
                            Some(first) => format!(
                                "the {} rows it keeps to recognise repeats start at {}",
                                f.recent.times.len(),
                                fmt(*first)
                            ),
                            None => "it keeps none of its rows to recognise repeats".into(),
                        };
                        return Err(ApiError::invalid(format!(
                            "{at}.ds: {} is too old to check against the model's data: {kept}; send rows after {} (the model's last row) or repeats from the kept rows",
                            fmt(t),
                            fmt(last)
                        )));
                    }
                }
            }
        }
        entry.bars.push(Bar {
            y,
            time,
            inputs: x,
            ohlc,
        });
    }
    for (i, row) in future.iter().enumerate() {
        let at = format!("future[{i}]");
        let obj = row.as_object().ok_or_else(|| {
            ApiError::invalid(format!("{at}: must be an object, got {}", short(row)))
        })?;
        if schema.features.is_empty() {
            return Err(ApiError::invalid(format!(
                "future: model '{}' takes no input columns",
                model.name
            )));
        }
        for key in obj.keys() {
            let known = ["unique_id", "ds"].contains(&key.as_str())
                || time_key == Some(key.as_str())
                || schema.features.contains(key);
            if !known {
                return Err(ApiError::invalid(format!(
                    "{at}.{key}: unknown column (a future row takes unique_id, ds and the model's input columns)"
                )));
            }
        }
        let id = id_of_row(obj, &at)?;
        let entry = out.entry(id).or_default();
        let x = inputs(obj, &at)?;
        push_row(&mut entry.future, &schema.features, &x);
    }
    Ok(out)
}

/// Append one row's input values `x` (in the order of `names`, the model's input
/// columns) to `cols`, which start empty and take those columns in order.
fn push_row(cols: &mut Vec<Column>, names: &[String], x: &[f64]) {
    if cols.is_empty() {
        cols.extend(names.iter().map(|n| Column {
            name: n.clone(),
            values: vec![],
            integer: false,
        }));
    }
    for (c, v) in cols.iter_mut().zip(x) {
        c.values.push(*v);
    }
}

/// `f` after the request's new rows of series `id`, and the series' future regressors.
fn updated<'a>(
    f: &'a Forecaster,
    id: &str,
    q: &'a Query,
) -> Result<(Cow<'a, Forecaster>, &'a [Column]), forecast_core::Error> {
    match q.rows.get(id) {
        None => Ok((Cow::Borrowed(f), &[])),
        Some(r) => {
            let f = if r.bars.is_empty() {
                Cow::Borrowed(f)
            } else {
                Cow::Owned(condition(f, &r.bars)?)
            };
            Ok((f, &r.future))
        }
    }
}

impl Query {
    /// Check `h` and the levels against the limits; `field` names where `h` came from.
    pub fn check(&self, limits: &Limits) -> Result<(), ApiError> {
        if self.h == 0 || self.h > limits.max_horizon {
            return Err(ApiError::invalid(format!(
                "h: must be between 1 and {} (the server's --max-horizon), got {}",
                limits.max_horizon, self.h
            )));
        }
        for l in &self.levels {
            if !(l.is_finite() && *l > 0.0 && *l < 100.0) {
                return Err(ApiError::invalid(format!(
                    "level: each level is a percentage strictly between 0 and 100, got {l}"
                )));
            }
        }
        Ok(())
    }
}

/// A horizon given as a JSON value: a whole number (an integral float or a numeric
/// string, as CSV and `dataframe_split` clients send it).
pub(crate) fn horizon_of(v: &Value, field: &str) -> Result<usize, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "{field}: must be a whole number of steps, got {}",
            short(v)
        ))
    };
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                usize::try_from(u).map_err(|_| bad())
            } else if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f >= 0.0 && f <= u32::MAX as f64 {
                    Ok(f as usize)
                } else {
                    Err(bad())
                }
            } else {
                Err(bad())
            }
        }
        Value::String(s) => s.trim().parse::<usize>().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Interval levels given as a JSON value: a list of numbers, one number, or a string
/// `80;95` (CSV's form; `,` also separates).
pub(crate) fn levels_of(v: &Value, field: &str) -> Result<Vec<f64>, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "{field}: must be a list of percentages (e.g. [80, 95]) or '80;95', got {}",
            short(v)
        ))
    };
    match v {
        Value::Null => Ok(vec![]),
        Value::Number(n) => n.as_f64().map(|f| vec![f]).ok_or_else(bad),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::Number(n) => n.as_f64().ok_or_else(bad),
                Value::String(s) => s.trim().parse::<f64>().map_err(|_| bad()),
                _ => Err(bad()),
            })
            .collect(),
        Value::String(s) => s
            .split([';', ','])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<f64>().map_err(|_| bad()))
            .collect(),
        _ => Err(bad()),
    }
}

/// A series id given as a JSON value (a string, or a number written as text).
pub(crate) fn id_of(v: &Value, field: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(ApiError::invalid(format!(
            "{field}: must be a series id (a string), got {}",
            short(v)
        ))),
    }
}

/// A finite number given as a JSON value (a number, or a numeric string as CSV-minded
/// clients send it); `field` names it in the error.
pub(crate) fn finite_of(v: &Value, field: &str) -> Result<f64, ApiError> {
    let x = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    x.filter(|x| x.is_finite()).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field}: must be a finite number, got {}",
            short(v)
        ))
    })
}

/// A value as a short text for an error message.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Forecast `q` with `model` (blocking: run on a blocking thread). Panels forecast
/// their series in parallel; an unknown series is a 404 naming it.
pub(crate) fn run(
    model: &ServedModel,
    q: &Query,
    limits: &Limits,
) -> Result<Vec<SeriesForecast>, ApiError> {
    q.check(limits)?;
    let model_error = |id: &str, e: forecast_core::Error| {
        let at = if id.is_empty() {
            String::new()
        } else {
            format!(" (series '{id}')")
        };
        match e {
            forecast_core::Error::InvalidConfig { .. } | forecast_core::Error::Model { .. } => {
                ApiError::invalid(format!("model '{}'{at}: {e}", model.name))
            }
            other => ApiError::internal(format!("model '{}'{at}: {other}", model.name)),
        }
    };
    match &model.loaded {
        Loaded::Single(f) => {
            if q.ids.as_ref().is_some_and(|ids| !ids.is_empty()) {
                return Err(ApiError::invalid(format!(
                    "unique_id: model '{}' holds one series; series ids apply to panel models",
                    model.name
                )));
            }
            let (f, future) = updated(f, "", q).map_err(|e| model_error("", e))?;
            let forecast = f
                .predict(q.h, &q.levels, future)
                .map_err(|e| model_error("", e))?;
            Ok(vec![SeriesForecast {
                unique_id: String::new(),
                ds: f.future_timestamps(q.h),
                forecast,
            }])
        }
        Loaded::Panel {
            model: panel,
            index,
        } => {
            let picked: Vec<usize> = match &q.ids {
                Some(ids) if !ids.is_empty() => ids
                    .iter()
                    .map(|id| {
                        index.get(id).copied().ok_or_else(|| {
                            ApiError::not_found(format!(
                                "unique_id: series '{id}' is not in model '{}'",
                                model.name
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                _ => (0..panel.series.len()).collect(),
            };
            let rows = picked.len().saturating_mul(q.h);
            if rows > limits.max_rows {
                return Err(ApiError::invalid(format!(
                    "h: {} steps for {} series make {rows} rows, over the server's limit of {}; ask for fewer series (unique_id / ids) or steps",
                    q.h,
                    picked.len(),
                    limits.max_rows
                )));
            }
            if let Some(ids) = q.ids.as_ref().filter(|ids| !ids.is_empty()) {
                if let Some(other) = q.rows.keys().find(|k| !ids.contains(k)) {
                    return Err(ApiError::invalid(format!(
                        "history: rows of series '{other}', which the request does not forecast (ids)"
                    )));
                }
            }
            let one = |i: usize| {
                let (id, f) = &panel.series[i];
                let (f, future) = updated(f, id, q).map_err(|e| model_error(id, e))?;
                f.predict(q.h, &q.levels, future)
                    .map(|forecast| SeriesForecast {
                        unique_id: id.clone(),
                        ds: f.future_timestamps(q.h),
                        forecast,
                    })
                    .map_err(|e| model_error(id, e))
            };
            if picked.len() >= 64 {
                picked.par_iter().map(|&i| one(i)).collect()
            } else {
                picked.iter().map(|&i| one(i)).collect()
            }
        }
    }
}

/// How the value columns of a record are named.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Naming<'a> {
    /// Native API: `mean`, `lo-80`, `hi-80`.
    Native,
    /// statsforecast's names, as MLflow's forecasting flavours answer: `<model>`,
    /// `<model>-lo-80`, `<model>-hi-80`.
    Model(&'a str),
}

/// One record per forecast step: `unique_id` (panels), `ds` (a timestamp, or the step
/// number for row-indexed data), the point forecast and each level's bounds.
pub(crate) fn records(forecasts: &[SeriesForecast], panel: bool, naming: Naming<'_>) -> Vec<Value> {
    let (mean, prefix) = match naming {
        Naming::Native => ("mean".to_string(), String::new()),
        Naming::Model(m) => (m.to_string(), format!("{m}-")),
    };
    let mut out = Vec::with_capacity(forecasts.iter().map(|f| f.forecast.point.len()).sum());
    for f in forecasts {
        let names: Vec<(String, String)> = f
            .forecast
            .intervals
            .iter()
            .map(|iv| {
                let l = level_name(iv.level);
                (format!("{prefix}lo-{l}"), format!("{prefix}hi-{l}"))
            })
            .collect();
        for (i, point) in f.forecast.point.iter().enumerate() {
            let mut r = Map::new();
            if panel {
                r.insert("unique_id".into(), Value::String(f.unique_id.clone()));
            }
            r.insert(
                "ds".into(),
                match &f.ds {
                    Some(t) => Value::String(t[i].clone()),
                    None => Value::from(i + 1),
                },
            );
            r.insert(mean.clone(), number(*point));
            for (iv, (lo, hi)) in f.forecast.intervals.iter().zip(&names) {
                r.insert(lo.clone(), number(iv.lower[i]));
                r.insert(hi.clone(), number(iv.upper[i]));
            }
            out.push(Value::Object(r));
        }
    }
    out
}

/// A float as JSON (`null` where not finite, which JSON cannot hold).
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}
