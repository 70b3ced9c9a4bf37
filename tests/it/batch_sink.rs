//! The batch sink against real storage (a local directory and moto S3): however
//! Lambda redelivers, re-cuts or doubles MSK batches, every record lands once, in
//! Kafka Connect's names, byte-identical to what was produced — checked by bytes and
//! by a reader that knows nothing of our code (DuckDB `read_json`).

use std::path::Path;

use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::lake::Lake;
use pinpipe::lake::bronze::object_key as bronze_object_key;
use pinpipe::sink::{BatchSink, SinkCounts};
use pinpipe_tests::json_reader::duckdb_read_json;
use pinpipe_tests::kafka::event;
use pinpipe_tests::{sample_lines, stack, temp_lake};

const ID: &str = "0a1b2c3d4e5f";

fn topic() -> String {
    Names { id: ID }.topic(Kind::Pin)
}

fn sink(lake: &Lake) -> BatchSink {
    pinpipe::telemetry::init();
    BatchSink::new(lake.clone())
}

/// The real pins as produced records: offset `n` holds sample line `n`.
fn produced(range: std::ops::Range<i64>) -> Vec<(i64, Option<Vec<u8>>)> {
    let lines = sample_lines("sample_pin.jsonl");
    range.map(|n| (n, Some(lines[n as usize].clone().into_bytes()))).collect()
}

fn sample_inds(range: std::ops::Range<usize>) -> Vec<i64> {
    let mut inds: Vec<i64> = sample_lines("sample_pin.jsonl")[range]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["index"].as_i64().unwrap())
        .collect();
    inds.sort();
    inds
}

/// Every object of the partition concatenated in offset order, with the keys.
async fn landed(lake: &Lake, partition: i32) -> (Vec<String>, Vec<u8>) {
    use futures::TryStreamExt;
    let prefix = format!("topics/{}/partition={partition}/", topic());
    let mut keys: Vec<String> = lake
        .store()
        .list(Some(&prefix.as_str().into()))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    let mut bytes = Vec::new();
    for key in &keys {
        bytes.extend_from_slice(&lake.get(key).await.unwrap().unwrap());
    }
    (keys, bytes)
}

fn ndjson(range: std::ops::Range<usize>) -> Vec<u8> {
    sample_lines("sample_pin.jsonl")[range].iter().flat_map(|l| [l.as_bytes(), b"\n"].concat()).collect()
}

