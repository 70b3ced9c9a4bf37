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
use pinpipe::lake::Lake;
use pinpipe::record::generate::{GenerateOptions, Generator};
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
    let (_, geo) = &report.silver[1];
    assert_eq!((geo.lines_read, geo.rows_cleaned, geo.quarantined), (3, 1, 2));
    let key = "topics/0a1b2c3d4e5f.geo/partition=0/0a1b2c3d4e5f.geo+0+0000000000.json";
    // One quarantine object for the bronze object: a JSON line per bad line.
    let text = std::fs::read_to_string(dir.join(format!("quarantine/object/{key}.jsonl"))).unwrap();
    let stored: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(stored.len(), 2, "{text}");
    for (stored, (line, code)) in stored.iter().zip([(2, "not_json"), (3, "missing_field")]) {
        assert_eq!(stored["code"], code, "{stored}");
        assert_eq!(stored["origin"]["key"], key);
        assert_eq!(stored["origin"]["line"], line);
    }
    assert!(!dir.join(format!("quarantine/object/{key}")).exists(), "no object per line");
}

/// A bronze object of 5,000 junk lines: one quarantine object, not 5,000 PUTs.
#[tokio::test(flavor = "multi_thread")]
async fn a_junk_object_is_quarantined_in_one_put() {
    let dir = temp_lake("analytics-junk");
    let counts = std::sync::Arc::new(pinpipe_tests::counting::Counts::default());
    let lake =
        local(&dir).with_store_layer(|inner| pinpipe_tests::counting::CountingStore::wrap(inner, counts.clone()));
    let junk: Vec<String> = (0..5_000).map(|i| format!("junk line {i}")).collect();
    land(&lake, [vec![], junk, vec![]], 10_000, 1, 0).await;
    counts.reset();
    let report = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!(report.silver[1].1.quarantined, 5_000);
    let puts = counts.puts.load(std::sync::atomic::Ordering::SeqCst);
    assert!(puts < 60, "{puts} PUTs for the run ({})", counts.summary());
    let key = "topics/0a1b2c3d4e5f.geo/partition=0/0a1b2c3d4e5f.geo+0+0000000000.json";
    let text = std::fs::read_to_string(dir.join(format!("quarantine/object/{key}.jsonl"))).unwrap();
    assert_eq!(text.lines().count(), 5_000);
    assert!(text.lines().last().unwrap().contains(r#""line":5000"#), "{}", text.lines().last().unwrap());
}

/// A bronze object listed but gone when read is quarantined as vanished and passed;
/// one that cannot be read stops its partition alone, said in the report, and the
/// next run takes it in. The other partitions and kinds go on.
#[tokio::test(flavor = "multi_thread")]
async fn a_vanished_or_unreadable_bronze_object_does_not_stop_the_run() {
    let dir = temp_lake("analytics-unreadable");
    let counts = std::sync::Arc::new(pinpipe_tests::counting::Counts::default());
    let lake =
        local(&dir).with_store_layer(|inner| pinpipe_tests::counting::CountingStore::wrap(inner, counts.clone()));
    // 240 sample records per kind, 40 an object, in 2 partitions.
    land(&lake, samples(), 40, 2, 0).await;
    let (gone, unreadable) = ("0a1b2c3d4e5f.pin+0+0000000000.json", "0a1b2c3d4e5f.geo+1+0000000040.json");
    counts.failing_gets.lock().unwrap().extend([(gone.to_owned(), true), (unreadable.to_owned(), false)]);
    let report = job(&lake).run(date(&today())).await.unwrap();
    let totals = report.totals();
    assert_eq!((totals.objects_vanished, totals.partitions_stopped), (1, 1), "{totals:?}");
    assert_eq!(report.silver_rows[2].1, 240, "user: every row");
    assert_eq!(report.silver_rows[0].1, 200, "pin: all but the vanished object's 40");
    assert!(report.silver_rows[1].1 < 240, "geo: partition 1 stopped at its unreadable object");
    assert!(
        report.notices.iter().any(|n| n.contains("partition 1 of 0a1b2c3d4e5f.geo stopped")),
        "{:?}",
        report.notices
    );
    let quarantined = std::fs::read_to_string(
        dir.join(format!("quarantine/object/topics/0a1b2c3d4e5f.pin/partition=0/{gone}.jsonl")),
    )
    .unwrap();
    assert!(quarantined.contains(r#""code":"vanished""#), "{quarantined}");
    let (_, run_dir) = published_run(&dir, &today());
    let markdown = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(markdown.contains("stopped and waits for the next run"), "{markdown}");

    // The object can be read again: the next run takes it in; the vanished one stays passed.
    counts.failing_gets.lock().unwrap().retain(|(key, _)| key != unreadable);
    let next = job(&lake).run(date(&today())).await.unwrap();
    assert_eq!(next.totals().partitions_stopped, 0, "{:?}", next.totals());
    assert_eq!((next.silver_rows[0].1, next.silver_rows[1].1), (200, 240));
    assert!(next.notices.is_empty(), "{:?}", next.notices);
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
    // Said, not silent: each kind's silver begins on 2026-11-21.
    assert_eq!(before.notices.len(), 3, "{:?}", before.notices);
    assert!(before.notices.iter().all(|n| n.contains("first commit was on 2026-11-21")), "{:?}", before.notices);
    let report = std::fs::read_to_string(published_run(&dir, "2026-11-20").1.join("report.md")).unwrap();
    assert!(report.contains("What these answers do not cover") && report.contains("2026-11-21"), "{report}");
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
                assert_eq!(files.len(), 11, "{pointer}");
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
    // The date's folder holds the pointer and the published run's files, nothing
    // else; the runs (superseded ones kept an hour for readers still reading them) sit
    // under analytics/_runs/.
    let mut shown: Vec<String> = std::fs::read_dir(dir.join(format!("analytics/run_date={}", today())))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    shown.sort();
    let mut expected: Vec<String> =
        pointer["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
    expected.push("_latest.json".to_owned());
    expected.sort();
    assert_eq!(shown, expected);
    let shown_report = std::fs::read_to_string(dir.join(format!("analytics/run_date={}/report.md", today()))).unwrap();
    assert!(shown_report.contains(runs[4].as_str()), "the folder shows the published run");
    assert!(dir.join(format!("analytics/_runs/run_date={}/run={}", today(), runs[4])).is_dir());
}

/// An older run that finishes late (the CLI beside the schedule, a retry) never
/// replaces a newer run's answers; of two runs publishing at once, the one that
/// started later is published; a reader globbing the answers as users do sees one
/// run per date.
#[tokio::test(flavor = "multi_thread")]
async fn an_older_run_never_publishes_over_a_newer_one() {
    use pinpipe::analytics::output::{self, Publication};
    let dir = temp_lake("analytics-late");
    let lake = local(&dir);
    land(&lake, samples(), 100, 1, 0).await;
    let day = date(&today());
    let older = job(&lake).run(day).await.unwrap();
    let newer = job(&lake).run(day).await.unwrap();
    assert!(older.run_id < newer.run_id && older.superseded_by.is_none() && newer.superseded_by.is_none());
    // The older run publishing again now, as if it had only just finished.
    let late = output::Published {
        run_date: today(),
        run: older.run_id.clone(),
        prefix: older.output_prefix.clone(),
        files: vec!["report.md".to_owned()],
        silver_as_of: None,
        silver_versions: Default::default(),
    };
    assert_eq!(output::publish(&lake, day, &late).await.unwrap(), Publication::Superseded { by: newer.run_id.clone() });
    assert_eq!(published_run(&dir, &today()).0["run"], newer.run_id.as_str());

    // Two runs at once: the later-started one ends published, whichever finished first.
    let (first, second) = (job(&lake), job(&lake));
    let (a, b) = tokio::join!(first.run(day), second.run(day));
    let (a, b) = (a.unwrap(), b.unwrap());
    let later = a.run_id.clone().max(b.run_id.clone());
    assert_eq!(published_run(&dir, &today()).0["run"], later.as_str());
    let shown = std::fs::read_to_string(dir.join(format!("analytics/run_date={}/report.md", today()))).unwrap();
    assert!(shown.contains(&later), "the folder shows the published run");

    // Another date beside it; then the answers as a user globs them, with DuckDB.
    job(&lake).run(date("2026-11-20")).await.unwrap();
    let script = r#"
import duckdb, json, sys
lake = sys.argv[1]
con = duckdb.connect()
files = con.sql(f"SELECT count(*) FROM glob('{lake}/analytics/run_date={sys.argv[2]}/*.parquet')").fetchone()[0]
per_date = con.sql(f"SELECT run_date::VARCHAR, count(*) FROM read_parquet('{lake}/analytics/*/q6_users_joined_by_year.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY 1").fetchall()
everything = con.sql(f"SELECT count(*) FROM glob('{lake}/analytics/*/*.parquet')").fetchone()[0]
print(json.dumps({"files": files, "per_date": per_date, "everything": everything}))
"#;
    let out = Command::new(python()).args(["-c", script, dir.to_str().unwrap(), &today()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["files"], 9, "{read}");
    assert_eq!(read["everything"], 18, "nine answers per date, two dates: {read}");
    let q6_rows = newer.answer(Question::Q6).height();
    // The past date's answers are empty (no silver then); today's are one run's.
    assert_eq!(read["per_date"], serde_json::json!([[today(), q6_rows]]), "{read}");
}
