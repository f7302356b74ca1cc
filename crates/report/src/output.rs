//! Output formats and writing a report (to a temporary file, fsynced and renamed).

use crate::page::{ChartSpec, Page};
use crate::{ReportError, Result};
use std::path::Path;

/// What a report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One self-contained HTML page (every report kind).
    Html,
    /// A PNG picture of the report's main chart (forecast and backtest charts).
    Png,
    /// An SVG picture of the report's main chart.
    Svg,
}

impl Format {
    /// The format named by `format` (`html`, `png`, `svg`), else by `path`'s extension.
    pub fn choose(path: &Path, format: Option<&str>) -> Result<Format> {
        let (name, from) = match format {
            Some(f) => (f.to_ascii_lowercase(), "--format"),
            None => (
                path.extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase(),
                "the output's extension",
            ),
        };
        match name.as_str() {
            "html" | "htm" => Ok(Format::Html),
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            other => Err(ReportError::Format(format!(
                "{from} '{other}' is not a report format: write .html, .png or .svg (or pass --format html|png|svg)"
            ))),
        }
    }
}

/// Pixel size of a static chart.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            width: 1200,
            height: 600,
        }
    }
}

/// Writes `page` to `path` as `format`: the whole page as HTML, or its main chart (the
/// first time chart: the forecast or the backtest) as PNG or SVG. The file appears
/// whole or not at all.
pub fn write(page: &Page, path: &Path, format: Format, size: Size) -> Result<()> {
    let bytes = match format {
        Format::Html => page.to_html().into_bytes(),
        Format::Png | Format::Svg => {
            let (title, chart) = page
                .sections
                .iter()
                .flat_map(|s| &s.blocks)
                .find_map(|b| match b {
                    crate::Block::Chart(c) => match &c.spec {
                        ChartSpec::Time(t) => Some((c.title.as_str(), t)),
                        ChartSpec::ECharts(_) => None,
                    },
                    _ => None,
                })
                .ok_or_else(|| {
                    ReportError::Format(format!(
                        "a {} report has no forecast or backtest chart to draw as {}: write .html",
                        page.title,
                        if format == Format::Png { "PNG" } else { "SVG" }
                    ))
                })?;
            // A picture cannot zoom: it shows what the page opens on (the forecast and
            // the history just before it).
            let shown = chart
                .initial_window_start()
                .map(|start| chart.from_position(start));
            crate::static_chart::render(shown.as_ref().unwrap_or(chart), title, format, size)?
        }
    };
    forecast_core::fsio::write_file(path, &bytes)?;
    Ok(())
}
