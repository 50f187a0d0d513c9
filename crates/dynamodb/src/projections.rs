//! Which attributes a read answers with (`ProjectionExpression`, or the legacy
//! `AttributesToGet`).

use crate::error::Result;
pub use crate::expr::Projection;
use crate::expr::{parse_projection, Placeholders};
use crate::params::Dialects;
use crate::shape::Fields;
use crate::Item;

/// The dialects of a read that only projects (GetItem, and each table of BatchGetItem).
pub const DIALECTS: Dialects =
    Dialects { expressions: &["ProjectionExpression"], value_expressions: &[], legacy: &["AttributesToGet"] };

/// The request's projection, if it has one.
pub fn parse(body: Fields<'_>, placeholders: &mut Placeholders) -> Result<Option<Projection>> {
    if let Some(text) = body.string("ProjectionExpression")? {
        return Ok(Some(parse_projection(text, placeholders)?));
    }
    match body.strings("AttributesToGet")? {
        Some(names) => Ok(Some(Projection::of_attributes(names))),
        None => Ok(None),
    }
}

/// `item` as the projection shows it (whole without one).
pub fn apply(projection: Option<&Projection>, item: &Item) -> Item {
    match projection {
        Some(projection) => projection.apply(item),
        None => item.clone(),
    }
}
