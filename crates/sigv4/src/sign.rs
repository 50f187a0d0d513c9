//! Signing requests the way the AWS SDKs do, in header mode (`Authorization`).

use sha2::{Digest, Sha256};

use crate::canonical::{collapse_whitespace, CanonicalRequest};
use crate::key::{hmac, RecentSigningKey};
use crate::{hex, ALGORITHM, TERMINATOR};

/// A request to sign.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as it will be sent (percent-encoded).
    pub path: &'a str,
    /// The query string as it will be sent, without the `?` (empty for none).
    pub query: &'a str,
    /// The headers to sign, `host` among them, as `(name, value)`; names in any case.
    /// `x-amz-date` is added by the signer.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Signs requests with one access key for one region and service.
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    signing_key: RecentSigningKey,
}

impl Signer {
    pub fn new(access_key: &str, secret_key: &str, region: &str, service: &str) -> Signer {
        Signer {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signing_key: RecentSigningKey::default(),
        }
    }

    /// The `Authorization` header value of `request` made at `amz_date` (`yyyymmddThhmmssZ`,
    /// see [`crate::amz_date`]), which the caller sends as `x-amz-date`.
    pub fn authorization(&self, request: &Request<'_>, amz_date: &str) -> String {
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), collapse_whitespace(value)))
            .chain([("x-amz-date".to_owned(), amz_date.to_owned())])
            .collect();
        headers.sort();
        let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
        let header_values: Vec<String> = headers.into_iter().map(|(_, value)| value).collect();
        let payload_hash = hex::encode(&Sha256::digest(request.body));
        let canonical = CanonicalRequest {
            method: request.method,
            path: request.path,
            query: request.query,
            presigned: false,
            header_values: &header_values,
            signed_headers: &signed_headers,
            payload_hash: &payload_hash,
        };
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/{TERMINATOR}", self.region, self.service);
        let key = self.signing_key.get(&self.secret_key, date, &self.region, &self.service);
        let signature = hex::encode(&hmac(&key, &canonical.string_to_sign(amz_date, &scope)));
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        )
    }
}

impl std::fmt::Debug for Signer {
    /// No secret in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// botocore's PutRecord of the worked vector in `docs/protocol/sigv4.md`.
    #[test]
    fn matches_the_botocore_vector() {
        let signer =
            Signer::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "kinesis");
        let body = br#"{"StreamName": "my-stream", "Data": "aGVsbG8=", "PartitionKey": "pk-1"}"#;
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Host", "localhost:4567"),
            ("X-Amz-Target", "Kinesis_20131202.PutRecord"),
        ];
        let request = Request { method: "POST", path: "/", query: "", headers: &headers, body };
        assert_eq!(
            signer.authorization(&request, "20261125T183406Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=87324ccd46de04a6f79f2f5428f1e8b8deae3e255bc8d09d662de69ec57ecb57"
        );
        assert!(!format!("{signer:?}").contains("EXAMPLEKEY"));
    }
}
