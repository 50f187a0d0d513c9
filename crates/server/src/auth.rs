//! Authentication-level checks (`docs/protocol/front-door.md`, "Authentication-header checks"):
//! which SigV4 mode a request uses and whether its signing parameters are all there, with AWS's
//! exact messages. Signatures themselves are not verified here: any syntactically complete
//! request passes.

use std::borrow::Cow;

use http::header::{AUTHORIZATION, DATE};
use http::HeaderMap;
use kinesin_wire::ApiError;

/// Checks that the request is signed, in exactly one mode, with every parameter present.
/// On success returns the credential as sent (`AKID/yyyymmdd/region/service/aws4_request`).
pub fn check(headers: &HeaderMap, query: Option<&str>) -> Result<String, ApiError> {
    let authorization = headers.get(AUTHORIZATION).map(|v| text_of(v.as_bytes())).filter(|v| !v.is_empty());
    let query = query.map(kinesin_sigv4::query_pairs).unwrap_or_default();
    // Query mode needs only the key: `/?X-Amz-Algorithm` with no value counts.
    let query_mode = query.iter().any(|(name, _)| name == "X-Amz-Algorithm");
    match (authorization, query_mode) {
        (Some(_), true) => Err(ApiError::new(
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )),
        (None, false) => {
            Err(ApiError::new("MissingAuthenticationTokenException", "Missing Authentication Token"))
        }
        (Some(authorization), false) => check_header(&authorization, headers),
        (None, true) => check_query(&query),
    }
}

