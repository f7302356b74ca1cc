//! Helpers shared by the reference tests: the reference JSON files
//! (`tests/reference/`), the series the ARIMA reference names, number comparisons.
// Each test file uses a subset of these.
#![allow(dead_code)]

use forecast_core::{load, LoadOptions};
use serde_json::Value;
use std::path::PathBuf;

/// The repository root (where `datasets/` is).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The parsed `tests/reference/arima_reference.json`.
pub(crate) fn reference() -> Value {
    reference_json("arima_reference.json")
}

/// The parsed `tests/reference/<file>`.
pub(crate) fn reference_json(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference JSON"))
        .expect("valid JSON")
}

/// A JSON array of numbers.
pub(crate) fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// `|a − b| / |b|` (with `|b|` at least 1e-12).
pub(crate) fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// A series of the reference JSON as modelled.
pub(crate) struct Series {
    /// The values, log-transformed where the JSON says so.
    pub(crate) y: Vec<f64>,
    /// The season length the JSON gives.
    pub(crate) season_length: usize,
    /// Whether `y` is the log of the file's column.
    pub(crate) log: bool,
}

/// The series `name` of `reference["series"]`, read from its dataset with the row count
/// the JSON records checked.
pub(crate) fn series(reference: &Value, name: &str) -> Series {
    let s = &reference["series"][name];
    let file = root().join("datasets").join(s["file"].as_str().unwrap());
    let column = s["column"].as_str().unwrap();
    let frame = load(
        &file,
        &LoadOptions {
            required: vec![column.into()],
            ..Default::default()
        },
    )
    .unwrap();
    let mut y = frame.column(column).unwrap().to_vec();
    assert_eq!(
        y.len() as u64,
        s["n"].as_u64().unwrap(),
        "{name}: row count"
    );
    let log = s["transform"].as_str() == Some("log");
    if log {
        y.iter_mut().for_each(|v| *v = v.ln());
    }
    Series {
        y,
        season_length: s["season_length"].as_u64().unwrap() as usize,
        log,
    }
}

/// A JSON array of non-negative integers.
pub(crate) fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

/// Prints each case's summary line, then fails listing every failure of every case.
pub(crate) fn assert_no_failures(results: Vec<(Vec<String>, String)>) {
    let mut fails = Vec::new();
    for (f, line) in results {
        println!("{line}");
        fails.extend(f);
    }
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
}
