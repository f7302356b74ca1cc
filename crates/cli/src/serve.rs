//! `forecast serve`

use anyhow::{Context, Result};
use clap::Args;
use forecast_core::strategy::alert::RuleSet;
use forecast_serve::{ServeOptions, Server, Source};
use std::path::PathBuf;
use std::time::Duration;

/// Serve saved models over HTTP (MLflow's scoring protocol and a native API).
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast serve --model models/msft\n  \
    curl -s localhost:8080/v1/models/msft/forecast -H 'content-type: application/json' -d '{\"h\": 5, \"level\": [80, 95]}'\n  \
    curl -s localhost:8080/invocations -H 'content-type: application/json' -d '{\"dataframe_records\": [{\"h\": 5}]}'\n  \
    FORECAST_TOKEN=s3cret forecast serve --model models/ --port 9000 --token-env FORECAST_TOKEN   # a folder of models\n  \
    forecast serve --model models/msft --data datasets/msft_daily.csv --rules experiments/alerts/dashboard.toml   # dashboard at http://127.0.0.1:8080/")]
pub struct ServeArgs {
    /// A model directory (served under its directory name) or a folder of model
    /// directories (each served under its name; new versions are picked up).
    #[arg(long)]
    pub model: PathBuf,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0: a free port, printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Environment variable holding a bearer token every route but /ping and /health
    /// requires.
    #[arg(long)]
    pub token_env: Option<String>,
    /// Largest horizon a request may ask for.
    #[arg(long, default_value_t = 1000)]
    pub max_horizon: usize,
    /// Largest number of forecast rows (steps × series) in one answer.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_rows: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Time limit of one request, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// How often a folder of models is scanned for new versions, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub reload_interval: f64,
    /// Answers a WebSocket stream may leave unread before it is closed (code 1008).
    #[arg(long, default_value_t = 64)]
    pub stream_queue: usize,
    /// How often each WebSocket stream is pinged, in seconds (no pong by the next ping
    /// closes it).
    #[arg(long, default_value_t = 20.0)]
    pub stream_ping: f64,
    /// Alert rules (TOML, as `forecast watch --rules`) evaluated on each bar of a
    /// WebSocket stream; fired alerts are sent on the stream.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// History the dashboard at / draws: PATH for the only model served, or NAME=PATH
    /// for the model NAME (repeatable). The model's training data (with open, high and
    /// low columns the dashboard draws candles); without it, the rows the model keeps.
    #[arg(long, value_name = "[NAME=]PATH")]
    pub data: Vec<String>,
    /// Where `--model models:/NAME/VERSION` keeps the versions it fetched (default:
    /// ~/.cache/forecast/models).
    #[arg(long)]
    pub model_cache: Option<PathBuf>,
}

/// `--model`: a path, or a registered model fetched into the cache.
fn model_dir(a: &ServeArgs) -> Result<PathBuf> {
    let Some(text) = a.model.to_str() else {
        return Ok(a.model.clone());
    };
    let Some(uri) = tuner::tracking::ModelUri::parse(text) else {
        return Ok(a.model.clone());
    };
    let uri = uri?;
    let destination = tuner::tracking::Destination::from_env(None)?.with_context(|| {
        format!("--model {text}: set MLFLOW_TRACKING_URI to the tracking server that registered it")
    })?;
    let cache = match &a.model_cache {
        Some(c) => c.clone(),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .context("--model-cache is needed when HOME is not set")?
            .join(".cache/forecast/models"),
    };
    let fetched = tuner::tracking::fetch_model(&uri, destination, &cache)
        .with_context(|| format!("--model {text}"))?;
    match &fetched.offline {
        Some(why) => eprintln!(
            "warning: serving cached version {} of '{}' ({why})",
            fetched.version, uri.name
        ),
        None => eprintln!("fetched version {} of '{}'", fetched.version, uri.name),
    }
    Ok(fetched.dir)
}

/// `--data [NAME=]PATH`: a model's name and its history file.
fn data_arg(text: &str) -> (Option<String>, PathBuf) {
    match text.split_once('=') {
        Some((name, path))
            if !name.is_empty() && !name.contains('/') && !std::path::Path::new(text).exists() =>
        {
            (Some(name.to_string()), PathBuf::from(path))
        }
        _ => (None, PathBuf::from(text)),
    }
}

fn seconds(v: f64, flag: &str) -> Result<Duration> {
    anyhow::ensure!(
        v.is_finite() && v > 0.0 && v < 1e9,
        "{flag} must be a positive number of seconds, got {v}"
    );
    Ok(Duration::from_secs_f64(v))
}

pub fn run(a: ServeArgs) -> Result<()> {
    let token = match &a.token_env {
        None => None,
        Some(var) => Some(std::env::var(var).with_context(|| {
            format!("--token-env {var}: the environment variable is not set (or not UTF-8)")
        })?),
    };
    let options = ServeOptions {
        token,
        max_horizon: a.max_horizon,
        max_rows: a.max_rows,
        max_body_bytes: a.max_body_bytes,
        timeout: seconds(a.timeout, "--timeout")?,
        reload_interval: seconds(a.reload_interval, "--reload-interval")?,
        stream_queue: a.stream_queue,
        stream_ping: seconds(a.stream_ping, "--stream-ping")?,
        rules: match &a.rules {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--rules {}", path.display()))?;
                Some(std::sync::Arc::new(
                    RuleSet::from_toml(&text)
                        .with_context(|| format!("--rules {}", path.display()))?,
                ))
            }
        },
        data: a.data.iter().map(|d| data_arg(d)).collect(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FORECAST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let source = Source::detect(&model_dir(&a)?)?;
    let (server, report) = Server::open(source, options)?;
    for (name, error) in &report.failed {
        eprintln!("warning: model '{name}' not served: {error}");
    }
    let models = server.registry().snapshot();
    anyhow::ensure!(
        !models.is_empty() || server.registry().watches(),
        "{}: no model to serve",
        a.model.display()
    );
    let mut names: Vec<&String> = models.keys().collect();
    names.sort();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((a.host.as_str(), a.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", a.host, a.port))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "serving {} model(s): {}",
            names.len(),
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        eprintln!("listening on http://{addr}");
        server.run(listener, shutdown_signal()).await?;
        eprintln!("stopped");
        Ok(())
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
