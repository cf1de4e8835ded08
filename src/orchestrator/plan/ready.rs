//! What the plan says about execution: derived statuses, ready and blocked
//! leaves, progress and dependency waves.
//!
//! Dependency semantics: a dependency on an item with subtasks means "all of
//! its leaves"; a subtask also waits for its task's dependencies. A
//! dependency is satisfied when all its leaves are done or skipped.

use super::index::Index;
use super::model::{BlockedLeaf, ItemStatus, Plan, PlanItem, Progress, ProgressKey};

/// How many unmet dependencies a "not ready" reason lists.
const MAX_LISTED_WAITS: usize = 5;

impl Plan {
    /// All items in plan order: each task followed by its subtasks.
    pub fn ordered(&self) -> Vec<&PlanItem> {
        let index = Index::new(&self.items);
        index.order().iter().map(|&i| index.item(i)).collect()
    }

    /// All leaves (items without subtasks) in plan order.
    pub fn leaves(&self) -> Vec<&PlanItem> {
        let index = Index::new(&self.items);
        index.leaves().into_iter().map(|i| index.item(i)).collect()
    }

    /// Whether `id` names an item without subtasks.
    pub fn is_leaf(&self, id: &str) -> bool {
        let index = Index::new(&self.items);
        index.get(id).is_some_and(|i| index.is_leaf(i))
    }

    /// Effective status: stored for a leaf, derived for an item with
    /// subtasks. `None` for an unknown id.
    pub fn status_of(&self, id: &str) -> Option<ItemStatus> {
        let index = Index::new(&self.items);
        index.get(id).map(|i| derived_status(&index, i))
    }

    /// Pending leaves whose dependencies are all satisfied, in plan order.
    pub fn ready_leaves(&self) -> Vec<&PlanItem> {
        let index = Index::new(&self.items);
        index
            .leaves()
            .into_iter()
            .filter(|&i| readiness(&index, i).is_ok())
            .map(|i| index.item(i))
            .collect()
    }

    /// Pending leaves that can never run as the plan stands, because they
    /// (transitively) wait for a failed or cancelled leaf. In plan order.
    pub fn blocked_leaves(&self) -> Vec<BlockedLeaf<'_>> {
        let index = Index::new(&self.items);
        let causes = blocked_causes(&index);
        index
            .leaves()
            .into_iter()
            .filter(|&i| index.item(i).status == ItemStatus::Pending)
            .filter_map(|i| {
                let causes = causes[i].clone()?;
                let reason = blocked_reason(&index, &causes);
                Some(BlockedLeaf {
                    item: index.item(i),
                    causes,
                    reason,
                })
            })
            .collect()
    }

    /// The plan has leaves and every one is done or skipped.
    pub fn is_complete(&self) -> bool {
        let leaves = self.leaves();
        !leaves.is_empty() && leaves.iter().all(|leaf| leaf.status.is_complete())
    }

    pub fn progress(&self) -> Progress {
        let index = Index::new(&self.items);
        let blocked = blocked_causes(&index);
        let mut p = Progress::default();
        for i in index.leaves() {
            p.total_leaves += 1;
            match index.item(i).status {
                ItemStatus::Done => p.done += 1,
                ItemStatus::Skipped => p.skipped += 1,
                ItemStatus::Running => p.running += 1,
                ItemStatus::Failed => p.failed += 1,
                ItemStatus::Cancelled => p.cancelled += 1,
                ItemStatus::Pending => {
                    p.pending += 1;
                    if blocked[i].is_some() {
                        p.blocked += 1;
                    } else if readiness(&index, i).is_ok() {
                        p.ready += 1;
                    }
                }
            }
        }
        p
    }

    /// See [`ProgressKey`]: changes when a leaf completes or the plan is
    /// edited, and on nothing else.
    pub fn progress_key(&self) -> ProgressKey {
        let leaves = self.leaves();
        ProgressKey {
            done_or_skipped: leaves.iter().filter(|l| l.status.is_complete()).count(),
            total_leaves: leaves.len(),
            revision: self.revision,
        }
    }

    /// Leaf ids grouped by the earliest wave they can run in: wave 0 has no
    /// (effective) dependencies, wave k+1 waits only for leaves of waves
    /// <= k. Purely structural (statuses are ignored); each wave is in plan
    /// order. Leaves on a cycle (only in a corrupted plan) are left out.
    pub fn waves(&self) -> Vec<Vec<String>> {
        let index = Index::new(&self.items);
        let leaves = index.leaves();
        let deps: Vec<Vec<usize>> = leaves.iter().map(|&l| index.dep_leaves(l)).collect();
        let mut wave: Vec<Option<usize>> = vec![None; index.len()];
        // Each pass places at least one leaf or stops: at most n passes.
        loop {
            let mut placed = false;
            for (k, &l) in leaves.iter().enumerate() {
                if wave[l].is_some() {
                    continue;
                }
                let dep_waves: Option<Vec<usize>> = deps[k].iter().map(|&d| wave[d]).collect();
                if let Some(dep_waves) = dep_waves {
                    wave[l] = Some(dep_waves.iter().max().map_or(0, |w| w + 1));
                    placed = true;
                }
            }
            if !placed {
                break;
            }
        }
        let mut out: Vec<Vec<String>> = Vec::new();
        for &l in &leaves {
            if let Some(w) = wave[l] {
                if out.len() <= w {
                    out.resize_with(w + 1, Vec::new);
                }
                out[w].push(index.item(l).id.clone());
            }
        }
        out
    }
}

