//! What a report shows ([`Page`]: sections of text, key-value lists, tables and charts)
//! and its rendering into one self-contained HTML file.
//!
//! Charts are either typed [`TimeChart`]s (lines, interval bands, points and bars over a
//! time axis: the forecast and backtest charts, which can also be drawn as PNG / SVG) or
//! any [ECharts option](https://echarts.apache.org/en/option.html) as JSON
//! ([`ChartSpec::ECharts`]). Every chart's tooltip shows the values it was given (an
//! interval band as `lo – hi`), and time axes zoom with the wheel and a slider.

use serde_json::{json, Map, Value};

/// One report: a title and its sections, rendered by [`Page::to_html`].
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The page's title (the `<title>` and the heading).
    pub title: String,
    /// A line under the title (what the report is of, when it was made).
    pub subtitle: Option<String>,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

/// A titled part of a page.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// The section's heading.
    pub heading: String,
    /// Its contents, in order.
    pub blocks: Vec<Block>,
}

/// One element of a section.
#[derive(Debug, Clone)]
pub enum Block {
    /// A paragraph of plain text.
    Text(String),
    /// Name–value pairs (fit statistics, the best configuration).
    KeyValues(Vec<(String, String)>),
    /// A table.
    Table(Table),
    /// One chart, full width.
    Chart(Chart),
    /// Small charts side by side (a panel's best and worst series).
    ChartGrid(Vec<Chart>),
}

/// A table; with `searchable`, a search box filters its rows, and every table sorts by a
/// column when its heading is clicked.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The element id (for links and tests).
    pub id: String,
    /// Column headings.
    pub columns: Vec<String>,
    /// Rows of cells, already formatted.
    pub rows: Vec<Vec<String>>,
    /// Whether a search box filters the rows.
    pub searchable: bool,
}

/// A chart and where it sits on the page.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The element id, unique on the page (tests and the chart script find it by this).
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// Height in CSS pixels.
    pub height: u32,
    /// What it draws.
    pub spec: ChartSpec,
}

/// What a chart draws.
#[derive(Debug, Clone)]
pub enum ChartSpec {
    /// Lines, bands, points and bars over a time axis (renders as HTML and as PNG / SVG).
    Time(TimeChart),
    /// Any ECharts option (HTML only). A `tooltip.formatter` of `"values"` is replaced by
    /// the page's formatter, which prints every series' value at the hovered point.
    ECharts(Value),
}

/// Series over one shared time axis.
#[derive(Debug, Clone, Default)]
pub struct TimeChart {
    /// The axis labels (timestamps as written in the data), one per position.
    pub x: Vec<String>,
    /// The series drawn, in order (later ones on top).
    pub series: Vec<Series>,
    /// The value axis' name.
    pub y_name: Option<String>,
}

/// One series of a [`TimeChart`]; every vector has one entry per axis position, `None`
/// where the series has no value.
#[derive(Debug, Clone)]
pub enum Series {
    /// A line.
    Line {
        /// Legend name.
        name: String,
        /// Values.
        values: Vec<Option<f64>>,
        /// Dashed (forecasts) or solid (observations).
        dashed: bool,
    },
    /// A shaded interval between `lo` and `hi`.
    Band {
        /// Legend name (`95%`).
        name: String,
        /// Lower bounds.
        lo: Vec<Option<f64>>,
        /// Upper bounds.
        hi: Vec<Option<f64>>,
    },
    /// Markers without a line.
    Points {
        /// Legend name.
        name: String,
        /// Values.
        values: Vec<Option<f64>>,
    },
    /// Vertical bars from zero.
    Bars {
        /// Legend name.
        name: String,
        /// Values.
        values: Vec<Option<f64>>,
    },
}

impl Series {
    /// The legend name.
    pub fn name(&self) -> &str {
        match self {
            Series::Line { name, .. }
            | Series::Band { name, .. }
            | Series::Points { name, .. }
            | Series::Bars { name, .. } => name,
        }
    }
}

