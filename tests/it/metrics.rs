//! SPEC §12's metrics writer, exactly once, on moto DynamoDB and in process: real
//! records delivered as Lambda might (redelivered 1–3 times, re-cut, two shards at
//! once, a crash between commits) are counted as an independent reader recounts them
//! from the stream Delta tables the stream cleaner wrote from the same deliveries.

use std::collections::BTreeMap;
use std::process::Command;

use aws_lambda_events::event::kinesis::KinesisEvent;
use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::lake::Lake;
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::metrics::store::{Commit, InProcessMetrics, MetricsStore, StoreError};
use pinpipe::metrics::writer::MetricsWriter;
use pinpipe::metrics::{BucketRow, Dimension, Series, Window, totals};
use pinpipe::stream::StreamCleaner;
use pinpipe_tests::kinesis::{event, sequence_number};
use pinpipe_tests::readers::python;
use pinpipe_tests::{sample_lines, stack, temp_lake};

const ID: &str = "0a1b2c3d4e5f";
/// The arrival time the tests' Kinesis events carry (ms).
const ARRIVAL: i64 = 1_700_000_000_123;

/// Real records of a kind on one shard; every fifth post re-sent (same record again).
fn records(file: &str, shard: u32, count: usize) -> Vec<(String, Vec<u8>)> {
    let lines = sample_lines(file);
    let mut out = Vec::new();
    for i in 0..count {
        out.push(lines[i].clone().into_bytes());
        if i % 5 == 4 {
            out.push(lines[i - 2].clone().into_bytes());
        }
    }
    out.into_iter().enumerate().map(|(n, data)| (sequence_number(shard, n as u64), data)).collect()
}

/// The deliveries: batches of 7, each batch delivered 1–3 times, then the whole
/// range again re-cut into batches of 11 (all of it landed before).
fn deliveries(stream: &str, shard: &str, records: &[(String, Vec<u8>)]) -> Vec<KinesisEvent> {
    let mut events = Vec::new();
    for (i, batch) in records.chunks(7).enumerate() {
        for _ in 0..=(i % 3) {
            events.push(event(stream, shard, batch));
        }
    }
    events.extend(records.chunks(11).map(|batch| event(stream, shard, batch)));
    events
}

async fn dynamo_table() -> DynamoMetrics {
    let table = stack::unique_name("metrics");
    DynamoMetrics::new(stack::create_metrics_table(&table).await, table)
}

/// A store whose every request first yields for a millisecond, so concurrent
/// deliveries interleave between reading a mark and committing (the races the mark's
/// condition is for). With `one_at_a_time`, requests then run one at a time: DynamoDB
/// runs each transaction atomically (conditions checked and items written as one,
/// transactions on the same items serialised); moto's server does not under
/// concurrent requests (500s, transactions half applied, lost `ADD`s).
#[derive(Clone)]
struct Raced<S> {
    inner: S,
    one_at_a_time: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

impl<S> Raced<S> {
    async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        match &self.one_at_a_time {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }
}

#[async_trait::async_trait]
impl<S: MetricsStore> MetricsStore for Raced<S> {
    async fn mark(&self, shard: &str) -> Result<Option<pinpipe::sequence::SequenceNumber>, StoreError> {
        let _turn = self.turn().await;
        self.inner.mark(shard).await
    }
    async fn counted(&self, kind: Kind, inds: &[i64]) -> Result<std::collections::HashSet<i64>, StoreError> {
        let _turn = self.turn().await;
        self.inner.counted(kind, inds).await
    }
    async fn commit(
        &self,
        shard: &str,
        expected: Option<&pinpipe::sequence::SequenceNumber>,
        commit: Commit,
    ) -> Result<(), StoreError> {
        let _turn = self.turn().await;
        self.inner.commit(shard, expected, commit).await
    }
    async fn buckets(&self, series: &Series, first: i64, last: i64) -> Result<Vec<BucketRow>, StoreError> {
        let _turn = self.turn().await;
        self.inner.buckets(series, first, last).await
    }
}

/// Every key's posts over the 7-day window, per dimension.
async fn counted(store: &impl MetricsStore) -> BTreeMap<&'static str, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for dimension in [Dimension::Profile, Dimension::Category, Dimension::Country] {
        let window = Window::Week;
        let (first, last) = window.buckets_at(ARRIVAL);
        let rows = store.buckets(&Series::Board(dimension, window.resolution()), first, last).await.unwrap();
        let by_key = totals(rows, false, usize::MAX).into_iter().map(|t| (t.key, t.posts)).collect();
        out.insert(dimension.as_str(), by_key);
    }
    out
}

