//! The pages people look at, in a real browser (Debian's Chromium, headless): the
//! `report.html` of a daily run over the real samples. (The live metrics page is opened
//! through `cargo lambda watch` in `lambda_watch.rs`.) What the page shows is read
//! from the rendered DOM and compared with the run's answers; the page makes no request
//! and logs nothing to its console. Screenshots are saved under the test's temp dir (and
//! into `PINPIPE_DOCS_SCREENSHOTS` when set: `infra/docs/screenshots.sh`).

use pinpipe::analytics::{DailyJob, Question};
use pinpipe::lake::Lake;
use pinpipe_tests::browser::{self, attributes};
use pinpipe_tests::{temp_lake, today};
use polars::prelude::AnyValue;

use crate::analytics::{land_as, samples};

/// The DOM of one question's section of the report.
fn section<'a>(dom: &'a str, stem: &str) -> &'a str {
    let start = dom.find(&format!("data-question=\"{stem}\"")).unwrap_or_else(|| panic!("no section {stem}"));
    let rest = &dom[start..];
    &rest[..rest[1..].find("<section").map_or(rest.len(), |end| end + 1)]
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

/// Each bar of a section: its label and value.
fn bars(dom: &str) -> Vec<(String, f64)> {
    let labels = attributes(dom, "data-value", "data-label");
    let values = attributes(dom, "data-value", "data-value");
    labels.into_iter().zip(values).map(|(l, v)| (unescape(l), v.parse().unwrap())).collect()
}

fn text(value: AnyValue) -> String {
    value.get_str().map_or_else(|| value.to_string(), str::to_owned)
}

/// Saves the screenshots where the README's pictures come from, when asked to.
pub fn keep_for_the_docs(screenshots: &[std::path::PathBuf], name: &str) {
    let Ok(docs) = std::env::var("PINPIPE_DOCS_SCREENSHOTS") else { return };
    for (shot, size) in screenshots.iter().zip(["desktop", "phone"]) {
        let to = std::path::Path::new(&docs).join(format!("{name}-{size}.png"));
        std::fs::copy(shot, &to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
        eprintln!("kept for the README: {}", to.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_report_charts_the_answers_in_a_real_browser() {
    let dir = temp_lake("report-html");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    land_as("0a1b2c3d4e5f", &lake, samples(), 100, 1, 0).await;
    let day = chrono::Utc::now().date_naive();
    let run = DailyJob::new(lake, "0a1b2c3d4e5f").run(day).await.unwrap();
    let page = dir.join(format!("analytics/run_date={}/report.html", today()));
    let rendered = browser::open(&format!("file://{}", page.display()), &dir.join("browser"), "report", 1_000);
    keep_for_the_docs(&rendered.screenshots, "report");

    assert_eq!(rendered.console, Vec::<String>::new(), "nothing logged to the console");
    assert_eq!(rendered.requests, Vec::<String>::new(), "a self-contained page asks for nothing");
    let dom = &rendered.dom;
    assert!(dom.contains("pinpipe daily analytics — "), "the title");
    for question in Question::ALL {
        assert!(dom.contains(&unescape_title(question.title())), "{question:?}'s title");
    }

    // Question 6: a bar per join year, the tallest the year most users joined.
    let q6 = run.answer(Question::Q6);
    let shown = bars(section(dom, "q6_users_joined_by_year"));
    let expected: Vec<(String, f64)> = (0..q6.height())
        .map(|i| {
            let row = q6.get_row(i).unwrap().0;
            (text(row[0].clone()), row[1].extract::<f64>().unwrap())
        })
        .collect();
    assert_eq!(shown, expected, "question 6's bars are its answer, in year order");
    let tallest = shown.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    let most = expected.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert_eq!(tallest, most, "the tallest bar is the year most users joined");

    // Question 2: a bar per year, coloured by its category.
    let q2 = run.answer(Question::Q2);
    let q2_bars = section(dom, "q2_category_by_year");
    assert_eq!(bars(q2_bars).len(), q2.height());
    let categories = attributes(q2_bars, "data-value", "data-series");
    for (i, category) in categories.iter().enumerate() {
        assert_eq!(*category, text(q2.column("category").unwrap().get(i).unwrap()), "row {i}");
    }

    // Question 1: the top 15 countries of ~200, largest first, then every row in the table.
    let q1 = run.answer(Question::Q1);
    let q1_dom = section(dom, "q1_category_by_country");
    let ranked = bars(q1_dom);
    assert_eq!(ranked.len(), 15.min(q1.height()));
    let top_count = q1.column("category_count").unwrap().as_materialized_series().max::<i64>().unwrap().unwrap();
    assert_eq!(ranked[0].1, top_count as f64);
    assert!(ranked.windows(2).all(|w| w[0].1 >= w[1].1), "largest first");
    assert_eq!(q1_dom.matches("<tr>").count(), q1.height() + 1, "the whole answer in its table, with a header");
    assert!(q1_dom.contains("type=\"search\""), "the long table can be searched");

    // Question 8: the grid's cells are the answer's medians.
    let q8 = run.answer(Question::Q8);
    assert_eq!(
        attributes(section(dom, "q8_median_followers_by_age_group_and_join_year"), "data-value", "data-value").len(),
        q8.height()
    );
    for shot in &rendered.screenshots {
        assert!(std::fs::metadata(shot).unwrap().len() > 10_000, "{}: a page, not a blank", shot.display());
    }
}

/// A title as the DOM serialises it (`&` escaped).
fn unescape_title(title: &str) -> String {
    title.replace('&', "&amp;")
}
