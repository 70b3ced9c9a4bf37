//! The Kafka side of ingest: a producer over `rskafka` (pure Rust; works with tansu
//! locally; its SASL/OAUTHBEARER fits MSK IAM tokens, not wired up yet). Partition
//! clients are opened once per topic-partition and kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use tokio::sync::Mutex;

pub use rskafka::client::error::Error as KafkaError;

/// A connected producer, built once per Lambda instance.
pub struct KafkaProducer {
    client: Client,
    partitions: Mutex<HashMap<(String, i32), Arc<PartitionClient>>>,
    round_robin: AtomicUsize,
}

impl KafkaProducer {
    /// Connects to `bootstrap` (comma-separated `host:port`s, `PINPIPE_KAFKA_BOOTSTRAP`).
    pub async fn connect(bootstrap: &str) -> Result<Self, KafkaError> {
        let brokers = bootstrap.split(',').map(|b| b.trim().to_owned()).filter(|b| !b.is_empty()).collect();
        let client = ClientBuilder::new(brokers).build().await?;
        Ok(KafkaProducer { client, partitions: Mutex::new(HashMap::new()), round_robin: AtomicUsize::new(0) })
    }

    /// The topic's partitions, or `None` when the topic does not exist.
    pub async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, KafkaError> {
        let topics = self.client.list_topics().await?;
        Ok(topics.into_iter().find(|t| t.name == topic).map(|t| t.partitions.into_iter().collect()))
    }

    /// Where a record without an explicit partition goes: by its key when it has
    /// one (the same key, the same partition), else in turn.
    pub fn choose(&self, key: Option<&[u8]>, partitions: &[i32]) -> i32 {
        let n = partitions.len().max(1);
        let index = match key {
            Some(key) => (fnv1a(key) % n as u64) as usize,
            None => self.round_robin.fetch_add(1, Ordering::Relaxed) % n,
        };
        partitions[index]
    }

    /// Produces `records` to one partition; their offsets, in order.
    pub async fn produce(&self, topic: &str, partition: i32, records: Vec<Record>) -> Result<Vec<i64>, KafkaError> {
        let client = self.partition(topic, partition).await?;
        client.produce(records, Compression::NoCompression).await
    }

    async fn partition(&self, topic: &str, partition: i32) -> Result<Arc<PartitionClient>, KafkaError> {
        let mut open = self.partitions.lock().await;
        if let Some(client) = open.get(&(topic.to_owned(), partition)) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.client.partition_client(topic, partition, UnknownTopicHandling::Error).await?);
        open.insert((topic.to_owned(), partition), client.clone());
        Ok(client)
    }
}

/// FNV-1a: a small, stable hash for key partitioning.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
