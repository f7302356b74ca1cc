//! WebSocket streams: a client subscribes to series of a model, sends new observations
//! (bars) and gets an updated forecast after each one, computed from the fitted state
//! updated by that bar ([`Forecaster::extend`]: one Kalman step for ARIMA, a window shift
//! for the baselines and the networks), never by refitting or re-filtering the history.
//!
//! Protocol (JSON text messages; see `docs/CLI.md`):
//!
//! - client: `{"type": "subscribe", "h": 12, "level": [80, 95], "ids": ["MSFT"]}`
//!   (`ids` for panel models: the series to follow, all of them when absent); the server
//!   answers `{"type": "subscribed", ..}` and one `forecast` message per series, the
//!   forecast from the model's own state;
//! - client: `{"type": "bar", "unique_id": "MSFT", "ds": "2024-01-02", "y": 370.9}`
//!   (`unique_id` when following several series; the target and time may also be named
//!   as in the training data; input columns by name; `open`, `high`, `low` optionally,
//!   for the dashboard's candles); the server answers
//!   `{"type": "forecast", "unique_id", "ds", "rows", "forecasts": [..]}`;
//! - with alert rules (`forecast serve --rules FILE.toml`), each bar that fires a rule
//!   is also answered `{"type": "alert", "rule", "ds", "value", "message", "signal",
//!   "key"}` (`series` for a panel), after its forecast; the rules start from the
//!   model's kept rows and see the stream's bars after them;
//! - a message that cannot be used is answered `{"type": "error", "error_code",
//!   "message"}` naming the field, and the stream stays open.
//!
//! Each stream keeps its own copy of the state of the series it follows: clients never
//! see each other's bars on their stream. Each bar is also published to the server's
//! live feed of its series ([`crate::live`]), which the dashboard follows. A client that leaves more than the queue's worth of answers
//! unread is closed with [`CLOSE_TOO_SLOW`]; the server pings every stream and closes
//! one that does not answer the previous ping; on shutdown streams close with
//! [`CLOSE_GOING_AWAY`].

use crate::error::ApiError;
use crate::forecast::{self, Bar, Limits, Naming, Query};
use crate::live::Live;
use crate::registry::{Loaded, ServedModel};
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use forecast_core::data::{format_timestamp, parse_timestamp};
use forecast_core::panel::SeriesForecast;
use forecast_core::strategy::alert::{Pushed, RuleSet, Watch};
use forecast_core::Forecaster;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// Close code for a client that leaves more than the stream queue's worth of answers
/// unread (1008, policy violation).
pub const CLOSE_TOO_SLOW: u16 = 1008;
/// Close code for a client that does not answer the server's ping before the next one
/// (1008, policy violation).
pub const CLOSE_NO_PONG: u16 = 1008;
/// Close code when the server shuts down (1001, going away).
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// How long a close frame may wait for a client that does not read.
const CLOSE_WRITE_LIMIT: Duration = Duration::from_secs(5);

/// One followed series: its id (empty for a one-series model) and its state.
struct Followed {
    id: String,
    forecaster: Forecaster,
}

/// What one stream is following.
struct Subscription {
    h: usize,
    levels: Vec<f64>,
    series: Vec<Followed>,
}

/// The state of one stream.
pub(crate) struct Session {
    model: Arc<ServedModel>,
    limits: Limits,
    sub: Option<Subscription>,
    rules: Option<Arc<RuleSet>>,
    /// The rules' state over the followed series (a subscription starts it afresh).
    watch: Option<Watch>,
    /// The live feeds each bar is published to (the dashboard's).
    live: Option<Arc<Live>>,
}

fn error(e: &ApiError) -> Value {
    json!({"type": "error", "error_code": e.code, "message": e.message})
}

impl Session {
    pub(crate) fn new(
        model: Arc<ServedModel>,
        limits: Limits,
        rules: Option<Arc<RuleSet>>,
        live: Option<Arc<Live>>,
    ) -> Session {
        Session {
            model,
            limits,
            sub: None,
            rules,
            watch: None,
            live,
        }
    }

