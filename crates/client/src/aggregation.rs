//! KPL aggregation: many user records packed into the `Data` of one Kinesis record, in the format
//! the KPL writes and the KCL, AWS Lambda and `aws-kinesis-agg` read
//! (docs/protocol/kpl-aggregation.md):
//!
//! ```text
//! F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16 bytes)
//! ```
//!
//! [`Aggregate`] builds one such record. Its sizes are exact, not estimated, so a producer can
//! stop adding records at a size limit. Reading them back is [`crate::deaggregation`].
//!
//! ```
//! use kinesin_client::aggregation::Aggregate;
//!
//! let mut aggregate = Aggregate::new();
//! aggregate.push("pk-1", None, b"hello");
//! aggregate.push("pk-2", None, b"world");
//! assert_eq!(aggregate.encoded_len(), aggregate.encode().len());
//! ```

use std::collections::HashMap;

use md5::{Digest, Md5};

use crate::protobuf::{bytes_field_len, put_bytes_field, put_varint_field, varint_field_len};

/// The four bytes an aggregated record starts with.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// The MD5 digest that ends an aggregated record.
pub const DIGEST_LEN: usize = 16;
/// Magic plus digest: what an aggregated record costs beyond its protobuf message.
pub const OVERHEAD: usize = MAGIC.len() + DIGEST_LEN;

// Field numbers of AggregatedRecord and Record.
pub(crate) const PARTITION_KEY_TABLE: u32 = 1;
pub(crate) const EXPLICIT_HASH_KEY_TABLE: u32 = 2;
pub(crate) const RECORDS: u32 = 3;
pub(crate) const PARTITION_KEY_INDEX: u32 = 1;
pub(crate) const EXPLICIT_HASH_KEY_INDEX: u32 = 2;
pub(crate) const DATA: u32 = 3;

/// One aggregated record being built: the key tables (each key stored once) and the user records,
/// in the order they were pushed.
#[derive(Debug, Default)]
pub struct Aggregate {
    partition_keys: KeyTable,
    explicit_hash_keys: KeyTable,
    /// The encoded `records` fields, in order.
    records: Vec<u8>,
    count: usize,
}

#[derive(Debug, Default)]
struct KeyTable {
    keys: Vec<String>,
    index: HashMap<String, u64>,
    /// The encoded size of the table's fields.
    encoded_len: usize,
}

impl KeyTable {
    /// The key's index, and what adding it costs (0 if it is already in the table).
    fn lookup(&self, key: &str) -> (u64, usize) {
        match self.index.get(key) {
            Some(&i) => (i, 0),
            None => (self.keys.len() as u64, bytes_field_len(key.len())),
        }
    }

    fn insert(&mut self, key: &str) -> u64 {
        let (i, cost) = self.lookup(key);
        if cost > 0 {
            self.keys.push(key.to_owned());
            self.index.insert(key.to_owned(), i);
            self.encoded_len += cost;
        }
        i
    }

    fn encode(&self, field: u32, out: &mut Vec<u8>) {
        for key in &self.keys {
            put_bytes_field(out, field, key.as_bytes());
        }
    }
}

impl Aggregate {
    /// An empty aggregate.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many user records it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size of [`encode`](Self::encode)'s result.
    pub fn encoded_len(&self) -> usize {
        OVERHEAD + self.message_len()
    }

    /// The encoded size after pushing this record: compare it with a size limit before
    /// [`push`](Self::push).
    pub fn encoded_len_with(
        &self,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data_len: usize,
    ) -> usize {
        let (pk_index, pk_cost) = self.partition_keys.lookup(partition_key);
        let (ehk_index, ehk_cost) = match explicit_hash_key {
            Some(key) => {
                let (i, cost) = self.explicit_hash_keys.lookup(key);
                (Some(i), cost)
            }
            None => (None, 0),
        };
        self.encoded_len() + pk_cost + ehk_cost + bytes_field_len(record_len(pk_index, ehk_index, data_len))
    }

    /// Appends a user record; its sub-sequence number will be its position.
    pub fn push(&mut self, partition_key: &str, explicit_hash_key: Option<&str>, data: &[u8]) {
        let pk_index = self.partition_keys.insert(partition_key);
        let ehk_index = explicit_hash_key.map(|key| self.explicit_hash_keys.insert(key));
        let mut record = Vec::with_capacity(record_len(pk_index, ehk_index, data.len()));
        put_varint_field(&mut record, PARTITION_KEY_INDEX, pk_index);
        if let Some(i) = ehk_index {
            put_varint_field(&mut record, EXPLICIT_HASH_KEY_INDEX, i);
        }
        put_bytes_field(&mut record, DATA, data);
        put_bytes_field(&mut self.records, RECORDS, &record);
        self.count += 1;
    }

    /// The aggregated record: magic, the protobuf `AggregatedRecord`, its MD5.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        self.partition_keys.encode(PARTITION_KEY_TABLE, &mut out);
        self.explicit_hash_keys.encode(EXPLICIT_HASH_KEY_TABLE, &mut out);
        out.extend_from_slice(&self.records);
        let digest = Md5::digest(&out[MAGIC.len()..]);
        out.extend_from_slice(&digest);
        out
    }

    fn message_len(&self) -> usize {
        self.partition_keys.encoded_len + self.explicit_hash_keys.encoded_len + self.records.len()
    }
}

/// The encoded size of one `Record` message (without its own field key and length).
fn record_len(pk_index: u64, ehk_index: Option<u64>, data_len: usize) -> usize {
    varint_field_len(pk_index) + ehk_index.map_or(0, varint_field_len) + bytes_field_len(data_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// docs/protocol/kpl-aggregation.md, "The test vector".
    pub const TEST_VECTOR: &str = "f3899ac20a04706b2d310a04706b2d321a0908001a0568656c6c6f1a0908011a05776f726c641a0908001a05616761696e537f04435a8db88ea5cdcf9e6d2fb7df";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_test_vector_is_encoded_byte_for_byte() {
        let mut aggregate = Aggregate::new();
        aggregate.push("pk-1", None, b"hello");
        aggregate.push("pk-2", None, b"world");
        aggregate.push("pk-1", None, b"again");
        assert_eq!(hex(&aggregate.encode()), TEST_VECTOR);
        assert_eq!(aggregate.len(), 3);
    }

    proptest! {
        #[test]
        fn predicted_sizes_are_exact(
            records in proptest::collection::vec(("[a-c]{1,3}", proptest::option::of("[0-9]{1,39}"), proptest::collection::vec(any::<u8>(), 0..300)), 0..40)
        ) {
            let mut aggregate = Aggregate::new();
            for (pk, ehk, data) in &records {
                let predicted = aggregate.encoded_len_with(pk, ehk.as_deref(), data.len());
                aggregate.push(pk, ehk.as_deref(), data);
                prop_assert_eq!(aggregate.encoded_len(), predicted);
            }
            prop_assert_eq!(aggregate.encode().len(), aggregate.encoded_len());
        }
    }
}
