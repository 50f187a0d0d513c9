//! Response bodies in the request's encoding (`docs/protocol/encodings.md`; error bodies:
//! `docs/protocol/front-door.md`, "Front-door error bodies").

use std::io::Write as _;

use crate::{ApiError, Format, Value};

/// Encodes a response body; `Value::Null` (an operation without output) is an empty body.
///
/// - JSON: compact; blobs as padded standard base64; timestamps as epoch seconds with exactly
///   three fraction digits, as a number (`1671562498.449`).
/// - CBOR: definite lengths; blobs as byte strings; timestamps as integer epoch milliseconds,
///   which is what the Java SDK parses (a float there makes it throw).
pub fn encode(format: Format, value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if *value != Value::Null {
        match format {
            Format::Json => json(value, &mut out),
            Format::Cbor => cbor(value, &mut out),
        }
    }
    out
}

/// `{"__type": code, "message": text}`, the member spelt `Message` when the error asks for it
/// and left out when there is no text. CBOR uses an indefinite-length map, as AWS does, so
/// `{"__type":"SerializationException"}` is byte-identical to the observed 32 bytes.
pub fn encode_error(format: Format, error: &ApiError) -> Vec<u8> {
    let message_key = if error.capitalized_message { "Message" } else { "message" };
    let mut out = Vec::new();
    match format {
        Format::Json => {
            let body =
                Value::object().with("__type", error.code).with_opt(message_key, error.message.as_deref());
            json(&body, &mut out);
        }
        Format::Cbor => {
            out.push(0xbf);
            cbor_text("__type", &mut out);
            cbor_text(error.code, &mut out);
            if let Some(message) = &error.message {
                cbor_text(message_key, &mut out);
                cbor_text(message, &mut out);
            }
            out.push(0xff);
        }
    }
    out
}

fn json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(n) => write!(out, "{n}").unwrap(),
        // Not finite: serde_json writes `null`.
        Value::Float(f) => serde_json::to_writer(&mut *out, f).unwrap(),
        Value::Str(s) => json_string(s, out),
        Value::Blob(b) => {
            // Straight into the output (SIMD, no intermediate string): GetRecords answers are
            // mostly this.
            out.push(b'"');
            base64_simd::STANDARD.encode_append(b, out);
            out.push(b'"');
        }
        Value::Timestamp(millis) => {
            let sign = if *millis < 0 { "-" } else { "" };
            let abs = millis.unsigned_abs();
            write!(out, "{sign}{}.{:03}", abs / 1000, abs % 1000).unwrap();
        }
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(key, out);
                out.push(b':');
                json(value, out);
            }
            out.push(b'}');
        }
    }
}

pub(crate) fn json_string(s: &str, out: &mut Vec<u8>) {
    // Keys, sequence numbers, shard ids and most partition keys need no escaping: copy them.
    // (A fold without early exit, so that the check vectorises.)
    let needs_escape = s.bytes().fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !needs_escape {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // Writing a str into a Vec cannot fail.
    serde_json::to_writer(&mut *out, s).unwrap();
}

fn cbor(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0xf6),
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Int(n) | Value::Timestamp(n) => cbor_int(*n, out),
        Value::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => cbor_text(s, out),
        Value::Blob(b) => {
            cbor_head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            cbor_head(4, items.len() as u64, out);
            for item in items {
                cbor(item, out);
            }
        }
        Value::Map(entries) => {
            cbor_head(5, entries.len() as u64, out);
            for (key, value) in entries {
                cbor_text(key, out);
                cbor(value, out);
            }
        }
    }
}

pub(crate) fn cbor_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        cbor_head(0, n as u64, out);
    } else {
        // Major type 1 holds -1 - n, which is the bitwise complement.
        cbor_head(1, !n as u64, out);
    }
}

pub(crate) fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// The initial byte(s) of a CBOR item: major type and argument, in the shortest form.
pub(crate) fn cbor_head(major: u8, argument: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match argument {
        0..=23 => out.push(major | argument as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, argument as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(argument as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(argument as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&argument.to_be_bytes());
        }
    }
}
