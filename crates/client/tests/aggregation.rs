//! The KPL aggregation format, written by `Aggregate` and read by `deaggregate`: the byte-exact
//! test vector of docs/protocol/kpl-aggregation.md, round trips of random records, and fuzzing of
//! the reader with random and corrupted input (it must fall back to the record unchanged, never
//! panic). The Python `aws-kinesis-agg` reads the producer's records in tests/producer.rs.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::Record;
use kinesin_client::aggregation::{Aggregate, MAGIC};
use kinesin_client::deaggregation::{deaggregate, decode, SubRecord};
use md5::{Digest, Md5};
use proptest::prelude::*;

const TEST_VECTOR: &str = "f3899ac20a04706b2d310a04706b2d321a0908001a0568656c6c6f1a0908011a05776f726c641a0908001a05616761696e537f04435a8db88ea5cdcf9e6d2fb7df";

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn record(data: Vec<u8>) -> Record {
    Record::builder()
        .partition_key("a")
        .sequence_number("49590338271490256608559692538361571095921575989136588898")
        .data(Blob::new(data))
        .build()
        .unwrap()
}

fn sub(partition_key: &str, explicit_hash_key: Option<&str>, data: &[u8]) -> SubRecord {
    SubRecord {
        partition_key: partition_key.into(),
        explicit_hash_key: explicit_hash_key.map(Into::into),
        data: data.into(),
    }
}

#[test]
fn the_test_vector_deaggregates_to_its_three_records() {
    let users = deaggregate(&record(unhex(TEST_VECTOR)));
    let got: Vec<_> =
        users.iter().map(|u| (u.partition_key.as_str(), &u.data[..], u.sub_sequence_number)).collect();
    assert_eq!(
        got,
        [
            ("pk-1", &b"hello"[..], Some(0)),
            ("pk-2", &b"world"[..], Some(1)),
            ("pk-1", &b"again"[..], Some(2))
        ]
    );
    assert!(users
        .iter()
        .all(|u| u.sequence_number == "49590338271490256608559692538361571095921575989136588898"));
}

#[test]
fn a_record_failing_any_check_is_returned_unchanged() {
    let vector = unhex(TEST_VECTOR);
    let mut wrong_digest = vector.clone();
    *wrong_digest.last_mut().unwrap() ^= 1;
    let mut wrong_magic = vector.clone();
    wrong_magic[0] = 0;
    let empty_message = [&MAGIC[..], &Md5::digest(b"")[..]].concat();
    for data in [wrong_digest, wrong_magic, empty_message, MAGIC.to_vec(), b"plain".to_vec(), Vec::new()] {
        let users = deaggregate(&record(data.clone()));
        assert_eq!(users.len(), 1, "{data:02x?}");
        assert_eq!(
            (users[0].partition_key.as_str(), &users[0].data, users[0].sub_sequence_number),
            ("a", &data, None)
        );
    }
}

/// Wraps a protobuf message in magic and digest, so that only the message's validity decides.
fn framed(message: &[u8]) -> Vec<u8> {
    [&MAGIC[..], message, &Md5::digest(message)[..]].concat()
}

#[test]
fn messages_that_are_not_valid_aggregated_records_are_not_decoded() {
    let cases: [(&str, &[u8]); 4] = [
        // partition_key_index 1 with a one-key table
        ("key index out of range", &[0x0a, 0x01, b'k', 0x1a, 0x04, 0x08, 0x01, 0x1a, 0x00]),
        // explicit_hash_key_index 0 with no table
        ("hash key index out of range", &[0x0a, 0x01, b'k', 0x1a, 0x06, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x00]),
        ("data missing", &[0x0a, 0x01, b'k', 0x1a, 0x02, 0x08, 0x00]),
        ("key not UTF-8", &[0x0a, 0x01, 0xff, 0x1a, 0x04, 0x08, 0x00, 0x1a, 0x00]),
    ];
    for (why, message) in cases {
        assert_eq!(decode(&framed(message)), None, "{why}");
    }
    // Unknown fields and tags are skipped, as protobuf parsers do.
    let with_extras =
        [0x0a, 0x01, b'k', 0x20, 0x07, 0x1a, 0x08, 0x08, 0x00, 0x1a, 0x00, 0x22, 0x02, 0x0a, 0x00];
    assert_eq!(decode(&framed(&with_extras)), Some(vec![sub("k", None, b"")]));
    // A message that parses but holds no records is an aggregated record of no user records,
    // as for the KCL: only an empty message fails the length check.
    assert_eq!(decode(&framed(&[0x0a, 0x02, b'a', b'a'])), Some(vec![]));
}

fn user_records() -> impl Strategy<Value = Vec<(String, Option<String>, Vec<u8>)>> {
    let key = prop_oneof!["[a-c]{1,2}", "\\PC{1,20}"];
    let hash_key = proptest::option::of(any::<u128>().prop_map(|k| k.to_string()));
    proptest::collection::vec((key, hash_key, proptest::collection::vec(any::<u8>(), 0..200)), 1..50)
}

proptest! {
    #[test]
    fn aggregated_records_round_trip(records in user_records()) {
        let mut aggregate = Aggregate::new();
        for (key, hash_key, data) in &records {
            aggregate.push(key, hash_key.as_deref(), data);
        }
        let users = deaggregate(&record(aggregate.encode()));
        prop_assert_eq!(users.len(), records.len());
        for (i, (user, (key, hash_key, data))) in users.iter().zip(&records).enumerate() {
            prop_assert_eq!(&user.partition_key, key);
            prop_assert_eq!(&user.explicit_hash_key, hash_key);
            prop_assert_eq!(&user.data, data);
            prop_assert_eq!(user.sub_sequence_number, Some(i as u64));
        }
    }

    #[test]
    fn random_bytes_are_a_plain_record(data in proptest::collection::vec(any::<u8>(), 0..300), magic: bool) {
        let data = if magic { [&MAGIC[..], &data].concat() } else { data };
        if decode(&data).is_none() {
            let users = deaggregate(&record(data.clone()));
            prop_assert_eq!(users.len(), 1);
            prop_assert_eq!(&users[0].data, &data);
        }
    }

    /// A corrupted message with a correct digest: decoding must not panic, and whatever it
    /// returns must be records the message really holds, so encoding them again gives a message
    /// that decodes to the same. A corruption can leave a message that parses but holds no
    /// records (a flipped tag turns each record into an unknown field): the KCL yields no user
    /// records for it too, and an empty aggregate encodes to no aggregated record at all, so
    /// that case has nothing to encode again.
    #[test]
    fn corrupted_messages_with_correct_digests_never_panic(records in user_records(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut aggregate = Aggregate::new();
        for (key, hash_key, data) in &records {
            aggregate.push(key, hash_key.as_deref(), data);
        }
        let encoded = aggregate.encode();
        let mut message = encoded[MAGIC.len()..encoded.len() - 16].to_vec();
        for (at, byte) in flips {
            let at = at % message.len();
            message[at] = byte;
        }
        if let Some(subs) = decode(&framed(&message)).filter(|subs| !subs.is_empty()) {
            let mut again = Aggregate::new();
            for s in &subs {
                again.push(&s.partition_key, s.explicit_hash_key.as_deref(), &s.data);
            }
            prop_assert_eq!(decode(&again.encode()), Some(subs));
        }
    }
}
