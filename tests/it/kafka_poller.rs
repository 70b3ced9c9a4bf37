//! Records produced by a client that is not ours (Python confluent-kafka) go through
//! the local MSK event source mapping (the Kafka poller over tansu) into the batch
//! sink and land byte-identical, once, even when batches fail and are redelivered.

use std::io::Write;
use std::process::{Command, Stdio};

use pinpipe::delivery::lanes::{KafkaBatchItemFailure, KafkaBatchResponse};
use pinpipe::lake::Lake;
use pinpipe::sink::BatchSink;
use pinpipe_local::kafka_poller::KafkaPoller;
use pinpipe_local::polling::Poller;
use pinpipe_tests::json_reader::duckdb_read_json;
use pinpipe_tests::readers::python;
use pinpipe_tests::{sample_lines, stack, temp_lake};
use rskafka::client::ClientBuilder;

/// Produces `values` to one partition with Python confluent-kafka; the acknowledged offsets.
fn produce_with_confluent_kafka(topic: &str, partition: i32, values: &[String]) -> Vec<i64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/kafka_produce.py");
    let mut child = Command::new(python())
        .args([script, &stack::kafka_bootstrap(), topic, &partition.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(values.join("\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let acked: Vec<(i32, i64, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(acked.iter().map(|(_, _, v)| v.clone()).collect::<Vec<_>>(), values);
    acked.into_iter().map(|(_, offset, _)| offset).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn records_from_confluent_kafka_land_byte_identical_once_through_the_poller() {
    let topic = format!("{}.user", stack::unique_name("poll").replace('-', ""));
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()])
        .build()
        .await
        .unwrap_or_else(|e| panic!("{}", stack::not_running("the tansu Kafka broker", e)));
    client.controller_client().unwrap().create_topic(&topic, 2, 1, 5_000).await.unwrap();
    let users = sample_lines("sample_user.jsonl");
    let (first, second) = (users[..25].to_vec(), users[25..40].to_vec());
    assert_eq!(produce_with_confluent_kafka(&topic, 0, &first), (0..25).collect::<Vec<i64>>());
    assert_eq!(produce_with_confluent_kafka(&topic, 1, &second), (0..15).collect::<Vec<i64>>());

    let dir = temp_lake("kafka-poller");
    let sink = BatchSink::new(Lake::open(dir.to_str().unwrap()).unwrap());
    let mut poller = KafkaPoller::new(&stack::kafka_bootstrap(), &topic, 10).await.unwrap();
    // A handler that fails first: nothing may advance, so the next round redelivers.
    let failing = poller
        .poll_once(|event| async move {
            let (key, records) = event.records.iter().next().unwrap();
            KafkaBatchResponse {
                batch_item_failures: vec![KafkaBatchItemFailure {
                    item_identifier: format!("{key}@{}", records[0].offset),
                }],
            }
        })
        .await
        .unwrap();
    assert_eq!(failing.failed_invocations, 2);
    let round = poller
        .run_until_idle(
            |event| {
                let sink = &sink;
                async move { sink.handle(&event).await.0 }
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!(round.records, 40);
    assert_eq!(round.failed_invocations, 0);

    // A poller of a new group starts from the earliest offset again: everything is redelivered, nothing lands twice.
    let lake = Lake::open(dir.to_str().unwrap()).unwrap();
    let mut again = KafkaPoller::new(&stack::kafka_bootstrap(), &topic, 7)
        .await
        .unwrap()
        .with_group(lake.clone(), "pinpipe-tests")
        .await
        .unwrap();
    let redelivered = again
        .run_until_idle(
            |event| {
                let sink = &sink;
                async move { sink.handle(&event).await.0 }
            },
            100,
        )
        .await
        .unwrap();
    assert_eq!((redelivered.records, redelivered.failed_invocations), (40, 0), "{redelivered:?}");

    // The same group again resumes where it committed: nothing to deliver.
    let mut resumed = KafkaPoller::new(&stack::kafka_bootstrap(), &topic, 7)
        .await
        .unwrap()
        .with_group(lake, "pinpipe-tests")
        .await
        .unwrap();
    let round = resumed.poll_once(|_| async { panic!("nothing is left to deliver") }).await.unwrap();
    assert_eq!(round.records, 0);

    for (partition, values) in [(0, &first), (1, &second)] {
        let prefix = dir.join(format!("topics/{topic}/partition={partition}"));
        let mut objects: Vec<_> = std::fs::read_dir(&prefix).unwrap().map(|e| e.unwrap().path()).collect();
        objects.sort();
        let landed: Vec<u8> = objects.iter().flat_map(|p| std::fs::read(p).unwrap()).collect();
        let produced: Vec<u8> = values.iter().flat_map(|v| [v.as_bytes(), b"\n"].concat()).collect();
        assert_eq!(landed, produced, "partition {partition}: byte-identical, once, in offset order");
    }
    let read = duckdb_read_json(dir.join("topics").to_str().unwrap());
    assert_eq!(read.rows, 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_deleted_and_created_again_on_the_broker_is_not_taken_for_the_old_one() {
    let topic = format!("{}.pin", stack::unique_name("recreate").replace('-', ""));
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()])
        .build()
        .await
        .unwrap_or_else(|e| panic!("{}", stack::not_running("the tansu Kafka broker", e)));
    let controller = client.controller_client().unwrap();
    controller.create_topic(&topic, 1, 1, 5_000).await.unwrap();
    let pins = sample_lines("sample_pin.jsonl");
    assert_eq!(produce_with_confluent_kafka(&topic, 0, &pins[..10]), (0..10).collect::<Vec<i64>>());
    let dir = temp_lake("kafka-recreated");
    let sink = BatchSink::new(Lake::open(dir.to_str().unwrap()).unwrap());
    let drain = |poller: KafkaPoller| {
        let sink = &sink;
        async move {
            let mut poller = poller;
            poller.poll_once(|event| async move { sink.handle(&event).await.0 }).await.unwrap()
        }
    };
    let first = drain(KafkaPoller::new(&stack::kafka_bootstrap(), &topic, 100).await.unwrap()).await;
    assert_eq!((first.records, first.failed_invocations), (10, 0));

    // Deleted and created again: the broker restarts the offsets at 0.
    controller.delete_topic(&topic, 5_000).await.unwrap();
    let mut recreated = false;
    for _ in 0..50 {
        if controller.create_topic(&topic, 1, 1, 5_000).await.is_ok() {
            recreated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recreated, "the topic could not be created again");
    assert_eq!(produce_with_confluent_kafka(&topic, 0, &pins[10..15]), (0..5).collect::<Vec<i64>>());
    // As Lambda's mapping would after the old group's offsets went with the old topic.
    let second = drain(KafkaPoller::new(&stack::kafka_bootstrap(), &topic, 100).await.unwrap()).await;
    assert_eq!((second.records, second.failed_invocations), (5, 1), "the new incarnation is refused, not skipped");
    let landed = std::fs::read(dir.join(format!("topics/{topic}/partition=0/{topic}+0+0000000000.json"))).unwrap();
    let expected: Vec<u8> = pins[..10].iter().flat_map(|l| [l.as_bytes(), b"\n"].concat()).collect();
    assert_eq!(landed, expected, "the old incarnation's object is untouched");
}
