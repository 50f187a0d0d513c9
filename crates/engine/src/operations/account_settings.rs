//! DescribeAccountSettings and UpdateAccountSettings: the account's minimum-throughput
//! billing commitment (On-demand Advantage), which warm throughput depends on.
//!
//! A commitment lasts at least 24 hours: disabling it earlier keeps it enabled until the
//! earliest allowed end, reported as ENABLED_UNTIL_EARLIEST_ALLOWED_END.

use kinesin_wire::{ApiError, Value};
use serde::{Deserialize, Serialize};

use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

const MINIMUM_COMMITMENT_MS: i64 = 24 * 3_600_000;

/// An account's commitment as stored in the catalog.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Commitment {
    started_ms: Option<i64>,
    /// When a disable was requested; it takes effect at the earliest allowed end.
    disable_requested_ms: Option<i64>,
}

impl Commitment {
    fn earliest_end(&self) -> Option<i64> {
        self.started_ms.map(|s| s + MINIMUM_COMMITMENT_MS)
    }

    /// Enabled now (warm throughput is allowed).
    pub(crate) fn enabled(&self, now: i64) -> bool {
        match (self.started_ms, self.disable_requested_ms) {
            (Some(_), None) => true,
            (Some(_), Some(_)) => self.earliest_end().is_some_and(|end| now < end),
            _ => false,
        }
    }

    fn describe(&self, now: i64) -> Value {
        let status = match (self.started_ms, self.disable_requested_ms) {
            (Some(_), None) => "ENABLED",
            (Some(_), Some(_)) if self.enabled(now) => "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
            _ => "DISABLED",
        };
        let ended = self.disable_requested_ms.and(self.earliest_end());
        Value::object()
            .with("Status", status)
            .with_opt("StartedAt", self.started_ms.map(Value::Timestamp))
            .with_opt("EndedAt", ended.map(Value::Timestamp))
            .with_opt("EarliestAllowedEndAt", self.earliest_end().map(Value::Timestamp))
    }
}

fn setting_key(ctx: &RequestContext) -> String {
    format!("account-settings/{}/{}", ctx.account, ctx.region)
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn commitment(&self, ctx: &RequestContext) -> Result<Commitment, ApiError> {
        let stored = self.setting(&setting_key(ctx)).await?;
        Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default())
    }

    pub(crate) async fn describe_account_settings(&self, ctx: &RequestContext) -> Result<Value, ApiError> {
        let commitment = self.commitment(ctx).await?;
        Ok(Value::object().with("MinimumThroughputBillingCommitment", commitment.describe(self.now_ms())))
    }

    pub(crate) async fn update_account_settings(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let enable =
            input.get("MinimumThroughputBillingCommitment").and_then(|c| c.str("Status")) == Some("ENABLED");
        let _guard = self.control_lock().await;
        let now = self.now_ms();
        let mut commitment = self.commitment(ctx).await?;
        if enable {
            if !commitment.enabled(now) {
                commitment = Commitment { started_ms: Some(now), disable_requested_ms: None };
            } else {
                commitment.disable_requested_ms = None;
            }
        } else if commitment.enabled(now) {
            commitment.disable_requested_ms.get_or_insert(now);
        }
        let bytes = serde_json::to_vec(&commitment).expect("plain struct serializes");
        self.put_setting(&setting_key(ctx), bytes).await?;
        Ok(Value::object().with("MinimumThroughputBillingCommitment", commitment.describe(now)))
    }
}
