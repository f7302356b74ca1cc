//! The report of market data: candlesticks, volume, indicators and a model's forecast.
//!
//! One chart with panels stacked under a shared time axis (zooming one zooms all):
//! prices as candlesticks (or a line when the data has no open / high / low columns)
//! with moving averages and Bollinger bands over them, volume bars, and RSI and MACD
//! panels when those indicators are asked for. The indicators are
//! [`forecast_core::features::Feature`]s, computed by the library as `forecast features`
//! computes them. With a saved model, its forecast and interval bands continue the axis
//! at the right edge.

use crate::page::{finite, Block, Chart, ChartSpec, Page, Section};
use crate::{ReportError, Result};
use forecast_core::data::{format_timestamp, load, Frame, LoadOptions};
use forecast_core::features::Feature;
use forecast_core::{artifact, Forecast, Series, SeriesSpec};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What a market-data report draws.
#[derive(Debug, Clone, Default)]
pub struct MarketReportOptions {
    /// Indicators (`sma:20,sma:50,bbands:20,rsi:14,macd`) [default: SMA 20 and 50,
    /// Bollinger bands 20, RSI 14, MACD].
    pub indicators: Option<String>,
    /// The price column [default: close].
    pub target: Option<String>,
    /// A saved model whose forecast band is drawn at the right edge.
    pub model: Option<PathBuf>,
    /// Steps the model forecasts.
    pub horizon: Option<usize>,
    /// Interval levels in percent.
    pub levels: Vec<f64>,
}

/// The indicators drawn when none are named.
pub const DEFAULT_INDICATORS: &str = "sma:20,sma:50,bbands:20,rsi:14,macd";

/// Steps a model forecasts when no horizon is given.
pub const DEFAULT_HORIZON: usize = 20;

/// Bars shown when the page opens (the rest is a zoom or a drag away).
const VISIBLE_BARS: usize = 250;

/// Builds the report of the market data in `data`.
pub fn build(data: &Path, opts: &MarketReportOptions) -> Result<Page> {
    let indicators = parse_indicators(data, opts.indicators.as_deref())?;
    let frame = load(data, &LoadOptions::default())?;
    let prices = Prices::of(&frame, opts.target.as_deref())?;
    let close = frame.column(&prices.target)?.to_vec();
    let labels = axis_labels(&frame);
    let forecast = match &opts.model {
        Some(dir) => Some(model_forecast(dir, data, &frame, opts)?),
        None => None,
    };
    let mut computed = Vec::new();
    for f in &indicators {
        let columns = f.compute(&close, frame.times.as_deref())?;
        computed.push((f.clone(), columns));
    }

    let mut blocks = vec![Block::KeyValues(summary(
        &frame,
        &prices,
        &close,
        &labels,
        &indicators,
    ))];
    if !prices.is_ohlc() {
        blocks.push(Block::Text(format!(
            "{} has no open, high and low columns: '{}' is drawn as a line instead of candlesticks.",
            data.display(),
            prices.target
        )));
    }
    let option = market_option(
        &frame,
        &prices,
        &close,
        &labels,
        &computed,
        forecast.as_ref(),
    );
    let height = option_height(&computed, prices.volume.is_some());
    blocks.push(Block::Chart(Chart {
        id: "market".into(),
        title: format!("{} and indicators", prices.target),
        height,
        spec: ChartSpec::ECharts(option),
    }));
    let mut sections = vec![Section {
        heading: "Market".into(),
        blocks,
    }];
    if let Some(fc) = &forecast {
        sections.push(forecast_section(fc));
    }
    Ok(Page {
        title: format!("Market report: {}", file_name(data)),
        subtitle: Some(format!(
            "{} · {} rows · {} to {}",
            data.display(),
            frame.len(),
            labels.first().map_or("", String::as_str),
            labels.last().map_or("", String::as_str)
        )),
        sections,
    })
}