/// The region of a credential scope, when the scope has its five parts and the region looks like
/// one (it ends up in ARNs, so nothing beyond ASCII letters, digits and `-` is accepted).
pub fn scope_region(credential: &str) -> Option<&str> {
    let mut parts = credential.split('/');
    let mut next = || parts.next().filter(|part| !part.is_empty());
    let (_key, _date, region, _service) = (next()?, next()?, next()?, next()?);
    let complete = parts.next() == Some("aws4_request") && parts.next().is_none();
    (complete && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(region)
}

/// A header's bytes as text, invalid UTF-8 replaced (borrowed, and checked quickly, when valid).
fn text_of(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn incomplete(message: String) -> ApiError {
    ApiError::new("IncompleteSignatureException", message)
}

/// Header mode (`docs/protocol/front-door.md`, "Authentication-header checks"). The header is split
/// at every `,` and space; the first piece (the scheme) is skipped unchecked and the rest read as
/// `name=value`, where a later duplicate wins.
fn check_header(authorization: &str, headers: &HeaderMap) -> Result<String, ApiError> {
    // Split as bytes: a `[char; 2]` pattern decodes every char first (this runs on every
    // request). Both separators are ASCII, so every piece is still whole UTF-8.
    let params: Vec<(&str, &str)> = authorization
        .as_bytes()
        .split(|&b| b == b',' || b == b' ')
        .map(|piece| std::str::from_utf8(piece).expect("split at ASCII bytes"))
        .skip(1)
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let mut fields = piece.split('=');
            (fields.next().unwrap_or_default(), fields.next().unwrap_or_default())
        })
        .collect();
    let param = |name: &str| params.iter().rev().find(|(n, _)| *n == name).map_or("", |(_, value)| *value);

    let mut message = String::new();
    for name in ["Credential", "Signature", "SignedHeaders"] {
        if param(name).is_empty() {
            message.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    let has_date = |name| headers.get(name).is_some_and(|v| !v.is_empty());
    if !has_date("x-amz-date") && !has_date(DATE.as_str()) {
        message.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if message.is_empty() {
        Ok(param("Credential").to_owned())
    } else {
        message.push_str("Authorization=");
        message.push_str(authorization);
        Err(incomplete(message))
    }
}

/// Query mode (same section): every `X-Amz-*` signing parameter must be present and non-empty.
fn check_query(query: &[(String, String)]) -> Result<String, ApiError> {
    let param = |name: &str| query.iter().find(|(n, _)| n == name).map_or("", |(_, value)| value.as_str());
    let mut message = String::new();
    for name in
        ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"]
    {
        if param(name).is_empty() {
            message.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
    }
    if message.is_empty() {
        Ok(param("X-Amz-Credential").to_owned())
    } else {
        message.push_str("Re-examine the query-string parameters.");
        Err(incomplete(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn message(result: Result<String, ApiError>) -> (&'static str, String) {
        let err = result.unwrap_err();
        (err.code, err.message.unwrap())
    }

    #[test]
    fn neither_mode_is_a_missing_token() {
        let result = check(&HeaderMap::new(), None);
        assert_eq!(
            message(result),
            ("MissingAuthenticationTokenException", "Missing Authentication Token".into())
        );
        // Other X-Amz-* parameters, or a misspelt algorithm key, do not make query mode.
        let result = check(&HeaderMap::new(), Some("X-Amz-Algorith&X-Amz-Credential=a"));
        assert_eq!(result.unwrap_err().code, "MissingAuthenticationTokenException");
        // An empty Authorization header is no header at all.
        let result = check(&headers(&[("authorization", "")]), None);
        assert_eq!(result.unwrap_err().code, "MissingAuthenticationTokenException");
    }

    #[test]
    fn both_modes_is_an_invalid_signature() {
        let result = check(&headers(&[("authorization", "a")]), Some("X-Amz-Algorithm"));
        assert_eq!(
            message(result),
            (
                "InvalidSignatureException",
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
                    .into()
            )
        );
    }

    #[test]
    fn header_mode_lists_every_missing_part() {
        let result = check(&headers(&[("authorization", "X")]), None);
        assert_eq!(
            message(result),
            (
                "IncompleteSignatureException",
                "Authorization header requires 'Credential' parameter. \
                 Authorization header requires 'Signature' parameter. \
                 Authorization header requires 'SignedHeaders' parameter. \
                 Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
                 Authorization=X"
                    .into()
            )
        );
    }

    #[test]
    fn header_mode_accepts_any_separator_and_echoes_the_header() {
        for value in [
            "AWS4- Signature=b Credential=a",
            "AWS4- Signature=b,Credential=a",
            "AWS4- Signature=b, Credential=a",
        ] {
            let h = headers(&[("authorization", value), ("date", "a")]);
            assert_eq!(
                message(check(&h, None)).1,
                format!("Authorization header requires 'SignedHeaders' parameter. Authorization={value}")
            );
        }
    }

    #[test]
    fn header_mode_skips_the_first_piece_unchecked() {
        let h =
            headers(&[("authorization", "Credential=a/b Signature=c SignedHeaders=d"), ("x-amz-date", "a")]);
        assert_eq!(
            message(check(&h, None)).1,
            "Authorization header requires 'Credential' parameter. \
             Authorization=Credential=a/b Signature=c SignedHeaders=d"
        );
    }

    #[test]
    fn complete_header_passes_with_its_credential() {
        let h = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-west-3/kinesis/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc",
            ),
            ("x-amz-date", "20261125T182526Z"),
        ]);
        assert_eq!(check(&h, None).unwrap(), "AKID/20261125/eu-west-3/kinesis/aws4_request");
    }

    #[test]
    fn query_mode_lists_missing_parameters() {
        let all = "AWS query-string parameters must include 'X-Amz-Algorithm'. \
                   AWS query-string parameters must include 'X-Amz-Credential'. \
                   AWS query-string parameters must include 'X-Amz-Signature'. \
                   AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
                   AWS query-string parameters must include 'X-Amz-Date'. \
                   Re-examine the query-string parameters.";
        let result = check(&HeaderMap::new(), Some("X-Amz-Algorithm"));
        assert_eq!(message(result), ("IncompleteSignatureException", all.into()));

        let result = check(
            &HeaderMap::new(),
            Some("X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d"),
        );
        assert_eq!(
            message(result).1,
            "AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
             Re-examine the query-string parameters."
        );
    }

    #[test]
    fn complete_query_passes_with_its_decoded_credential() {
        let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261125%2Fus-west-2%2Fkinesis%2Faws4_request\
                     &X-Amz-Signature=c&X-Amz-SignedHeaders=host&X-Amz-Date=d";
        assert_eq!(
            check(&HeaderMap::new(), Some(query)).unwrap(),
            "AKID/20261125/us-west-2/kinesis/aws4_request"
        );
    }

    #[test]
    fn region_comes_only_from_a_well_formed_scope() {
        assert_eq!(scope_region("AKID/20261125/eu-west-3/kinesis/aws4_request"), Some("eu-west-3"));
        assert_eq!(scope_region("a"), None);
        assert_eq!(scope_region("AKID/20261125//kinesis/aws4_request"), None);
        assert_eq!(scope_region("AKID/20261125/eu west/kinesis/aws4_request"), None);
        assert_eq!(scope_region("AKID/20261125/eu-west-3/kinesis/aws4_reques"), None);
        assert_eq!(scope_region("AKID/20261125/eu-west-3/kinesis/aws4_request/x"), None);
    }
}
