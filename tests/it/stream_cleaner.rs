//! The stream cleaner against real storage (a local directory and moto S3): every
//! valid record lands exactly once whatever Lambda does with the batches, and an
//! independent reader (DuckDB's delta extension) sees SPEC §3's columns and types.

use std::path::Path;

use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::delivery::incarnation::{CreationError, StreamCreation};
use pinpipe::lake::Lake;
use pinpipe::lake::delta::Fault;
use pinpipe::lake::marks::Incarnation;
use pinpipe::record::generate::{GenerateOptions, Generator};
use pinpipe::stream::{StreamCleaner, StreamCounts};
use pinpipe_tests::kinesis::{event, sequence_number};
use pinpipe_tests::readers::duckdb_delta;
use pinpipe_tests::{sample_lines, stack, temp_lake};

const ID: &str = "0a1b2c3d4e5f";

fn stream(kind: Kind) -> String {
    Names { id: ID }.stream(kind)
}

fn cleaner(lake: &Path) -> StreamCleaner {
    pinpipe::telemetry::init();
    StreamCleaner::new(Lake::open(lake.to_str().unwrap()).unwrap(), ID)
}

fn table_dir(lake: &Path, kind: Kind) -> String {
    lake.join(Names { id: ID }.stream_table(kind)).display().to_string()
}

/// The real sample records of a kind, each with a real-looking sequence number.
fn real_records(file: &str, shard: u32, range: std::ops::Range<usize>) -> Vec<(String, Vec<u8>)> {
    let lines = sample_lines(file);
    range.map(|i| (sequence_number(shard, i as u64), lines[i].clone().into_bytes())).collect()
}

fn sample_inds(file: &str, field: &str, range: std::ops::Range<usize>) -> Vec<i64> {
    let mut inds: Vec<i64> = sample_lines(file)[range]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()[field].as_i64().unwrap())
        .collect();
    inds.sort();
    inds
}

#[tokio::test]
async fn redelivered_batches_land_once_with_spec_columns() {
    let lake = temp_lake("redeliver");
    let cleaner = cleaner(&lake);
    let batch = event(&stream(Kind::Geo), "shardId-000000000000", &real_records("sample_geo.jsonl", 0, 0..30));
    let (response, counts) = cleaner.handle(&batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (30, 0));
    for _ in 0..3 {
        let (response, counts) = cleaner.handle(&batch).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!((counts.rows_written, counts.duplicates_skipped), (0, 30));
    }
    // A fresh instance (a cold Lambda) reads the mark back from the table.
    let (_, counts) = self::cleaner(&lake).handle(&batch).await;
    assert_eq!(counts.duplicates_skipped, 30);

    let read = duckdb_delta(&table_dir(&lake, Kind::Geo));
    assert_eq!(read.inds, sample_inds("sample_geo.jsonl", "ind", 0..30));
    assert_eq!(
        read.columns,
        [
            ("ind", "BIGINT"),
            ("country", "VARCHAR"),
            ("coordinates", "DOUBLE[]"),
            ("timestamp", "TIMESTAMP WITH TIME ZONE")
        ]
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
    );
    let first = read.first.unwrap();
    assert_eq!(first[1], "Albania");
    assert_eq!(first[2], "[-88.8298, -170.188]");
    assert!(first[3].starts_with("2021-09-26 19:49:23"), "{}", first[3]);
}

