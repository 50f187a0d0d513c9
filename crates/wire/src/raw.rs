//! The untyped tree a JSON or CBOR body parses into, before the model's type checks.
//!
//! It exists (rather than `serde_json::Value` / `ciborium::Value`) for three reasons:
//! - objects keep their members in document order (serde_json's map sorts them);
//! - one tree serves both encodings, so the type checks are written once;
//! - CBOR byte strings stay owned `Vec<u8>`s that become `Bytes` without a copy;
//! - JSON member names and strings without escapes borrow from the body: most of a PutRecords
//!   body is names and base64 text that is decoded, not kept.
//!
//! The API model itself is read into the same tree, because its member order matters too.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw<'de> {
    Null,
    Bool(bool),
    /// Any integer; CBOR bignums (tags 2 and 3) included, saturated to the i128 range.
    Int(i128),
    /// JSON numbers with a fraction or exponent, JSON integers beyond 64 bits, CBOR floats.
    Float(f64),
    Str(Cow<'de, str>),
    /// CBOR byte strings only.
    Bytes(Vec<u8>),
    List(Vec<Raw<'de>>),
    /// Objects and maps, members in document order (duplicates kept; see the type checks).
    Map(Vec<(Cow<'de, str>, Raw<'de>)>),
}

impl<'de> Raw<'de> {
    /// A member of a map, by exact name.
    pub(crate) fn get(&self, key: &str) -> Option<&Raw<'de>> {
        match self {
            Raw::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Raw::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Raw::Int(i) => i64::try_from(*i).ok(),
            _ => None,
        }
    }

    pub(crate) fn as_list(&self) -> Option<&[Raw<'de>]> {
        match self {
            Raw::List(items) => Some(items),
            _ => None,
        }
    }

    pub(crate) fn as_map(&self) -> Option<&[(Cow<'de, str>, Raw<'de>)]> {
        match self {
            Raw::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw<'de>, D::Error> {
        deserializer.deserialize_any(RawVisitor::<Borrow>::new())
    }
}

/// A tree that owns all its text, for deserializers that only produce owned types (ciborium's
/// entry points require `DeserializeOwned`; they never lend text anyway). Map keys that `N`
/// knows share its `'static` copy.
pub(crate) struct OwnedRaw<N>(pub Raw<'static>, pub PhantomData<N>);

/// Map keys a tree that owns its text can share instead of copying.
pub(crate) trait KnownNames {
    /// The shared copy of `key`, if there is one.
    fn get(key: &str) -> Option<&'static str>;
}

impl<'de, N: KnownNames> Deserialize<'de> for OwnedRaw<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OwnedRaw<N>, D::Error> {
        deserializer.deserialize_any(RawVisitor::<Own<N>>::new()).map(|raw| OwnedRaw(raw, PhantomData))
    }
}

/// What the visitor does with text the deserializer lends it for `'de`, to make a `Raw<'a>`.
pub(crate) trait Keep<'de, 'a> {
    fn text(text: &'de str) -> Cow<'a, str>;

    /// A map key the deserializer only shows in passing.
    fn key(key: &str) -> Cow<'a, str> {
        Cow::Owned(key.to_owned())
    }
}

/// Borrows it: the tree lives no longer than the input.
pub(crate) enum Borrow {}

impl<'de> Keep<'de, 'de> for Borrow {
    fn text(text: &'de str) -> Cow<'de, str> {
        Cow::Borrowed(text)
    }
}

/// Copies it, except map keys that `N` knows.
struct Own<N>(PhantomData<N>);

impl<'de, N: KnownNames> Keep<'de, 'static> for Own<N> {
    fn text(text: &'de str) -> Cow<'static, str> {
        Cow::Owned(text.to_owned())
    }

    fn key(key: &str) -> Cow<'static, str> {
        N::get(key).map_or_else(|| Cow::Owned(key.to_owned()), Cow::Borrowed)
    }
}

/// Builds a `Raw<'a>`; also the seed of its own elements, members and keys.
struct RawVisitor<'a, K>(PhantomData<(Cow<'a, str>, K)>);

impl<'a, K> RawVisitor<'a, K> {
    fn new() -> Self {
        RawVisitor(PhantomData)
    }
}

