//! Reports opened in a real browser (Debian's headless Chromium, through
//! playwright-core): each report kind loads offline with no console or script error,
//! every chart draws, the numbers a tooltip shows equal the data's, and a screenshot of
//! each page is written (`FORECAST_SCREENSHOTS`, else `browser-screenshots/` in the
//! build directory). Skipped loudly without Chromium unless `FORECAST_REQUIRE_BROWSER=1`.

mod common;

use common::{dataset, ok, predict_json};
use forecast_test_support::browser::{
    assert_clean, browser_or_skip, file_url, screenshot_dir, tooltip_values, Browser,
};
use serde_json::Value;
use std::path::Path;

/// A chart must draw at least this many coloured pixels: its series, not just the
/// grey axes and labels (a chart whose series did not draw shows only its few legend
/// marks; a grid-search scatter of 16 trials over 2 values, the smallest chart here,
/// draws about 300).
const MIN_PIXELS: u64 = 150;

/// Tooltips print 7 significant digits.
fn close(shown: f64, expected: f64) -> bool {
    (shown - expected).abs() <= 1e-6 * expected.abs().max(1.0)
}

fn open(browser: &Browser, page: &Path, name: &str, hovers: &[(&str, usize)]) -> Value {
    let shot = screenshot_dir().join(format!("{name}.png"));
    let summary = browser.check(&file_url(page), Some(&shot), hovers, None);
    assert_clean(&summary, MIN_PIXELS);
    assert!(shot.exists(), "no screenshot at {}", shot.display());
    summary
}

fn tooltip<'a>(summary: &'a Value, chart: &str, index: usize) -> &'a str {
    summary["tooltips"][format!("{chart}:{index}")]
        .as_str()
        .unwrap_or_else(|| panic!("no tooltip at {chart}:{index}: {summary:#}"))
}

#[test]
fn a_model_report_draws_and_its_tooltip_shows_the_forecast_and_its_band() {
    let Some(browser) = browser_or_skip("model report in Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("air");
    let model = model.to_str().unwrap();
    ok(&[
        "train",
        "--data",
        &dataset("airpassengers.csv"),
        "--target",
        "passengers",
        "--model",
        "seasonal-naive",
        "--out",
        model,
    ]);
    let page = dir.path().join("model.html");
    ok(&[
        "report",
        "--model",
        model,
        "--horizon",
        "12",
        "--out",
        page.to_str().unwrap(),
    ]);
    let expected = predict_json(model, "12", &["--level", "80,95"]);
    let rows = expected["rows"].as_array().unwrap();
    // The history is the 144 months the model saw; hover the 4th forecast month.
    let step = 3;
    let summary = open(&browser, &page, "report-model", &[("forecast", 144 + step)]);
    let text = tooltip(&summary, "forecast", 144 + step);
    let row = &rows[step];
    let mean = tooltip_values(text, "forecast").expect("the forecast in the tooltip");
    assert!(
        close(mean[0], row["forecast"].as_f64().unwrap()),
        "{text} vs {row}"
    );
    let band = tooltip_values(text, "95%").expect("the 95% band in the tooltip");
    assert!(
        close(band[0], row["lower_95"].as_f64().unwrap()),
        "{text} vs {row}"
    );
    assert!(
        close(band[1], row["upper_95"].as_f64().unwrap()),
        "{text} vs {row}"
    );
}

#[test]
fn a_backtest_report_draws_and_its_tooltip_shows_the_actual_values() {
    let Some(browser) = browser_or_skip("backtest report in Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = ok(&[
        "backtest",
        "--data",
        &dataset("airpassengers.csv"),
        "--target",
        "passengers",
        "--model",
        "seasonal-naive",
        "--horizon",
        "12",
        "--folds",
        "4",
        "--json",
    ]);
    let file = dir.path().join("backtest.json");
    std::fs::write(&file, &json).unwrap();
    let page = dir.path().join("backtest.html");
    ok(&[
        "report",
        "--backtest",
        file.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let first = &v["windows"][0];
    // The chart's axis starts at the first fold's first forecast period.
    let summary = open(&browser, &page, "report-backtest", &[("backtest", 2)]);
    let text = tooltip(&summary, "backtest", 2);
    assert!(text.contains(first["ds"][2].as_str().unwrap()), "{text}");
    let actual = tooltip_values(text, "actual").expect("the actual value in the tooltip");
    assert!(
        close(actual[0], first["actual"][2].as_f64().unwrap()),
        "{text}"
    );
}

#[test]
fn a_market_report_draws_candles_and_indicators_whose_tooltip_shows_the_bar() {
    let Some(browser) = browser_or_skip("market report in Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("market.html");
    ok(&[
        "report",
        "--data",
        &dataset("msft_daily.csv"),
        "--indicators",
        "sma:20,sma:50,bbands:20,rsi:14,macd",
        "--out",
        page.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(dataset("msft_daily.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let rows = csv.lines().count() - 1;
    let col = |name: &str| -> f64 {
        let i = header.iter().position(|h| *h == name).unwrap();
        last[i].parse().unwrap()
    };
    let summary = open(&browser, &page, "report-market", &[("market", rows - 1)]);
    let text = tooltip(&summary, "market", rows - 1);
    assert!(text.contains(last[0]), "{text}");
    for (label, name) in [("O", "open"), ("H", "high"), ("L", "low"), ("C", "close")] {
        let shown: f64 = text
            .split_whitespace()
            .skip_while(|t| *t != label)
            .nth(1)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        assert!(close(shown, col(name)), "{label}: {text}");
    }
}

#[test]
fn an_experiment_results_report_draws() {
    let Some(browser) = browser_or_skip("results report in Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("results.html");
    let results = common::root().join("experiments/results/m3-quarterly.json");
    ok(&[
        "report",
        "--results",
        results.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    open(&browser, &page, "report-results", &[]);
}

#[test]
fn a_study_report_draws_every_chart() {
    let Some(browser) = browser_or_skip("study report in Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_forecast"))
        .current_dir(common::root())
        .env("FORECAST_RUNS_DIR", dir.path().join("runs"))
        .env_remove("MLFLOW_TRACKING_URI")
        .args([
            "tune",
            "--spec",
            "experiments/airpassengers-baselines-grid.toml",
            "--out",
        ])
        .arg(&study)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.path().join("study.html");
    ok(&[
        "report",
        "--study",
        study.to_str().unwrap(),
        "--out",
        page.to_str().unwrap(),
    ]);
    open(&browser, &page, "report-study", &[]);
}
