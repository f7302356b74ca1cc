//! Many series: a long-format table with a series id column, a folder or glob of files
//! with one series per file, or a hive-partitioned folder (`ticker=MSFT/part-0.parquet`).
//!
//! Each series is validated on its own, and every error names the series id beside the
//! file, line and column. Series of different lengths, start dates and frequencies are
//! normal; within one series, a repeated timestamp or a step of another frequency is an
//! error.

use super::load::{
    build_frame, check_columns, check_order, frame_of, load_with, parse_times, read_raw, Format,
    Places, RawColumns,
};
use super::time::format_timestamp;
use super::{Frame, Frequency, LoadOptions};
use crate::error::{Error, Result};
use polars::prelude::{CsvReadOptions, ParquetReader, SerReader};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The id columns looked for, in order, when none is named.
pub const ID_COLUMNS: [&str; 3] = ["unique_id", "ticker", "symbol"];

/// How to read a panel.
#[derive(Debug, Clone, Default)]
pub struct PanelOptions {
    /// Series id column of a long-format file; `None` takes the first of
    /// [`ID_COLUMNS`] present. In a folder of files it is the name given to the ids
    /// (the hive key when the folders are `KEY=VALUE`, else `unique_id`).
    pub id_column: Option<String>,
    /// How each series is read (time column, required columns, missing values).
    pub load: LoadOptions,
    /// Several target columns of one file, each a series (a wide table); `None` for a
    /// long table, a folder or one series.
    pub wide: Option<Wide>,
}

/// The target columns of a wide table: each is one series, id = the column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wide {
    /// These columns (`--target a,b,c`).
    Columns(Vec<String>),
    /// Every numeric column but the time column (`--target '*'`).
    Numeric,
}

/// The value column every series of a wide table is given (statsforecast's `y`).
pub const WIDE_VALUE: &str = "y";

impl Wide {
    /// The wide selection a target names: `*`, or a comma-separated list of two or
    /// more columns; `None` for one column.
    pub fn parse(target: &str) -> Option<Wide> {
        if target.trim() == "*" {
            return Some(Wide::Numeric);
        }
        let cols: Vec<String> = target
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        (target.contains(',')).then_some(Wide::Columns(cols))
    }
}

/// One series of a panel.
#[derive(Debug, Clone)]
pub struct Member {
    /// The series id.
    pub id: String,
    /// Its rows, validated and in time order.
    pub frame: Frame,
}

/// Many series, in the order their ids first appear (file order for a long table,
/// path order for a folder).
#[derive(Debug, Clone)]
pub struct Panel {
    /// The file, folder or glob read.
    pub source: PathBuf,
    /// Name of the id column (as written in outputs).
    pub id_column: String,
    /// The series.
    pub members: Vec<Member>,
}

impl Panel {
    /// Number of series.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the panel has no series.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Total number of rows over every series.
    pub fn rows(&self) -> usize {
        self.members.iter().map(|m| m.frame.len()).sum()
    }
}

/// What a data path holds: one series (a plain file) or many.
#[derive(Debug, Clone)]
pub enum Data {
    /// A file without a series id column.
    One(Frame),
    /// A long-format file, a folder or a glob.
    Panel(Panel),
}

/// Whether `path` names a glob pattern rather than a file or folder.
fn is_glob(path: &Path) -> bool {
    let s = path.to_string_lossy();
    s.contains('*') || s.contains('?') || s.contains('[')
}

/// The id column of a file with columns `names`: the one asked for (which must exist),
/// else the first of [`ID_COLUMNS`] present, else none.
fn id_column_of(path: &Path, names: &[&str], asked: Option<&str>) -> Result<Option<String>> {
    match asked {
        Some(c) if names.contains(&c) => Ok(Some(c.to_string())),
        Some(c) => Err(Error::ColumnNotFound {
            path: path.to_path_buf(),
            column: c.to_string(),
            available: names.join(", "),
        }),
        None => Ok(ID_COLUMNS
            .iter()
            .find(|c| names.contains(c))
            .map(|c| c.to_string())),
    }
}

