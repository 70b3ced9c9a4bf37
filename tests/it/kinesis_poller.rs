//! The streaming path end to end on moto: records put into a real (moto) Kinesis
//! stream with several shards, delivered by the local event-source poller to the
//! stream cleaner, land once in the Delta table; a failing invocation is
//! redelivered, not skipped.

use aws_sdk_kinesis::primitives::Blob;
use pinpipe::Kind;
use pinpipe::config::Names;
use pinpipe::lake::Lake;
use pinpipe::lake::delta::Fault;
use pinpipe::record::generate::{GenerateOptions, Generator};
use pinpipe::stream::StreamCleaner;
use pinpipe_local::kinesis_poller::KinesisPoller;
use pinpipe_local::polling::Poller;
use pinpipe_tests::readers::duckdb_delta;
use pinpipe_tests::{stack, temp_lake};

#[tokio::test]
async fn records_put_into_kinesis_land_once_through_the_poller() {
    let kinesis = stack::kinesis().await;
    let id = stack::unique_name("p").replace('-', "");
    let stream = Names { id: &id }.stream(Kind::Geo);
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(3)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", stack::not_running("moto Kinesis", e)));
    let posts: Vec<_> = Generator::new(GenerateOptions { posts: 90, seed: 5, resend: false }).posts().collect();
    for post in &posts {
        kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key(post.id.to_string())
            .data(Blob::new(post.geo.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    let lake_dir = temp_lake("poller");
    let lake = Lake::open(lake_dir.to_str().unwrap()).unwrap();
    let mut poller = KinesisPoller::new(kinesis.clone(), &stream, 20).await.unwrap();

    // First every invocation fails after writing data files: nothing may advance.
    let crashing = &StreamCleaner::new(lake.clone(), id.clone()).with_fault(Some(Fault::AfterDataFilesBeforeCommit));
    let round = poller.poll_once(|event| async move { crashing.handle(&event).await.0 }).await.unwrap();
    assert!(round.invocations >= 1 && round.failed_invocations == round.invocations, "{round:?}");

    // Then the next three appends fail and later ones succeed: nothing is lost.
    let cleaner = &StreamCleaner::new(lake, id.clone()).with_faults(Some(Fault::AfterDataFilesBeforeCommit), 3);
    let total = poller.run_until_idle(|event| async move { cleaner.handle(&event).await.0 }, 100).await.unwrap();
    assert_eq!(total.failed_invocations, 3);
    assert!(total.records > 90, "the failed batches were redelivered: {total:?}");
    let table = lake_dir.join(Names { id: &id }.stream_table(Kind::Geo));
    let read = duckdb_delta(table.to_str().unwrap());
    assert_eq!(read.inds, (0..90).collect::<Vec<_>>());

    // Caught up: another round delivers nothing; a restarted poller (from TRIM_HORIZON)
    // redelivers everything, and the table still holds each record once.
    assert_eq!(poller.poll_once(|event| async move { cleaner.handle(&event).await.0 }).await.unwrap().records, 0);
    let mut restarted = KinesisPoller::new(kinesis.clone(), &stream, 50).await.unwrap();
    let redelivered =
        restarted.run_until_idle(|event| async move { cleaner.handle(&event).await.0 }, 100).await.unwrap();
    assert_eq!((redelivered.records, redelivered.failed_invocations), (90, 0), "{redelivered:?}");
    assert_eq!(duckdb_delta(table.to_str().unwrap()).rows, 90);
    kinesis.delete_stream().stream_name(&stream).send().await.unwrap();
}

/// A stream deleted and created again under the same name restarts its sequence
/// numbers (moto does, and AWS does not promise otherwise): its records must land,
/// not be skipped as if the old stream had landed them.
#[tokio::test]
async fn a_recreated_streams_records_land_after_the_old_ones() {
    let kinesis = stack::kinesis().await;
    let id = stack::unique_name("r").replace('-', "");
    let stream = Names { id: &id }.stream(Kind::Geo);
    let posts: Vec<_> = Generator::new(GenerateOptions { posts: 40, seed: 9, resend: false }).posts().collect();
    let lake_dir = temp_lake("recreated");
    let lake = Lake::open(lake_dir.to_str().unwrap()).unwrap();
    let table = lake_dir.join(Names { id: &id }.stream_table(Kind::Geo));
    // One warm cleaner throughout: its cache still holds the first incarnation when
    // the second one's records arrive.
    let cleaner = &StreamCleaner::new(lake.clone(), id.clone()).with_stream_creation(kinesis.clone());
    for (incarnation, half) in posts.chunks(20).enumerate() {
        kinesis
            .create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}", stack::not_running("moto Kinesis", e)));
        for post in half {
            kinesis
                .put_record()
                .stream_name(&stream)
                .partition_key(post.id.to_string())
                .data(Blob::new(post.geo.as_bytes()))
                .send()
                .await
                .unwrap();
        }
        // Delivered twice (a restarted poller redelivers all): landed once.
        for _ in 0..2 {
            let mut poller = KinesisPoller::new(kinesis.clone(), &stream, 7).await.unwrap();
            let total =
                poller.run_until_idle(|event| async move { cleaner.handle(&event).await.0 }, 100).await.unwrap();
            assert_eq!((total.records, total.failed_invocations), (20, 0), "incarnation {incarnation}: {total:?}");
        }
        let read = duckdb_delta(table.to_str().unwrap());
        assert_eq!(read.inds, (0..20 * (incarnation as i64 + 1)).collect::<Vec<_>>(), "incarnation {incarnation}");
        kinesis.delete_stream().stream_name(&stream).send().await.unwrap();
        // Creation times are kept to the millisecond: keep the two incarnations apart.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    }
}
