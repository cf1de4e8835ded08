//! Atomic application of an edit batch.
//!
//! Edits run in order against a draft copy of the items; per-edit problems
//! (bad id, duplicate, unknown target, bad title or agent) are collected
//! without stopping. References (parents, dependencies) and the hierarchy
//! are checked on the final draft, so a batch may add children before their
//! parent and depend on items added later. Only a fully valid draft is
//! committed.

use super::error::{PlanError, clip};
use super::input::{AddItem, PlanEdit, RemoveItem, UpdateItem};
use super::model::{
    ApplySummary, DetachedTask, ItemStatus, MAX_ITEMS, MAX_RESULT_LEN, Plan, PlanItem, short_text,
};
use super::validate::{Removed, check_agent, check_final, check_id, check_title};

/// A batch that grows the draft past this is abandoned at once, so a huge
/// batch cannot make the per-edit linear scans quadratic in its size.
const DRAFT_HARD_LIMIT: usize = MAX_ITEMS * 2;

impl Plan {
    /// Applies `edits` atomically: on any error the plan (revision included)
    /// is unchanged. `allowed_agents` are the agent names an item may use.
    ///
    /// A single problem is returned as is; several come as
    /// `PlanError::Multiple` so the model can fix them in one go.
    pub fn apply(
        &mut self,
        edits: Vec<PlanEdit>,
        allowed_agents: &[&str],
    ) -> Result<ApplySummary, PlanError> {
        if edits.is_empty() {
            return Err(PlanError::EmptyBatch);
        }
        let mut draft = Draft::new(self.items.clone());
        let mut errors = Vec::new();
        for edit in edits {
            let applied = match edit {
                PlanEdit::Add(add) => draft.add(add, allowed_agents),
                PlanEdit::Update(update) => draft.update(update, allowed_agents),
                PlanEdit::Remove(remove) => draft.remove(remove),
            };
            if let Err(e) = applied {
                errors.push(e);
            }
            if draft.items.len() > DRAFT_HARD_LIMIT {
                errors.push(PlanError::TooManyItems {
                    count: draft.items.len(),
                    max: MAX_ITEMS,
                });
                break;
            }
        }
        if errors.is_empty() {
            errors = check_final(
                &draft.items,
                &draft.removed,
                &draft.status_set,
                allowed_agents,
            );
        }
        if !errors.is_empty() {
            return Err(PlanError::from_many(errors));
        }

        let Draft {
            mut items,
            mut summary,
            removed,
            ..
        } = draft;
        for item in &mut items {
            dedup_in_order(&mut item.depends_on);
        }
        self.items = items;
        self.revision = self.revision.saturating_add(1);
        summary.revision = self.revision;
        summary.removed = removed.into_iter().map(|r| r.id).collect();
        dedup_in_order(&mut summary.updated);
        Ok(summary)
    }
}

struct Draft {
    items: Vec<PlanItem>,
    removed: Vec<Removed>,
    /// Ids whose status the batch set explicitly, in batch order.
    status_set: Vec<String>,
    summary: ApplySummary,
}

impl Draft {
    fn new(items: Vec<PlanItem>) -> Self {
        Self {
            items,
            removed: Vec::new(),
            status_set: Vec::new(),
            summary: ApplySummary::default(),
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|item| item.id == id)
    }

    fn add(&mut self, add: AddItem, allowed: &[&str]) -> Result<(), PlanError> {
        check_id(&add.id)?;
        let title = check_title(&add.id, &add.title)?;
        if let Some(agent) = &add.agent {
            check_agent(&add.id, agent, allowed)?;
        }
        if self.position(&add.id).is_some() {
            return Err(PlanError::DuplicateId { id: add.id });
        }
        self.summary.added.push(add.id.clone());
        self.items.push(PlanItem {
            id: add.id,
            title,
            description: add.description.as_deref().and_then(non_empty),
            agent: add.agent,
            parent: add.parent,
            depends_on: add.depends_on,
            status: ItemStatus::Pending,
            task_id: None,
            result: None,
            attempts: 0,
        });
        Ok(())
    }

    fn update(&mut self, update: UpdateItem, allowed: &[&str]) -> Result<(), PlanError> {
        let Some(pos) = self.position(&update.id) else {
            return Err(PlanError::UnknownItem {
                op: "update",
                id: clip(&update.id),
            });
        };
        let title = match &update.title {
            Some(title) => Some(check_title(&update.id, title)?),
            None => None,
        };
        if let Some(agent) = &update.agent {
            check_agent(&update.id, agent, allowed)?;
        }
        if update.status == Some(ItemStatus::Running) {
            return Err(PlanError::RunningByEdit { id: update.id });
        }

        let item = &mut self.items[pos];
        if let Some(title) = title {
            item.title = title;
        }
        if let Some(description) = &update.description {
            item.description = non_empty(description);
        }
        if update.agent.is_some() {
            item.agent = update.agent;
        }
        if let Some(depends_on) = update.depends_on {
            item.depends_on = depends_on;
        }
        if let Some(result) = &update.result {
            item.result = short_text(result, MAX_RESULT_LEN);
        }
        if let Some(status) = update.status {
            // Overriding a running item detaches its task: the server should
            // cancel it, and its late result no longer matches the item.
            if item.status == ItemStatus::Running
                && let Some(task_id) = item.task_id.take()
            {
                self.summary.detached_tasks.push(DetachedTask {
                    item_id: item.id.clone(),
                    task_id,
                });
            }
            item.status = status;
            self.status_set.push(update.id.clone());
        }
        self.summary.updated.push(update.id);
        Ok(())
    }

    fn remove(&mut self, remove: RemoveItem) -> Result<(), PlanError> {
        if self.position(&remove.id).is_none() {
            return Err(PlanError::UnknownItem {
                op: "remove",
                id: clip(&remove.id),
            });
        }
        // Grow the subtree until stable; terminates as it only ever grows.
        let mut subtree = vec![remove.id.clone()];
        loop {
            let before = subtree.len();
            for item in &self.items {
                let under = item.parent.as_ref().is_some_and(|p| subtree.contains(p));
                if under && !subtree.contains(&item.id) {
                    subtree.push(item.id.clone());
                }
            }
            if subtree.len() == before {
                break;
            }
        }

        let mut kept = Vec::with_capacity(self.items.len());
        for item in std::mem::take(&mut self.items) {
            if !subtree.contains(&item.id) {
                kept.push(item);
                continue;
            }
            if item.status == ItemStatus::Running
                && let Some(task_id) = item.task_id
            {
                self.summary.detached_tasks.push(DetachedTask {
                    item_id: item.id.clone(),
                    task_id,
                });
            }
            let removed_with = (item.id != remove.id).then(|| remove.id.clone());
            self.removed.push(Removed {
                id: item.id,
                removed_with,
            });
        }
        self.items = kept;
        self.status_set.retain(|id| !subtree.contains(id));
        Ok(())
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn dedup_in_order(list: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|s| seen.insert(s.clone()));
}
