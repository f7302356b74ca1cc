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

pub(super) enum Raw {
    Text(Vec<Option<String>>),
    Num(Vec<Option<f64>>),
}

#[derive(Clone, Copy)]
pub(super) enum Format {
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

/// Where the rows of a table stand in its file, for messages: row `i` of the table is
/// row `rows[i]` of the file (a series of a long-format panel), or row `i` itself.
#[derive(Clone, Copy)]
pub(super) struct Places<'a> {
    /// The file's format.
    pub(super) format: Format,
    /// The file row of each table row, when the table is a subset of the file.
    pub(super) rows: Option<&'a [usize]>,
}

impl Places<'_> {
    /// How row `i` of the table is named in messages.
    pub(super) fn place(&self, i: usize) -> String {
        self.format
            .place(self.rows.and_then(|r| r.get(i).copied()).unwrap_or(i))
    }
}

fn polars_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Raw {
    /// Number of cells.
    pub(super) fn len(&self) -> usize {
        match self {
            Raw::Text(v) => v.len(),
            Raw::Num(v) => v.len(),
        }
    }

    /// The cells at `rows`, in that order.
    pub(super) fn gather(&self, rows: &[usize]) -> Raw {
        match self {
            Raw::Text(v) => Raw::Text(rows.iter().map(|&i| v[i].clone()).collect()),
            Raw::Num(v) => Raw::Num(rows.iter().map(|&i| v[i]).collect()),
        }
    }

    /// Cell `i` as text (`None` when empty).
    pub(super) fn text(&self, i: usize) -> Option<String> {
        match self {
            Raw::Text(v) => v[i].clone(),
            Raw::Num(v) => v[i].map(|x| x.to_string()),
        }
    }
}

/// A file's columns as read, untyped.
pub(super) type RawColumns = Vec<(String, Raw)>;

pub(super) fn read_raw(path: &Path) -> Result<(Format, RawColumns)> {
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
    load_with(path.as_ref(), options, false)
}

/// [`load`], and with `one_frequency` every time step must also be a whole number of
/// the file's own frequency (a panel's series files must not mix frequencies).
pub(super) fn load_with(path: &Path, options: &LoadOptions, one_frequency: bool) -> Result<Frame> {
    let (format, raw) = read_raw(path)?;
    frame_of(path, format, raw, options, one_frequency)
}

/// A file's columns, as read by [`read_raw`], made into a validated [`Frame`] (see
/// [`load_with`]).
pub(super) fn frame_of(
    path: &Path,
    format: Format,
    mut raw: RawColumns,
    options: &LoadOptions,
    one_frequency: bool,
) -> Result<Frame> {
    let time_column = check_columns(path, &raw, options, &[])?;
    let places = Places { format, rows: None };
    let times = match &time_column {
        Some(name) => {
            let i = raw.iter().position(|(n, _)| n == name).unwrap_or(0);
            let (name, col) = raw.remove(i);
            let times = parse_times(path, places, &name, &col)?;
            let frequency = one_frequency.then(|| Frequency::infer(&times));
            check_order(path, places, &name, &times, frequency)?;
            Some(times)
        }
        None => None,
    };
    build_frame(path, places, raw, time_column, times, options)
}

/// The rest of loading, once the time column is parsed, sorted and taken out of `raw`:
/// type the columns, repair missing values by policy, infer the frequency and calendar.
pub(super) fn build_frame(
    path: &Path,
    places: Places<'_>,
    raw: RawColumns,
    time_column: Option<String>,
    times: Option<Vec<NaiveDateTime>>,
    options: &LoadOptions,
) -> Result<Frame> {
    let nrows = match (&times, raw.first()) {
        (Some(t), _) => t.len(),
        (None, Some((_, c))) => c.len(),
        (None, None) => 0,
    };
    if nrows == 0 {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    let Typed { mut numeric, text } = type_columns(path, places, raw, options)?;
    let (keep, repaired) = repair_missing(path, places, &mut numeric, options, nrows)?;
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
/// `timestamp`, `time`, `ds` in any case, else none), after checking that every
/// required column exists and is neither the time column nor one of `not_values` (a
/// panel's id column).
pub(super) fn check_columns(
    path: &Path,
    raw: &[(String, Raw)],
    options: &LoadOptions,
    not_values: &[&str],
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
        None => ["date", "datetime", "timestamp", "time", "ds"]
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
        if not_values.contains(&r.as_str()) {
            return Err(Error::config(
                "target",
                format!("'{r}' is the series id column, not a value column"),
            ));
        }
    }
    Ok(time_column)
}

/// A numeric column as read: name, cells (`None` = missing), whole numbers only.
type NumericColumn = (String, Vec<Option<f64>>, bool);
/// A text column passed through: name, cells.
type TextColumn = (String, Vec<Option<String>>);

/// The value columns of a file, typed.
struct Typed {
    numeric: Vec<NumericColumn>,
    text: Vec<TextColumn>,
}

/// Type every column but the time column: numeric when every cell parses (required
/// columns must), non-finite values refused, else text.
fn type_columns(
    path: &Path,
    places: Places<'_>,
    raw: RawColumns,
    options: &LoadOptions,
) -> Result<Typed> {
    let mut numeric = Vec::new();
    let mut text = Vec::new();
    for (name, col) in raw {
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
                        place: places.place(i),
                        column: name,
                        value: x.to_string(),
                    });
                }
                let integer = v.iter().flatten().all(|x| x.fract() == 0.0);
                numeric.push((name, v, integer));
            }
            Raw::Text(v) => match parse_numbers(path, places, &name, &v, required)? {
                Some((nums, integer)) => numeric.push((name, nums, integer)),
                None => text.push((name, v)),
            },
        }
    }
    Ok(Typed { numeric, text })
}

