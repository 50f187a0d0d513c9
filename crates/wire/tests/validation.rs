//! Validation messages (`docs/protocol/validation.md`).

mod common;

use common::{run_json, validation_error};
use kinesin_wire::Operation::{self, *};

fn one(op: Operation, body: &str) -> String {
    let message = validation_error(op, body);
    message.strip_prefix("1 validation error detected: ").unwrap_or_else(|| panic!("{message}")).to_owned()
}

#[test]
fn add_tags_to_stream_with_nothing() {
    assert_eq!(
        validation_error(AddTagsToStream, "{}"),
        "2 validation errors detected: \
         Value null at 'tags' failed to satisfy constraint: Member must not be null; \
         Value null at 'streamName' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn put_records_reports_at_most_ten_errors() {
    let records = vec![r#"{"PartitionKey":"","Data":""}"#; 501].join(",");
    let message = validation_error(PutRecords, &format!(r#"{{"Records":[{records}],"StreamName":""}}"#));
    let entries = vec!["com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"; 501].join(", ");
    let mut expected = format!(
        "10 validation errors detected: Value '[{entries}]' at 'records' failed to satisfy constraint: \
         Member must have length less than or equal to 500"
    );
    for i in 1..=9 {
        expected += &format!(
            "; Value '' at 'records.{i}.member.partitionKey' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
    }
    assert_eq!(message, expected);
}

#[test]
fn empty_partition_key() {
    assert_eq!(
        one(PutRecord, r#"{"StreamName":"s","PartitionKey":"","Data":""}"#),
        "Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
}

/// A record without a PartitionKey: the recorded answers, though the 2026 model makes the
/// member optional (docs/protocol/corners.md, "PutRecord and PutRecords without a PartitionKey").
#[test]
fn a_missing_partition_key_is_a_null_member() {
    assert_eq!(
        validation_error(PutRecord, "{}"),
        "3 validation errors detected: \
         Value null at 'partitionKey' failed to satisfy constraint: Member must not be null; \
         Value null at 'data' failed to satisfy constraint: Member must not be null; \
         Value null at 'streamName' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        one(PutRecord, r#"{"StreamName":"s","Data":""}"#),
        "Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        validation_error(
            PutRecords,
            r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"k"},{"Data":""},{"Data":"","ExplicitHashKey":"1"}]}"#
        ),
        "2 validation errors detected: \
         Value null at 'records.2.member.partitionKey' failed to satisfy constraint: Member must not be null; \
         Value null at 'records.3.member.partitionKey' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn all_constraints_of_a_member_are_reported_in_order() {
    assert_eq!(
        validation_error(DescribeStreamSummary, r#"{"StreamName":""}"#),
        "2 validation errors detected: \
         Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let long = "a".repeat(129);
    assert_eq!(
        one(DescribeStreamSummary, &format!(r#"{{"StreamName":"{long}"}}"#)),
        format!("Value '{long}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128")
    );
}

#[test]
fn whole_value_pattern_matching() {
    assert_eq!(
        one(DescribeStreamSummary, r#"{"StreamName":"a b"}"#),
        "Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    // The model's HashKey pattern carries its own anchors; the message quotes it as is.
    for key in ["01", "0abc", "1a"] {
        assert_eq!(
            one(
                PutRecord,
                &format!(r#"{{"StreamName":"s","PartitionKey":"p","Data":"","ExplicitHashKey":"{key}"}}"#)
            ),
            format!(
                "Value '{key}' at 'explicitHashKey' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: 0|([1-9]\\d{{0,38}})"
            )
        );
    }
    run_json(PutRecord, r#"{"StreamName":"s","PartitionKey":"p","Data":"","ExplicitHashKey":"0"}"#).unwrap();
}

#[test]
fn integer_values_are_rendered_after_clamping() {
    assert_eq!(
        one(DescribeStream, r#"{"StreamName":"s","Limit":100000000000}"#),
        "Value '2147483647' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"
    );
    assert_eq!(
        one(ListStreams, r#"{"Limit":0}"#),
        "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    assert_eq!(
        one(ListStreams, r#"{"Limit":1000000}"#),
        "Value '1000000' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"
    );
}

#[test]
fn retention_period_has_no_model_range() {
    run_json(IncreaseStreamRetentionPeriod, r#"{"StreamName":"s","RetentionPeriodHours":0}"#).unwrap();
    assert_eq!(
        one(IncreaseStreamRetentionPeriod, r#"{"StreamName":"s"}"#),
        "Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn blob_lengths_count_decoded_bytes() {
    let data = base64_of_len(10485761);
    assert_eq!(
        one(PutRecord, &format!(r#"{{"StreamName":"s","PartitionKey":"p","Data":"{data}"}}"#)),
        "Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data' failed to satisfy constraint: \
         Member must have length less than or equal to 10485760"
    );
    let data = base64_of_len(10485760);
    run_json(PutRecord, &format!(r#"{{"StreamName":"s","PartitionKey":"p","Data":"{data}"}}"#)).unwrap();
}

fn base64_of_len(len: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![7u8; len])
}

#[test]
fn string_lengths_count_utf16_units() {
    let ok = "😀".repeat(128); // 256 UTF-16 units
    run_json(PutRecord, &format!(r#"{{"StreamName":"s","PartitionKey":"{ok}","Data":""}}"#)).unwrap();
    let long = format!("{ok}a");
    assert_eq!(
        one(PutRecord, &format!(r#"{{"StreamName":"s","PartitionKey":"{long}","Data":""}}"#)),
        format!("Value '{long}' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256")
    );
}

#[test]
fn enums() {
    assert_eq!(
        one(GetShardIterator, r#"{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"latest"}"#),
        "Value 'latest' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: \
         [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
    );
    assert_eq!(
        one(StartStreamEncryption, r#"{"StreamName":"s","EncryptionType":"AES","KeyId":"k"}"#),
        "Value 'AES' at 'encryptionType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, KMS]"
    );
}

#[test]
fn list_element_rules() {
    let long = "a".repeat(129);
    assert_eq!(
        one(RemoveTagsFromStream, &format!(r#"{{"StreamName":"s","TagKeys":["x","","{long}"]}}"#)),
        format!(
            "Value '[x, , {long}]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: \
             [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"
        )
    );
    assert_eq!(
        one(RemoveTagsFromStream, r#"{"StreamName":"s","TagKeys":[]}"#),
        "Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    assert_eq!(
        one(EnableEnhancedMonitoring, r#"{"StreamName":"s","ShardLevelMetrics":["ALL","Nope"]}"#),
        "Value '[ALL, Nope]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: \
         [Member must satisfy enum value set: [IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, \
         WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]]"
    );
}

#[test]
fn map_key_and_value_rules() {
    assert_eq!(
        one(AddTagsToStream, r#"{"StreamName":"s","Tags":{}}"#),
        "Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    assert_eq!(
        one(AddTagsToStream, r#"{"StreamName":"s","Tags":{"a":"1","":"2"}}"#),
        "Value '{a=1, =2}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: \
         [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"
    );
    let long = "v".repeat(257);
    assert_eq!(
        one(AddTagsToStream, &format!(r#"{{"StreamName":"s","Tags":{{"k":"{long}"}}}}"#)),
        format!(
            "Value '{{k={long}}}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: \
             [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]"
        )
    );
    run_json(AddTagsToStream, r#"{"StreamName":"s","Tags":{"k":""}}"#).unwrap();
}

#[test]
fn nested_paths() {
    assert_eq!(
        one(CreateStream, r#"{"StreamName":"s","StreamModeDetails":{}}"#),
        "Value null at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        one(CreateStream, r#"{"StreamName":"s","StreamModeDetails":{"StreamMode":"X"}}"#),
        "Value 'X' at 'streamModeDetails.streamMode' failed to satisfy constraint: \
         Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"
    );
    assert_eq!(
        one(
            PutRecords,
            r#"{"StreamName":"s","Records":[{"PartitionKey":"p","Data":""},{"PartitionKey":"p"}]}"#
        ),
        "Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        one(PutRecords, r#"{"StreamName":"s","Records":[null]}"#),
        "Value null at 'records.1.member' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        one(AddTagsToStream, r#"{"StreamName":"s","Tags":{"k":null}}"#),
        "Value null at 'tags.k.member' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn put_records_entry_order_is_partition_key_hash_key_data() {
    let big = base64_of_len(10485761);
    assert_eq!(
        validation_error(PutRecords, &format!(r#"{{"StreamName":"s","Records":[{{"Data":"{big}","ExplicitHashKey":"x","PartitionKey":""}}]}}"#)),
        "3 validation errors detected: \
         Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value 'x' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); \
         Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 10485760"
    );
}

#[test]
fn member_order_follows_the_table_then_the_model() {
    assert_eq!(
        validation_error(GetShardIterator, "{}"),
        "3 validation errors detected: \
         Value null at 'shardId' failed to satisfy constraint: Member must not be null; \
         Value null at 'shardIteratorType' failed to satisfy constraint: Member must not be null; \
         Value null at 'streamName' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        validation_error(SplitShard, r#"{"NewStartingHashKey":"x","StreamName":"","ShardToSplit":"","StreamARN":""}"#),
        "7 validation errors detected: \
         Value 'x' at 'newStartingHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); \
         Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value '' at 'shardToSplit' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value '' at 'shardToSplit' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value '' at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+; \
         Value '' at 'streamARN' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    // Not in the table: model order (QueueARN, then Entries).
    assert_eq!(
        validation_error(AcknowledgeQueueRecords, "{}"),
        "2 validation errors detected: \
         Value null at 'queueARN' failed to satisfy constraint: Member must not be null; \
         Value null at 'entries' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn a_stream_arn_stands_in_for_the_stream_name() {
    let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
    run_json(AddTagsToStream, &format!(r#"{{"StreamARN":"{arn}","Tags":{{"k":"v"}}}}"#)).unwrap();
    run_json(PutRecords, &format!(r#"{{"StreamARN":"{arn}","Records":[{{"Data":"","PartitionKey":"k"}}]}}"#))
        .unwrap();
    // ListShards may carry only a NextToken; ListStreams has no stream at all.
    run_json(ListShards, r#"{"NextToken":"t"}"#).unwrap();
    run_json(ListStreams, "{}").unwrap();
    assert_eq!(
        one(DescribeStreamSummary, "{}"),
        "Value null at 'streamName' failed to satisfy constraint: Member must not be null"
    );
    // Required members of the current model stay required whatever the table says.
    assert_eq!(
        one(RegisterStreamConsumer, r#"{"ConsumerName":"c"}"#),
        "Value null at 'streamARN' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn a_valid_request_passes() {
    let typed = run_json(
        GetShardIterator,
        r#"{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_SEQUENCE_NUMBER",
            "StartingSequenceNumber":"49590338271490256608559692538361571095921575989136588898"}"#,
    )
    .unwrap();
    assert_eq!(typed.str("ShardIteratorType"), Some("AT_SEQUENCE_NUMBER"));
}