#[tokio::test]
async fn recut_and_overlapping_batches_land_once() {
    let lake = temp_lake("recut");
    let cleaner = cleaner(&lake);
    let all = real_records("sample_user.jsonl", 0, 0..60);
    for range in [0..20, 10..40, 35..41, 0..60, 41..60] {
        let (response, _) = cleaner.handle(&event(&stream(Kind::User), "shardId-000000000000", &all[range])).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let read = duckdb_delta(&table_dir(&lake, Kind::User));
    assert_eq!(read.inds, sample_inds("sample_user.jsonl", "ind", 0..60));
    assert_eq!(
        read.columns,
        [("ind", "BIGINT"), ("user_name", "VARCHAR"), ("age", "BIGINT"), ("date_joined", "TIMESTAMP WITH TIME ZONE")]
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
    );
}

#[tokio::test]
async fn four_shards_append_to_one_table_at_once() {
    let lake = temp_lake("shards");
    let posts: Vec<_> = Generator::new(GenerateOptions { posts: 200, seed: 11, resend: false }).posts().collect();
    let shard_events: Vec<_> = (0..4u32)
        .map(|shard| {
            let records: Vec<_> = posts[shard as usize * 50..(shard as usize + 1) * 50]
                .iter()
                .enumerate()
                .map(|(i, p)| (sequence_number(shard, i as u64), p.pin.clone().into_bytes()))
                .collect();
            event(&stream(Kind::Pin), &format!("shardId-00000000000{shard}"), &records)
        })
        .collect();
    // Four Lambda instances, one per shard, twice over (the second round is redelivery).
    for _ in 0..2 {
        let cleaners: Vec<_> = (0..4).map(|_| cleaner(&lake)).collect();
        let runs = cleaners.iter().zip(&shard_events).map(|(c, e)| c.handle(e));
        for (response, _) in futures::future::join_all(runs).await {
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
        }
    }
    let read = duckdb_delta(&table_dir(&lake, Kind::Pin));
    assert_eq!(read.inds, (0..200).collect::<Vec<_>>());
    assert_eq!(read.columns.len(), 11);
    assert_eq!(read.columns[4], ("follower_count".to_owned(), "BIGINT".to_owned()));
}

#[tokio::test]
async fn the_same_batch_delivered_twice_at_once_lands_once() {
    let lake = temp_lake("twice");
    let batch = event(&stream(Kind::Geo), "shardId-000000000003", &real_records("sample_geo.jsonl", 3, 0..40));
    let (a, b) = (cleaner(&lake), cleaner(&lake));
    let ((ra, ca), (rb, cb)) = tokio::join!(a.handle(&batch), b.handle(&batch));
    assert!(ra.batch_item_failures.is_empty() && rb.batch_item_failures.is_empty());
    assert_eq!(ca.rows_written + cb.rows_written, 40, "{ca:?} {cb:?}");
    assert_eq!(duckdb_delta(&table_dir(&lake, Kind::Geo)).rows, 40);
}

#[tokio::test]
async fn a_crash_between_data_files_and_commit_leaves_no_rows_and_the_retry_commits_once() {
    let lake = temp_lake("crash");
    let batch = event(&stream(Kind::User), "shardId-000000000000", &real_records("sample_user.jsonl", 0, 0..25));
    let crashing = cleaner(&lake).with_fault(Some(Fault::AfterDataFilesBeforeCommit));
    let (response, counts) = crashing.handle(&batch).await;
    let failures: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(failures, vec![sequence_number(0, 0)], "the whole shard batch is retried from its first record");
    assert_eq!(counts.failed, 25);
    let table = table_dir(&lake, Kind::User);
    let orphans = std::fs::read_dir(&table)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "parquet"))
        .count();
    assert!(orphans > 0, "data files were written before the crash");
    assert_eq!(duckdb_delta(&table).rows, 0, "nothing visible without a commit");

    let (response, counts) = cleaner(&lake).handle(&batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(counts.rows_written, 25);
    cleaner(&lake).handle(&batch).await;
    assert_eq!(duckdb_delta(&table).inds, sample_inds("sample_user.jsonl", "ind", 0..25));
}

