//! Static charts (PNG, SVG) of a [`TimeChart`], drawn without a browser.
//!
//! Drawn with [plotters](https://docs.rs/plotters) and an embedded font (DejaVu Sans,
//! `fonts/`), so no system font, fontconfig or display is needed. The look follows the
//! HTML chart ([`TimeChart::to_echarts`]): the same palette, every interval band the same
//! translucent orange (nested levels shade deeper towards the centre), dashed forecasts,
//! a gap wherever a value is missing.
//!
//! ```
//! use forecast_report::{render_static, Format, Series, Size, TimeChart};
//!
//! let chart = TimeChart {
//!     x: (1..=12).map(|m| format!("2024-{m:02}")).collect(),
//!     series: vec![Series::Line {
//!         name: "sales".into(),
//!         values: (0..12).map(|i| Some(f64::from(i))).collect(),
//!         dashed: false,
//!     }],
//!     y_name: Some("units".into()),
//! };
//! let svg = render_static(&chart, "Sales", Format::Svg, Size::default())?;
//! assert!(String::from_utf8_lossy(&svg).contains("Sales"));
//! # Ok::<(), forecast_report::ReportError>(())
//! ```

use crate::output::{Format, Size};
use crate::page::{Series, TimeChart};
use crate::{ReportError, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::ops::Range;
use std::sync::OnceLock;

/// The smallest width or height drawn, in pixels.
pub const MIN_SIDE: u32 = 200;
/// The largest width or height drawn, in pixels.
pub const MAX_SIDE: u32 = 10_000;

/// The embedded font (DejaVu Sans 2.37, licence in `fonts/LICENSE-DejaVu`).
const FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The name the embedded font is registered under. plotters keeps one process-wide font
/// table, so the name is one no caller would pick for a font of its own (callers' own
/// `"sans-serif"` is left alone); it is also a valid CSS font list, which the SVG
/// backend writes verbatim into `font-family`, so SVG viewers use DejaVu Sans or their
/// sans-serif font.
const FONT: &str = "DejaVu Sans, sans-serif";

/// Lines, points and bars take these in turn (the HTML chart's palette).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x1f, 0x5f, 0xbf),
    RGBColor(0x2e, 0x8b, 0x57),
    RGBColor(0x7b, 0x3f, 0xa0),
    RGBColor(0xc2, 0x3b, 0x5b),
    RGBColor(0x3a, 0x9f, 0xbf),
    RGBColor(0x8a, 0x6d, 0x1f),
    RGBColor(0x55, 0x55, 0x55),
];
/// Every interval band, at [`BAND_OPACITY`].
const BAND: RGBColor = RGBColor(0xe8, 0x84, 0x2c);
const BAND_OPACITY: f64 = 0.22;
const GRID: RGBColor = RGBColor(0xe2, 0xe2, 0xe2);
const AXIS: RGBColor = RGBColor(0x66, 0x66, 0x66);
const TEXT: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// At most this many time-axis labels are written.
const MAX_X_LABELS: usize = 8;

/// Draws `chart` with `title` as PNG or SVG bytes (`format`), `size` pixels large.
///
/// Errors: [`ReportError::Format`] when `size` is outside 200–10000 pixels a side or
/// `format` is HTML, [`ReportError::Draw`] when the chart has no time axis or no
/// series with a value to draw.
pub fn render(chart: &TimeChart, title: &str, format: Format, size: Size) -> Result<Vec<u8>> {
    check_size(size)?;
    let data = Prepared::new(chart)?;
    register_font()?;
    let (w, h) = (size.width, size.height);
    match format {
        Format::Png => {
            let mut rgb = vec![255u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                draw(&root, &data, title).map_err(ReportError::Draw)?;
                root.present()
                    .map_err(|e| ReportError::Draw(e.to_string()))?;
            }
            encode_png(&rgb, w, h)
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                draw(&root, &data, title).map_err(ReportError::Draw)?;
                root.present()
                    .map_err(|e| ReportError::Draw(e.to_string()))?;
            }
            Ok(svg.into_bytes())
        }
        Format::Html => Err(ReportError::Format(
            "a static chart is drawn as PNG or SVG, not HTML".into(),
        )),
    }
}

fn check_size(size: Size) -> Result<()> {
    for (flag, v) in [("--width", size.width), ("--height", size.height)] {
        if !(MIN_SIDE..=MAX_SIDE).contains(&v) {
            return Err(ReportError::Format(format!(
                "{flag} {v} is outside {MIN_SIDE}..={MAX_SIDE} pixels"
            )));
        }
    }
    Ok(())
}

