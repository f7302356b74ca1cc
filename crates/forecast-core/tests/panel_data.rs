//! Loading panels: long tables, folders of one file per series, hive-partitioned
//! Parquet, globs; and the errors of malformed panels, each naming the series.

use forecast_core::data::{
    load, load_data, write_frame, Data, Frequency, LoadOptions, Panel, PanelOptions, Wide,
    WIDE_VALUE,
};
use forecast_core::Error;
use std::path::{Path, PathBuf};

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
}

fn options(target: &str) -> PanelOptions {
    PanelOptions {
        id_column: None,
        load: LoadOptions {
            required: vec![target.into()],
            ..Default::default()
        },
        wide: None,
    }
}

fn panel(path: &Path, target: &str) -> Panel {
    match load_data(path, &options(target)).unwrap() {
        Data::Panel(p) => p,
        Data::One(_) => panic!("{} loaded as one series", path.display()),
    }
}

fn error(path: &Path, target: &str) -> String {
    let e = load_data(path, &options(target)).unwrap_err();
    assert!(
        matches!(e, Error::Series { .. } | Error::EmptyId { .. }),
        "{e:?}"
    );
    e.to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn long_table_with_a_ticker_column_is_a_panel_in_first_appearance_order() {
    let p = panel(&dataset("techstocks_daily.csv"), "close");
    assert_eq!(p.id_column, "ticker");
    let ids: Vec<&str> = p.members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["AAPL", "GOOG", "MSFT"]);
    for m in &p.members {
        assert_eq!(m.frame.len(), 504, "{}", m.id);
        assert_eq!(m.frame.frequency, Frequency::BusinessDay);
        assert!(m.frame.column("close").unwrap().iter().all(|v| *v > 0.0));
    }
    // The same file as one series is refused for what it is: its dates repeat.
    let e = load(dataset("techstocks_daily.csv"), &options("close").load).unwrap_err();
    assert!(e.to_string().contains("timestamps not sorted"), "{e}");
}

#[test]
fn m3_monthly_loads_every_series_with_y_and_ds() {
    let p = panel(&dataset("m3_monthly_train.csv"), "y");
    assert_eq!(p.id_column, "unique_id");
    assert_eq!(p.len(), 1428);
    assert_eq!(p.rows(), 141_858);
    assert!(p
        .members
        .iter()
        .all(|m| m.frame.frequency == Frequency::MonthEnd
            && m.frame.time_column.as_deref() == Some("ds")));
}

#[test]
fn rows_of_a_series_may_come_in_any_order_and_interleaved() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "long.csv",
        "unique_id,ds,y\nb,2020-03-01,3\na,2020-02-01,20\nb,2020-01-01,1\na,2020-01-01,10\nb,2020-02-01,2\n",
    );
    let p = panel(&p, "y");
    assert_eq!(p.members[0].id, "b");
    assert_eq!(p.members[0].frame.column("y").unwrap(), [1.0, 2.0, 3.0]);
    assert_eq!(p.members[1].id, "a");
    assert_eq!(p.members[1].frame.column("y").unwrap(), [10.0, 20.0]);
}

#[test]
fn duplicate_id_time_pairs_name_the_series_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "dup.csv",
        "unique_id,ds,y\na,2020-01-01,1\nb,2020-01-01,1\nb,2020-02-01,2\nb,2020-01-01,9\n",
    );
    let e = error(&p, "y");
    assert!(e.contains("series 'b'"), "{e}");
    assert!(e.contains("duplicate timestamp 2020-01-01"), "{e}");
    assert!(e.contains("line 5"), "{e}");
}

#[test]
fn a_non_numeric_value_names_the_series_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bad.csv",
        "unique_id,ds,y\na,2020-01-01,1\nb,2020-01-01,1\na,2020-02-01,x\n",
    );
    let e = error(&p, "y");
    assert!(e.contains("series 'a'"), "{e}");
    assert!(
        e.contains("line 4, column 'y': non-numeric value \"x\""),
        "{e}"
    );
}

