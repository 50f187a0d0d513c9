//! TEMPORARY stand-in for `kinesin_wire::{decode, validate, encode}` until they land; deleted then.

pub mod decode {
    use kinesin_wire::{ApiError, Format, Operation, Value};

    pub struct RawBody(Value);

    fn from_json(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or(Value::Float(n.as_f64().unwrap_or(0.0))),
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(from_json).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, from_json(v))).collect())
            }
        }
    }

    fn from_cbor(v: ciborium::Value) -> Value {
        match v {
            ciborium::Value::Bool(b) => Value::Bool(b),
            ciborium::Value::Integer(i) => Value::Int(i64::try_from(i).unwrap_or(0)),
            ciborium::Value::Text(s) => Value::Str(s),
            ciborium::Value::Bytes(b) => Value::Blob(b.into()),
            ciborium::Value::Array(a) => Value::List(a.into_iter().map(from_cbor).collect()),
            ciborium::Value::Map(m) => Value::Map(
                m.into_iter()
                    .map(|(k, v)| (k.into_text().unwrap_or_default(), from_cbor(v)))
                    .collect(),
            ),
            _ => Value::Null,
        }
    }

    pub fn parse_body(format: Format, body: &[u8]) -> Result<RawBody, ApiError> {
        let value = match format {
            Format::Json => serde_json::from_slice(body).ok().map(from_json),
            Format::Cbor => ciborium::from_reader::<ciborium::Value, _>(body)
                .ok()
                .map(from_cbor),
        };
        match value {
            Some(v @ Value::Map(_)) => Ok(RawBody(v)),
            _ => Err(ApiError::bare("SerializationException")),
        }
    }

    pub fn check_types(_op: Operation, raw: RawBody) -> Result<Value, ApiError> {
        Ok(raw.0)
    }
}

pub mod validate {
    use kinesin_wire::{ApiError, Operation, Value};

    pub fn validate(_op: Operation, input: &Value) -> Result<(), ApiError> {
        match input.str("StreamName") {
            Some("") => Err(ApiError::validation("1 validation error detected: Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1")),
            _ => Ok(()),
        }
    }
}

pub mod encode {
    use kinesin_wire::{ApiError, Format, Value};

    fn to_json(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) | Value::Timestamp(i) => (*i).into(),
            Value::Float(f) => (*f).into(),
            Value::Str(s) => s.clone().into(),
            Value::Blob(_) => "blob".into(),
            Value::List(l) => l.iter().map(to_json).collect(),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
            }
        }
    }

    fn to_cbor(v: &Value) -> ciborium::Value {
        match v {
            Value::Null => ciborium::Value::Null,
            Value::Bool(b) => ciborium::Value::Bool(*b),
            Value::Int(i) | Value::Timestamp(i) => ciborium::Value::Integer((*i).into()),
            Value::Float(f) => ciborium::Value::Float(*f),
            Value::Str(s) => ciborium::Value::Text(s.clone()),
            Value::Blob(b) => ciborium::Value::Bytes(b.to_vec()),
            Value::List(l) => ciborium::Value::Array(l.iter().map(to_cbor).collect()),
            Value::Map(m) => ciborium::Value::Map(
                m.iter()
                    .map(|(k, v)| (ciborium::Value::Text(k.clone()), to_cbor(v)))
                    .collect(),
            ),
        }
    }

    pub fn encode(format: Format, value: &Value) -> Vec<u8> {
        if *value == Value::Null {
            return Vec::new();
        }
        match format {
            Format::Json => serde_json::to_vec(&to_json(value)).unwrap(),
            Format::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(&to_cbor(value), &mut out).unwrap();
                out
            }
        }
    }

    pub fn encode_error(format: Format, err: &ApiError) -> Vec<u8> {
        let key = if err.capitalized_message {
            "Message"
        } else {
            "message"
        };
        let value = Value::object()
            .with("__type", err.code)
            .with_opt(key, err.message.clone());
        encode(format, &value)
    }
}
