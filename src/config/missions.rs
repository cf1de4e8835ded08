//! Missions (`/task`): loop breakers, budgets and verification rounds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MissionsConfig {
    /// Continuation prompts a mission may receive before it is stopped (1-1000).
    pub max_continuations: u32,
    /// Continuations in a row without plan progress before the mission is stopped (1-100).
    pub stagnation_limit: u32,
    /// The same reply, or the same orchestrator tool call, this many times in a row stops the
    /// mission (2-100).
    pub repeat_limit: u32,
    /// Verification rounds (Inspector FAIL, fixes, verify again) before the mission is
    /// stopped (1-20).
    pub max_verify_rounds: u32,
    /// Times a failed or interrupted plan item is started again on its own (0-10).
    pub item_retries: u32,
    /// Wait this long after the mission's session goes idle before continuing it, so a user
    /// who is about to type is not talked over (0-60000).
    pub continue_delay_ms: u64,
    /// Default budgets of a new mission; `mission/start` may set its own.
    pub budgets: Budgets,
}

impl Default for MissionsConfig {
    fn default() -> Self {
        Self {
            max_continuations: 30,
            stagnation_limit: 3,
            repeat_limit: 3,
            max_verify_rounds: 3,
            item_retries: 1,
            continue_delay_ms: 500,
            budgets: Budgets::default(),
        }
    }
}

/// Limits on what one mission may spend. `null` means no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Budgets {
    /// Minutes the mission may be active, pauses not counted (1-10080).
    pub max_minutes: Option<u64>,
    /// Tasks the mission may start, plan items, verifications and retries together (1-10000).
    pub max_tasks: Option<u32>,
    /// Tokens (input + output + reasoning) over the mission's session and all its tasks.
    pub max_tokens: Option<u64>,
    /// Cost in the provider's currency, as OpenCode reports it, over the same sessions.
    pub max_cost: Option<f64>,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            max_minutes: Some(240),
            max_tasks: Some(200),
            max_tokens: None,
            max_cost: None,
        }
    }
}

impl Budgets {
    /// `over`'s keys laid over these budgets (a `null` lifts that limit), checked.
    pub fn overlay(&self, over: serde_json::Value) -> Result<Budgets, String> {
        let serde_json::Value::Object(over) = over else {
            return Err("`budgets` must be an object".into());
        };
        let mut merged = serde_json::to_value(self).map_err(|e| e.to_string())?;
        if let Some(obj) = merged.as_object_mut() {
            obj.extend(over);
        }
        let budgets: Budgets = serde_path_to_error::deserialize(merged)
            .map_err(|e| format!("invalid `budgets.{}`: {}", e.path(), e.inner()))?;
        budgets
            .check("budgets.")
            .map_err(|(key, message)| format!("invalid `{key}`: {message}"))?;
        Ok(budgets)
    }

    /// The checks, as (key, message) of the first failure; `prefix` names where they sit.
    pub fn check(&self, prefix: &str) -> Result<(), (String, String)> {
        let range = |key: &str, v: Option<u64>, lo: u64, hi: u64| match v {
            Some(v) if v < lo || v > hi => Err((
                format!("{prefix}{key}"),
                format!("must be between {lo} and {hi}, got {v}"),
            )),
            _ => Ok(()),
        };
        range("maxMinutes", self.max_minutes, 1, 10_080)?;
        range("maxTasks", self.max_tasks.map(u64::from), 1, 10_000)?;
        range("maxTokens", self.max_tokens, 1, u64::MAX)?;
        if let Some(cost) = self.max_cost
            && !(cost.is_finite() && cost > 0.0)
        {
            return Err((
                format!("{prefix}maxCost"),
                format!("must be a positive number, got {cost}"),
            ));
        }
        Ok(())
    }
}

impl MissionsConfig {
    pub(super) fn check(&self) -> Result<(), (String, String)> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err((
                    format!("missions.{key}"),
                    format!("must be between {lo} and {hi}, got {v}"),
                ))
            } else {
                Ok(())
            }
        };
        range("maxContinuations", self.max_continuations.into(), 1, 1000)?;
        range("stagnationLimit", self.stagnation_limit.into(), 1, 100)?;
        range("repeatLimit", self.repeat_limit.into(), 2, 100)?;
        range("maxVerifyRounds", self.max_verify_rounds.into(), 1, 20)?;
        range("itemRetries", self.item_retries.into(), 0, 10)?;
        range("continueDelayMs", self.continue_delay_ms, 0, 60_000)?;
        self.budgets.check("missions.budgets.")
    }
}
