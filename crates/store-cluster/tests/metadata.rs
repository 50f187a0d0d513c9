//! Opening the metadata database: the schema migrations (once, and once when two nodes start
//! at the same time) and the errors a user gets for a wrong `--metadata`.

use kinesin_store_cluster::schema::MIGRATIONS;
use kinesin_store_cluster::testing::TestPostgres;
use kinesin_store_cluster::{Metadata, MetadataError};

/// The migrations recorded in the database, in order.
async fn recorded(metadata: &Metadata) -> Vec<(i32, String)> {
    let client = metadata.client().await.unwrap();
    let rows =
        client.query("SELECT version, name FROM kinesin_schema_migrations ORDER BY version", &[]).await;
    rows.unwrap().iter().map(|row| (row.get(0), row.get(1))).collect()
}

fn all_migrations() -> Vec<(i32, String)> {
    MIGRATIONS.iter().map(|m| (m.version(), m.name.to_owned())).collect()
}

#[tokio::test]
async fn migrations_apply_once() {
    let Some(pg) = TestPostgres::start().await else { return };
    let first = Metadata::open(pg.url()).await.expect("open and migrate");
    assert_eq!(recorded(&first).await, all_migrations());
    let client = first.client().await.unwrap();
    client.execute("INSERT INTO kinesin_settings (key, value) VALUES ('k', 'v')", &[]).await.unwrap();
    drop(client);
    // A restart migrates nothing and keeps what is stored.
    let again = Metadata::open(pg.url()).await.expect("open again");
    assert_eq!(recorded(&again).await, all_migrations());
    let kept = again.client().await.unwrap().query("SELECT key FROM kinesin_settings", &[]).await.unwrap();
    assert_eq!(kept.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let Some(pg) = TestPostgres::start().await else { return };
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = pg.url().to_owned();
            tokio::spawn(async move { Metadata::open(&url).await.map(drop) })
        })
        .collect();
    for node in nodes {
        node.await.unwrap().expect("every node opens");
    }
    let metadata = Metadata::connect(pg.url()).await.unwrap();
    assert_eq!(recorded(&metadata).await, all_migrations(), "each migration applied and recorded once");
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_kinesin_is_refused() {
    let Some(pg) = TestPostgres::start().await else { return };
    let metadata = Metadata::open(pg.url()).await.unwrap();
    let newer = MIGRATIONS.len() as i32 + 1;
    let client = metadata.client().await.unwrap();
    client
        .execute(
            "INSERT INTO kinesin_schema_migrations (version, name) VALUES ($1, 'from_the_future')",
            &[&newer],
        )
        .await
        .unwrap();
    let err = Metadata::open(pg.url()).await.expect_err("a newer schema");
    assert!(matches!(err, MetadataError::NewerSchema { found, .. } if found == newer), "{err}");
    assert!(err.to_string().contains("upgrade kinesin"), "{err}");
}

#[tokio::test]
async fn a_missing_database_says_how_to_create_it() {
    let Some(pg) = TestPostgres::start().await else { return };
    let err = Metadata::open(&pg.url_of("nowhere")).await.expect_err("no such database");
    assert!(matches!(err, MetadataError::NoDatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("createdb") && message.contains("nowhere"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_says_so() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err =
        Metadata::open(&format!("postgres://kinesin@127.0.0.1:{port}/kinesin")).await.expect_err("refused");
    assert!(matches!(err, MetadataError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn a_wrong_password_says_so() {
    let Some(pg) = TestPostgres::start().await else { return };
    let metadata = Metadata::connect(pg.url()).await.unwrap();
    let client = metadata.client().await.unwrap();
    // A user that must log in with a password.
    client.batch_execute("CREATE ROLE guarded LOGIN PASSWORD 'right'").await.unwrap();
    drop(client);
    // The same server and database as another user (the test server asks for passwords over
    // TCP).
    let (scheme, rest) = pg.url().split_once("://").unwrap();
    let server = rest.split_once('@').map_or(rest, |(_, server)| server);
    let url = format!("{scheme}://guarded:wrong@{server}");
    let err = Metadata::connect(&url).await.expect_err("a wrong password");
    assert!(matches!(err, MetadataError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("guarded"), "{err}");
}

#[tokio::test]
async fn a_malformed_url_says_what_is_expected() {
    let err = Metadata::open("postgres://host:notaport/db").await.expect_err("malformed");
    assert!(matches!(err, MetadataError::BadUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("postgres://USER"), "{err}");
}