/// The indicators to draw, parsed by the library; those that are not prices, bands,
/// RSI or MACD have no panel here and are refused by name.
fn parse_indicators(data: &Path, list: Option<&str>) -> Result<Vec<Feature>> {
    let list = list.unwrap_or(DEFAULT_INDICATORS);
    let features = Feature::parse_list(list)
        .map_err(|e| ReportError::input(data, format!("--indicators: {e}")))?;
    for f in &features {
        if !matches!(
            f,
            Feature::Sma(_)
                | Feature::Ema(_)
                | Feature::BBands { .. }
                | Feature::Rsi(_)
                | Feature::Macd { .. }
        ) {
            return Err(ReportError::input(
                data,
                format!(
                    "--indicators: '{f}' is not drawn on a market chart (drawn: sma:N, ema:N, bbands:N[,K], rsi:N, macd[:F,S,G])"
                ),
            ));
        }
    }
    Ok(features)
}

/// Where the prices are: the target column, and the open / high / low / volume columns
/// when the data has them (matched without regard to case).
#[derive(Debug, Clone)]
struct Prices {
    target: String,
    ohlc: Option<[String; 3]>,
    volume: Option<String>,
}

impl Prices {
    fn of(frame: &Frame, target: Option<&str>) -> Result<Prices> {
        let names = frame.column_names();
        let find = |want: &str| names.iter().find(|n| n.eq_ignore_ascii_case(want)).cloned();
        let target = match target {
            Some(t) => find(t).ok_or_else(|| {
                ReportError::input(
                    &frame.source,
                    format!(
                        "--target '{t}': no such numeric column (columns: {})",
                        names.join(", ")
                    ),
                )
            })?,
            None => match (find("close"), names.as_slice()) {
                (Some(c), _) => c,
                // A file of one series (date, value) needs no --target.
                (None, [only]) => only.clone(),
                (None, _) => {
                    return Err(ReportError::input(
                        &frame.source,
                        format!(
                            "no 'close' column: name the price column with --target (columns: {})",
                            names.join(", ")
                        ),
                    ))
                }
            },
        };
        let ohlc = match (find("open"), find("high"), find("low")) {
            (Some(o), Some(h), Some(l)) if find("close").as_deref() == Some(target.as_str()) => {
                Some([o, h, l])
            }
            _ => None,
        };
        Ok(Prices {
            target,
            ohlc,
            volume: find("volume"),
        })
    }

    fn is_ohlc(&self) -> bool {
        self.ohlc.is_some()
    }
}

/// The axis labels: timestamps as the data writes them, or row numbers.
fn axis_labels(frame: &Frame) -> Vec<String> {
    match &frame.times {
        Some(t) => t
            .iter()
            .map(|t| format_timestamp(*t, frame.date_only))
            .collect(),
        None => (1..=frame.len()).map(|i| i.to_string()).collect(),
    }
}

/// A model's forecast from the end of the data.
#[derive(Debug, Clone)]
struct ModelForecast {
    model: String,
    labels: Vec<String>,
    forecast: Forecast,
}

/// Loads the model in `dir`, conditions it on `frame` when the data runs past the
/// model's last row (no refit), and forecasts.
fn model_forecast(
    dir: &Path,
    data: &Path,
    frame: &Frame,
    opts: &MarketReportOptions,
) -> Result<ModelForecast> {
    if artifact::is_panel(dir) {
        return Err(ReportError::input(
            dir,
            "a panel model: a market report draws the forecast of a model of one series",
        ));
    }
    let horizon = opts.horizon.unwrap_or(DEFAULT_HORIZON);
    if horizon == 0 {
        return Err(ReportError::input(dir, "--horizon must be at least 1"));
    }
    let mut model = artifact::load(dir)?;
    let newer = match (frame.last_time(), model.schema.last_timestamp) {
        (Some(data_end), Some(model_end)) => data_end > model_end,
        _ => false,
    };
    if newer {
        let spec = SeriesSpec::from_schema(&model.schema, model.season_length);
        let history = Series::from_frame(frame, &spec).map_err(|e| {
            ReportError::input(
                data,
                format!(
                    "runs past the model's last row, and does not match {}'s data: {e}",
                    dir.display()
                ),
            )
        })?;
        model = model.condition(&history)?;
    }
    let inputs = model.future_inputs(None, Some(horizon)).map_err(|e| {
        ReportError::input(
            dir,
            format!("{e} (a market report forecasts models without regressors)"),
        )
    })?;
    let forecast = model.predict(inputs.horizon, &opts.levels, &inputs.columns)?;
    let labels = model
        .future_timestamps(inputs.horizon)
        .unwrap_or_else(|| (1..=inputs.horizon).map(|i| format!("+{i}")).collect());
    Ok(ModelForecast {
        model: model.spec.model.kind().to_string(),
        labels,
        forecast,
    })
}