#[test]
fn a_series_mixing_frequencies_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("unique_id,ds,y\n");
    for m in 1..=9 {
        text.push_str(&format!("ok,2020-0{m}-01,{m}\n"));
        text.push_str(&format!("mixed,2020-0{m}-01,{m}\n"));
    }
    text.push_str("mixed,2020-09-15,10\n"); // a mid-month row among monthly ones
    let p = write(dir.path(), "mixed.csv", &text);
    let e = error(&p, "y");
    assert!(e.contains("series 'mixed'"), "{e}");
    assert!(e.contains("2020-09-15"), "{e}");
    assert!(e.contains("monthly"), "{e}");
}

#[test]
fn an_empty_id_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "noid.csv",
        "unique_id,ds,y\na,2020-01-01,1\n,2020-02-01,2\n",
    );
    let e = error(&p, "y");
    assert!(
        e.contains("line 3, column 'unique_id': empty series id"),
        "{e}"
    );
}

#[test]
fn unused_columns_are_not_validated() {
    // A wide monthly file: GOOG is empty before its listing; training on MSFT must not
    // trip over it, and the empty cells stay empty (NaN), not filled or dropped.
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "wide.csv",
        "date,MSFT,GOOG\n2004-05-01,25.1,\n2004-06-01,26.0,\n2004-07-01,27.3,100.3\n",
    );
    let o = options("MSFT");
    let f = load(&p, &o.load).unwrap();
    assert_eq!(f.column("MSFT").unwrap(), [25.1, 26.0, 27.3]);
    let goog = f.column("GOOG").unwrap();
    assert!(goog[0].is_nan() && goog[1].is_nan() && goog[2] == 100.3);
    // Asking for GOOG still holds it to the missing-value policy.
    let e = load(&p, &options("GOOG").load).unwrap_err();
    assert!(
        e.to_string()
            .contains("line 2, column 'GOOG': missing value"),
        "{e}"
    );
}

#[test]
fn a_folder_of_one_file_per_ticker_is_a_panel_named_by_file_stem() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "MSFT.csv",
        "date,close\n2020-01-02,1\n2020-01-03,2\n2020-01-06,3\n",
    );
    write(
        dir.path(),
        "AAPL.csv",
        "date,close\n2020-01-06,5\n2020-01-07,6\n",
    );
    write(dir.path(), "notes.txt", "not data");
    let p = panel(dir.path(), "close");
    let ids: Vec<&str> = p.members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["AAPL", "MSFT"]);
    assert_eq!(p.members[1].frame.len(), 3);
    // A glob picks the same files.
    let g = panel(&dir.path().join("*.csv"), "close");
    assert_eq!(g.len(), 2);
    // A bad file names its series.
    write(dir.path(), "BAD.csv", "date,close\n2020-01-02,oops\n");
    let e = error(dir.path(), "close");
    assert!(e.contains("series 'BAD'") && e.contains("BAD.csv"), "{e}");
    std::fs::remove_file(dir.path().join("BAD.csv")).unwrap();
    // So does a file mixing frequencies: monthly rows, then a mid-month one.
    write(
        dir.path(),
        "MIX.csv",
        "date,close\n2020-01-01,1\n2020-02-01,2\n2020-03-01,3\n2020-04-01,4\n2020-04-15,5\n",
    );
    let e = error(dir.path(), "close");
    assert!(e.contains("series 'MIX'") && e.contains("line 6"), "{e}");
    assert!(e.contains("2020-04-15"), "{e}");
}

#[test]
fn a_hive_partitioned_parquet_folder_is_a_panel_named_by_the_partition() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    // Two parts for MSFT (written out of order), one for GOOG, as Parquet.
    for (name, text) in [
        (
            "ticker=MSFT/part-1.parquet",
            "date,close\n2020-01-08,4\n2020-01-09,5\n",
        ),
        (
            "ticker=MSFT/part-0.parquet",
            "date,close\n2020-01-02,1\n2020-01-03,2\n2020-01-06,3\n2020-01-07,3.5\n",
        ),
        (
            "ticker=GOOG/part-0.parquet",
            "date,close\n2020-01-02,7\n2020-01-03,8\n",
        ),
    ] {
        let csv = write(
            src.path(),
            &format!("{}.csv", name.replace(['/', '='], "_")),
            text,
        );
        let frame = load(&csv, &LoadOptions::default()).unwrap();
        let out = dir.path().join(name);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        write_frame(&frame, &out).unwrap();
    }
    let p = panel(dir.path(), "close");
    assert_eq!(p.id_column, "ticker");
    let ids: Vec<&str> = p.members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["GOOG", "MSFT"]);
    assert_eq!(
        p.members[1].frame.column("close").unwrap(),
        [1.0, 2.0, 3.0, 3.5, 4.0, 5.0]
    );
    assert_eq!(p.members[1].frame.frequency, Frequency::BusinessDay);
}

