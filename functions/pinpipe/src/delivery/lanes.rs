//! What the stream cleaner, the metrics writer and the batch sink share as event handlers: an event is
//! split into lanes (a Kinesis shard's, a Kafka partition's records, in order); each
//! lane is handled on its own, and a lane that fails is logged and reported by its
//! first record — Lambda retries it from there — while the others' work stands.

use std::fmt;
use std::ops::AddAssign;

/// One lane's records of an event.
pub trait Lane: fmt::Display {
    /// How the event source mapping is told the lane failed (a batch item failure).
    type Failure;
    /// The event's answer: its lanes' failures.
    type Response;
    fn records(&self) -> usize;
    /// The failure that makes Lambda retry the lane from its first record.
    fn failure(&self) -> Self::Failure;
    fn response(failures: Vec<Self::Failure>) -> Self::Response;
}

/// A handler's counts of one invocation.
pub trait Counted: Default + AddAssign {
    /// The counts of `records` records that failed (to be redelivered).
    fn failed(records: u64) -> Self;
}

/// Runs `run` over each lane in turn, each on its own: a lane that fails is logged
/// and reported by its first record (Lambda retries it from there) while the others'
/// work stands. The event's answer, and the counts summed. The one loop of the stream
/// cleaner, the metrics writer and the batch sink.
pub async fn handle<'l, L, C, E, F, Fut>(lanes: &'l [L], mut run: F) -> (L::Response, C)
where
    L: Lane,
    C: Counted,
    E: fmt::Display,
    F: FnMut(&'l L) -> Fut,
    Fut: Future<Output = Result<C, E>>,
{
    let mut failures = Vec::new();
    let mut counts = C::default();
    for lane in lanes {
        match run(lane).await {
            Ok(c) => counts += c,
            Err(error) => {
                tracing::error!(%lane, %error, "a lane's batch failed; reporting it for retry");
                counts += C::failed(lane.records() as u64);
                failures.push(lane.failure());
            }
        }
    }
    (L::response(failures), counts)
}

#[cfg(any(feature = "stream", feature = "metrics"))]
pub use kinesis::{ShardRecords, group_by_shard};

/// Kinesis events' lanes: what the stream cleaner and the metrics writer both read.
#[cfg(any(feature = "stream", feature = "metrics"))]
mod kinesis {
    use std::fmt;

    use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
    use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};

    use super::Lane;

    /// One shard's records in an event, in delivery order.
    pub struct ShardRecords<'e> {
        pub stream: String,
        pub shard: String,
        pub records: Vec<&'e KinesisEventRecord>,
    }

    impl fmt::Display for ShardRecords<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "stream {} shard {}", self.stream, self.shard)
        }
    }

    impl Lane for ShardRecords<'_> {
        type Failure = KinesisBatchItemFailure;
        type Response = KinesisEventResponse;

        fn records(&self) -> usize {
            self.records.len()
        }

        fn failure(&self) -> KinesisBatchItemFailure {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(self.records[0].kinesis.sequence_number.clone());
            failure
        }

        fn response(failures: Vec<KinesisBatchItemFailure>) -> KinesisEventResponse {
            let mut response = KinesisEventResponse::default();
            response.batch_item_failures = failures;
            response
        }
    }

    /// Splits an event into its shards' records, keeping delivery order.
    pub fn group_by_shard(event: &KinesisEvent) -> Vec<ShardRecords<'_>> {
        let mut shards: Vec<ShardRecords> = Vec::new();
        for record in &event.records {
            let stream = record
                .event_source_arn
                .as_deref()
                // A stream's ARN, or an enhanced fan-out consumer's (`…:stream/<name>/consumer/…`).
                .and_then(|arn| arn.rsplit_once(":stream/").and_then(|(_, rest)| rest.split('/').next()))
                .unwrap_or_default()
                .to_owned();
            let shard = record
                .event_id
                .as_deref()
                .and_then(|id| id.split_once(':').map(|(shard, _)| shard))
                .unwrap_or_default()
                .to_owned();
            match shards.iter_mut().find(|s| s.stream == stream && s.shard == shard) {
                Some(group) => group.records.push(record),
                None => shards.push(ShardRecords { stream, shard, records: vec![record] }),
            }
        }
        shards
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_shard_is_named_by_its_stream_read_directly_or_through_a_consumer() {
            let record = |arn: &str, seq: &str| {
                serde_json::json!({
                    "kinesis": { "partitionKey": "k", "sequenceNumber": seq, "data": "", "kinesisSchemaVersion": "1.0",
                                 "approximateArrivalTimestamp": 1.0 },
                    "eventID": format!("shardId-000000000000:{seq}"),
                    "eventSourceARN": arn,
                })
            };
            let stream = "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-x-pin";
            let consumer = format!("{stream}/consumer/pinpipe-x-metrics:1796000000");
            let event: KinesisEvent =
                serde_json::from_value(serde_json::json!({ "Records": [record(stream, "1"), record(&consumer, "2")] }))
                    .unwrap();
            let shards = group_by_shard(&event);
            assert_eq!(shards.len(), 1, "one shard, however it was read");
            assert_eq!(
                (shards[0].stream.as_str(), shards[0].shard.as_str()),
                ("streaming-x-pin", "shardId-000000000000")
            );
            assert_eq!(shards[0].records.len(), 2);
        }
    }
}