/// The independent recount (DuckDB over the stream tables).
fn recount(lake: &std::path::Path) -> BTreeMap<String, BTreeMap<String, u64>> {
    let table = |kind| lake.join(Names { id: ID }.stream_table(kind)).display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/recount_metrics.py");
    let out = Command::new(python()).arg(script).arg(table(Kind::Pin)).arg(table(Kind::Geo)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Delivers `event` until the writer takes it, as Lambda retries a failed batch
/// (moto's DynamoDB answers concurrent transactions with a 500 at times: it is not
/// thread-safe there); the attempts.
async fn deliver<S: MetricsStore>(writer: &MetricsWriter<S>, event: &KinesisEvent) -> usize {
    for attempt in 1..=20 {
        let (response, _) = writer.handle(event).await;
        if response.batch_item_failures.is_empty() {
            return attempt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("a batch failed 20 times in a row")
}

/// Runs the whole scenario against `store`: the metrics writer and the stream cleaner
/// get the same deliveries; a crash between commits comes first, then two shards at once.
async fn scenario(store: impl MetricsStore + Clone + 'static, lake_name: &str) {
    pinpipe::telemetry::init();
    let names = Names { id: ID };
    let (pins, geos) = (records("sample_pin.jsonl", 0, 60), records("sample_geo.jsonl", 1, 60));
    let pin_events = deliveries(&names.stream(Kind::Pin), "shardId-000000000000", &pins);
    let geo_events = deliveries(&names.stream(Kind::Geo), "shardId-000000000001", &geos);
    let lake_dir = temp_lake(lake_name);
    let cleaner = StreamCleaner::new(Lake::open(lake_dir.to_str().unwrap()).unwrap(), ID);

    // A crash after the first commit of every delivery: the batch is reported failed
    // and redelivered; what committed stays, what did not comes with the redelivery.
    let crashing = MetricsWriter::new(store.clone()).crashing_after(1);
    let big_batch = event(&names.stream(Kind::Pin), "shardId-000000000000", &pins[..40]);
    let (response, counts) = crashing.handle(&big_batch).await;
    assert_eq!((response.batch_item_failures.len(), counts.failed), (1, 40), "{counts:?}");
    // 40 pins of many profiles take more than one commit: the first one stands.
    let shard = format!("{}/shardId-000000000000", names.stream(Kind::Pin));
    let mark = store.mark(&shard).await.unwrap().expect("the first commit moved the mark");
    assert!(mark.as_str() > pins[0].0.as_str() && mark.as_str() < pins[39].0.as_str(), "{mark}");

    // Then two shards at once, each through its own writer instance, every delivery;
    // and the pin shard's deliveries a second time at once, by a third instance (as
    // overlapping invocations of one shard would race for its mark).
    let (a, b, c) =
        (MetricsWriter::new(store.clone()), MetricsWriter::new(store.clone()), MetricsWriter::new(store.clone()));
    let shard_a = async {
        for e in &pin_events {
            deliver(&a, e).await;
        }
    };
    let shard_a_again = async {
        // In shard order, as Lambda delivers a shard (a retry overlaps the batch in
        // flight, never one after it).
        for e in &pin_events {
            deliver(&c, e).await;
        }
    };
    let shard_b = async {
        for e in &geo_events {
            deliver(&b, e).await;
        }
    };
    tokio::join!(shard_a, shard_b, shard_a_again);
    for e in pin_events.iter().chain(&geo_events) {
        let (response, _) = cleaner.handle(e).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }

    let ours = counted(&store).await;
    let theirs = recount(&lake_dir);
    for (dimension, expected) in &theirs {
        assert!(!expected.is_empty(), "{dimension}: the real samples have values");
        assert_eq!(&ours[dimension.as_str()], expected, "{dimension}");
    }
    // One profile's own series (on DynamoDB read through the profile index) holds its
    // posts of the board: every profile, at each resolution.
    for (name, posts) in &theirs["profile"] {
        for window in [Window::Hour, Window::Day, Window::Week] {
            let (first, last) = window.buckets_at(ARRIVAL);
            let series = Series::Profile(name.clone(), window.resolution());
            let rows = store.buckets(&series, first, last).await.unwrap();
            assert_eq!(rows.iter().map(|r| r.posts).sum::<u64>(), *posts, "{name} {window}");
            assert!(rows.iter().all(|r| r.key == *name && r.followers.is_some() == (r.posts > 0)), "{rows:?}");
        }
    }
    // The same posts over 5 minutes and 1 hour (all arrived in one minute).
    for window in [Window::FiveMinutes, Window::Hour, Window::Day] {
        let (first, last) = window.buckets_at(ARRIVAL);
        let rows = store.buckets(&Series::Board(Dimension::Country, window.resolution()), first, last).await.unwrap();
        let by_key: BTreeMap<String, u64> =
            totals(rows, false, usize::MAX).into_iter().map(|t| (t.key, t.posts)).collect();
        assert_eq!(by_key, theirs["country"], "{window}");
    }
    // A window that ended before the records arrived holds none of them.
    let (first, last) = Window::FiveMinutes.buckets_at(ARRIVAL - 5 * 60_000);
    let rows = store.buckets(&Series::Board(Dimension::Country, Window::FiveMinutes.resolution()), first, last).await;
    assert!(rows.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_on_dynamodb_equal_a_recount_of_the_stream_tables() {
    let store = Raced { inner: dynamo_table().await, one_at_a_time: Some(Default::default()) };
    scenario(store, "metrics-dynamo").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_in_process_equal_a_recount_of_the_stream_tables() {
    scenario(Raced { inner: InProcessMetrics::new(), one_at_a_time: None }, "metrics-in-process").await;
}

/// 40 real pins and 40 real geos (with re-sends) through `writer`, arrived now.
async fn count_now<S: MetricsStore>(writer: &MetricsWriter<S>) {
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let names = Names { id: ID };
    let pins = records("sample_pin.jsonl", 0, 40);
    let geos = records("sample_geo.jsonl", 1, 40);
    for (stream, shard, records) in [
        (names.stream(Kind::Pin), "shardId-000000000000", &pins),
        (names.stream(Kind::Geo), "shardId-000000000001", &geos),
    ] {
        let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}");
        let event = pinpipe_local::kinesis_poller::kinesis_event(
            &arn,
            shard,
            records.iter().map(|(seq, data)| pinpipe_local::kinesis_poller::ShardRecord {
                sequence_number: seq,
                partition_key: "1",
                data,
                arrival: now,
            }),
        );
        let (response, counts) = writer.handle(&event).await;
        assert!(response.batch_item_failures.is_empty() && counts.records_counted > 0, "{counts:?}");
    }
}

/// `pinpipe metrics top` reads the table on moto DynamoDB as the API reads it.
#[tokio::test(flavor = "multi_thread")]
async fn pinpipe_metrics_top_reads_the_dynamodb_table() {
    let store = dynamo_table().await;
    count_now(&MetricsWriter::new(store.clone())).await;
    let (first, last) = Window::FiveMinutes.buckets_at(chrono::Utc::now().timestamp_millis());
    let rows = store.buckets(&Series::Board(Dimension::Country, Window::FiveMinutes.resolution()), first, last).await;
    let expected = totals(rows.unwrap(), false, 100);
    let out = Command::new(pinpipe_tests::pinpipe_bin())
        .args(["metrics", "top", "--dimension", "countries", "--window", "5m", "--limit", "100"])
        .env("PINPIPE_METRICS_TABLE", store.table())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Vec<(String, u64)> = stdout
        .lines()
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].to_owned(), cells[1].parse().unwrap())
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected.into_iter().map(|t| (t.key, t.posts)).collect::<Vec<_>>(), "{stdout}");
}

/// The metrics routes of the API (SPEC §12) over the in-process store, records
/// arrived now: every route, its parameters, and its answers against the OpenAPI
/// document.
#[tokio::test]
async fn the_metrics_routes_answer_from_the_store() {
    use lambda_http::http::StatusCode;
    use pinpipe::ingest::Ingest;
    use pinpipe_local::embedded::InProcessStreams;
    use pinpipe_tests::apigw::v2;
    use pinpipe_tests::openapi;

    let store = InProcessMetrics::new();
    let writer = MetricsWriter::new(store.clone());
    count_now(&writer).await;
    let ingest = Ingest::new(InProcessStreams::new()).with_metrics(std::sync::Arc::new(store));
    let doc = openapi::document();
    let call = |path: &str| {
        let ingest = ingest.clone();
        let (doc, path) = (doc.clone(), path.to_owned());
        async move {
            let response = ingest.handle(v2("GET", &path, "")).await;
            let status = response.status();
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            // The document's path: a profile's name is its `{poster_name}`.
            let template = match path.split('?').next().unwrap() {
                p if p.starts_with("/metrics/profiles/") && !p.ends_with("/top") => "/metrics/profiles/{poster_name}",
                p => p,
            };
            openapi::check(&doc, "GET", template, status.as_u16(), &body);
            (status, body)
        }
    };

    for window in ["5m", "1h", "24h", "7d"] {
        let (status, top) = call(&format!("/metrics/countries/top?window={window}&limit=100")).await;
        assert_eq!(status, StatusCode::OK, "{top}");
        let posts: u64 = top["items"].as_array().unwrap().iter().map(|i| i["posts"].as_u64().unwrap()).sum();
        let countries = sample_lines("sample_geo.jsonl")[..40].iter().filter(|l| l.contains("\"country\"")).count();
        assert!(posts > 0 && posts as usize <= countries, "{window}: {top}");
    }
    let (status, top) = call("/metrics/profiles/top?window=1h&limit=3").await;
    assert_eq!(status, StatusCode::OK, "{top}");
    let items = top["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let popularity: Vec<f64> = items.iter().map(|i| i["popularity"].as_f64().unwrap()).collect();
    assert!(popularity.windows(2).all(|w| w[0] >= w[1]), "ranked by popularity: {top}");
    let first = items[0]["key"].as_str().unwrap();
    let (status, profile) = call(&format!("/metrics/profiles/{}?window=24h", first.replace(' ', "%20"))).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!((profile["poster_name"].as_str(), &profile["posts"]), (Some(first), &items[0]["posts"]), "{profile}");
    let (status, categories) = call("/metrics/categories/top").await;
    assert_eq!((status, categories["window"].as_str()), (StatusCode::OK, Some("1h")), "{categories}");
    let (status, nobody) = call("/metrics/profiles/Ann%20Lee?window=5m").await;
    assert_eq!((status, nobody["posts"].as_u64()), (StatusCode::OK, Some(0)), "{nobody}");

    for (path, field) in [
        ("/metrics/profiles/top?window=2h", "window"),
        ("/metrics/countries/top?limit=0", "limit"),
        ("/metrics/categories/top?limit=many", "limit"),
        ("/metrics/profiles/x?window=1y", "window"),
    ] {
        let (status, error) = call(path).await;
        assert_eq!((status, error["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{path}: {error}");
    }
    let response = ingest.handle(v2("POST", "/metrics/profiles/top", "")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let bare = Ingest::new(InProcessStreams::new()).handle(v2("GET", "/metrics/countries/top", "")).await;
    assert_eq!(bare.status(), StatusCode::SERVICE_UNAVAILABLE);
}