    /// The answers to one text message.
    pub(crate) fn handle(&mut self, text: &str) -> Vec<Value> {
        let msg: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return vec![error(&ApiError::bad_request(format!(
                    "a message must be a JSON object: {e}"
                )))]
            }
        };
        let Some(obj) = msg.as_object() else {
            return vec![error(&ApiError::bad_request(
                "a message must be a JSON object with a \"type\" of \"subscribe\" or \"bar\"",
            ))];
        };
        let kind = match obj.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return vec![error(&ApiError::invalid(format!(
                    "type: must be \"subscribe\" or \"bar\", got {}",
                    forecast::short(other)
                )))]
            }
            // Without a type: a message with a horizon subscribes, any other is a bar.
            None if obj.contains_key("h") => "subscribe",
            None => "bar",
        };
        let r = match kind {
            "subscribe" => self.subscribe(obj),
            "bar" => self.bar(obj),
            other => Err(ApiError::invalid(format!(
                "type: must be \"subscribe\" or \"bar\", got \"{other}\""
            ))),
        };
        r.unwrap_or_else(|e| vec![error(&e)])
    }

    fn subscribe(&mut self, obj: &Map<String, Value>) -> Result<Vec<Value>, ApiError> {
        for key in obj.keys() {
            if !["type", "h", "level", "ids", "unique_id"].contains(&key.as_str()) {
                return Err(ApiError::invalid(format!(
                    "{key}: unknown field of a subscribe message (it takes h, level, ids)"
                )));
            }
        }
        let h = forecast::horizon_of(obj.get("h").unwrap_or(&Value::Null), "h")?;
        let levels = forecast::levels_of(obj.get("level").unwrap_or(&Value::Null), "level")?;
        let ids = match (obj.get("ids"), obj.get("unique_id")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "ids: give ids or unique_id, not both".to_string(),
                ))
            }
            (Some(Value::Array(a)), None) => Some(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| forecast::id_of(v, &format!("ids[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            (Some(Value::Null), None) | (None, None) => None,
            (Some(v), None) => {
                return Err(ApiError::invalid(format!(
                    "ids: must be a list of series ids, got {}",
                    forecast::short(v)
                )))
            }
            (None, Some(v)) => Some(vec![forecast::id_of(v, "unique_id")?]),
        };
        let q = Query {
            h,
            levels: levels.clone(),
            ids: ids.clone(),
            ..Query::default()
        };
        q.check(&self.limits)?;
        let series: Vec<Followed> = match &self.model.loaded {
            Loaded::Single(f) => {
                if ids.as_ref().is_some_and(|ids| !ids.is_empty()) {
                    return Err(ApiError::invalid(format!(
                        "ids: model '{}' holds one series; series ids apply to panel models",
                        self.model.name
                    )));
                }
                vec![Followed {
                    id: String::new(),
                    forecaster: (**f).clone(),
                }]
            }
            Loaded::Panel { model, index } => match &ids {
                Some(ids) if !ids.is_empty() => ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let at = index.get(id).ok_or_else(|| {
                            ApiError::not_found(format!(
                                "ids[{i}]: series '{id}' is not in model '{}'",
                                self.model.name
                            ))
                        })?;
                        Ok(Followed {
                            id: id.clone(),
                            forecaster: model.series[*at].1.clone(),
                        })
                    })
                    .collect::<Result<_, ApiError>>()?,
                _ => model
                    .series
                    .iter()
                    .map(|(id, f)| Followed {
                        id: id.clone(),
                        forecaster: f.clone(),
                    })
                    .collect(),
            },
        };
        let rows = series.len().saturating_mul(h);
        if rows > self.limits.max_rows {
            return Err(ApiError::invalid(format!(
                "h: {h} steps for {} series make {rows} rows per update, over the server's limit of {}; follow fewer series (ids)",
                series.len(),
                self.limits.max_rows
            )));
        }
        if let Some(f) = series.first() {
            if !f.forecaster.schema.indicators.is_empty() {
                return Err(ApiError::invalid(format!(
                    "model '{}' computes indicators from the history, which a stream of bars cannot update; use POST /v1/models/{}/forecast",
                    self.model.name, self.model.name
                )));
            }
        }
        let panel = self.model.is_panel();
        let schema = series.first().map(|f| &f.forecaster.schema);
        let date_only = schema.is_none_or(|s| s.date_only);
        let mut out = vec![json!({
            "type": "subscribed",
            "model": self.model.name,
            "version": self.model.version,
            "kind": self.model.kind(),
            "h": h,
            "levels": levels,
            "target": schema.map(|s| s.target.clone()),
            "time_column": schema.and_then(|s| s.time_column.clone()),
            "inputs": schema.map(|s| s.features.clone()).unwrap_or_default(),
            "series": series.iter().map(|f| {
                let s = &f.forecaster.schema;
                let mut v = json!({
                    "last_ds": s.last_timestamp.map(|t| format_timestamp(t, s.date_only)),
                    "rows": s.conditioned_rows,
                });
                if panel {
                    v["unique_id"] = Value::String(f.id.clone());
                }
                v
            }).collect::<Vec<_>>(),
        })];
        let sub = Subscription { h, levels, series };
        for f in &sub.series {
            out.push(self.forecast_message(&sub, f, None)?);
        }
        self.watch = match &self.rules {
            Some(rules) => {
                let rules_err = |e: forecast_core::Error| {
                    ApiError::invalid(format!("model '{}': the alert rules: {e}", self.model.name))
                };
                let mut w = if rules.needs_model() {
                    // `outside` rules judge each bar by the served model's interval.
                    let models = sub
                        .series
                        .iter()
                        .map(|f| (f.id.clone(), f.forecaster.clone()))
                        .collect();
                    Watch::with_model(RuleSet::clone(rules), date_only, models)
                        .map_err(rules_err)?
                } else {
                    Watch::new(RuleSet::clone(rules), date_only)
                };
                for f in &sub.series {
                    let kept = &f.forecaster.recent;
                    w.prime(&f.id, &kept.times, &kept.target).map_err(|e| {
                        ApiError::invalid(format!(
                            "model '{}': the alert rules: {e}",
                            self.model.name
                        ))
                    })?;
                }
                Some(w)
            }
            None => None,
        };
        self.sub = Some(sub);
        Ok(out)
    }

    fn forecast_message(
        &self,
        sub: &Subscription,
        f: &Followed,
        bar_ds: Option<Value>,
    ) -> Result<Value, ApiError> {
        let fc = &f.forecaster;
        let forecast = fc
            .predict(sub.h, &sub.levels, &[])
            .map_err(|e| ApiError::invalid(format!("model '{}': {e}", self.model.name)))?;
        let panel = self.model.is_panel();
        let records = forecast::records(
            &[SeriesForecast {
                unique_id: f.id.clone(),
                ds: fc.future_timestamps(sub.h),
                forecast,
            }],
            panel,
            Naming::Native,
        );
        let mut v = json!({
            "type": "forecast",
            "ds": bar_ds.unwrap_or(Value::Null),
            "rows": fc.schema.conditioned_rows,
            "forecasts": records,
        });
        if panel {
            v["unique_id"] = Value::String(f.id.clone());
        }
        Ok(v)
    }

    fn bar(&mut self, obj: &Map<String, Value>) -> Result<Vec<Value>, ApiError> {
        let Some(sub) = self.sub.as_mut() else {
            return Err(ApiError::bad_request(
                "subscribe first: {\"type\": \"subscribe\", \"h\": N}",
            ));
        };
        let at = match obj.get("unique_id") {
            Some(v) => {
                let id = forecast::id_of(v, "unique_id")?;
                sub.series.iter().position(|f| f.id == id).ok_or_else(|| {
                    ApiError::not_found(format!(
                        "unique_id: this stream does not follow series '{id}'"
                    ))
                })?
            }
            None if sub.series.len() == 1 => 0,
            None => {
                return Err(ApiError::invalid(format!(
                    "unique_id: this stream follows {} series; say which one the bar belongs to",
                    sub.series.len()
                )))
            }
        };
        let fc = &sub.series[at].forecaster;
        let schema = &fc.schema;
        let date_only = schema.date_only;
        // The target: `y`, or the training data's own name.
        let (target_key, y) = [Some("y"), Some(schema.target.as_str())]
            .into_iter()
            .flatten()
            .find_map(|k| obj.get(k).map(|v| (k, v)))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "y: a bar needs the new observation (\"y\" or \"{}\")",
                    schema.target
                ))
            })?;
        let y = forecast::finite_of(y, target_key)?;
        // The time: `ds`, or the training data's time column.
        let time_key = schema.time_column.as_deref();
        let ds_value = obj
            .get("ds")
            .map(|v| ("ds", v))
            .or_else(|| time_key.and_then(|k| obj.get(k).map(|v| (k, v))));
        let ds = match (schema.time_column.is_some(), ds_value) {
            (true, None) => {
                return Err(ApiError::invalid(format!(
                    "ds: a bar of model '{}' needs its time (\"ds\" or \"{}\")",
                    self.model.name,
                    time_key.unwrap_or("ds")
                )))
            }
            (true, Some((key, Value::String(s)))) => {
                let t = parse_timestamp(s).ok_or_else(|| {
                    ApiError::invalid(format!("{key}: not a date or timestamp: '{s}'"))
                })?;
                if let Some(last) = schema.last_timestamp {
                    if t <= last {
                        return Err(ApiError::invalid(format!(
                            "{key}: {s} does not continue the series, whose last row is at {}",
                            format_timestamp(last, schema.date_only)
                        )));
                    }
                }
                Some(t)
            }
            (true, Some((key, other))) => {
                return Err(ApiError::invalid(format!(
                    "{key}: must be a date or timestamp string, got {}",
                    forecast::short(other)
                )))
            }
            (false, _) => None,
        };
        let mut inputs = Vec::with_capacity(schema.features.len());
        for name in &schema.features {
            let v = obj.get(name).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{name}: model '{}' takes input column '{name}'; each bar needs its value",
                    self.model.name
                ))
            })?;
            inputs.push(forecast::finite_of(v, name)?);
        }
        for key in obj.keys() {
            let known = ["type", "unique_id", "ds", "y"].contains(&key.as_str())
                || forecast::OHLC_FIELDS.contains(&key.as_str())
                || key == &schema.target
                || time_key == Some(key.as_str())
                || schema.features.contains(key);
            if !known {
                return Err(ApiError::invalid(format!(
                    "{key}: unknown field of a bar (it takes unique_id, ds, y, open/high/low and the model's input columns)"
                )));
            }
        }
        let bar = Bar {
            y,
            time: ds,
            inputs,
            ohlc: forecast::ohlc_of(obj, "")?,
        };
        let next = forecast::condition(fc, std::slice::from_ref(&bar))
            .map_err(|e| ApiError::invalid(format!("model '{}': {e}", self.model.name)))?;
        sub.series[at].forecaster = next;
        if let Some(live) = &self.live {
            live.publish(&self.model, &sub.series[at].id, &[bar], "stream");
        }
        let bar_ds = match ds {
            Some(t) => Value::String(format_timestamp(t, date_only)),
            None => Value::from(sub.series[at].forecaster.schema.conditioned_rows),
        };
        let sub = self
            .sub
            .as_ref()
            .ok_or_else(|| ApiError::internal("no subscription"))?;
        let mut out = vec![self.forecast_message(sub, &sub.series[at], Some(bar_ds))?];
        if let (Some(w), Some(t)) = (self.watch.as_mut(), ds) {
            match w.push(&sub.series[at].id, t, y) {
                Ok(Pushed::New(alerts)) => out.extend(alerts.into_iter().map(|a| {
                    let mut v = json!(a);
                    v["type"] = json!("alert");
                    v
                })),
                Ok(Pushed::Repeat) => {}
                Err(e) => out.push(error(&ApiError::invalid(format!("the alert rules: {e}")))),
            }
        }
        Ok(out)
    }
}

