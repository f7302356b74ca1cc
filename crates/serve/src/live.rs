//! Live feeds: the server's own view of each served series as bars arrive, which the
//! dashboard draws and follows.
//!
//! A feed starts from the series' history (the `--data` file given for the model, else
//! the rows the model keeps) and the model's state. Every bar any client sends — on a
//! stream ([`crate::stream`]) or as `history` rows of a forecast request — that
//! continues the feed is taken in: the feed's model is conditioned on it by the same
//! path the streams use ([`forecast::condition`]), the indicators are computed again by
//! the library ([`Feature::compute`]), the alert rules see it, and one `bar` event
//! (the bar, its indicators, the new forecast, the alerts it fired) goes to every
//! subscriber over a [`broadcast`] channel. A bar at or before the feed's last time is
//! not taken in (the streams' own state is theirs; the feed follows one timeline).

use crate::error::ApiError;
use crate::forecast::{self, Bar, Naming};
use crate::registry::{Loaded, ServedModel};
use chrono::NaiveDateTime;
use forecast_core::data::{format_timestamp, Data, Frame};
use forecast_core::features::Feature;
use forecast_core::panel::SeriesForecast;
use forecast_core::strategy::alert::{Pushed, RuleSet, Watch};
use forecast_core::Forecaster;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// The indicators the dashboard draws: SMA 20 and 50, Bollinger bands (20, 2σ) over the
/// price, RSI 14 in its own panel.
pub const INDICATORS: [Feature; 4] = [
    Feature::Sma(20),
    Feature::Sma(50),
    Feature::BBands { period: 20, k: 2.0 },
    Feature::Rsi(14),
];

/// Steps of the forecast a feed draws (at most the server's `--max-horizon`).
pub const HORIZON: usize = 30;

/// Interval levels of the forecast a feed draws.
pub const LEVELS: [f64; 2] = [80.0, 95.0];

/// Bars the data endpoint answers by default, and the most it answers.
pub const DEFAULT_BARS: usize = 500;
/// The most bars one answer holds.
pub const MAX_BARS: usize = 20_000;

/// Events a slow subscriber may leave unread before it is sent a fresh snapshot.
const CHANNEL_CAPACITY: usize = 256;

/// Alerts a feed remembers for the dashboard's panel.
const KEPT_ALERTS: usize = 200;

/// The events of one feed, as JSON text.
pub(crate) type Events = broadcast::Receiver<Arc<str>>;

/// The feeds, by model name and series id.
type Feeds = HashMap<(String, String), Arc<Mutex<Feed>>>;

/// A `--data` file's series, by series id (`""` for a one-series file).
pub type History = HashMap<String, Frame>;

/// One series' history as the dashboard draws it.
struct Marks {
    times: Option<Vec<NaiveDateTime>>,
    close: Vec<f64>,
    /// Open, high and low, when the data has them.
    ohlc: Option<[Vec<f64>; 3]>,
}

/// The live state of one served series.
struct Feed {
    version: String,
    date_only: bool,
    marks: Marks,
    forecaster: Forecaster,
    watch: Option<Watch>,
    alerts: VecDeque<Value>,
    live_bars: usize,
    tx: broadcast::Sender<Arc<str>>,
}

/// Every feed of a server.
pub struct Live {
    feeds: Mutex<Feeds>,
    histories: HashMap<String, History>,
    rules: Option<Arc<RuleSet>>,
    horizon: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A feed is updated field by field only after every fallible step, so a panic
    // cannot leave it half-written; a poisoned lock is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A float as JSON (`null` where not finite).
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn numbers(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|x| number(*x)).collect())
}

/// The column of `frame` named `name`, in any case.
fn column_ci<'a>(frame: &'a Frame, name: &str) -> Option<&'a [f64]> {
    frame
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .map(|c| c.values.as_slice())
}

impl Live {
    /// Feeds over `histories` (by model name), evaluating `rules`, drawing forecasts of
    /// `horizon` steps.
    pub fn new(
        histories: HashMap<String, History>,
        rules: Option<Arc<RuleSet>>,
        horizon: usize,
    ) -> Live {
        Live {
            feeds: Mutex::new(HashMap::new()),
            histories,
            rules,
            horizon: horizon.clamp(1, HORIZON),
        }
    }