#[tokio::test]
async fn poison_records_are_quarantined_and_the_rest_lands() {
    let lake = temp_lake("poison");
    let mut records = real_records("sample_pin.jsonl", 0, 0..5);
    records.insert(1, (sequence_number(0, 100), b"not json".to_vec()));
    records.insert(3, (sequence_number(0, 101), br#"{"index": "seven", "title": "x"}"#.to_vec()));
    records.push((sequence_number(0, 102), vec![0xff, 0xfe, 0x00]));
    // Keep sequence numbers increasing in delivery order, as Kinesis does.
    for (i, record) in records.iter_mut().enumerate() {
        record.0 = sequence_number(0, i as u64);
    }
    let (response, counts) = cleaner(&lake).handle(&event(&stream(Kind::Pin), "shardId-000000000000", &records)).await;
    assert!(response.batch_item_failures.is_empty(), "poison is quarantined, not retried");
    assert_eq!(
        counts,
        StreamCounts { records_in: 8, rows_written: 5, quarantined: 3, duplicates_skipped: 0, failed: 0 }
    );
    assert_eq!(duckdb_delta(&table_dir(&lake, Kind::Pin)).rows, 5);

    let quarantined = |n: u64| -> serde_json::Value {
        let path = lake.join(format!(
            "quarantine/stream/{}/shardId-000000000000/{}.json",
            stream(Kind::Pin),
            sequence_number(0, n)
        ));
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    };
    assert_eq!(quarantined(1)["code"], "not_json");
    assert_eq!(quarantined(1)["original"], "not json");
    assert_eq!(quarantined(3)["code"], "wrong_type");
    assert_eq!(quarantined(3)["field"], "index");
    assert_eq!(quarantined(7)["encoding"], "base64");
    assert_eq!(quarantined(7)["origin"]["sequence_number"], sequence_number(0, 7));
}

#[tokio::test]
async fn an_s3_lake_on_moto_lands_each_record_once() {
    let s3 = stack::s3().await;
    let bucket = stack::unique_name("lake");
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{}", stack::not_running("moto S3", e)));
    let lake = Lake::open(&format!("s3://{bucket}/lake")).unwrap();
    let batch = event(&stream(Kind::Pin), "shardId-000000000001", &real_records("sample_pin.jsonl", 1, 0..40));
    let (a, b) = (StreamCleaner::new(lake.clone(), ID), StreamCleaner::new(lake.clone(), ID));
    let ((ra, _), (rb, _)) = tokio::join!(a.handle(&batch), b.handle(&batch));
    assert!(ra.batch_item_failures.is_empty() && rb.batch_item_failures.is_empty(), "{ra:?} {rb:?}");
    let (_, counts) = a.handle(&batch).await;
    assert_eq!(counts.duplicates_skipped, 40);
    let read = duckdb_delta(&format!("s3://{bucket}/lake/{}", Names { id: ID }.stream_table(Kind::Pin)));
    assert_eq!(read.inds, sample_inds("sample_pin.jsonl", "index", 0..40));
}

#[tokio::test]
async fn marks_survive_another_engines_checkpoint_log_cleanup_compaction_and_vacuum() {
    let lake = temp_lake("upkeep");
    let table = table_dir(&lake, Kind::Geo);
    let records = real_records("sample_geo.jsonl", 0, 0..80);
    let shard0 = |range: std::ops::Range<usize>| event(&stream(Kind::Geo), "shardId-000000000000", &records[range]);
    let shard1 = |range: std::ops::Range<usize>| event(&stream(Kind::Geo), "shardId-000000000001", &records[range]);
    let warm = cleaner(&lake);
    // Shard 0 commits, shard 1 commits after it.
    for batch in [shard0(0..20), shard1(20..40)] {
        let (response, counts) = warm.handle(&batch).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(counts.rows_written, 20);
    }
    // Another engine checkpoints and removes every commit before the checkpoint, as
    // log-retention cleanup does: the commits that wrote the marks are gone.
    let upkeep = pinpipe_tests::delta_upkeep(&table, &["checkpoint", "clean-log"]);
    assert_eq!(upkeep["log_files_removed"], 2, "{upkeep}");
    // The other engine reads the shard's commit counter back from the checkpoint too.
    let txn =
        pinpipe_tests::delta_upkeep(&table, &[&format!("txn=kinesis/{}/shardId-000000000000", stream(Kind::Geo))]);
    assert_eq!(txn[format!("txn=kinesis/{}/shardId-000000000000", stream(Kind::Geo))], 1, "{txn}");

    // Redelivered on a warm instance (its snapshot predates the cleanup) and on a cold
    // one: nothing lands twice, and neither needs a retry.
    for instance in [&warm, &cleaner(&lake)] {
        let (response, counts) = instance.handle(&shard0(0..20)).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        assert_eq!((counts.rows_written, counts.duplicates_skipped), (0, 20));
    }
    let (response, counts) = warm.handle(&shard0(10..50)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (30, 10));

    // Then the other engine compacts and vacuums with zero retention.
    let upkeep = pinpipe_tests::delta_upkeep(&table, &["compact", "vacuum"]);
    assert!(upkeep["files_compacted"].as_u64().unwrap() >= 3, "{upkeep}");
    for instance in [&warm, &cleaner(&lake)] {
        let (response, counts) = instance.handle(&shard1(20..40)).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        assert_eq!((counts.rows_written, counts.duplicates_skipped), (0, 20));
    }
    let (response, counts) = cleaner(&lake).handle(&shard1(30..80)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (40, 10));
    // Shard 0 delivered records 0..50, shard 1 records 20..80: each delivery once.
    let mut expected = sample_inds("sample_geo.jsonl", "ind", 0..50);
    expected.extend(sample_inds("sample_geo.jsonl", "ind", 20..80));
    expected.sort();
    assert_eq!(duckdb_delta(&table).inds, expected);
}

#[tokio::test]
async fn marks_survive_pinpipe_maintain_with_zero_retention() {
    let lake = temp_lake("maintain-marks");
    let table = table_dir(&lake, Kind::User);
    let records = real_records("sample_user.jsonl", 0, 0..60);
    let shard = |n: u32, range: std::ops::Range<usize>| {
        event(&stream(Kind::User), &format!("shardId-00000000000{n}"), &records[range])
    };
    let warm = cleaner(&lake);
    // One record per commit, two shards alternating.
    for i in 0..30 {
        let (response, _) = warm.handle(&shard((i % 2) as u32, i..i + 1)).await;
        assert!(response.batch_item_failures.is_empty());
    }
    // Configuration refuses a vacuum retention that could delete an append in flight:
    // `pinpipe maintain` names the variable and maintains nothing.
    let out = std::process::Command::new(pinpipe_tests::pinpipe_bin())
        .args(["maintain", "--lake", lake.to_str().unwrap(), "--id", ID])
        .args(["--log-retention-days", "0", "--vacuum-retention-days", "0", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("PINPIPE_VACUUM_RETENTION_DAYS"), "{stderr}");
    // With no append in flight, the library maintains with zero retention (time compressed).
    let lake_store = Lake::open(lake.to_str().unwrap()).unwrap();
    let all = pinpipe::maintenance::maintain_all(
        &lake_store,
        Names { id: ID },
        pinpipe::maintenance::Retention::days(0.0, 0.0),
    )
    .await;
    let reports = serde_json::to_value(all.into_result().unwrap()).unwrap();
    let reports = reports.as_array().unwrap();
    let report = reports.iter().find(|r| r["table"] == Names { id: ID }.stream_table(Kind::User));
    let report = report.unwrap_or_else(|| panic!("no report for the user table: {reports:?}"));
    assert_eq!((report["files_before"].as_u64(), report["files_after"].as_u64()), (Some(30), Some(1)), "{report}");
    assert!(report["log_files_removed"].as_u64().unwrap() >= 30, "{report}");
    assert_eq!(report["files_vacuumed"], 30, "{report}");
    // Every commit that wrote a mark is gone; the marks are not.
    for instance in [&warm, &cleaner(&lake)] {
        // Shard 0 landed the even records up to 28, shard 1 the odd ones up to 29.
        for n in 0..2 {
            let (response, counts) = instance.handle(&shard(n, 0..29 + n as usize)).await;
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
            assert_eq!(counts.rows_written, 0, "shard {n}");
        }
    }
    let (response, counts) = cleaner(&lake).handle(&shard(0, 0..60)).await;
    assert!(response.batch_item_failures.is_empty());
    // Shard 0 had landed every even record up to 28, so its mark is at record 28.
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (31, 29));
    let read = duckdb_delta(&table);
    assert_eq!(read.rows, 61);
    let mut expected = sample_inds("sample_user.jsonl", "ind", 0..30);
    expected.extend(sample_inds("sample_user.jsonl", "ind", 29..60));
    expected.sort();
    assert_eq!(read.inds, expected);
}

/// `DescribeStreamSummary` as the account answers it: scripted answers in turn, then
/// `then` for ever; counts the questions.
struct Creation {
    script: std::sync::Mutex<std::collections::VecDeque<Result<Incarnation, CreationError>>>,
    then: Result<Incarnation, CreationError>,
    asked: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Creation {
    fn new(
        script: impl IntoIterator<Item = Result<Incarnation, CreationError>>,
        then: Result<Incarnation, CreationError>,
    ) -> (Creation, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        let asked = std::sync::Arc::default();
        let creation = Creation {
            script: std::sync::Mutex::new(script.into_iter().collect()),
            then,
            asked: std::sync::Arc::clone(&asked),
        };
        (creation, asked)
    }
}

fn throttled() -> Result<Incarnation, CreationError> {
    Err(CreationError { throttled: true, message: "LimitExceededException: Rate exceeded".into() })
}

fn unreachable() -> Result<Incarnation, CreationError> {
    Err(CreationError { throttled: false, message: "dispatch failure: connection refused".into() })
}

#[async_trait::async_trait]
impl StreamCreation for Creation {
    async fn created(&self, _: &str) -> Result<Incarnation, CreationError> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.script.lock().unwrap().pop_front().unwrap_or_else(|| self.then.clone())
    }
}

fn asked(counter: &std::sync::atomic::AtomicU32) -> u32 {
    counter.load(std::sync::atomic::Ordering::SeqCst)
}

/// `cargo lambda invoke stream-cleaner` with no Kinesis beside it: fresh records land
/// (their commits labelled with no incarnation) and a redelivery is still skipped.
#[tokio::test]
async fn without_kinesis_to_ask_fresh_records_land_and_redeliveries_are_skipped() {
    let lake = temp_lake("no-kinesis");
    let (creation, _) = Creation::new([], unreachable());
    let cleaner = cleaner(&lake).with_stream_creation(creation);
    let records = real_records("sample_geo.jsonl", 0, 0..30);
    let first = event(&stream(Kind::Geo), "shardId-000000000000", &records[..20]);
    let (response, counts) = cleaner.handle(&first).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (20, 0));
    let recut = event(&stream(Kind::Geo), "shardId-000000000000", &records[10..30]);
    let (response, counts) = cleaner.handle(&recut).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (10, 10));
    assert_eq!(duckdb_delta(&table_dir(&lake, Kind::Geo)).inds, sample_inds("sample_geo.jsonl", "ind", 0..30));
}