/// Registers the embedded font in plotters' process-wide font table, once per process
/// (under [`FONT`], a name of our own, so nothing a caller registered is replaced).
fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Draw(
            "the embedded font could not be read".into(),
        ))
    }
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let err = |e: png::EncodingError| ReportError::Draw(format!("encoding the PNG: {e}"));
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// The chart's series cut to the axis length, with the value range and colours chosen.
struct Prepared<'a> {
    x: &'a [String],
    series: Vec<Drawn<'a>>,
    x_range: Range<f64>,
    y_range: Range<f64>,
    y_name: Option<&'a str>,
}

/// One series ready to draw: its runs of consecutive values and its colour.
struct Drawn<'a> {
    name: &'a str,
    color: RGBColor,
    kind: Kind,
}

enum Kind {
    /// Runs of consecutive `(position, value)`.
    Line {
        runs: Vec<Vec<(f64, f64)>>,
        dashed: bool,
    },
    /// Runs of consecutive `(position, lo, hi)`.
    Band {
        runs: Vec<Vec<(f64, f64, f64)>>,
    },
    Points {
        points: Vec<(f64, f64)>,
    },
    Bars {
        bars: Vec<(f64, f64)>,
    },
}

/// The finite value at each axis position (missing, NaN and infinite values are gaps;
/// entries past the axis are ignored).
fn at(values: &[Option<f64>], n: usize) -> impl Iterator<Item = Option<f64>> + '_ {
    (0..n).map(move |i| values.get(i).copied().flatten().filter(|v| v.is_finite()))
}

