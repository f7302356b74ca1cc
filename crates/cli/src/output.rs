//! Writing command output to stdout or, atomically, to a file.

use anyhow::Result;
use forecast_core::data::write_atomic;
use std::io::Write;
use std::path::Path;

/// Write `text` to `path` (atomically: temporary file, then rename) or to stdout.
pub fn emit(text: &str, path: Option<&Path>) -> Result<()> {
    match path {
        Some(p) => write_atomic(p, |f| {
            f.write_all(text.as_bytes())
                .map_err(|e| forecast_core::Error::io(p, e))
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// A level as a column suffix: 80 -> "80", 97.5 -> "97.5".
pub fn level_name(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{}", level as i64)
    } else {
        format!("{level}")
    }
}
