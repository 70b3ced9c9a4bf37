//! The ingest Lambda behind API Gateway (SPEC §5): the Kinesis client and the Kafka
//! producer are built once; every request goes through `pinpipe::ingest::Ingest`.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};
use pinpipe::config::{Config, KafkaAuth};
use pinpipe::ingest::Ingest;
use pinpipe::kafka::{KafkaProducer, discover_bootstrap};
use pinpipe::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    // Endpoint, region and credentials from the SDK's own environment (AWS_ENDPOINT_URL locally).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut ingest = Ingest::new(aws_sdk_kinesis::Client::new(&aws));
    match kafka(&config, &aws).await {
        Ok(Some(producer)) => ingest = ingest.with_kafka(Arc::new(producer)),
        Ok(None) => {
            tracing::info!("no PINPIPE_KAFKA_BOOTSTRAP or PINPIPE_MSK_CLUSTER_ARN: POST /topics will answer 503")
        }
        // The Kinesis routes still serve; the topic route answers 503 until a cold start reaches Kafka.
        Err(error) => tracing::error!(%error, "cannot reach Kafka; POST /topics will answer 503"),
    }
    lambda_http::run(service_fn(|request: Request| async { Ok::<Response<Body>, Error>(ingest.handle(request).await) }))
        .await
}

/// The producer SPEC §10's variables describe: brokers given or discovered from the
/// MSK cluster ARN; plain (tansu) or IAM (MSK).
async fn kafka(config: &Config, aws: &aws_config::SdkConfig) -> anyhow::Result<Option<KafkaProducer>> {
    let bootstrap = match (&config.kafka_bootstrap, &config.msk_cluster_arn) {
        (Some(bootstrap), _) => bootstrap.clone(),
        (None, Some(arn)) => discover_bootstrap(&aws_sdk_kafka::Client::new(aws), arn).await?,
        (None, None) => return Ok(None),
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
    tracing::info!(%bootstrap, auth = ?config.kafka_auth, "producing to Kafka");
    Ok(Some(producer))
}
