//! The Kafka side of ingest: a producer over `rskafka` (pure Rust): plain TCP to
//! tansu locally; TLS + SASL/OAUTHBEARER with MSK IAM tokens (`aws-msk-iam-sasl-signer`)
//! on Amazon MSK, its brokers found with `GetBootstrapBrokers` (SPEC §10). Partition
//! clients are opened once per topic-partition and kept.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use aws_sdk_kafka::config::{Region, SharedCredentialsProvider};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, OauthBearerCredentials, OauthCallback, SaslConfig};
use rskafka::record::Record;
use tokio::sync::Mutex;

use super::services::{ServiceError, TopicRecord, TopicService};
use crate::config::{Config, KafkaAuth};

pub use rskafka::client::error::Error as KafkaError;

/// A connected producer, built once per Lambda instance.
pub struct KafkaProducer {
    client: Client,
    partitions: Mutex<HashMap<(String, i32), Arc<PartitionClient>>>,
}

impl KafkaProducer {
    /// Connects to `bootstrap` (comma-separated `host:port`s, `PINPIPE_KAFKA_BOOTSTRAP`).
    pub async fn connect(bootstrap: &str) -> Result<Self, KafkaError> {
        let brokers = crate::config::brokers(bootstrap);
        let client = ClientBuilder::new(brokers).backoff_config(backoff()).build().await?;
        Ok(KafkaProducer { client, partitions: Mutex::new(HashMap::new()) })
    }

    /// Connects to Amazon MSK with IAM: TLS, and SASL/OAUTHBEARER with a token signed
    /// from `credentials` for `region` on every (re)connection.
    pub async fn connect_iam(
        bootstrap: &str,
        region: Region,
        credentials: SharedCredentialsProvider,
    ) -> Result<Self, KafkaError> {
        let brokers = crate::config::brokers(bootstrap);
        let callback: OauthCallback = Arc::new(move || {
            let (region, credentials) = (region.clone(), credentials.clone());
            Box::pin(async move { iam_token(region, credentials).await.map_err(Into::into) })
        });
        let sasl = SaslConfig::Oauthbearer(OauthBearerCredentials { callback, authz_id: None, bearer_kvs: vec![] });
        let client = ClientBuilder::new(brokers)
            .backoff_config(backoff())
            .tls_config(Arc::new(tls_config()))
            .sasl_config(sasl)
            .build()
            .await?;
        Ok(KafkaProducer { client, partitions: Mutex::new(HashMap::new()) })
    }

    /// The topic's partitions, or `None` when the topic does not exist.
    pub async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, KafkaError> {
        let topics = self.client.list_topics().await?;
        Ok(topics.into_iter().find(|t| t.name == topic).map(|t| t.partitions.into_iter().collect()))
    }

    /// Creates `topic` with `partitions` partitions unless it exists (local stacks and
    /// the demo; on MSK the topics are made by whoever runs the cluster).
    pub async fn ensure_topic(&self, topic: &str, partitions: i32) -> Result<(), KafkaError> {
        if self.partitions_of(topic).await?.is_some() {
            return Ok(());
        }
        self.client.controller_client()?.create_topic(topic, partitions, 1, 5_000).await
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

/// rskafka retries a failing connection or request with backoff for ever by default;
/// an API request cannot wait that long (API Gateway gives up after 29 s), so give up
/// after a few seconds and answer a retryable 503 instead.
fn backoff() -> rskafka::BackoffConfig {
    rskafka::BackoffConfig { deadline: Some(std::time::Duration::from_secs(8)), ..Default::default() }
}

/// A way to (re)connect: what SPEC §10's variables describe (brokers given or
/// discovered, plain or IAM), run at first use and again after a connection fails.
pub type Connect = Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<KafkaProducer, String>> + Send + Sync>;

/// A producer that connects on first use and reconnects after a connection-level
/// failure, so an instance that started while Kafka was unreachable (or lost it
/// later) recovers by itself instead of answering 503 for its whole life.
pub struct ReconnectingProducer {
    connect: Connect,
    current: Mutex<Option<Arc<KafkaProducer>>>,
}

impl ReconnectingProducer {
    pub fn new(connect: Connect) -> Self {
        ReconnectingProducer { connect, current: Mutex::new(None) }
    }

    /// The connected producer, connecting first if there is none.
    pub async fn producer(&self) -> Result<Arc<KafkaProducer>, ServiceError> {
        let mut current = self.current.lock().await;
        if let Some(producer) = current.as_ref() {
            return Ok(producer.clone());
        }
        let producer = Arc::new((self.connect)().await.map_err(ServiceError::Unreachable)?);
        *current = Some(producer.clone());
        Ok(producer)
    }

    /// Drops `failed` (if it is still the current producer) so the next call reconnects.
    pub async fn forget(&self, failed: &Arc<KafkaProducer>) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|p| Arc::ptr_eq(p, failed)) {
            *current = None;
        }
    }
}

