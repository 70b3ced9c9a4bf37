//! The ingest Lambda behind API Gateway (SPEC §5). Until issues 4 and 5 land it
//! answers every request with a JSON 501 naming what is missing.

use lambda_http::{Body, Error, Request, Response, http::StatusCode, service_fn};
use pinpipe::telemetry::{self, NotImplemented};

async fn handle(_request: Request) -> Result<Response<Body>, Error> {
    let error = NotImplemented { function: "ingest", tracked_in: "issue 4: /streams, issue 5: /topics" };
    let body = serde_json::json!({ "error": "not_implemented", "message": error.to_string(), "retryable": false });
    Ok(Response::builder()
        .status(StatusCode::NOT_IMPLEMENTED)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    lambda_http::run(service_fn(handle)).await
}
