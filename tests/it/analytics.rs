//! The daily job against real storage (a local directory and moto S3): bronze
//! objects land in silver exactly once however runs overlap, and the eight answers
//! equal the same questions written independently as DuckDB SQL.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use pinpipe::Kind;
use pinpipe::analytics::{DailyJob, Question, run_date_of};
use pinpipe::config::Names;
use pinpipe::generate::{GenerateOptions, Generator};
use pinpipe::lake::Lake;
use pinpipe_tests::readers::{duckdb_delta, python};
use pinpipe_tests::{published_run, sample_lines, stack, temp_lake, today};

const ID: &str = "0a1b2c3d4e5f";

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn job(lake: &Lake) -> DailyJob {
    pinpipe::telemetry::init();
    DailyJob::new(lake.clone(), ID)
}

fn local(dir: &Path) -> Lake {
    Lake::open(dir.to_str().unwrap()).unwrap()
}

/// Lands each kind's records as bronze objects; returns how many objects in all.
async fn land(lake: &Lake, records: [Vec<String>; 3], per_object: usize, partitions: i32, first_offset: i64) -> usize {
    land_as(ID, lake, records, per_object, partitions, first_offset).await
}

/// [`land`] into deployment `id`'s topics.
pub(crate) async fn land_as(
    id: &str,
    lake: &Lake,
    records: [Vec<String>; 3],
    per_object: usize,
    partitions: i32,
    first_offset: i64,
) -> usize {
    let mut objects = 0;
    for (kind, lines) in Kind::ALL.into_iter().zip(records) {
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        let topic = Names { id }.topic(kind);
        objects += pinpipe_local::bronze::land(lake, &topic, &lines, per_object, partitions, first_offset)
            .await
            .unwrap()
            .len();
    }
    objects
}

/// Generated posts with the original emulator's re-sends, as raw lines per kind.
fn generated(posts: u64, seed: u64) -> [Vec<String>; 3] {
    let generator = Generator::new(GenerateOptions { posts, seed, resend: true });
    let mut records: [Vec<String>; 3] = Default::default();
    for post in generator.posts() {
        for (lines, kind) in records.iter_mut().zip(Kind::ALL) {
            lines.push(post.record(kind).to_owned());
        }
    }
    records
}

pub(crate) fn samples() -> [Vec<String>; 3] {
    ["sample_pin.jsonl", "sample_geo.jsonl", "sample_user.jsonl"].map(sample_lines)
}

#[derive(serde::Deserialize)]
struct CrossCheck {
    duckdb: Vec<serde_json::Value>,
    ours: Vec<serde_json::Value>,
    columns: Vec<(String, String)>,
}

