//! Verifying a received request's signature against the keys of a credentials file.
//!
//! Header mode (`Authorization`) and query mode (presigned, `X-Amz-*` query parameters) are both
//! verified. The checks, in order: algorithm, credential scope shape, access key, scope
//! terminator, service, region, date format, scope date, clock skew, `host` signed, and finally
//! the signature itself, compared in constant time. Each failure is the error AWS answers with
//! (`docs/protocol/sigv4.md`, "Check order and messages").

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use hmac::Mac;
use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::canonical::{collapse_whitespace, query_pairs, CanonicalRequest};
use crate::date::{format_amz_date, parse_amz_date, unix_secs};
use crate::key::{HmacSha256, RecentSigningKey};
use crate::{hex, ALGORITHM, TERMINATOR};

/// How far in the past a request's date may be (AWS: 5 minutes)...
const MAX_AGE_SECS: i64 = 5 * 60;
/// ...and how far in the future: also 5 minutes for Kinesis, as AWS's own `+ 5 min.` messages
/// show (`docs/protocol/sigv4.md`, "Clock skew").
const MAX_AHEAD_SECS: i64 = 5 * 60;
/// The longest a presigned request may stay valid (`X-Amz-Expires`): seven days.
const MAX_EXPIRES_SECS: i64 = 604_800;

/// Why a signature was refused: the AWS error type and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError {
    /// `IncompleteSignatureException`, `InvalidSignatureException` or
    /// `UnrecognizedClientException`.
    pub code: &'static str,
    pub message: String,
}

impl SignatureError {
    fn incomplete(message: impl Into<String>) -> SignatureError {
        SignatureError { code: "IncompleteSignatureException", message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> SignatureError {
        SignatureError { code: "InvalidSignatureException", message: message.into() }
    }
}

/// The access keys a server accepts: `ACCESS_KEY_ID -> (secret, account)`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CredentialStore {
    keys: HashMap<String, Key>,
}

#[derive(Clone, PartialEq, Eq)]
struct Key {
    secret: String,
    account: String,
    signing_key: RecentSigningKey,
}

impl fmt::Debug for CredentialStore {
    /// Key ids only: secrets never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("CredentialStore").field("access_key_ids", &ids).finish()
    }
}

impl CredentialStore {
    /// Reads a credentials file: one `ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID` per line,
    /// separated by spaces or tabs. Blank lines and lines starting with `#` are skipped. The
    /// error names the first bad line (1-based) and what is wrong with it.
    pub fn parse(text: &str) -> Result<CredentialStore, String> {
        let mut keys = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let [id, secret, account] = fields[..] else {
                return Err(format!(
                    "line {number}: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID', found {} field{}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" }
                ));
            };
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("line {number}: the account id must be 12 digits, got '{account}'"));
            }
            if id.contains('/') {
                return Err(format!("line {number}: an access key id cannot contain '/', got '{id}'"));
            }
            let key = Key {
                secret: secret.to_owned(),
                account: account.to_owned(),
                signing_key: RecentSigningKey::default(),
            };
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(format!("line {number}: access key id '{id}' is listed twice"));
            }
        }
        Ok(CredentialStore { keys })
    }

    /// How many access keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The parts of a received request that its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without the `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The URI's authority: HTTP/2's `:authority`, used for `host` when there is no Host header.
    pub authority: Option<&'a str>,
    pub body: &'a [u8],
}

/// The signing parameters of a request, from whichever mode it used.
struct Params {
    algorithm: String,
    credential: String,
    signed_headers: String,
    signature: String,
    /// The request time as sent (`X-Amz-Date`, or `Date` converted to the same basic format).
    date: String,
    /// Query mode: the signature parameter is left out of the canonical query string, and
    /// `X-Amz-Expires`, when given, sets how long the request stays valid.
    query_mode: bool,
    expires: Option<i64>,
}

