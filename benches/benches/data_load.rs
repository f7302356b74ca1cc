//! Loading a 1-million-row OHLCV file (minute bars) as CSV and as Parquet: parse,
//! validate (timestamps strictly increasing, numeric, finite) and build the frame.
//! The files are generated into a temporary directory at setup, not committed.

use criterion::{criterion_group, criterion_main, Criterion};
use forecast_core::data::{load, write_frame, LoadOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;

const ROWS: usize = 1_000_000;

/// A deterministic random walk of minute bars starting 2020-01-01 00:00.
fn write_csv(path: &Path) {
    let f = std::fs::File::create(path).expect("create csv");
    let mut w = std::io::BufWriter::new(f);
    writeln!(w, "date,open,high,low,close,volume").expect("write");
    let start = chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid date");
    let mut price = 100.0f64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..ROWS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let open = price;
        price *= 1.0 + 0.001 * u;
        let (hi, lo) = (open.max(price) * 1.0005, open.min(price) * 0.9995);
        let t = start + chrono::Duration::minutes(i as i64);
        writeln!(
            w,
            "{},{open:.4},{hi:.4},{lo:.4},{price:.4},{}",
            t.format("%Y-%m-%dT%H:%M:%S"),
            1000 + (state % 5000)
        )
        .expect("write");
    }
    w.flush().expect("flush");
}

fn data_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("bars.csv");
    let parquet = dir.path().join("bars.parquet");
    write_csv(&csv);
    let opts = LoadOptions {
        required: vec!["close".into()],
        ..Default::default()
    };
    let frame = load(&csv, &opts).expect("generated csv loads");
    assert_eq!(frame.len(), ROWS);
    write_frame(&frame, &parquet).expect("write parquet");
    let mut g = c.benchmark_group("load_1m_rows");
    g.sample_size(10);
    g.bench_function("csv", |b| {
        b.iter(|| black_box(load(black_box(&csv), &opts).expect("loads")))
    });
    g.bench_function("parquet", |b| {
        b.iter(|| black_box(load(black_box(&parquet), &opts).expect("loads")))
    });
    g.finish();
}

criterion_group!(benches, data_load);
criterion_main!(benches);
