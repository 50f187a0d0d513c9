//! NextToken values: signed, opaque cursors that carry where a listing stopped and when the
//! token was issued (ListShards tokens expire after 300 s, as AWS's do).

use kinesin_wire::token::Signer;
use kinesin_wire::ApiError;

/// How long a ListShards token stays valid.
pub const TOKEN_LIFETIME_MS: i64 = 300_000;

/// Where a listing continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The stream being listed (0 for listings that are not per stream).
    pub stream_id: u64,
    /// The last item returned: a shard index or a stream name.
    pub after: String,
    pub issued_ms: i64,
}

impl Cursor {
    pub fn encode(&self, signer: &Signer) -> String {
        let mut raw = Vec::with_capacity(16 + self.after.len());
        raw.extend_from_slice(&self.stream_id.to_be_bytes());
        raw.extend_from_slice(&self.issued_ms.to_be_bytes());
        raw.extend_from_slice(self.after.as_bytes());
        signer.sign(&raw)
    }

    /// Decodes a NextToken; `InvalidArgumentException` for one we did not issue.
    pub fn decode(signer: &Signer, token: &str) -> Result<Cursor, ApiError> {
        let invalid = || ApiError::invalid_argument(format!("Invalid NextToken: {token}"));
        let raw = signer.verify(token).ok_or_else(invalid)?;
        if raw.len() < 16 {
            return Err(invalid());
        }
        Ok(Cursor {
            stream_id: u64::from_be_bytes(raw[0..8].try_into().unwrap()),
            issued_ms: i64::from_be_bytes(raw[8..16].try_into().unwrap()),
            after: String::from_utf8(raw[16..].to_vec()).map_err(|_| invalid())?,
        })
    }

    /// `ExpiredNextTokenException` once the token is older than [`TOKEN_LIFETIME_MS`].
    pub fn check_fresh(&self, now_ms: i64) -> Result<(), ApiError> {
        if now_ms - self.issued_ms > TOKEN_LIFETIME_MS {
            return Err(ApiError::expired_next_token(
                "The requested token has expired. Please restart the listing without a NextToken.",
            ));
        }
        Ok(())
    }
}
