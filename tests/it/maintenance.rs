//! Table maintenance (SPEC §11) and writer marks over a long log, on real storage (a
//! local directory and moto S3), read back with DuckDB's delta extension: compaction
//! never fails or loses a concurrent append, vacuum removes what compaction replaced
//! and what crashes left, and a writer idle behind a long log finds its mark in a
//! bounded number of requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::lake::Lake;
use pinpipe::lake::delta::Fault;
use pinpipe::maintenance::{self, Retention};
use pinpipe::record::generate::{GenerateOptions, Generator};
use pinpipe::stream::StreamCleaner;
use pinpipe_tests::counting::{CountingStore, Counts};
use pinpipe_tests::kinesis::{event, sequence_number};
use pinpipe_tests::readers::duckdb_delta;
use pinpipe_tests::{stack, temp_lake};

const ID: &str = "0a1b2c3d4e5f";

fn names() -> Names<'static> {
    Names { id: ID }
}

fn shard_id(n: usize) -> String {
    format!("shardId-00000000000{n}")
}

/// Each of `shards` shards delivers its share of `posts` pins in batches of 1–5
/// records, and every third batch is delivered again (Lambda's redelivery).
fn shard_batches(posts: usize, shards: usize) -> Vec<Vec<aws_lambda_events::event::kinesis::KinesisEvent>> {
    let pins: Vec<_> = Generator::new(GenerateOptions { posts: posts as u64, seed: 3, resend: false })
        .posts()
        .map(|p| p.pin)
        .collect();
    let per_shard = posts / shards;
    (0..shards)
        .map(|shard| {
            let records: Vec<_> = pins[shard * per_shard..(shard + 1) * per_shard]
                .iter()
                .enumerate()
                .map(|(i, pin)| (sequence_number(shard as u32, i as u64), pin.clone().into_bytes()))
                .collect();
            let mut events = Vec::new();
            let mut start = 0;
            for n in 0.. {
                if start == records.len() {
                    break;
                }
                let end = (start + 1 + n % 5).min(records.len());
                let batch = event(&names().stream(Kind::Pin), &shard_id(shard), &records[start..end]);
                if n % 3 == 2 {
                    events.push(batch.clone());
                }
                events.push(batch);
                start = end;
            }
            events
        })
        .collect()
}