impl<'de, 'a, K: Keep<'de, 'a>> DeserializeSeed<'de> for RawVisitor<'a, K> {
    type Value = Raw<'a>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw<'a>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'a, K: Keep<'de, 'a>> Visitor<'de> for RawVisitor<'a, K> {
    type Value = Raw<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or CBOR value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw<'a>, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw<'a>, E> {
        Ok(Raw::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw<'a>, E> {
        Ok(Raw::Int(i128::from(v)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw<'a>, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw<'a>, E> {
        Ok(Raw::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw<'a>, E> {
        Ok(Raw::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Raw<'a>, E> {
        Ok(Raw::Str(K::text(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw<'a>, E> {
        Ok(Raw::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw<'a>, E> {
        Ok(Raw::Str(Cow::Owned(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw<'a>, E> {
        Ok(Raw::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Raw<'a>, E> {
        Ok(Raw::Bytes(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw<'a>, E> {
        Ok(Raw::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw<'a>, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw<'a>, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'a>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(RawVisitor::<K>::new())? {
            items.push(item);
        }
        Ok(Raw::List(items))
    }

    /// Map keys must be text: Kinesis member names and tag keys are strings, and a CBOR map
    /// with another kind of key is treated as an unparsable body.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'a>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key_seed(KeyVisitor::<K>(PhantomData))? {
            entries.push((key, map.next_value_seed(RawVisitor::<K>::new())?));
        }
        Ok(Raw::Map(entries))
    }

    /// ciborium hands a CBOR tag over as an enum whose variant carries the tagged item. Tags
    /// carry no meaning for Kinesis input: a tag-1 timestamp holds milliseconds exactly as an
    /// untagged integer does (`docs/protocol/encodings.md`, "Tags"), so the tag is dropped and the
    /// item kept.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Raw<'a>, A::Error> {
        let (_, variant): (de::IgnoredAny, _) = data.variant()?;
        variant.newtype_variant_seed(self)
    }
}

/// A map key, which must be text (possibly tagged, like any CBOR item); any other kind of key
/// fails the parse.
pub(crate) struct KeyVisitor<'a, K>(PhantomData<(Cow<'a, str>, K)>);

impl<'a> KeyVisitor<'a, Borrow> {
    /// Member names that borrow from the body when they can.
    pub(crate) fn borrowing() -> Self {
        KeyVisitor(PhantomData)
    }
}

impl<'de, 'a, K: Keep<'de, 'a>> DeserializeSeed<'de> for KeyVisitor<'a, K> {
    type Value = Cow<'a, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'a, str>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'a, K: Keep<'de, 'a>> Visitor<'de> for KeyVisitor<'a, K> {
    type Value = Cow<'a, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text map key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'a, str>, E> {
        Ok(K::text(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'a, str>, E> {
        Ok(K::key(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Cow<'a, str>, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Cow<'a, str>, A::Error> {
        let (_, variant): (de::IgnoredAny, _) = data.variant()?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_keep_document_order() {
        let raw: Raw = serde_json::from_str(r#"{"b":1,"a":[true,null,1.5,"x"],"c":{}}"#).unwrap();
        assert_eq!(
            raw,
            Raw::Map(vec![
                ("b".into(), Raw::Int(1)),
                (
                    "a".into(),
                    Raw::List(vec![Raw::Bool(true), Raw::Null, Raw::Float(1.5), Raw::Str("x".into())])
                ),
                ("c".into(), Raw::Map(vec![])),
            ])
        );
    }

    /// Knows one name.
    enum Names {}

    impl KnownNames for Names {
        fn get(key: &str) -> Option<&'static str> {
            (key == "StreamName").then_some("StreamName")
        }
    }

    #[test]
    fn cbor_tags_are_dropped_and_bytes_kept() {
        // {"T": 1(1787036486712), "D": h'0102'}
        let mut body = vec![0xa2, 0x61, b'T', 0xc1, 0x1b];
        body.extend_from_slice(&1_787_036_486_712u64.to_be_bytes());
        body.extend_from_slice(&[0x61, b'D', 0x42, 1, 2]);
        let OwnedRaw::<Names>(raw, _) = ciborium::de::from_reader(&body[..]).unwrap();
        assert_eq!(
            raw,
            Raw::Map(vec![("T".into(), Raw::Int(1_787_036_486_712)), ("D".into(), Raw::Bytes(vec![1, 2])),])
        );
    }

    #[test]
    fn cbor_keys_known_are_borrowed() {
        // {"StreamName": "s", 0("Mine"): 1}: a known name, and a tagged unknown one.
        let body = [&[0xa2, 0x6a][..], b"StreamName", &[0x61, b's', 0xc0, 0x64], b"Mine", &[0x01]].concat();
        let OwnedRaw::<Names>(raw, _) = ciborium::de::from_reader(&body[..]).unwrap();
        let members = raw.as_map().unwrap();
        assert!(matches!(&members[0].0, Cow::Borrowed("StreamName")));
        assert!(matches!(&members[1].0, Cow::Owned(key) if key == "Mine"));
        assert_eq!(members[1].1, Raw::Int(1));
    }

    #[test]
    fn cbor_non_text_keys_are_rejected() {
        // {1: 2}
        assert!(ciborium::de::from_reader::<OwnedRaw<Names>, _>(&[0xa1u8, 0x01, 0x02][..]).is_err());
    }
}
