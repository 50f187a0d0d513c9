//! DynamoDB on the kinesin endpoint: the subset that KCL and KPL applications and the common
//! lease-table libraries call (`docs/dynamodb.md`), with DynamoDB's own semantics, messages and
//! durability.

pub mod codec;
pub mod conditions;
pub mod db;
pub mod error;
pub mod expr;
pub mod items;
pub mod key_conditions;
pub mod keys;
pub mod layout;
pub mod legacy;
pub mod legacy_params;
pub mod number;
pub mod params;
pub mod projections;
pub mod reads;
pub mod service;
pub mod shape;
pub mod storage;
pub mod table;
pub mod tables;
pub mod transact;
pub mod updates;
pub mod value;

pub use db::{Database, Settings};
pub use error::DynamoError;
pub use kinesin_service::RequestContext as Context;
pub use number::{Number, NumberError};
pub use service::DynamoDbService;
pub use storage::{MemoryStorage, Storage, Write};
pub use value::{AttributeValue, Item};

/// Naming tables within the caller's account and region.
pub(crate) trait Names {
    fn table(&self, name: &str) -> db::TableName;
}

impl Names for Context {
    fn table(&self, name: &str) -> db::TableName {
        db::TableName { account: self.account.clone(), region: self.region.clone(), name: name.to_owned() }
    }
}
