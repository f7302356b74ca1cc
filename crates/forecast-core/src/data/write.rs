//! Writing frames (the curated feature table) as CSV or Parquet, atomically.

use super::Frame;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use polars::prelude::{
    Column as PlColumn, CsvWriter, DataFrame, DataType, NamedFrom, ParquetWriter, SerWriter,
    Series, TimeUnit,
};
use std::io::Write;
use std::path::Path;

fn to_polars(frame: &Frame) -> Result<DataFrame> {
    let err = |e: polars::error::PolarsError| Error::Parse {
        path: frame.source.clone(),
        message: e.to_string(),
    };
    let mut cols: Vec<PlColumn> = Vec::new();
    if let (Some(name), Some(times)) = (&frame.time_column, &frame.times) {
        let s = if frame.date_only {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let days: Vec<i32> = times
                .iter()
                .map(|t| (t.date() - epoch).num_days() as i32)
                .collect();
            Series::new(name.as_str().into(), days)
                .cast(&DataType::Date)
                .map_err(err)?
        } else {
            let ms: Vec<i64> = times
                .iter()
                .map(|t| t.and_utc().timestamp_millis())
                .collect();
            Series::new(name.as_str().into(), ms)
                .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                .map_err(err)?
        };
        cols.push(s.into());
    }
    for (name, values) in &frame.text_columns {
        cols.push(Series::new(name.as_str().into(), values.clone()).into());
    }
    for c in &frame.columns {
        let s = if c.integer {
            let v: Vec<Option<i64>> = c
                .values
                .iter()
                .map(|x| x.is_finite().then_some(*x as i64))
                .collect();
            Series::new(c.name.as_str().into(), v)
        } else {
            let v: Vec<Option<f64>> = c
                .values
                .iter()
                .map(|x| x.is_finite().then_some(*x))
                .collect();
            Series::new(c.name.as_str().into(), v)
        };
        cols.push(s.into());
    }
    DataFrame::new_infer_height(cols).map_err(err)
}

/// Write a frame as CSV or Parquet (chosen by the extension of `path`), atomically.
/// Undefined values (indicator warm-up) are written as empty cells / nulls.
pub fn write_frame(frame: &Frame, path: &Path) -> Result<()> {
    let mut df = to_polars(frame)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let err = |e: polars::error::PolarsError| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    match ext.as_deref() {
        Some("csv") => {
            crate::fsio::write_file_with(path, |f| CsvWriter::new(f).finish(&mut df).map_err(err))
        }
        Some("parquet") | Some("pq") => crate::fsio::write_file_with(path, |f| {
            ParquetWriter::new(f)
                .finish(&mut df)
                .map(|_| ())
                .map_err(err)
        }),
        _ => Err(Error::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Write a frame as CSV to any writer (e.g. stdout).
pub fn write_csv_to(frame: &Frame, out: impl Write) -> Result<()> {
    let mut df = to_polars(frame)?;
    CsvWriter::new(out)
        .finish(&mut df)
        .map_err(|e| Error::Parse {
            path: frame.source.clone(),
            message: e.to_string(),
        })
}

/// Write a panel's forecasts as Parquet, atomically: `unique_id` as text, `ds` as a
/// date or datetime column when every value is a timestamp (else as integers or text),
/// the value columns as doubles (null where undefined).
pub fn write_long_parquet(table: &crate::panel::LongTable, path: &Path) -> Result<()> {
    let err = |e: polars::error::PolarsError| Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut cols: Vec<PlColumn> =
        vec![Series::new("unique_id".into(), table.unique_id.clone()).into()];
    let times: Option<Vec<chrono::NaiveDateTime>> =
        table.ds.iter().map(|s| super::parse_timestamp(s)).collect();
    let ds = match times {
        Some(t) if !t.is_empty() => {
            let date_only = t.iter().all(|x| x.time() == chrono::NaiveTime::MIN);
            if date_only {
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
                let days: Vec<i32> = t
                    .iter()
                    .map(|x| (x.date() - epoch).num_days() as i32)
                    .collect();
                Series::new("ds".into(), days)
                    .cast(&DataType::Date)
                    .map_err(err)?
            } else {
                let ms: Vec<i64> = t.iter().map(|x| x.and_utc().timestamp_millis()).collect();
                Series::new("ds".into(), ms)
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                    .map_err(err)?
            }
        }
        _ => match table
            .ds
            .iter()
            .map(|s| s.parse::<i64>().ok())
            .collect::<Option<Vec<i64>>>()
        {
            Some(steps) => Series::new("ds".into(), steps),
            None => Series::new("ds".into(), table.ds.clone()),
        },
    };
    cols.push(ds.into());
    for (name, v) in &table.columns {
        let v: Vec<Option<f64>> = v.iter().map(|x| x.is_finite().then_some(*x)).collect();
        cols.push(Series::new(name.as_str().into(), v).into());
    }
    let mut df = DataFrame::new_infer_height(cols).map_err(err)?;
    crate::fsio::write_file_with(path, |f| {
        ParquetWriter::new(f)
            .finish(&mut df)
            .map(|_| ())
            .map_err(err)
    })
}