/// Load `path`: a plain file is one series unless it has an id column (then it is a
/// long-format panel); a folder or a glob is a panel of one series per file (or per
/// hive partition).
pub fn load_data(path: &Path, options: &PanelOptions) -> Result<Data> {
    if let Some(wide) = &options.wide {
        if path.is_dir() || is_glob(path) {
            return Err(Error::config(
                "target",
                format!(
                    "several target columns (a wide table) need one file; {} is a folder or glob",
                    path.display()
                ),
            ));
        }
        return load_wide(path, wide, &options.load).map(Data::Panel);
    }
    if path.is_dir() || is_glob(path) {
        return load_files(path, options).map(Data::Panel);
    }
    let (format, raw) = read_raw(path)?;
    let names: Vec<&str> = raw.iter().map(|(n, _)| n.as_str()).collect();
    match id_column_of(path, &names, options.id_column.as_deref())? {
        Some(id) => split_long(path, format, raw, &id, &options.load).map(Data::Panel),
        None => frame_of(path, format, raw, &options.load, false).map(Data::One),
    }
}

/// The column names of a file, or of the first file of a folder or glob (to choose
/// defaults such as the target `y` before loading).
pub fn column_names(path: &Path) -> Result<Vec<String>> {
    let file = if path.is_dir() || is_glob(path) {
        list_files(path)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Empty {
                path: path.to_path_buf(),
            })?
    } else {
        path.to_path_buf()
    };
    let err = |e: polars::error::PolarsError| Error::Parse {
        path: file.clone(),
        message: e.to_string(),
    };
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let schema = match ext.as_deref() {
        Some("csv") => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_n_rows(Some(1))
            .try_into_reader_with_file_path(Some(file.clone()))
            .map_err(err)?
            .finish()
            .map_err(err)?
            .schema()
            .clone(),
        Some("parquet") | Some("pq") => {
            let f = std::fs::File::open(&file).map_err(|e| Error::io(&file, e))?;
            let mut reader = ParquetReader::new(f);
            let arrow = reader.schema().map_err(err)?;
            return Ok(arrow.iter_names().map(|n| n.to_string()).collect());
        }
        _ => return Err(Error::UnsupportedFormat { path: file }),
    };
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Split a long-format table by its id column: each series' rows sorted by time, then
/// validated on their own (series in parallel).
fn split_long(
    path: &Path,
    format: Format,
    mut raw: RawColumns,
    id_column: &str,
    options: &LoadOptions,
) -> Result<Panel> {
    let time_column = check_columns(path, &raw, options, &[id_column])?;
    let file = Places { format, rows: None };
    let take = |raw: &mut RawColumns, name: &str| {
        let i = raw.iter().position(|(n, _)| n == name).unwrap_or(0);
        raw.remove(i).1
    };
    let ids = take(&mut raw, id_column);
    let times = match &time_column {
        Some(name) => {
            let col = take(&mut raw, name);
            Some(parse_times(path, file, name, &col)?)
        }
        None => None,
    };
    let n = ids.len();
    if n == 0 {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    // Rows by id, ids in the order they first appear.
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let id = ids
            .text(i)
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if id.is_empty() {
            return Err(Error::EmptyId {
                path: path.to_path_buf(),
                place: file.place(i),
                column: id_column.to_string(),
            });
        }
        match groups.get_mut(&id) {
            Some(rows) => rows.push(i),
            None => {
                order.push(id.clone());
                groups.insert(id, vec![i]);
            }
        }
    }
    let mut jobs: Vec<(String, Vec<usize>)> = order
        .into_iter()
        .map(|id| {
            let rows = groups.remove(&id).unwrap_or_default();
            (id, rows)
        })
        .collect();
    if let Some(t) = &times {
        for (_, rows) in &mut jobs {
            rows.sort_by_key(|&r| t[r]); // stable: equal times keep file order
        }
    }
    let results: Vec<Result<Member>> = jobs
        .par_iter()
        .map(|(id, rows)| {
            series_of_long(path, format, &raw, &time_column, &times, id, rows, options)
                .map_err(|e| e.in_series(id))
        })
        .collect();
    // The first error in series order, whatever the thread count.
    let members = results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Panel {
        source: path.to_path_buf(),
        id_column: id_column.to_string(),
        members,
    })
}

