//! SPEC §12's metrics writer, exactly once, under DynamoDB's own rules (the
//! `DynamoRules` front: transactions on the same items in flight cancel each other,
//! conditions cancel, throttling on demand), over moto's DynamoDB and in process: real
//! records of one stream on four shards at once, delivered as Lambda might (each batch
//! 1–3 times, re-cut, a crash between commits, throttled), posts re-sent on other
//! shards, arrivals across minute, hour and day edges, are counted as an independent
//! reader recounts them from the stream Delta tables the stream cleaner wrote from the
//! same deliveries: posts per key in every window, and the latest follower count.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use aws_lambda_events::event::kinesis::KinesisEvent;
use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::delivery::incarnation::{CreationError, Incarnation, StreamCreation};
use pinpipe::delivery::sequence::SequenceNumber;
use pinpipe::lake::Lake;
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::metrics::in_process::InProcessMetrics;
use pinpipe::metrics::store::{Commit, MetricsStore, ShardMark};
use pinpipe::metrics::writer::MetricsWriter;
use pinpipe::metrics::{Dimension, Resolution, Series, Window, totals};
use pinpipe::stream::StreamCleaner;
use pinpipe_local::dynamo_rules::DynamoRules;
use pinpipe_local::kinesis_poller::{ShardRecord, kinesis_event};
use pinpipe_tests::kinesis::sequence_number;
use pinpipe_tests::readers::python;
use pinpipe_tests::{sample_lines, stack, temp_lake};

const ID: &str = "0a1b2c3d4e5f";
/// The first arrival (ms): 2023-11-14 23:55:00 UTC; arrivals run 7 s apart past
/// midnight, so they cross minute, hour and day edges.
const FIRST_ARRIVAL: i64 = 1_700_006_100_000;
const SPACING: i64 = 7_000;
const SHARDS: u32 = 4;

/// One delivered record: its shard, sequence number, arrival (ms) and bytes.
#[derive(Clone)]
struct Delivered {
    shard: u32,
    sequence: String,
    arrival: i64,
    data: Vec<u8>,
}

/// The pins on four shards of one stream and the geos on one shard of another, each
/// record arriving at its own time; every sixth pin also re-sent on the next shard at
/// the same moment (a producer retry that hashed elsewhere), every fifth record again
/// on its own shard a little later.
fn stream_records() -> (Vec<Vec<Delivered>>, Vec<Delivered>) {
    let pins = sample_lines("sample_pin.jsonl");
    let mut shards: Vec<Vec<Delivered>> = vec![Vec::new(); SHARDS as usize];
    let pushed = |shards: &mut Vec<Vec<Delivered>>, shard: u32, arrival: i64, line: &str| {
        let list = &mut shards[shard as usize];
        let sequence = sequence_number(shard, list.len() as u64);
        list.push(Delivered { shard, sequence, arrival, data: line.as_bytes().to_vec() });
    };
    for (i, line) in pins.iter().take(200).enumerate() {
        let (shard, arrival) = (i as u32 % SHARDS, FIRST_ARRIVAL + i as i64 * SPACING);
        pushed(&mut shards, shard, arrival, line);
        if i % 6 == 5 {
            pushed(&mut shards, (shard + 1) % SHARDS, arrival, line);
        }
        if i % 5 == 4 {
            pushed(&mut shards, shard, arrival + 1_000, &pins[i - 4]);
        }
    }
    let geos: Vec<Delivered> = sample_lines("sample_geo.jsonl")
        .iter()
        .take(120)
        .enumerate()
        .map(|(i, line)| Delivered {
            shard: 0,
            sequence: sequence_number(5, i as u64),
            arrival: FIRST_ARRIVAL + i as i64 * 2 * SPACING,
            data: line.as_bytes().to_vec(),
        })
        .collect();
    (shards, geos)
}

fn shard_id(shard: u32) -> String {
    format!("shardId-00000000000{shard}")
}

fn kinesis(stream: &str, records: &[Delivered]) -> KinesisEvent {
    let arn = format!("arn:aws:kinesis:us-east-1:123456789012:stream/{stream}");
    kinesis_event(
        &arn,
        &shard_id(records[0].shard),
        records.iter().map(|r| ShardRecord {
            sequence_number: &r.sequence,
            partition_key: "1",
            data: &r.data,
            arrival: r.arrival as f64 / 1000.0,
        }),
    )
}

