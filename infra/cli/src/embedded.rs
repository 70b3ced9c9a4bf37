//! The embedded default (SPEC §8): in-process streams and topics that stand in for
//! Kinesis and Kafka. They implement the same [`StreamService`] and [`TopicService`]
//! the ingest handler uses against AWS, keep shards and partitions with Kinesis-style
//! sequence numbers and Kafka offsets, and are [`BatchSource`]s of the same event
//! source mapping loop as the real pollers (`polling::Mapping`): the same Lambda event
//! types to the same handlers, in batches, honouring partial failures, and, when asked,
//! redelivering batches the handler already took.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use aws_lambda_events::event::kafka::KafkaEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use pinpipe::delivery::lanes::KafkaBatchResponse;
use pinpipe::ingest::services::{
    EntryFailure, Placed, ServiceError, StreamEntry, StreamService, StreamSummary, TopicRecord, TopicService,
};

use crate::kafka_poller::{kafka_event, taken_offsets};
use crate::kinesis_poller::{ShardRecord, kinesis_event, succeeded_prefix};
use crate::polling::{BatchSource, Mapping};

/// Kinesis's first sequence number of a shard looks like this: 56 digits.
const FIRST_SEQUENCE: u128 = 49_000_000_000_000_000_000_000_000_000_000_000_000;
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

/// Why an in-process poller could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("stream {0} does not exist")]
    NoStream(String),
    #[error("topic {0} does not exist")]
    NoTopic(String),
}

/// A record as a shard keeps it.
#[derive(Clone)]
struct StoredRecord {
    sequence_number: String,
    partition_key: String,
    data: Vec<u8>,
    arrival: f64,
}

struct Stream {
    arn: String,
    shards: Vec<Vec<StoredRecord>>,
}

/// In-process Kinesis streams.
#[derive(Clone, Default)]
pub struct InProcessStreams {
    streams: Arc<Mutex<HashMap<String, Stream>>>,
}

/// A poisoned lock means a panic elsewhere already failed the run; the data is still whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shard_id(index: usize) -> String {
    format!("shardId-{index:012}")
}

/// Kinesis hashes the partition key onto the shards' key ranges; any stable hash does here.
fn shard_of(partition_key: &str, shards: usize) -> usize {
    pinpipe::delivery::partitioner::bucket(partition_key.as_bytes(), shards)
}

fn not_found(name: &str) -> ServiceError {
    ServiceError::NotFound(format!("Stream {name} under account {ACCOUNT} not found."))
}

impl InProcessStreams {
    pub fn new() -> Self {
        Self::default()
    }

    fn append(&self, name: &str, entry: StreamEntry) -> Result<Placed, ServiceError> {
        let mut streams = lock(&self.streams);
        let stream = streams.get_mut(name).ok_or_else(|| not_found(name))?;
        let index = shard_of(&entry.partition_key, stream.shards.len());
        let shard = &mut stream.shards[index];
        // Increasing per shard, and distinct across shards as Kinesis's are.
        let sequence_number = (FIRST_SEQUENCE + (shard.len() as u128) * 1_000 + index as u128).to_string();
        let arrival = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        shard.push(StoredRecord {
            sequence_number: sequence_number.clone(),
            partition_key: entry.partition_key,
            data: entry.data,
            arrival,
        });
        Ok(Placed { sequence_number, shard_id: shard_id(index) })
    }

    /// A poller over `stream`, as the event source mapping with `BatchSize = batch_size`.
    pub fn poller(&self, stream: &str, batch_size: usize) -> Result<Mapping<InProcessShards>, EmbeddedError> {
        let streams = lock(&self.streams);
        let found = streams.get(stream).ok_or_else(|| EmbeddedError::NoStream(stream.to_owned()))?;
        Ok(Mapping::over(InProcessShards {
            streams: self.clone(),
            stream: stream.to_owned(),
            arn: found.arn.clone(),
            batch_size: batch_size.max(1),
            positions: vec![0; found.shards.len()],
        }))
    }
}

