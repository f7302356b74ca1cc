//! Static PNG / SVG charts: what a person would see in the picture.

use forecast_report::{render_static, Format, ReportError, Series, Size, TimeChart};
use std::time::Instant;

const SIZE: Size = Size {
    width: 800,
    height: 400,
};

fn axis(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("2024-01-{:02} {:02}:00", 1 + i / 24 % 28, i % 24))
        .collect()
}

fn line(name: &str, values: Vec<Option<f64>>, dashed: bool) -> Series {
    Series::Line {
        name: name.into(),
        values,
        dashed,
    }
}

fn wave(n: usize) -> Vec<Option<f64>> {
    (0..n)
        .map(|i| Some((i as f64 / 5.0).sin() * 10.0 + 50.0))
        .collect()
}

/// A decoded PNG: width, height, RGB(A) pixels and bytes per pixel.
struct Picture {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    channels: usize,
}

impl Picture {
    fn decode(bytes: &[u8]) -> Picture {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a buffer size")];
        let info = reader.next_frame(&mut pixels).expect("a PNG frame");
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        pixels.truncate(info.buffer_size());
        Picture {
            width: info.width,
            height: info.height,
            channels: info.color_type.samples(),
            pixels,
        }
    }

    fn rgb(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = (y as usize * self.width as usize + x as usize) * self.channels;
        (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2])
    }

    /// Pixels in the middle half of the picture (inside the plot area) matching `pred`.
    fn count_middle(&self, pred: impl Fn((u8, u8, u8)) -> bool) -> usize {
        let (w, h) = (self.width, self.height);
        (h / 4..h * 3 / 4)
            .flat_map(|y| (w / 4..w * 3 / 4).map(move |x| (x, y)))
            .filter(|&(x, y)| pred(self.rgb(x, y)))
            .count()
    }
}

fn not_white(p: (u8, u8, u8)) -> bool {
    p.0 < 245 || p.1 < 245 || p.2 < 245
}

/// The interval bands' translucent orange over white: red well above blue.
fn orange_tint(p: (u8, u8, u8)) -> bool {
    p.0 > 200 && p.0 as i32 - p.2 as i32 > 25 && p.1 > p.2
}