/// Four shards append while maintenance runs again and again: every append succeeds,
/// every record lands once, and the live file count drops.
async fn compaction_races_four_appending_shards(lake: Lake, table_uri: String, retention: Retention) {
    let relative = names().stream_table(Kind::Pin);
    let done = AtomicBool::new(false);
    let appenders = async {
        let runs = shard_batches(200, 4).into_iter().map(|events| {
            let cleaner = StreamCleaner::new(lake.clone(), ID);
            async move {
                for event in &events {
                    let (response, _) = cleaner.handle(event).await;
                    assert!(response.batch_item_failures.is_empty(), "an append failed: {response:?}");
                }
            }
        });
        futures::future::join_all(runs).await;
        done.store(true, Ordering::SeqCst);
    };
    let maintainer = async {
        let mut runs = 0;
        while !done.load(Ordering::SeqCst) {
            match maintenance::maintain(&lake, &relative, Kind::Pin, retention).await {
                Ok(_) => runs += 1,
                // Maintenance may lose a race to itself or an append and try again
                // later; what it must never do is fail an append.
                Err(e) => eprintln!("maintenance run failed, retried next time: {e}"),
            }
        }
        runs
    };
    let ((), runs) = tokio::join!(appenders, maintainer);
    assert!(runs >= 2, "maintenance ran {runs} times during the appends");
    let report = maintenance::maintain(&lake, &relative, Kind::Pin, retention).await.unwrap().unwrap();
    assert!(report.files_after < report.files_before || report.files_before <= 1, "{report:?}");
    assert_eq!(report.files_after, 1, "{report:?}");
    let read = duckdb_delta(&table_uri);
    assert_eq!(read.inds, (0..200).collect::<Vec<_>>(), "every record exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_while_four_shards_append_on_a_local_lake() {
    let dir = temp_lake("compact-race");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let table = dir.join(names().stream_table(Kind::Pin)).display().to_string();
    compaction_races_four_appending_shards(lake, table, template_retention()).await;
}

/// The shortest retentions configuration accepts: the log cleaned up to the newest
/// checkpoint at every run while the shards append, vacuum after an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_while_four_shards_append_with_the_shortest_retentions() {
    let dir = temp_lake("compact-race-short");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let table = dir.join(names().stream_table(Kind::Pin)).display().to_string();
    let shortest = Retention::checked(0.0, 1.0 / 24.0, maintenance::DEFAULT_COMPACT_TARGET_BYTES).unwrap();
    compaction_races_four_appending_shards(lake, table, shortest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_while_four_shards_append_on_moto_s3() {
    let s3 = stack::s3().await;
    let bucket = stack::unique_name("compact");
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{}", stack::not_running("moto S3", e)));
    let lake = Lake::open(&format!("s3://{bucket}/lake")).unwrap();
    let table = format!("s3://{bucket}/lake/{}", names().stream_table(Kind::Pin));
    compaction_races_four_appending_shards(lake, table, template_retention()).await;
}

/// The template's default retentions (TableLogRetentionDays, TableVacuumRetentionDays),
/// read from template.yaml, checked as the function checks them.
fn template_retention() -> Retention {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let default_of = |parameter: &str| -> f64 {
        let at = template.find(&format!("\n  {parameter}:\n")).unwrap_or_else(|| panic!("no parameter {parameter}"));
        let line = template[at..].lines().find(|l| l.trim_start().starts_with("Default:")).unwrap();
        line.trim_start().trim_start_matches("Default:").trim().trim_matches('"').parse().unwrap()
    };
    let (log, vacuum) = (default_of("TableLogRetentionDays"), default_of("TableVacuumRetentionDays"));
    Retention::checked(log, vacuum, maintenance::DEFAULT_COMPACT_TARGET_BYTES)
        .expect("the template's defaults are accepted")
}

/// Vacuum with the template's retentions removes nothing young: not the files a
/// compaction just replaced (a reader of an older version still needs them), not the
/// data files of an append that has not committed yet.
#[tokio::test]
async fn a_vacuum_with_the_templates_retentions_keeps_young_files_and_an_append_in_flight() {
    let dir = temp_lake("vacuum-young");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let table = dir.join(names().stream_table(Kind::Pin));
    let events = shard_batches(30, 1).remove(0);
    let cleaner = StreamCleaner::new(lake.clone(), ID);
    for event in &events[..events.len() - 1] {
        assert!(cleaner.handle(event).await.0.batch_item_failures.is_empty());
    }
    // An append in flight: its data files are written, its commit is not (yet).
    let in_flight = StreamCleaner::new(lake.clone(), ID).with_fault(Some(Fault::AfterDataFilesBeforeCommit));
    assert_eq!(in_flight.handle(&events[events.len() - 1]).await.0.batch_item_failures.len(), 1);
    let before = parquet_files(&table);
    let report = maintenance::maintain(&lake, &names().stream_table(Kind::Pin), Kind::Pin, template_retention())
        .await
        .unwrap()
        .unwrap();
    assert!(report.files_compacted > 1, "{report:?}");
    assert_eq!(report.files_vacuumed, 0, "nothing young is vacuumed: {report:?}");
    assert_eq!(parquet_files(&table), before + report.files_written as usize, "every file is still there");
    // The append goes on and commits; every record is there once.
    assert!(cleaner.handle(&events[events.len() - 1]).await.0.batch_item_failures.is_empty());
    assert_eq!(duckdb_delta(table.to_str().unwrap()).inds, (0..30).collect::<Vec<_>>());
}

fn parquet_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "parquet"))
        .count()
}

