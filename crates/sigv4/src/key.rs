//! Signing keys: four HMACs from a secret and a credential scope.

use std::sync::{Mutex, PoisonError};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::TERMINATOR;

pub(crate) type HmacSha256 = Hmac<Sha256>;

pub(crate) fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The key of the scope `date/region/service/aws4_request`.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    hmac(&k_service, TERMINATOR)
}

/// The signing key last derived from a secret, with its scope. Deriving one takes four HMACs,
/// about a third of a verified request's work, and a client signs with the same date, region
/// and service all day.
#[derive(Default)]
pub(crate) struct RecentSigningKey(Mutex<Option<(Scope, [u8; 32])>>);

#[derive(PartialEq, Eq)]
struct Scope {
    date: String,
    region: String,
    service: String,
}

impl RecentSigningKey {
    pub(crate) fn get(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let mut recent = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*recent {
            Some((scope, key))
                if scope.date == date && scope.region == region && scope.service == service =>
            {
                *key
            }
            _ => {
                let key = signing_key(secret, date, region, service);
                let scope =
                    Scope { date: date.to_owned(), region: region.to_owned(), service: service.to_owned() };
                *recent = Some((scope, key));
                key
            }
        }
    }
}

/// A cache: a copy starts empty.
impl Clone for RecentSigningKey {
    fn clone(&self) -> Self {
        RecentSigningKey::default()
    }
}

/// A cache is no part of its owner's identity.
impl PartialEq for RecentSigningKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RecentSigningKey {}
