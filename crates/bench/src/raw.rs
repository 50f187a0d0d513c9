//! The `raw` client mode: JSON requests built and SigV4-signed ahead of time, sent over a pooled
//! hyper HTTP/1.1 client, answers read with a minimal parser. It exists so that on a small
//! machine the load generator is not what limits the measurement.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use kinesin_sigv4::Signer;
use serde::Deserialize;

use super::calls::{CallError, Entry, Page, PutOutcome};

const JSON: &str = "application/x-amz-json-1.1";

/// A call not answered within this is counted as a `timeout` error, so that a stuck endpoint
/// cannot stall the run.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A signed request ready to send any number of times (within the signature's 5 minutes).
pub struct Prepared {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
pub struct RawClient {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    uri: http::Uri,
    host: String,
    signer: std::sync::Arc<Signer>,
}

impl RawClient {
    pub fn new(endpoint: &str, region: &str) -> Result<RawClient, String> {
        let uri: http::Uri = endpoint.parse().map_err(|e| format!("bad endpoint {endpoint}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("bad endpoint {endpoint}: the bench clients speak plain http:// only"));
        }
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| format!("bad endpoint {endpoint}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        let signer = Signer::new("test", "test", region, "kinesis");
        Ok(RawClient { http, uri, host, signer: std::sync::Arc::new(signer) })
    }

    pub fn prepare(&self, operation: &str, body: Vec<u8>) -> Prepared {
        let target = format!("Kinesis_20131202.{operation}");
        let amz_date = kinesin_sigv4::amz_date(std::time::SystemTime::now());
        let signed =
            [("content-type", JSON), ("host", self.host.as_str()), ("x-amz-target", target.as_str())];
        let request =
            kinesin_sigv4::Request { method: "POST", path: "/", query: "", headers: &signed, body: &body };
        let authorization = self.signer.authorization(&request, &amz_date);
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(&self.host).expect("authority is a valid header"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
        headers.insert("x-amz-target", HeaderValue::from_str(&target).expect("ascii"));
        headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).expect("ascii"));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&authorization).expect("ascii"));
        Prepared { headers, body: Bytes::from(body) }
    }

