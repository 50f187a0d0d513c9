//! The cluster backend of `kinesin serve --metadata postgres://… --bucket s3://…`: any number of
//! identical, stateless nodes share one PostgreSQL database and one S3-compatible bucket, and
//! no node owns anything (docs/architecture.md, "Cluster mode").
//!
//! - **PostgreSQL** holds everything that decides order or must be seen by every node at once:
//!   the catalog (each stream's metadata with its version, compare-and-set, and the change feed
//!   over `LISTEN/NOTIFY`; settings), and the logs' shard rows and index of record frames.
//! - **The bucket** holds the record data itself: one object per flush of a node, a frame per
//!   shard, found through the index in PostgreSQL.
//!
//! Modules: [`catalog`] is the engine's catalog ([`PgCatalog`]) with its change feed, [`pg`] opens the database ([`Metadata`]) with errors that say what to do,
//! [`schema`] migrates it at start-up, and `testing` (feature `testing`) starts a private
//! PostgreSQL (and a SeaweedFS bucket) for a test. [`log`] is the engine's shard log
//! ([`ClusterLog`]): [`frame`] is the format of its objects, [`bucket`] where they are kept.

pub mod bucket;
pub mod catalog;
mod feed;
pub mod frame;
pub mod log;
pub mod pg;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;

pub use catalog::PgCatalog;
pub use feed::LISTENER_NAME;
pub use log::{ClusterLog, HousekeepingReport, LogConfig};
pub use pg::{Metadata, MetadataError};
