//! What the stream cleaner and the batch sink share as event handlers: an event is
//! split into lanes (a Kinesis shard's, a Kafka partition's records, in order); each
//! lane is handled on its own, and a lane that fails is logged and reported by its
//! first record — Lambda retries it from there — while the others' work stands.

use std::fmt;
use std::ops::AddAssign;

/// One lane's records of an event.
pub trait Lane: fmt::Display {
    /// How the event source mapping is told the lane failed (a batch item failure).
    type Failure;
    fn records(&self) -> usize;
    /// The failure that makes Lambda retry the lane from its first record.
    fn failure(&self) -> Self::Failure;
}

/// A handler's counts of one invocation.
pub trait Counted: Default + AddAssign {
    /// The counts of `records` records that failed (to be redelivered).
    fn failed(records: u64) -> Self;
}

/// Each lane's outcome, handled on its own: the failures to report (logged), and
/// the counts summed.
pub fn report<L, C, E>(outcomes: Vec<(L, Result<C, E>)>) -> (Vec<L::Failure>, C)
where
    L: Lane,
    C: Counted,
    E: fmt::Display,
{
    let mut failures = Vec::new();
    let mut counts = C::default();
    for (lane, outcome) in outcomes {
        match outcome {
            Ok(c) => counts += c,
            Err(error) => {
                tracing::error!(%lane, %error, "a lane's batch failed; reporting it for retry");
                counts += C::failed(lane.records() as u64);
                failures.push(lane.failure());
            }
        }
    }
    (failures, counts)
}

#[cfg(any(feature = "stream", feature = "metrics"))]
pub use kinesis::{ShardRecords, group_by_shard, kinesis_response};

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

        fn records(&self) -> usize {
            self.records.len()
        }

        fn failure(&self) -> KinesisBatchItemFailure {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(self.records[0].kinesis.sequence_number.clone());
            failure
        }
    }

    /// A Kinesis handler's answer from each shard's outcome: the failed shards as batch
    /// item failures, the counts summed.
    pub fn kinesis_response<C, E>(outcomes: Vec<(ShardRecords<'_>, Result<C, E>)>) -> (KinesisEventResponse, C)
    where
        C: super::Counted,
        E: fmt::Display,
    {
        let (failures, counts) = super::report(outcomes);
        let mut response = KinesisEventResponse::default();
        response.batch_item_failures = failures;
        (response, counts)
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