fn summary(
    frame: &Frame,
    prices: &Prices,
    close: &[f64],
    labels: &[String],
    indicators: &[Feature],
) -> Vec<(String, String)> {
    let mut kv = vec![
        ("Rows".to_string(), frame.len().to_string()),
        (
            "First".to_string(),
            labels.first().cloned().unwrap_or_default(),
        ),
        (
            "Last".to_string(),
            labels.last().cloned().unwrap_or_default(),
        ),
        (
            format!("Last {}", prices.target),
            close.last().map_or(String::new(), |v| v.to_string()),
        ),
    ];
    if let Some(v) = &prices.volume {
        if let Ok(col) = frame.column(v) {
            kv.push((
                "Last volume".into(),
                col.last().map_or(String::new(), |v| v.to_string()),
            ));
        }
    }
    kv.push((
        "Indicators".into(),
        if indicators.is_empty() {
            "none".into()
        } else {
            indicators
                .iter()
                .map(Feature::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
    ));
    kv
}

/// Pixel layout of the stacked panels.
const TOP: u32 = 64;
const PRICE_HEIGHT: u32 = 340;
const VOLUME_HEIGHT: u32 = 90;
const RSI_HEIGHT: u32 = 110;
const MACD_HEIGHT: u32 = 130;
const GAP: u32 = 28;
const BOTTOM: u32 = 64;

fn has_rsi(computed: &[(Feature, Vec<Vec<f64>>)]) -> bool {
    computed.iter().any(|(f, _)| matches!(f, Feature::Rsi(_)))
}

fn has_macd(computed: &[(Feature, Vec<Vec<f64>>)]) -> bool {
    computed
        .iter()
        .any(|(f, _)| matches!(f, Feature::Macd { .. }))
}

fn option_height(computed: &[(Feature, Vec<Vec<f64>>)], volume: bool) -> u32 {
    let mut h = TOP + PRICE_HEIGHT + BOTTOM;
    if volume {
        h += GAP + VOLUME_HEIGHT;
    }
    if has_rsi(computed) {
        h += GAP + RSI_HEIGHT;
    }
    if has_macd(computed) {
        h += GAP + MACD_HEIGHT;
    }
    h
}

/// `values` padded with `None` to `len` (the forecast's steps after the data).
fn padded(values: &[f64], len: usize) -> Vec<Option<f64>> {
    let mut v: Vec<Option<f64>> = values.iter().map(|v| finite(*v)).collect();
    v.resize(len, None);
    v
}

/// The ECharts option: one grid per panel, one category x axis per grid over the same
/// labels, one zoom for all of them.
fn market_option(
    frame: &Frame,
    prices: &Prices,
    close: &[f64],
    labels: &[String],
    computed: &[(Feature, Vec<Vec<f64>>)],
    forecast: Option<&ModelForecast>,
) -> Value {
    let n = labels.len();
    let mut x: Vec<String> = labels.to_vec();
    // Forecast steps at times already in the data reuse their label; the rest extend
    // the axis.
    let mut forecast_at = Vec::new();
    if let Some(fc) = forecast {
        for label in &fc.labels {
            match x.iter().rposition(|l| l == label) {
                Some(i) => forecast_at.push(i),
                None => {
                    x.push(label.clone());
                    forecast_at.push(x.len() - 1);
                }
            }
        }
    }
    let len = x.len();

    let mut grids = Vec::new();
    let mut y_axes = Vec::new();
    let mut series = Vec::new();
    let mut top = TOP;
    let mut add_grid = |height: u32, y_axis: Value| -> usize {
        grids.push(json!({"left": 72, "right": 32, "top": top, "height": height}));
        let i = grids.len() - 1;
        let mut y = y_axis;
        y["gridIndex"] = json!(i);
        y_axes.push(y);
        top += height + GAP;
        i
    };

    // Prices, overlays and the forecast.
    let price = add_grid(
        PRICE_HEIGHT,
        json!({"type": "value", "scale": true, "name": prices.target, "splitNumber": 5}),
    );
    match &prices.ohlc {
        Some([o, h, l]) => {
            let (o, h, l) = (
                frame.column(o).unwrap_or_default(),
                frame.column(h).unwrap_or_default(),
                frame.column(l).unwrap_or_default(),
            );
            let candles: Vec<Value> = (0..len)
                .map(|i| match (o.get(i), close.get(i), l.get(i), h.get(i)) {
                    (Some(o), Some(c), Some(l), Some(h)) => json!([o, c, l, h]),
                    _ => Value::String("-".into()),
                })
                .collect();
            series.push(json!({
                "name": prices.target, "type": "candlestick", "data": candles,
                "xAxisIndex": price, "yAxisIndex": price,
                "itemStyle": {"color": "#26a69a", "color0": "#ef5350",
                              "borderColor": "#26a69a", "borderColor0": "#ef5350"},
            }));
        }
        None => series.push(json!({
            "name": prices.target, "type": "line", "data": padded(close, len),
            "showSymbol": false, "xAxisIndex": price, "yAxisIndex": price,
            "lineStyle": {"width": 1.5},
        })),
    }
    for (f, columns) in computed {
        let names = f.columns();
        match f {
            Feature::Sma(_) | Feature::Ema(_) => {
                series.push(overlay_line(&names[0], &columns[0], len, price, false))
            }
            Feature::BBands { .. } => {
                // upper, middle, lower: the bounds as thin dashed lines, the middle solid.
                series.push(overlay_line(&names[0], &columns[0], len, price, true));
                series.push(overlay_line(&names[1], &columns[1], len, price, false));
                series.push(overlay_line(&names[2], &columns[2], len, price, true));
            }
            _ => {}
        }
    }
    if let Some(fc) = forecast {
        forecast_series(fc, &forecast_at, len, price, &mut series);
    }

    if let Some(v) = &prices.volume {
        let volume = frame.column(v).unwrap_or_default();
        let g = add_grid(
            VOLUME_HEIGHT,
            json!({"type": "value", "name": v, "splitNumber": 2,
                   "axisLabel": {"formatter": "{value}"}}),
        );
        series.push(json!({
            "name": v, "type": "bar", "data": padded(volume, len),
            "xAxisIndex": g, "yAxisIndex": g, "itemStyle": {"color": "#7e8fa8"},
            "large": true,
        }));
    }
    if has_rsi(computed) {
        let g = add_grid(
            RSI_HEIGHT,
            json!({"type": "value", "name": "RSI", "min": 0, "max": 100, "interval": 50}),
        );
        let mut first = true;
        for (f, columns) in computed {
            if let Feature::Rsi(_) = f {
                let mut s = overlay_line(&f.columns()[0], &columns[0], len, g, false);
                if first {
                    s["markLine"] = json!({
                        "silent": true, "symbol": "none",
                        "lineStyle": {"type": "dashed", "color": "#999"},
                        "label": {"position": "end"},
                        "data": [{"yAxis": 70}, {"yAxis": 30}],
                    });
                    first = false;
                }
                series.push(s);
            }
        }
    }
    if has_macd(computed) {
        let g = add_grid(
            MACD_HEIGHT,
            json!({"type": "value", "name": "MACD", "scale": true, "splitNumber": 3}),
        );
        for (f, columns) in computed {
            if let Feature::Macd { .. } = f {
                let names = f.columns();
                series.push(overlay_line(&names[0], &columns[0], len, g, false));
                series.push(overlay_line(&names[1], &columns[1], len, g, false));
                series.push(json!({
                    "name": names[2], "type": "bar", "data": padded(&columns[2], len),
                    "xAxisIndex": g, "yAxisIndex": g, "large": true,
                    "itemStyle": {"color": "#9e9e9e"},
                }));
            }
        }
    }

    let grid_count = grids.len();
    let x_axes: Vec<Value> = (0..grid_count)
        .map(|i| {
            let last = i + 1 == grid_count;
            json!({
                "type": "category", "data": x, "gridIndex": i, "boundaryGap": true,
                "axisLine": {"onZero": false}, "splitLine": {"show": false},
                "axisLabel": {"show": last}, "axisTick": {"show": last},
                "axisPointer": {"label": {"show": last}},
            })
        })
        .collect();
    let all: Vec<usize> = (0..grid_count).collect();
    let visible = VISIBLE_BARS + forecast.map_or(0, |f| f.labels.len());
    let start = len.saturating_sub(visible);
    json!({
        "animation": false,
        "title": {"text": format!("{} · {} bars", prices.target, n), "left": "center",
                  "textStyle": {"fontSize": 14}},
        "legend": {"top": 26, "type": "scroll"},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "cross"}, "formatter": "values"},
        "axisPointer": {"link": [{"xAxisIndex": "all"}]},
        "grid": grids,
        "xAxis": x_axes,
        "yAxis": y_axes,
        "dataZoom": [
            {"type": "inside", "xAxisIndex": all, "startValue": start, "endValue": len.saturating_sub(1)},
            {"type": "slider", "xAxisIndex": all, "bottom": 14, "startValue": start, "endValue": len.saturating_sub(1)},
        ],
        "series": series,
    })
}