fn local(dir: &Path) -> Lake {
    Lake::open(dir.to_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivered_batches_land_once_in_kafka_connects_layout() {
    let dir = temp_lake("sink-redeliver");
    let lake = local(&dir);
    let sink = sink(&lake);
    let batch = event(&topic(), 0, &produced(0..60));
    let (response, first) = sink.handle(&batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((first.records_written, first.objects_written), (60, 1));
    for _ in 0..3 {
        let (_, again) = sink.handle(&batch).await;
        assert_eq!(again, SinkCounts { records_in: 60, duplicates_skipped: 60, ..Default::default() });
    }
    let (keys, bytes) = landed(&lake, 0).await;
    assert_eq!(keys, [bronze_object_key(&topic(), 0, 0)]);
    assert_eq!(bytes, ndjson(0..60), "byte-identical to what was produced, one value per line");
    let read = duckdb_read_json(dir.join("topics").to_str().unwrap());
    assert_eq!(read.inds, sample_inds(0..60));
}

#[tokio::test(flavor = "multi_thread")]
async fn recut_batches_continue_after_what_landed() {
    let dir = temp_lake("sink-recut");
    let lake = local(&dir);
    let sink = sink(&lake);
    for range in [0..50, 30..100, 0..120, 110..120, 90..150] {
        let (response, _) = sink.handle(&event(&topic(), 0, &produced(range))).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let (keys, bytes) = landed(&lake, 0).await;
    let expected: Vec<String> = [0, 50, 100, 120].iter().map(|o| bronze_object_key(&topic(), 0, *o)).collect();
    assert_eq!(keys, expected);
    assert_eq!(bytes, ndjson(0..150));
    assert_eq!(duckdb_read_json(dir.join("topics").to_str().unwrap()).inds, sample_inds(0..150));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_and_recut_batches_at_once_land_once_locally_and_on_s3() {
    let s3 = stack::s3().await;
    let bucket = stack::unique_name("pinpipe-sink");
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{}", stack::not_running("moto S3", e)));
    let dir = temp_lake("sink-twice");
    for (lake, reader_prefix) in [
        (local(&dir), dir.join("topics").display().to_string()),
        (Lake::open(&format!("s3://{bucket}/lake")).unwrap(), format!("s3://{bucket}/lake/topics")),
    ] {
        let (a, b) = (sink(&lake), sink(&lake));
        // Partition 0: the same batch twice at once. Partition 1: a batch and its re-cut prefix at once.
        let whole = event(&topic(), 0, &produced(0..80));
        let (first, second) = tokio::join!(a.handle(&whole), b.handle(&whole));
        assert_eq!(first.1.records_written + second.1.records_written, 80, "{first:?} {second:?}");
        let (long, short) = (event(&topic(), 1, &produced(0..100)), event(&topic(), 1, &produced(0..40)));
        let (first, second) = tokio::join!(a.handle(&long), b.handle(&short));
        assert!(first.0.batch_item_failures.is_empty() && second.0.batch_item_failures.is_empty());
        assert_eq!(landed(&lake, 0).await.1, ndjson(0..80));
        assert_eq!(landed(&lake, 1).await.1, ndjson(0..100));
        let mut both = sample_inds(0..80);
        both.extend(sample_inds(0..100));
        both.sort();
        assert_eq!(duckdb_read_json(&reader_prefix).inds, both, "{reader_prefix}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_records_are_quarantined_and_the_rest_lands_around_them() {
    let dir = temp_lake("sink-bad");
    let lake = local(&dir);
    let mut records = produced(0..10);
    records[3].1 = None;
    records[6].1 = Some(b"{\n  \"index\": 1\n}".to_vec());
    let (response, counts) = sink(&lake).handle(&event(&topic(), 0, &records)).await;
    assert!(response.batch_item_failures.is_empty(), "a bad record is never worth a retry");
    assert_eq!((counts.records_written, counts.quarantined, counts.objects_written), (8, 2, 3));
    let (keys, bytes) = landed(&lake, 0).await;
    let expected: Vec<String> = [0, 4, 7].iter().map(|o| bronze_object_key(&topic(), 0, *o)).collect();
    assert_eq!(keys, expected, "each object is a run of consecutive offsets");
    let lines = sample_lines("sample_pin.jsonl");
    let kept: Vec<u8> =
        [0, 1, 2, 4, 5, 7, 8, 9].iter().flat_map(|&n: &usize| [lines[n].as_bytes(), b"\n"].concat()).collect();
    assert_eq!(bytes, kept);
    for (offset, code) in [(3, "no_value"), (6, "multi_line_value")] {
        let path = dir.join(format!("quarantine/topic/{}/partition=0/{offset:020}.json", topic()));
        let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(stored["code"], code);
        assert_eq!(stored["origin"]["offset"], offset);
    }
    // Redelivered: nothing lands twice, nothing is lost.
    let (_, again) = sink(&lake).handle(&event(&topic(), 0, &records)).await;
    assert_eq!(again.records_written, 0);
    assert_eq!(landed(&lake, 0).await.1, kept);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_msk_sample_event_lands_its_records() {
    let dir = temp_lake("sink-event");
    let lake = local(&dir);
    let sample: aws_lambda_events::event::kafka::KafkaEvent = serde_json::from_slice(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/msk-batch.json")).unwrap(),
    )
    .unwrap();
    let (response, counts) = sink(&lake).handle(&sample).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((counts.records_in, counts.records_written), (6, 6));
    for kind in Kind::ALL {
        let topic = Names { id: ID }.topic(kind);
        let object = dir.join(bronze_object_key(&topic, 0, 0));
        let body = std::fs::read_to_string(&object).unwrap();
        let file = format!("sample_{kind}.jsonl");
        assert_eq!(body, sample_lines(&file)[..2].iter().map(|l| format!("{l}\n")).collect::<String>());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn far_into_a_partition_only_recent_objects_are_listed_and_continued() {
    let dir = temp_lake("sink-far");
    let lake = local(&dir);
    let sink = sink(&lake);
    let lines = sample_lines("sample_pin.jsonl");
    let at = |range: std::ops::Range<i64>| -> Vec<(i64, Option<Vec<u8>>)> {
        range.map(|n| (n, Some(lines[(n % 240) as usize].clone().into_bytes()))).collect()
    };
    // An old object far behind, then a batch and its overlapping redelivery.
    for range in [0..10, 25_000..25_100, 25_050..25_150] {
        sink.handle(&event(&topic(), 0, &at(range))).await;
    }
    let (keys, bytes) = landed(&lake, 0).await;
    let expected: Vec<String> = [0, 25_000, 25_100].iter().map(|o| bronze_object_key(&topic(), 0, *o)).collect();
    assert_eq!(keys, expected);
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 10 + 150);
    assert_eq!(sink.landed_end(&topic(), 0, 25_150).await.unwrap(), Some(25_150));
}

/// A quiet partition gets one object per record (batch size 1), so history is many
/// small objects: each delivery must list a few keys before its offset and what
/// landed after it, not the partition — and still find the end of a large object
/// further back (the redelivery of 500..1001 lists the 2,000 objects after it).
#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_lists_a_few_keys_however_many_objects_the_partition_holds() {
    use pinpipe_tests::counting::{CountingStore, Counts};
    use std::sync::atomic::Ordering;
    let dir = temp_lake("sink-listing");
    let counts = std::sync::Arc::new(Counts::default());
    let lake = local(&dir).with_store_layer(|store| CountingStore::wrap(store, counts.clone()));
    let sink = sink(&lake);
    let lines = sample_lines("sample_pin.jsonl");
    let at = |range: std::ops::Range<i64>| -> Vec<(i64, Option<Vec<u8>>)> {
        range.map(|n| (n, Some(lines[(n % 240) as usize].clone().into_bytes()))).collect()
    };
    sink.handle(&event(&topic(), 0, &at(0..1_000))).await;
    for n in 1_000..3_000 {
        sink.handle(&event(&topic(), 0, &at(n..n + 1))).await;
    }
    for (batch, most_listed) in [(3_000..3_001, 20), (2_990..3_001, 30), (500..1_001, 2_100)] {
        counts.reset();
        let c = sink.handle(&event(&topic(), 0, &at(batch.clone()))).await.1;
        let listed = counts.listed.load(Ordering::SeqCst);
        eprintln!("delivery {batch:?} after 2,001 objects: {}", counts.summary());
        assert_eq!(c.records_written + c.duplicates_skipped, (batch.end - batch.start) as u64, "{c:?}");
        assert!(listed <= most_listed, "delivery {batch:?} listed {listed} objects: {}", counts.summary());
    }
    let (keys, bytes) = landed(&lake, 0).await;
    assert_eq!(keys.len(), 2_002);
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3_001);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recreated_topic_stops_its_partition_loudly_instead_of_being_skipped() {
    let dir = temp_lake("sink-recreated");
    let lake = local(&dir);
    let sink = sink(&lake);
    let (response, _) = sink.handle(&event(&topic(), 0, &produced(0..60))).await;
    assert!(response.batch_item_failures.is_empty());
    let before = landed(&lake, 0).await;

    // Redeliveries and re-cuts of what landed are checked and still pass.
    for range in [0..60, 30..90] {
        let (response, _) = sink.handle(&event(&topic(), 0, &produced(range))).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let after_recut = landed(&lake, 0).await;
    assert_eq!(after_recut.1, ndjson(0..90));

    // The topic deleted and created again: offsets restart at 0 with other records.
    let lines = sample_lines("sample_pin.jsonl");
    let new_incarnation: Vec<(i64, Option<Vec<u8>>)> =
        (0..20).map(|n| (n, Some(lines[200 + n as usize].clone().into_bytes()))).collect();
    for _ in 0..2 {
        let (response, counts) = sink.handle(&event(&topic(), 0, &new_incarnation)).await;
        assert_eq!(response.batch_item_failures.len(), 1, "the partition is reported, every time");
        assert_eq!(response.batch_item_failures[0].item_identifier, format!("{}-0@0", topic()));
        assert_eq!((counts.failed, counts.duplicates_skipped, counts.records_written), (20, 0, 0));
    }
    // Past the old end too: the first record below it already tells.
    let straddling: Vec<(i64, Option<Vec<u8>>)> =
        (80..100).map(|n| (n, Some(lines[100 + n as usize].clone().into_bytes()))).collect();
    let (response, counts) = sink.handle(&event(&topic(), 0, &straddling)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(counts.records_written, 0);
    assert_eq!(landed(&lake, 0).await, after_recut, "nothing written over or after the old incarnation");
    assert_ne!(before.0, after_recut.0);
}

/// An MSK batch of several partitions, one of which cannot land (a recreated topic's
/// records over what its partition landed): that partition alone is reported, by its
/// first offset; the others land.
#[tokio::test(flavor = "multi_thread")]
async fn one_failing_partition_of_several_is_reported_alone() {
    let dir = temp_lake("sink-one-of-several");
    let lake = local(&dir);
    let sink = sink(&lake);
    let (response, _) = sink.handle(&event(&topic(), 0, &produced(0..30))).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // Partition 0 gets other records at offsets it landed; partitions 1 and 2 are new.
    let lines = sample_lines("sample_pin.jsonl");
    let conflicting: Vec<(i64, Option<Vec<u8>>)> =
        (10..20).map(|n| (n, Some(lines[200 + n as usize].clone().into_bytes()))).collect();
    let mut batch = event(&topic(), 0, &conflicting);
    for partition in [1, 2] {
        batch.records.extend(event(&topic(), partition, &produced(40..55)).records);
    }
    let (response, counts) = sink.handle(&batch).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, [format!("{}-0@10", topic())], "{response:?}");
    assert_eq!((counts.records_in, counts.failed, counts.records_written), (40, 10, 30), "{counts:?}");
    assert_eq!(landed(&lake, 0).await.1, ndjson(0..30), "partition 0 untouched");
    for partition in [1, 2] {
        assert_eq!(landed(&lake, partition).await.1, ndjson(40..55), "partition {partition} landed");
    }
}
