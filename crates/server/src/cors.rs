//! CORS (`docs/protocol/front-door.md`, "CORS"). Any non-empty `Origin` turns it on; its value is
//! not checked. An `OPTIONS` request with an origin is a preflight, answered before every other
//! check.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};
use http::{HeaderMap, HeaderValue, Response};

use crate::response::{self, ResponseBody};

const EXPOSE_HEADERS: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

pub fn has_origin(request: &HeaderMap) -> bool {
    request.get(ORIGIN).is_some_and(|origin| !origin.is_empty())
}

/// The preflight answer: 200, empty, and the requested headers and method echoed back verbatim
/// (neither is validated), only when they were asked for.
pub fn preflight(request: &HeaderMap) -> Response<ResponseBody> {
    let mut response = response::empty_ok();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    let echoes = [
        (ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_ALLOW_HEADERS),
        (ACCESS_CONTROL_REQUEST_METHOD, ACCESS_CONTROL_ALLOW_METHODS),
    ];
    for (asked, allowed) in echoes {
        for value in request.get_all(&asked).iter().filter(|v| !v.is_empty()) {
            headers.append(&allowed, value.clone());
        }
    }
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("172800"));
    response
}

/// The CORS headers of every other response to a request with an origin.
pub fn add_headers(response: &mut HeaderMap) {
    response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
}