/// Apply the missing-value policy, an explicit one and never a silent fill: the rows
/// to keep and the number of cells filled. Only the columns the request needs are held
/// to it (every numeric column when it names none): another column's empty cells stay
/// empty (NaN, written back as empty cells) and neither fail the load nor drop rows.
fn repair_missing(
    path: &Path,
    places: Places<'_>,
    numeric: &mut [NumericColumn],
    options: &LoadOptions,
    nrows: usize,
) -> Result<(Vec<bool>, usize)> {
    let mut repaired = 0;
    let mut keep: Vec<bool> = vec![true; nrows];
    let policy = options.missing;
    for (name, values, _) in numeric.iter_mut() {
        if !options.required.is_empty() && !options.required.contains(name) {
            continue;
        }
        let missing = values.iter().filter(|v| v.is_none()).count();
        if missing == 0 {
            continue;
        }
        match policy {
            MissingPolicy::Error => {
                let i = values.iter().position(Option::is_none).unwrap_or(0);
                return Err(Error::Missing {
                    path: path.to_path_buf(),
                    place: places.place(i),
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
                    place: places.place(i),
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

/// Parse every cell of the time column (in file order, not yet checked for order).
pub(super) fn parse_times(
    path: &Path,
    places: Places<'_>,
    name: &str,
    col: &Raw,
) -> Result<Vec<NaiveDateTime>> {
    (0..col.len())
        .map(|i| {
            let cell = col.text(i);
            let s = cell.as_deref().unwrap_or("");
            parse_timestamp(s).ok_or_else(|| Error::BadTimestamp {
                path: path.to_path_buf(),
                place: places.place(i),
                column: name.to_string(),
                value: s.to_string(),
            })
        })
        .collect()
}

/// Check that `times` increase strictly: a repeated timestamp is a duplicate, one that
/// goes back is unsorted. With a `frequency`, every step must also be a whole number of
/// that frequency's steps (a panel series must not mix frequencies).
pub(super) fn check_order(
    path: &Path,
    places: Places<'_>,
    name: &str,
    times: &[NaiveDateTime],
    frequency: Option<Frequency>,
) -> Result<()> {
    let fmt = |t: NaiveDateTime| format_timestamp(t, false);
    for (i, w) in times.windows(2).enumerate() {
        let (prev, t) = (w[0], w[1]);
        if t == prev {
            return Err(Error::Duplicate {
                path: path.to_path_buf(),
                place: places.place(i + 1),
                column: name.to_string(),
                value: fmt(t),
            });
        }
        if t < prev {
            return Err(Error::Unsorted {
                path: path.to_path_buf(),
                place: places.place(i + 1),
                column: name.to_string(),
                value: fmt(t),
                previous: fmt(prev),
            });
        }
        if let Some(f) = frequency {
            if !f.reaches(prev, t) {
                return Err(Error::MixedFrequency {
                    path: path.to_path_buf(),
                    place: places.place(i + 1),
                    step: format!("{} after {}", fmt(t), fmt(prev)),
                    frequency: f.name(),
                });
            }
        }
    }
    Ok(())
}

type Parsed = Option<(Vec<Option<f64>>, bool)>;

/// Parse a text column as numbers. `Ok(None)` means "not a numeric column" (allowed
/// only for columns the request does not need).
fn parse_numbers(
    path: &Path,
    places: Places<'_>,
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
                    place: places.place(i),
                    column: name.to_string(),
                    value: s.to_string(),
                })
            }
            Err(_) => {
                return Err(Error::NonNumeric {
                    path: PathBuf::from(path),
                    place: places.place(i),
                    column: name.to_string(),
                    value: s.to_string(),
                })
            }
        }
    }
    Ok(Some((out, integer)))
}