/// A fresh batch asks at most once a minute (to label its commit); a batch that
/// repeats records asks afresh, and asks again while throttled before failing its shard.
#[tokio::test]
async fn kinesis_is_asked_only_when_the_answer_decides_and_throttling_is_waited_out() {
    let lake = temp_lake("throttled-describe");
    let created = Ok(Incarnation(1_700_000_000_000));
    let (creation, questions) = Creation::new([created.clone(), throttled(), throttled()], created.clone());
    let cleaner = cleaner(&lake).with_stream_creation(creation);
    let records = real_records("sample_pin.jsonl", 1, 0..40);
    let shard = "shardId-000000000001";
    for (range, written) in [(0..10, 10), (10..20, 10), (20..30, 10)] {
        let (response, counts) = cleaner.handle(&event(&stream(Kind::Pin), shard, &records[range])).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        assert_eq!(counts.rows_written, written);
    }
    assert_eq!(asked(&questions), 1, "three fresh batches within a minute: one question, to label the first");
    // A redelivery decides on the answer: asked afresh, throttled twice, answered the third time.
    let (response, counts) = cleaner.handle(&event(&stream(Kind::Pin), shard, &records[0..40])).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!((counts.rows_written, counts.duplicates_skipped), (10, 30));
    assert_eq!(asked(&questions), 4);

    // Throttled for good: the shard fails after a few questions, and lands on a later try.
    let (creation, questions) = Creation::new([], throttled());
    let cleaner = self::cleaner(&lake).with_stream_creation(creation);
    let (response, counts) = cleaner.handle(&event(&stream(Kind::Pin), shard, &records[30..40])).await;
    assert_eq!(response.batch_item_failures.len(), 1, "{response:?}");
    assert_eq!(counts.failed, 10);
    assert_eq!(asked(&questions), 5, "the deciding question, asked 5 times");
    let (creation, _) = Creation::new([], created);
    let (response, counts) = self::cleaner(&lake)
        .with_stream_creation(creation)
        .handle(&event(&stream(Kind::Pin), shard, &records[30..40]))
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(counts.duplicates_skipped, 10);
    assert_eq!(duckdb_delta(&table_dir(&lake, Kind::Pin)).rows, 40);
}