fn svg_text(chart: &TimeChart, title: &str) -> String {
    let bytes = render_static(chart, title, Format::Svg, SIZE).expect("an SVG");
    String::from_utf8(bytes).expect("SVG is UTF-8")
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The contents of the SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

/// `<polyline>`s stroked in the first palette colour (the first line drawn).
fn first_line_strokes(svg: &str) -> usize {
    svg.split('<')
        .filter(|tag| tag.starts_with("polyline") && tag.contains("stroke=\"#1F5FBF\""))
        .count()
}

#[test]
fn png_has_the_requested_size_and_draws_the_line() {
    let chart = TimeChart {
        x: axis(200),
        series: vec![line("observed", wave(200), false)],
        y_name: Some("load".into()),
    };
    let png = render_static(&chart, "Forecast", Format::Png, SIZE).expect("a PNG");
    // IHDR: width and height, big-endian, right after the chunk's name.
    assert_eq!(&png[12..16], b"IHDR");
    assert_eq!(
        u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
        800
    );
    assert_eq!(
        u32::from_be_bytes([png[20], png[21], png[22], png[23]]),
        400
    );
    let pic = Picture::decode(&png);
    assert_eq!((pic.width, pic.height), (800, 400));
    assert_eq!(pic.rgb(1, 1), (255, 255, 255), "white background");
    let blue = pic.count_middle(|(r, g, b)| b > 150 && r < 100 && g < 140);
    assert!(
        blue > 150,
        "the blue line crosses the plot area: {blue} pixels"
    );

    let other = Size {
        width: 333,
        height: 222,
    };
    let small = Picture::decode(&render_static(&chart, "Forecast", Format::Png, other).unwrap());
    assert_eq!((small.width, small.height), (333, 222));
}

#[test]
fn png_bands_tint_the_plot_area_and_nest() {
    let n = 100;
    // The 95% band covers the lower half of the value range, the 80% band inside it.
    let chart = TimeChart {
        x: axis(n),
        series: vec![
            Series::Band {
                name: "95%".into(),
                lo: vec![Some(0.0); n],
                hi: vec![Some(10.0); n],
            },
            Series::Band {
                name: "80%".into(),
                lo: vec![Some(3.0); n],
                hi: vec![Some(7.0); n],
            },
            line("forecast", vec![Some(20.0); n], true),
        ],
        y_name: None,
    };
    let pic = Picture::decode(&render_static(&chart, "Bands", Format::Png, SIZE).unwrap());
    let tinted = pic.count_middle(orange_tint);
    let middle = (pic.width / 2 * pic.height / 2) as usize;
    assert!(
        tinted > middle / 5,
        "band pixels are tinted: {tinted} of {middle}"
    );
    // Where both bands overlap the orange is deeper than where only the 95% band is.
    let x = pic.width / 2;
    let column: Vec<(u8, u8, u8)> = (0..pic.height).map(|y| pic.rgb(x, y)).collect();
    let blues: Vec<u8> = column
        .iter()
        .filter(|p| orange_tint(**p))
        .map(|p| p.2)
        .collect();
    let (lightest, deepest) = (blues.iter().max().unwrap(), blues.iter().min().unwrap());
    assert!(
        lightest - deepest > 20,
        "80% inside 95% shades deeper: blue channel {deepest}..{lightest}"
    );

    let plain = TimeChart {
        series: vec![line("forecast", vec![Some(20.0); n], true)],
        ..chart
    };
    let pic = Picture::decode(&render_static(&plain, "Bands", Format::Png, SIZE).unwrap());
    assert_eq!(pic.count_middle(orange_tint), 0, "no band, no orange");
}

#[test]
fn png_of_points_and_bars_is_not_blank() {
    let n = 60;
    let chart = TimeChart {
        x: axis(n),
        series: vec![
            Series::Bars {
                name: "volume".into(),
                values: (0..n).map(|i| Some(i as f64)).collect(),
            },
            Series::Points {
                name: "anomalies".into(),
                values: (0..n).map(|i| (i % 7 == 0).then_some(30.0)).collect(),
            },
        ],
        y_name: None,
    };
    let pic = Picture::decode(&render_static(&chart, "Bars", Format::Png, SIZE).unwrap());
    let ink = pic.count_middle(not_white);
    assert!(ink > 5_000, "bars fill the plot area: {ink} pixels");
}

#[test]
fn svg_has_the_title_legend_and_a_polyline_per_line() {
    let chart = TimeChart {
        x: axis(50),
        series: vec![
            line("observed", wave(50), false),
            Series::Band {
                name: "95%".into(),
                lo: vec![Some(30.0); 50],
                hi: vec![Some(70.0); 50],
            },
        ],
        y_name: Some("units".into()),
    };
    let svg = svg_text(&chart, "Demand forecast");
    assert!(svg.trim_start().starts_with("<svg"), "{}", &svg[..80]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(count(&svg, "<svg"), 1);
    let texts = texts(&svg);
    for text in [
        "Demand forecast",
        "observed",
        "95%",
        "units",
        "2024-01-01 00:00",
    ] {
        assert!(
            texts.iter().any(|t| t == text),
            "<text> of {text:?} in {texts:?}"
        );
    }
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""));
    // The line and its legend mark; the band is a polygon.
    assert_eq!(
        first_line_strokes(&svg),
        2,
        "one line drawn, one legend mark"
    );
    assert!(count(&svg, "<polygon") >= 1, "the band is a filled polygon");
    // At most eight time labels.
    let labels = texts.iter().filter(|t| t.starts_with("2024-01-")).count();
    assert!((2..=8).contains(&labels), "{labels} time labels");
}

#[test]
fn dashed_line_differs_from_solid() {
    let chart = |dashed| TimeChart {
        x: axis(40),
        series: vec![line("forecast", wave(40), dashed)],
        y_name: None,
    };
    let solid = svg_text(&chart(false), "t");
    let dashed = svg_text(&chart(true), "t");
    assert_eq!(
        first_line_strokes(&solid),
        2,
        "the line and its legend mark"
    );
    assert!(
        first_line_strokes(&dashed) > 10,
        "a dashed line is many short strokes: {}",
        first_line_strokes(&dashed)
    );
    let png = |c: &TimeChart| render_static(c, "t", Format::Png, SIZE).unwrap();
    let (a, b) = (
        Picture::decode(&png(&chart(false))),
        Picture::decode(&png(&chart(true))),
    );
    let (ink_solid, ink_dashed) = (a.count_middle(not_white), b.count_middle(not_white));
    assert!(
        ink_dashed < ink_solid * 9 / 10,
        "dashes leave gaps: {ink_dashed} vs {ink_solid} pixels"
    );
}

