//! Opaque, tamper-evident tokens: `base64(payload | HMAC-SHA256(payload)[..16])`.
//!
//! Shard iterators and pagination tokens are built on this, so a client can neither forge a
//! read position nor edit a listing cursor. The key is per data directory.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const TAG_LEN: usize = 16;

/// Signs and verifies token payloads with one secret key.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { .. }")
    }
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Signer {
        Signer { key }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload);
        mac
    }

    pub fn sign(&self, payload: &[u8]) -> String {
        let tag = self.mac(payload).finalize().into_bytes();
        let mut raw = Vec::with_capacity(payload.len() + TAG_LEN);
        raw.extend_from_slice(payload);
        raw.extend_from_slice(&tag[..TAG_LEN]);
        STANDARD.encode(raw)
    }

    /// The payload of a token this signer produced, unchanged; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Vec<u8>> {
        let mut raw = STANDARD.decode(token).ok()?;
        if raw.len() < TAG_LEN {
            return None;
        }
        let tag = raw.split_off(raw.len() - TAG_LEN);
        self.mac(&raw).verify_truncated_left(&tag).ok()?;
        Some(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_edits() {
        let signer = Signer::new([3; 32]);
        let token = signer.sign(b"hello");
        assert_eq!(signer.verify(&token).as_deref(), Some(&b"hello"[..]));
        let mut raw = STANDARD.decode(&token).unwrap();
        raw[0] ^= 1;
        assert_eq!(signer.verify(&STANDARD.encode(&raw)), None);
        assert_eq!(Signer::new([4; 32]).verify(&token), None);
        assert_eq!(signer.verify("@@"), None);
        assert_eq!(signer.verify(""), None);
    }
}
