//! The top floor: one deployment context. The configuration is read once (SPEC §10),
//! the lake opened once and, on AWS, the SDK's settings loaded once; every engine is
//! opened from here, so a Lambda's `main`, the CLI and the demo cannot build one
//! differently (the daily job's part size, the stream cleaner's recreated-stream check,
//! the ingest function's Kafka connection policy).

use crate::config::{Config, ConfigError, Names};
#[cfg(feature = "delta")]
use crate::lake::{Lake, LakeError};

#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[cfg(feature = "delta")]
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[cfg(feature = "maintenance")]
    #[error(transparent)]
    Retention(#[from] crate::maintenance::RetentionError),
    #[error("{0} needs AWS. Help: open the deployment with Deployment::on_aws")]
    NotOnAws(&'static str),
}

/// A deployment: its configuration, its lake, and (on AWS) the SDK's settings.
#[derive(Clone)]
pub struct Deployment {
    pub config: Config,
    #[cfg(feature = "delta")]
    pub lake: Lake,
    #[cfg(feature = "aws")]
    aws: Option<aws_config::SdkConfig>,
}

impl Deployment {
    /// The deployment `config` describes (its lake opened), without AWS clients.
    pub fn new(config: Config) -> Result<Self, DeploymentError> {
        Ok(Deployment {
            #[cfg(feature = "delta")]
            lake: Lake::open(&config.lake)?,
            config,
            #[cfg(feature = "aws")]
            aws: None,
        })
    }

    /// The deployment the environment describes (SPEC §10), without AWS clients.
    pub fn from_env() -> Result<Self, DeploymentError> {
        Deployment::new(Config::from_env()?)
    }

    /// A Lambda's deployment: the configuration from its environment, and the AWS
    /// SDK's endpoint, region and credentials from theirs (`AWS_ENDPOINT_URL` locally).
    #[cfg(feature = "aws")]
    pub async fn on_aws() -> Result<Self, DeploymentError> {
        let deployment = Deployment::new(Config::from_env()?)?;
        Ok(deployment.with_aws(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await))
    }

    /// The same deployment, reaching AWS with `aws`.
    #[cfg(feature = "aws")]
    pub fn with_aws(mut self, aws: aws_config::SdkConfig) -> Self {
        self.aws = Some(aws);
        self
    }

    /// The same deployment over `lake` (the demo's, wrapped to count its requests).
    #[cfg(feature = "delta")]
    pub fn with_lake(mut self, lake: Lake) -> Self {
        self.lake = lake;
        self
    }

    pub fn names(&self) -> Names<'_> {
        self.config.names()
    }

    /// The daily job, answering in parts of the configured size.
    #[cfg(feature = "analytics")]
    pub fn daily_job(&self) -> crate::analytics::DailyJob {
        crate::analytics::DailyJob::new(self.lake.clone(), &self.config.id)
            .with_part_rows(self.config.analytics_part_rows)
    }

    /// The stream cleaner; on AWS it asks Kinesis when a stream was created (to tell a
    /// recreated one), only when that decides.
    #[cfg(feature = "stream")]
    pub fn stream_cleaner(&self) -> crate::stream::StreamCleaner {
        let cleaner = crate::stream::StreamCleaner::new(self.lake.clone(), &self.config.id);
        match &self.aws {
            Some(aws) => cleaner.with_stream_creation(aws_sdk_kinesis::Client::new(aws)),
            None => cleaner,
        }
    }

    #[cfg(feature = "sink")]
    pub fn batch_sink(&self) -> crate::sink::BatchSink {
        crate::sink::BatchSink::new(self.lake.clone())
    }

    /// Table maintenance's retentions and compaction target, checked.
    #[cfg(feature = "maintenance")]
    pub fn retention(&self) -> Result<crate::maintenance::Retention, DeploymentError> {
        Ok(crate::maintenance::Retention::from_config(&self.config)?)
    }

    #[cfg(any(feature = "metrics", feature = "athena"))]
    fn aws(&self, what: &'static str) -> Result<&aws_config::SdkConfig, DeploymentError> {
        self.aws.as_ref().ok_or(DeploymentError::NotOnAws(what))
    }

    /// The deployment's metrics table on DynamoDB.
    #[cfg(feature = "metrics")]
    pub fn metrics_store(&self) -> Result<crate::metrics::dynamo::DynamoMetrics, DeploymentError> {
        let aws = self.aws("the metrics table")?;
        Ok(crate::metrics::dynamo::DynamoMetrics::new(aws_sdk_dynamodb::Client::new(aws), self.config.metrics_table()))
    }

    /// The metrics writer over the deployment's metrics table; it asks Kinesis when a
    /// stream was created (to tell a recreated one), only when that decides.
    #[cfg(feature = "metrics")]
    pub fn metrics_writer(
        &self,
    ) -> Result<crate::metrics::writer::MetricsWriter<crate::metrics::dynamo::DynamoMetrics>, DeploymentError> {
        let kinesis = aws_sdk_kinesis::Client::new(self.aws("the metrics writer")?);
        Ok(crate::metrics::writer::MetricsWriter::new(self.metrics_store()?).with_stream_creation(kinesis))
    }

    /// The daily job's Athena client when `PINPIPE_ANALYTICS_ENGINE=athena`.
    #[cfg(feature = "athena")]
    pub fn athena(&self) -> Result<Option<crate::analytics::athena::Athena>, DeploymentError> {
        match self.config.analytics_engine {
            crate::config::AnalyticsEngine::Polars => Ok(None),
            crate::config::AnalyticsEngine::Athena => {
                let client = aws_sdk_athena::Client::new(self.aws("the Athena engine")?);
                Ok(Some(crate::analytics::athena::Athena::new(client)))
            }
        }
    }

    /// The ingest API over Kinesis, the metrics table and the configured Kafka
    /// (connected on first use, and again after a failure).
    #[cfg(feature = "ingest")]
    pub fn ingest(&self) -> Result<crate::ingest::Ingest, DeploymentError> {
        use std::sync::Arc;
        let aws = self.aws("the ingest API")?;
        let mut ingest = crate::ingest::Ingest::new(aws_sdk_kinesis::Client::new(aws))
            .for_deployment(&self.config.id)
            .with_metrics(Arc::new(self.metrics_store()?));
        match crate::ingest::kafka::connect_as_configured(&self.config, aws) {
            Some(connect) => {
                ingest = ingest.with_kafka(Arc::new(crate::ingest::kafka::ReconnectingProducer::new(connect)))
            }
            None => {
                tracing::info!("no PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN: POST /topics will answer 503")
            }
        }
        Ok(ingest)
    }
}
