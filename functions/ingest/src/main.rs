//! The ingest Lambda behind API Gateway (SPEC §5, §12): the deployment opens the API
//! once (Kinesis and DynamoDB clients; the Kafka producer connects on first use, and
//! again after a failure); every request goes through `pinpipe::ingest::Ingest`.

use lambda_http::{Body, Error, Request, Response, service_fn};
use pinpipe::deployment::Deployment;
use pinpipe::telemetry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let ingest = Deployment::on_aws().await?.ingest()?;
    lambda_http::run(service_fn(|request: Request| async { Ok::<Response<Body>, Error>(ingest.handle(request).await) }))
        .await
}
