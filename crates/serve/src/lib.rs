//! `forecast serve`: saved models over HTTP.
//!
//! - MLflow's scoring protocol: `GET /ping`, `GET /health`, `GET /version`,
//!   `POST /invocations` (JSON `dataframe_split` / `dataframe_records` / `instances` /
//!   `inputs` with optional `params`, or CSV), so that MLflow clients and deploy tools
//!   work unchanged;
//! - a native API: `GET /v1/models`, `POST /v1/models/{name}/forecast`,
//!   `GET /openapi.json`;
//! - a live dashboard at `/` ([`dashboard`]): `GET /v1/models/{name}/data` (history,
//!   indicators, forecast, alerts of a series) and the WebSocket
//!   `/v1/models/{name}/live` (each bar any client sends, with its indicators, the new
//!   forecast and the alerts it fired; see [`live`]);
//! - operations: `GET /metrics` (Prometheus), a request id on every answer
//!   (`x-request-id`) and in the logs (`tracing`), body and horizon limits, a time limit
//!   per request, an optional bearer token, graceful shutdown.
//!
//! A folder of model directories is watched: a model written beside and renamed over
//! the old one (as `forecast train --out` does) is swapped in whole, and requests that
//! started on the old version finish on it.
//!
//! The crate sets no process-wide state (no logger, no signal handler, no global
//! metrics registry); the binary does.

pub mod dashboard;
mod error;
mod forecast;
pub mod live;
mod metrics;
mod mlflow;
mod registry;
mod stream;

pub use error::{ApiError, ServeError};
pub use forecast::{Bar, Limits, NewRows, Query};
pub use metrics::Metrics;
pub use registry::{Registry, ScanReport, ServedModel, Source};
pub use stream::{CLOSE_GOING_AWAY, CLOSE_NO_PONG, CLOSE_TOO_SLOW};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use forecast_core::strategy::alert::RuleSet;

/// The OpenAPI document of every route.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Server options (the command line's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct ServeOptions {
    /// Bearer token every route but `/ping` and `/health` requires (`None`: open).
    pub token: Option<String>,
    /// Largest horizon a request may ask for.
    pub max_horizon: usize,
    /// Largest number of forecast rows (steps × series) in one answer.
    pub max_rows: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Time limit of one request's computation.
    pub timeout: Duration,
    /// How often a folder of models is scanned for new versions.
    pub reload_interval: Duration,
    /// Answers a WebSocket stream may leave unread before it is closed as too slow.
    pub stream_queue: usize,
    /// How often the server pings each stream (a stream that has not answered the
    /// previous ping is closed).
    pub stream_ping: Duration,
    /// Alert rules evaluated on each bar of a stream (alerts are sent on the stream)
    /// and of the live feeds (alerts are sent to the dashboard).
    pub rules: Option<Arc<RuleSet>>,
    /// History files the dashboard draws, by model name (`None`: the only model served):
    /// the model's training data, or any file with its time and target columns (and
    /// `open`, `high`, `low` for candles; a panel's in long form with its id column).
    pub data: Vec<(Option<String>, std::path::PathBuf)>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            token: None,
            max_horizon: 1000,
            max_rows: 1_000_000,
            max_body_bytes: 1 << 20,
            timeout: Duration::from_secs(30),
            reload_interval: Duration::from_secs(1),
            stream_queue: 64,
            stream_ping: Duration::from_secs(20),
            rules: None,
            data: Vec::new(),
        }
    }
}

impl ServeOptions {
    fn check(&self) -> Result<(), ServeError> {
        let bad = |option, message: &str| {
            Err(ServeError::Option {
                option,
                message: message.into(),
            })
        };
        if self.max_horizon == 0 {
            return bad("max-horizon", "must be at least 1");
        }
        if self.max_rows == 0 {
            return bad("max-rows", "must be at least 1");
        }
        if self.max_body_bytes < 64 {
            return bad("max-body-bytes", "must be at least 64");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "must be more than zero");
        }
        if self.reload_interval.is_zero() {
            return bad("reload-interval", "must be more than zero");
        }
        if self.stream_queue == 0 {
            return bad("stream-queue", "must be at least 1");
        }
        if self.stream_ping.is_zero() {
            return bad("stream-ping", "must be more than zero");
        }
        if self.token.as_deref().is_some_and(str::is_empty) {
            return bad("token", "an empty bearer token would let anyone in");
        }
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits {
            max_horizon: self.max_horizon,
            max_rows: self.max_rows,
        }
    }
}

