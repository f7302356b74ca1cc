//! ARIMAX from the command line: `predict --future` feeds a model trained with
//! `--features` the regressors' values over the horizon.

use chrono::Datelike;
use forecast_core::data::{parse_timestamp, Column};
use serde_json::Value;
use std::path::Path;

mod common;
use common::{dataset, fails, ok, points, train_args};

/// MSFT's daily rows: the header and the data lines.
fn msft_lines() -> (String, Vec<String>) {
    let text = std::fs::read_to_string(dataset("msft_daily.csv")).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// Cell `col` of a CSV line of MSFT (date,open,high,low,close,volume).
fn cell(line: &str, col: usize) -> String {
    line.split(',').nth(col).unwrap().to_string()
}

/// Writes `rows` (lines of MSFT) as `date,open` to `path`, with `open` passed
/// through `f`.
fn write_future(path: &Path, rows: &[String], f: impl Fn(f64) -> f64) {
    let mut s = String::from("date,open\n");
    for r in rows {
        let open: f64 = cell(r, 1).parse().unwrap();
        s.push_str(&format!("{},{}\n", cell(r, 0), f(open)));
    }
    std::fs::write(path, s).unwrap();
}

/// `predict --model M --format json` with `extra`, parsed.
fn predict(model: &str, extra: &[&str]) -> Value {
    let mut args = vec!["predict", "--model", model, "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args)).unwrap()
}

/// Trains ARIMA(1,1,0) of MSFT's close on its open (an input column) and the day of
/// the week (an indicator) over 300 days, then forecasts the next 5 trading days from
/// their actual opens: the CLI's forecast is the library's ARIMAX forecast of the saved
/// model for the same regressors (the day of the week computed from the dates), the
/// horizon defaults to the file's rows, the values are really used, and the errors
/// name what is missing.
#[test]
fn predict_future_forecasts_an_arimax_model_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (header, lines) = msft_lines();
    let n = lines.len();
    let (train_rows, next) = (&lines[n - 310..n - 10], &lines[n - 10..n - 5]);
    let data = dir.path().join("msft_tail.csv");
    std::fs::write(&data, format!("{header}\n{}\n", train_rows.join("\n"))).unwrap();
    let m = dir.path().join("M");
    let ms = m.to_str().unwrap();
    let ds = data.to_str().unwrap();
    ok(&train_args(
        ds,
        "close",
        "arima",
        ms,
        &[
            "--order",
            "1,1,0",
            "--features",
            "open",
            "--indicators",
            "dow",
        ],
    ));

    let future = dir.path().join("future.csv");
    let fs = future.to_str().unwrap();
    write_future(&future, next, |x| x);
    let v = predict(ms, &["--future", fs, "--level", "80,95"]);
    let got = points(&v);
    assert_eq!(v["horizon"], 5, "{v}");
    assert_eq!(got.len(), 5);
    let dates: Vec<String> = next.iter().map(|r| cell(r, 0)).collect();
    for (row, d) in v["rows"].as_array().unwrap().iter().zip(&dates) {
        assert_eq!(row["timestamp"], d.as_str(), "{v}");
    }

    // The library's own ARIMAX forecast of the saved model, regressors built here.
    let model = forecast_core::artifact::load(&m).unwrap();
    assert_eq!(model.regressors(), ["open", "dow"]);
    let open: Vec<f64> = next.iter().map(|r| cell(r, 1).parse().unwrap()).collect();
    let dow: Vec<f64> = dates
        .iter()
        .map(|d| parse_timestamp(d).unwrap().weekday().num_days_from_monday() as f64)
        .collect();
    let col = |name: &str, values: Vec<f64>| Column {
        name: name.into(),
        values,
        integer: false,
    };
    let want = model
        .predict(5, &[], &[col("open", open.clone()), col("dow", dow)])
        .unwrap();
    for (g, w) in got.iter().zip(&want.point) {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{got:?} vs {:?}",
            want.point
        );
    }
    // Without the regressor the library refuses too.
    assert!(model.predict(5, &[], &[]).is_err());

    // --horizon shorter than the file: its first rows.
    let v3 = predict(ms, &["--future", fs, "--horizon", "3"]);
    let got3 = points(&v3);
    assert_eq!(got3.len(), 3);
    for (g, w) in got3.iter().zip(&got) {
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0));
    }

    // The file is really used: other opens, another forecast.
    let shifted = dir.path().join("shifted.csv");
    write_future(&shifted, next, |x| x * 1.1);
    let other = points(&predict(ms, &["--future", shifted.to_str().unwrap()]));
    assert!(
        got.iter().zip(&other).all(|(a, b)| (a - b).abs() > 1e-6),
        "{got:?} vs {other:?}"
    );

    // Without --future: the error says it is needed and which column.
    let e = fails(&["predict", "--model", ms, "--horizon", "5"]);
    assert!(e.contains("--future") && e.contains("open"), "{e}");
    assert!(!e.contains("dow"), "dow is computed, not asked for: {e}");

    // A future file without the regressor column: named, with the file.
    let no_open = dir.path().join("no_open.csv");
    std::fs::write(
        &no_open,
        format!(
            "date,volume\n{}\n",
            dates
                .iter()
                .map(|d| format!("{d},1"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
    .unwrap();
    let e = fails(&[
        "predict",
        "--model",
        ms,
        "--future",
        no_open.to_str().unwrap(),
    ]);
    assert!(
        e.contains("no_open.csv") && e.contains("missing") && e.contains("'open'"),
        "{e}"
    );

    // Fewer rows than --horizon.
    let e = fails(&["predict", "--model", ms, "--future", fs, "--horizon", "8"]);
    assert!(
        e.contains("future.csv") && e.contains("5 future row") && e.contains("8"),
        "{e}"
    );

    // A missing period (the second trading day left out) is named.
    let gap = dir.path().join("gap.csv");
    let mut skipped = next.to_vec();
    skipped.remove(1);
    write_future(&gap, &skipped, |x| x);
    let e = fails(&["predict", "--model", ms, "--future", gap.to_str().unwrap()]);
    assert!(e.contains(&dates[1]) && e.contains("missing"), "{e}");

    // Rows that do not start after the model's last row (the last training day).
    let stale = dir.path().join("stale.csv");
    write_future(&stale, &lines[n - 11..n - 6], |x| x);
    let e = fails(&[
        "predict",
        "--model",
        ms,
        "--future",
        stale.to_str().unwrap(),
    ]);
    assert!(
        e.contains(&cell(&lines[n - 11], 0)) && e.contains(&dates[0]),
        "{e}"
    );

    // Out of order rows: the file is refused as it is read.
    let shuffled = dir.path().join("shuffled.csv");
    let mut swapped = next.to_vec();
    swapped.swap(0, 1);
    write_future(&shuffled, &swapped, |x| x);
    let e = fails(&[
        "predict",
        "--model",
        ms,
        "--future",
        shuffled.to_str().unwrap(),
    ]);
    assert!(
        e.contains("shuffled.csv") && e.contains("not sorted"),
        "{e}"
    );

    // A model without regressors refuses a --future file rather than ignore it.
    let plain = dir.path().join("plain");
    ok(&train_args(
        ds,
        "close",
        "arima",
        plain.to_str().unwrap(),
        &["--order", "1,1,0"],
    ));
    let e = fails(&[
        "predict",
        "--model",
        plain.to_str().unwrap(),
        "--future",
        fs,
    ]);
    assert!(e.contains("no regressors"), "{e}");
    // ... and still forecasts with --horizon alone.
    assert_eq!(
        points(&predict(plain.to_str().unwrap(), &["--horizon", "2"])).len(),
        2
    );
}

/// A panel ARIMAX model (two tickers of techstocks, the regressor a column added to the
/// long table) forecasts from a long future table with the id column; a series without
/// future rows is named.
#[test]
fn predict_future_on_a_panel_reads_a_long_table() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dataset("techstocks_daily.csv")).unwrap();
    let mut by_id: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        let (id, date, close) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let close: f64 = close.parse().unwrap();
        match by_id.iter_mut().find(|(i, _)| i == id) {
            Some((_, rows)) => rows.push((date.to_string(), close)),
            None => by_id.push((id.to_string(), vec![(date.to_string(), close)])),
        }
    }
    by_id.truncate(2);
    // x: a deterministic regressor, a sine of the row number.
    let x = |i: usize| (i as f64 * 0.7).sin();
    let (mut train, mut future) = (
        String::from("ticker,date,close,x\n"),
        String::from("ticker,date,x\n"),
    );
    for (id, rows) in &by_id {
        let n = rows.len();
        for (i, (d, c)) in rows[n - 203..n - 3].iter().enumerate() {
            train.push_str(&format!("{id},{d},{c},{}\n", x(i)));
        }
        for (i, (d, _)) in rows[n - 3..].iter().enumerate() {
            future.push_str(&format!("{id},{d},{}\n", x(200 + i)));
        }
    }
    let data = dir.path().join("panel.csv");
    std::fs::write(&data, train).unwrap();
    let fut = dir.path().join("panel_future.csv");
    std::fs::write(&fut, &future).unwrap();
    let m = dir.path().join("P");
    let ms = m.to_str().unwrap();
    ok(&train_args(
        data.to_str().unwrap(),
        "close",
        "arima",
        ms,
        &["--order", "1,1,0", "--features", "x"],
    ));
    let out = ok(&[
        "predict",
        "--model",
        ms,
        "--future",
        fut.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["horizon"], 3, "{v}");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{v}");
    let panel = forecast_core::artifact::load_panel(&m).unwrap();
    for (id, f) in &panel.series {
        let n = by_id.iter().find(|(i, _)| i == id).unwrap().1.len();
        let _ = n;
        let want = f
            .predict(
                3,
                &[],
                &[Column {
                    name: "x".into(),
                    values: (200..203).map(x).collect(),
                    integer: false,
                }],
            )
            .unwrap();
        let got: Vec<f64> = rows
            .iter()
            .filter(|r| r["unique_id"] == id.as_str())
            .map(|r| r["arima"].as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), 3, "{id}: {v}");
        for (g, w) in got.iter().zip(&want.point) {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{id}: {got:?} vs {:?}",
                want.point
            );
        }
    }
    // One series' rows left out: named.
    let first = &by_id[0].0;
    let partial: String = future
        .lines()
        .filter(|l| !l.starts_with(&format!("{first},")))
        .map(|l| format!("{l}\n"))
        .collect();
    let part = dir.path().join("partial.csv");
    std::fs::write(&part, partial).unwrap();
    let e = fails(&["predict", "--model", ms, "--future", part.to_str().unwrap()]);
    assert!(
        e.contains(first.as_str()) && e.contains("no future rows"),
        "{e}"
    );
    // Without --future: the regressor is named.
    let e = fails(&["predict", "--model", ms, "--horizon", "3"]);
    assert!(e.contains("--future") && e.contains('x'), "{e}");
}
