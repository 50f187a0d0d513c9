//! The canonical request and the string to sign: what a signature covers, built the same way
//! for signing and for verifying (`docs/protocol/sigv4.md`, "Canonical request").

use sha2::{Digest, Sha256};

use crate::hex;
use crate::ALGORITHM;

/// The parts of a request that its signature covers.
pub(crate) struct CanonicalRequest<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded once already).
    pub path: &'a str,
    /// The raw query string, without the `?`.
    pub query: &'a str,
    /// A presigned request: its `X-Amz-Signature` query parameter is not part of what was signed.
    pub presigned: bool,
    /// Each signed header's canonical value, in the order of `signed_headers`.
    pub header_values: &'a [String],
    /// The `SignedHeaders` list: lowercase names, sorted, joined by `;`.
    pub signed_headers: &'a str,
    /// Hex SHA-256 of the body, or what `X-Amz-Content-Sha256` declared.
    pub payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// The canonical request's text.
    pub fn text(&self) -> String {
        let mut text = String::with_capacity(512);
        text.push_str(self.method);
        text.push('\n');
        text.push_str(&canonical_uri(self.path));
        text.push('\n');
        text.push_str(&canonical_query(self.query, self.presigned));
        text.push('\n');
        for (name, value) in self.signed_headers.split(';').zip(self.header_values) {
            text.push_str(name);
            text.push(':');
            text.push_str(value);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(self.signed_headers);
        text.push('\n');
        text.push_str(self.payload_hash);
        text
    }

    /// The string to sign for a request made at `date` (`yyyymmddThhmmssZ`) in `scope`
    /// (`date/region/service/aws4_request`).
    pub fn string_to_sign(&self, date: &str, scope: &str) -> String {
        format!("{ALGORITHM}\n{date}\n{scope}\n{}", hex::encode(&Sha256::digest(self.text().as_bytes())))
    }
}

/// A header value as it is signed: trimmed, inner runs of whitespace collapsed to one space.
pub(crate) fn collapse_whitespace(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path with dot segments removed as RFC 3986 (5.2.4) removes them, percent-encoded once more (the SDKs encode the path twice
/// for every service but S3, and the path as sent already carries the first encoding).
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    // A path that ends in a dot segment names a directory: `/a/b/.` is `/a/b/`.
    let trailing_slash =
        path.len() > 1 && (path.ends_with('/') || path.ends_with("/.") || path.ends_with("/.."));
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let mut normalized = String::from("/");
    normalized.push_str(&segments.join("/"));
    if trailing_slash && !segments.is_empty() {
        normalized.push('/');
    }
    uri_encode(&normalized, false)
}

/// Query parameters sorted by name then value, each re-encoded strictly; for a presigned
/// request without `X-Amz-Signature`.
fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .map(|(name, value)| (uri_encode(&name, true), uri_encode(&value, true)))
        .filter(|(name, _)| !(presigned && name == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// SigV4's URI encoding: unreserved characters stay, everything else is `%XX` (uppercase);
/// `/` stays too unless `encode_slash`.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (b == b'/' && !encode_slash)
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string's `(name, value)` pairs, `%XX`-decoded, in order. A `+` stays a `+` (SigV4
/// is not form decoding); a pair without `=` has an empty value.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// `%XX` decoding; a malformed escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
        assert_eq!(canonical_uri("/a/b/."), "/a/b/");
        assert_eq!(canonical_uri("/a/b/.."), "/a/");
        assert_eq!(canonical_uri("/.."), "/");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(canonical_query("b=2&a=1&a=0&c", false), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("x=a%2Fb+c", false), "x=a%2Fb%2Bc");
        assert_eq!(canonical_query("X-Amz-Signature=abc&z=1", true), "z=1");
        assert_eq!(collapse_whitespace("  a   b \t c "), "a b c");
        assert_eq!(percent_decode("%41%zz%4"), "A%zz%4");
        assert_eq!(
            query_pairs("a+b=%2Fc%2&&flag&x=%zz%"),
            [("a+b".into(), "/c%2".into()), ("flag".into(), String::new()), ("x".into(), "%zz%".into())]
        );
    }
}
