//! The ingest Lambda behind API Gateway (SPEC §5): the Kinesis client and the Kafka
//! producer are built once; every request goes through `pinpipe::ingest::Ingest`.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};
use pinpipe::config::{Config, KafkaAuth};
use pinpipe::ingest::Ingest;
use pinpipe::kafka::KafkaProducer;
use pinpipe::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    // Endpoint, region and credentials from the SDK's own environment (AWS_ENDPOINT_URL locally).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut ingest = Ingest::new(aws_sdk_kinesis::Client::new(&aws));
    match (&config.kafka_bootstrap, config.kafka_auth) {
        (Some(bootstrap), KafkaAuth::None) => match KafkaProducer::connect(bootstrap).await {
            Ok(producer) => ingest = ingest.with_kafka(Arc::new(producer)),
            // The Kinesis routes still serve; the topic route answers 503.
            Err(error) => tracing::error!(%bootstrap, %error, "cannot reach Kafka; POST /topics will answer 503"),
        },
        (Some(_), KafkaAuth::Iam) | (None, _)
            if config.msk_cluster_arn.is_some() || config.kafka_auth == KafkaAuth::Iam =>
        {
            tracing::error!(
                "MSK IAM auth and bootstrap discovery are not implemented yet; POST /topics will answer 503"
            )
        }
        _ => tracing::info!("no PINPIPE_KAFKA_BOOTSTRAP: POST /topics will answer 503"),
    }
    lambda_http::run(service_fn(|request: Request| async { Ok::<Response<Body>, Error>(ingest.handle(request).await) }))
        .await
}