/// A Kafka failure, classified for the API (SPEC §5: only what may pass on retry is
/// retryable): the connection or a leader change is `Unreachable`; an unknown topic
/// is `NotFound`, a message over the broker's limit `TooLarge`.
pub fn service_error(error: KafkaError) -> ServiceError {
    use rskafka::client::error::ProtocolError as P;
    match error {
        KafkaError::ServerError { protocol_error, error_message, .. } => match protocol_error {
            P::LeaderNotAvailable
            | P::NotLeaderOrFollower
            | P::RequestTimedOut
            | P::NetworkException
            | P::NotEnoughReplicas
            | P::NotEnoughReplicasAfterAppend
            | P::CoordinatorLoadInProgress
            | P::CoordinatorNotAvailable
            | P::KafkaStorageError => ServiceError::Unreachable(format!("{protocol_error:?}")),
            other => {
                let message = error_message.unwrap_or_else(|| format!("Kafka refused the request: {other:?}"));
                match other {
                    P::UnknownTopicOrPartition => ServiceError::NotFound(format!("{other:?}: {message}")),
                    P::MessageTooLarge | P::RecordListTooLarge => {
                        ServiceError::TooLarge(format!("{other:?}: {message}"))
                    }
                    _ => ServiceError::Refused { code: format!("{other:?}"), message },
                }
            }
        },
        KafkaError::InvalidResponse(detail) => ServiceError::Unreadable(detail),
        other => ServiceError::Unreachable(other.to_string()),
    }
}

/// Why no MSK IAM token could be made (the signer's own error type is private).
#[derive(Debug, thiserror::Error)]
#[error("signing an MSK IAM auth token: {0}")]
pub struct IamTokenError(String);

/// An MSK IAM auth token (a presigned `kafka-cluster:Connect` URL, base64url).
pub async fn iam_token(region: Region, credentials: SharedCredentialsProvider) -> Result<String, IamTokenError> {
    let (token, _expires_at_ms) =
        aws_msk_iam_sasl_signer::generate_auth_token_from_credentials_provider(region, credentials)
            .await
            .map_err(|e| IamTokenError(e.to_string()))?;
    Ok(token)
}

/// TLS to the brokers, trusting the system's roots (Lambda's include Amazon's).
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Why the brokers of an MSK cluster could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("MSK GetBootstrapBrokers for {cluster_arn}: {detail}")]
    Api { cluster_arn: String, detail: String },
    #[error("MSK cluster {0} has no IAM (SASL/IAM) bootstrap brokers; enable IAM access control on it")]
    NoIamBrokers(String),
}

/// The IAM bootstrap brokers of an MSK cluster (`PINPIPE_MSK_CLUSTER_ARN`).
pub async fn discover_bootstrap(msk: &aws_sdk_kafka::Client, cluster_arn: &str) -> Result<String, DiscoveryError> {
    let out = msk.get_bootstrap_brokers().cluster_arn(cluster_arn).send().await.map_err(|e| DiscoveryError::Api {
        cluster_arn: cluster_arn.to_owned(),
        detail: aws_sdk_kafka::error::DisplayErrorContext(e).to_string(),
    })?;
    out.bootstrap_broker_string_sasl_iam()
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| DiscoveryError::NoIamBrokers(cluster_arn.to_owned()))
}

