//! The local stand-in for Lambda's Kinesis event source mapping: a [`BatchSource`]
//! whose lanes are a stream's shards, fetched with GetRecords after the last
//! checkpoint into a `KinesisEvent` exactly as Lambda builds it; partial batch
//! responses honoured, like `ReportBatchItemFailures` (the loop is `polling::Mapping`).

use std::collections::HashMap;

use crate::polling::{BatchSource, Mapping};

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("Kinesis {operation} on {stream}: {detail}")]
    Kinesis { operation: &'static str, stream: String, detail: String },
}

/// A stream's shards, read from the last checkpoint of each.
pub struct KinesisShards {
    client: aws_sdk_kinesis::Client,
    stream: String,
    stream_arn: String,
    batch_size: i32,
    /// Per shard: the last sequence number handled successfully.
    checkpoints: HashMap<String, String>,
}

/// The Kinesis event source mapping of one stream.
pub type KinesisPoller = Mapping<KinesisShards>;

impl Mapping<KinesisShards> {
    pub async fn new(client: aws_sdk_kinesis::Client, stream: &str, batch_size: i32) -> Result<Self, PollError> {
        let summary = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| kinesis("DescribeStreamSummary", stream, e))?;
        let stream_arn = summary.stream_description_summary().map(|s| s.stream_arn().to_owned()).unwrap_or_default();
        let shards =
            KinesisShards { client, stream: stream.to_owned(), stream_arn, batch_size, checkpoints: HashMap::new() };
        Ok(Mapping::over(shards))
    }
}

/// One record of a shard, as the event source mapping hands it on.
pub struct ShardRecord<'a> {
    pub sequence_number: &'a str,
    pub partition_key: &'a str,
    pub data: &'a [u8],
    /// Seconds since the epoch.
    pub arrival: f64,
}

/// The event Lambda would deliver for these records of one shard.
pub fn kinesis_event<'a>(
    stream_arn: &str,
    shard_id: &str,
    records: impl IntoIterator<Item = ShardRecord<'a>>,
) -> KinesisEvent {
    let region = stream_arn.split(':').nth(3).unwrap_or("us-east-1");
    let records: Vec<_> = records
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": base64::engine::general_purpose::STANDARD.encode(r.data),
                    "approximateArrivalTimestamp": r.arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard_id}:{}", r.sequence_number),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/pinpipe-local",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).expect("the Lambda Kinesis event shape")
}

/// How many of a batch's records (by sequence number, in order) the handler's answer
/// lets the shard move past: all, or those before the first reported failure (Lambda
/// retries from there, as with `ReportBatchItemFailures`).
pub fn succeeded_prefix<S: AsRef<str>>(response: &KinesisEventResponse, sequence_numbers: &[S]) -> usize {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.as_deref())
        .filter_map(|id| sequence_numbers.iter().position(|s| s.as_ref() == id))
        .min()
        .unwrap_or(sequence_numbers.len())
}

fn kinesis(operation: &'static str, stream: &str, error: impl std::error::Error) -> PollError {
    let mut detail = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    PollError::Kinesis { operation, stream: stream.to_owned(), detail }
}

impl BatchSource for KinesisShards {
    type Lane = String;
    type Position = String;
    type Event = KinesisEvent;
    type Response = KinesisEventResponse;
    type Error = PollError;

    async fn lanes(&mut self) -> Result<Vec<String>, PollError> {
        let shards = self
            .client
            .list_shards()
            .stream_name(&self.stream)
            .send()
            .await
            .map_err(|e| kinesis("ListShards", &self.stream, e))?;
        Ok(shards.shards().iter().map(|s| s.shard_id().to_owned()).collect())
    }

    async fn fetch(&mut self, shard_id: &String) -> Result<Option<(KinesisEvent, Vec<String>)>, PollError> {
        let request = self.client.get_shard_iterator().stream_name(&self.stream).shard_id(shard_id);
        let request = match self.checkpoints.get(shard_id) {
            Some(seq) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).starting_sequence_number(seq)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let iterator = request.send().await.map_err(|e| kinesis("GetShardIterator", &self.stream, e))?;
        let Some(iterator) = iterator.shard_iterator() else { return Ok(None) };
        let got = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(self.batch_size)
            .send()
            .await
            .map_err(|e| kinesis("GetRecords", &self.stream, e))?;
        if got.records().is_empty() {
            return Ok(None);
        }
        let sequence_numbers = got.records().iter().map(|r| r.sequence_number().to_owned()).collect();
        let event = kinesis_event(
            &self.stream_arn,
            shard_id,
            got.records().iter().map(|r| ShardRecord {
                sequence_number: r.sequence_number(),
                partition_key: r.partition_key().unwrap_or_default(),
                data: r.data().as_ref(),
                arrival: r.approximate_arrival_timestamp().map_or(0.0, |t| t.as_secs_f64()),
            }),
        );
        Ok(Some((event, sequence_numbers)))
    }

    fn taken(response: &KinesisEventResponse, sequence_numbers: &[String]) -> usize {
        succeeded_prefix(response, sequence_numbers)
    }

    async fn advance(&mut self, shard_id: &String, last: &String) -> Result<(), PollError> {
        self.checkpoints.insert(shard_id.clone(), last.clone());
        Ok(())
    }
}
