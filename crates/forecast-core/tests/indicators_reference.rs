//! Indicators against TA-Lib's own output on the MSFT series
//! (`tests/reference/indicators_msft.csv`, made by TA-Lib 0.8.2 / pandas; conventions in
//! its README). Tolerance: 1e-9 relative, or 1e-12 absolute near zero — the reference is
//! printed with 12 significant digits, so this is what agreement to rounding means;
//! a wrong EMA seed or smoothing shows up as errors of 1e-3 or more.

use forecast_core::data::{load, LoadOptions};
use forecast_core::features::Feature;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Column name -> values (NaN for empty cells) of the reference CSV.
fn reference() -> Vec<(String, Vec<f64>)> {
    let text = std::fs::read_to_string(root().join("tests/reference/indicators_msft.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut cols: Vec<(String, Vec<f64>)> = header.iter().map(|h| (h.clone(), vec![])).collect();
    for line in lines {
        for (i, cell) in line.split(',').enumerate().skip(1) {
            cols[i].1.push(if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse().unwrap()
            });
        }
    }
    cols.remove(0);
    cols
}

/// Assert that `ours` matches the reference `theirs` (after its warm-up NaNs).
pub fn assert_matches(name: &str, ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    let first = theirs
        .iter()
        .position(|v| !v.is_nan())
        .expect("reference has values");
    assert_eq!(
        ours.iter().position(|v| !v.is_nan()),
        Some(first),
        "{name}: first defined row differs"
    );
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate().skip(first) {
        let ok = (a - b).abs() <= 1e-9 * b.abs() || (a - b).abs() <= 1e-12;
        assert!(ok, "{name}: row {i}: ours {a} vs TA-Lib {b}");
    }
}

#[test]
fn indicators_match_talib_on_msft() {
    let frame = load(
        root().join("../../datasets/msft_daily.csv"),
        &LoadOptions {
            required: vec!["close".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let close = frame.column("close").unwrap();
    let reference = reference();
    let features = Feature::parse_list(
        "sma:20,ema:12,rsi:14,macd,bbands:20,returns,log_returns,volatility:20",
    )
    .unwrap();
    let mut checked = 0;
    for f in features {
        for (name, values) in f.columns().into_iter().zip(f.compute(close, None).unwrap()) {
            let (_, theirs) = reference
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_matches(&name, &values, theirs);
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
    let (_, ref_close) = reference.iter().find(|(n, _)| n == "close").unwrap();
    // Same input series (the reference prints 12 significant digits).
    assert_matches("close", close, ref_close);
}
