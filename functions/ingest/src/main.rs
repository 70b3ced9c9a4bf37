//! The ingest Lambda behind API Gateway (SPEC §5): the Kinesis client is built
//! once; every request goes through `pinpipe::ingest::Ingest`.

use lambda_http::{Body, Error, Request, Response, service_fn};
use pinpipe::ingest::Ingest;
use pinpipe::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Endpoint, region and credentials from the SDK's own environment (AWS_ENDPOINT_URL locally).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ingest = Ingest::new(aws_sdk_kinesis::Client::new(&aws));
    lambda_http::run(service_fn(|request: Request| async { Ok::<Response<Body>, Error>(ingest.handle(request).await) }))
        .await
}