/// A finite value, or `None` (JSON has no NaN).
pub fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl TimeChart {
    /// The chart as an ECharts option: a category time axis that zooms, a legend, and
    /// bands drawn as a stacked pair (the lower bound invisible, the width shaded) whose
    /// tooltip prints `lo – hi`.
    pub fn to_echarts(&self, title: &str) -> Value {
        // Lines, points and bars take the palette in turn; every interval band is the
        // same translucent orange, so nested levels shade deeper towards the centre.
        const PALETTE: [&str; 7] = [
            "#1f5fbf", "#2e8b57", "#7b3fa0", "#c23b5b", "#3a9fbf", "#8a6d1f", "#555555",
        ];
        const BAND: &str = "#e8842c";
        let mut series = Vec::new();
        let mut next = 0usize;
        let mut color = || {
            let c = PALETTE[next % PALETTE.len()];
            next += 1;
            c
        };
        for (k, s) in self.series.iter().enumerate() {
            match s {
                Series::Line {
                    name,
                    values,
                    dashed,
                } => series.push(json!({
                    "name": name, "type": "line", "data": values, "showSymbol": false,
                    "connectNulls": false, "color": color(),
                    "lineStyle": {"width": 1.5, "type": if *dashed { "dashed" } else { "solid" }},
                })),
                Series::Points { name, values } => series.push(json!({
                    "name": name, "type": "line", "data": values, "symbol": "circle", "color": color(),
                    "symbolSize": 5, "lineStyle": {"width": 0}, "showSymbol": true,
                })),
                Series::Bars { name, values } => series.push(json!({
                    "name": name, "type": "bar", "data": values, "color": color(),
                })),
                Series::Band { name, lo, hi } => {
                    let stack = format!("band-{k}");
                    let lower: Vec<Value> = lo
                        .iter()
                        .zip(hi)
                        .map(|(l, h)| match (l, h) {
                            (Some(l), Some(h)) => json!({"value": l, "lo": l, "hi": h, "band": "lower"}),
                            _ => Value::Null,
                        })
                        .collect();
                    let width: Vec<Value> = lo
                        .iter()
                        .zip(hi)
                        .map(|(l, h)| match (l, h) {
                            (Some(l), Some(h)) => json!({"value": h - l, "lo": l, "hi": h, "band": "upper"}),
                            _ => Value::Null,
                        })
                        .collect();
                    series.push(json!({
                        "name": name, "type": "line", "stack": stack, "data": lower,
                        "showSymbol": false, "color": BAND, "lineStyle": {"opacity": 0}, "silent": true,
                    }));
                    series.push(json!({
                        "name": name, "type": "line", "stack": stack, "data": width,
                        "showSymbol": false, "color": BAND, "lineStyle": {"opacity": 0},
                        "areaStyle": {"opacity": 0.22}, "silent": true,
                    }));
                }
            }
        }
        let mut y_axis = Map::new();
        y_axis.insert("type".into(), json!("value"));
        y_axis.insert("scale".into(), json!(true));
        if let Some(name) = &self.y_name {
            y_axis.insert("name".into(), json!(name));
        }
        let mut zoom = json!({});
        if let Some(start) = self.initial_window_start() {
            zoom = json!({"startValue": start, "endValue": self.x.len().saturating_sub(1)});
        }
        let mut inside = json!({"type": "inside"});
        let mut slider = json!({"type": "slider", "bottom": 14});
        for z in [&mut inside, &mut slider] {
            if let (Some(z), Some(w)) = (z.as_object_mut(), zoom.as_object()) {
                z.extend(w.clone());
            }
        }
        json!({
            "animation": false,
            "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
            "tooltip": {"trigger": "axis", "formatter": "values"},
            "legend": {"top": 26, "type": "scroll"},
            "grid": {"left": 64, "right": 28, "top": 64, "bottom": 72},
            "xAxis": {"type": "category", "data": self.x, "boundaryGap": false},
            "yAxis": Value::Object(y_axis),
            "dataZoom": [inside, slider],
            "series": series,
        })
    }

    /// The chart from axis position `start` on.
    pub fn from_position(&self, start: usize) -> TimeChart {
        let cut = |v: &Vec<Option<f64>>| v.get(start..).unwrap_or_default().to_vec();
        TimeChart {
            x: self.x.get(start..).unwrap_or_default().to_vec(),
            series: self
                .series
                .iter()
                .map(|s| match s {
                    Series::Line {
                        name,
                        values,
                        dashed,
                    } => Series::Line {
                        name: name.clone(),
                        values: cut(values),
                        dashed: *dashed,
                    },
                    Series::Band { name, lo, hi } => Series::Band {
                        name: name.clone(),
                        lo: cut(lo),
                        hi: cut(hi),
                    },
                    Series::Points { name, values } => Series::Points {
                        name: name.clone(),
                        values: cut(values),
                    },
                    Series::Bars { name, values } => Series::Bars {
                        name: name.clone(),
                        values: cut(values),
                    },
                })
                .collect(),
            y_name: self.y_name.clone(),
        }
    }

    /// Where the time axis opens on a long chart whose forecasts (bands, dashed lines)
    /// start late: a stretch of history three times the forecast's length (at least
    /// 150 positions) before them, so the forecast is visible at once; the slider and
    /// the wheel reach the rest. `None` shows everything.
    pub fn initial_window_start(&self) -> Option<usize> {
        let n = self.x.len();
        if n <= 500 {
            return None;
        }
        let first = |v: &[Option<f64>]| v.iter().position(Option::is_some);
        let start = self
            .series
            .iter()
            .filter_map(|s| match s {
                Series::Band { lo, .. } => first(lo),
                Series::Line {
                    values,
                    dashed: true,
                    ..
                } => first(values),
                _ => None,
            })
            .min()?;
        let shown = (3 * (n - start)).max(150);
        (start > shown).then(|| start - shown)
    }
}

