//! Hierarchy index over a slice of items: id lookup, parent/children links,
//! plan order, leaves and effective (inherited) dependencies.
//!
//! Built on demand (plans are small). It never panics and always terminates,
//! even on a corrupted stored plan (duplicate ids, parent loops, dangling
//! references): such links are simply ignored.

use std::collections::{HashMap, HashSet};

use super::model::PlanItem;

pub(crate) struct Index<'a> {
    items: &'a [PlanItem],
    pos: HashMap<&'a str, usize>,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    /// Depth-first pre-order: each item followed by its subtree.
    order: Vec<usize>,
    /// Position of each item in `order`.
    rank: Vec<usize>,
}

impl<'a> Index<'a> {
    pub(crate) fn new(items: &'a [PlanItem]) -> Self {
        let mut pos = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            // First occurrence wins for duplicate ids in a corrupted plan.
            pos.entry(item.id.as_str()).or_insert(i);
        }
        let parent: Vec<Option<usize>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.parent
                    .as_deref()
                    .and_then(|p| pos.get(p).copied())
                    .filter(|&p| p != i)
            })
            .collect();
        let mut children = vec![Vec::new(); items.len()];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = *p {
                children[p].push(i);
            }
        }
        let mut index = Self {
            items,
            pos,
            parent,
            children,
            order: Vec::new(),
            rank: Vec::new(),
        };
        index.order = index.compute_order();
        index.rank = vec![0; items.len()];
        for (r, &i) in index.order.iter().enumerate() {
            index.rank[i] = r;
        }
        index
    }

    fn compute_order(&self) -> Vec<usize> {
        let n = self.items.len();
        let mut seen = vec![false; n];
        let mut order = Vec::with_capacity(n);
        let roots = (0..n).filter(|&i| self.parent[i].is_none());
        // Items caught in a parent loop have no root; append them afterwards.
        for start in roots.chain(0..n) {
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                order.push(i);
                stack.extend(self.children[i].iter().rev());
            }
        }
        order
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<usize> {
        self.pos.get(id).copied()
    }

    pub(crate) fn item(&self, i: usize) -> &'a PlanItem {
        &self.items[i]
    }

    pub(crate) fn children(&self, i: usize) -> &[usize] {
        &self.children[i]
    }

    pub(crate) fn is_leaf(&self, i: usize) -> bool {
        self.children[i].is_empty()
    }

    /// All items in plan order.
    pub(crate) fn order(&self) -> &[usize] {
        &self.order
    }

    /// Position of item `i` in plan order.
    pub(crate) fn rank(&self, i: usize) -> usize {
        self.rank[i]
    }

    /// All leaves in plan order.
    pub(crate) fn leaves(&self) -> Vec<usize> {
        self.order
            .iter()
            .copied()
            .filter(|&i| self.is_leaf(i))
            .collect()
    }

    /// Parent, grandparent, ... (nearest first), cut at the first repeat.
    pub(crate) fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.parent[i];
        while let Some(p) = cur {
            if p == i || out.contains(&p) || out.len() >= self.len() {
                break;
            }
            out.push(p);
            cur = self.parent[p];
        }
        out
    }

    pub(crate) fn is_ancestor(&self, ancestor: usize, of: usize) -> bool {
        self.ancestors(of).contains(&ancestor)
    }

    /// The leaves of `i`'s subtree in plan order (`i` itself if it is a leaf).
    pub(crate) fn leaves_under(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![i];
        while let Some(j) = stack.pop() {
            if !seen.insert(j) {
                continue;
            }
            if self.is_leaf(j) {
                out.push(j);
            } else {
                stack.extend(self.children[j].iter().rev());
            }
        }
        out
    }

    /// Declared dependencies of `i` followed by those inherited from its
    /// ancestors, resolved to indexes (deduplicated, in that order), plus the
    /// ids that resolve to nothing.
    pub(crate) fn effective_deps(&self, i: usize) -> (Vec<usize>, Vec<&'a str>) {
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        let owners = std::iter::once(i).chain(self.ancestors(i));
        for owner in owners {
            for dep in &self.items[owner].depends_on {
                match self.get(dep) {
                    Some(d) if !found.contains(&d) => found.push(d),
                    Some(_) => {}
                    None => unknown.push(dep.as_str()),
                }
            }
        }
        (found, unknown)
    }

    /// The leaves a leaf `i` waits for: every leaf under each effective
    /// dependency (deduplicated; excludes `i` itself).
    pub(crate) fn dep_leaves(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for d in self.effective_deps(i).0 {
            for leaf in self.leaves_under(d) {
                if leaf != i && !out.contains(&leaf) {
                    out.push(leaf);
                }
            }
        }
        out
    }
}