fn overlay_line(name: &str, values: &[f64], len: usize, grid: usize, dashed: bool) -> Value {
    json!({
        "name": name, "type": "line", "data": padded(values, len), "showSymbol": false,
        "xAxisIndex": grid, "yAxisIndex": grid,
        "lineStyle": {"width": if dashed { 1.0 } else { 1.3 },
                      "type": if dashed { "dashed" } else { "solid" }},
    })
}

/// The point forecast as a dashed line and each interval as a stacked pair (the lower
/// bound invisible, the width shaded) whose points carry both bounds, as
/// [`crate::TimeChart::to_echarts`] draws bands; widest band first.
fn forecast_series(
    fc: &ModelForecast,
    at: &[usize],
    len: usize,
    grid: usize,
    series: &mut Vec<Value>,
) {
    let mut intervals: Vec<_> = fc.forecast.intervals.iter().collect();
    intervals.sort_by(|a, b| b.level.total_cmp(&a.level));
    for (k, iv) in intervals.iter().enumerate() {
        let name = format!("{}%", iv.level);
        let stack = format!("forecast-band-{k}");
        let mut lower = vec![Value::Null; len];
        let mut width = vec![Value::Null; len];
        for (step, &i) in at.iter().enumerate() {
            let (Some(l), Some(h)) = (
                iv.lower.get(step).copied().and_then(finite),
                iv.upper.get(step).copied().and_then(finite),
            ) else {
                continue;
            };
            lower[i] = json!({"value": l, "lo": l, "hi": h, "band": "lower"});
            width[i] = json!({"value": h - l, "lo": l, "hi": h, "band": "upper"});
        }
        series.push(json!({
            "name": name, "type": "line", "stack": stack, "data": lower,
            "xAxisIndex": grid, "yAxisIndex": grid,
            "showSymbol": false, "lineStyle": {"opacity": 0}, "silent": true,
        }));
        series.push(json!({
            "name": name, "type": "line", "stack": stack, "data": width,
            "xAxisIndex": grid, "yAxisIndex": grid,
            "showSymbol": false, "lineStyle": {"opacity": 0},
            "areaStyle": {"opacity": 0.22, "color": "#5470c6"}, "silent": true,
        }));
    }
    let mut point = vec![None; len];
    for (step, &i) in at.iter().enumerate() {
        point[i] = fc.forecast.point.get(step).copied().and_then(finite);
    }
    series.push(json!({
        "name": format!("forecast ({})", fc.model), "type": "line", "data": point,
        "xAxisIndex": grid, "yAxisIndex": grid, "showSymbol": false,
        "lineStyle": {"width": 1.8, "type": "dashed", "color": "#5470c6"},
        "itemStyle": {"color": "#5470c6"},
    }));
}