impl Chart {
    /// The chart's ECharts option.
    pub fn option(&self) -> Value {
        match &self.spec {
            ChartSpec::Time(t) => t.to_echarts(&self.title),
            ChartSpec::ECharts(v) => v.clone(),
        }
    }
}

const STYLE: &str = include_str!("../assets/report.css");
const SCRIPT: &str = include_str!("../assets/report.js");

impl Page {
    /// The page as one self-contained HTML document: the chart library, the page's
    /// script and style are inlined, and the charts' data sit in a JSON block; nothing is
    /// fetched when the file is opened.
    pub fn to_html(&self) -> String {
        let mut charts = Vec::new();
        let mut body = String::new();
        body.push_str(&format!("<header><h1>{}</h1>", escape(&self.title)));
        if let Some(sub) = &self.subtitle {
            body.push_str(&format!("<p class=\"subtitle\">{}</p>", escape(sub)));
        }
        body.push_str("</header>\n<nav>");
        for (i, s) in self.sections.iter().enumerate() {
            body.push_str(&format!(
                "<a href=\"#section-{i}\">{}</a>",
                escape(&s.heading)
            ));
        }
        body.push_str("</nav>\n<main>\n");
        for (i, s) in self.sections.iter().enumerate() {
            body.push_str(&format!(
                "<section id=\"section-{i}\"><h2>{}</h2>\n",
                escape(&s.heading)
            ));
            for block in &s.blocks {
                render_block(block, &mut body, &mut charts);
            }
            body.push_str("</section>\n");
        }
        body.push_str("</main>\n");
        let data = json!({ "charts": charts });
        // `</` cannot close the JSON block early once written as `<\/`.
        let data = data.to_string().replace("</", "<\\/");
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"forecast {version}\">\n\
             <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}\
             <script type=\"application/json\" id=\"forecast-report-data\">{data}</script>\n\
             <script>\n{echarts}\n</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
            version = env!("CARGO_PKG_VERSION"),
            title = escape(&self.title),
            echarts = crate::ECHARTS_JS,
        )
    }
}

