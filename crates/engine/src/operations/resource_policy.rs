//! PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy on a stream or consumer ARN.
//! The policy is validated as a JSON object and stored; it is not enforced.

use kinesin_wire::{ApiError, Value};

use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn put_resource_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let policy = input.str("Policy").unwrap_or_default();
        let is_object = serde_json::from_str::<serde_json::Value>(policy).is_ok_and(|p| p.is_object());
        if !is_object {
            return Err(ApiError::invalid_argument(
                "The resource policy is not a valid JSON policy document.",
            ));
        }
        let _guard = self.control_lock().await;
        let resource = self.resolve_resource(ctx, input)?;
        self.update_stream(&resource.stream, |meta| {
            resource.change(meta, |_, stored| {
                *stored = Some(policy.to_owned());
                Ok(())
            })
        })
        .await?;
        Ok(Value::Null)
    }

    /// A resource without a policy answers an empty policy document.
    pub(crate) fn get_resource_policy(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let resource = self.resolve_resource(ctx, input)?;
        Ok(Value::object().with("Policy", resource.policy().unwrap_or("{}")))
    }

    pub(crate) async fn delete_resource_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let resource = self.resolve_resource(ctx, input)?;
        self.update_stream(&resource.stream, |meta| {
            resource.change(meta, |_, stored| match stored.take() {
                Some(_) => Ok(()),
                None => Err(ApiError::resource_not_found(format!(
                    "No resource policy found for resource {}.",
                    resource.arn()
                ))),
            })
        })
        .await?;
        Ok(Value::Null)
    }
}
