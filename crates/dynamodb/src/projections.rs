//! Which attributes a read answers with (`ProjectionExpression`, or the legacy
//! `AttributesToGet`).

use crate::error::Result;
pub use crate::expr::Projection;
use crate::expr::{parse_projection, Placeholders};
use crate::shape::{Fields, Violations};
use crate::Item;
use crate::{legacy, legacy_params};

/// The request's projection, if it has one.
pub fn parse(body: Fields<'_>, placeholders: &mut Placeholders) -> Result<Option<Projection>> {
    if let Some(text) = body.string("ProjectionExpression")? {
        return Ok(Some(parse_projection(text, placeholders)?));
    }
    let mut violations = Violations::default();
    let names = legacy_params::attributes_to_get(body, &mut violations)?;
    violations.check()?;
    match names {
        Some(names) => Ok(Some(legacy::attributes_to_get(&names)?)),
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
