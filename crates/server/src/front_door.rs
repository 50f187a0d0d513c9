//! The request pipeline, in the order of `docs/protocol/front-door.md`, "Request pipeline" (first
//! match wins): body limit, request ids, CORS, method, empty body, content type, body parsing, the
//! legacy protocol, target, authentication, type checks, validation, and finally the operation.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use kinesin_engine::{Api, Reply, RequestContext};
use kinesin_service::{Answer, Call, FrontDoorError};
use kinesin_wire::{decode, ApiError, Format, Input, Operation};
use tokio::sync::watch;
use tracing::{debug, error};

use crate::event_stream;
use crate::response::{self, ResponseBody};
use crate::routing::{self, ContentType, Target};
use crate::services::Routed;
use crate::{auth, cors, identity, ServerConfig};

pub struct FrontDoor {
    api: Arc<dyn Api>,
    config: ServerConfig,
    /// Turns true when the server shuts down, ending every event stream.
    closing: watch::Sender<bool>,
}

impl FrontDoor {
    pub fn new(api: Arc<dyn Api>, config: ServerConfig) -> FrontDoor {
        FrontDoor { api, config, closing: watch::channel(false).0 }
    }

    /// Ends every event-stream response (they would otherwise hold a graceful shutdown up for
    /// as long as a subscription lasts).
    pub fn close_event_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Answers one request. The only error is a failure to read the request body (the client
    /// went away or broke the protocol), which ends the connection.
    pub async fn handle(&self, request: Request<Incoming>) -> Result<Response<ResponseBody>, hyper::Error> {
        let started = Instant::now();
        let target = Target::of(request.headers());
        let (parts, body) = request.into_parts();
        let response = match read_body(body, self.config.max_body_bytes).await? {
            Some(body) => self.respond(&parts, target, body).await,
            None => response::payload_too_large(),
        };
        debug!(
            operation = target.operation().map(Operation::name),
            status = response.status().as_u16(),
            elapsed = ?started.elapsed(),
            "request",
        );
        Ok(response)
    }

    /// Everything after the body has fully arrived: request ids and CORS around the routing.
    async fn respond(&self, parts: &Parts, target: Target, body: Bytes) -> Response<ResponseBody> {
        let origin = cors::has_origin(&parts.headers);
        if origin && parts.method == Method::OPTIONS {
            let mut response = cors::preflight(&parts.headers);
            response::add_request_ids(response.headers_mut(), false);
            return response;
        }
        let mut response = self.route(parts, target, body).await;
        response::add_request_ids(response.headers_mut(), true);
        if origin {
            cors::add_headers(response.headers_mut());
        }
        response
    }

    /// Steps 3 to 12 of the request pipeline (`docs/protocol/front-door.md`), after handing the
    /// requests of the other services to them.
    async fn route(&self, parts: &Parts, target: Target, body: Bytes) -> Response<ResponseBody> {
        if parts.method != Method::POST {
            return response::access_denied();
        }
        // Kinesis requests skip the services' routing: it is the hot path.
        if !matches!(target, Target::Valid(_)) {
            let prefix = routing::target_prefix(&parts.headers);
            if let Some(routed) = self.config.services.route(parts, prefix, &body) {
                return self.serve_service(parts, routed, body).await;
            }
        }
        let content_type = ContentType::of(&parts.headers);
        if body.is_empty() {
            // Answered in CBOR unless the request asked for JSON 1.1, whatever else it said.
            let format = match content_type {
                ContentType::Kinesis(Format::Json) => Format::Json,
                _ => Format::Cbor,
            };
            let code = match target {
                Target::Valid(_) => "SerializationException",
                Target::Incomplete | Target::Unknown => "UnknownOperationException",
            };
            return response::error(format, &ApiError::bare(code));
        }
        match content_type {
            ContentType::Kinesis(format) => {
                let started = Instant::now();
                let result = self.run(parts, target, format, &body).await;
                if let Some(op) = target.operation() {
                    self.config.metrics.record(op, result.as_ref().err().map(|e| e.code), started.elapsed());
                }
                match result {
                    Ok(Reply::Value(value)) => response::answer(format, Ok(value)),
                    Ok(Reply::PutRecords(answer)) => response::encoded(format, answer.encode(format)),
                    Ok(Reply::Events(events)) => {
                        event_stream::response(format, events, self.closing.subscribe())
                    }
                    Err(err) => response::error(format, &err),
                }
            }
            ContentType::LegacyJson => match decode::parse_body(Format::Json, &body) {
                Ok(_) => response::legacy_unknown_operation(),
                Err(_) => response::legacy_serialization(),
            },
            ContentType::Unsupported => match target {
                Target::Incomplete => response::access_denied(),
                Target::Unknown | Target::Valid(_) => response::unknown_operation_xml(),
            },
        }
    }

    /// Steps 6 and 8 to 12 for the two real protocols: every failure from here on is an
    /// [`ApiError`] in the request's own encoding.
    async fn run(
        &self,
        parts: &Parts,
        target: Target,
        format: Format,
        body: &[u8],
    ) -> Result<Reply, ApiError> {
        let op = target.operation();
        let parsed = decode::parse(op, format, body)?;
        let op = op.ok_or_else(|| ApiError::bare("UnknownOperationException"))?;
        let credential = auth::check(&parts.headers, parts.uri.query())?;
        let account = identity::account(&self.config, parts, &credential, body, KINESIS_SIGNING_NAME)?;
        let input = parsed.check_types(op)?;
        input.validate(op)?;
        let region = auth::scope_region(&credential).unwrap_or(&self.config.region);
        let ctx = RequestContext { account, region: region.to_owned() };
        self.call(ctx, op, input).await
    }

    /// Runs the operation in a task of its own, so that a client that disconnects cannot cancel
    /// it halfway through a write, and so that a panicking operation becomes a 500
    /// InternalFailure rather than a dropped connection.
    async fn call(&self, ctx: RequestContext, op: Operation, input: Input) -> Result<Reply, ApiError> {
        let api = Arc::clone(&self.api);
        match tokio::spawn(async move { api.handle(&ctx, op, input).await }).await {
            Ok(result) => result,
            Err(join_error) => {
                error!(operation = op.name(), error = %join_error, "operation failed");
                Err(ApiError::internal_failure())
            }
        }
    }
}

impl FrontDoor {
    /// A request for another service: the shared authentication and account steps, then the
    /// service, which answers everything else in its own protocol.
    async fn serve_service(&self, parts: &Parts, routed: Routed, body: Bytes) -> Response<ResponseBody> {
        let Routed { service, protocol, operation } = routed;
        // Made here, so that a body that repeats it (awsQuery's RequestId) and the header agree.
        let request_id = response::new_request_id();
        let id_text = request_id.to_str().expect("a UUID").to_owned();
        let with_id = |answer: Answer| {
            let mut response = response::service_answer(answer);
            response.headers_mut().insert(response::REQUEST_ID, request_id.clone());
            response
        };
        let refused = |error: ApiError| {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let message = error.message.unwrap_or_default();
            let error = FrontDoorError { code: error.code, message, status, request_id: id_text.clone() };
            with_id(service.render_error(protocol, &error))
        };
        let credential = match auth::check(&parts.headers, parts.uri.query()) {
            Ok(credential) => credential,
            Err(error) => return refused(error),
        };
        let account = match identity::account(&self.config, parts, &credential, &body, service.signing_name())
        {
            Ok(account) => account,
            Err(error) => return refused(error),
        };
        let region = auth::scope_region(&credential).unwrap_or(&self.config.region).to_owned();
        let headers = parts.headers.clone();
        // In a task of its own, like Kinesis operations: a client that disconnects cannot cancel
        // a write halfway, and a panic becomes a 500.
        let task = tokio::spawn({
            let service = Arc::clone(&service);
            let id_text = id_text.clone();
            async move {
                let context = RequestContext { account, region };
                let call = Call {
                    context: &context,
                    protocol,
                    operation: &operation,
                    headers: &headers,
                    body,
                    request_id: &id_text,
                };
                service.handle(call).await
            }
        });
        match task.await {
            Ok(answer) => with_id(answer),
            Err(join_error) => {
                error!(error = %join_error, "service operation failed");
                refused(ApiError::internal_failure())
            }
        }
    }
}

/// The SigV4 credential scope's service of Kinesis requests.
const KINESIS_SIGNING_NAME: &str = "kinesis";

/// Reads the whole body, or returns `None` as soon as more than `limit` bytes are known to be
/// coming (from `Content-Length`, before reading anything) or have arrived. The rest of an
/// oversized body is never read.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Option<Bytes>, hyper::Error> {
    let expected = body.size_hint().lower();
    if expected > limit as u64 {
        return Ok(None);
    }
    let mut received = BytesMut::with_capacity(expected as usize);
    while let Some(frame) = body.frame().await {
        // Trailers carry nothing Kinesis uses.
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        if received.len() + data.remaining() > limit {
            return Ok(None);
        }
        received.put(data);
    }
    Ok(Some(received.freeze()))
}
