//! `report.html`: a daily run's answers at a glance — one self-contained page (inline
//! SVG, CSS and a few lines of script; nothing fetched from anywhere), beside
//! `report.md`, for both engines. Templated with `maud` (HTML and SVG alike, checked
//! when compiled, escaped by construction): each chart is SVG whose bars carry their
//! label and value (`data-label`, `data-value`, a `<title>` tooltip), drawn in a
//! viewBox so it scales from a 1280-pixel screen to a phone's 600. Colours are the
//! Okabe–Ito palette, told apart with every common colour-vision deficiency.
//!
//! Long (some 420 lines) because it is one page: nine charts, the tables and the page's
//! styles are templates that share the same few drawing helpers.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use polars::prelude::{AnyValue, DataFrame};

use super::queries::Question;

/// Okabe & Ito's colour-blind-safe palette (black left out: it is the text colour).
const PALETTE: [&str; 7] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"];
/// Bars shown in a ranking chart (the table below holds every row).
const TOP: usize = 15;

/// What the page shows of a run, whichever engine answered.
pub struct Page<'a> {
    pub title: String,
    /// The run's figures, as label and value (objects, rows, quarantined, …).
    pub summary: Vec<(&'static str, String)>,
    /// What the answers do not cover.
    pub notices: &'a [String],
    pub answers: &'a [(Question, DataFrame)],
}

/// The whole page.
pub fn render(page: &Page) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No favicon request: the page asks for nothing.
                link rel="icon" href="data:,";
                title { (page.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (page.title) }
                    dl.summary {
                        @for (label, value) in &page.summary {
                            div { dt { (label) } dd { (value) } }
                        }
                    }
                    @if !page.notices.is_empty() {
                        div.notices role="note" {
                            strong { "What these answers do not cover:" }
                            ul { @for notice in page.notices { li { (notice) } } }
                        }
                    }
                }
                main {
                    @for (question, frame) in page.answers {
                        (section(*question, frame))
                    }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// One question: its chart, then its table.
fn section(question: Question, frame: &DataFrame) -> Markup {
    let stem = question.file_stem();
    html! {
        section id=(stem) data-question=(stem) {
            h2 { (question.title()) }
            @if frame.height() == 0 {
                p.empty { "No rows: nothing in silver answers this question for this run." }
            } @else {
                (chart(question, frame))
            }
            (table(stem, frame, matches!(question, Question::Q1 | Question::Q3a)))
        }
    }
}

/// The chart that fits the question.
fn chart(question: Question, frame: &DataFrame) -> Markup {
    let title = question.title();
    match question {
        // Per country: the top 15 of a long list, as ranked horizontal bars.
        Question::Q1 => {
            let rows = top(frame, "category_count", TOP);
            ranked(title, "posts in the country's top category", &rows, |r| {
                (format!("{} — {}", r.text("country"), r.text("category")), r.number("category_count"))
            })
        }
        Question::Q3a => {
            let rows = top(frame, "follower_count", TOP);
            ranked(title, "followers", &rows, |r| {
                (format!("{} — {}", r.text("country"), r.text("poster_name")), r.number("follower_count"))
            })
        }
        Question::Q3b => {
            let row = Row { frame, index: 0 };
            html! {
                p.callout data-label=(row.text("country")) data-value=(row.number("follower_count")) {
                    span.big { (row.text("country")) }
                    " — its top user has "
                    span.big { (count(row.number("follower_count"))) }
                    " followers"
                }
            }
        }
        // Over years or age groups: a few bars in their order, coloured by category.
        Question::Q2 | Question::Q4 => {
            let (group, axis) =
                if question == Question::Q2 { ("post_year", "year (UTC)") } else { ("age_group", "age group") };
            let bars: Vec<Bar> = rows(frame)
                .map(|r| Bar {
                    label: r.text(group),
                    value: r.number("category_count"),
                    series: Some(r.text("category")),
                })
                .collect();
            columns(title, axis, "posts in the most popular category", &bars)
        }
        Question::Q5 | Question::Q6 | Question::Q7 => {
            let (group, axis, measure, unit) = match question {
                Question::Q5 => ("age_group", "age group", "median_follower_count", "median followers"),
                Question::Q6 => ("post_year", "year joined (UTC)", "number_users_joined", "users who joined"),
                _ => ("post_year", "year joined (UTC)", "median_follower_count", "median followers"),
            };
            let bars: Vec<Bar> =
                rows(frame).map(|r| Bar { label: r.text(group), value: r.number(measure), series: None }).collect();
            columns(title, axis, unit, &bars)
        }
        Question::Q8 => grid(title, frame),
    }
}

/// A row of a frame, read by column name.
#[derive(Clone, Copy)]
struct Row<'a> {
    frame: &'a DataFrame,
    index: usize,
}

