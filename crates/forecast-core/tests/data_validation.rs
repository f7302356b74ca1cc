//! Loading and validation: each bad input gives an error naming the file, row and column.

use forecast_core::data::{load, LoadOptions, MissingPolicy};
use std::io::Write;

fn csv(body: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    f.write_all(body.as_bytes()).unwrap();
    f
}

fn err(body: &str, required: &[&str]) -> String {
    let f = csv(body);
    let opts = LoadOptions {
        required: required.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    load(f.path(), &opts).unwrap_err().to_string()
}

#[test]
fn bad_inputs_name_their_place() {
    let e = err("date,close\n2020-01-02,1\n2020-01-01,2\n", &["close"]);
    assert!(e.contains("line 3") && e.contains("not sorted"), "{e}");
    let e = err("date,close\n2020-01-01,1\n2020-01-01,2\n", &["close"]);
    assert!(e.contains("line 3") && e.contains("duplicate"), "{e}");
    let e = err("date,close\n2020-01-01,1\n2020-01-02,abc\n", &["close"]);
    assert!(
        e.contains("line 3") && e.contains("'close'") && e.contains("abc"),
        "{e}"
    );
    let e = err("date,close\n2020-01-01,1\n2020-01-02,NaN\n", &["close"]);
    assert!(e.contains("line 3") && e.contains("non-finite"), "{e}");
    let e = err("date,close\n2020-01-01,1\n2020-01-02,inf\n", &["close"]);
    assert!(e.contains("non-finite"), "{e}");
    let e = err("date,close\n2020-01-01,1\n2020-01-02,\n", &["close"]);
    assert!(e.contains("line 3") && e.contains("missing value"), "{e}");
    let e = err("date,close\n2020-01-01,1\n", &["price"]);
    assert!(
        e.contains("'price' not found") && e.contains("close"),
        "{e}"
    );
    let e = err("date,close\n", &["close"]);
    assert!(e.contains("no data rows"), "{e}");
    let e = err("", &["close"]);
    assert!(e.contains("no data rows"), "{e}");
    let e = err("date,close\n2020-13-45,1\n", &["close"]);
    assert!(e.contains("line 2") && e.contains("timestamp"), "{e}");
}

#[test]
fn missing_value_policies_repair_explicitly() {
    let f = csv("date,close\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n");
    let load_with = |missing| {
        load(
            f.path(),
            &LoadOptions {
                required: vec!["close".into()],
                missing,
                ..Default::default()
            },
        )
    };
    assert_eq!(
        load_with(MissingPolicy::Ffill)
            .unwrap()
            .column("close")
            .unwrap(),
        &[1.0, 1.0, 3.0]
    );
    assert_eq!(
        load_with(MissingPolicy::Interpolate)
            .unwrap()
            .column("close")
            .unwrap(),
        &[1.0, 2.0, 3.0]
    );
    let dropped = load_with(MissingPolicy::Drop).unwrap();
    assert_eq!(dropped.column("close").unwrap(), &[1.0, 3.0]);
    assert_eq!(dropped.len(), 2);
    assert!(load_with(MissingPolicy::Error).is_err());
}

#[test]
fn no_time_column_means_row_index_and_text_columns_pass_through() {
    let f = csv("ticker,close\nMSFT,1\nMSFT,2\n");
    let frame = load(
        f.path(),
        &LoadOptions {
            required: vec!["close".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(frame.times.is_none());
    assert_eq!(frame.text_columns[0].0, "ticker");
    assert_eq!(frame.len(), 2);
}

#[test]
fn shipped_datasets_load_with_the_right_frequency() {
    use forecast_core::data::Frequency;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    for (file, target, freq, rows) in [
        ("msft_daily.csv", "close", Frequency::BusinessDay, 7983),
        (
            "airpassengers.csv",
            "passengers",
            Frequency::MonthStart,
            144,
        ),
        ("wineind.csv", "sales", Frequency::MonthStart, 176),
        ("sunspots_yearly.csv", "sunactivity", Frequency::Yearly, 309),
    ] {
        let f = load(
            root.join(file),
            &LoadOptions {
                required: vec![target.into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((f.frequency, f.len()), (freq, rows), "{file}");
    }
    // co2 has 59 empty cells: an error by default, repairable on request.
    let e = load(
        root.join("co2_weekly.csv"),
        &LoadOptions {
            required: vec!["co2".into()],
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing value"), "{e}");
    let f = load(
        root.join("co2_weekly.csv"),
        &LoadOptions {
            required: vec!["co2".into()],
            missing: MissingPolicy::Interpolate,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((f.frequency, f.repaired), (Frequency::Weekly, 59));
}
