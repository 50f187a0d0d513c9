//! Reading typed members out of a [`Document`], with the model's types. Each reader names the
//! member by its awsQuery path (`MetricData.member.1.Value`), which is how CloudWatch's
//! messages name parameters whatever the protocol.
//!
//! In a form every leaf is text, so form values are parsed by the member's type; a value that
//! does not parse is an `InvalidParameterValue`. In JSON and CBOR a member of the wrong type is
//! a `SerializationException`, as AWS JSON services answer.

use crate::document::Document;
use crate::error::{CloudWatchError, ErrorKind};
use crate::time::{self, Millis};

/// Reads members the way one protocol encodes them.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Leaves are text to parse (awsQuery).
    pub textual: bool,
}

impl Fields {
    fn wrong_type(self, expected: &str, path: &str, found: &Document) -> CloudWatchError {
        match (self.textual, found) {
            (true, Document::Text(text)) => CloudWatchError::invalid_value(text, path),
            _ => CloudWatchError::new(ErrorKind::Serialization, format!("Expected {expected} for {path}.")),
        }
    }

    pub fn string(self, value: &Document, path: &str) -> Result<String, CloudWatchError> {
        match value {
            Document::Text(text) => Ok(text.clone()),
            other => Err(self.wrong_type("a string", path, other)),
        }
    }

    pub fn double(self, value: &Document, path: &str) -> Result<f64, CloudWatchError> {
        match value {
            Document::Integer(integer) => Ok(*integer as f64),
            Document::Float(float) => Ok(*float),
            Document::Text(text) if self.textual => {
                text.trim().parse().map_err(|_| CloudWatchError::invalid_value(text, path))
            }
            other => Err(self.wrong_type("a number", path, other)),
        }
    }

    pub fn integer(self, value: &Document, path: &str) -> Result<i64, CloudWatchError> {
        match value {
            Document::Integer(integer) => {
                i64::try_from(*integer).map_err(|_| CloudWatchError::invalid_value(integer, path))
            }
            Document::Text(text) if self.textual => {
                text.trim().parse().map_err(|_| CloudWatchError::invalid_value(text, path))
            }
            other => Err(self.wrong_type("an integer", path, other)),
        }
    }

    pub fn boolean(self, value: &Document, path: &str) -> Result<bool, CloudWatchError> {
        match value {
            Document::Bool(flag) => Ok(*flag),
            Document::Text(text) if self.textual => match text.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(CloudWatchError::invalid_value(text, path)),
            },
            other => Err(self.wrong_type("a boolean", path, other)),
        }
    }

    /// A timestamp: CBOR tag 1 or an epoch-seconds number, or ISO 8601 text in a form.
    pub fn timestamp(self, value: &Document, path: &str) -> Result<Millis, CloudWatchError> {
        let millis = match value {
            Document::Timestamp(seconds) | Document::Float(seconds) => time::from_epoch_seconds(*seconds),
            Document::Integer(seconds) => time::from_epoch_seconds(*seconds as f64),
            Document::Text(text) if self.textual => time::parse_iso8601(text),
            other => return Err(self.wrong_type("a timestamp", path, other)),
        };
        millis.ok_or_else(|| match value {
            Document::Text(text) => CloudWatchError::invalid_value(text, path),
            _ => CloudWatchError::invalid_value("out of range", path),
        })
    }

    /// A list's elements. In a form, a list name with an empty value is an empty list.
    pub fn list<'a>(self, value: &'a Document, path: &str) -> Result<&'a [Document], CloudWatchError> {
        match value {
            Document::List(items) => Ok(items),
            Document::Text(text) if self.textual && text.is_empty() => Ok(&[]),
            other => Err(self.wrong_type("a list", path, other)),
        }
    }

    /// A structure, checked to be a map so its members can be read.
    pub fn structure<'a>(self, value: &'a Document, path: &str) -> Result<&'a Document, CloudWatchError> {
        match value {
            Document::Map(_) => Ok(value),
            other => Err(self.wrong_type("a structure", path, other)),
        }
    }
}

/// `Name` or, inside a structure at `parent`, `parent.Name`.
pub fn join(parent: &str, member: &str) -> String {
    if parent.is_empty() {
        member.to_string()
    } else {
        format!("{parent}.{member}")
    }
}

/// `parent.member.N` for the N-th (from 1) element of a list.
pub fn element(parent: &str, index: usize) -> String {
    format!("{parent}.member.{}", index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: Fields = Fields { textual: true };
    const JSON: Fields = Fields { textual: false };

    #[test]
    fn forms_parse_text_by_type() {
        let text = |t: &str| Document::Text(t.into());
        assert_eq!(QUERY.double(&text("1.5"), "V"), Ok(1.5));
        assert_eq!(QUERY.integer(&text("60"), "Period"), Ok(60));
        assert_eq!(QUERY.boolean(&text("false"), "R"), Ok(false));
        assert_eq!(QUERY.timestamp(&text("1970-01-01T00:00:01Z"), "T"), Ok(1000));
        assert_eq!(QUERY.list(&text(""), "L").map(<[_]>::len), Ok(0));
        let error = QUERY.double(&text("abc"), "MetricData.member.1.Value").unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidParameterValue);
        assert_eq!(error.message, "The value abc for parameter MetricData.member.1.Value is invalid.");
    }

    #[test]
    fn json_and_cbor_members_must_have_their_type() {
        assert_eq!(JSON.double(&Document::Integer(3), "V"), Ok(3.0));
        assert_eq!(JSON.timestamp(&Document::Timestamp(1.5), "T"), Ok(1500));
        assert_eq!(JSON.timestamp(&Document::Integer(2), "T"), Ok(2000));
        let error = JSON.double(&Document::Text("1".into()), "V").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Serialization);
        assert_eq!(JSON.integer(&Document::Float(1.0), "P").unwrap_err().kind, ErrorKind::Serialization);
    }
}
