//! Indicator computation over ~10 years of daily closes, and loading the MSFT CSV.

use criterion::{criterion_group, criterion_main, Criterion};
use forecast_benches::{dataset, msft_close};
use forecast_core::data::{load, LoadOptions};
use forecast_core::features::Feature;
use std::hint::black_box;

fn indicators(c: &mut Criterion) {
    let close = msft_close();
    let ten_years = &close[close.len() - 2520..];
    let all = Feature::parse_list(
        "sma:20,ema:12,rsi:14,macd,bbands:20,returns,log_returns,volatility:20",
    )
    .expect("valid list");
    c.bench_function("indicators/all_8_on_2520_days", |b| {
        b.iter(|| {
            for f in &all {
                black_box(f.compute(black_box(ten_years), None).expect("computes"));
            }
        })
    });
    c.bench_function("load/msft_daily_csv_7983_rows", |b| {
        let opts = LoadOptions {
            required: vec!["close".into()],
            ..Default::default()
        };
        b.iter(|| black_box(load(dataset("msft_daily.csv"), &opts).expect("loads")))
    });
}

criterion_group!(benches, indicators);
criterion_main!(benches);
