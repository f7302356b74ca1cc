//! Writing command output to stdout or, atomically, to a file.

use anyhow::Result;
use forecast_core::fsio;
use std::io::Write;
use std::path::Path;

/// Write `text` to `path` (atomically and durably) or to stdout.
pub fn emit(text: &str, path: Option<&Path>) -> Result<()> {
    match path {
        Some(p) => fsio::write_file(p, text.as_bytes())?,
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