#[tokio::test]
async fn vacuum_removes_compacted_files_and_crash_orphans() {
    let dir = temp_lake("vacuum");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let table = dir.join(names().stream_table(Kind::Pin));
    let events = shard_batches(40, 1).remove(0);
    // A crash between writing data files and committing leaves orphans.
    let crashing = StreamCleaner::new(lake.clone(), ID).with_fault(Some(Fault::AfterDataFilesBeforeCommit));
    let (response, _) = crashing.handle(&events[0]).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let orphans = parquet_files(&table);
    assert!(orphans >= 1);
    let cleaner = StreamCleaner::new(lake.clone(), ID);
    for event in &events {
        assert!(cleaner.handle(event).await.0.batch_item_failures.is_empty());
    }
    let committed = parquet_files(&table) - orphans;
    let report = maintenance::maintain(&lake, &names().stream_table(Kind::Pin), Kind::Pin, Retention::days(7.0, 0.0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.files_before as usize, committed, "{report:?}");
    assert_eq!((report.files_compacted as usize, report.files_written), (committed, 1), "{report:?}");
    assert_eq!(report.files_vacuumed as usize, committed + orphans, "replaced files and orphans: {report:?}");
    assert_eq!(parquet_files(&table), 1, "only the live file is left");
    assert_eq!(duckdb_delta(table.to_str().unwrap()).inds, (0..40).collect::<Vec<_>>());
    // Appends go on after vacuum, and a second run finds nothing to do.
    let more = shard_batches(40, 1).remove(0);
    assert_eq!(cleaner.handle(&more[0]).await.1.rows_written, 0, "already landed");
    let again = maintenance::maintain(&lake, &names().stream_table(Kind::Pin), Kind::Pin, Retention::days(7.0, 0.0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.files_compacted, again.files_after), (0, 1), "{again:?}");
    assert_eq!(parquet_files(&table), 1);
}

/// Writes commit files of another writer straight into the log: a cheap stand-in for
/// a long history (each a txn of that writer, as its real commits carry).
fn write_other_writers_commits(table: &std::path::Path, versions: std::ops::RangeInclusive<u64>) {
    let log = table.join("_delta_log");
    let app_id = format!("kinesis/{}/shardId-000000000009", names().stream(Kind::Geo));
    for version in versions {
        let commit = format!(
            "{{\"commitInfo\":{{\"timestamp\":1700000000000,\"operation\":\"WRITE\",\"operationParameters\":{{\"mode\":\"Append\"}}}}}}\n\
             {{\"txn\":{{\"appId\":\"{app_id}\",\"version\":{version},\"lastUpdated\":1700000000000}}}}\n"
        );
        std::fs::write(log.join(format!("{version:020}.json")), commit).unwrap();
    }
}

fn latest_version(table: &std::path::Path) -> u64 {
    std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".json")?.parse().ok())
        .max()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_idle_behind_50000_versions_commits_with_bounded_requests() {
    let dir = temp_lake("idle");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let stream = names().stream(Kind::Geo);
    let lines = pinpipe_tests::sample_lines("sample_geo.jsonl");
    let records: Vec<_> = (0..40).map(|i| (sequence_number(0, i as u64), lines[i].clone().into_bytes())).collect();
    let idle = shard_id(0);
    assert!(
        StreamCleaner::new(lake.clone(), ID)
            .handle(&event(&stream, &idle, &records[0..10]))
            .await
            .0
            .batch_item_failures
            .is_empty()
    );
    // 50,000 versions of another writer, then the table-maintenance function's checkpoint.
    let table = dir.join(names().stream_table(Kind::Geo));
    write_other_writers_commits(&table, 2..=50_001);
    let report = maintenance::maintain(&lake, &names().stream_table(Kind::Geo), Kind::Geo, Retention::days(7.0, 7.0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.checkpoint, 50_001);

    // A cold writer of the idle shard: its redelivered batch is skipped, its next lands.
    let counts = Arc::new(Counts::default());
    let counted = lake.with_store_layer(|store| CountingStore::wrap(store, counts.clone()));
    let cold = StreamCleaner::new(counted, ID);
    let (response, written) = cold.handle(&event(&stream, &idle, &records[0..20])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((written.rows_written, written.duplicates_skipped), (10, 10));
    let cold_requests = counts.total();
    eprintln!("cold writer behind 50,000 versions: {cold_requests} requests ({})", counts.summary());
    assert!(cold_requests <= 30, "a cold open and commit made {cold_requests} requests: {}", counts.summary());

    // Warm, with another writer's commits in between: only those are read.
    let latest = latest_version(&table);
    write_other_writers_commits(&table, latest + 1..=latest + 3);
    counts.reset();
    let (response, written) = cold.handle(&event(&stream, &idle, &records[15..30])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((written.rows_written, written.duplicates_skipped), (10, 5));
    let warm_requests = counts.total();
    eprintln!("warm writer, 3 foreign commits since its last: {warm_requests} requests ({})", counts.summary());
    assert!(warm_requests <= 20, "a warm append made {warm_requests} requests: {}", counts.summary());
    assert_eq!(duckdb_delta(table.to_str().unwrap()).rows, 30);
}

/// One long-lived cleaner (a warm Lambda instance) commits one record at a time,
/// well past the versions after which it loads its table afresh, with maintenance
/// between some invocations: every append succeeds, every record lands once, and a
/// redelivery of its first batch is still recognised as landed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_cleaner_stays_exact_across_fresh_loads_of_its_table() {
    let dir = temp_lake("warm");
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let relative = names().stream_table(Kind::Pin);
    let stream = names().stream(Kind::Pin);
    let posts = 2 * pinpipe::lake::delta::RELOAD_INTERVAL as usize + 30;
    let records: Vec<_> = Generator::new(GenerateOptions { posts: posts as u64, seed: 5, resend: false })
        .posts()
        .enumerate()
        .map(|(i, post)| (sequence_number(0, i as u64), post.pin.into_bytes()))
        .collect();
    let cleaner = StreamCleaner::new(lake.clone(), ID);
    for (i, record) in records.iter().enumerate() {
        let (response, written) = cleaner.handle(&event(&stream, &shard_id(0), std::slice::from_ref(record))).await;
        assert!(response.batch_item_failures.is_empty(), "append {i} failed: {response:?}");
        assert_eq!(written.rows_written, 1, "append {i}");
        if i % 70 == 69 {
            maintenance::maintain(&lake, &relative, Kind::Pin, Retention::days(7.0, 7.0)).await.unwrap();
        }
    }
    let (response, again) = cleaner.handle(&event(&stream, &shard_id(0), &records[..1])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((again.rows_written, again.duplicates_skipped), (0, 1));
    let read = duckdb_delta(dir.join(&relative).to_str().unwrap());
    assert_eq!(read.inds, (0..posts as i64).collect::<Vec<_>>(), "every record exactly once");
}