fn forecast_section(fc: &ModelForecast) -> Section {
    let mut kv = vec![
        ("Model".to_string(), fc.model.clone()),
        ("Horizon".to_string(), fc.labels.len().to_string()),
        (
            "From".to_string(),
            fc.labels.first().cloned().unwrap_or_default(),
        ),
        (
            "To".to_string(),
            fc.labels.last().cloned().unwrap_or_default(),
        ),
    ];
    if let Some(last) = fc.forecast.point.last() {
        kv.push(("Last point forecast".into(), last.to_string()));
    }
    for iv in &fc.forecast.intervals {
        if let (Some(l), Some(h)) = (iv.lower.last(), iv.upper.last()) {
            kv.push((format!("Last {}% interval", iv.level), format!("{l} – {h}")));
        }
    }
    Section {
        heading: "Forecast".into(),
        blocks: vec![Block::KeyValues(kv)],
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use forecast_core::features::indicators;

    fn msft() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/msft_daily.csv")
    }

    fn option_of(page: &Page) -> Value {
        page.sections[0]
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Chart(c) => Some(c.option()),
                _ => None,
            })
            .expect("a market page has a chart")
    }

    fn series_named<'a>(option: &'a Value, name: &str) -> &'a Value {
        option["series"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no series '{name}'"))
    }

    #[test]
    fn default_indicators_draw_candles_volume_rsi_and_macd_panels() {
        let page = build(&msft(), &MarketReportOptions::default()).unwrap();
        let option = option_of(&page);
        let frame = load(msft(), &LoadOptions::default()).unwrap();
        let close = frame.column("close").unwrap();
        // price, volume, RSI, MACD
        assert_eq!(option["grid"].as_array().unwrap().len(), 4);
        assert_eq!(option["xAxis"].as_array().unwrap().len(), 4);
        // candles + sma 20, sma 50, 3 Bollinger lines + volume + rsi + 2 MACD lines + histogram
        assert_eq!(
            option["series"].as_array().unwrap().len(),
            1 + 2 + 3 + 1 + 1 + 3
        );
        let candles = series_named(&option, "close");
        assert_eq!(candles["type"], "candlestick");
        let last = frame.len() - 1;
        let c = &candles["data"][last];
        assert_eq!(c[0].as_f64(), Some(frame.column("open").unwrap()[last]));
        assert_eq!(c[1].as_f64(), Some(close[last]));
        assert_eq!(c[2].as_f64(), Some(frame.column("low").unwrap()[last]));
        assert_eq!(c[3].as_f64(), Some(frame.column("high").unwrap()[last]));
        // Indicators are the library's values.
        let sma = indicators::sma(close, 20);
        assert_eq!(
            series_named(&option, "sma_20")["data"][last].as_f64(),
            Some(sma[last])
        );
        assert!(series_named(&option, "sma_20")["data"][0].is_null());
        let rsi = indicators::rsi(close, 14);
        let rsi_series = series_named(&option, "rsi_14");
        assert_eq!(rsi_series["data"][last].as_f64(), Some(rsi[last]));
        assert_eq!(rsi_series["markLine"]["data"][0]["yAxis"], 70);
        assert_eq!(rsi_series["markLine"]["data"][1]["yAxis"], 30);
        assert_eq!(series_named(&option, "macd_hist")["type"], "bar");
        assert_eq!(series_named(&option, "volume")["xAxisIndex"], 1);
        // One zoom over every grid, opening on the last bars.
        let zoom = &option["dataZoom"];
        assert_eq!(zoom[0]["xAxisIndex"].as_array().unwrap().len(), 4);
        assert_eq!(zoom[1]["type"], "slider");
        assert_eq!(
            zoom[1]["startValue"].as_u64(),
            Some((frame.len() - VISIBLE_BARS) as u64)
        );
        // Summary
        let Block::KeyValues(kv) = &page.sections[0].blocks[0] else {
            panic!("summary first")
        };
        assert!(kv.contains(&("Rows".into(), frame.len().to_string())));
        assert!(kv.contains(&("Last close".into(), close[last].to_string())));
    }

    #[test]
    fn rsi_and_macd_panels_only_when_asked_for() {
        let page = build(
            &msft(),
            &MarketReportOptions {
                indicators: Some("ema:12".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let option = option_of(&page);
        assert_eq!(option["grid"].as_array().unwrap().len(), 2);
        assert_eq!(option["series"].as_array().unwrap().len(), 3);
        series_named(&option, "ema_12");
    }

    #[test]
    fn data_without_ohlc_is_a_line_and_says_so() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/airpassengers.csv");
        let page = build(
            &path,
            &MarketReportOptions {
                indicators: Some("sma:12".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let option = option_of(&page);
        let line = series_named(&option, "passengers");
        assert_eq!(line["type"], "line");
        assert_eq!(line["data"][0].as_f64(), Some(112.0));
        assert!(page.sections[0]
            .blocks
            .iter()
            .any(|b| matches!(b, Block::Text(t) if t.contains("drawn as a line"))));
        assert_eq!(option["grid"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_or_undrawable_indicator_is_named() {
        for (list, named) in [("sma:20,foo:3", "foo:3"), ("returns", "returns")] {
            let err = build(
                &msft(),
                &MarketReportOptions {
                    indicators: Some(list.into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(named) && msg.contains("msft_daily.csv"),
                "{msg}"
            );
        }
    }

    #[test]
    fn missing_and_empty_files_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let msg = build(&missing, &MarketReportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("nope.csv"), "{msg}");
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, "date,open,high,low,close,volume\n").unwrap();
        let msg = build(&empty, &MarketReportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("empty.csv"), "{msg}");
    }

    #[test]
    fn a_forecast_extends_the_axis_with_bands_carrying_both_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("ohlc.csv");
        // The first 120 rows of MSFT, with the columns capitalised.
        let text = std::fs::read_to_string(msft()).unwrap();
        let mut lines: Vec<String> = text.lines().take(121).map(str::to_string).collect();
        lines[0] = "date,Open,High,Low,Close,Volume".into();
        std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
        let frame = load(&csv, &LoadOptions::default()).unwrap();
        let series = Series::from_frame(
            &frame,
            &SeriesSpec {
                target: "Close".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let spec = forecast_core::ForecasterSpec::new(
            forecast_core::ModelConfig::from_kind("naive").unwrap(),
        );
        let fitted = spec
            .fit(&series, &mut forecast_core::reporter::Silent)
            .unwrap();
        let first_future = fitted.future_timestamps(1).unwrap()[0].clone();
        let model_dir = dir.path().join("model");
        artifact::save(&fitted, &model_dir).unwrap();

        let page = build(
            &csv,
            &MarketReportOptions {
                indicators: Some("sma:5".into()),
                model: Some(model_dir),
                horizon: Some(7),
                levels: vec![80.0, 95.0],
                ..Default::default()
            },
        )
        .unwrap();
        let option = option_of(&page);
        let x = option["xAxis"][0]["data"].as_array().unwrap();
        assert_eq!(x.len(), 120 + 7);
        assert_eq!(x[120], first_future.as_str());
        let point = series_named(&option, "forecast (naive)");
        let last_close = frame.column("Close").unwrap()[119];
        assert!(point["data"][119].is_null());
        assert_eq!(point["data"][120].as_f64(), Some(last_close));
        let bands: Vec<&Value> = option["series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["stack"].is_string())
            .collect();
        assert_eq!(bands.len(), 4);
        assert_eq!(bands[0]["name"], "95%");
        let p = &bands[1]["data"][126];
        let (lo, hi) = (p["lo"].as_f64().unwrap(), p["hi"].as_f64().unwrap());
        assert!(lo < last_close && last_close < hi);
        assert_eq!(p["value"].as_f64(), Some(hi - lo));
        assert_eq!(page.sections[1].heading, "Forecast");
    }
}
