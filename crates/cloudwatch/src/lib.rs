//! CloudWatch on the kinesin endpoint: PutMetricData, GetMetricData, GetMetricStatistics and
//! ListMetrics, the subset KCL and KPL applications call, in the three protocols their SDKs
//! speak (AWS JSON 1.0, Smithy RPC v2 CBOR and awsQuery), stored in memory per account and
//! region with a bounded retention (`docs/cloudwatch.md`).
//!
//! The request path: the body (gunzipped when the client compressed it) is decoded by the
//! protocol's decoder (`json`, `cbor`, `form`) into a [`document::Document`]; `request` reads and
//! validates the operation's input from it; `operations` runs it against the
//! [`MetricStore`]; `protocol` writes the answer or error in the protocol's encoding.

pub mod aggregate;
pub mod cbor;
pub mod document;
pub mod error;
pub mod fields;
pub mod form;
pub mod json;
pub mod model;
pub mod operations;
pub mod output;
pub mod protocol;
pub mod request;
pub mod store;
pub mod time;

mod service;

pub use model::{Dimension, MetricDatum, MetricId, Sample, Unit};
pub use service::CloudWatch;
pub use store::{MetricStore, SeriesLimitReached, StoreLimits};
