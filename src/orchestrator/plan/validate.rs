//! Validation: per-field checks used while applying edits, and the checks
//! of the final state of a batch (references, hierarchy, cycles).

use std::collections::{HashMap, HashSet};

use super::error::{PlanError, clip};
use super::index::Index;
use super::model::{ItemStatus, MAX_ID_LEN, MAX_ITEMS, MAX_TITLE_LEN, PlanItem};

/// An item removed by the batch; `removed_with` is the explicitly removed
/// ancestor when it went as part of a subtree.
#[derive(Debug, Clone)]
pub(crate) struct Removed {
    pub id: String,
    pub removed_with: Option<String>,
}

pub(crate) fn check_id(id: &str) -> Result<(), PlanError> {
    let valid_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    // All valid chars are ASCII, so byte length equals char length here.
    if id.is_empty() || id.len() > MAX_ID_LEN || !valid_chars {
        return Err(PlanError::InvalidId { id: clip(id) });
    }
    Ok(())
}

/// The trimmed title, or why it is unacceptable.
pub(crate) fn check_title(id: &str, title: &str) -> Result<String, PlanError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(PlanError::EmptyTitle { id: clip(id) });
    }
    let len = title.chars().count();
    if len > MAX_TITLE_LEN {
        return Err(PlanError::TitleTooLong { id: clip(id), len });
    }
    Ok(title.to_string())
}

pub(crate) fn check_agent(id: &str, agent: &str, allowed: &[&str]) -> Result<(), PlanError> {
    if allowed.contains(&agent) {
        Ok(())
    } else {
        Err(PlanError::UnknownAgent {
            id: clip(id),
            agent: clip(agent),
            allowed: allowed_list(allowed),
        })
    }
}

pub(crate) fn allowed_list(allowed: &[&str]) -> Vec<String> {
    allowed.iter().map(|a| a.to_string()).collect()
}

/// Checks the state a batch would produce. `status_set` lists the ids whose
/// status the batch set explicitly. Returns every problem found; cycles are
/// only looked for once everything else is sound, since a broken reference
/// would make the cycle report misleading.
pub(crate) fn check_final(
    items: &[PlanItem],
    removed: &[Removed],
    status_set: &[String],
    allowed: &[&str],
) -> Vec<PlanError> {
    if items.len() > MAX_ITEMS {
        return vec![PlanError::TooManyItems {
            count: items.len(),
            max: MAX_ITEMS,
        }];
    }
    let index = Index::new(items);
    let mut errors = Vec::new();

    // Only a corrupted stored plan can get here with duplicates.
    let mut seen = HashSet::new();
    for item in items {
        if !seen.insert(item.id.as_str()) {
            errors.push(PlanError::DuplicateId { id: clip(&item.id) });
        }
    }

    let removed_by_id: HashMap<&str, &Removed> =
        removed.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut dependants: HashMap<&str, Vec<String>> = HashMap::new();

    for &i in index.order() {
        let item = index.item(i);
        check_parent(&index, i, &mut errors);
        if !index.is_leaf(i) && item.status == ItemStatus::Running {
            let child = index
                .children(i)
                .first()
                .map(|&c| index.item(c).id.clone())
                .unwrap_or_default();
            errors.push(PlanError::ParentRunning {
                id: item.id.clone(),
                task_id: item.task_id.clone().unwrap_or_default(),
                child,
            });
        }
        if index.is_leaf(i) && item.agent.is_none() {
            errors.push(PlanError::MissingAgent {
                id: item.id.clone(),
                allowed: allowed_list(allowed),
            });
        }
        for dep in &item.depends_on {
            match index.get(dep) {
                None if removed_by_id.contains_key(dep.as_str()) => {
                    let list = dependants.entry(dep.as_str()).or_default();
                    if !list.contains(&item.id) {
                        list.push(item.id.clone());
                    }
                }
                None => errors.push(PlanError::UnknownDependency {
                    id: item.id.clone(),
                    dep: clip(dep),
                }),
                Some(d) if d == i => errors.push(PlanError::SelfDependency {
                    id: item.id.clone(),
                }),
                Some(d) if index.is_ancestor(d, i) => errors.push(PlanError::DependsOnAncestor {
                    id: item.id.clone(),
                    dep: dep.clone(),
                }),
                Some(d) if index.is_ancestor(i, d) => errors.push(PlanError::DependsOnDescendant {
                    id: item.id.clone(),
                    dep: dep.clone(),
                }),
                Some(_) => {}
            }
        }
    }

    for r in removed {
        if let Some(list) = dependants.remove(r.id.as_str()) {
            errors.push(PlanError::DependedOn {
                id: r.id.clone(),
                removed_with: r.removed_with.clone(),
                dependants: list,
            });
        }
    }

    for id in status_set {
        if index.get(id).is_some_and(|i| !index.is_leaf(i)) {
            errors.push(PlanError::StatusOnNonLeaf { id: id.clone() });
        }
    }

    if errors.is_empty()
        && let Some(path) = find_cycle(&index)
    {
        errors.push(PlanError::DependencyCycle { path });
    }
    errors
}

fn check_parent(index: &Index, i: usize, errors: &mut Vec<PlanError>) {
    let item = index.item(i);
    let Some(parent_id) = item.parent.as_deref() else {
        return;
    };
    if parent_id == item.id {
        errors.push(PlanError::SelfParent {
            id: item.id.clone(),
        });
        return;
    }
    let Some(p) = index.get(parent_id) else {
        errors.push(PlanError::UnknownParent {
            id: item.id.clone(),
            parent: clip(parent_id),
        });
        return;
    };
    if let Some(grandparent) = index.item(p).parent.as_deref() {
        errors.push(PlanError::TooDeep {
            id: item.id.clone(),
            parent: parent_id.to_string(),
            grandparent: clip(grandparent),
        });
    }
}

/// A dependency cycle as an id path `a, b, c, a`, if any. Edges mean
/// "waits for": an item waits for its declared and inherited dependencies,
/// and a task waits for its subtasks. Deterministic: starts and edges are
/// explored in plan / declaration order.
fn find_cycle(index: &Index) -> Option<Vec<String>> {
    let n = index.len();
    let edges: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut out = index.effective_deps(i).0;
            for &c in index.children(i) {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            out
        })
        .collect();

    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Finished,
    }
    let mut mark = vec![Mark::New; n];
    for &start in index.order() {
        if mark[start] != Mark::New {
            continue;
        }
        mark[start] = Mark::OnPath;
        // Explicit stack of (node, next edge to follow): no recursion limit.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(top) = path.last_mut() {
            let node = top.0;
            let Some(&next) = edges[node].get(top.1) else {
                mark[node] = Mark::Finished;
                path.pop();
                continue;
            };
            top.1 += 1;
            match mark[next] {
                Mark::New => {
                    mark[next] = Mark::OnPath;
                    path.push((next, 0));
                }
                Mark::OnPath => {
                    let from = path.iter().position(|&(v, _)| v == next).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..]
                        .iter()
                        .map(|&(v, _)| index.item(v).id.clone())
                        .collect();
                    cycle.push(index.item(next).id.clone());
                    return Some(cycle);
                }
                Mark::Finished => {}
            }
        }
    }
    None
}
