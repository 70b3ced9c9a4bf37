//! One round trip per local-stack server, each through the Rust client pinpipe
//! uses against it: aws-sdk-s3 and aws-sdk-kinesis on moto, rskafka on tansu.
//! The payloads are real records from `../shared/data`.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_s3::primitives::ByteStream;
use pinpipe_tests::{sample_lines, stack};
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::record::Record;

#[tokio::test]
async fn s3_on_moto_round_trips_and_enforces_create_only_puts() {
    let s3 = stack::s3().await;
    let bucket = stack::unique_name("smoke");
    s3.create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| panic!("{}", stack::not_running("moto S3", e)));
    let body = sample_lines("sample_pin.jsonl")[..3].join("\n") + "\n";
    let key = "topics/0a1b2c3d4e5f.pin/partition=0/0a1b2c3d4e5f.pin+0+0000000000.json";

    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket(&bucket).key(key).send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(got.into_bytes().as_ref(), body.as_bytes());

    // A second create-only put of the same key must fail with 412, not overwrite.
    let second = s3
        .put_object()
        .bucket(&bucket)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from_static(b"other"))
        .send()
        .await;
    let status =
        second.expect_err("create-only put over an existing object").raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(412));
    let got = s3.get_object().bucket(&bucket).key(key).send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(got.into_bytes().as_ref(), body.as_bytes());
}

#[tokio::test]
async fn kinesis_on_moto_round_trips_plain_json_bytes() {
    let kinesis = stack::kinesis().await;
    let stream = stack::unique_name("streaming-smoke-geo");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(2)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", stack::not_running("moto Kinesis", e)));
    let records = sample_lines("sample_geo.jsonl");
    let mut sent = Vec::new();
    for record in &records[..5] {
        let put = kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key("1")
            .data(Blob::new(record.as_bytes()))
            .send()
            .await
            .unwrap();
        sent.push((put.shard_id().to_owned(), put.sequence_number().to_owned(), record.clone()));
    }
    let shard = &sent[0].0;
    assert!(sent.iter().all(|(s, _, _)| s == shard), "one partition key, one shard");
    let read: Vec<(String, String)> = stack::read_stream(&kinesis, &stream)
        .await
        .into_iter()
        .map(|(seq, data)| (seq, String::from_utf8(data).unwrap()))
        .collect();
    let expected: Vec<(String, String)> = sent.into_iter().map(|(_, seq, data)| (seq, data)).collect();
    assert_eq!(read, expected);
    kinesis.delete_stream().stream_name(&stream).send().await.unwrap();
}

#[tokio::test]
async fn kafka_on_tansu_round_trips_with_offsets() {
    let client = ClientBuilder::new(vec![stack::kafka_bootstrap()])
        .build()
        .await
        .unwrap_or_else(|e| panic!("{}", stack::not_running("the tansu Kafka broker", e)));
    let topic = stack::unique_name("smoke.user");
    client.controller_client().unwrap().create_topic(&topic, 3, 1, 5_000).await.unwrap();
    let partition = client.partition_client(&topic, 1, UnknownTopicHandling::Retry).await.unwrap();
    let values: Vec<String> = sample_lines("sample_user.jsonl").into_iter().take(4).collect();
    let records = values
        .iter()
        .map(|v| Record {
            key: None,
            value: Some(v.clone().into_bytes()),
            headers: Default::default(),
            timestamp: chrono::Utc::now(),
        })
        .collect();
    let offsets = partition.produce(records, Compression::NoCompression).await.unwrap();
    assert_eq!(offsets, vec![0, 1, 2, 3]);

    let (fetched, high_watermark) = partition.fetch_records(0, 1..1_000_000, 1_000).await.unwrap();
    assert_eq!(high_watermark, 4);
    let read: Vec<(i64, String)> =
        fetched.into_iter().map(|r| (r.offset, String::from_utf8(r.record.value.unwrap()).unwrap())).collect();
    assert_eq!(read, values.into_iter().enumerate().map(|(i, v)| (i as i64, v)).collect::<Vec<_>>());
}
