//! The database schema, created and migrated by every node at start-up: numbered migrations in
//! `crates/store-cluster/migrations/NNNN_name.sql`, each applied once, in order, in one
//! transaction, and recorded in `kinesin_schema_migrations`. Every transaction first takes one
//! PostgreSQL advisory lock, so nodes starting at the same time apply each migration once: the
//! second waits, then finds it recorded.
//!
//! Adding a migration is adding its file and one line to [`MIGRATIONS`].

use tokio_postgres::Client;

use crate::pg::{Metadata, MetadataError};

/// One migration: its file's name without `.sql`, which starts with its number, and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// The number its name starts with (`0001_catalog` is 1).
    pub fn version(&self) -> i32 {
        self.name.split('_').next().and_then(|n| n.parse().ok()).expect("migrations are named NNNN_name")
    }
}

macro_rules! migration {
    ($name:literal) => {
        Migration { name: $name, sql: include_str!(concat!("../migrations/", $name, ".sql")) }
    };
}

/// Every migration, oldest first; numbered 1, 2, 3, ... without gaps.
pub const MIGRATIONS: &[Migration] =
    &[migration!("0001_catalog"), migration!("0002_log"), migration!("0003_housekeeping")];

/// The lock every migration transaction takes ("kinesin" in ASCII): one key for the whole
/// schema, held until the transaction ends.
const MIGRATION_LOCK: i64 = 0x006b_696e_6573_696e;

/// Applies every migration the database lacks. Refuses a database migrated by a newer kinesin
/// (with migrations this one does not know).
pub async fn migrate(metadata: &Metadata) -> Result<(), MetadataError> {
    let target = metadata.target().to_owned();
    let (mut client, connection) = metadata
        .dedicated("kinesin-migrate")
        .await
        .map_err(|source| MetadataError::Database { target: target.clone(), source })?;
    // Ends when the client is dropped.
    tokio::spawn(connection);
    let known = MIGRATIONS.len() as i32;
    for migration in MIGRATIONS {
        let found = apply(&mut client, migration).await.map_err(|source| MetadataError::Migration {
            target: target.clone(),
            migration: migration.name.to_owned(),
            source,
        })?;
        if found > known {
            return Err(MetadataError::NewerSchema { target, found, known });
        }
    }
    Ok(())
}

/// Applies `migration` unless the database has it (applied before, or by another node
/// meanwhile); returns the schema version it found.
async fn apply(client: &mut Client, migration: &Migration) -> Result<i32, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS kinesin_schema_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let found: Option<i32> =
        tx.query_one("SELECT max(version) FROM kinesin_schema_migrations", &[]).await?.get(0);
    let found = found.unwrap_or(0);
    if found < migration.version() {
        tx.batch_execute(migration.sql).await?;
        tx.execute(
            "INSERT INTO kinesin_schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version(), &migration.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = migration.name, "applied a schema migration");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_without_gaps() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version(), i as i32 + 1, "{}", migration.name);
            assert!(!migration.sql.trim().is_empty(), "{} is empty", migration.name);
        }
    }
}
