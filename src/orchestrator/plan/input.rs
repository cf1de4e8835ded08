//! Edit operations as they arrive from a model's tool call. These types
//! double as the tool-argument JSON schema, hence `JsonSchema` and
//! `deny_unknown_fields` (a misspelled field is an error, not a silent no-op).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::ItemStatus;

/// Tool arguments for editing the plan: one atomic batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditPlanArgs {
    /// Edits applied together: either all succeed or none is applied.
    pub edits: Vec<PlanEdit>,
}

/// One edit of the plan, tagged by `op`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum PlanEdit {
    /// Add a task (no parent) or a subtask (parent is a task).
    Add(AddItem),
    /// Change fields of an existing item; omitted fields are kept.
    Update(UpdateItem),
    /// Remove an item and all its subtasks.
    Remove(RemoveItem),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddItem {
    /// Unique id: 1-64 characters of A-Z a-z 0-9 . _ -
    pub id: String,
    /// Short imperative title, at most 200 characters.
    pub title: String,
    /// What to do and the acceptance criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Agent that runs this item. Required unless the item gets subtasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Id of the task this is a subtask of; omit for a top-level task.
    /// Subtasks cannot have subtasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Ids of items that must be done first. Depending on a task means
    /// depending on all of its subtasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateItem {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New description; an empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Replaces the whole dependency list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Only for items without subtasks. `running` is set by the server
    /// when it dispatches an item and cannot be set here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// Short result note; an empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveItem {
    pub id: String,
}