/// One series of a long table: its rows (in time order) checked for duplicates and
/// mixed frequencies, then typed and repaired.
#[allow(clippy::too_many_arguments)]
fn series_of_long(
    path: &Path,
    format: Format,
    raw: &RawColumns,
    time_column: &Option<String>,
    times: &Option<Vec<chrono::NaiveDateTime>>,
    id: &str,
    rows: &[usize],
    options: &LoadOptions,
) -> Result<Member> {
    let places = Places {
        format,
        rows: Some(rows),
    };
    let series_times = match (&times, &time_column) {
        (Some(t), Some(name)) => {
            let st: Vec<_> = rows.iter().map(|&r| t[r]).collect();
            let freq = Frequency::infer(&st);
            check_order(path, places, name, &st, Some(freq))?;
            Some(st)
        }
        _ => None,
    };
    let sub: RawColumns = raw
        .iter()
        .map(|(name, col)| (name.clone(), col.gather(rows)))
        .collect();
    let frame = build_frame(
        path,
        places,
        sub,
        time_column.clone(),
        series_times,
        options,
    )?;
    Ok(Member {
        id: id.to_string(),
        frame,
    })
}

/// Whether every non-empty cell of `col` is a number (and one is).
fn is_numeric(col: &super::load::Raw) -> bool {
    match col {
        super::load::Raw::Num(v) => v.iter().any(Option::is_some),
        super::load::Raw::Text(v) => {
            let mut any = false;
            for c in v.iter().flatten() {
                let c = c.trim();
                if c.is_empty() {
                    continue;
                }
                if c.parse::<f64>().is_err() {
                    return false;
                }
                any = true;
            }
            any
        }
    }
}

