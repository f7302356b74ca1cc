//! `forecast predict`

use crate::output::emit;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use forecast_core::artifact;
use forecast_core::data::{load, LoadOptions, MissingPolicy};
use forecast_core::panel::level_name;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    /// Parquet (panel models; needs --output).
    Parquet,
}

/// Forecast from a saved model.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast predict --model models/msft --horizon 10 --level 80,95\n  \
    forecast predict --model models/msft --horizon 10 --format json --output forecast.json\n  \
    forecast predict --model models/msft --horizon 5 --data datasets/msft_daily.csv   # condition on newer rows, no refit\n  \
    forecast predict --model models/m3 --horizon 18 --level 80,95 --format parquet --output f.parquet   # a panel model\n  \
    forecast predict --model models/armax --future future.csv   # regressors over the horizon; one step per row")]
pub struct PredictArgs {
    /// Model directory written by `forecast train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Steps to forecast [default: the --future file's rows, per series].
    #[arg(long)]
    pub horizon: Option<usize>,
    /// The regressors' values over the horizon, for a model trained with --features
    /// (ARIMAX): CSV or Parquet with the time column and those columns, one row per
    /// future period after the model's last row (a panel: long format with the id
    /// column). Indicators the model computes itself (dow, month, lag:N) are not needed.
    #[arg(long)]
    pub future: Option<PathBuf>,
    /// History to condition on (same schema as training; newer rows), without refitting.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Missing values in --data: error (default), ffill, interpolate or drop.
    #[arg(long, default_value = "error")]
    pub missing: MissingPolicy,
    /// Interval levels in percent.
    #[arg(long, value_delimiter = ',', default_value = "80,95")]
    pub level: Vec<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Panel models: forecast only these series (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub ids: Vec<String>,
    /// Panel models: the model's column name in the output [default: the model kind].
    #[arg(long)]
    pub alias: Option<String>,
}

pub fn run(a: PredictArgs) -> Result<()> {
    anyhow::ensure!(a.horizon != Some(0), "--horizon must be at least 1");
    anyhow::ensure!(
        a.horizon.is_some() || a.future.is_some(),
        "--horizon is required (or --future, whose rows set it)"
    );
    if artifact::is_panel(&a.model) {
        return crate::panel::predict(crate::panel::PredictPanel {
            model: &a.model,
            horizon: a.horizon,
            future: a.future.as_deref(),
            levels: &a.level,
            ids: &a.ids,
            data: a.data.as_deref(),
            alias: a.alias.as_deref(),
            format: match a.format {
                Format::Csv => "csv",
                Format::Json => "json",
                Format::Parquet => "parquet",
            },
            output: a.output.as_deref(),
            missing: a.missing,
        });
    }
    anyhow::ensure!(
        a.ids.is_empty() && a.alias.is_none(),
        "--ids and --alias apply to panel models; {} holds one series",
        a.model.display()
    );
    anyhow::ensure!(
        !matches!(a.format, Format::Parquet),
        "--format parquet applies to panel models; {} holds one series (csv or json)",
        a.model.display()
    );
    let mut model = artifact::load(&a.model)?;
    if let Some(path) = &a.data {
        let history = model.read_series(path, a.missing)?;
        model = model.condition(&history)?;
    }
    let future = match &a.future {
        Some(path) => Some(load_future(path, &model.schema)?),
        None => {
            no_future_needed(
                &a.model,
                &model.future_columns(),
                model.schema.time_column.as_deref(),
                None,
            )?;
            None
        }
    };
    let inputs = model
        .future_inputs(future.as_ref(), a.horizon)
        .with_context(|| format!("--future for {}", a.model.display()))?;
    let horizon = inputs.horizon;
    let fc = model.predict(horizon, &a.level, &inputs.columns)?;
    let times = model.future_timestamps(horizon);
    let text = match a.format {
        Format::Json => {
            let rows: Vec<Value> = (0..horizon)
                .map(|i| {
                    let mut row = Map::new();
                    match &times {
                        Some(t) => row.insert("timestamp".into(), json!(t[i])),
                        None => row.insert("step".into(), json!(i + 1)),
                    };
                    row.insert("forecast".into(), json!(fc.point[i]));
                    for iv in &fc.intervals {
                        let l = level_name(iv.level);
                        row.insert(format!("lower_{l}"), json!(iv.lower[i]));
                        row.insert(format!("upper_{l}"), json!(iv.upper[i]));
                    }
                    Value::Object(row)
                })
                .collect();
            let doc = json!({
                "model": model.spec.model.kind(),
                "horizon": horizon,
                "levels": a.level,
                "rows": rows,
            });
            format!("{}\n", serde_json::to_string_pretty(&doc)?)
        }
        Format::Csv | Format::Parquet => {
            let mut s = String::from(if times.is_some() {
                "timestamp,forecast"
            } else {
                "step,forecast"
            });
            for iv in &fc.intervals {
                let l = level_name(iv.level);
                s.push_str(&format!(",lower_{l},upper_{l}"));
            }
            s.push('\n');
            for i in 0..horizon {
                match &times {
                    Some(t) => s.push_str(&t[i]),
                    None => s.push_str(&(i + 1).to_string()),
                }
                s.push_str(&format!(",{}", fc.point[i]));
                for iv in &fc.intervals {
                    s.push_str(&format!(",{},{}", iv.lower[i], iv.upper[i]));
                }
                s.push('\n');
            }
            s
        }
    };
    emit(&text, a.output.as_deref())
}

/// Read a table of future rows (`--future`): the model's time column, any other
/// columns; missing cells are errors.
fn load_future(
    path: &std::path::Path,
    schema: &forecast_core::data::DataSchema,
) -> Result<forecast_core::Frame> {
    let load_options = LoadOptions {
        time_col: schema.time_column.clone(),
        required: vec![],
        missing: MissingPolicy::Error,
        ..Default::default()
    };
    load(path, &load_options).with_context(|| format!("--future {}", path.display()))
}

/// The error of a model trained with regressors predicted without `--future`: it names
/// the columns the file needs (after the id column, for a panel's long table).
pub(crate) fn no_future_needed(
    model: &std::path::Path,
    needed: &[String],
    time_column: Option<&str>,
    id_column: Option<&str>,
) -> anyhow::Result<()> {
    if needed.is_empty() {
        return Ok(());
    }
    let columns: Vec<&str> = id_column
        .into_iter()
        .chain(time_column)
        .chain(needed.iter().map(String::as_str))
        .collect();
    let table = if id_column.is_some() {
        "a long table: "
    } else {
        "columns: "
    };
    anyhow::bail!(
        "{} was trained with regressors ({}): pass their values over the horizon with --future FILE ({table}{})",
        model.display(),
        needed.join(", "),
        columns.join(", ")
    )
}