/// Decrements the open-streams gauge when a stream ends, however it ends.
pub(crate) struct OpenStream(pub(crate) prometheus::IntGauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Serve one stream until the client leaves, falls behind, stops answering pings or
/// the server shuts down.
pub(crate) async fn run(
    st: Arc<AppState>,
    model: Arc<ServedModel>,
    socket: WebSocket,
    shutdown: watch::Receiver<bool>,
) {
    let span = tracing::info_span!("stream", model = %model.name);
    serve_stream(st, model, socket, shutdown)
        .instrument(span)
        .await;
}

async fn serve_stream(
    st: Arc<AppState>,
    model: Arc<ServedModel>,
    socket: WebSocket,
    mut shutdown: watch::Receiver<bool>,
) {
    st.metrics.streams.inc();
    let _open = OpenStream(st.metrics.streams.clone());
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(st.options.stream_queue);
    let (close_tx, mut close_rx) = watch::channel::<Option<(u16, String)>>(None);
    // The writer: answers in order; on a close request, a close frame (if the client
    // reads it within the limit) and the end of the connection.
    let writer = tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                biased;
                _ = close_rx.changed() => break,
                m = rx.recv() => m,
            };
            let Some(m) = m else { break };
            tokio::select! {
                biased;
                _ = close_rx.changed() => break,
                r = sink.send(m) => if r.is_err() { return },
            }
        }
        let frame = close_rx.borrow().clone();
        if let Some((code, reason)) = frame {
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, sink.send(close)).await;
        }
        let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, sink.close()).await;
    });
    let close = |code: u16, reason: String| {
        tracing::info!(code, %reason, "closing the stream");
        let _ = close_tx.send(Some((code, reason)));
    };
    // Queue an answer; false (and the stream closed) when the client is too far behind.
    let push = |m: Message| -> bool {
        match tx.try_send(m) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                close(
                    CLOSE_TOO_SLOW,
                    format!("too slow: {} answers unread", st.options.stream_queue),
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    };
    let mut session = Session::new(
        Arc::clone(&model),
        st.options.limits(),
        st.options.rules.clone(),
        Some(Arc::clone(&st.live)),
    );
    let mut ping = tokio::time::interval(st.options.stream_ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut awaiting_pong = false;
    tracing::info!("stream opened");
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close(CLOSE_GOING_AWAY, "the server is shutting down".into());
                break;
            }
            _ = ping.tick() => {
                if awaiting_pong {
                    close(CLOSE_NO_PONG, "no answer to the last ping".into());
                    break;
                }
                awaiting_pong = true;
                if !push(Message::Ping(axum::body::Bytes::from_static(b"forecast"))) {
                    break;
                }
            }
            m = incoming.next() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Binary(_))) => {
                    let e = error(&ApiError::bad_request(
                        "messages are JSON text, not binary",
                    ));
                    if !push(Message::Text(e.to_string().into())) {
                        break;
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    let mut alive = true;
                    for answer in session.handle(t.as_str()) {
                        if !push(Message::Text(answer.to_string().into())) {
                            alive = false;
                            break;
                        }
                    }
                    if !alive {
                        break;
                    }
                }
            }
        }
    }
    drop(tx);
    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT * 2, writer).await;
    tracing::info!("stream ended");
}