    /// The series `id` of `model` (`None`: the only series, or a panel's first), or a
    /// 404 naming it.
    pub(crate) fn series_id(model: &ServedModel, id: Option<&str>) -> Result<String, ApiError> {
        match (&model.loaded, id) {
            (Loaded::Single(_), None) => Ok(String::new()),
            (Loaded::Single(_), Some(id)) => Err(ApiError::invalid(format!(
                "unique_id: model '{}' holds one series; got '{id}'",
                model.name
            ))),
            (Loaded::Panel { index, .. }, Some(id)) => {
                if index.contains_key(id) {
                    Ok(id.to_string())
                } else {
                    Err(ApiError::not_found(format!(
                        "unique_id: series '{id}' is not in model '{}'",
                        model.name
                    )))
                }
            }
            (Loaded::Panel { model: p, .. }, None) => {
                p.series.first().map(|(id, _)| id.clone()).ok_or_else(|| {
                    ApiError::not_found(format!("model '{}' holds no series", model.name))
                })
            }
        }
    }

    /// The ids of a model's series (empty for a one-series model).
    pub(crate) fn series_ids(model: &ServedModel) -> Vec<String> {
        match &model.loaded {
            Loaded::Single(_) => vec![],
            Loaded::Panel { model, .. } => model.series.iter().map(|(id, _)| id.clone()).collect(),
        }
    }

