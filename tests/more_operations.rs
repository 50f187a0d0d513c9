//! Encryption, resource policies, account settings, warm throughput and stream modes,
//! through the official SDK.

mod common;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    EncryptionType, MinimumThroughputBillingCommitmentInput, MinimumThroughputBillingCommitmentInputStatus,
    MinimumThroughputBillingCommitmentOutputStatus, StreamMode, StreamModeDetails,
};
use common::*;

fn fast_server() -> TestServer {
    TestServer::start_with(ServerOptions::default().transition_ms(0, 0, 0))
}

#[tokio::test]
async fn encryption_is_recorded_reported_and_reversible() {
    let server = fast_server();
    let client = server.client();
    create_stream_and_wait(&client, "enc", 1).await;
    client
        .start_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    wait_active(&client, "enc").await;
    let d = client.describe_stream().stream_name("enc").send().await.unwrap();
    let d = d.stream_description().unwrap();
    assert_eq!(d.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(d.key_id(), Some("alias/aws/kinesis"));
    let put =
        client.put_record().stream_name("enc").partition_key("k").data(Blob::new("x")).send().await.unwrap();
    assert_eq!(put.encryption_type(), Some(&EncryptionType::Kms));

    let wrong_key = client
        .stop_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong_key.code(), Some("InvalidArgumentException"));
    client
        .stop_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    wait_active(&client, "enc").await;
    let put =
        client.put_record().stream_name("enc").partition_key("k").data(Blob::new("x")).send().await.unwrap();
    assert_eq!(put.encryption_type(), None);
}

#[tokio::test]
async fn resource_policies_are_stored_per_stream() {
    let server = fast_server();
    let client = server.client();
    create_stream_and_wait(&client, "pol", 1).await;
    let arn = stream_arn("pol");
    let empty = client.get_resource_policy().resource_arn(&arn).send().await.unwrap();
    assert_eq!(empty.policy(), "{}");
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    client.put_resource_policy().resource_arn(&arn).policy(policy).send().await.unwrap();
    assert_eq!(client.get_resource_policy().resource_arn(&arn).send().await.unwrap().policy(), policy);
    let bad = client.put_resource_policy().resource_arn(&arn).policy("not json").send().await.unwrap_err();
    assert_eq!(bad.code(), Some("InvalidArgumentException"));
    client.delete_resource_policy().resource_arn(&arn).send().await.unwrap();
    let again = client.delete_resource_policy().resource_arn(&arn).send().await.unwrap_err();
    assert_eq!(again.code(), Some("ResourceNotFoundException"));
    let missing = client.get_resource_policy().resource_arn(stream_arn("nope")).send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn warm_throughput_needs_on_demand_and_a_billing_commitment() {
    let server = fast_server();
    let client = server.client();
    let settings = client.describe_account_settings().send().await.unwrap();
    assert_eq!(
        settings.minimum_throughput_billing_commitment().unwrap().status(),
        &MinimumThroughputBillingCommitmentOutputStatus::Disabled
    );
    client
        .create_stream()
        .stream_name("warm")
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await
        .unwrap();
    wait_active(&client, "warm").await;
    let refused =
        client.update_stream_warm_throughput().stream_name("warm").warm_throughput_mibps(100).send().await;
    assert_eq!(refused.unwrap_err().code(), Some("InvalidArgumentException"));

    let enable = MinimumThroughputBillingCommitmentInput::builder()
        .status(MinimumThroughputBillingCommitmentInputStatus::Enabled)
        .build()
        .unwrap();
    let updated =
        client.update_account_settings().minimum_throughput_billing_commitment(enable).send().await.unwrap();
    let commitment = updated.minimum_throughput_billing_commitment().unwrap();
    assert_eq!(commitment.status(), &MinimumThroughputBillingCommitmentOutputStatus::Enabled);
    assert!(commitment.earliest_allowed_end_at().is_some());

    let out = client
        .update_stream_warm_throughput()
        .stream_name("warm")
        .warm_throughput_mibps(100)
        .send()
        .await
        .unwrap();
    assert_eq!(out.warm_throughput().unwrap().target_mibps(), Some(100));
    wait_active(&client, "warm").await;
    let summary = client.describe_stream_summary().stream_name("warm").send().await.unwrap();
    assert_eq!(
        summary.stream_description_summary().unwrap().warm_throughput().unwrap().target_mibps(),
        Some(100)
    );

    // Disabling within the first 24 hours keeps the commitment until its earliest end.
    let disable = MinimumThroughputBillingCommitmentInput::builder()
        .status(MinimumThroughputBillingCommitmentInputStatus::Disabled)
        .build()
        .unwrap();
    let updated =
        client.update_account_settings().minimum_throughput_billing_commitment(disable).send().await.unwrap();
    assert_eq!(
        updated.minimum_throughput_billing_commitment().unwrap().status(),
        &MinimumThroughputBillingCommitmentOutputStatus::EnabledUntilEarliestAllowedEnd
    );
}

#[tokio::test]
async fn stream_mode_switches_both_ways_and_resharding_is_for_provisioned_streams() {
    let server = fast_server();
    let client = server.client();
    create_stream_and_wait(&client, "mode", 2).await;
    let to = |mode: StreamMode| {
        client
            .update_stream_mode()
            .stream_arn(stream_arn("mode"))
            .stream_mode_details(StreamModeDetails::builder().stream_mode(mode).build().unwrap())
            .send()
    };
    to(StreamMode::OnDemand).await.unwrap();
    wait_active(&client, "mode").await;
    let summary = client.describe_stream_summary().stream_name("mode").send().await.unwrap();
    let mode = summary.stream_description_summary().unwrap().stream_mode_details().unwrap().stream_mode();
    assert_eq!(mode, &StreamMode::OnDemand);
    let split = client
        .split_shard()
        .stream_name("mode")
        .shard_to_split(shard_id(0))
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(split.code(), Some("InvalidArgumentException"));
    assert_eq!(to(StreamMode::OnDemand).await.unwrap_err().code(), Some("InvalidArgumentException"));
    to(StreamMode::Provisioned).await.unwrap();
    wait_active(&client, "mode").await;
}
