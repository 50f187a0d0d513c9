//! The redb catalog: streams and settings, across reopens and a full disk.

mod common;

use std::sync::Arc;

use common::*;
use kinesin_engine::storage::{Cas, Catalog, SystemClock};
use kinesin_store_local::{open_store, Durability, SimFs, StoreOptions};

#[tokio::test]
async fn streams_and_settings_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let (_log, catalog) = open_store(dir.path(), StoreOptions::default(), clock.clone()).unwrap();
    assert!(catalog.load_streams().await.unwrap().is_empty());
    assert_eq!(catalog.get_setting("iterator-key").await.unwrap(), None);

    let a = stream_meta(1, "a", 2);
    let mut b = stream_meta(2, "b", 1);
    assert_eq!(catalog.put_stream(&a, None).await.unwrap(), Cas::Committed);
    assert_eq!(catalog.put_stream(&b, None).await.unwrap(), Cas::Committed);
    b.retention_hours = 48;
    b.tags.push(("env".into(), "prod".into()));
    b.version = 2;
    assert_eq!(catalog.put_stream(&b, Some(1)).await.unwrap(), Cas::Committed); // replaces
    catalog.put_setting("iterator-key", b"secret").await.unwrap();
    catalog.put_setting("other", b"").await.unwrap();
    assert_eq!(catalog.load_streams().await.unwrap(), vec![a.clone(), b.clone()]);
    drop(catalog);

    let (_log, catalog) = open_store(dir.path(), StoreOptions::default(), clock.clone()).unwrap();
    assert_eq!(catalog.load_streams().await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(catalog.get_setting("iterator-key").await.unwrap().as_deref(), Some(&b"secret"[..]));
    assert_eq!(catalog.get_setting("other").await.unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(catalog.delete_stream(1, 1).await.unwrap(), Cas::Committed);
    assert_eq!(catalog.delete_stream(99, 1).await.unwrap(), Cas::Conflict); // there is none
    drop(catalog);

    let options = StoreOptions { durability: Durability::Os, ..StoreOptions::default() };
    let (_log, catalog) = open_store(dir.path(), options, clock).unwrap();
    assert_eq!(catalog.load_streams().await.unwrap(), vec![b]);
}

#[tokio::test]
async fn the_catalog_recovers_from_a_full_disk() {
    let fs = SimFs::new();
    let (_log, catalog) = open(Arc::new(fs.clone()), options(1 << 20), TestClock::new(0));
    let a = stream_meta(1, "a", 1);
    assert_eq!(catalog.put_stream(&a, None).await.unwrap(), Cas::Committed);

    fs.fail_writes(true);
    assert!(catalog.put_stream(&stream_meta(2, "b", 1), None).await.is_err());
    fs.fail_writes(false);

    let b = stream_meta(3, "c", 1);
    assert_eq!(catalog.put_stream(&b, None).await.unwrap(), Cas::Committed);
    assert_eq!(catalog.load_streams().await.unwrap(), vec![a.clone(), b.clone()]);
    let after = fs.power_cut();
    drop(catalog);
    let (_log, catalog) = open(Arc::new(after), options(1 << 20), TestClock::new(0));
    assert_eq!(catalog.load_streams().await.unwrap(), vec![a, b]);
}