struct AppState {
    registry: Registry,
    options: ServeOptions,
    metrics: Metrics,
    next_id: AtomicU64,
    /// Set to `true` when the server shuts down (streams close with going-away).
    shutdown: tokio::sync::watch::Sender<bool>,
    /// The live feeds of the served series (the dashboard's).
    live: Arc<live::Live>,
}

/// A server over a set of models.
#[derive(Clone)]
pub struct Server {
    state: Arc<AppState>,
}

/// Read and write buffer of a WebSocket stream (bars are small; answers are flushed
/// one by one whatever their size).
const STREAM_BUFFER_BYTES: usize = 8 << 10;

/// Routes that answer without the bearer token (health probes, and the dashboard's
/// page, which holds no data: the routes it calls need the token).
const OPEN_ROUTES: &[&str] = &["/ping", "/health", "/"];

impl Server {
    /// Load the models of `source` (blocking). In a folder, subdirectories that fail
    /// to load are left out and listed in the report.
    pub fn open(source: Source, options: ServeOptions) -> Result<(Server, ScanReport), ServeError> {
        options.check()?;
        let (registry, report) = Registry::open(source)?;
        let histories = load_histories(&registry, &options.data)?;
        let live = Arc::new(live::Live::new(
            histories,
            options.rules.clone(),
            options.max_horizon,
        ));
        let metrics = Metrics::new();
        metrics.models.set(registry.snapshot().len() as i64);
        Ok((
            Server {
                state: Arc::new(AppState {
                    registry,
                    options,
                    metrics,
                    next_id: AtomicU64::new(1),
                    shutdown: tokio::sync::watch::Sender::new(false),
                    live,
                }),
            },
            report,
        ))
    }

    /// The models served now.
    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// Scan a folder of models once for new versions (blocking; what the server does
    /// every `reload_interval`).
    pub fn rescan(&self) -> ScanReport {
        rescan(&self.state)
    }

    /// Every route, with its middleware.
    pub fn router(&self) -> Router {
        let st = Arc::clone(&self.state);
        Router::new()
            .route("/", get(dashboard::serve))
            .route("/v1/models/{name}/data", get(live_data))
            .route("/v1/models/{name}/live", get(live_stream))
            .route("/ping", get(ping))
            .route("/health", get(ping))
            .route("/version", get(version))
            .route("/invocations", post(invocations))
            .route("/v1/models", get(list_models))
            .route("/v1/models/{name}/forecast", post(native_forecast))
            .route("/v1/models/{name}/stream", get(stream_named))
            .route("/forecast", get(stream_default))
            .route("/openapi.json", get(openapi))
            .route("/metrics", get(render_metrics))
            .route_layer(middleware::from_fn_with_state(Arc::clone(&st), around))
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(no_route)
            .with_state(st)
    }

    /// Serve on `listener` until `shutdown` resolves, then stop accepting, finish the
    /// requests in flight, close the streams with going-away ([`CLOSE_GOING_AWAY`]) and
    /// return. A folder of models is rescanned meanwhile.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let watcher = self.state.registry.watches().then(|| {
            let st = Arc::clone(&self.state);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(st.options.reload_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let s = Arc::clone(&st);
                    if tokio::task::spawn_blocking(move || rescan(&s))
                        .await
                        .is_err()
                    {
                        tracing::error!("model folder scan panicked; scanning again next tick");
                    }
                }
            })
        });
        let st = Arc::clone(&self.state);
        let signal = async move {
            shutdown.await;
            st.shutdown.send_replace(true);
        };
        let result = axum::serve(listener, self.router())
            .with_graceful_shutdown(signal)
            .await;
        if let Some(w) = watcher {
            w.abort();
        }
        // Upgraded connections are the streams' own: wait for them to close.
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.state.metrics.streams.get() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        result.map_err(ServeError::Io)
    }
}

/// The `--data` files, loaded against their models, by model name.
fn load_histories(
    registry: &Registry,
    data: &[(Option<String>, std::path::PathBuf)],
) -> Result<std::collections::HashMap<String, live::History>, ServeError> {
    let snap = registry.snapshot();
    let mut out = std::collections::HashMap::new();
    for (name, path) in data {
        let model = match name {
            Some(n) => snap.get(n).ok_or_else(|| ServeError::Option {
                option: "data",
                message: format!("{}: no model '{n}' is served", path.display()),
            })?,
            None if snap.len() == 1 => snap.values().next().ok_or_else(|| ServeError::Option {
                option: "data",
                message: "no model is served".into(),
            })?,
            None => {
                return Err(ServeError::Option {
                    option: "data",
                    message: format!(
                        "{}: {} models are served; say whose data it is (NAME=PATH)",
                        path.display(),
                        snap.len()
                    ),
                })
            }
        };
        let history = live::load_history(model, path).map_err(|e| ServeError::Source {
            path: path.clone(),
            message: e.to_string(),
        })?;
        out.insert(model.name.clone(), history);
    }
    Ok(out)
}

