//! Loading CSV and Parquet files into a validated [`Frame`].

use super::calendar::{self, CalendarChoice};
use super::missing::{fill, MissingPolicy};
use super::time::{format_timestamp, parse_timestamp, Frequency};
use super::{Column, Frame};
use crate::error::{Error, Result};
use chrono::{NaiveDateTime, Timelike};
use polars::prelude::{CsvReadOptions, DataType, ParquetReader, SerReader};
use std::path::{Path, PathBuf};

/// How to read a file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Time column; `None` looks for `date` (then `datetime`, `timestamp`, `time`, any
    /// case) and indexes by row when there is none.
    pub time_col: Option<String>,
    /// Columns that must exist and be numeric (target, features). Other columns are
    /// loaded as numeric when every cell parses, else passed through as text.
    pub required: Vec<String>,
    /// What to do with empty cells.
    pub missing: MissingPolicy,
    /// Trading-day calendar of business-day data (`auto` by default).
    pub calendar: CalendarChoice,
}

enum Raw {
    Text(Vec<Option<String>>),
    Num(Vec<Option<f64>>),
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Parquet,
}

impl Format {
    /// How a row is named in messages: the file line for CSV (header = line 1), the
    /// 1-based row for Parquet.
    fn place(self, row: usize) -> String {
        match self {
            Format::Csv => format!("line {}", row + 2),
            Format::Parquet => format!("row {}", row + 1),
        }
    }
}

fn polars_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn read_raw(path: &Path) -> Result<(Format, Vec<(String, Raw)>)> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let format = match ext.as_deref() {
        Some("csv") => Format::Csv,
        Some("parquet") | Some("pq") => Format::Parquet,
        _ => {
            return Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
            })
        }
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() == 0 {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let df = match format {
        Format::Csv => CsvReadOptions::default()
            .with_has_header(true)
            // Everything as text: we parse numbers ourselves to name the bad cell.
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .map_err(|e| polars_err(path, e))?
            .finish()
            .map_err(|e| polars_err(path, e))?,
        Format::Parquet => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            ParquetReader::new(file)
                .finish()
                .map_err(|e| polars_err(path, e))?
        }
    };
    let mut cols = Vec::with_capacity(df.width());
    for col in df.columns() {
        let name = col.name().to_string();
        let dtype = col.dtype();
        let raw = if dtype.is_primitive_numeric() || dtype.is_bool() {
            let c = col
                .cast(&DataType::Float64)
                .map_err(|e| polars_err(path, e))?;
            let ca = c.f64().map_err(|e| polars_err(path, e))?;
            Raw::Num(ca.iter().collect())
        } else {
            let c = col
                .cast(&DataType::String)
                .map_err(|e| polars_err(path, e))?;
            let ca = c.str().map_err(|e| polars_err(path, e))?;
            Raw::Text(
                ca.iter()
                    .map(|v| v.map(str::to_string).filter(|s| !s.trim().is_empty()))
                    .collect(),
            )
        };
        cols.push((name, raw));
    }
    Ok((format, cols))
}