#[test]
fn a_file_without_an_id_column_stays_one_series() {
    match load_data(&dataset("airpassengers.csv"), &options("passengers")).unwrap() {
        Data::One(f) => assert_eq!(f.len(), 144),
        Data::Panel(_) => panic!("one series loaded as a panel"),
    }
    // An id column asked for must exist.
    let mut o = options("passengers");
    o.id_column = Some("store".into());
    let e = load_data(&dataset("airpassengers.csv"), &o).unwrap_err();
    assert!(e.to_string().contains("column 'store' not found"), "{e}");
}

fn wide(target: &str) -> PanelOptions {
    PanelOptions {
        wide: Wide::parse(target),
        ..Default::default()
    }
}

/// A monthly wide table: AAA from the start, BBB from the third month (a shorter
/// series, not missing values), NAME a text column, EMPTY no values at all.
const WIDE: &str = "date,AAA,BBB,NAME,EMPTY\n\
    2020-01-01,1,,x,\n\
    2020-02-01,2,,y,\n\
    2020-03-01,3,30,z,\n\
    2020-04-01,4,40,w,\n\
    2020-05-01,5,50,v,\n";

#[test]
fn a_wide_table_is_a_panel_of_its_target_columns_each_from_its_first_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "wide.csv", WIDE);
    for target in ["AAA,BBB", "*"] {
        let Data::Panel(p) = load_data(&path, &wide(target)).unwrap() else {
            panic!("{target}: not a panel")
        };
        let ids: Vec<&str> = p.members.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["AAA", "BBB"], "{target}");
        let (a, b) = (&p.members[0].frame, &p.members[1].frame);
        assert_eq!(a.column(WIDE_VALUE).unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(b.column(WIDE_VALUE).unwrap(), [30.0, 40.0, 50.0]);
        assert_eq!(b.frequency, Frequency::MonthStart);
        let first = b.times.as_ref().unwrap()[0];
        assert_eq!(first.format("%Y-%m-%d").to_string(), "2020-03-01");
    }
}

#[test]
fn wide_table_errors_name_the_column_as_the_series() {
    let dir = tempfile::tempdir().unwrap();
    // A gap inside BBB is a missing value of series BBB, at its line.
    let gap = write(
        dir.path(),
        "gap.csv",
        &WIDE.replace("2020-04-01,4,40", "2020-04-01,4,"),
    );
    let e = load_data(&gap, &wide("AAA,BBB")).unwrap_err().to_string();
    assert!(e.contains("series 'BBB'") && e.contains("line 5"), "{e}");
    // ... which the missing-value policy repairs, as in one series.
    let mut o = wide("AAA,BBB");
    o.load.missing = forecast_core::MissingPolicy::Interpolate;
    let Data::Panel(p) = load_data(&gap, &o).unwrap() else {
        panic!("not a panel")
    };
    assert_eq!(
        p.members[1].frame.column(WIDE_VALUE).unwrap(),
        [30.0, 40.0, 50.0]
    );
    let path = write(dir.path(), "wide.csv", WIDE);
    let e = load_data(&path, &wide("AAA,EMPTY"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("series 'EMPTY'") && e.contains("no values"),
        "{e}"
    );
    let e = load_data(&path, &wide("AAA,NAME")).unwrap_err().to_string();
    assert!(e.contains("series 'NAME'") && e.contains("\"x\""), "{e}");
    let e = load_data(&path, &wide("AAA,ZZZ")).unwrap_err().to_string();
    assert!(e.contains("ZZZ"), "{e}");
    let e = load_data(&path, &wide("AAA,AAA")).unwrap_err().to_string();
    assert!(e.contains("twice"), "{e}");
    assert_eq!(Wide::parse("close"), None);
}