/// Verifies the request's signature with the key it names, for a request to `service` (the
/// credential scope's service, e.g. `kinesis`). Returns the key's account.
pub fn verify<'s>(
    store: &'s CredentialStore,
    request: &SignedRequest<'_>,
    service: &str,
    now: SystemTime,
) -> Result<&'s str, SignatureError> {
    let params = params(request)?;
    if params.algorithm != ALGORITHM {
        return Err(SignatureError::incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'. The only supported algorithm is '{ALGORITHM}'.",
            params.algorithm
        )));
    }
    let scope: Vec<&str> = params.credential.split('/').collect();
    let [key_id, scope_date, region, scope_service, terminator] = scope[..] else {
        return Err(SignatureError::incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            params.credential
        )));
    };
    let entry = store.keys.get(key_id).ok_or_else(|| SignatureError {
        code: "UnrecognizedClientException",
        message: "The security token included in the request is invalid.".to_owned(),
    })?;
    if terminator != TERMINATOR {
        return Err(SignatureError::invalid(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
        )));
    }
    if scope_service != service {
        return Err(SignatureError::invalid(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(SignatureError::invalid(format!(
            "Credential should be scoped to a valid region, not '{region}'. "
        )));
    }
    let Some(signed_at) = parse_amz_date(&params.date) else {
        return Err(SignatureError::incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            params.date
        )));
    };
    if scope_date != &params.date[..8] {
        return Err(SignatureError::invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{}'.",
            &params.date[..8],
            params.date
        )));
    }
    check_clock(&params, signed_at, now)?;
    if !params.signed_headers.split(';').any(|h| h.eq_ignore_ascii_case("host") || h == ":authority") {
        return Err(SignatureError::invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }

    let scope = format!("{scope_date}/{region}/{service}/{terminator}");
    let key = entry.signing_key.get(&entry.secret, scope_date, region, service);
    let provided = Some(&params.signature).filter(|s| s.len() == 64).and_then(|s| hex::decode(s));
    let header_values: Vec<String> =
        params.signed_headers.split(';').map(|name| canonical_header_value(request, name)).collect();
    let payload_hashes: Vec<String> = match header_text(request.headers, "x-amz-content-sha256") {
        Some(hash) => vec![hash],
        // A presigned request may have been signed without its body.
        None if params.query_mode => {
            vec![hex::encode(&Sha256::digest(request.body)), "UNSIGNED-PAYLOAD".to_owned()]
        }
        None => vec![hex::encode(&Sha256::digest(request.body))],
    };
    for payload_hash in &payload_hashes {
        let canonical = CanonicalRequest {
            method: request.method,
            path: request.path,
            query: request.query.unwrap_or(""),
            presigned: params.query_mode,
            header_values: &header_values,
            signed_headers: &params.signed_headers,
            payload_hash,
        };
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes any key");
        mac.update(canonical.string_to_sign(&params.date, &scope).as_bytes());
        if let Some(provided) = &provided {
            // Constant time (hmac uses `subtle`).
            if mac.verify_slice(provided).is_ok() {
                return Ok(&entry.account);
            }
        }
    }
    Err(SignatureError::invalid(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    ))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn params(request: &SignedRequest<'_>) -> Result<Params, SignatureError> {
    let query = request.query.map(query_pairs).unwrap_or_default();
    if query.iter().any(|(name, _)| name == "X-Amz-Algorithm") {
        let param =
            |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let expires = match query.iter().find(|(n, _)| n == "X-Amz-Expires") {
            None => None,
            Some((_, value)) => match value.parse::<i64>() {
                Ok(secs) if (1..=MAX_EXPIRES_SECS).contains(&secs) => Some(secs),
                _ => {
                    return Err(SignatureError::incomplete(format!(
                        "X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES_SECS}, got '{value}'."
                    )))
                }
            },
        };
        return Ok(Params {
            algorithm: param("X-Amz-Algorithm"),
            credential: param("X-Amz-Credential"),
            signed_headers: param("X-Amz-SignedHeaders"),
            signature: param("X-Amz-Signature"),
            date: param("X-Amz-Date"),
            query_mode: true,
            expires,
        });
    }

    let authorization = header_text(request.headers, "authorization").unwrap_or_default();
    let (algorithm, rest) = authorization.split_once([' ', ',']).unwrap_or((authorization.as_str(), ""));
    let mut credential = String::new();
    let mut signed_headers = String::new();
    let mut signature = String::new();
    // The separators kinesalite tolerates: `,`, space, or both.
    for piece in rest.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        match name {
            "Credential" => credential = value.to_owned(),
            "SignedHeaders" => signed_headers = value.to_owned(),
            "Signature" => signature = value.to_owned(),
            _ => {}
        }
    }
    let date = match header_text(request.headers, "x-amz-date") {
        Some(date) => date,
        None => {
            let date = header_text(request.headers, "date").unwrap_or_default();
            match httpdate::parse_http_date(&date) {
                Ok(time) => format_amz_date(unix_secs(time)),
                Err(_) => date,
            }
        }
    };
    Ok(Params {
        algorithm: algorithm.to_owned(),
        credential,
        signed_headers,
        signature,
        date,
        query_mode: false,
        expires: None,
    })
}

