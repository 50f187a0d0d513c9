//! DynamoDB on the kinesin endpoint: the subset that KCL and KPL applications and the common
//! lease-table libraries call (`docs/dynamodb.md`), with DynamoDB's own semantics, messages and
//! durability.

pub mod expr;
pub mod legacy;
pub mod number;
pub mod value;

pub use number::{Number, NumberError};
pub use value::{AttributeValue, Item};