    fn forecaster<'a>(model: &'a ServedModel, id: &str) -> Option<&'a Forecaster> {
        match &model.loaded {
            Loaded::Single(f) => id.is_empty().then_some(&**f),
            Loaded::Panel { model, index } => index.get(id).map(|&i| &model.series[i].1),
        }
    }

    /// The history a feed of series `id` starts from: the `--data` file's rows up to
    /// the model's last row, else the rows the model keeps.
    fn marks(&self, model: &ServedModel, id: &str, f: &Forecaster) -> Marks {
        let schema = &f.schema;
        if let Some(frame) = self.histories.get(&model.name).and_then(|h| h.get(id)) {
            if let (Some(close), Some(times)) = (
                frame
                    .column(&schema.target)
                    .ok()
                    .or_else(|| column_ci(frame, &schema.target)),
                frame.times.as_ref(),
            ) {
                // Rows after the model's last one are not in its state: leave them out.
                let end = match schema.last_timestamp {
                    Some(last) => times.partition_point(|t| *t <= last),
                    None => times.len(),
                };
                let ohlc = match (
                    column_ci(frame, "open"),
                    column_ci(frame, "high"),
                    column_ci(frame, "low"),
                ) {
                    (Some(o), Some(h), Some(l)) => {
                        Some([o[..end].to_vec(), h[..end].to_vec(), l[..end].to_vec()])
                    }
                    _ => None,
                };
                return Marks {
                    times: Some(times[..end].to_vec()),
                    close: close[..end].to_vec(),
                    ohlc,
                };
            }
        }
        let kept = &f.recent;
        Marks {
            times: (!kept.times.is_empty()).then(|| kept.times.clone()),
            close: kept.target.clone(),
            ohlc: None,
        }
    }

    /// A new feed of series `id` of `model`, sending on `tx`.
    fn start(
        &self,
        model: &ServedModel,
        id: &str,
        tx: broadcast::Sender<Arc<str>>,
    ) -> Result<Feed, ApiError> {
        let f = Self::forecaster(model, id).ok_or_else(|| {
            ApiError::not_found(format!(
                "unique_id: series '{id}' is not in model '{}'",
                model.name
            ))
        })?;
        let marks = self.marks(model, id, f);
        let date_only = f.schema.date_only;
        let watch = match (&self.rules, &marks.times) {
            (Some(rules), Some(times)) => {
                let mut w = if rules.needs_model() {
                    match Watch::with_model(
                        RuleSet::clone(rules),
                        date_only,
                        vec![(id.to_string(), f.clone())],
                    ) {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::warn!(model = %model.name, %e, "the model rules cannot watch this model; they stay silent");
                            Watch::new(RuleSet::clone(rules), date_only)
                        }
                    }
                } else {
                    Watch::new(RuleSet::clone(rules), date_only)
                };
                match w.prime(id, times, &marks.close) {
                    Ok(()) => Some(w),
                    Err(e) => {
                        tracing::warn!(model = %model.name, %e, "the alert rules cannot read this series' history; no alerts on its feed");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(Feed {
            version: model.version.clone(),
            date_only,
            marks,
            forecaster: f.clone(),
            watch,
            alerts: VecDeque::new(),
            live_bars: 0,
            tx,
        })
    }

    /// The feed of series `id` of `model`, started (or started again on a new version
    /// of the model, keeping its subscribers) when needed.
    fn feed(&self, model: &ServedModel, id: &str) -> Result<Arc<Mutex<Feed>>, ApiError> {
        let mut feeds = lock(&self.feeds);
        let key = (model.name.clone(), id.to_string());
        if let Some(feed) = feeds.get(&key) {
            let mut g = lock(feed);
            if g.version == model.version {
                return Ok(Arc::clone(feed));
            }
            let fresh = self.start(model, id, g.tx.clone())?;
            *g = fresh;
            return Ok(Arc::clone(feed));
        }
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let feed = Arc::new(Mutex::new(self.start(model, id, tx)?));
        feeds.insert(key, Arc::clone(&feed));
        Ok(feed)
    }

    /// Take `bars` of series `id` of `model` into its feed and tell its subscribers.
    /// `source` names where they came from (`stream`, `history`). Bars that do not
    /// continue the feed, or that its model refuses, are left out (logged).
    pub(crate) fn publish(&self, model: &ServedModel, id: &str, bars: &[Bar], source: &str) {
        let feed = match self.feed(model, id) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(model = %model.name, series = %id, error = %e.message, "no live feed");
                return;
            }
        };
        let mut g = lock(&feed);
        for bar in bars {
            match self.take(&mut g, model, id, bar, source) {
                Ok(Some(event)) => {
                    // No subscriber is not an error: the feed keeps the bar.
                    let _ = g.tx.send(Arc::from(event.to_string()));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::info!(model = %model.name, series = %id, error = %e.message, "bar left out of the live feed")
                }
            }
        }
    }

    /// One bar into a feed: the event to send, or `None` when it does not continue it.
    fn take(
        &self,
        g: &mut Feed,
        model: &ServedModel,
        id: &str,
        bar: &Bar,
        source: &str,
    ) -> Result<Option<Value>, ApiError> {
        let continues = match (&g.marks.times, bar.time) {
            (Some(times), Some(t)) => times.last().is_none_or(|last| t > *last),
            (None, None) => true,
            (None, Some(_)) => g.marks.close.is_empty(),
            (Some(_), None) => false,
        };
        if !continues {
            return Ok(None);
        }
        let next = forecast::condition(&g.forecaster, std::slice::from_ref(bar))
            .map_err(|e| ApiError::invalid(format!("model '{}': {e}", model.name)))?;
        let forecast = self.forecast(&next, model, id)?;
        let prev = g.marks.close.last().copied().unwrap_or(bar.y);
        let mut alerts = vec![];
        if let (Some(w), Some(t)) = (g.watch.as_mut(), bar.time) {
            match w.push(id, t, bar.y) {
                Ok(Pushed::New(a)) => alerts = a,
                Ok(Pushed::Repeat) => {}
                Err(e) => {
                    tracing::info!(model = %model.name, series = %id, %e, "the alert rules refused a bar")
                }
            }
        }
        // Every fallible step is done: the feed changes now, whole.
        g.forecaster = next;
        g.live_bars += 1;
        if let Some(t) = bar.time {
            g.marks.times.get_or_insert_with(Vec::new).push(t);
        }
        g.marks.close.push(bar.y);
        if let Some([o, h, l]) = g.marks.ohlc.as_mut() {
            // A bar without its own open, high and low is drawn from the last close.
            let [bo, bh, bl] = bar.ohlc.unwrap_or([prev, prev.max(bar.y), prev.min(bar.y)]);
            o.push(bo);
            h.push(bh);
            l.push(bl);
        }
        let alerts: Vec<Value> = alerts.iter().map(|a| alert_json(a, model)).collect();
        for a in &alerts {
            if g.alerts.len() == KEPT_ALERTS {
                g.alerts.pop_front();
            }
            g.alerts.push_back(a.clone());
        }
        let n = g.marks.close.len();
        let indicators = indicators(&g.marks, n - 1..n);
        let mut bar_json = json!({
            "ds": ds_of(&g.marks, g.date_only, n - 1),
            "close": number(bar.y),
        });
        if let Some([o, h, l]) = &g.marks.ohlc {
            bar_json["open"] = number(o[n - 1]);
            bar_json["high"] = number(h[n - 1]);
            bar_json["low"] = number(l[n - 1]);
        }
        let single = |v: Value| match v {
            Value::Array(mut a) => a.pop().unwrap_or(Value::Null),
            other => other,
        };
        let mut event = json!({
            "type": "bar",
            "model": model.name,
            "version": g.version,
            "unique_id": (!id.is_empty()).then(|| id.to_string()),
            "source": source,
            "total": n,
            "live_bars": g.live_bars,
            "bar": bar_json,
            "indicators": Value::Object(indicators.into_iter().map(|(k, v)| (k, single(v))).collect()),
            "forecast": forecast,
            "alerts": alerts,
        });
        if event["unique_id"].is_null() {
            if let Some(o) = event.as_object_mut() {
                o.remove("unique_id");
            }
        }
        Ok(Some(event))
    }

    fn forecast(&self, f: &Forecaster, model: &ServedModel, id: &str) -> Result<Value, ApiError> {
        let p = f
            .predict(self.horizon, &LEVELS, &[])
            .map_err(|e| ApiError::invalid(format!("model '{}': {e}", model.name)))?;
        Ok(Value::Array(forecast::records(
            &[SeriesForecast {
                unique_id: id.to_string(),
                ds: f.future_timestamps(self.horizon),
                forecast: p,
            }],
            false,
            Naming::Native,
        )))
    }

    /// What the dashboard draws of series `id` of `model`: its last `bars` bars with
    /// their indicators, the forecast and the recent alerts. With `subscribe`, also a
    /// receiver of the feed's events after this snapshot (none missed, none repeated).
    pub(crate) fn snapshot(
        &self,
        model: &ServedModel,
        id: &str,
        bars: usize,
        subscribe: bool,
    ) -> Result<(Value, Option<Events>), ApiError> {
        let feed = self.feed(model, id)?;
        let g = lock(&feed);
        let rx = subscribe.then(|| g.tx.subscribe());
        let n = g.marks.close.len();
        let from = n.saturating_sub(bars);
        let ds: Vec<Value> = (from..n).map(|i| ds_of(&g.marks, g.date_only, i)).collect();
        let mut v = json!({
            "type": "snapshot",
            "model": model.name,
            "version": g.version,
            "kind": model.kind(),
            "panel": model.is_panel(),
            "unique_id": (!id.is_empty()).then(|| id.to_string()),
            "series_ids": Self::series_ids(model),
            "target": g.forecaster.schema.target,
            "ohlc": g.marks.ohlc.is_some(),
            "total": n,
            "live_bars": g.live_bars,
            "ds": ds,
            "close": numbers(&g.marks.close[from..]),
            "indicators": Value::Object(indicators(&g.marks, from..n)),
            "h": self.horizon,
            "levels": LEVELS,
            "forecast": self.forecast(&g.forecaster, model, id)?,
            "alerts": g.alerts.iter().cloned().collect::<Vec<_>>(),
            "rules": self.rules.as_ref().map(|r| r.rules.iter().map(|r| json!({
                "name": r.name,
                "message": r.message,
            })).collect::<Vec<_>>()).unwrap_or_default(),
        });
        if let Some([o, h, l]) = &g.marks.ohlc {
            v["open"] = numbers(&o[from..]);
            v["high"] = numbers(&h[from..]);
            v["low"] = numbers(&l[from..]);
        }
        Ok((v, rx))
    }
}