    pub fn prepare_put_records(&self, stream: &str, entries: &[Entry]) -> Prepared {
        let mut body = Vec::with_capacity(
            64 + entries.iter().map(|e| e.data.len() * 4 / 3 + e.key.len() + 40).sum::<usize>(),
        );
        body.extend_from_slice(b"{\"StreamName\":");
        serde_json::to_writer(&mut body, stream).expect("writes to a Vec");
        body.extend_from_slice(b",\"Records\":[");
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"PartitionKey\":");
            serde_json::to_writer(&mut body, &e.key).expect("writes to a Vec");
            body.extend_from_slice(b",\"Data\":\"");
            body.extend_from_slice(base64_simd::STANDARD.encode_to_string(&e.data).as_bytes());
            body.extend_from_slice(b"\"}");
        }
        body.extend_from_slice(b"]}");
        self.prepare("PutRecords", body)
    }

    pub fn prepare_put_record(&self, stream: &str, entry: &Entry) -> Prepared {
        let body = serde_json::json!({
            "StreamName": stream,
            "PartitionKey": entry.key,
            "Data": base64_simd::STANDARD.encode_to_string(&entry.data),
        });
        self.prepare("PutRecord", serde_json::to_vec(&body).expect("serialises"))
    }

    /// Sends the request; answers the body of a 200, or the error it names.
    pub async fn send(&self, prepared: &Prepared) -> Result<Bytes, CallError> {
        let mut request = http::Request::new(Full::new(prepared.body.clone()));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = prepared.headers.clone();
        let response = tokio::time::timeout(CALL_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| CallError::new("timeout", "no answer within 30 s"))?
            .map_err(|e| CallError::new("connection", format!("{e:?}")))?;
        let status = response.status();
        let body = tokio::time::timeout(CALL_TIMEOUT, response.into_body().collect())
            .await
            .map_err(|_| CallError::new("timeout", "no whole answer within 30 s"))?
            .map_err(|e| CallError::new("connection", format!("{e:?}")))?
            .to_bytes();
        if status == http::StatusCode::OK {
            return Ok(body);
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            #[serde(rename = "__type")]
            kind: Option<String>,
            #[serde(alias = "Message")]
            message: Option<String>,
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let (code, message) = match parsed {
            Some(ErrorBody { kind: Some(kind), message }) => {
                (kind.rsplit('#').next().unwrap_or(&kind).to_owned(), message.unwrap_or_default())
            }
            _ => (format!("http-{}", status.as_u16()), String::from_utf8_lossy(&body).into_owned()),
        };
        Err(CallError::new(code, message))
    }

    pub async fn put_records(
        &self,
        prepared: &Prepared,
        records: u64,
        want_shards: bool,
    ) -> Result<PutOutcome, CallError> {
        let body = self.send(prepared).await?;
        if !want_shards {
            if let Some(failed) = find_number(&body, b"\"FailedRecordCount\":") {
                return Ok(PutOutcome { ok: records - failed.min(records), failed, shards: Vec::new() });
            }
        }
        #[derive(Deserialize)]
        struct Out {
            #[serde(rename = "FailedRecordCount", default)]
            failed: u64,
            #[serde(rename = "Records", default)]
            records: Vec<OutRecord>,
        }
        #[derive(Deserialize)]
        struct OutRecord {
            #[serde(rename = "ShardId")]
            shard: Option<String>,
        }
        let out: Out =
            serde_json::from_slice(&body).map_err(|e| CallError::new("bad-response", e.to_string()))?;
        Ok(PutOutcome {
            ok: records - out.failed.min(records),
            failed: out.failed,
            shards: out.records.into_iter().filter_map(|r| r.shard).collect(),
        })
    }

    pub async fn put_record(&self, prepared: &Prepared) -> Result<(), CallError> {
        self.send(prepared).await.map(|_| ())
    }

    pub async fn get_records(
        &self,
        iterator: &str,
        limit: i32,
        want_stamps: bool,
    ) -> Result<Page, CallError> {
        let body = serde_json::to_vec(&serde_json::json!({"ShardIterator": iterator, "Limit": limit}))
            .expect("serialises");
        let body = self.send(&self.prepare("GetRecords", body)).await?;
        #[derive(Deserialize)]
        struct Out<'a> {
            #[serde(rename = "Records", borrow, default)]
            records: Vec<OutRecord<'a>>,
            #[serde(rename = "NextShardIterator")]
            next: Option<String>,
            #[serde(rename = "MillisBehindLatest", default)]
            behind: i64,
        }
        #[derive(Deserialize)]
        struct OutRecord<'a> {
            #[serde(rename = "Data", borrow)]
            data: Cow<'a, str>,
        }
        let out: Out =
            serde_json::from_slice(&body).map_err(|e| CallError::new("bad-response", e.to_string()))?;
        let mut page = Page { next_iterator: out.next, millis_behind: out.behind, ..Page::default() };
        for record in &out.records {
            let b64 = record.data.as_bytes();
            let padding = b64.iter().rev().take(2).filter(|&&c| c == b'=').count();
            page.records += 1;
            page.bytes += (b64.len() / 4 * 3).saturating_sub(padding) as u64;
            if want_stamps {
                let head = &b64[..b64.len().min(12)];
                let decoded = base64_simd::STANDARD.decode_to_vec(head).unwrap_or_default();
                page.stamps.push(super::calls::stamp_of(&decoded));
            }
        }
        Ok(page)
    }
}

/// The unsigned integer right after `key` in `body`, if `key` occurs.
fn find_number(body: &[u8], key: &[u8]) -> Option<u64> {
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let digits: Vec<u8> = body[at..]
        .iter()
        .skip_while(|c| c.is_ascii_whitespace())
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_numbers() {
        assert_eq!(
            super::find_number(br#"{"FailedRecordCount":12,"Records":[]}"#, b"\"FailedRecordCount\":"),
            Some(12)
        );
        assert_eq!(super::find_number(br#"{"FailedRecordCount": 0}"#, b"\"FailedRecordCount\":"), Some(0));
        assert_eq!(super::find_number(br#"{"Records":[]}"#, b"\"FailedRecordCount\":"), None);
    }
}
