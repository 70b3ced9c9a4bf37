//! The ingest Lambda behind API Gateway (SPEC §5, §12): the Kinesis and DynamoDB (metrics) clients are built once,
//! the Kafka producer connects on first use (and again after a failure); every
//! request goes through `pinpipe::ingest::Ingest`.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};
use pinpipe::config::{Config, KafkaAuth};
use pinpipe::ingest::Ingest;
use pinpipe::ingest::kafka::{Connect, KafkaProducer, ReconnectingProducer, discover_bootstrap};
use pinpipe::metrics::dynamo::DynamoMetrics;
use pinpipe::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    // Endpoint, region and credentials from the SDK's own environment (AWS_ENDPOINT_URL locally).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let metrics = DynamoMetrics::new(aws_sdk_dynamodb::Client::new(&aws), config.metrics_table());
    let mut ingest =
        Ingest::new(aws_sdk_kinesis::Client::new(&aws)).for_deployment(&config.id).with_metrics(Arc::new(metrics));
    match kafka(&config, &aws) {
        Some(connect) => ingest = ingest.with_kafka(Arc::new(ReconnectingProducer::new(connect))),
        None => tracing::info!("no PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN: POST /topics will answer 503"),
    }
    lambda_http::run(service_fn(|request: Request| async { Ok::<Response<Body>, Error>(ingest.handle(request).await) }))
        .await
}

/// How to reach the Kafka SPEC §10's variables describe: brokers given or discovered
/// from the MSK cluster ARN; plain (tansu) or IAM (MSK). Run on first use and after
/// a connection fails.
fn kafka(config: &Config, aws: &aws_config::SdkConfig) -> Option<Connect> {
    if config.kafka_bootstrap.is_none() && config.msk_cluster_arn.is_none() {
        return None;
    }
    let (config, aws) = (config.clone(), aws.clone());
    Some(Arc::new(move || {
        let (config, aws) = (config.clone(), aws.clone());
        Box::pin(async move { connect(&config, &aws).await.map_err(|e| format!("{e:#}")) })
    }))
}

async fn connect(config: &Config, aws: &aws_config::SdkConfig) -> anyhow::Result<KafkaProducer> {
    let bootstrap = match (&config.kafka_bootstrap, &config.msk_cluster_arn) {
        (Some(bootstrap), _) => bootstrap.clone(),
        (None, Some(arn)) => discover_bootstrap(&aws_sdk_kafka::Client::new(aws), arn).await?,
        (None, None) => anyhow::bail!("no PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN"),
    };
    let producer = match config.kafka_auth {
        KafkaAuth::None => KafkaProducer::connect(&bootstrap).await?,
        KafkaAuth::Iam => {
            let region = aws.region().cloned().ok_or_else(|| anyhow::anyhow!("MSK IAM auth needs AWS_REGION"))?;
            let credentials =
                aws.credentials_provider().ok_or_else(|| anyhow::anyhow!("MSK IAM auth needs AWS credentials"))?;
            KafkaProducer::connect_iam(&bootstrap, region, credentials).await?
        }
    };
    tracing::info!(%bootstrap, auth = ?config.kafka_auth, "connected to Kafka");
    Ok(producer)
}