#[async_trait]
impl StreamService for InProcessStreams {
    async fn list_streams(&self) -> Result<Vec<String>, ServiceError> {
        let mut names: Vec<String> = lock(&self.streams).keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn describe_stream(&self, name: &str) -> Result<StreamSummary, ServiceError> {
        let streams = lock(&self.streams);
        let stream = streams.get(name).ok_or_else(|| not_found(name))?;
        Ok(StreamSummary {
            name: name.to_owned(),
            arn: stream.arn.clone(),
            status: "ACTIVE".into(),
            open_shards: stream.shards.len() as i32,
            retention_hours: 24,
            encryption: Some("NONE".into()),
        })
    }

    async fn create_stream(&self, name: &str, shards: i32) -> Result<(), ServiceError> {
        let mut streams = lock(&self.streams);
        if streams.contains_key(name) {
            return Err(ServiceError::InUse(format!("Stream {name} already exists")));
        }
        let arn = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}");
        streams.insert(name.to_owned(), Stream { arn, shards: vec![Vec::new(); shards.max(1) as usize] });
        Ok(())
    }

    async fn delete_stream(&self, name: &str) -> Result<(), ServiceError> {
        lock(&self.streams).remove(name).map(|_| ()).ok_or_else(|| not_found(name))
    }

    async fn put_record(&self, name: &str, entry: StreamEntry) -> Result<Placed, ServiceError> {
        self.append(name, entry)
    }

    async fn put_records(
        &self,
        name: &str,
        entries: Vec<StreamEntry>,
    ) -> Result<Vec<Result<Placed, EntryFailure>>, ServiceError> {
        if !lock(&self.streams).contains_key(name) {
            return Err(not_found(name));
        }
        entries.into_iter().map(|entry| self.append(name, entry).map(Ok)).collect()
    }
}

/// The shards of one in-process stream, each read from its own position.
pub struct InProcessShards {
    streams: InProcessStreams,
    stream: String,
    arn: String,
    batch_size: usize,
    /// Per shard: how many records were handled successfully.
    positions: Vec<usize>,
}

/// A record's place in an in-process shard.
pub struct InProcessSequence {
    sequence_number: String,
    index: usize,
}

impl AsRef<str> for InProcessSequence {
    fn as_ref(&self) -> &str {
        &self.sequence_number
    }
}

impl BatchSource for InProcessShards {
    type Lane = usize;
    type Position = InProcessSequence;
    type Event = KinesisEvent;
    type Response = KinesisEventResponse;
    type Error = EmbeddedError;

    async fn lanes(&mut self) -> Result<Vec<usize>, EmbeddedError> {
        Ok((0..self.positions.len()).collect())
    }

    async fn fetch(&mut self, shard: &usize) -> Result<Option<(KinesisEvent, Vec<InProcessSequence>)>, EmbeddedError> {
        let streams = lock(&self.streams.streams);
        let stream = streams.get(&self.stream).ok_or_else(|| EmbeddedError::NoStream(self.stream.clone()))?;
        let records = &stream.shards[*shard];
        let from = self.positions[*shard].min(records.len());
        let batch = &records[from..(from + self.batch_size).min(records.len())];
        if batch.is_empty() {
            return Ok(None);
        }
        let positions = batch
            .iter()
            .enumerate()
            .map(|(i, r)| InProcessSequence { sequence_number: r.sequence_number.clone(), index: from + i })
            .collect();
        let event = kinesis_event(
            &self.arn,
            &shard_id(*shard),
            batch.iter().map(|r| ShardRecord {
                sequence_number: &r.sequence_number,
                partition_key: &r.partition_key,
                data: &r.data,
                arrival: r.arrival,
            }),
        );
        Ok(Some((event, positions)))
    }

    fn taken(response: &KinesisEventResponse, positions: &[InProcessSequence]) -> usize {
        succeeded_prefix(response, positions)
    }

    async fn advance(&mut self, shard: &usize, last: &InProcessSequence) -> Result<(), EmbeddedError> {
        self.positions[*shard] = last.index + 1;
        Ok(())
    }
}

/// In-process Kafka topics: partitions of records at consecutive offsets.
#[derive(Clone, Default)]
pub struct InProcessTopics {
    topics: Arc<Mutex<HashMap<String, Vec<Vec<rskafka::record::RecordAndOffset>>>>>,
}

