//! [`CloudWatch`]: the [`Service`] the front door routes CloudWatch requests to.

use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kinesin_service::{Answer, BoxFuture, Call, FrontDoorError, Protocol, Routes, Service};

use crate::document::Document;
use crate::error::{CloudWatchError, ErrorKind};
use crate::fields::Fields;
use crate::operations::{self, Scope};
use crate::output::Node;
use crate::protocol::{self, Failure};
use crate::request::Reader;
use crate::store::MetricStore;
use crate::time::Millis;
use crate::{cbor, form, json};

/// CloudWatch's service name: the `X-Amz-Target` prefix and the RPC v2 path's service.
const SERVICE_NAME: &str = "GraniteServiceVersion20100801";
/// The most a gzipped body may inflate to; PutMetricData bodies are limited to 1 MB.
const MAX_INFLATED_BODY: u64 = 4 * 1024 * 1024;

/// The CloudWatch service, over a store that the server may also put its own metrics into.
pub struct CloudWatch {
    store: Arc<MetricStore>,
}

impl CloudWatch {
    pub fn new(store: Arc<MetricStore>) -> Self {
        CloudWatch { store }
    }

    pub fn store(&self) -> &Arc<MetricStore> {
        &self.store
    }

    /// Runs a call at time `now`.
    pub fn answer(&self, call: &Call<'_>, now: Millis) -> Answer {
        let request_id = call.request_id;
        match self.run(call, now) {
            Ok(output) => protocol::success(call.protocol, call.operation, output.as_ref(), request_id),
            Err(error) => protocol::error(
                call.protocol,
                &Failure {
                    code: error.kind.code(),
                    shape: error.kind.shape(),
                    modeled: !matches!(
                        error.kind,
                        ErrorKind::Serialization
                            | ErrorKind::UnknownOperation
                            | ErrorKind::RequestEntityTooLarge
                    ),
                    message: &error.message,
                    status: error.kind.status(),
                },
                request_id,
            ),
        }
    }

    fn run(&self, call: &Call<'_>, now: Millis) -> Result<Option<Node>, CloudWatchError> {
        let body = inflated(call)?;
        let input = decode(call.protocol, &body)?;
        let reader = Reader { fields: Fields { textual: call.protocol == Protocol::AwsQuery } };
        let scope = Scope { account: &call.context.account, region: &call.context.region, now };
        let store = &self.store;
        match call.operation {
            "PutMetricData" => {
                operations::put_metric_data(store, scope, &reader.put_metric_data(&input, now)?)?;
                Ok(None)
            }
            "GetMetricStatistics" => Ok(Some(operations::get_metric_statistics(
                store,
                scope,
                &reader.get_metric_statistics(&input)?,
            ))),
            "GetMetricData" => {
                operations::get_metric_data(store, scope, &reader.get_metric_data(&input)?).map(Some)
            }
            "ListMetrics" => operations::list_metrics(store, scope, &reader.list_metrics(&input)?).map(Some),
            other => Err(unknown_operation(call.protocol, other)),
        }
    }
}

fn unknown_operation(protocol: Protocol, operation: &str) -> CloudWatchError {
    let message = match protocol {
        Protocol::AwsQuery => format!("Could not find operation {operation} for version 2010-08-01"),
        _ => format!("kinesin's CloudWatch does not serve the operation {operation}; it serves PutMetricData, GetMetricData, GetMetricStatistics and ListMetrics."),
    };
    CloudWatchError::new(ErrorKind::UnknownOperation, message)
}

/// The body, gunzipped when `Content-Encoding: gzip` says the client compressed it.
fn inflated(call: &Call<'_>) -> Result<Bytes, CloudWatchError> {
    let gzipped = call
        .headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.trim().eq_ignore_ascii_case("gzip"));
    if !gzipped {
        return Ok(call.body.clone());
    }
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(&call.body[..])
        .take(MAX_INFLATED_BODY + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| CloudWatchError::new(ErrorKind::Serialization, "The body is not valid gzip."))?;
    if inflated.len() as u64 > MAX_INFLATED_BODY {
        return Err(CloudWatchError::new(
            ErrorKind::RequestEntityTooLarge,
            format!("The request body exceeds {MAX_INFLATED_BODY} bytes once decompressed."),
        ));
    }
    Ok(Bytes::from(inflated))
}

fn decode(protocol: Protocol, body: &[u8]) -> Result<Document, CloudWatchError> {
    let serialization = |message: String| CloudWatchError::new(ErrorKind::Serialization, message);
    let document = match protocol {
        Protocol::AwsJson1_0 => json::decode(body)
            .map_err(|error| serialization(format!("The body is not valid JSON: {error}.")))?,
        Protocol::RpcV2Cbor => cbor::decode(body)
            .map_err(|error| serialization(format!("The body is not valid CBOR: {error}.")))?,
        Protocol::AwsQuery => {
            form::decode(body)
                .map_err(|error| {
                    CloudWatchError::new(
                        ErrorKind::InvalidParameterValue,
                        format!("The parameter {} is malformed: {}.", error.key, error.reason),
                    )
                })?
                .parameters
        }
    };
    match document {
        Document::Map(_) => Ok(document),
        _ => Err(serialization("The body is not a structure.".to_string())),
    }
}

fn now_millis() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as Millis)
}

impl Service for CloudWatch {
    fn routes(&self) -> Routes {
        Routes { target_prefix: SERVICE_NAME, rpc_v2_name: Some(SERVICE_NAME), aws_query: true }
    }

    fn signing_name(&self) -> &'static str {
        "monitoring"
    }

    fn handle<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Answer> {
        Box::pin(async move { self.answer(&call, now_millis()) })
    }

    fn render_error(&self, protocol: Protocol, error: &FrontDoorError) -> Answer {
        let failure = Failure {
            code: protocol::query_code(error.code),
            shape: error.code,
            modeled: false,
            message: &error.message,
            status: error.status,
        };
        protocol::error(protocol, &failure, &error.request_id)
    }
}

#[cfg(test)]
mod tests;