/// Splits `items` (one per axis position) into runs of consecutive `Some`.
fn runs<T>(items: impl Iterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut current = Vec::new();
    for item in items {
        match item {
            Some(t) => current.push(t),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl<'a> Prepared<'a> {
    fn new(chart: &'a TimeChart) -> Result<Self> {
        let n = chart.x.len();
        if n == 0 {
            return Err(ReportError::Draw(
                "the chart has no time axis (no x positions) to draw".into(),
            ));
        }
        let pos = |i: usize| i as f64;
        let mut colors = PALETTE.iter().cycle();
        let mut next_color = || colors.next().copied().unwrap_or(PALETTE[0]);
        let mut has_bars = false;
        let mut series = Vec::with_capacity(chart.series.len());
        for s in &chart.series {
            let (color, kind) =
                match s {
                    Series::Line { values, dashed, .. } => (
                        next_color(),
                        Kind::Line {
                            runs: runs(
                                at(values, n)
                                    .enumerate()
                                    .map(|(i, v)| v.map(|v| (pos(i), v))),
                            ),
                            dashed: *dashed,
                        },
                    ),
                    Series::Band { lo, hi, .. } => (
                        BAND,
                        Kind::Band {
                            runs: runs(at(lo, n).zip(at(hi, n)).enumerate().map(
                                |(i, lh)| match lh {
                                    (Some(l), Some(h)) => Some((pos(i), l.min(h), l.max(h))),
                                    _ => None,
                                },
                            )),
                        },
                    ),
                    Series::Points { values, .. } => (
                        next_color(),
                        Kind::Points {
                            points: at(values, n)
                                .enumerate()
                                .filter_map(|(i, v)| v.map(|v| (pos(i), v)))
                                .collect(),
                        },
                    ),
                    Series::Bars { values, .. } => {
                        has_bars = true;
                        (
                            next_color(),
                            Kind::Bars {
                                bars: at(values, n)
                                    .enumerate()
                                    .filter_map(|(i, v)| v.map(|v| (pos(i), v)))
                                    .collect(),
                            },
                        )
                    }
                };
            series.push(Drawn {
                name: s.name(),
                color,
                kind,
            });
        }

        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut see = |v: f64| {
            lo = lo.min(v);
            hi = hi.max(v);
        };
        for s in &series {
            match &s.kind {
                Kind::Line { runs, .. } => runs.iter().flatten().for_each(|p| see(p.1)),
                Kind::Band { runs } => runs.iter().flatten().for_each(|p| {
                    see(p.1);
                    see(p.2)
                }),
                Kind::Points { points } => points.iter().for_each(|p| see(p.1)),
                Kind::Bars { bars } => {
                    if !bars.is_empty() {
                        see(0.0);
                    }
                    bars.iter().for_each(|p| see(p.1))
                }
            }
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(ReportError::Draw(format!(
                "none of the chart's {} series has a value to draw",
                chart.series.len()
            )));
        }
        let pad = if hi > lo {
            (hi - lo) * 0.05
        } else {
            (lo.abs() * 0.1).max(1.0)
        };
        // Bars need half a position either side; lines run edge to edge, like the HTML
        // chart's axis without a boundary gap.
        let edge = if has_bars || n == 1 { 0.5 } else { 0.0 };
        Ok(Prepared {
            x: &chart.x,
            series,
            x_range: -edge..(n - 1) as f64 + edge,
            y_range: lo - pad..hi + pad,
            y_name: chart.y_name.as_deref(),
        })
    }
}

/// `count` positions out of `0..n`, evenly spaced, first and last included.
fn spread(n: usize, count: usize) -> Vec<usize> {
    match (n, count) {
        (0, _) | (_, 0) => vec![],
        (_, 1) => vec![0],
        _ => {
            let count = count.min(n);
            let last = (n - 1) as f64;
            (0..count)
                .map(|k| (k as f64 * last / (count - 1) as f64).round() as usize)
                .collect()
        }
    }
}

/// A value-axis label: enough decimals to tell ticks `step` apart, scientific notation
/// for very large or very small magnitudes.
fn format_value(v: f64, step: f64) -> String {
    let mag = v.abs();
    if mag >= 1e7 || (mag != 0.0 && mag < 1e-3 && step < 1e-4) {
        return format!("{v:.2e}");
    }
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    // "-0" and "-0.00" read as noise.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

type Chart2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &Prepared<'_>,
    title: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (w, h) = root.dim_in_pixel();
    // Text sized for 1200 x 600, scaled with the picture so that large ones stay legible.
    let scale = (f64::from(w.min(2 * h)) / 1200.0).clamp(0.8, 4.0);
    let label_font = (FONT, 15.0 * scale).into_font().color(&TEXT);
    let title_font = (FONT, 22.0 * scale).into_font().color(&TEXT);

    // The value axis' labels decide its width.
    let y_step = (data.y_range.end - data.y_range.start) / 6.0;
    let y_label_width = [data.y_range.start, data.y_range.end, 0.0]
        .iter()
        .map(|v| {
            root.estimate_text_size(&format_value(*v, y_step), &label_font)
                .map(|(tw, _)| tw)
                .unwrap_or(60)
        })
        .max()
        .unwrap_or(60);
    let y_area = y_label_width
        + 14
        + if data.y_name.is_some() {
            (22.0 * scale) as u32
        } else {
            0
        };

    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font)
        .margin(14)
        .margin_right(28)
        .x_label_area_size((30.0 * scale) as u32)
        .y_label_area_size(y_area)
        .build_cartesian_2d(data.x_range.clone(), data.y_range.clone())
        .map_err(e)?;

    let y_formatter = |v: &f64| format_value(*v, y_step);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .label_style(label_font.clone())
        .y_label_formatter(&y_formatter);
    if let Some(name) = data.y_name {
        mesh.y_desc(name).axis_desc_style(label_font.clone());
    }
    mesh.draw().map_err(e)?;

    draw_x_axis(root, &chart, data, &label_font).map_err(e)?;

    for s in &data.series {
        draw_series(&mut chart, s).map_err(e)?;
    }

    if data.series.iter().any(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .margin(8)
            .label_font(label_font)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

/// The time axis: light vertical grid lines, ticks and at most [`MAX_X_LABELS`] labels,
/// as many as fit side by side.
fn draw_x_axis<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart2d<'_, DB>,
    data: &Prepared<'_>,
    font: &TextStyle<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (px, py) = chart.plotting_area().get_pixel_range();
    let (w, _) = root.dim_in_pixel();
    let n = data.x.len();
    let width_of = |i: usize| {
        root.estimate_text_size(&data.x[i], font)
            .map(|(tw, _)| tw as i32)
            .unwrap_or(80)
    };
    let plot_w = (px.end - px.start).max(1);
    let mut chosen = spread(n, 1);
    for count in (2..=MAX_X_LABELS.min(n)).rev() {
        let idx = spread(n, count);
        let widest = idx.iter().map(|&i| width_of(i)).max().unwrap_or(0);
        // Room for the gaps between labels and for the end labels, which are pushed
        // inwards when they would overhang the picture.
        if (widest + 12) * (count as i32 - 1) <= plot_w - widest {
            chosen = idx;
            break;
        }
    }
    let y0 = data.y_range.start;
    let y1 = data.y_range.end;
    let grid = ShapeStyle::from(&GRID).stroke_width(1);
    let label = font.pos(Pos::new(HPos::Center, VPos::Top));
    for &i in &chosen {
        let x = i as f64;
        chart
            .plotting_area()
            .draw(&PathElement::new(vec![(x, y0), (x, y1)], grid))?;
        let (cx, _) = chart.backend_coord(&(x, y0));
        root.draw(&PathElement::new(
            vec![(cx, py.end), (cx, py.end + 5)],
            ShapeStyle::from(&AXIS),
        ))?;
        // Keep the first and last labels inside the picture.
        let half = width_of(i) / 2;
        let tx = cx.clamp(half + 2, (w as i32 - half - 2).max(half + 2));
        root.draw(&Text::new(
            data.x[i].as_str(),
            (tx, py.end + 8),
            label.clone(),
        ))?;
    }
    Ok(())
}

fn draw_series<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart2d<'a, DB>,
    s: &Drawn<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let color = s.color;
    let line = ShapeStyle::from(&color).stroke_width(2);
    match &s.kind {
        Kind::Line { runs, dashed } => {
            let dashed = *dashed;
            legend(chart, s.name, move |(x, y)| {
                if dashed {
                    DashedPathElement::new(vec![(x, y), (x + 22, y)], 6, 4, line).into_dyn()
                } else {
                    PathElement::new(vec![(x, y), (x + 22, y)], line).into_dyn()
                }
            })?;
            for run in runs {
                if run.len() == 1 {
                    // A lone value between gaps is a dot, not an invisible line.
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
                } else if dashed {
                    chart.draw_series(DashedLineSeries::new(run.iter().copied(), 6, 4, line))?;
                } else {
                    chart.draw_series(LineSeries::new(run.iter().copied(), line))?;
                }
            }
        }
        Kind::Band { runs } => {
            let fill = BAND.mix(BAND_OPACITY).filled();
            legend(chart, s.name, move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 22, y + 5)], fill)
            })?;
            for run in runs {
                if run.len() == 1 {
                    let (x, lo, hi) = run[0];
                    let edge = ShapeStyle::from(BAND.mix(BAND_OPACITY * 2.0)).stroke_width(2);
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x, lo), (x, hi)],
                        edge,
                    )))?;
                } else {
                    let outline: Vec<(f64, f64)> = run
                        .iter()
                        .map(|&(x, _, hi)| (x, hi))
                        .chain(run.iter().rev().map(|&(x, lo, _)| (x, lo)))
                        .collect();
                    chart.draw_series(std::iter::once(Polygon::new(outline, fill)))?;
                }
            }
        }
        Kind::Points { points } => {
            legend(chart, s.name, move |(x, y)| {
                Circle::new((x + 11, y), 3, color.filled())
            })?;
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        Kind::Bars { bars } => {
            legend(chart, s.name, move |(x, y)| {
                Rectangle::new([(x + 4, y - 5), (x + 18, y + 5)], color.filled())
            })?;
            chart.draw_series(bars.iter().map(|&(x, v)| {
                Rectangle::new([(x - 0.4, 0.0), (x + 0.4, v)], color.mix(0.85).filled())
            }))?;
        }
    }
    Ok(())
}

