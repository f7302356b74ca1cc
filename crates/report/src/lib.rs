//! # forecast-report
//!
//! Pictures of the work `forecast` does: one self-contained HTML file per report (every
//! script and style inlined; the page fetches nothing when it is opened) and static PNG /
//! SVG charts for READMEs, papers and CI artifacts.
//!
//! A report is built in two steps. A builder for one report kind reads its input (a
//! saved model, a backtest JSON, market data, a tuning study, experiment results),
//! computes what it shows and returns a [`Page`]: sections of text, tables and charts.
//! [`Page::to_html`] then renders the page with the vendored chart library
//! ([ECharts](https://echarts.apache.org), pinned in `web/package.json`, licence beside
//! it in `vendor/echarts/`), and the forecast and backtest charts, which are typed
//! [`TimeChart`]s, can also be drawn without a browser ([`render_static`]).
//!
//! Bad input is an error naming the file and what is wrong ([`ReportError`]); a builder
//! never returns an empty or broken page.

pub mod backtest;
pub mod error;
pub mod market;
pub mod model;
pub mod output;
pub mod page;
pub mod results;
pub mod static_chart;
pub mod study;

pub use error::{ReportError, Result};
pub use output::{write, Format, Size};
pub use page::{Block, Chart, ChartSpec, Page, Section, Series, Table, TimeChart};

/// Renders `chart` as PNG or SVG bytes ([`static_chart::render`]).
pub use static_chart::render as render_static;

/// The vendored chart library (ECharts, minified), for pages outside this crate that
/// draw charts too (the server's dashboard).
pub const ECHARTS_JS: &str = include_str!("../vendor/echarts/echarts.min.js");

/// The version of the vendored chart library.
pub const ECHARTS_VERSION: &str = include_str!("../vendor/echarts/VERSION");
