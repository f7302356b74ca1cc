//! Model reports built by the library from a saved artifact and its training data:
//! residual diagnostics (checked against statsmodels' Ljung–Box on the same
//! residuals), ARIMA coefficients with standard errors, and training data that is not
//! the model's.

use forecast_core::data::LoadOptions;
use forecast_core::{artifact, ForecasterSpec, ModelConfig, Series, SeriesSpec};
use forecast_report::model::{build, build_with_history, ModelReportOptions};
use forecast_report::{Block, ChartSpec, Page, Section};
use std::path::{Path, PathBuf};

fn air() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/airpassengers.csv")
}

fn air_series(path: &Path) -> Series {
    let frame = forecast_core::load(
        path,
        &LoadOptions {
            required: vec!["passengers".into()],
            ..Default::default()
        },
    )
    .unwrap();
    Series::from_frame(
        &frame,
        &SeriesSpec {
            target: "passengers".into(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// Fits `kind` with `settings` on AirPassengers and saves it under `dir`.
fn saved(dir: &Path, kind: &str, settings: &[(&str, &str)]) -> PathBuf {
    let mut model = ModelConfig::from_kind(kind).unwrap();
    for (k, v) in settings {
        model.set(k, v).unwrap();
    }
    let fitted = ForecasterSpec::new(model)
        .fit_quiet(&air_series(&air()))
        .unwrap();
    let out = dir.join(kind);
    artifact::save(&fitted, &out).unwrap();
    out
}

fn opts() -> ModelReportOptions {
    ModelReportOptions {
        horizon: None,
        levels: vec![80.0, 95.0],
        future: None,
    }
}

fn section<'a>(page: &'a Page, heading: &str) -> &'a Section {
    page.sections
        .iter()
        .find(|s| s.heading == heading)
        .unwrap_or_else(|| panic!("no section '{heading}'"))
}

fn key_values(s: &Section) -> Vec<(String, String)> {
    s.blocks
        .iter()
        .filter_map(|b| match b {
            Block::KeyValues(kv) => Some(kv.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn value(kv: &[(String, String)], key: &str) -> String {
    kv.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no '{key}' in {kv:?}"))
        .1
        .clone()
}

#[test]
fn seasonal_naive_residuals_are_the_seasonal_differences_statsmodels_tests() {
    let dir = tempfile::tempdir().unwrap();
    let model = saved(dir.path(), "seasonal-naive", &[]);
    let page = build_with_history(&model, &opts(), Some(&air())).unwrap();
    let headings: Vec<&str> = page.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(headings, ["Forecast", "Residuals", "Fit"]);
    // The whole history, then two seasons of forecast.
    let Block::Chart(c) = &page.sections[0].blocks[0] else {
        panic!("the forecast chart first")
    };
    let ChartSpec::Time(t) = &c.spec else {
        panic!("a time chart")
    };
    assert_eq!(t.x.len(), 144 + 24);
    assert_eq!(t.x[0], "1949-01-01");
    assert_eq!(t.x[144], "1961-01-01");
    // The residuals y_t − y_{t−12} (132 of them): statsmodels 0.15.0's
    // acorr_ljungbox(x, lags=[24], model_df=0) gives Q = 275.036389140433 (see
    // forecast_core::diagnostics' reference test); the page prints 6 digits.
    let kv = key_values(section(&page, "Residuals"));
    assert_eq!(value(&kv, "residuals"), "132");
    assert_eq!(value(&kv, "Ljung–Box Q (lag 24, 24 df)"), "275.036");
    assert_eq!(value(&kv, "Ljung–Box p-value"), "0.0000");
    let residuals = section(&page, "Residuals");
    let charts: Vec<&str> = residuals
        .blocks
        .iter()
        .flat_map(|b| match b {
            Block::Chart(c) => vec![c.id.as_str()],
            Block::ChartGrid(cs) => cs.iter().map(|c| c.id.as_str()).collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(charts, ["residuals", "acf", "residual-histogram"]);
    let fit = key_values(section(&page, "Fit"));
    assert_eq!(value(&fit, "training rows"), "144");
    assert_eq!(value(&fit, "model"), "seasonal-naive");
}

#[test]
fn arima_reports_its_coefficients_with_standard_errors_and_fewer_degrees_of_freedom() {
    let dir = tempfile::tempdir().unwrap();
    let model = saved(
        dir.path(),
        "arima",
        &[("order", "[0,1,1]"), ("seasonal_order", "[0,1,1,12]")],
    );
    let page = build_with_history(&model, &opts(), Some(&air())).unwrap();
    let kv = key_values(section(&page, "Residuals"));
    // Two ARMA coefficients (ma1, sma1) off 24 lags.
    assert!(
        kv.iter().any(|(k, _)| k == "Ljung–Box Q (lag 24, 22 df)"),
        "{kv:?}"
    );
    let fit = section(&page, "Fit");
    let table = fit
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Table(t) if t.id == "coefficients" => Some(t),
            _ => None,
        })
        .expect("a coefficient table");
    let names: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["ma1", "sma1"]);
    for row in &table.rows {
        assert_ne!(row[2], "–", "a standard error for {}", row[0]);
    }
    let stats = key_values(fit);
    for key in ["loglik", "aic", "bic", "sigma2"] {
        assert!(stats.iter().any(|(k, _)| k == key), "{key} in {stats:?}");
    }
}

#[test]
fn without_its_data_the_report_says_what_it_cannot_show() {
    let dir = tempfile::tempdir().unwrap();
    let model = saved(dir.path(), "seasonal-naive", &[]);
    let page = build(&model, &opts()).unwrap();
    let residuals = section(&page, "Residuals");
    assert!(matches!(&residuals.blocks[..], [Block::Text(t)] if t.contains("training data")));
}

#[test]
fn data_that_is_not_the_models_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = saved(dir.path(), "seasonal-naive", &[]);
    let text = std::fs::read_to_string(air()).unwrap();
    let changed = dir.path().join("changed.csv");
    std::fs::write(
        &changed,
        text.replacen("1949-01-01,112", "1949-01-01,113", 1),
    )
    .unwrap();
    let e = build_with_history(&model, &opts(), Some(&changed))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("changed.csv") && e.contains("not the data"),
        "{e}"
    );
    let short = dir.path().join("short.csv");
    std::fs::write(
        &short,
        text.lines().take(100).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let e = build_with_history(&model, &opts(), Some(&short))
        .unwrap_err()
        .to_string();
    assert!(e.contains("short.csv") && e.contains("99 rows"), "{e}");
}
