//! DynamoDB's expression language: placeholders and document paths, conditions
//! (`ConditionExpression`, `FilterExpression`), updates, projections and key conditions, parsed
//! and checked with DynamoDB's own messages and evaluated with its semantics
//! (`docs/dynamodb-expressions.md`).

mod compare;
mod condition;
mod cursor;
mod error;
mod key_condition;
mod lexer;
mod operand;
mod path;
mod placeholders;
mod problems;
mod projection;
#[cfg(test)]
mod proptests;
mod reserved;
pub(crate) mod update;

pub use condition::{parse_condition, Comparator, Condition, Operand};
pub use error::{ExprError, ExpressionKind};
pub use key_condition::{parse_key_condition, KeyCondition, KeyPredicate, KeyTest};
pub use path::{DocumentPath, PathElement};
pub use placeholders::Placeholders;
pub use projection::{parse_projection, Projection};
pub use update::{parse_update, Action, SetValue, Update, UpdateOperand};