/// The time of row `i` as the dashboard labels it (the row number, from 1, without
/// times).
fn ds_of(m: &Marks, date_only: bool, i: usize) -> Value {
    match m.times.as_ref().and_then(|t| t.get(i)) {
        Some(t) => Value::String(format_timestamp(*t, date_only)),
        None => Value::from(i + 1),
    }
}

/// The dashboard's indicators over the whole series, cut to `rows`.
fn indicators(m: &Marks, rows: std::ops::Range<usize>) -> Map<String, Value> {
    let mut out = Map::new();
    for f in &INDICATORS {
        let Ok(cols) = f.compute(&m.close, m.times.as_deref()) else {
            continue;
        };
        for (name, values) in f.columns().into_iter().zip(cols) {
            let cut = values.get(rows.clone()).unwrap_or(&[]);
            out.insert(name, numbers(cut));
        }
    }
    out
}

fn alert_json(a: &forecast_core::strategy::alert::Alert, model: &ServedModel) -> Value {
    let mut v = json!(a);
    v["type"] = json!("alert");
    v["model"] = json!(model.name);
    v
}

/// Load the `--data` file of `model`: its series by id (a panel's file is long, with
/// the model's id column).
pub(crate) fn load_history(
    model: &ServedModel,
    path: &std::path::Path,
) -> Result<History, forecast_core::Error> {
    let first = match &model.loaded {
        Loaded::Single(f) => Some(&**f),
        Loaded::Panel { model, .. } => model.series.first().map(|(_, f)| f),
    };
    let mut options = forecast_core::data::PanelOptions::default();
    if let Some(f) = first {
        options.load.time_col = f.schema.time_column.clone();
    }
    if let Loaded::Panel { model: p, .. } = &model.loaded {
        options.id_column = Some(p.id_column.clone());
    }
    Ok(match forecast_core::data::load_data(path, &options)? {
        Data::One(frame) => HashMap::from([(String::new(), frame)]),
        Data::Panel(panel) => panel
            .members
            .into_iter()
            .map(|m| {
                let id = if model.is_panel() {
                    m.id
                } else {
                    String::new()
                };
                (id, m.frame)
            })
            .collect(),
    })
}
