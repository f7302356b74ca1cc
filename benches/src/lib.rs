//! Support for the benches: the shipped datasets, loaded once.

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
    let frame = load(
        dataset("msft_daily.csv"),
        &LoadOptions {
            required: vec!["close".into()],
            ..Default::default()
        },
    )
    .expect("shipped dataset loads");
    frame.column("close").expect("close column").to_vec()
}