/// A wide table: each target column is one series (id = the column name), its rows
/// from its first to its last value (a column that starts later is a shorter series,
/// not missing values); empty cells in between follow the missing-value policy. The
/// time column is parsed and checked once, for every series.
fn load_wide(path: &Path, wide: &Wide, options: &LoadOptions) -> Result<Panel> {
    let (format, mut raw) = read_raw(path)?;
    let mut checked = options.clone();
    checked.required = match wide {
        Wide::Columns(c) => c.clone(),
        Wide::Numeric => vec![],
    };
    let time_column = check_columns(path, &raw, &checked, &[])?;
    let file = Places { format, rows: None };
    let times = match &time_column {
        Some(name) => {
            let i = raw.iter().position(|(n, _)| n == name).unwrap_or(0);
            let (name, col) = raw.remove(i);
            let t = parse_times(path, file, &name, &col)?;
            check_order(path, file, &name, &t, Some(Frequency::infer(&t)))?;
            Some(t)
        }
        None => None,
    };
    let targets: Vec<String> = match wide {
        Wide::Columns(c) => c.clone(),
        Wide::Numeric => raw
            .iter()
            .filter(|(_, c)| is_numeric(c))
            .map(|(n, _)| n.clone())
            .collect(),
    };
    if targets.is_empty() {
        return Err(Error::config(
            "target",
            format!(
                "{} has no numeric column besides the time column",
                path.display()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = targets.iter().find(|t| !seen.insert(t.as_str())) {
        return Err(Error::config(
            "target",
            format!("column '{dup}' is listed twice"),
        ));
    }
    let results: Vec<Result<Member>> = targets
        .par_iter()
        .map(|name| {
            wide_member(path, format, &raw, name, &time_column, &times, options)
                .map_err(|e| e.in_series(name))
        })
        .collect();
    // The first error in column order, whatever the thread count.
    let members = results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Panel {
        source: path.to_path_buf(),
        id_column: "unique_id".into(),
        members,
    })
}

/// One column of a wide table as a series: its rows from its first to its last value,
/// validated under its own name, then named [`WIDE_VALUE`].
fn wide_member(
    path: &Path,
    format: Format,
    raw: &RawColumns,
    name: &str,
    time_column: &Option<String>,
    times: &Option<Vec<chrono::NaiveDateTime>>,
    options: &LoadOptions,
) -> Result<Member> {
    let col = &raw
        .iter()
        .find(|(n, _)| n == name)
        .ok_or_else(|| Error::config("target", format!("no column '{name}'")))?
        .1;
    let present = |i: &usize| col.text(*i).is_some_and(|s| !s.trim().is_empty());
    let n = col.len();
    let (Some(first), Some(last)) = ((0..n).find(present), (0..n).rev().find(present)) else {
        return Err(Error::config(
            "target",
            format!("column '{name}' of {} has no values", path.display()),
        ));
    };
    let rows: Vec<usize> = (first..=last).collect();
    let sub: RawColumns = vec![(name.to_string(), col.gather(&rows))];
    let series_times = times.as_ref().map(|t| rows.iter().map(|&r| t[r]).collect());
    let mut own = options.clone();
    own.required = vec![name.to_string()];
    let places = Places {
        format,
        rows: Some(&rows),
    };
    let mut frame = build_frame(path, places, sub, time_column.clone(), series_times, &own)?;
    for c in &mut frame.columns {
        c.name = WIDE_VALUE.to_string();
    }
    Ok(Member {
        id: name.to_string(),
        frame,
    })
}

/// The data files below a folder (recursively) or matching a glob, in path order.
fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    let is_data = |p: &Path| {
        p.is_file()
            && matches!(
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(|e| e.to_ascii_lowercase())
                    .as_deref(),
                Some("csv") | Some("parquet") | Some("pq")
            )
    };
    let mut files = Vec::new();
    if path.is_dir() {
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
            for entry in entries {
                let p = entry.map_err(|e| Error::io(&dir, e))?.path();
                let hidden = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
                if hidden {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if is_data(&p) {
                    files.push(p);
                }
            }
        }
    } else {
        let pattern = path.to_string_lossy();
        let paths = glob::glob(&pattern).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: format!("invalid glob pattern: {e}"),
        })?;
        for p in paths {
            let p = p.map_err(|e| {
                let at = e.path().to_path_buf();
                Error::io(at, e.into())
            })?;
            if is_data(&p) {
                files.push(p);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// The hive key and value of a file (`KEY=VALUE` in its nearest such folder), if any.
fn hive_part(file: &Path) -> Option<(String, String)> {
    file.parent()?.ancestors().find_map(|dir| {
        let name = dir.file_name()?.to_str()?;
        let (k, v) = name.split_once('=')?;
        (!k.is_empty() && !v.is_empty()).then(|| (k.to_string(), v.to_string()))
    })
}

/// A folder or glob: one series per file (id = the file stem), or per hive partition
/// (id = the partition's value; its part files are joined in time order).
fn load_files(path: &Path, options: &PanelOptions) -> Result<Panel> {
    let files = list_files(path)?;
    let mut key: Option<String> = None;
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for file in files {
        let id = match hive_part(&file) {
            Some((k, v)) => {
                match &key {
                    Some(prev) if *prev != k => {
                        return Err(Error::Parse {
                            path: file.clone(),
                            message: format!(
                                "hive key '{k}' differs from the other files' '{prev}'"
                            ),
                        })
                    }
                    _ => key = Some(k),
                }
                v
            }
            None => file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
        };
        if id.is_empty() {
            return Err(Error::EmptyId {
                path: file,
                place: "file name".into(),
                column: "id".into(),
            });
        }
        match groups.get_mut(&id) {
            Some(v) => v.push(file),
            None => {
                order.push(id.clone());
                groups.insert(id, vec![file]);
            }
        }
    }
    let jobs: Vec<(String, Vec<PathBuf>)> = order
        .into_iter()
        .map(|id| {
            let files = groups.remove(&id).unwrap_or_default();
            (id, files)
        })
        .collect();
    let results: Vec<Result<Member>> = jobs
        .par_iter()
        .map(|(id, files)| {
            load_parts(files, &options.load)
                .map(|frame| Member {
                    id: id.clone(),
                    frame,
                })
                .map_err(|e| e.in_series(id))
        })
        .collect();
    // The first error in series order, whatever the thread count.
    let members = results.into_iter().collect::<Result<Vec<_>>>()?;
    let id_column = options
        .id_column
        .clone()
        .or(key)
        .unwrap_or_else(|| ID_COLUMNS[0].to_string());
    Ok(Panel {
        source: path.to_path_buf(),
        id_column,
        members,
    })
}

/// One series from one or more files: each part validated on its own, then the parts
/// joined in time order (parts must not overlap in time).
fn load_parts(files: &[PathBuf], options: &LoadOptions) -> Result<Frame> {
    let mut parts: Vec<Frame> = files
        .iter()
        .map(|f| load_with(f, options, true))
        .collect::<Result<_>>()?;
    parts.sort_by_key(|p| p.times.as_ref().and_then(|t| t.first().copied()));
    let mut whole = parts.remove(0);
    for part in parts {
        whole = join(whole, part)?;
    }
    if let Some(t) = &whole.times {
        whole.frequency = Frequency::infer(t);
    }
    Ok(whole)
}

/// `b` appended to `a`: same time column and numeric columns, `b` strictly after `a`.
fn join(mut a: Frame, b: Frame) -> Result<Frame> {
    let fail = |message: String| Error::Parse {
        path: b.source.clone(),
        message,
    };
    let text_names = |f: &Frame| {
        f.text_columns
            .iter()
            .map(|c| c.0.clone())
            .collect::<Vec<_>>()
    };
    if a.time_column != b.time_column
        || a.column_names() != b.column_names()
        || text_names(&a) != text_names(&b)
    {
        return Err(fail(format!(
            "columns differ from {}'s ({} vs {})",
            a.source.display(),
            b.column_names().join(", "),
            a.column_names().join(", ")
        )));
    }
    match (&mut a.times, &b.times) {
        (Some(ta), Some(tb)) => {
            if let (Some(last), Some(first)) = (ta.last(), tb.first()) {
                if first > last && !a.frequency.reaches(*last, *first) {
                    return Err(fail(format!(
                        "its first timestamp {} is not a whole number of {} steps after the last one of {} ({})",
                        format_timestamp(*first, false),
                        a.frequency.name(),
                        a.source.display(),
                        format_timestamp(*last, false)
                    )));
                }
                if first <= last {
                    return Err(fail(format!(
                        "its first timestamp {} is not after the last one of {} ({})",
                        format_timestamp(*first, false),
                        a.source.display(),
                        format_timestamp(*last, false)
                    )));
                }
            }
            ta.extend_from_slice(tb);
        }
        (None, None) => {}
        _ => return Err(fail("time column differs".into())),
    }
    for (ca, cb) in a.columns.iter_mut().zip(&b.columns) {
        ca.values.extend_from_slice(&cb.values);
        ca.integer &= cb.integer;
    }
    for (ta, tb) in a.text_columns.iter_mut().zip(&b.text_columns) {
        ta.1.extend(tb.1.iter().cloned());
    }
    a.date_only &= b.date_only;
    a.repaired += b.repaired;
    Ok(a)
}