/// DuckDB's answers over silver beside ours, per file stem (tests/python/analytics_duckdb.py).
fn duckdb_cross_check(lake: &Path, run_date: &str) -> BTreeMap<String, CrossCheck> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/analytics_duckdb.py");
    let out = Command::new(python()).args([script, lake.to_str().unwrap(), ID, run_date]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The published run's answer files of `run_date`, by name.
fn answer_files(lake: &Path, run_date: &str) -> BTreeMap<String, Vec<u8>> {
    let (_, dir) = published_run(lake, run_date);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_equal_independent_duckdb_sql_on_generated_posts() {
    let dir = temp_lake("analytics-duckdb");
    let lake = local(&dir);
    land(&lake, generated(4_000, 7), 250, 3, 0).await;
    let report = job(&lake).run(date(&today())).await.unwrap();
    let totals = report.totals();
    assert_eq!(totals.rows_cleaned, 12_000, "{totals:?}");
    assert!(totals.duplicates_dropped > 0, "the re-send pattern repeats posts: {totals:?}");

    let checks = duckdb_cross_check(&dir, &today());
    let spec_columns: [(&str, &[&str]); 9] = [
        ("q1_category_by_country", &["country", "category", "category_count"]),
        ("q2_category_by_year", &["post_year", "category", "category_count"]),
        ("q3a_top_user_by_country", &["country", "poster_name", "follower_count"]),
        ("q3b_top_country", &["country", "follower_count"]),
        ("q4_category_by_age_group", &["age_group", "category", "category_count"]),
        ("q5_median_followers_by_age_group", &["age_group", "median_follower_count"]),
        ("q6_users_joined_by_year", &["post_year", "number_users_joined"]),
        ("q7_median_followers_by_join_year", &["post_year", "median_follower_count"]),
        ("q8_median_followers_by_age_group_and_join_year", &["age_group", "post_year", "median_follower_count"]),
    ];
    assert_eq!(checks.len(), 9);
    for (stem, columns) in spec_columns {
        let check = &checks[stem];
        let names: Vec<&str> = check.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, columns, "{stem}");
        assert!(!check.ours.is_empty(), "{stem} has answers on 4,000 posts");
        assert_eq!(check.ours, check.duckdb, "{stem}: ours vs DuckDB SQL");
    }
    // Age groups in age order, not text order.
    let groups: Vec<&str> = checks["q4_category_by_age_group"].ours.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(groups, ["18-24", "25-35", "36-50", "+50"]);
    assert!(published_run(&dir, &today()).1.join("report.md").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn silver_larger_than_a_part_is_answered_in_parts_with_the_same_answers() {
    let dir = temp_lake("analytics-parts");
    let lake = local(&dir);
    land(&lake, generated(3_000, 21), 200, 2, 0).await;
    let whole = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!(whole.parts, 1);
    let whole_files = answer_files(&dir, &today());
    assert_eq!(whole_files.len(), 9);

    // A budget of 700 rows splits the ~3,300 silver rows per kind into parts, each
    // deduplicated and answered alone; the merged answers are the same files.
    let in_parts = job(&lake).with_part_rows(700).run(date(&today())).await.unwrap();
    assert!(in_parts.parts >= 4, "{} parts", in_parts.parts);
    assert_eq!(in_parts.silver_rows, whole.silver_rows, "rows and repeated posts are counted the same");
    assert!(in_parts.totals().duplicates_dropped > 0);
    assert_eq!(answer_files(&dir, &today()), whole_files, "answers in parts equal the answers whole");
    let report = std::fs::read_to_string(published_run(&dir, &today()).1.join("report.md")).unwrap();
    assert!(report.contains(&format!("answered in {} parts", in_parts.parts)), "{report}");
    // And both equal the same questions as independent SQL.
    for (stem, check) in duckdb_cross_check(&dir, &today()) {
        assert!(!check.ours.is_empty(), "{stem}");
        assert_eq!(check.ours, check.duckdb, "{stem}: ours in parts vs DuckDB SQL");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_of_a_date_reads_nothing_twice_and_writes_identical_files() {
    let dir = temp_lake("analytics-rerun");
    let lake = local(&dir);
    let objects = land(&lake, generated(1_000, 11), 100, 2, 0).await as u64;
    let first = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!(
        (first.totals().objects_listed, first.totals().objects_read, first.totals().objects_skipped),
        (objects, objects, 0)
    );
    let files = answer_files(&dir, &today());
    assert_eq!(files.len(), 9);

    let again = job(&lake).run(date(&today())).await.unwrap();
    // Listing starts after each partition's mark: a re-run lists nothing.
    assert_eq!((again.totals().objects_listed, again.totals().objects_read), (0, 0));
    assert_ne!(again.output_prefix, first.output_prefix, "each run writes under its own prefix");
    assert_eq!(answer_files(&dir, &today()), files, "a re-run of the date gives identical files");
    let report = std::fs::read_to_string(published_run(&dir, &today()).1.join("report.md")).unwrap();
    assert!(report.contains("| pin | 0 |"), "{report}");

    // New objects the next day: only they are read; silver then holds every row once.
    let more = land(&lake, generated(500, 12), 100, 2, 1_000).await as u64;
    let next = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!((next.totals().objects_listed, next.totals().objects_read), (more, more));
    let silver = duckdb_delta(dir.join(Names { id: ID }.batch_table(Kind::Pin)).to_str().unwrap());
    assert_eq!(silver.rows, 1_500);
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_runs_on_s3_take_each_object_in_once() {
    let s3 = stack::s3().await;
    let bucket = stack::unique_name("pinpipe-analytics");
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{}", stack::not_running("moto S3", e)));
    let lake = Lake::open(&format!("s3://{bucket}/lake")).unwrap();
    let objects = land(&lake, samples(), 40, 2, 0).await as u64;

    let (first, second) = (job(&lake), job(&lake));
    let (a, b) = tokio::join!(first.run(date(&today())), second.run(date(&today())));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Between them the two runs read each object once.
    assert_eq!(a.totals().objects_read + b.totals().objects_read, objects, "{:?} {:?}", a.totals(), b.totals());
    for kind in Kind::ALL {
        let table = format!("s3://{bucket}/lake/{}", Names { id: ID }.batch_table(kind));
        let silver = duckdb_delta(&table);
        assert_eq!(silver.rows, 240, "{kind}: every sample row once");
    }
    // Both answered over the whole silver.
    for question in Question::ALL {
        assert_eq!(a.answer(question), b.answer(question), "{question:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_lines_are_quarantined_with_their_object_and_line() {
    let dir = temp_lake("analytics-bad");
    let lake = local(&dir);
    let good = sample_lines("sample_geo.jsonl")[0].clone();
    let lines = vec![good, "not json at all".to_owned(), r#"{"country": "Chad"}"#.to_owned()];
    land(&lake, [vec![], lines, vec![]], 10, 1, 0).await;
    let report = job(&lake).run(date(&today())).await.unwrap();
    let (_, geo) = report.silver[1];
    assert_eq!((geo.lines_read, geo.rows_cleaned, geo.quarantined), (3, 1, 2));
    let key = "topics/0a1b2c3d4e5f.geo/partition=0/0a1b2c3d4e5f.geo+0+0000000000.json";
    for (line, code) in [(2, "not_json"), (3, "missing_field")] {
        let path = dir.join(format!("quarantine/object/{key}/line-{line:010}.json"));
        let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(stored["code"], code, "{stored}");
        assert_eq!(stored["origin"]["key"], key);
        assert_eq!(stored["origin"]["line"], line);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_event_sample_runs_the_job_on_the_real_samples() {
    let dir = temp_lake("analytics-event");
    let lake = local(&dir);
    land(&lake, samples(), 100, 1, 0).await;
    let event: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/eventbridge-daily.json")).unwrap(),
    )
    .unwrap();
    let run_date = run_date_of(&event).unwrap();
    // The event's date is past: its answers are silver as it stood then. Take the
    // samples into silver first and date those commits to that day.
    let catch_up = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!(catch_up.totals().rows_cleaned, 720);
    backdate_silver(&dir, "2026-11-22T12:00:00Z");
    let report = job(&lake).run(run_date).await.unwrap();
    let summary = report.summary();
    assert_eq!(summary["run_date"], "2026-11-22");
    assert_eq!(summary["silver_as_of"], "2026-11-22T23:59:59.999Z", "{summary}");
    assert_eq!(summary["counts"]["rows_cleaned"], 0, "{summary}");
    assert!(published_run(&dir, "2026-11-22").1.join("report.md").exists());
    for (stem, check) in duckdb_cross_check(&dir, "2026-11-22") {
        assert_eq!(check.ours, check.duckdb, "{stem} on the real samples");
        assert_eq!(summary["answer_rows"][&stem], check.ours.len(), "{stem}");
    }
}

/// Dates every silver commit so far to `at`, as if the runs that made them ran then
/// (time travel reads a commit's time from its file, as Delta engines do).
fn backdate_silver(lake: &Path, at: &str) {
    let at: std::time::SystemTime = chrono::DateTime::parse_from_rfc3339(at).unwrap().into();
    for kind in Kind::ALL {
        let log = lake.join(Names { id: ID }.batch_table(kind)).join("_delta_log");
        for entry in std::fs::read_dir(&log).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                std::fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
            }
        }
    }
}

/// Two days of data: a backfill of the first day answers over silver as it stood at
/// its end (the later day's posts left out), each date keeps its own answers, and a
/// date before any silver answers over nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_answers_over_silver_as_it_stood_at_the_end_of_that_day() {
    let dir = temp_lake("analytics-backfill");
    let lake = local(&dir);
    land(&lake, generated(600, 21), 100, 2, 0).await;
    job(&lake).run(date(&today())).await.unwrap();
    backdate_silver(&dir, "2026-11-21T10:00:00Z");
    // The next day's posts (different seed: other users, countries, categories).
    land(&lake, generated(900, 22), 100, 2, 600).await;
    let now = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!(now.silver_as_of, None);
    assert_eq!(now.silver_rows[0].1, 1_500);

    let day_one = job(&lake).run(date("2026-11-21")).await.unwrap();
    assert_eq!(day_one.totals().objects_read, 0, "a backfill still only takes in new bronze");
    assert_eq!(day_one.silver_as_of.unwrap().to_rfc3339(), "2026-11-21T23:59:59.999+00:00");
    assert_eq!(day_one.silver_rows[0].1, 600, "silver as it stood: the first day's pins only");
    for ((kind, then), (_, latest)) in day_one.silver_versions.iter().zip(&now.silver_versions) {
        assert!(then.unwrap() < latest.unwrap(), "{kind}: {then:?} before {latest:?}");
    }
    let report = std::fs::read_to_string(published_run(&dir, "2026-11-21").1.join("report.md")).unwrap();
    assert!(report.contains("time travel"), "{report}");
    assert_ne!(answer_files(&dir, "2026-11-21"), answer_files(&dir, &today()), "each date gives its own answers");

    // The backfill equals a run over a lake holding only the first day's posts.
    let only_day_one = temp_lake("analytics-backfill-ref");
    let reference_lake = local(&only_day_one);
    land(&reference_lake, generated(600, 21), 100, 2, 0).await;
    let reference = job(&reference_lake).run(date(&today())).await.unwrap();
    for question in Question::ALL {
        assert_eq!(day_one.answer(question), reference.answer(question), "{question:?}");
    }

    let before = job(&lake).run(date("2026-11-20")).await.unwrap();
    assert!(before.silver_versions.iter().all(|(_, v)| v.is_none()), "{:?}", before.silver_versions);
    assert!(Question::ALL.iter().all(|q| before.answer(*q).height() == 0));
}

/// A reader that starts from the pointer while the same date is re-run again and
/// again always finds one run's complete set of files.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_during_reruns_never_sees_two_runs_mixed() {
    let dir = temp_lake("analytics-publish");
    let lake = local(&dir);
    land(&lake, generated(300, 5), 100, 1, 0).await;
    job(&lake).run(date(&today())).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let (pointer, run_dir) = published_run(&dir, &today());
                let files: Vec<&str> =
                    pointer["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
                assert_eq!(files.len(), 10, "{pointer}");
                for file in &files {
                    let bytes =
                        std::fs::read(run_dir.join(file)).unwrap_or_else(|e| panic!("{file} of {pointer}: {e}"));
                    if *file == "report.md" {
                        let report = String::from_utf8(bytes).unwrap();
                        assert!(report.contains(pointer["run"].as_str().unwrap()), "report.md of another run");
                    }
                }
                reads += 1;
            }
            reads
        })
    };
    let mut runs = Vec::new();
    for _ in 0..5 {
        runs.push(job(&lake).run(date(&today())).await.unwrap().run_id);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    let (pointer, _) = published_run(&dir, &today());
    assert_eq!(pointer["run"], runs[4].as_str(), "the last run is published");
    // Superseded runs stay an hour for readers still reading them; the directories
    // under the date are runs and the pointer only.
    for entry in std::fs::read_dir(dir.join(format!("analytics/run_date={}", today()))).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(name == "_latest.json" || name.starts_with("run="), "{name}");
    }
}