#[test]
fn missing_values_break_the_line() {
    let mut values = wave(60);
    let whole = TimeChart {
        x: axis(60),
        series: vec![line("observed", values.clone(), false)],
        y_name: None,
    };
    values[20..25].iter_mut().for_each(|v| *v = None);
    values[40] = Some(f64::NAN);
    let broken = TimeChart {
        series: vec![line("observed", values, false)],
        ..whole.clone()
    };
    assert_eq!(first_line_strokes(&svg_text(&whole, "t")), 2);
    // Three runs of values, plus the legend mark.
    assert_eq!(first_line_strokes(&svg_text(&broken, "t")), 4);
}

#[test]
fn empty_charts_are_errors() {
    let no_axis = TimeChart {
        x: vec![],
        series: vec![line("a", vec![], false)],
        y_name: None,
    };
    let no_values = TimeChart {
        x: axis(10),
        series: vec![
            line("a", vec![None; 10], false),
            Series::Band {
                name: "95%".into(),
                lo: vec![Some(1.0); 10],
                hi: vec![None; 10],
            },
        ],
        y_name: None,
    };
    let no_series = TimeChart {
        x: axis(10),
        series: vec![],
        y_name: None,
    };
    for (chart, want) in [
        (&no_axis, "no time axis"),
        (&no_values, "has a value"),
        (&no_series, "has a value"),
    ] {
        for format in [Format::Png, Format::Svg] {
            match render_static(chart, "t", format, SIZE) {
                Err(ReportError::Draw(msg)) => assert!(msg.contains(want), "{msg}"),
                other => panic!("expected a Draw error with {want:?}, got {other:?}"),
            }
        }
    }
}

#[test]
fn sizes_outside_200_to_10000_pixels_are_errors() {
    let chart = TimeChart {
        x: axis(10),
        series: vec![line("a", wave(10), false)],
        y_name: None,
    };
    for (width, height, flag) in [
        (199, 400, "--width"),
        (800, 150, "--height"),
        (10_001, 400, "--width"),
        (800, 20_000, "--height"),
    ] {
        match render_static(&chart, "t", Format::Png, Size { width, height }) {
            Err(ReportError::Format(msg)) => assert!(msg.contains(flag), "{msg}"),
            other => panic!("expected a Format error naming {flag}, got {other:?}"),
        }
    }
    let edge = Size {
        width: 200,
        height: 200,
    };
    assert!(render_static(&chart, "t", Format::Svg, edge).is_ok());
}

#[test]
fn a_single_position_and_a_flat_series_draw() {
    let one = TimeChart {
        x: axis(1),
        series: vec![line("a", vec![Some(5.0)], false)],
        y_name: None,
    };
    let pic = Picture::decode(&render_static(&one, "t", Format::Png, SIZE).unwrap());
    assert!(pic.count_middle(not_white) > 0);
    let flat = TimeChart {
        x: axis(30),
        series: vec![line("a", vec![Some(0.0); 30], true)],
        y_name: None,
    };
    assert!(render_static(&flat, "t", Format::Svg, SIZE).is_ok());
}

#[test]
fn ten_thousand_points_render_quickly() {
    let n = 10_000;
    let chart = TimeChart {
        x: axis(n),
        series: vec![
            Series::Band {
                name: "95%".into(),
                lo: wave(n).iter().map(|v| v.map(|v| v - 8.0)).collect(),
                hi: wave(n).iter().map(|v| v.map(|v| v + 8.0)).collect(),
            },
            line("observed", wave(n), false),
            line(
                "forecast",
                wave(n).iter().map(|v| v.map(|v| v + 1.0)).collect(),
                true,
            ),
            Series::Points {
                name: "anomalies".into(),
                values: (0..n).map(|i| (i % 50 == 0).then_some(65.0)).collect(),
            },
        ],
        y_name: Some("load".into()),
    };
    let size = Size::default();
    for format in [Format::Png, Format::Svg] {
        let start = Instant::now();
        let bytes = render_static(&chart, "Large", format, size).unwrap();
        let took = start.elapsed();
        eprintln!(
            "{format:?} of {n} points: {took:?}, {} bytes ({})",
            bytes.len(),
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        // Generous: a debug build on a shared machine; release takes a fraction of this.
        assert!(took.as_secs_f64() < 20.0, "{format:?} took {took:?}");
    }
}