/// The deliveries of one shard: batches of 7, each delivered 1–3 times, then the whole
/// range again re-cut into batches of 11 (all of it landed before).
fn deliveries(stream: &str, records: &[Delivered]) -> Vec<KinesisEvent> {
    let mut events = Vec::new();
    for (i, batch) in records.chunks(7).enumerate() {
        for _ in 0..=(i % 3) {
            events.push(kinesis(stream, batch));
        }
    }
    events.extend(records.chunks(11).map(|batch| kinesis(stream, batch)));
    events
}

async fn dynamo_table() -> DynamoMetrics {
    let table = stack::unique_name("metrics");
    DynamoMetrics::new(stack::create_metrics_table(&table).await, table)
}

/// Delivers `event` until the writer takes it, as Lambda retries a failed batch; the attempts.
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

/// Every key's posts and (profiles) latest follower count over `window` at `now`.
async fn counted(
    store: &impl MetricsStore,
    window: Window,
    now: i64,
) -> BTreeMap<&'static str, BTreeMap<String, (u64, Option<i64>)>> {
    let mut out = BTreeMap::new();
    for dimension in [Dimension::Profile, Dimension::Category, Dimension::Country] {
        let (first, last) = window.buckets_at(now);
        let rows = store.buckets(&Series::Board(dimension, window.resolution()), first, last).await.unwrap();
        let by_key = totals(rows, dimension == Dimension::Profile, usize::MAX)
            .into_iter()
            .map(|t| (t.key, (t.posts, t.follower_count)))
            .collect();
        out.insert(dimension.as_str(), by_key);
    }
    out
}