/// Adds a legend entry for `name` (none for an unnamed series), drawn by `mark`.
fn legend<'a, DB, E, F>(
    chart: &mut Chart2d<'a, DB>,
    name: &str,
    mark: F,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    E: IntoDynElement<'a, DB, (i32, i32)>,
    F: Fn((i32, i32)) -> E + 'a,
{
    if name.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label(name)
        .legend(mark);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_picks_evenly_spaced_positions_with_both_ends() {
        assert_eq!(spread(100, 5), vec![0, 25, 50, 74, 99]);
        assert_eq!(spread(3, 8), vec![0, 1, 2]);
        assert_eq!(spread(10, 1), vec![0]);
        assert!(spread(0, 8).is_empty());
    }

    #[test]
    fn runs_split_at_gaps() {
        let r = runs([Some(1), Some(2), None, None, Some(3), None].into_iter());
        assert_eq!(r, vec![vec![1, 2], vec![3]]);
    }

    #[test]
    fn value_labels_have_the_decimals_the_step_needs() {
        let cases = [
            (1500.0, 250.0, "1500"),
            (0.25, 0.05, "0.25"),
            (-0.0001, 0.05, "0.00"),
            (3.0e9, 1.0e8, "3.00e9"),
        ];
        for (v, step, want) in cases {
            assert_eq!(format_value(v, step), want, "{v} at step {step}");
        }
    }

    #[test]
    fn nan_and_infinite_values_are_gaps() {
        let v = [Some(1.0), Some(f64::NAN), Some(f64::INFINITY), Some(2.0)];
        let got: Vec<Option<f64>> = at(&v, 5).collect();
        assert_eq!(got, vec![Some(1.0), None, None, Some(2.0), None]);
    }
}
