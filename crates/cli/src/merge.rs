//! `forecast merge`: pool the backtests of a panel's shards into one.

use crate::output::emit;
use anyhow::{bail, Context, Result};
use clap::Args;
use forecast_core::panel::{PanelScore, SeriesScore, Shard, Skipped};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Pool `backtest --shard I/N --json` outputs into the backtest of the whole panel.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  \
    forecast backtest --data m3.csv --test m3_test.csv --model auto-arima --horizon 18 --shard 1/2 --json > s1.json\n  \
    forecast backtest --data m3.csv --test m3_test.csv --model auto-arima --horizon 18 --shard 2/2 --json > s2.json\n  \
    forecast merge s1.json s2.json")]
pub struct MergeArgs {
    /// Panel backtest JSON files (`forecast backtest ... --json` on a panel).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Write the merged JSON here [default: stdout].
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// One shard's backtest, as read back.
struct Part {
    score: PanelScore,
    failed: Vec<Skipped>,
    horizon: usize,
    evaluation: String,
    shard: Option<Shard>,
}

fn read_part(path: &PathBuf) -> Result<Part> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not JSON (expected `backtest --json` output)",
            path.display()
        )
    })?;
    let field = |k: &str| {
        v.get(k).cloned().with_context(|| {
            format!(
                "{}: no '{k}' key: not the JSON of a panel backtest (`forecast backtest --json` on a panel)",
                path.display()
            )
        })
    };
    let parse = |k: &str| -> Result<Value> { field(k) };
    let per_series: Vec<SeriesScore> = serde_json::from_value(parse("per_series")?)
        .with_context(|| format!("{}: bad 'per_series'", path.display()))?;
    let skipped: Vec<Skipped> = serde_json::from_value(parse("skipped")?)
        .with_context(|| format!("{}: bad 'skipped'", path.display()))?;
    let failed: Vec<Skipped> = serde_json::from_value(parse("failed")?)
        .with_context(|| format!("{}: bad 'failed'", path.display()))?;
    let model = parse("model")?
        .as_str()
        .with_context(|| format!("{}: bad 'model'", path.display()))?
        .to_string();
    let horizon = parse("horizon")?
        .as_u64()
        .with_context(|| format!("{}: bad 'horizon'", path.display()))? as usize;
    let evaluation = parse("evaluation")?
        .as_str()
        .with_context(|| format!("{}: bad 'evaluation'", path.display()))?
        .to_string();
    let shard = match v.get("shard").and_then(Value::as_str) {
        Some(s) => Some(
            s.parse::<Shard>()
                .map_err(|e| anyhow::anyhow!("{}: bad 'shard': {e}", path.display()))?,
        ),
        None => None,
    };
    Ok(Part {
        score: PanelScore::pool(&model, per_series, skipped),
        failed,
        horizon,
        evaluation,
        shard,
    })
}

/// Every shard of the same split, once each, all of them.
fn check_shards(parts: &[Part], files: &[PathBuf]) -> Result<Option<usize>> {
    let shards: Vec<Option<Shard>> = parts.iter().map(|p| p.shard).collect();
    if shards.iter().all(Option::is_none) {
        return Ok(None);
    }
    let Some(Some(first)) = shards.first() else {
        bail!("{} has no 'shard' but others do", files[0].display());
    };
    let n = first.count;
    let mut seen = vec![false; n];
    for (s, f) in shards.iter().zip(files) {
        let Some(s) = s else {
            bail!("{} has no 'shard' but others do", f.display());
        };
        if s.count != n {
            bail!(
                "{} is shard {s}, but the first file is of {n} shards",
                f.display()
            );
        }
        if std::mem::replace(&mut seen[s.index - 1], true) {
            bail!("shard {s} is given twice ({})", f.display());
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|i| !seen[i - 1])
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        bail!("shards missing: {}", missing.join(", "));
    }
    Ok(Some(n))
}

pub fn run(a: MergeArgs) -> Result<()> {
    let parts: Vec<Part> = a.files.iter().map(read_part).collect::<Result<_>>()?;
    let shards = check_shards(&parts, &a.files)?;
    let (horizon, evaluation) = (parts[0].horizon, parts[0].evaluation.clone());
    for (p, f) in parts.iter().zip(&a.files) {
        if p.horizon != horizon || p.evaluation != evaluation {
            bail!(
                "{}: horizon {} ({}) differs from the first file's {horizon} ({evaluation})",
                f.display(),
                p.horizon,
                p.evaluation
            );
        }
    }
    let mut failed = Vec::new();
    let mut scores = Vec::new();
    for p in parts {
        failed.extend(p.failed);
        scores.push(p.score);
    }
    let merged = PanelScore::merge(scores)?;
    let mut doc = crate::panel::score_json(&merged, horizon, &evaluation, Some(&failed));
    doc["shards"] = json!(shards.unwrap_or(a.files.len()));
    emit(
        &format!("{}\n", serde_json::to_string_pretty(&doc)?),
        a.output.as_deref(),
    )
}