impl Row<'_> {
    fn value(&self, column: &str) -> AnyValue<'_> {
        self.frame.column(column).ok().and_then(|c| c.get(self.index).ok()).unwrap_or(AnyValue::Null)
    }

    fn text(&self, column: &str) -> String {
        match self.value(column) {
            AnyValue::Null => String::new(),
            value => value.get_str().map_or_else(|| value.to_string(), str::to_owned),
        }
    }

    fn number(&self, column: &str) -> f64 {
        self.value(column).extract::<f64>().unwrap_or(0.0)
    }
}

fn rows(frame: &DataFrame) -> impl Iterator<Item = Row<'_>> {
    (0..frame.height()).map(move |index| Row { frame, index })
}

/// The `n` rows with the largest `column`, largest first (ties in the frame's order).
fn top<'a>(frame: &'a DataFrame, column: &str, n: usize) -> Vec<Row<'a>> {
    let mut all: Vec<Row> = rows(frame).collect();
    all.sort_by(|a, b| b.number(column).total_cmp(&a.number(column)));
    all.truncate(n);
    all
}

/// One bar: where it stands, how tall, and the series it is coloured by.
struct Bar {
    label: String,
    value: f64,
    series: Option<String>,
}

/// 12,345 (whole numbers), 1.2M (millions), 3,500.5 (a median's half).
pub fn count(value: f64) -> String {
    if value.abs() >= 1e6 {
        return format!("{:.1}M", value / 1e6).replace(".0M", "M");
    }
    let whole = value.trunc() as i64;
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let fraction = value.fract().abs();
    if fraction > 1e-9 {
        format!("{sign}{grouped}.{}", format!("{fraction:.1}").trim_start_matches("0."))
    } else {
        format!("{sign}{grouped}")
    }
}

/// A round step for about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    step.max(1.0)
}

