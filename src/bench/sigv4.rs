//! SigV4 for the raw client: signs a Kinesis JSON POST the way the SDKs do (signed headers
//! `content-type;host;x-amz-date;x-amz-target`), so servers that verify signatures accept it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub struct Signer {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// The headers to add to a request: `x-amz-date` and `authorization`.
pub struct Signature {
    pub amz_date: String,
    pub authorization: String,
}

impl Signer {
    pub fn new(region: &str) -> Signer {
        Signer { access_key: "test".into(), secret_key: "test".into(), region: region.into() }
    }

    /// Signs `POST /` with the given host (as sent in the Host header), content type, target
    /// and body, at `amz_date` (`yyyymmddThhmmssZ`).
    pub fn sign(
        &self,
        host: &str,
        content_type: &str,
        target: &str,
        body: &[u8],
        amz_date: &str,
    ) -> Signature {
        let payload_hash = hex(&Sha256::digest(body));
        let canonical = format!(
            "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n\n\
             content-type;host;x-amz-date;x-amz-target\n{payload_hash}"
        );
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/kinesis/aws4_request", self.region);
        let to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
        let key = hmac(format!("AWS4{}", self.secret_key).as_bytes(), date.as_bytes());
        let key = hmac(&key, self.region.as_bytes());
        let key = hmac(&key, b"kinesis");
        let key = hmac(&key, b"aws4_request");
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        Signature {
            amz_date: amz_date.to_owned(),
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={signature}",
                self.access_key
            ),
        }
    }
}

/// The current UTC time as `yyyymmddThhmmssZ`.
pub fn amz_date_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked vector of `docs/protocol/sigv4.md`, "Worked vector", produced by botocore.
    #[test]
    fn matches_the_botocore_vector() {
        let signer = Signer {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let body = br#"{"StreamName": "my-stream", "Data": "aGVsbG8=", "PartitionKey": "pk-1"}"#;
        let sig = signer.sign(
            "localhost:4567",
            "application/x-amz-json-1.1",
            "Kinesis_20131202.PutRecord",
            body,
            "20261125T183406Z",
        );
        assert!(
            sig.authorization
                .ends_with("Signature=87324ccd46de04a6f79f2f5428f1e8b8deae3e255bc8d09d662de69ec57ecb57"),
            "{}",
            sig.authorization
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_597), (2026, 5, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