/// Stored status for a leaf; for an item with subtasks: running if any leaf
/// runs, else done if all are done/skipped, else failed if any failed, else
/// cancelled if all are finished (some cancelled), else pending.
pub(crate) fn derived_status(index: &Index, i: usize) -> ItemStatus {
    if index.is_leaf(i) {
        return index.item(i).status;
    }
    let statuses: Vec<ItemStatus> = index
        .leaves_under(i)
        .into_iter()
        .map(|l| index.item(l).status)
        .collect();
    if statuses.is_empty() {
        ItemStatus::Pending
    } else if statuses.contains(&ItemStatus::Running) {
        ItemStatus::Running
    } else if statuses.iter().all(|s| s.is_complete()) {
        ItemStatus::Done
    } else if statuses.contains(&ItemStatus::Failed) {
        ItemStatus::Failed
    } else if statuses.iter().all(|s| s.is_complete() || s.is_dead()) {
        ItemStatus::Cancelled
    } else {
        ItemStatus::Pending
    }
}

/// `Ok` when item `i` is a ready leaf, otherwise why not.
pub(crate) fn readiness(index: &Index, i: usize) -> Result<(), String> {
    let item = index.item(i);
    if !index.is_leaf(i) {
        return Err("it has subtasks; dispatch its subtasks instead".to_string());
    }
    if item.status != ItemStatus::Pending {
        return Err(format!(
            "it is {}; only pending items can be dispatched",
            item.status
        ));
    }
    let (_, unknown) = index.effective_deps(i);
    if let Some(dep) = unknown.first() {
        return Err(format!("it depends on unknown item `{dep}`"));
    }
    let waiting: Vec<String> = index
        .dep_leaves(i)
        .into_iter()
        .map(|d| index.item(d))
        .filter(|dep| !dep.status.is_complete())
        .map(|dep| format!("`{}` ({})", dep.id, dep.status))
        .collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let mut reason = format!(
        "it waits for {}",
        waiting
            .iter()
            .take(MAX_LISTED_WAITS)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if waiting.len() > MAX_LISTED_WAITS {
        reason.push_str(&format!(" and {} more", waiting.len() - MAX_LISTED_WAITS));
    }
    Err(reason)
}

/// Per item index: `Some(root causes)` for a leaf that can never run as the
/// plan stands (failed/cancelled itself, or a pending leaf transitively
/// waiting for one, or for an unknown id), `None` otherwise.
pub(crate) fn blocked_causes(index: &Index) -> Vec<Option<Vec<String>>> {
    let leaves = index.leaves();
    let mut causes: Vec<Option<Vec<String>>> = vec![None; index.len()];
    for &l in &leaves {
        let item = index.item(l);
        if item.status.is_dead() {
            causes[l] = Some(vec![item.id.clone()]);
        }
    }
    let pending: Vec<(usize, Vec<usize>, Vec<String>)> = leaves
        .iter()
        .copied()
        .filter(|&l| index.item(l).status == ItemStatus::Pending)
        .map(|l| {
            let unknown = index.effective_deps(l).1;
            let unknown = unknown.into_iter().map(str::to_string).collect();
            (l, index.dep_leaves(l), unknown)
        })
        .collect();
    // Cause sets only grow, so this fixpoint terminates.
    loop {
        let mut changed = false;
        for (l, deps, unknown) in &pending {
            let mut found = unknown.clone();
            for &d in deps {
                for cause in causes[d].iter().flatten() {
                    if !found.contains(cause) {
                        found.push(cause.clone());
                    }
                }
            }
            if found.is_empty() {
                continue;
            }
            // Plan order, unknown ids last: stable, readable output.
            found.sort_by_key(|c| index.get(c).map_or(usize::MAX, |p| index.rank(p)));
            if causes[*l].as_ref() != Some(&found) {
                causes[*l] = Some(found);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    causes
}

/// E.g. "waits for failed `b1`, cancelled `c`".
pub(crate) fn blocked_reason(index: &Index, causes: &[String]) -> String {
    let parts: Vec<String> = causes
        .iter()
        .map(|cause| match index.get(cause) {
            Some(c) => format!("{} `{cause}`", index.item(c).status),
            None => format!("unknown `{cause}`"),
        })
        .collect();
    format!("waits for {}", parts.join(", "))
}
