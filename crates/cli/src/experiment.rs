//! `forecast experiment run`: accuracy studies (see `tuner::study`); the Markdown
//! tables are rendered here, where they are printed and written.

use crate::args::TrackingArgs;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use forecast_core::fsio::write_file;
use serde_json::json;
use std::path::PathBuf;
use tuner::study::{Study, StudyReport, StudySpec};

/// Accuracy studies: many models, horizons and folds, beside the naive forecast.
#[derive(Args, Debug)]
pub struct ExperimentArgs {
    #[command(subcommand)]
    pub command: ExperimentCommand,
}

/// `forecast experiment` subcommands.
#[derive(Subcommand, Debug)]
pub enum ExperimentCommand {
    /// Run a study spec and write `<out>/<name>.json` and `<out>/<name>.md`.
    #[command(after_help = "Examples:\n  \
        forecast experiment run experiments/quick-airpassengers.toml\n  \
        forecast experiment run experiments/quick-msft.toml --threads 2 --json\n  \
        forecast experiment run experiments/full-msft-neural.toml --out /tmp/results\n\n\
        A spec lists [data], [evaluation] (horizons, folds, step, refit) and [[model]] entries\n\
        (kind, name, transform, refit, set = { KEY = VALUE }, tune = { ... }); see experiments/README.md.")]
    Run(RunArgs),
}

/// Arguments of `forecast experiment run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Study spec (TOML).
    pub spec: PathBuf,
    /// Directory for the results [default: experiments/results].
    #[arg(long, default_value = "experiments/results")]
    pub out: PathBuf,
    /// Print the report as JSON instead of the Markdown tables.
    #[arg(long)]
    pub json: bool,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

pub fn run(a: ExperimentArgs) -> Result<()> {
    match a.command {
        ExperimentCommand::Run(r) => run_study(r),
    }
}