/// The independent recount over `window` at `now`: DuckDB reads the stream tables; the
/// posts of the window are those whose first arrival falls in its buckets.
fn recount(
    lake: &std::path::Path,
    arrivals: &HashMap<(Kind, i64), (i64, String)>,
    window: Window,
    now: i64,
) -> BTreeMap<String, BTreeMap<String, (u64, Option<i64>)>> {
    let (first, last) = window.buckets_at(now);
    let resolution: Resolution = window.resolution();
    let in_window: Vec<serde_json::Value> = arrivals
        .iter()
        .filter(|(_, (at, _))| (first..=last).contains(&resolution.bucket(*at)))
        .map(|((kind, ind), (at, sequence))| serde_json::json!({"kind": kind.as_str(), "ind": ind, "arrival": at, "seq": sequence}))
        .collect();
    let posts = lake.join("recount-posts.json");
    std::fs::write(&posts, serde_json::to_vec(&in_window).unwrap()).unwrap();
    let table = |kind| lake.join(Names { id: ID }.stream_table(kind)).display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/recount_metrics.py");
    let out =
        Command::new(python()).arg(script).arg(table(Kind::Pin)).arg(table(Kind::Geo)).arg(&posts).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Each post's first arrival and the sequence number it had then (what counts it).
fn first_arrivals(kind: Kind, records: &[Delivered]) -> HashMap<(Kind, i64), (i64, String)> {
    let mut first: HashMap<(Kind, i64), (i64, String)> = HashMap::new();
    for record in records {
        let value: serde_json::Value = serde_json::from_slice(&record.data).unwrap();
        let ind = value.get("index").or(value.get("ind")).and_then(serde_json::Value::as_i64).unwrap();
        let candidate = (record.arrival, record.sequence.clone());
        first
            .entry((kind, ind))
            .and_modify(|seen| {
                if candidate.0 < seen.0 {
                    *seen = candidate.clone();
                }
            })
            .or_insert(candidate);
    }
    first
}

/// Runs the whole scenario against `store` (behind DynamoDB's rules): a crash between
/// commits, then four shards of the pin stream and a geo shard at once, each delivery
/// also raced by a second instance, with throttling; the stream cleaner gets the same.
async fn scenario<S: MetricsStore + Clone + 'static>(store: DynamoRules<S>, lake_name: &str) {
    pinpipe::telemetry::init();
    let names = Names { id: ID };
    let (pin_shards, geos) = stream_records();
    let pin_stream = names.stream(Kind::Pin);
    let lake_dir = temp_lake(lake_name);
    let cleaner = StreamCleaner::new(Lake::open(lake_dir.to_str().unwrap()).unwrap(), ID);

    // A crash after the first commit of a delivery: the batch is reported failed and
    // redelivered; what committed stays, what did not comes with the redelivery.
    let crashing = MetricsWriter::new(store.clone()).crashing_after(1);
    let big_batch = kinesis(&pin_stream, &pin_shards[0][..40]);
    let (response, counts) = crashing.handle(&big_batch).await;
    assert_eq!((response.batch_item_failures.len(), counts.failed), (1, 40), "{counts:?}");
    let shard = format!("{pin_stream}/{}", shard_id(0));
    let mark = store.mark(&shard).await.unwrap().expect("the first commit moved the mark");
    assert!(mark.sequence.as_str() > pin_shards[0][0].sequence.as_str(), "{mark:?}");

    // Throttled for a moment: batches fail or wait, and are taken in later.
    store.throttle_next(5);
    let mut events: Vec<(String, Vec<KinesisEvent>)> =
        pin_shards.iter().map(|records| (pin_stream.clone(), deliveries(&pin_stream, records))).collect();
    events.push((names.stream(Kind::Geo), deliveries(&names.stream(Kind::Geo), &geos)));
    // Each shard by its own instance, and again at once by a second instance (as
    // overlapping invocations of one shard race for its mark), all shards at once.
    let runs = events.iter().flat_map(|(_, shard_events)| {
        [MetricsWriter::new(store.clone()), MetricsWriter::new(store.clone())].map(|writer| async move {
            for e in shard_events {
                deliver(&writer, e).await;
            }
        })
    });
    futures::future::join_all(runs).await;
    for (_, shard_events) in &events {
        for e in shard_events {
            let (response, _) = cleaner.handle(e).await;
            assert!(response.batch_item_failures.is_empty(), "{response:?}");
        }
    }
    let usage = &store.usage;
    eprintln!(
        "{} transactions, {} conflicts, {} condition failures, {} throttled, {} write units",
        pinpipe_local::dynamo_rules::Usage::get(&usage.transactions),
        pinpipe_local::dynamo_rules::Usage::get(&usage.conflicts),
        pinpipe_local::dynamo_rules::Usage::get(&usage.condition_failures),
        pinpipe_local::dynamo_rules::Usage::get(&usage.throttled),
        usage.write_units()
    );
    assert!(pinpipe_local::dynamo_rules::Usage::get(&usage.throttled) >= 1);

    let mut arrivals = first_arrivals(Kind::Pin, &pin_shards.concat());
    arrivals.extend(first_arrivals(Kind::Geo, &geos));
    let last_arrival = arrivals.values().map(|(at, _)| *at).max().unwrap();
    for window in Window::ALL {
        let ours = counted(&store, window, last_arrival).await;
        let theirs = recount(&lake_dir, &arrivals, window, last_arrival);
        for (dimension, expected) in &theirs {
            assert!(!expected.is_empty(), "{dimension} {window}: the real samples have values");
            assert_eq!(&ours[dimension.as_str()], expected, "{dimension} over {window}");
        }
    }
    // One profile's own series (on DynamoDB read through the profile index) holds its
    // posts of the board, summed over the shards' parts.
    let week = recount(&lake_dir, &arrivals, Window::Week, last_arrival);
    for (name, (posts, _)) in week["profile"].iter().take(20) {
        let (first, last) = Window::Week.buckets_at(last_arrival);
        let rows = store.buckets(&Series::Profile(name.clone(), Resolution::Day), first, last).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.posts).sum::<u64>(), *posts, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_on_dynamodb_equal_a_recount_of_the_stream_tables() {
    scenario(DynamoRules::new(dynamo_table().await).serialised(), "metrics-dynamo").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_in_process_equal_a_recount_of_the_stream_tables() {
    scenario(DynamoRules::new(InProcessMetrics::new()), "metrics-in-process").await;
}

/// `DescribeStreamSummary` scripted: one incarnation, then another.
struct Created(std::sync::Mutex<i64>);

#[async_trait::async_trait]
impl StreamCreation for Created {
    async fn created(&self, _: &str) -> Result<Incarnation, CreationError> {
        Ok(Incarnation(*self.0.lock().unwrap()))
    }
}

/// A stream deleted and created again restarts its sequence numbers below the old
/// mark: its records are counted, once, after the old stream's.
#[tokio::test(flavor = "multi_thread")]
async fn a_recreated_streams_records_are_counted_after_the_old_ones() {
    let store = DynamoRules::new(dynamo_table().await).serialised();
    let created = std::sync::Arc::new(Created(std::sync::Mutex::new(1_000)));
    struct Shared(std::sync::Arc<Created>);
    #[async_trait::async_trait]
    impl StreamCreation for Shared {
        async fn created(&self, stream: &str) -> Result<Incarnation, CreationError> {
            self.0.created(stream).await
        }
    }
    let writer = MetricsWriter::new(store.clone()).with_stream_creation(Shared(created.clone()));
    let stream = Names { id: ID }.stream(Kind::Geo);
    let geos = sample_lines("sample_geo.jsonl");
    let at = |i: usize, line: &String| Delivered {
        shard: 0,
        sequence: sequence_number(0, (i % 20) as u64),
        arrival: FIRST_ARRIVAL,
        data: line.as_bytes().to_vec(),
    };
    let old: Vec<Delivered> = geos[..20].iter().enumerate().map(|(i, l)| at(i, l)).collect();
    let new: Vec<Delivered> = geos[20..35].iter().enumerate().map(|(i, l)| at(i, l)).collect();
    for records in [&old, &old] {
        deliver(&writer, &kinesis(&stream, records)).await;
    }
    *created.0.lock().unwrap() = 2_000;
    for records in [&new, &new] {
        let (response, counts) = writer.handle(&kinesis(&stream, records)).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        assert!(counts.records_counted == 0 || counts.duplicates_skipped == 0, "{counts:?}");
    }
    let mark = store.mark(&format!("{stream}/{}", shard_id(0))).await.unwrap().unwrap();
    assert_eq!(mark.incarnation, Incarnation(2_000));
    let countries = counted(&store, Window::Week, FIRST_ARRIVAL).await["country"].clone();
    let expected = geos[..35].iter().filter(|l| !l.contains("\"country\": null")).count() as u64;
    assert_eq!(countries.values().map(|(posts, _)| posts).sum::<u64>(), expected, "{countries:?}");
}

/// A post's marker past its expiry counts no more, whether or not DynamoDB's TTL
/// sweeper (days late at times; moto has none) has removed it.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_marker_counts_no_more_without_the_ttl_sweeper() {
    for store in [
        Box::new(dynamo_table().await) as Box<dyn MetricsStore>,
        Box::new(InProcessMetrics::new()) as Box<dyn MetricsStore>,
    ] {
        let shard = "streaming-x-pin/shardId-000000000000";
        let mark = |n: &str| ShardMark { incarnation: Incarnation(1), sequence: SequenceNumber::parse(n).unwrap() };
        let commit = |n: &str| Commit { counted: vec![(Kind::Pin, 7)], mark: Some(mark(n)), ..Default::default() };
        store.commit(shard, None, commit("1"), FIRST_ARRIVAL).await.unwrap();
        assert_eq!(store.counted(Kind::Pin, &[7, 8], FIRST_ARRIVAL + 60_000).await.unwrap().len(), 1);
        let eight_days_on = FIRST_ARRIVAL + 8 * 86_400_000;
        assert!(store.counted(Kind::Pin, &[7], eight_days_on).await.unwrap().is_empty(), "expired");
        // Counted again then: the expired marker is replaced; a live one refuses.
        store.commit(shard, Some(&mark("1")), commit("2"), eight_days_on).await.unwrap();
        let refused = store.commit(shard, Some(&mark("2")), commit("3"), eight_days_on + 1).await.unwrap_err();
        assert!(
            matches!(refused, pinpipe::metrics::store::StoreError::AlreadyCounted(ref p) if p == &[(Kind::Pin, 7)]),
            "{refused}"
        );
    }
}

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