/// Follow a live feed for a dashboard: send `snapshot`, then each event of `rx`, until
/// the client leaves, falls behind (closed with [`CLOSE_TOO_SLOW`]; it may reconnect
/// for a fresh snapshot), or the server shuts down. Messages from the client are not
/// read for meaning.
pub(crate) async fn follow(
    st: Arc<AppState>,
    snapshot: Value,
    mut rx: tokio::sync::broadcast::Receiver<Arc<str>>,
    mut socket: WebSocket,
    mut shutdown: watch::Receiver<bool>,
) {
    use tokio::sync::broadcast::error::RecvError;
    st.metrics.streams.inc();
    let _open = OpenStream(st.metrics.streams.clone());
    let send_limit = CLOSE_WRITE_LIMIT * 2;
    let mut ping = tokio::time::interval(st.options.stream_ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut awaiting_pong = false;
    let first = Message::Text(snapshot.to_string().into());
    if !matches!(
        tokio::time::timeout(send_limit, socket.send(first)).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let close = |code: u16, reason: &str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        }))
    };
    let end = loop {
        let out = tokio::select! {
            _ = shutdown.changed() => break Some(close(CLOSE_GOING_AWAY, "the server is shutting down")),
            _ = ping.tick() => {
                if awaiting_pong {
                    break Some(close(CLOSE_NO_PONG, "no answer to the last ping"));
                }
                awaiting_pong = true;
                Message::Ping(axum::body::Bytes::from_static(b"forecast"))
            }
            e = rx.recv() => match e {
                Ok(text) => Message::Text(text.as_ref().into()),
                Err(RecvError::Lagged(n)) => {
                    break Some(close(CLOSE_TOO_SLOW, &format!("too slow: {n} events missed; reconnect for a fresh snapshot")))
                }
                Err(RecvError::Closed) => break Some(close(CLOSE_GOING_AWAY, "the feed ended")),
            },
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                Some(Ok(Message::Pong(_))) => { awaiting_pong = false; continue }
                Some(Ok(_)) => continue,
            },
        };
        if !matches!(
            tokio::time::timeout(send_limit, socket.send(out)).await,
            Ok(Ok(()))
        ) {
            break None;
        }
    };
    if let Some(frame) = end {
        let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, socket.send(frame)).await;
    }
    let _ = tokio::time::timeout(CLOSE_WRITE_LIMIT, socket.close()).await;
}