impl InProcessTopics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `topic` with `partitions` partitions (already there: left as it is).
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        lock(&self.topics).entry(topic.to_owned()).or_insert_with(|| vec![Vec::new(); partitions.max(1) as usize]);
    }

    /// A poller over `topic`, as the MSK event source mapping with `BatchSize = batch_size`.
    pub fn poller(&self, topic: &str, batch_size: usize) -> Result<Mapping<InProcessPartitions>, EmbeddedError> {
        let partitions =
            lock(&self.topics).get(topic).map(Vec::len).ok_or_else(|| EmbeddedError::NoTopic(topic.into()))?;
        Ok(Mapping::over(InProcessPartitions {
            topics: self.clone(),
            topic: topic.to_owned(),
            batch_size: batch_size.max(1),
            positions: vec![0; partitions],
        }))
    }
}

#[async_trait]
impl TopicService for InProcessTopics {
    async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, ServiceError> {
        Ok(lock(&self.topics).get(topic).map(|partitions| (0..partitions.len() as i32).collect()))
    }

    async fn produce(&self, topic: &str, partition: i32, records: Vec<TopicRecord>) -> Result<Vec<i64>, ServiceError> {
        let mut topics = lock(&self.topics);
        let log = topics
            .get_mut(topic)
            .and_then(|partitions| partitions.get_mut(usize::try_from(partition).ok()?))
            .ok_or_else(|| ServiceError::NotFound(format!("{topic}-{partition}")))?;
        Ok(records
            .into_iter()
            .map(|r| {
                let offset = log.len() as i64;
                log.push(rskafka::record::RecordAndOffset {
                    record: rskafka::record::Record {
                        key: r.key,
                        value: Some(r.value),
                        headers: Default::default(),
                        timestamp: r.timestamp,
                    },
                    offset,
                });
                offset
            })
            .collect())
    }
}

/// The partitions of one in-process topic, each read from its own position.
pub struct InProcessPartitions {
    topics: InProcessTopics,
    topic: String,
    batch_size: usize,
    /// Per partition: the next offset to deliver.
    positions: Vec<i64>,
}

impl BatchSource for InProcessPartitions {
    type Lane = usize;
    type Position = i64;
    type Event = KafkaEvent;
    type Response = KafkaBatchResponse;
    type Error = EmbeddedError;

    async fn lanes(&mut self) -> Result<Vec<usize>, EmbeddedError> {
        Ok((0..self.positions.len()).collect())
    }

    async fn fetch(&mut self, partition: &usize) -> Result<Option<(KafkaEvent, Vec<i64>)>, EmbeddedError> {
        let topics = lock(&self.topics.topics);
        let log = &topics.get(&self.topic).ok_or_else(|| EmbeddedError::NoTopic(self.topic.clone()))?[*partition];
        let from = (self.positions[*partition] as usize).min(log.len());
        let batch = &log[from..(from + self.batch_size).min(log.len())];
        if batch.is_empty() {
            return Ok(None);
        }
        let offsets = batch.iter().map(|r| r.offset).collect();
        Ok(Some((kafka_event(&self.topic, "in-process", *partition as i32, batch), offsets)))
    }

    fn taken(response: &KafkaBatchResponse, offsets: &[i64]) -> usize {
        taken_offsets(response, offsets)
    }

    async fn advance(&mut self, partition: &usize, last: &i64) -> Result<(), EmbeddedError> {
        self.positions[*partition] = last + 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polling::Poller;

    #[tokio::test]
    async fn records_land_on_shards_in_sequence_order() {
        let streams = InProcessStreams::new();
        streams.create_stream("s", 2).await.unwrap();
        let mut placed = Vec::new();
        for i in 0..20 {
            let entry = StreamEntry { data: format!("{{\"i\":{i}}}").into_bytes(), partition_key: format!("k{i}") };
            placed.push(streams.put_record("s", entry).await.unwrap());
        }
        for shard in [shard_id(0), shard_id(1)] {
            let seqs: Vec<u128> =
                placed.iter().filter(|p| p.shard_id == shard).map(|p| p.sequence_number.parse().unwrap()).collect();
            assert!(!seqs.is_empty(), "both shards get records");
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "increasing per shard: {seqs:?}");
        }
        let missing = streams.put_record("nope", StreamEntry { data: b"{}".to_vec(), partition_key: "k".into() }).await;
        assert!(matches!(missing, Err(ServiceError::NotFound(_))));
    }

