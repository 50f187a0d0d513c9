//! The seam between the front door and the AWS services one kinesin endpoint serves
//! (`docs/architecture.md`, "More than one service on one endpoint").
//!
//! The front door owns what every service shares: reading the body, request ids, CORS, SigV4 and
//! the account a request acts for. It picks the service by the request's route ([`Routes`]) and
//! hands it a [`Call`]; the service owns everything else: its protocol's content types, decoding,
//! validation, the operation itself, and rendering answers and errors in its own encoding
//! ([`Answer`]).
//!
//! Kinesis keeps its own, faster path through the front door (its codec and model live in
//! `kinesin-wire`); the services behind this trait are the ones a KCL or KPL application needs
//! beside it.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// Who is calling and where: every resource lives in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub account: String,
    pub region: String,
}

/// A boxed future, so that services can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The wire protocols of the AWS services a KCL or KPL application talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body
    /// (`application/x-amz-json-1.0`): DynamoDB, and CloudWatch from most SDKs.
    AwsJson1_0,
    /// Smithy RPC v2 CBOR: `POST /service/<ServiceName>/operation/<Operation>` with a CBOR body
    /// and a `smithy-protocol: rpc-v2-cbor` header that the answer echoes (CloudWatch from the
    /// Java SDK 2.40.6 and later).
    RpcV2Cbor,
    /// awsQuery: `POST /` with a form-encoded body whose `Action` names the operation and an XML
    /// answer (CloudWatch from older Java SDKs, so from the KCL 2.x and MultiLangDaemon).
    AwsQuery,
}

/// How requests reach a service. The front door asks in this order: the `X-Amz-Target` prefix,
/// then the RPC v2 path, then (for a form body with `Action=`) the service that takes awsQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    /// The part of `X-Amz-Target` before the first `.`, e.g. `DynamoDB_20120810`.
    pub target_prefix: &'static str,
    /// The `<ServiceName>` of the RPC v2 CBOR path, when the service speaks that protocol.
    pub rpc_v2_name: Option<&'static str>,
    /// Whether awsQuery form posts (`Action=...`) go to this service. At most one service says
    /// yes.
    pub aws_query: bool,
}

/// One authenticated request for a service.
#[derive(Debug)]
pub struct Call<'a> {
    pub context: &'a RequestContext,
    pub protocol: Protocol,
    /// The operation's name as the request spelt it (from the target, the path or `Action`);
    /// whether it is one the service knows is for the service to say.
    pub operation: &'a str,
    pub headers: &'a HeaderMap,
    /// The whole body (for awsQuery, the form).
    pub body: Bytes,
    /// The id the front door answers in `x-amzn-RequestId`, for protocols whose bodies repeat
    /// it (awsQuery's `RequestId`).
    pub request_id: &'a str,
}

/// A complete answer, status and body in the service's own encoding. The front door adds the
/// request ids, CORS headers and `Content-Length`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    /// `Content-Type`, when the answer has a body type to name.
    pub content_type: Option<&'static str>,
    /// Further headers (e.g. `smithy-protocol`, `x-amzn-query-error`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// An error found before the service runs (authentication, the account), for the service to
/// render in its protocol: its code (`MissingAuthenticationTokenException`), message and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoorError {
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
    /// As [`Call::request_id`].
    pub request_id: String,
}

/// An AWS service served on the shared endpoint.
pub trait Service: Send + Sync + 'static {
    /// How requests reach this service.
    fn routes(&self) -> Routes;

    /// The service of its SigV4 credential scope (`dynamodb`, `monitoring`).
    fn signing_name(&self) -> &'static str;

    /// Runs one request. Everything from here on (content type, decoding, validation, the
    /// operation, errors) is the service's; it never fails, as every error is an [`Answer`].
    fn handle<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Answer>;

    /// Renders an error the front door found before [`Service::handle`] in the service's
    /// protocol.
    fn render_error(&self, protocol: Protocol, error: &FrontDoorError) -> Answer;
}