fn rescan(st: &AppState) -> ScanReport {
    let report = st.registry.scan();
    for name in &report.loaded {
        tracing::info!(model = %name, "model loaded");
    }
    for name in &report.removed {
        tracing::info!(model = %name, "model removed (its directory is gone)");
    }
    for (name, error) in &report.failed {
        tracing::warn!(model = %name, %error, "model failed to load; the previous version keeps serving");
    }
    st.metrics.models.set(st.registry.snapshot().len() as i64);
    report
}

/// Request id, bearer token, logs and metrics around every matched route.
async fn around(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let id = request_id(&st, req.headers());
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut resp = if st.options.token.is_some()
        && !OPEN_ROUTES.contains(&route.as_str())
        && !authorized(&st, req.headers())
    {
        ApiError::unauthenticated().into_response()
    } else {
        next.run(req).instrument(span.clone()).await
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    let status = resp.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    st.metrics.observe(&route, method.as_str(), status, seconds);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms = seconds * 1e3, "answered");
        } else if status >= 400 {
            tracing::warn!(status, latency_ms = seconds * 1e3, "answered");
        } else {
            tracing::info!(status, latency_ms = seconds * 1e3, "answered");
        }
    });
    resp
}

/// The client's `x-request-id` when it is short printable ASCII, else a new one.
fn request_id(st: &AppState, headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("req-{}", st.next_id.fetch_add(1, Ordering::Relaxed)))
}

/// Whether the request carries the bearer token (compared in constant time): in the
/// `Authorization` header, or, for a browser's WebSocket (which cannot set headers), as
/// the subprotocol `forecast.bearer.<token in unpadded base64url>`.
fn authorized(st: &AppState, headers: &HeaderMap) -> bool {
    use subtle::ConstantTimeEq;
    let Some(token) = st.options.token.as_deref() else {
        return true;
    };
    if let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return given.as_bytes().ct_eq(token.as_bytes()).into();
    }
    let encoded = dashboard::base64(token.as_bytes(), true);
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix(dashboard::BEARER_PROTOCOL_PREFIX))
        .any(|given| bool::from(given.as_bytes().ct_eq(encoded.as_bytes())))
}

async fn no_route(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: axum::http::Uri,
) -> Response {
    st.metrics.observe("unmatched", method.as_str(), 404, 0.0);
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "ENDPOINT_NOT_FOUND",
        message: format!("no route {method} {}; see GET /openapi.json", uri.path()),
    }
    .into_response()
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "BAD_REQUEST",
        message: format!(
            "{} does not take {method}; see GET /openapi.json",
            uri.path()
        ),
    }
    .into_response()
}

/// `/ping` and `/health`: 200 once the models are loaded (they are before the server
/// listens).
async fn ping() -> impl IntoResponse {
    (StatusCode::OK, "\n")
}

async fn version() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        env!("CARGO_PKG_VERSION"),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn render_metrics(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        st.metrics.render(),
    )
}

async fn list_models(State(st): State<Arc<AppState>>) -> Json<Value> {
    let snap = st.registry.snapshot();
    let mut models: Vec<Value> = snap.values().map(|m| m.describe()).collect();
    models.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Json(json!({ "models": models }))
}

/// The media type of a request (`application/json` when none is given).
fn media_type(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get(header::CONTENT_TYPE) {
        None => Ok("application/json".into()),
        Some(v) => v
            .to_str()
            .map(|s| {
                s.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .map_err(|_| ApiError::media_type("(not text)", "application/json")),
    }
}

/// The body, up to the size limit.
async fn read_body(st: &AppState, body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, st.options.max_body_bytes)
        .await
        .map_err(|_| ApiError::too_large(st.options.max_body_bytes))
}

/// Run `f` on a blocking thread within the time limit.
async fn compute<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let limit = st.options.timeout;
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(ApiError::internal(format!("the forecast failed: {e}"))),
        Err(_) => Err(ApiError::timeout(limit)),
    }
}

