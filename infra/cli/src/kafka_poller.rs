//! The local stand-in for Lambda's MSK event source mapping: a [`BatchSource`] whose
//! lanes are a topic's partitions, fetched from each one's position into a
//! `KafkaEvent` exactly as Lambda builds it (values base64); a failed batch is
//! redelivered from its first failed offset (the loop is `polling::Mapping`). rskafka (the one Kafka client here that works with tansu
//! without a C build) has no consumer-group API, so a poller's group keeps its
//! committed positions in the lake (`state/kafka-poller/<group>/<topic>/partition=<p>`),
//! written only after the handler succeeded; a new group starts from the earliest offset.

use std::collections::HashMap;

use crate::polling::{BatchSource, Mapping};

use aws_lambda_events::event::kafka::KafkaEvent;
use base64::Engine;
use pinpipe::delivery::lanes::KafkaBatchResponse;
use pinpipe::lake::{Lake, LakeError};
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};

#[derive(Debug, thiserror::Error)]
pub enum KafkaPollError {
    #[error("Kafka {operation} on {topic}: {source}")]
    Kafka { operation: &'static str, topic: String, source: rskafka::client::error::Error },
    #[error("topic {0} does not exist")]
    NoTopic(String),
    #[error("the group's committed position: {0}")]
    Commit(#[from] LakeError),
}

/// A topic's partitions, read from each one's position.
pub struct KafkaPartitions {
    topic: String,
    bootstrap: String,
    batch_size: usize,
    partitions: Vec<(i32, PartitionClient)>,
    /// Per partition: the next offset to deliver.
    positions: HashMap<i32, i64>,
    /// Per partition: records fetched but not yet delivered. tansu answers a fetch
    /// that starts inside a record batch with nothing, so a whole fetched batch is
    /// kept and delivered from here in `batch_size` slices.
    fetched: HashMap<i32, Vec<rskafka::record::RecordAndOffset>>,
    /// Where the group commits its positions, when it has one.
    group: Option<(Lake, String)>,
}

/// The MSK event source mapping of one topic.
pub type KafkaPoller = Mapping<KafkaPartitions>;

impl Mapping<KafkaPartitions> {
    pub async fn new(bootstrap: &str, topic: &str, batch_size: usize) -> Result<Self, KafkaPollError> {
        let error = |operation| move |source| KafkaPollError::Kafka { operation, topic: topic.to_owned(), source };
        let brokers = pinpipe::config::brokers(bootstrap);
        let client = ClientBuilder::new(brokers).build().await.map_err(error("connect"))?;
        let topics = client.list_topics().await.map_err(error("Metadata"))?;
        let found =
            topics.into_iter().find(|t| t.name == topic).ok_or_else(|| KafkaPollError::NoTopic(topic.into()))?;
        let mut partitions = Vec::new();
        let mut positions = HashMap::new();
        for partition in found.partitions {
            let client = client
                .partition_client(topic, partition, UnknownTopicHandling::Error)
                .await
                .map_err(error("partition"))?;
            positions.insert(partition, client.get_offset(OffsetAt::Earliest).await.map_err(error("ListOffsets"))?);
            partitions.push((partition, client));
        }
        Ok(Mapping::over(KafkaPartitions {
            topic: topic.to_owned(),
            bootstrap: bootstrap.to_owned(),
            batch_size,
            partitions,
            positions,
            fetched: HashMap::new(),
            group: None,
        }))
    }

    /// Joins `group`: resumes from its committed positions in `lake` and commits
    /// there after each batch the handler took.
    pub async fn with_group(self, lake: Lake, group: &str) -> Result<Self, KafkaPollError> {
        let mut partitions = self.into_source();
        for (partition, _) in &partitions.partitions {
            if let Some(bytes) = lake.get(&commit_key(group, &partitions.topic, *partition)).await?
                && let Some(committed) = std::str::from_utf8(&bytes).ok().and_then(|t| t.trim().parse::<i64>().ok())
            {
                let position = partitions.positions.entry(*partition).or_default();
                *position = (*position).max(committed);
            }
        }
        partitions.group = Some((lake, group.to_owned()));
        Ok(Mapping::over(partitions))
    }
}

/// The event Lambda's MSK event source mapping would deliver for these records of
/// one partition (keys and values base64).
pub fn kafka_event(
    topic: &str,
    bootstrap: &str,
    partition: i32,
    records: &[rskafka::record::RecordAndOffset],
) -> KafkaEvent {
    let b64 = |bytes: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let records: Vec<_> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "topic": topic,
                "partition": partition,
                "offset": r.offset,
                "timestamp": r.record.timestamp.timestamp_millis(),
                "timestampType": "CREATE_TIME",
                "key": r.record.key.as_ref().map(b64),
                "value": r.record.value.as_ref().map(b64),
                "headers": [],
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe-local/local",
        "bootstrapServers": bootstrap,
        "records": { format!("{topic}-{partition}"): records },
    }))
    .expect("the Lambda MSK event shape")
}