fn render_block(block: &Block, out: &mut String, charts: &mut Vec<Value>) {
    match block {
        Block::Text(t) => out.push_str(&format!("<p>{}</p>\n", escape(t))),
        Block::KeyValues(kv) => {
            out.push_str("<dl class=\"kv\">");
            for (k, v) in kv {
                out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
            }
            out.push_str("</dl>\n");
        }
        Block::Table(t) => render_table(t, out),
        Block::Chart(c) => render_chart(c, "chart", out, charts),
        Block::ChartGrid(cs) => {
            out.push_str("<div class=\"chart-grid\">");
            for c in cs {
                render_chart(c, "chart small", out, charts);
            }
            out.push_str("</div>\n");
        }
    }
}

fn render_chart(c: &Chart, class: &str, out: &mut String, charts: &mut Vec<Value>) {
    out.push_str(&format!(
        "<div class=\"{class}\" id=\"{}\" style=\"height:{}px\" role=\"img\" aria-label=\"{}\"></div>\n",
        escape(&c.id),
        c.height,
        escape(&c.title)
    ));
    charts.push(json!({"id": c.id, "option": c.option()}));
}

fn render_table(t: &Table, out: &mut String) {
    out.push_str("<div class=\"table-wrap\">");
    if t.searchable {
        out.push_str(&format!(
            "<input type=\"search\" class=\"table-search\" data-table=\"{}\" placeholder=\"Search {} rows\">",
            escape(&t.id),
            t.rows.len()
        ));
    }
    out.push_str(&format!(
        "<table id=\"{}\" class=\"sortable\"><thead><tr>",
        escape(&t.id)
    ));
    for c in &t.columns {
        out.push_str(&format!("<th>{}</th>", escape(c)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{}</td>", escape(cell)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Page {
        Page {
            title: "A <b>report</b>".into(),
            subtitle: Some("of x & y".into()),
            sections: vec![Section {
                heading: "Forecast".into(),
                blocks: vec![
                    Block::Text("</script><script>alert(1)</script>".into()),
                    Block::Chart(Chart {
                        id: "fc".into(),
                        title: "t".into(),
                        height: 300,
                        spec: ChartSpec::Time(TimeChart {
                            x: vec!["2020-01-01".into(), "2020-01-02".into()],
                            series: vec![
                                Series::Line {
                                    name: "y".into(),
                                    values: vec![Some(1.0), None],
                                    dashed: false,
                                },
                                Series::Band {
                                    name: "95%".into(),
                                    lo: vec![None, Some(0.5)],
                                    hi: vec![None, Some(2.0)],
                                },
                            ],
                            y_name: Some("</script>".into()),
                        }),
                    }),
                ],
            }],
        }
    }

    #[test]
    fn text_and_data_cannot_break_out_of_the_page() {
        let html = page().to_html();
        assert!(html.contains("A &lt;b&gt;report&lt;/b&gt;"));
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
        // The chart data's `</script>` is written `<\/script>`; the only closing tags
        // are the page's own three script blocks'.
        assert_eq!(html.matches("</script>").count(), 3);
        // Nothing is loaded from elsewhere: no external script, style or image in the
        // page's markup (the inlined chart library's code mentions such tags as strings).
        let markup = &html[..html.find("<script type=\"application/json\"").unwrap()];
        for tag in ["<script", "<link", "<img", "src="] {
            assert!(!markup.contains(tag), "the markup has {tag}");
        }
        assert!(!html.contains("<script src"));
    }

    #[test]
    fn a_band_is_a_stacked_pair_whose_points_carry_both_bounds() {
        let c = match &page().sections[0].blocks[1] {
            Block::Chart(c) => c.option(),
            _ => unreachable!(),
        };
        let series = c["series"].as_array().unwrap();
        assert_eq!(series.len(), 3);
        assert_eq!(series[1]["stack"], series[2]["stack"]);
        assert_eq!(series[1]["data"][1]["value"], 0.5);
        assert_eq!(series[2]["data"][1]["value"], 1.5);
        assert_eq!(series[2]["data"][1]["hi"], 2.0);
        assert!(series[2]["data"][0].is_null());
    }
}
