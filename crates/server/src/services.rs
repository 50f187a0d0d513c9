//! The services served beside Kinesis on the same endpoint, and how a request finds one
//! (`docs/architecture.md`, "More than one service on one endpoint"): by the `X-Amz-Target`
//! prefix, by the Smithy RPC v2 CBOR path, or, for a form body with `Action=`, to the one service
//! that speaks awsQuery. Requests no service claims stay on the Kinesis path.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::request::Parts;
use kinesin_service::{Protocol, Service};

/// The services of one endpoint.
#[derive(Clone, Default)]
pub struct Services {
    list: Vec<Arc<dyn Service>>,
}

/// A request's service, protocol and operation name.
pub struct Routed {
    pub service: Arc<dyn Service>,
    pub protocol: Protocol,
    pub operation: String,
}

impl Services {
    /// Refuses two services that claim the same target prefix or RPC v2 name, or that both take
    /// awsQuery: a request could not tell them apart.
    pub fn new(list: Vec<Arc<dyn Service>>) -> Result<Services, String> {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                let (a, b) = (a.routes(), b.routes());
                if a.target_prefix == b.target_prefix
                    || (a.rpc_v2_name.is_some() && a.rpc_v2_name == b.rpc_v2_name)
                    || (a.aws_query && b.aws_query)
                {
                    return Err(format!("two services share a route: {a:?} and {b:?}"));
                }
            }
        }
        Ok(Services { list })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The service a request is for, if any. `target_prefix` is the `X-Amz-Target` text before
    /// the first `.` (empty when absent).
    pub fn route(&self, parts: &Parts, target_prefix: &[u8], body: &[u8]) -> Option<Routed> {
        if self.list.is_empty() {
            return None;
        }
        self.by_target(parts, target_prefix)
            .or_else(|| self.by_rpc_v2_path(parts.uri.path()))
            .or_else(|| self.by_query_action(parts, body))
    }

    fn by_target(&self, parts: &Parts, prefix: &[u8]) -> Option<Routed> {
        if prefix.is_empty() {
            return None;
        }
        let service = self.list.iter().find(|s| s.routes().target_prefix.as_bytes() == prefix)?;
        let target = parts.headers.get("x-amz-target")?.to_str().ok()?;
        let operation = target.split('.').nth(1).unwrap_or_default();
        Some(Routed {
            service: Arc::clone(service),
            protocol: Protocol::AwsJson1_0,
            operation: operation.to_owned(),
        })
    }

    /// `/service/<ServiceName>/operation/<Operation>`, nothing more.
    fn by_rpc_v2_path(&self, path: &str) -> Option<Routed> {
        let rest = path.strip_prefix("/service/")?;
        let (name, rest) = rest.split_once('/')?;
        let operation = rest.strip_prefix("operation/")?;
        if operation.is_empty() || operation.contains('/') {
            return None;
        }
        let service = self.list.iter().find(|s| s.routes().rpc_v2_name == Some(name))?;
        Some(Routed {
            service: Arc::clone(service),
            protocol: Protocol::RpcV2Cbor,
            operation: operation.to_owned(),
        })
    }

    /// A form post (`application/x-www-form-urlencoded`) with an `Action` parameter. SDKs gzip
    /// large forms (`Content-Encoding: gzip`; CloudWatch's PutMetricData is
    /// `requestcompression` in its model): those are inflated here only to read `Action`, and
    /// the service gets the body as sent.
    fn by_query_action(&self, parts: &Parts, body: &[u8]) -> Option<Routed> {
        let content_type = parts.headers.get(CONTENT_TYPE)?.as_bytes();
        let essence = content_type.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        if !essence.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
            return None;
        }
        let service = self.list.iter().find(|s| s.routes().aws_query)?;
        let inflated;
        let form = if is_gzipped(parts) {
            inflated = inflate(body)?;
            &inflated[..]
        } else {
            body
        };
        let action = form_urlencoded::parse(form).find(|(name, _)| name == "Action")?.1;
        Some(Routed {
            service: Arc::clone(service),
            protocol: Protocol::AwsQuery,
            operation: action.into_owned(),
        })
    }
}

/// The most a gzipped form is inflated to for routing.
const MAX_INFLATED_FORM: u64 = 4 * 1024 * 1024;

fn is_gzipped(parts: &Parts) -> bool {
    parts
        .headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.trim().eq_ignore_ascii_case("gzip"))
}

/// A gzipped body, inflated; `None` when it is not gzip or inflates beyond the bound.
fn inflate(body: &[u8]) -> Option<Vec<u8>> {
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(body).take(MAX_INFLATED_FORM + 1).read_to_end(&mut inflated).ok()?;
    (inflated.len() as u64 <= MAX_INFLATED_FORM).then_some(inflated)
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.list.iter().map(|s| s.routes().target_prefix)).finish()
    }
}
