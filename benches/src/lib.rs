//! Support for the benches: the shipped datasets, loaded once.

pub mod picks;

use forecast_core::data::{load, LoadOptions};
use std::path::PathBuf;

/// Path of a shipped dataset.
pub fn dataset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets")
        .join(name)
}

/// The MSFT daily closes (7,983 rows, 1986-2017).
pub fn msft_close() -> Vec<f64> {
    dataset_column("msft_daily.csv", "close")
}

/// One numeric column of a shipped dataset.
pub fn dataset_column(file: &str, column: &str) -> Vec<f64> {
    let frame = load(
        dataset(file),
        &LoadOptions {
            required: vec![column.into()],
            ..Default::default()
        },
    )
    .expect("shipped dataset loads");
    frame.column(column).expect("column present").to_vec()
}

/// Start of window `i` of `count` windows of `len` points spread evenly over `n` points
/// (`floor(i (n - len) / (count - 1))`, numpy's `linspace(0, n - len, count)` cast
/// to int), as the ARIMA reference's bulk timing and the peer script use.
pub fn window_start(i: usize, count: usize, n: usize, len: usize) -> usize {
    if count <= 1 {
        0
    } else {
        i * (n - len) / (count - 1)
    }
}

/// Training windows `[start, end)` of a rolling backtest with `folds` origins at the last
/// `folds` points of a series of `n` points, each window the `len` points before its
/// origin (origin `n - folds + i`, window `origin - len .. origin`), as the AutoARIMA
/// case of `benches/peers/arima_vs_statsforecast.sh` uses on both sides.
pub fn rolling_windows(n: usize, folds: usize, len: usize) -> Vec<(usize, usize)> {
    (0..folds)
        .map(|i| {
            let origin = n - folds + i;
            (origin - len, origin)
        })
        .collect()
}

/// Training windows `[0, first + i)` for `i < folds` (an expanding-window backtest whose
/// first fold trains on `first` points).
pub fn expanding_windows(first: usize, folds: usize) -> Vec<(usize, usize)> {
    (0..folds).map(|i| (0, first + i)).collect()
}