#[cfg(feature = "sink")]
pub use kafka::{KafkaBatchItemFailure, KafkaBatchResponse, PartitionOffset, PartitionRecords, by_partition};

/// MSK events' lanes: the batch sink's partitions.
#[cfg(feature = "sink")]
mod kafka {
    use std::collections::BTreeMap;
    use std::fmt;

    use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};

    use super::Lane;

    /// Lambda's MSK event source mapping has no partial batch response; this is ours,
    /// shaped like the Kinesis one: the first offset of each partition that failed.
    #[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct KafkaBatchResponse {
        #[serde(rename = "batchItemFailures")]
        pub batch_item_failures: Vec<KafkaBatchItemFailure>,
    }

    /// `itemIdentifier` is `<topic>-<partition>@<offset>` ([`PartitionOffset`]): retry
    /// that partition from there.
    #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub struct KafkaBatchItemFailure {
        #[serde(rename = "itemIdentifier")]
        pub item_identifier: String,
    }

    impl KafkaBatchItemFailure {
        pub fn at(position: &PartitionOffset) -> Self {
            KafkaBatchItemFailure { item_identifier: position.to_string() }
        }

        /// The position named, if the identifier is one of ours.
        pub fn position(&self) -> Option<PartitionOffset> {
            self.item_identifier.parse().ok()
        }
    }

    /// An offset of a topic partition, written `<topic>-<partition>@<offset>` (the MSK
    /// event's `<topic>-<partition>` record key, then the offset).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PartitionOffset {
        pub topic: String,
        pub partition: i32,
        pub offset: i64,
    }

    impl fmt::Display for PartitionOffset {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}-{}@{}", self.topic, self.partition, self.offset)
        }
    }

    impl std::str::FromStr for PartitionOffset {
        type Err = ();

        /// Topic names may hold `-`; the partition is after the last one.
        fn from_str(text: &str) -> Result<Self, ()> {
            let (key, offset) = text.rsplit_once('@').ok_or(())?;
            let (topic, partition) = topic_partition(key).ok_or(())?;
            Ok(PartitionOffset {
                topic: topic.to_owned(),
                partition: partition.parse().map_err(|_| ())?,
                offset: offset.parse().map_err(|_| ())?,
            })
        }
    }

    /// `<topic>-<partition>`, as MSK events key their records and failures name a
    /// partition, split at its last `-` (topics may hold `-`; partitions do not).
    fn topic_partition(key: &str) -> Option<(&str, &str)> {
        key.rsplit_once('-')
    }

    /// One partition's records in an event, in offset order.
    pub struct PartitionRecords<'e> {
        /// The topic, the partition, and the first record's offset.
        pub position: PartitionOffset,
        pub records: Vec<&'e KafkaRecord>,
    }

    impl fmt::Display for PartitionRecords<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "topic {} partition {}", self.position.topic, self.position.partition)
        }
    }

    impl Lane for PartitionRecords<'_> {
        type Failure = KafkaBatchItemFailure;
        type Response = KafkaBatchResponse;

        fn records(&self) -> usize {
            self.records.len()
        }

        fn failure(&self) -> KafkaBatchItemFailure {
            KafkaBatchItemFailure::at(&self.position)
        }

        fn response(batch_item_failures: Vec<KafkaBatchItemFailure>) -> KafkaBatchResponse {
            KafkaBatchResponse { batch_item_failures }
        }
    }

    /// The event's records by partition, each partition's in offset order, once each.
    pub fn by_partition(event: &KafkaEvent) -> Vec<PartitionRecords<'_>> {
        let mut partitions: BTreeMap<(String, i32), Vec<&KafkaRecord>> = BTreeMap::new();
        for (key, records) in &event.records {
            for record in records {
                // The map key is `<topic>-<partition>`; the record's own fields say it plainly.
                let topic = record
                    .topic
                    .clone()
                    .unwrap_or_else(|| topic_partition(key).map_or(key.as_str(), |(t, _)| t).to_owned());
                partitions.entry((topic, record.partition as i32)).or_default().push(record);
            }
        }
        partitions
            .into_iter()
            .map(|((topic, partition), mut records)| {
                records.sort_by_key(|r| r.offset);
                records.dedup_by_key(|r| r.offset);
                let offset = records[0].offset;
                PartitionRecords { position: PartitionOffset { topic, partition, offset }, records }
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn failed_partitions_are_named_and_read_back_typed() {
            let position = PartitionOffset { topic: "pin-dev.pin".into(), partition: 12, offset: 4_000_000_001 };
            let failure = KafkaBatchItemFailure::at(&position);
            assert_eq!(failure.item_identifier, "pin-dev.pin-12@4000000001");
            assert_eq!(failure.position(), Some(position));
            for junk in ["", "pin@5", "pin-x@5", "pin-1@", "pin-1"] {
                assert_eq!(KafkaBatchItemFailure { item_identifier: junk.into() }.position(), None, "{junk}");
            }
        }
    }
}
