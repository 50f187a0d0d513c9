//! The services `kinesin serve` answers beside Kinesis on the same ports: DynamoDB (tables in
//! `DATA/dynamodb.redb`) and CloudWatch (metrics in memory). See docs/architecture.md, "More
//! than one service on one endpoint".
//!
//! Interim wiring made on the interop branch so tests/interop can run the real clients; its
//! settings (tables ACTIVE at once, 3 hours of metrics) are the defaults, without flags.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kinesin_cloudwatch::{CloudWatch, MetricStore, StoreLimits};
use kinesin_dynamodb::{Database, DynamoDbService, Settings};
use kinesin_server::Services;
use kinesin_store_local::{Durability, RealFs, RedbTableStore};

const METRIC_RETENTION_MS: i64 = 3 * 60 * 60 * 1000;
const MAX_METRIC_SERIES: usize = 100_000;

/// Opens the DynamoDB tables in `data_dir` and a fresh CloudWatch metric store.
pub fn open(data_dir: &Path, durability: Durability) -> Result<Services, String> {
    let tables = RedbTableStore::open(Arc::new(RealFs), data_dir, durability)
        .map_err(|e| format!("cannot open the DynamoDB tables: {e}"))?;
    let clock = Arc::new(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    });
    let settings = Settings { create_table_ms: 0, update_table_ms: 0 };
    let database = Database::open(Arc::new(tables), settings, clock)
        .map_err(|e| format!("cannot load the DynamoDB tables: {e}"))?;
    let metrics = MetricStore::new(StoreLimits {
        retention_ms: METRIC_RETENTION_MS,
        max_series: MAX_METRIC_SERIES,
    });
    Services::new(vec![
        Arc::new(DynamoDbService::new(Arc::new(database))),
        Arc::new(CloudWatch::new(Arc::new(metrics))),
    ])
}