/// Vertical bars over an ordered axis (years, age groups).
fn columns(title: &str, x_axis: &str, y_axis: &str, bars: &[Bar]) -> Markup {
    let (width, height, left, bottom, top_pad) = (640.0, 320.0, 72.0, 56.0, 16.0);
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let step = tick_step(max);
    let ceiling = (max / step).ceil().max(1.0) * step;
    let plot_w = width - left - 12.0;
    let plot_h = height - bottom - top_pad;
    let slot = plot_w / bars.len().max(1) as f64;
    let y = |v: f64| top_pad + plot_h - v / ceiling * plot_h;
    let series: Vec<String> = distinct(bars.iter().filter_map(|b| b.series.clone()));
    let colour = |b: &Bar| {
        b.series
            .as_ref()
            .and_then(|s| series.iter().position(|x| x == s))
            .map_or(PALETTE[0], |i| PALETTE[i % PALETTE.len()])
    };
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(title) {
                title { (title) }
                @for i in 0..=((ceiling / step).round() as usize) {
                    @let v = i as f64 * step;
                    line.grid x1=(left) x2=(width - 12.0) y1=(y(v)) y2=(y(v)) {}
                    text.tick x=(left - 6.0) y=(y(v) + 4.0) text-anchor="end" { (count(v)) }
                }
                @for (i, bar) in bars.iter().enumerate() {
                    @let x = left + i as f64 * slot + slot * 0.15;
                    rect.bar x=(x) y=(y(bar.value)) width=(slot * 0.7) height=(plot_h + top_pad - y(bar.value)) fill=(colour(bar))
                        data-label=(bar.label) data-value=(bar.value) data-series=[bar.series.as_deref()] {
                        title { (bar.label) ": " (count(bar.value)) @if let Some(s) = &bar.series { " (" (s) ")" } }
                    }
                    text.value x=(x + slot * 0.35) y=(y(bar.value) - 4.0) text-anchor="middle" { (count(bar.value)) }
                    text.tick x=(x + slot * 0.35) y=(height - bottom + 16.0) text-anchor="middle" { (bar.label) }
                }
                text.axis x=(left + plot_w / 2.0) y=(height - 8.0) text-anchor="middle" { (x_axis) }
                text.axis transform=(format!("translate(14 {}) rotate(-90)", top_pad + plot_h / 2.0)) text-anchor="middle" { (y_axis) }
            }
            @if !series.is_empty() {
                figcaption.legend {
                    @for (i, s) in series.iter().enumerate() {
                        span { i.swatch style=(format!("background:{}", PALETTE[i % PALETTE.len()])) {} (s) }
                    }
                }
            }
        }
    }
}

/// Ranked horizontal bars (labels on the left: they fit a phone).
fn ranked<'a>(title: &str, unit: &str, rows: &[Row<'a>], bar: impl Fn(&Row<'a>) -> (String, f64)) -> Markup {
    let bars: Vec<(String, f64)> = rows.iter().map(bar).collect();
    let (width, row_h, left, top_pad) = (640.0, 24.0, 270.0, 8.0);
    let height = top_pad + row_h * bars.len() as f64 + 40.0;
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0);
    let plot_w = width - left - 70.0;
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {width} {height}")) role="img" aria-label=(title) {
                title { (title) }
                @for (i, (label, value)) in bars.iter().enumerate() {
                    @let y = top_pad + i as f64 * row_h;
                    text.tick x=(left - 8.0) y=(y + row_h * 0.65) text-anchor="end" { (ellipsis(label, 32)) }
                    rect.bar x=(left) y=(y + 3.0) width=(value / max * plot_w) height=(row_h - 6.0) fill=(PALETTE[0])
                        data-label=(label) data-value=(value) {
                        title { (label) ": " (count(*value)) }
                    }
                    text.value x=(left + value / max * plot_w + 4.0) y=(y + row_h * 0.65) { (count(*value)) }
                }
                text.axis x=(left + plot_w / 2.0) y=(height - 8.0) text-anchor="middle" { (unit) " (top " (bars.len()) ")" }
            }
        }
    }
}