    /// A one-shard stream `s` holding `n` records, the digits 0, 1, … in order.
    async fn digits(n: u8) -> InProcessStreams {
        let streams = InProcessStreams::new();
        streams.create_stream("s", 1).await.unwrap();
        for i in 0..n {
            streams.put_record("s", StreamEntry { data: vec![b'0' + i], partition_key: "k".into() }).await.unwrap();
        }
        streams
    }

    #[tokio::test]
    async fn a_redelivered_batch_comes_again_and_a_failed_one_from_its_failure() {
        let streams = digits(5).await;
        let mut poller = streams.poller("s", 2).unwrap().redelivering_every(2);
        let mut seen = Vec::new();
        let total = poller
            .run_until_idle(
                |event: KinesisEvent| {
                    seen.push(event.records.iter().map(|r| r.kinesis.data.0[0] - b'0').collect::<Vec<_>>());
                    async { KinesisEventResponse::default() }
                },
                10,
            )
            .await
            .unwrap();
        // Batches [0,1], [2,3] (redelivered), [2,3], [4] (redelivered), [4].
        assert_eq!(seen, vec![vec![0, 1], vec![2, 3], vec![2, 3], vec![4], vec![4]]);
        assert_eq!(poller.redelivered(), 2);
        assert_eq!(total.records, 8);
    }

    #[tokio::test]
    async fn a_batching_window_holds_a_short_batch_not_a_full_one_nor_a_retry() {
        use std::time::{Duration, Instant};
        let streams = digits(3).await;
        let window = Duration::from_millis(1500);
        let mut poller = streams.poller("s", 2).unwrap().batching(window, 2);
        let started = Instant::now();
        let mut seen = Vec::new();
        poller
            .run_until_idle(
                |event: KinesisEvent| {
                    seen.push((event.records.len(), started.elapsed()));
                    // The short batch fails the first time it comes.
                    let mut response = KinesisEventResponse::default();
                    if seen.len() == 2 {
                        let mut failure = aws_lambda_events::event::streams::KinesisBatchItemFailure::default();
                        failure.item_identifier = Some(event.records[0].kinesis.sequence_number.clone());
                        response.batch_item_failures.push(failure);
                    }
                    async { response }
                },
                1_000,
            )
            .await
            .unwrap();
        let sizes: Vec<usize> = seen.iter().map(|(n, _)| *n).collect();
        assert_eq!(sizes, [2, 1, 1], "{seen:?}");
        // The full batch went at once, the short one after the window, its retry at once.
        assert!(seen[0].1 < window, "{seen:?}");
        assert!(seen[1].1 >= window, "{seen:?}");
        assert!(seen[2].1 - seen[1].1 < Duration::from_millis(1000), "{seen:?}");
    }

    #[tokio::test]
    async fn topic_offsets_are_consecutive_per_partition() {
        let topics = InProcessTopics::new();
        topics.create_topic("t", 2);
        let record = |v: &str| TopicRecord { key: None, value: v.as_bytes().to_vec(), timestamp: chrono::Utc::now() };
        assert_eq!(topics.produce("t", 1, vec![record("a"), record("b")]).await.unwrap(), vec![0, 1]);
        assert_eq!(topics.produce("t", 1, vec![record("c")]).await.unwrap(), vec![2]);
        assert_eq!(topics.partitions_of("t").await.unwrap(), Some(vec![0, 1]));
        assert_eq!(topics.partitions_of("u").await.unwrap(), None);
        let mut poller = topics.poller("t", 2).unwrap();
        let mut offsets = Vec::new();
        poller
            .run_until_idle(
                |event: KafkaEvent| {
                    offsets.extend(event.records.values().flatten().map(|r| (r.partition, r.offset)));
                    async { KafkaBatchResponse::default() }
                },
                10,
            )
            .await
            .unwrap();
        assert_eq!(offsets, vec![(1, 0), (1, 1), (1, 2)]);
    }
}