/// How to reach the Kafka SPEC §10's variables describe: brokers given or discovered
/// from the MSK cluster ARN; plain (tansu) or IAM (MSK). `None` when neither is set.
/// The connection is made on first use and again after one fails.
pub fn connect_as_configured(config: &Config, aws: &aws_config::SdkConfig) -> Option<Connect> {
    if config.kafka_bootstrap.is_none() && config.msk_cluster_arn.is_none() {
        return None;
    }
    let (config, aws) = (config.clone(), aws.clone());
    Some(Arc::new(move || {
        let (config, aws) = (config.clone(), aws.clone());
        Box::pin(async move { connect_configured(&config, &aws).await })
    }))
}

async fn connect_configured(config: &Config, aws: &aws_config::SdkConfig) -> Result<KafkaProducer, String> {
    let bootstrap = match (&config.kafka_bootstrap, &config.msk_cluster_arn) {
        (Some(bootstrap), _) => bootstrap.clone(),
        (None, Some(arn)) => {
            discover_bootstrap(&aws_sdk_kafka::Client::new(aws), arn).await.map_err(|e| e.to_string())?
        }
        (None, None) => return Err("no PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN".into()),
    };
    let producer = match config.kafka_auth {
        KafkaAuth::None => KafkaProducer::connect(&bootstrap).await,
        KafkaAuth::Iam => {
            let region = aws.region().cloned().ok_or("MSK IAM auth needs AWS_REGION")?;
            let credentials = aws.credentials_provider().ok_or("MSK IAM auth needs AWS credentials")?;
            KafkaProducer::connect_iam(&bootstrap, region, credentials).await
        }
    }
    .map_err(|e| e.to_string())?;
    tracing::info!(%bootstrap, auth = ?config.kafka_auth, "connected to Kafka");
    Ok(producer)
}

#[async_trait]
impl TopicService for KafkaProducer {
    async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, ServiceError> {
        KafkaProducer::partitions_of(self, topic).await.map_err(service_error)
    }

    async fn produce(&self, topic: &str, partition: i32, records: Vec<TopicRecord>) -> Result<Vec<i64>, ServiceError> {
        let records = records
            .into_iter()
            .map(|r| Record { key: r.key, value: Some(r.value), headers: Default::default(), timestamp: r.timestamp })
            .collect();
        KafkaProducer::produce(self, topic, partition, records).await.map_err(service_error)
    }
}

#[async_trait]
impl TopicService for ReconnectingProducer {
    async fn partitions_of(&self, topic: &str) -> Result<Option<Vec<i32>>, ServiceError> {
        let producer = self.producer().await?;
        let answer = TopicService::partitions_of(producer.as_ref(), topic).await;
        if let Err(ServiceError::Unreachable(_)) = answer {
            self.forget(&producer).await;
        }
        answer
    }

    async fn produce(&self, topic: &str, partition: i32, records: Vec<TopicRecord>) -> Result<Vec<i64>, ServiceError> {
        let producer = self.producer().await?;
        let answer = TopicService::produce(producer.as_ref(), topic, partition, records).await;
        if let Err(ServiceError::Unreachable(_)) = answer {
            self.forget(&producer).await;
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kafka::config::Credentials;
    use base64::Engine;

    #[tokio::test]
    async fn iam_tokens_are_presigned_kafka_connect_urls() {
        let credentials = SharedCredentialsProvider::new(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"));
        let token = iam_token(Region::new("us-east-1"), credentials).await.unwrap();
        let url = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).unwrap()).unwrap();
        assert!(url.starts_with("https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect"), "{url}");
        assert!(url.contains("X-Amz-Credential=AKIDEXAMPLE%2F"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
    }
}