/// A stream recreated under the same name restarts its sequence numbers below the
/// mark: its records land after the old ones', each once.
#[tokio::test]
async fn a_recreated_streams_restarted_numbers_land_once() {
    let lake = temp_lake("recreated-scripted");
    let (old, new) = (Ok(Incarnation(1_000)), Ok(Incarnation(2_000)));
    let records = real_records("sample_user.jsonl", 0, 0..30);
    let shard = "shardId-000000000000";
    let (creation, _) = Creation::new([], old);
    let (response, _) =
        cleaner(&lake).with_stream_creation(creation).handle(&event(&stream(Kind::User), shard, &records[0..20])).await;
    assert!(response.batch_item_failures.is_empty());
    // The new stream's records have the old stream's first numbers again.
    let restarted: Vec<_> =
        records[20..30].iter().zip(&records[0..10]).map(|((_, data), (seq, _))| (seq.clone(), data.clone())).collect();
    let (creation, _) = Creation::new([], new);
    let cleaner = cleaner(&lake).with_stream_creation(creation);
    for _ in 0..2 {
        let (response, _) = cleaner.handle(&event(&stream(Kind::User), shard, &restarted)).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    assert_eq!(duckdb_delta(&table_dir(&lake, Kind::User)).inds, sample_inds("sample_user.jsonl", "ind", 0..30));
}
