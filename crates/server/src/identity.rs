//! Who a request acts for (the account step of the request pipeline, `docs/protocol/front-door.md`):
//! with a credentials file, the account of the key whose SigV4 signature verifies; without one,
//! the account a 12-digit access key id names, else the server's.
//!
//! Runs after [`crate::auth::check`] has found the request signed in exactly one mode with every
//! parameter present.

use std::time::SystemTime;

use http::request::Parts;
use kinesin_sigv4::SignedRequest;
use kinesin_wire::ApiError;

use crate::ServerConfig;

/// The account a request acts for. `credential` is the one [`crate::auth::check`] found;
/// `service` is the credential scope's service the signature must name (`kinesis`, `dynamodb`).
pub fn account(
    config: &ServerConfig,
    parts: &Parts,
    credential: &str,
    body: &[u8],
    service: &str,
) -> Result<String, ApiError> {
    let Some(store) = &config.credentials else {
        return Ok(account_from_key_id(credential).unwrap_or(&config.account_id).to_owned());
    };
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        authority: parts.uri.authority().map(|a| a.as_str()),
        body,
    };
    kinesin_sigv4::verify(store, &request, service, SystemTime::now())
        .map(str::to_owned)
        .map_err(|refused| ApiError::new(refused.code, refused.message))
}

/// The account of a request when no credentials file is in use: a 12-digit numeric access key
/// id names its account (kinesis-mock's convention); anything else gets `None`.
pub fn account_from_key_id(credential: &str) -> Option<&str> {
    let key_id = credential.split('/').next()?;
    (key_id.len() == 12 && key_id.bytes().all(|b| b.is_ascii_digit())).then_some(key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digit_key_ids_name_accounts() {
        assert_eq!(
            account_from_key_id("111122223333/20261125/us-east-1/kinesis/aws4_request"),
            Some("111122223333")
        );
        assert_eq!(account_from_key_id("AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request"), None);
        assert_eq!(account_from_key_id("1111222233334/x"), None);
    }
}
