//! Server-side encryption means something: while a stream is encrypted, its records reach the
//! disk encrypted (with a key kinesin keeps in the data directory), and they read back in clear,
//! also after a restart and after encryption is stopped again.

mod common;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::EncryptionType;
use common::*;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f).unwrap_or_default().windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

fn marker(what: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("kinesin-{what}-marker-{}-{nanos}", std::process::id())
}

async fn put(client: &aws_sdk_kinesis::Client, stream: &str, data: &str) -> Option<EncryptionType> {
    let out = client
        .put_record()
        .stream_name(stream)
        .partition_key("pk")
        .data(Blob::new(data.as_bytes().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutRecord: {}", show(&e)));
    out.encryption_type().cloned()
}

async fn all_data(client: &aws_sdk_kinesis::Client, stream: &str) -> Vec<String> {
    read_shard(client, stream, &shard_id(0))
        .await
        .iter()
        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn encrypted_streams_store_no_plaintext() {
    let mut server = TestServer::start_with(ServerOptions::default().transition_ms(0, 0, 0));
    let client = server.client();
    let stream = unique_name("sse");
    create_stream_and_wait(&client, &stream, 1).await;
    client
        .start_stream_encryption()
        .stream_name(&stream)
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap_or_else(|e| panic!("StartStreamEncryption: {}", show(&e)));
    wait_active(&client, &stream).await;

    let secret = marker("encrypted");
    assert_eq!(put(&client, &stream, &secret).await, Some(EncryptionType::Kms));
    assert_eq!(all_data(&client, &stream).await, std::slice::from_ref(&secret));
    assert_eq!(files_containing(server.data_dir(), &secret), Vec::<PathBuf>::new(), "plaintext on disk");
    assert!(server.data_dir().join("keys/data.key").is_file(), "the data key is in the data directory");

    // The key survives a restart: the record still reads back.
    server.restart();
    let client = server.client();
    assert_eq!(all_data(&client, &stream).await, std::slice::from_ref(&secret));

    // Encryption off: new records are stored in clear, the encrypted one stays readable.
    client
        .stop_stream_encryption()
        .stream_name(&stream)
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap_or_else(|e| panic!("StopStreamEncryption: {}", show(&e)));
    wait_active(&client, &stream).await;
    let clear = marker("clear");
    assert_eq!(put(&client, &stream, &clear).await, None);
    assert_eq!(all_data(&client, &stream).await, [secret.clone(), clear.clone()]);
    // In its segment, and in the journal until the next checkpoint.
    let holding_clear = files_containing(server.data_dir(), &clear);
    assert!(
        holding_clear.iter().any(|f| f.extension().is_some_and(|e| e == "log")),
        "a clear record is on disk as is: {holding_clear:?}"
    );
    assert_eq!(files_containing(server.data_dir(), &secret), Vec::<PathBuf>::new());
}