/// Load and validate a CSV or Parquet file (chosen by extension).
///
/// Checks, each failing with an error that names the file, row and column: empty file,
/// missing required column, unparsable / unsorted / duplicate timestamps, non-numeric
/// or non-finite cells in numeric columns, and missing cells unless `options.missing`
/// says how to repair them.
pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Frame> {
    let path = path.as_ref();
    let (format, raw) = read_raw(path)?;
    let nrows = match raw.first() {
        Some((_, Raw::Text(v))) => v.len(),
        Some((_, Raw::Num(v))) => v.len(),
        None => 0,
    };
    if nrows == 0 {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let time_column = check_columns(path, &raw, options)?;
    let Typed {
        times,
        mut numeric,
        text,
    } = type_columns(path, format, raw, &time_column, options)?;
    let (keep, repaired) = repair_missing(path, format, &mut numeric, options.missing, nrows)?;
    let dropped = keep.iter().filter(|k| !**k).count();
    if dropped == nrows {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let columns = numeric
        .into_iter()
        .map(|(name, values, integer)| Column {
            name,
            values: keep_rows(values, &keep)
                .into_iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect(),
            integer,
        })
        .collect();
    let text_columns = text
        .into_iter()
        .map(|(n, v)| (n, keep_rows(v, &keep)))
        .collect();
    let times = times.map(|t| keep_rows(t, &keep));
    let frequency = times.as_deref().map_or(Frequency::Row, Frequency::infer);
    let calendar = match (&times, frequency) {
        (Some(t), Frequency::BusinessDay) => Some(calendar::resolve(options.calendar, t)),
        _ => None,
    };
    let date_only = times.as_ref().is_none_or(|t| {
        t.iter()
            .all(|x| x.num_seconds_from_midnight() == 0 && x.nanosecond() == 0)
    });
    Ok(Frame {
        source: path.to_path_buf(),
        time_column,
        times,
        date_only,
        frequency,
        calendar,
        columns,
        text_columns,
        repaired: repaired + dropped,
    })
}

/// The time column (the one asked for, else the first of `date`, `datetime`,
/// `timestamp`, `time` in any case, else none), after checking that every required
/// column exists and is not the time column.
fn check_columns(
    path: &Path,
    raw: &[(String, Raw)],
    options: &LoadOptions,
) -> Result<Option<String>> {
    let names: Vec<&str> = raw.iter().map(|(n, _)| n.as_str()).collect();
    let not_found = |column: &str| Error::ColumnNotFound {
        path: path.to_path_buf(),
        column: column.to_string(),
        available: names.join(", "),
    };
    let time_column = match &options.time_col {
        Some(c) if names.contains(&c.as_str()) => Some(c.clone()),
        Some(c) => return Err(not_found(c)),
        None => ["date", "datetime", "timestamp", "time"]
            .iter()
            .find_map(|want| {
                names
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(want))
                    .map(|n| n.to_string())
            }),
    };
    for r in &options.required {
        if !names.contains(&r.as_str()) {
            return Err(not_found(r));
        }
        if Some(r) == time_column.as_ref() {
            return Err(Error::config(
                "target",
                format!("'{r}' is the time column, not a value column"),
            ));
        }
    }
    Ok(time_column)
}

/// A numeric column as read: name, cells (`None` = missing), whole numbers only.
type NumericColumn = (String, Vec<Option<f64>>, bool);
/// A text column passed through: name, cells.
type TextColumn = (String, Vec<Option<String>>);

/// The columns of a file, typed.
struct Typed {
    times: Option<Vec<NaiveDateTime>>,
    numeric: Vec<NumericColumn>,
    text: Vec<TextColumn>,
}

/// Parse the time column and type every other column: numeric when every cell parses
/// (required columns must), non-finite values refused, else text.
fn type_columns(
    path: &Path,
    format: Format,
    raw: Vec<(String, Raw)>,
    time_column: &Option<String>,
    options: &LoadOptions,
) -> Result<Typed> {
    let mut times = None;
    let mut numeric = Vec::new();
    let mut text = Vec::new();
    for (name, col) in raw {
        if Some(&name) == time_column.as_ref() {
            times = Some(parse_times(path, format, &name, col)?);
            continue;
        }
        let required = options.required.contains(&name);
        match col {
            Raw::Num(v) => {
                if let Some((i, x)) = v
                    .iter()
                    .enumerate()
                    .find_map(|(i, x)| x.filter(|x| !x.is_finite()).map(|x| (i, x)))
                {
                    return Err(Error::NonFinite {
                        path: path.to_path_buf(),
                        place: format.place(i),
                        column: name,
                        value: x.to_string(),
                    });
                }
                let integer = v.iter().flatten().all(|x| x.fract() == 0.0);
                numeric.push((name, v, integer));
            }
            Raw::Text(v) => match parse_numbers(path, format, &name, &v, required)? {
                Some((nums, integer)) => numeric.push((name, nums, integer)),
                None => text.push((name, v)),
            },
        }
    }
    Ok(Typed {
        times,
        numeric,
        text,
    })
}

/// Apply the missing-value policy, an explicit one and never a silent fill: the rows
/// to keep and the number of cells filled.
fn repair_missing(
    path: &Path,
    format: Format,
    numeric: &mut [NumericColumn],
    policy: MissingPolicy,
    nrows: usize,
) -> Result<(Vec<bool>, usize)> {
    let mut repaired = 0;
    let mut keep: Vec<bool> = vec![true; nrows];
    for (name, values, _) in numeric.iter_mut() {
        let missing = values.iter().filter(|v| v.is_none()).count();
        if missing == 0 {
            continue;
        }
        match policy {
            MissingPolicy::Error => {
                let i = values.iter().position(Option::is_none).unwrap_or(0);
                return Err(Error::Missing {
                    path: path.to_path_buf(),
                    place: format.place(i),
                    column: name.clone(),
                });
            }
            MissingPolicy::Drop => {
                for (k, v) in keep.iter_mut().zip(values.iter()) {
                    *k &= v.is_some();
                }
            }
            policy => {
                fill(values, policy).map_err(|i| Error::Unrepairable {
                    path: path.to_path_buf(),
                    place: format.place(i),
                    column: name.clone(),
                    policy: policy.name().to_string(),
                })?;
                repaired += missing;
            }
        }
    }
    Ok((keep, repaired))
}

/// The entries of `v` whose row is kept.
fn keep_rows<T>(v: Vec<T>, keep: &[bool]) -> Vec<T> {
    v.into_iter()
        .zip(keep)
        .filter_map(|(x, k)| k.then_some(x))
        .collect()
}

fn parse_times(path: &Path, format: Format, name: &str, col: Raw) -> Result<Vec<NaiveDateTime>> {
    let cells: Vec<Option<String>> = match col {
        Raw::Text(v) => v,
        Raw::Num(v) => v.into_iter().map(|x| x.map(|x| x.to_string())).collect(),
    };
    let mut out: Vec<NaiveDateTime> = Vec::with_capacity(cells.len());
    for (i, cell) in cells.iter().enumerate() {
        let s = cell.as_deref().unwrap_or("");
        let t = parse_timestamp(s).ok_or_else(|| Error::BadTimestamp {
            path: path.to_path_buf(),
            place: format.place(i),
            column: name.to_string(),
            value: s.to_string(),
        })?;
        if let Some(prev) = out.last() {
            let fmt = |t: NaiveDateTime| format_timestamp(t, false);
            if t == *prev {
                return Err(Error::Duplicate {
                    path: path.to_path_buf(),
                    place: format.place(i),
                    column: name.to_string(),
                    value: s.to_string(),
                });
            }
            if t < *prev {
                return Err(Error::Unsorted {
                    path: path.to_path_buf(),
                    place: format.place(i),
                    column: name.to_string(),
                    value: fmt(t),
                    previous: fmt(*prev),
                });
            }
        }
        out.push(t);
    }
    Ok(out)
}

type Parsed = Option<(Vec<Option<f64>>, bool)>;

/// Parse a text column as numbers. `Ok(None)` means "not a numeric column" (allowed
/// only for columns the request does not need).
fn parse_numbers(
    path: &Path,
    format: Format,
    name: &str,
    cells: &[Option<String>],
    required: bool,
) -> Result<Parsed> {
    let mut out = Vec::with_capacity(cells.len());
    let mut integer = true;
    for (i, cell) in cells.iter().enumerate() {
        let Some(s) = cell else {
            out.push(None);
            continue;
        };
        let s = s.trim();
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() => {
                integer &= x.fract() == 0.0;
                out.push(Some(x));
            }
            _ if !required => return Ok(None),
            Ok(_) => {
                return Err(Error::NonFinite {
                    path: PathBuf::from(path),
                    place: format.place(i),
                    column: name.to_string(),
                    value: s.to_string(),
                })
            }
            Err(_) => {
                return Err(Error::NonNumeric {
                    path: PathBuf::from(path),
                    place: format.place(i),
                    column: name.to_string(),
                    value: s.to_string(),
                })
            }
        }
    }
    Ok(Some((out, integer)))
}
