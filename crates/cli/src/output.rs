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