/// How many of a batch's records (by offset, in order) the handler's answer lets the
/// partition move past: all when nothing failed, else those before the first failed
/// offset the answer names (none when it names none in the batch).
pub fn taken_offsets(response: &KafkaBatchResponse, offsets: &[i64]) -> usize {
    if response.batch_item_failures.is_empty() {
        return offsets.len();
    }
    let first_failed = response.batch_item_failures.iter().filter_map(|f| Some(f.position()?.offset)).min();
    first_failed.map_or(0, |failed| offsets.iter().take_while(|o| **o < failed).count())
}

/// Where a group's committed position of a partition is kept in the lake.
fn commit_key(group: &str, topic: &str, partition: i32) -> String {
    format!("state/kafka-poller/{group}/{topic}/partition={partition}")
}

impl BatchSource for KafkaPartitions {
    type Lane = i32;
    type Position = i64;
    type Event = KafkaEvent;
    type Response = KafkaBatchResponse;
    type Error = KafkaPollError;

    async fn lanes(&mut self) -> Result<Vec<i32>, KafkaPollError> {
        Ok(self.partitions.iter().map(|(partition, _)| *partition).collect())
    }

    async fn fetch(&mut self, partition: &i32) -> Result<Option<(KafkaEvent, Vec<i64>)>, KafkaPollError> {
        let position = self.positions[partition];
        let Some((_, client)) = self.partitions.iter().find(|(p, _)| p == partition) else { return Ok(None) };
        let fail = |source| KafkaPollError::Kafka { operation: "Fetch", topic: self.topic.clone(), source };
        let buffer = self.fetched.entry(*partition).or_default();
        buffer.retain(|r| r.offset >= position);
        // Topped up while under a batch (a batch held by a batching window grows).
        if buffer.len() < self.batch_size {
            let from = buffer.last().map_or(position, |r| r.offset + 1);
            let (mut got, high_watermark) = client.fetch_records(from, 1..4 * 1024 * 1024, 100).await.map_err(fail)?;
            if got.is_empty() && high_watermark > from {
                // `from` is inside a record batch (tansu returns nothing then):
                // read from the start and skip what was delivered.
                let earliest = client.get_offset(OffsetAt::Earliest).await.map_err(fail)?;
                let mut at = earliest;
                while got.iter().all(|r| r.offset < from) && at < high_watermark {
                    let (batch, _) = client.fetch_records(at, 1..4 * 1024 * 1024, 100).await.map_err(fail)?;
                    let Some(next) = batch.iter().map(|r| r.offset + 1).max() else { break };
                    at = next;
                    got = batch;
                }
            }
            got.retain(|r| r.offset >= from);
            got.sort_by_key(|r| r.offset);
            buffer.extend(got);
        }
        let fetched: Vec<_> = buffer.iter().take(self.batch_size).cloned().collect();
        if fetched.is_empty() {
            return Ok(None);
        }
        let offsets = fetched.iter().map(|r| r.offset).collect();
        Ok(Some((kafka_event(&self.topic, &self.bootstrap, *partition, &fetched), offsets)))
    }

    fn taken(response: &KafkaBatchResponse, offsets: &[i64]) -> usize {
        taken_offsets(response, offsets)
    }

    async fn advance(&mut self, partition: &i32, last: &i64) -> Result<(), KafkaPollError> {
        self.positions.insert(*partition, last + 1);
        if let Some((lake, group)) = &self.group {
            lake.put(&commit_key(group, &self.topic, *partition), (last + 1).to_string()).await?;
        }
        Ok(())
    }
}