/// AWS's skew rule: at most 5 minutes old (or the presigned `X-Amz-Expires`), at most 5 minutes
/// ahead, with its messages.
fn check_clock(params: &Params, signed_at: i64, now: SystemTime) -> Result<(), SignatureError> {
    let now = unix_secs(now);
    let max_age = params.expires.unwrap_or(MAX_AGE_SECS);
    if signed_at < now - max_age {
        let window =
            if max_age % 60 == 0 { format!("{} min.", max_age / 60) } else { format!("{max_age} sec.") };
        return Err(SignatureError::invalid(format!(
            "Signature expired: {} is now earlier than {} ({} - {window})",
            params.date,
            format_amz_date(now - max_age),
            format_amz_date(now)
        )));
    }
    if signed_at > now + MAX_AHEAD_SECS {
        return Err(SignatureError::invalid(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            params.date,
            format_amz_date(now + MAX_AHEAD_SECS),
            format_amz_date(now)
        )));
    }
    Ok(())
}

/// Every value of the header, joined by `,`, each with its whitespace collapsed. `host` falls
/// back to the URI's authority (HTTP/2's `:authority`).
fn canonical_header_value(request: &SignedRequest<'_>, name: &str) -> String {
    let mut values: Vec<String> = request
        .headers
        .get_all(name)
        .iter()
        .map(|v| collapse_whitespace(&String::from_utf8_lossy(v.as_bytes())))
        .collect();
    if values.is_empty() && (name == "host" || name == ":authority") {
        if let Some(authority) = request.authority {
            values.push(authority.to_owned());
        } else if let Some(host) = request.headers.get("host") {
            values.push(collapse_whitespace(&String::from_utf8_lossy(host.as_bytes())));
        }
    }
    values.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{hmac, signing_key};
    use std::time::{Duration, UNIX_EPOCH};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const BODY: &str = r#"{"StreamName": "my-stream", "Data": "aGVsbG8=", "PartitionKey": "pk-1"}"#;
    const SIGNATURE: &str = "87324ccd46de04a6f79f2f5428f1e8b8deae3e255bc8d09d662de69ec57ecb57";

    fn store() -> CredentialStore {
        CredentialStore::parse(&format!("AKIDEXAMPLE {SECRET} 123456789012\n")).unwrap()
    }

    fn at(date: &str) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(parse_amz_date(date).unwrap() as u64)
    }

    /// The request of the worked vector (`docs/protocol/sigv4.md`, "Worked vector"; botocore's
    /// PutRecord), with `authorization`.
    fn vector_headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "localhost:4567"),
            ("x-amz-date", "20261125T183406Z"),
            ("x-amz-target", "Kinesis_20131202.PutRecord"),
            ("content-type", "application/x-amz-json-1.1"),
            ("authorization", authorization),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        headers
    }

    fn vector_authorization(signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={signature}"
        )
    }

    fn request<'a>(headers: &'a HeaderMap, body: &'a str) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            path: "/",
            query: None,
            headers,
            authority: None,
            body: body.as_bytes(),
        }
    }

    fn error(result: Result<&str, SignatureError>) -> (&'static str, String) {
        let err = result.unwrap_err();
        (err.code, err.message)
    }

    #[test]
    fn worked_vector_intermediate_values() {
        let headers = vector_headers(&vector_authorization(SIGNATURE));
        let req = request(&headers, BODY);
        let params = params(&req).unwrap();
        let payload_hash = hex::encode(&Sha256::digest(BODY.as_bytes()));
        assert_eq!(payload_hash, "1975bc7f56c100f4602ba5d1aadfd1411f9bd3da565c9c88b68b95bb3587c2e9");
        let header_values: Vec<String> =
            params.signed_headers.split(';').map(|name| canonical_header_value(&req, name)).collect();
        let canonical = CanonicalRequest {
            method: "POST",
            path: "/",
            query: "",
            presigned: false,
            header_values: &header_values,
            signed_headers: &params.signed_headers,
            payload_hash: &payload_hash,
        };
        assert_eq!(
            hex::encode(&Sha256::digest(canonical.text().as_bytes())),
            "5491f72c43fd4ec2f3c18f610af551e573297e9764d26fc02ecb8fa47a2412ae"
        );
        let key = signing_key(SECRET, "20261125", "us-east-1", "kinesis");
        let to_sign = canonical.string_to_sign("20261125T183406Z", "20261125/us-east-1/kinesis/aws4_request");
        assert_eq!(hex::encode(&hmac(&key, &to_sign)), SIGNATURE);
    }

    #[test]
    fn worked_vector_verifies_and_names_the_account() {
        let headers = vector_headers(&vector_authorization(SIGNATURE));
        let now = at("20261125T183406Z");
        assert_eq!(verify(&store(), &request(&headers, BODY), "kinesis", now), Ok("123456789012"));
        // HTTP/2: no Host header, the authority instead.
        let mut h2 = headers.clone();
        h2.remove("host");
        let mut req = request(&h2, BODY);
        req.authority = Some("localhost:4567");
        assert_eq!(verify(&store(), &req, "kinesis", now), Ok("123456789012"));
        // A declared payload hash stands for the body.
        let mut declared = headers.clone();
        declared.insert(
            "x-amz-content-sha256",
            "1975bc7f56c100f4602ba5d1aadfd1411f9bd3da565c9c88b68b95bb3587c2e9".parse().unwrap(),
        );
        // (It is not a signed header here, so the signature still holds.)
        assert!(verify(&store(), &request(&declared, "{}"), "kinesis", now).is_ok());
    }

    /// One store verifies requests of changing scopes: a key's signing key is derived again
    /// when the region (or date) changes, and a cached one lets no wrong signature through.
    #[test]
    fn signing_keys_follow_the_scope() {
        let store = store();
        let now = at("20261125T183406Z");
        let vector = vector_headers(&vector_authorization(SIGNATURE));
        let (host, query) = (host_only(), presigned_query("eu-west-1"));
        let mut presigned = request(&host, BODY);
        presigned.query = Some(&query);
        for _ in 0..2 {
            assert_eq!(verify(&store, &request(&vector, BODY), "kinesis", now), Ok("123456789012"));
            assert_eq!(verify(&store, &presigned, "kinesis", now), Ok("123456789012"));
        }
        let wrong = vector_headers(&vector_authorization(&SIGNATURE.replace('8', "9")));
        assert_eq!(
            error(verify(&store, &request(&wrong, BODY), "kinesis", now)).0,
            "InvalidSignatureException"
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let mismatch = (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
                .to_owned(),
        );
        let now = at("20261125T183406Z");
        let headers = vector_headers(&vector_authorization(SIGNATURE));
        // Another body.
        assert_eq!(error(verify(&store(), &request(&headers, "{}"), "kinesis", now)), mismatch);
        // Another secret.
        let other = CredentialStore::parse("AKIDEXAMPLE other 123456789012").unwrap();
        assert_eq!(error(verify(&other, &request(&headers, BODY), "kinesis", now)), mismatch);
        // Another signed header value.
        let mut changed = headers.clone();
        changed.insert("x-amz-target", "Kinesis_20131202.ListStreams".parse().unwrap());
        assert_eq!(error(verify(&store(), &request(&changed, BODY), "kinesis", now)), mismatch);
        // Another host.
        let mut changed = headers.clone();
        changed.insert("host", "localhost:4568".parse().unwrap());
        assert_eq!(error(verify(&store(), &request(&changed, BODY), "kinesis", now)), mismatch);
        // A malformed or truncated signature.
        for signature in ["zz", &SIGNATURE[..63], &SIGNATURE.replace('8', "g")] {
            let headers = vector_headers(&vector_authorization(signature));
            assert_eq!(error(verify(&store(), &request(&headers, BODY), "kinesis", now)), mismatch);
        }
        // Headers that are not signed may change.
        let mut extra = headers.clone();
        extra.insert("user-agent", "anything".parse().unwrap());
        assert!(verify(&store(), &request(&extra, BODY), "kinesis", now).is_ok());
    }

    #[test]
    fn unknown_key_is_an_unrecognized_client() {
        let headers = vector_headers(&vector_authorization(SIGNATURE));
        let other = CredentialStore::parse("AKIDOTHER x 123456789012").unwrap();
        assert_eq!(
            error(verify(&other, &request(&headers, BODY), "kinesis", at("20261125T183406Z"))),
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".to_owned()
            )
        );
    }

    #[test]
    fn clock_skew_messages() {
        let headers = vector_headers(&vector_authorization(SIGNATURE));
        let req = request(&headers, BODY);
        // Exactly 5 minutes old and 5 minutes ahead still pass.
        assert!(verify(&store(), &req, "kinesis", at("20261125T183906Z")).is_ok());
        assert!(verify(&store(), &req, "kinesis", at("20261125T182906Z")).is_ok());
        assert_eq!(
            error(verify(&store(), &req, "kinesis", at("20261125T183907Z"))),
            (
                "InvalidSignatureException",
                "Signature expired: 20261125T183406Z is now earlier than 20261125T183407Z \
                 (20261125T183907Z - 5 min.)"
                    .to_owned()
            )
        );
        assert_eq!(
            error(verify(&store(), &req, "kinesis", at("20261125T182905Z"))),
            (
                "InvalidSignatureException",
                "Signature not yet current: 20261125T183406Z is still later than 20261125T183405Z \
                 (20261125T182905Z + 5 min.)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn scope_errors() {
        let now = at("20261125T183406Z");
        let check = |credential: &str| {
            let authorization = format!(
                "AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={SIGNATURE}"
            );
            let headers = vector_headers(&authorization);
            error(verify(&store(), &request(&headers, BODY), "kinesis", now))
        };
        assert_eq!(
            check("AKIDEXAMPLE/20261125/us-east-1/kinesis"),
            (
                "IncompleteSignatureException",
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, \
                 got 'AKIDEXAMPLE/20261125/us-east-1/kinesis'"
                    .to_owned()
            )
        );
        assert_eq!(
            check("AKIDEXAMPLE/20261125/us-east-1/s3/aws4_request"),
            (
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'kinesis'. ".to_owned()
            )
        );
        assert_eq!(
            check("AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4"),
            (
                "InvalidSignatureException",
                "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4'.".to_owned()
            )
        );
        assert_eq!(check("AKIDEXAMPLE/20261125/us_east/kinesis/aws4_request").0, "InvalidSignatureException");
        assert_eq!(
            check("AKIDEXAMPLE/20261124/us-east-1/kinesis/aws4_request"),
            (
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
                 '20261124' != '20261125', from '20261125T183406Z'."
                    .to_owned()
            )
        );
        // A kinesis scope sent to another service.
        let headers = vector_headers(&vector_authorization(SIGNATURE));
        assert_eq!(
            error(verify(&store(), &request(&headers, BODY), "dynamodb", now)),
            (
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'dynamodb'. ".to_owned()
            )
        );
        // Another algorithm.
        let headers = vector_headers(&vector_authorization(SIGNATURE).replace("SHA256", "SHA512"));
        assert_eq!(
            error(verify(&store(), &request(&headers, BODY), "kinesis", now)).0,
            "IncompleteSignatureException"
        );
        // A malformed date.
        let mut headers = vector_headers(&vector_authorization(SIGNATURE));
        headers.insert("x-amz-date", "2026-11-25T18:34:06Z".parse().unwrap());
        assert_eq!(
            error(verify(&store(), &request(&headers, BODY), "kinesis", now)),
            (
                "IncompleteSignatureException",
                "Date must be in ISO-8601 'basic format'. Got '2026-11-25T18:34:06Z'. \
                 See http://en.wikipedia.org/wiki/ISO_8601"
                    .to_owned()
            )
        );
        // Host unsigned.
        let headers =
            vector_headers(&vector_authorization(SIGNATURE).replace("content-type;host;", "content-type;"));
        assert_eq!(
            error(verify(&store(), &request(&headers, BODY), "kinesis", now)),
            (
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned()
            )
        );
    }

    /// The query of a request presigned by hand for `region` at 20261125T183406Z: it carries
    /// the signing parameters.
    fn presigned_query(region: &str) -> String {
        let date = "20261125T183406Z";
        let credential = format!("AKIDEXAMPLE%2F20261125%2F{region}%2Fkinesis%2Faws4_request");
        let base = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}&X-Amz-Date={date}\
             &X-Amz-Expires=600&X-Amz-SignedHeaders=host"
        );
        let canonical = format!(
            "POST\n/\n{base}\nhost:localhost:4567\n\nhost\n{}",
            hex::encode(&Sha256::digest(BODY.as_bytes()))
        );
        let key = signing_key(SECRET, "20261125", region, "kinesis");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n20261125/{region}/kinesis/aws4_request\n{}",
            hex::encode(&Sha256::digest(canonical.as_bytes()))
        );
        let signature = hex::encode(&hmac(&key, &to_sign));
        format!("{base}&X-Amz-Signature={signature}")
    }

    fn host_only() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", "localhost:4567".parse().unwrap());
        headers
    }

    #[test]
    fn query_mode_verifies() {
        let date = "20261125T183406Z";
        let query = presigned_query("eu-west-1");
        let headers = host_only();
        let mut req = request(&headers, BODY);
        req.query = Some(&query);
        assert_eq!(verify(&store(), &req, "kinesis", at(date)), Ok("123456789012"));
        // X-Amz-Expires widens the window to 10 minutes.
        assert!(verify(&store(), &req, "kinesis", at("20261125T184406Z")).is_ok());
        assert_eq!(
            error(verify(&store(), &req, "kinesis", at("20261125T184407Z"))).1,
            "Signature expired: 20261125T183406Z is now earlier than 20261125T183407Z \
             (20261125T184407Z - 10 min.)"
        );
        let tampered = query.replace("X-Amz-Expires=600", "X-Amz-Expires=601");
        req.query = Some(&tampered);
        assert_eq!(error(verify(&store(), &req, "kinesis", at(date))).0, "InvalidSignatureException");
    }

    #[test]
    fn date_header_stands_in_for_x_amz_date() {
        let mut headers = vector_headers(&vector_authorization(SIGNATURE));
        headers.remove("x-amz-date");
        headers.insert("date", "Wed, 25 Nov 2026 18:34:06 GMT".parse().unwrap());
        let params = params(&request(&headers, BODY)).unwrap();
        assert_eq!(params.date, "20261125T183406Z");
    }

    #[test]
    fn credentials_file() {
        let store = CredentialStore::parse(
            "# comment\n\n  AKID1   secret1\t111111111111  \nAKID2 secret2 222222222222\n",
        )
        .unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.keys["AKID1"].account, "111111111111");
        assert!(!format!("{store:?}").contains("secret"));
        assert_eq!(
            CredentialStore::parse("# x\nAKID1 secret1\n").unwrap_err(),
            "line 2: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID', found 2 fields"
        );
        assert_eq!(
            CredentialStore::parse("AKID1 s 12345").unwrap_err(),
            "line 1: the account id must be 12 digits, got '12345'"
        );
        assert_eq!(
            CredentialStore::parse("A s 111111111111\nA t 111111111111").unwrap_err(),
            "line 2: access key id 'A' is listed twice"
        );
    }
}