/// Question 8: age groups × join years, each cell shaded by its median.
fn grid(title: &str, frame: &DataFrame) -> Markup {
    let groups = distinct(rows(frame).map(|r| r.text("age_group")));
    let years = distinct(rows(frame).map(|r| r.text("post_year")));
    let max = rows(frame).map(|r| r.number("median_follower_count")).fold(0.0, f64::max).max(1.0);
    let cell =
        |group: &str, year: &str| rows(frame).find(|r| r.text("age_group") == group && r.text("post_year") == year);
    html! {
        figure.chart {
            table.grid aria-label=(title) {
                caption { "median followers by age group (rows) and year joined, UTC (columns)" }
                tr { th { "age group" } @for year in &years { th { (year) } } }
                @for group in &groups {
                    tr {
                        th { (group) }
                        @for year in &years {
                            @match cell(group, year) {
                                Some(r) => {
                                    @let v = r.number("median_follower_count");
                                    td data-label=(format!("{group} {year}")) data-value=(v)
                                        style=(format!("background: rgba(0,114,178,{:.2})", 0.12 + 0.88 * v / max)) { (count(v)) }
                                }
                                None => td {}
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The answer as a table; long ones searchable.
fn table(stem: &str, frame: &DataFrame, searchable: bool) -> Markup {
    let names: Vec<String> = frame.get_column_names().iter().map(|n| n.to_string()).collect();
    html! {
        details open[!searchable || frame.height() <= 20] {
            summary { (frame.height()) " rows — " code { (stem) ".parquet" } }
            @if searchable {
                input.search type="search" placeholder="search…" aria-label=(format!("search {stem}")) data-table=(stem);
            }
            table.answer id=(format!("{stem}-table")) {
                thead { tr { @for name in &names { th { (name) } } } }
                tbody {
                    @for row in rows(frame) {
                        tr { @for name in &names { td { (cell(&row, name)) } } }
                    }
                }
            }
        }
    }
}

fn cell(row: &Row, column: &str) -> String {
    match row.value(column) {
        AnyValue::Null => String::new(),
        AnyValue::Float64(v) => count(v),
        AnyValue::Int64(v) => count(v as f64),
        value => value.get_str().map_or_else(|| value.to_string(), str::to_owned),
    }
}

fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

const STYLE: &str = r#"
:root { font-family: system-ui, sans-serif; color: #111; background: #fff; }
body { margin: 0 auto; max-width: 1100px; padding: 16px; }
h1 { font-size: 1.5rem; margin: 0 0 8px; }
h2 { font-size: 1.15rem; margin: 32px 0 8px; }
dl.summary { display: flex; flex-wrap: wrap; gap: 8px 20px; margin: 0; }
dl.summary div { display: flex; gap: 6px; }
dt { color: #555; } dd { margin: 0; font-weight: 600; }
.notices { margin-top: 12px; padding: 8px 12px; border-left: 4px solid #D55E00; background: #fff4ec; }
figure.chart { margin: 0; }
figure.chart svg { width: 100%; height: auto; max-width: 900px; display: block; }
svg text { font-size: 12px; fill: #222; }
svg text.axis { font-size: 13px; fill: #444; }
svg line.grid { stroke: #ddd; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 0.9rem; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; }
.callout { font-size: 1.1rem; } .callout .big { font-size: 1.6rem; font-weight: 700; }
table { border-collapse: collapse; font-size: 0.9rem; margin-top: 6px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
table.answer td:last-child, table.grid td { text-align: right; font-variant-numeric: tabular-nums; }
table.answer th { cursor: pointer; background: #f4f4f4; }
input.search { margin: 6px 0; padding: 4px 8px; width: min(320px, 90%); }
details summary { cursor: pointer; color: #333; }
@media (max-width: 640px) { body { padding: 8px; } }
"#;

/// Search and sort of the answer tables: a few lines, inline.
const SCRIPT: &str = r#"
document.querySelectorAll('input.search').forEach(function (input) {
  var rows = document.querySelectorAll('#' + input.dataset.table + '-table tbody tr');
  input.addEventListener('input', function () {
    var q = input.value.toLowerCase();
    rows.forEach(function (tr) { tr.hidden = q && tr.textContent.toLowerCase().indexOf(q) < 0; });
  });
});
document.querySelectorAll('table.answer').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], up = th.dataset.sort !== 'up';
      var key = function (tr) { var t = tr.children[column].textContent, n = parseFloat(t.replace(/,/g, '')); return isNaN(n) ? t : n; };
      Array.from(body.rows).sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); })
        .forEach(function (tr) { body.appendChild(tr); });
      th.dataset.sort = up ? 'up' : 'down';
    });
  });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(count(12_345.0), "12,345");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1_234_567.0), "1.2M");
        assert_eq!(count(3_000_000.0), "3M");
        assert_eq!(count(3_500.5), "3,500.5");
        assert_eq!(count(0.0), "0");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(100.0), 20.0);
        assert_eq!(tick_step(12.0), 2.5);
        assert_eq!(tick_step(1_000_000.0), 200_000.0);
        assert_eq!(tick_step(0.0), 1.0);
    }
}