/// The only served model, for `/invocations` (which names none).
fn sole_model(st: &AppState) -> Result<Arc<ServedModel>, ApiError> {
    let snap = st.registry.snapshot();
    match snap.len() {
        1 => Ok(snap.values().next().cloned().ok_or_else(|| ApiError::internal("no model"))?),
        0 => Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "TEMPORARILY_UNAVAILABLE",
            message: "no model is loaded".into(),
        }),
        n => Err(ApiError::bad_request(format!(
            "/invocations serves one model and {n} are loaded; use POST /v1/models/{{name}}/forecast"
        ))),
    }
}

async fn invocations(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let mt = media_type(&headers)?;
        let bytes = read_body(&st, body).await?;
        let queries = match mt.as_str() {
            "application/json" => mlflow::parse_json(&bytes)?,
            "text/csv" => mlflow::parse_csv(&bytes)?,
            other => return Err(ApiError::media_type(other, "application/json or text/csv")),
        };
        let model = sole_model(&st)?;
        let limits = st.options.limits();
        let records = compute(&st, move || {
            let mut out = Vec::new();
            let mut rows = 0usize;
            for q in &queries {
                let fc = forecast::run(&model, q, &limits)?;
                rows += fc.iter().map(|f| f.forecast.point.len()).sum::<usize>();
                if rows > limits.max_rows {
                    return Err(ApiError::invalid(format!(
                        "the answer would hold more than {} rows (the server's limit); send fewer or shorter requests",
                        limits.max_rows
                    )));
                }
                out.extend(forecast::records(
                    &fc,
                    model.is_panel(),
                    forecast::Naming::Model(model.kind()),
                ));
            }
            Ok(out)
        })
        .await?;
        Ok(Json(json!({ "predictions": records })).into_response())
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/models/{name}/stream`: a WebSocket stream of forecasts (see [`stream`]).
async fn stream_named(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let model = match st.registry.get(&name) {
        Some(m) => m,
        None => {
            return ApiError::not_found(format!("model '{name}' is not served; see GET /v1/models"))
                .into_response()
        }
    };
    upgrade(st, model, ws)
}

/// `GET /forecast`: the stream of the only model, or of `?model=NAME`, for clients of
/// services that stream at `/forecast`.
async fn stream_default(
    State(st): State<Arc<AppState>>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let model = match params.get("model") {
        Some(name) => st.registry.get(name).ok_or_else(|| {
            ApiError::not_found(format!("model '{name}' is not served; see GET /v1/models"))
        }),
        None => sole_model(&st),
    };
    match model {
        Ok(m) => upgrade(st, m, ws),
        Err(e) => e.into_response(),
    }
}

fn upgrade(
    st: Arc<AppState>,
    model: Arc<ServedModel>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return ApiError {
                status: e.status(),
                code: "BAD_REQUEST",
                message: format!("this route is a WebSocket stream: {}", e.body_text()),
            }
            .into_response()
        }
    };
    let shutdown = st.shutdown.subscribe();
    if *shutdown.borrow() {
        return ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "TEMPORARILY_UNAVAILABLE",
            message: "the server is shutting down".into(),
        }
        .into_response();
    }
    // Small buffers: an idle stream should cost kilobytes, not the 2 × 128 KiB defaults.
    ws.max_message_size(st.options.max_body_bytes)
        .read_buffer_size(STREAM_BUFFER_BYTES)
        .write_buffer_size(STREAM_BUFFER_BYTES)
        .on_upgrade(move |socket| stream::run(st, model, socket, shutdown))
}

/// `POST /v1/models/{name}/forecast` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeRequest {
    h: Value,
    #[serde(default)]
    level: Value,
    #[serde(default)]
    ids: Option<Vec<Value>>,
    #[serde(default)]
    history: Vec<Value>,
    #[serde(default)]
    future: Vec<Value>,
}

async fn native_forecast(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let r = async {
        let mt = media_type(&headers)?;
        if mt != "application/json" {
            return Err(ApiError::media_type(&mt, "application/json"));
        }
        let bytes = read_body(&st, body).await?;
        let req: NativeRequest = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the body must be {{\"h\": N, \"level\"?: [..], \"ids\"?: [..], \"history\"?: [..], \"future\"?: [..]}}: {e}"
            ))
        })?;
        let model = st.registry.get(&name).ok_or_else(|| {
            ApiError::not_found(format!("model '{name}' is not served; see GET /v1/models"))
        })?;
        let q = Query {
            h: forecast::horizon_of(&req.h, "h")?,
            levels: forecast::levels_of(&req.level, "level")?,
            ids: req
                .ids
                .map(|ids| {
                    ids.iter()
                        .enumerate()
                        .map(|(i, v)| forecast::id_of(v, &format!("ids[{i}]")))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            rows: forecast::new_rows(&model, &req.history, &req.future)?,
        };
        let limits = st.options.limits();
        let m = Arc::clone(&model);
        let levels = q.levels.clone();
        let h = q.h;
        let live = Arc::clone(&st.live);
        let records = compute(&st, move || {
            let fc = forecast::run(&m, &q, &limits)?;
            // The new rows are bars of their series: the live feeds take them in.
            for (id, rows) in &q.rows {
                live.publish(&m, id, &rows.bars, "history");
            }
            Ok(forecast::records(
                &fc,
                m.is_panel(),
                forecast::Naming::Native,
            ))
        })
        .await?;
        Ok(Json(json!({
            "model": model.name,
            "version": model.version,
            "kind": model.kind(),
            "h": h,
            "levels": levels,
            "forecasts": records,
        }))
        .into_response())
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

/// The dashboard routes' query: `unique_id` (a panel's series) and `bars` (data only).
struct LiveParams {
    unique_id: Option<String>,
    bars: usize,
}

fn live_params(
    q: Result<axum::extract::Query<std::collections::HashMap<String, String>>, QueryRejection>,
    takes_bars: bool,
) -> Result<LiveParams, ApiError> {
    let axum::extract::Query(q) =
        q.map_err(|e| ApiError::bad_request(format!("the query: {}", e.body_text())))?;
    let mut p = LiveParams {
        unique_id: None,
        bars: live::DEFAULT_BARS,
    };
    for (k, v) in q {
        match k.as_str() {
            "unique_id" => p.unique_id = Some(v),
            "bars" if takes_bars => {
                p.bars = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=live::MAX_BARS).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "bars: must be a whole number from 1 to {}, got {}",
                            live::MAX_BARS,
                            forecast::short(&Value::String(v.clone()))
                        ))
                    })?;
            }
            _ => {
                let takes = if takes_bars {
                    "unique_id and bars"
                } else {
                    "unique_id"
                };
                return Err(ApiError::invalid(format!(
                    "{}: unknown query parameter (this route takes {takes})",
                    forecast::short(&Value::String(k.clone()))
                )));
            }
        }
    }
    Ok(p)
}

fn served(st: &AppState, name: &str) -> Result<Arc<ServedModel>, ApiError> {
    st.registry.get(name).ok_or_else(|| {
        ApiError::not_found(format!("model '{name}' is not served; see GET /v1/models"))
    })
}

/// `GET /v1/models/{name}/data`: what the dashboard draws of a series (see
/// [`live::Live`]).
async fn live_data(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Result<axum::extract::Query<std::collections::HashMap<String, String>>, QueryRejection>,
) -> Response {
    let r = async {
        let model = served(&st, &name)?;
        let p = live_params(q, true)?;
        let id = live::Live::series_id(&model, p.unique_id.as_deref())?;
        let live = Arc::clone(&st.live);
        let (v, _) = compute(&st, move || live.snapshot(&model, &id, p.bars, false)).await?;
        Ok::<_, ApiError>(Json(v).into_response())
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

/// WebSocket `GET /v1/models/{name}/live`: a snapshot of the series, then one event per
/// bar its feed takes in.
async fn live_stream(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    q: Result<axum::extract::Query<std::collections::HashMap<String, String>>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let r = async {
        let model = served(&st, &name)?;
        let p = live_params(q, false)?;
        let id = live::Live::series_id(&model, p.unique_id.as_deref())?;
        let ws = ws.map_err(|e| ApiError {
            status: e.status(),
            code: "BAD_REQUEST",
            message: format!("this route is a WebSocket stream: {}", e.body_text()),
        })?;
        let shutdown = st.shutdown.subscribe();
        if *shutdown.borrow() {
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "TEMPORARILY_UNAVAILABLE",
                message: "the server is shutting down".into(),
            });
        }
        let live = Arc::clone(&st.live);
        let (snapshot, rx) = compute(&st, move || {
            live.snapshot(&model, &id, live::DEFAULT_BARS, true)
        })
        .await?;
        let rx = rx.ok_or_else(|| ApiError::internal("no subscription"))?;
        let st2 = Arc::clone(&st);
        Ok::<_, ApiError>(
            ws.protocols([dashboard::LIVE_PROTOCOL])
                .max_message_size(4096)
                .read_buffer_size(STREAM_BUFFER_BYTES)
                .on_upgrade(move |socket| stream::follow(st2, snapshot, rx, socket, shutdown)),
        )
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}