/// The source version recorded in a report: `FORECAST_SOURCE_VERSION` when the caller
/// fixed it before a run that rewrites tracked result files (a `git describe --dirty`
/// taken after the first study wrote its results would call every later one dirty),
/// else `git describe` of the working directory, when it is a git checkout.
fn git_describe() -> Option<String> {
    if let Ok(v) = std::env::var("FORECAST_SOURCE_VERSION") {
        if !v.trim().is_empty() {
            return Some(v.trim().to_string());
        }
    }
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--tags"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Metric keys MLflow accepts: letters, digits, `_ - . /` and spaces.
fn metric_key(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-./ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn run_study(a: RunArgs) -> Result<()> {
    if let Some(n) = a.threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("cannot size the thread pool: {e}"))?;
    }
    let spec = StudySpec::from_file(&a.spec)?;
    let study = Study::prepare(spec)?;
    let mut tracking =
        crate::runs::CommandRun::start(&a.tracking, &format!("experiment-{}", study.spec.name))?;
    let spec_path = a.spec.display().to_string();
    tracking.with(|run| {
        let ev = &study.spec.evaluation;
        run.log_params([
            ("study.name", study.spec.name.clone()),
            ("study.data", study.spec.data.path.display().to_string()),
            ("study.target", study.spec.data.target.clone()),
            (
                "study.horizons",
                ev.horizons
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("study.folds", ev.folds.to_string()),
            (
                "study.models",
                study
                    .models
                    .iter()
                    .map(|m| m.name.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ])?;
        run.set_tags([
            ("forecast.command", "experiment run"),
            ("forecast.spec", spec_path.as_str()),
        ])
    });
    let pb = crate::progress::bar(study.total_folds() as u64, "folds");
    let report = study.run(&|| pb.inc(1), &|stage| pb.set_message(stage.to_string()));
    pb.finish_and_clear();
    let mut report: StudyReport = match report {
        Ok(r) => r,
        Err(e) => {
            tracking.finish(tuner::tracking::RunStatus::Failed);
            return Err(e.into());
        }
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut command = vec!["forecast".to_string()];
    command.extend(argv.iter().skip(1).cloned());
    report
        .provenance
        .insert("command".into(), format!("`{}`", command.join(" ")));
    report.provenance.insert(
        "version".into(),
        match git_describe() {
            Some(g) => format!("forecast {} ({g})", env!("CARGO_PKG_VERSION")),
            None => format!("forecast {}", env!("CARGO_PKG_VERSION")),
        },
    );
    report.provenance.insert("date".into(), chrono_now());
    report.provenance.insert(
        "machine".into(),
        format!(
            "{} threads, {} {}",
            rayon::current_num_threads(),
            std::env::consts::OS,
            std::env::consts::ARCH
        ),
    );
    report
        .provenance
        .insert("wall time".into(), format!("{:.1} s", report.seconds));
    let json_path = a.out.join(format!("{}.json", report.name));
    let md_path = a.out.join(format!("{}.md", report.name));
    let markdown = markdown(&report);
    write_file(
        &json_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    write_file(&md_path, markdown.as_bytes())?;
    tracking.with(|run| {
        let mut m = Vec::new();
        for h in &report.results {
            for row in &h.models {
                let Some(x) = &row.metrics else { continue };
                let base = metric_key(&format!("h{}.{}", h.horizon, row.name));
                m.extend(
                    x.pairs()
                        .into_iter()
                        .map(|(k, v)| (format!("{base}.{k}"), v)),
                );
                if let Some(v) = row.relative_mae {
                    m.push((format!("{base}.relative_mae"), v));
                }
            }
        }
        run.log_metrics(&m, 0)?;
        run.log_artifacts(&json_path, &format!("study/{}.json", report.name))?;
        run.log_artifacts(&md_path, &format!("study/{}.md", report.name))
    });
    let failures = report.failures();
    tracking.finish(if failures.is_empty() {
        tuner::tracking::RunStatus::Finished
    } else {
        tuner::tracking::RunStatus::Failed
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json!(report))?);
    } else {
        print!("{markdown}");
        eprintln!("results: {} and {}", json_path.display(), md_path.display());
    }
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|(h, n, e)| format!("{n} at horizon {h}: {e}"))
            .collect();
        bail!(
            "{} model run(s) failed (recorded in {}): {}",
            failures.len(),
            json_path.display(),
            list.join("; ")
        );
    }
    Ok(())
}

/// Now, UTC, to the minute.
fn chrono_now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The study's tables as Markdown: one per horizon, each model beside the naive forecast.
pub fn markdown(report: &StudyReport) -> String {
    let mut s = String::new();
    s.push_str(&format!("## {}\n\n", report.name));
    if let Some(d) = &report.description {
        s.push_str(&format!("{}\n\n", d.trim()));
    }
    match &report.id_column {
        Some(id) => s.push_str(&format!(
            "Data: `{}`, target `{}`, {} series (id column `{id}`), {} rows, season length {}.",
            report.data.path.display(),
            report.data.target,
            report.series,
            report.rows,
            report.season_length
        )),
        None => s.push_str(&format!(
            "Data: `{}`, target `{}`, {} rows, season length {}.",
            report.data.path.display(),
            report.data.target,
            report.rows,
            report.season_length
        )),
    }
    if let Some(test) = &report.test {
        s.push_str(&format!(
            " Each series is forecast from the end of its data over its rows of `{}` (competition-style; no rolling origins).",
            test.display()
        ));
    }
    if report.tuning_rows > 0 {
        s.push_str(&format!(
            " Tuned models saw only the first {} rows (before every evaluation window).",
            report.tuning_rows
        ));
    }
    s.push('\n');
    for (k, v) in &report.provenance {
        s.push_str(&format!("- {k}: {v}\n"));
    }
    s.push('\n');
    let opt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
    for h in &report.results {
        match (&report.test, &report.id_column) {
            (Some(_), _) => s.push_str(&format!(
                "### test rows (up to {} steps per series)\n\n",
                h.horizon
            )),
            (None, Some(_)) => s.push_str(&format!(
                "### horizon {} ({} folds per series, step {}; metrics are the mean over series)\n\n",
                h.horizon, h.folds, h.step
            )),
            (None, None) => s.push_str(&format!(
                "### horizon {} ({} folds, step {}, origins after rows {}..={})\n\n",
                h.horizon, h.folds, h.step, h.first_origin, h.last_origin
            )),
        }
        let with_owa = h.models.iter().any(|m| m.owa.is_some());
        let (owa_head, owa_rule) = if with_owa {
            (" OWA |", "---:|")
        } else {
            ("", "")
        };
        s.push_str(&format!("| model | MAE | RMSE | MAPE % | sMAPE % | MASE |{owa_head} dir. acc. | MAE / naive | beats naive | seconds |\n"));
        s.push_str(&format!(
            "|---|---:|---:|---:|---:|---:|{owa_rule}---:|---:|:---:|---:|\n"
        ));
        for m in &h.models {
            let name = if m.transform == "none" {
                m.name.clone()
            } else {
                format!("{} ({})", m.name, m.transform)
            };
            match &m.metrics {
                Some(x) => {
                    s.push_str(&format!(
                    "| {name} | {:.4} | {:.4} | {} | {:.3} | {} |{} {:.3} | {} | {} | {:.2} |\n",
                    x.mae,
                    x.rmse,
                    opt(x.mape, 3),
                    x.smape,
                    opt(x.mase, 3),
                    if with_owa { format!(" {} |", opt(m.owa, 3)) } else { String::new() },
                    x.directional_accuracy,
                    opt(m.relative_mae, 3),
                    match m.beats_naive {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "-",
                    },
                    m.seconds
                ))
                }
                None => s.push_str(&format!(
                    "| {name} | failed: {} | | | | |{} | | | | {:.2} |\n",
                    m.error
                        .as_deref()
                        .unwrap_or("")
                        .replace('|', "/")
                        .replace('\n', " "),
                    if with_owa { " |" } else { "" },
                    m.seconds
                )),
            }
        }
        s.push('\n');
        for m in &h.models {
            let ids = |list: &[forecast_core::panel::Skipped]| {
                list.iter()
                    .map(|x| format!("{} ({})", x.unique_id, x.reason.replace('\n', " ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            if !m.skipped.is_empty() {
                s.push_str(&format!(
                    "- {}: {} series skipped: {}\n",
                    m.name,
                    m.skipped.len(),
                    ids(&m.skipped)
                ));
            }
            if !m.failed.is_empty() {
                s.push_str(&format!(
                    "- {}: {} series failed: {}\n",
                    m.name,
                    m.failed.len(),
                    ids(&m.failed)
                ));
            }
            if report.id_column.is_some()
                && m.error.is_none()
                && !(m.skipped.is_empty() && m.failed.is_empty())
            {
                s.push_str(&format!("- {}: scored on {} series\n", m.name, m.series));
            }
        }
        if h.models
            .iter()
            .any(|m| !m.skipped.is_empty() || !m.failed.is_empty())
        {
            s.push('\n');
        }
    }
    let tuned: Vec<String> = report
        .results
        .iter()
        .flat_map(|h| {
            h.models.iter().filter_map(move |m| {
                m.tuned.as_ref().map(|t| {
                    format!(
                        "- {} at horizon {}: {} trials ({} stopped early) on {} rows in {:.1} s, best {} = {}, params `{}`",
                        m.name,
                        h.horizon,
                        t.trials,
                        t.stopped_early,
                        t.rows,
                        t.seconds,
                        t.metric,
                        t.value.map_or("-".into(), |v| format!("{v:.5}")),
                        t.params
                    )
                })
            })
        })
        .collect();
    if !tuned.is_empty() {
        s.push_str("Tuning:\n\n");
        for t in tuned {
            s.push_str(&t);
            s.push('\n');
        }
        s.push('\n');
    }
    if report.id_column.is_some() {
        s.push_str(
            "Over a panel every metric is the unweighted mean over series of that series' \
             metric (the M-competition convention). ",
        );
    }
    s.push_str(
        "MASE scales each fold's MAE by the in-sample MAE of the seasonal naive forecast on \
         that fold's training rows. Directional accuracy counts steps whose forecast moves \
         the same way as the actual value from the last observation; a flat forecast makes \
         no call, so the naive forecast scores 0. MAE / naive below 1 beats the naive \
         forecast on the same folds. Seconds are each model's wall time (models run at the \
         same time unless the spec sets `parallel = false`).\n",
    );
    s
}
