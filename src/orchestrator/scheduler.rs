//! Scheduling policy and the in-memory task state it works on.
//!
//! Plain data, no I/O and no async: the orchestrator holds it behind one mutex and never
//! across an `.await`. The ledger is the truth; `hot` is a cache of committed task records,
//! updated by the ledger's commit hook before the matching event is announced.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use tokio_util::sync::CancellationToken;

use super::task::Task;
use crate::config::SchedulerConfig;

/// Why a task could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    QueueFull,
    ShuttingDown,
    /// The session to resume is in use by this (queued or running) task.
    SessionBusy,
}

/// A task admitted to the queue but not yet committed: holds its place in the capacity count
/// (and, for a task that resumes a session, that session: its id is here).
#[derive(Debug)]
#[must_use]
pub struct Reservation(Option<String>);

/// A task chosen to start now; its slots are already taken.
#[derive(Debug)]
pub struct Started {
    pub task_id: String,
    pub cancel: CancellationToken,
}

struct Queued {
    task_id: String,
    agent: String,
    model: Option<String>,
}

struct Running {
    agent: String,
    model: Option<String>,
    cancel: CancellationToken,
}

pub struct SchedState {
    limits: SchedulerConfig,
    accepting: bool,
    /// Waiting tasks by (priority descending, arrival).
    queue: BTreeMap<(Reverse<i32>, u64), Queued>,
    queue_keys: HashMap<String, (Reverse<i32>, u64)>,
    ticket: u64,
    reserved: usize,
    running: HashMap<String, Running>,
    per_agent: HashMap<String, usize>,
    per_model: HashMap<String, usize>,
    hot: HotTasks,
    /// The task that last claimed each resumed session; it holds it while it is reserved,
    /// queued or running.
    sessions: HashMap<String, String>,
    /// Reserved tasks that claimed a session, not yet queued.
    claiming: HashSet<String>,
}

impl SchedState {
    pub fn new(limits: SchedulerConfig, hot_capacity: usize) -> Self {
        Self {
            limits,
            accepting: true,
            queue: BTreeMap::new(),
            queue_keys: HashMap::new(),
            ticket: 0,
            reserved: 0,
            running: HashMap::new(),
            per_agent: HashMap::new(),
            per_model: HashMap::new(),
            hot: HotTasks::new(hot_capacity),
            sessions: HashMap::new(),
            claiming: HashSet::new(),
        }
    }

    pub fn limits(&self) -> &SchedulerConfig {
        &self.limits
    }

    /// Holds a queue place for a task about to be committed.
    pub fn reserve(&mut self) -> Result<Reservation, Refusal> {
        if !self.accepting {
            return Err(Refusal::ShuttingDown);
        }
        if self.queue.len() + self.reserved >= self.limits.queue_capacity {
            return Err(Refusal::QueueFull);
        }
        self.reserved += 1;
        Ok(Reservation(None))
    }

    /// [`Self::reserve`] for task `task_id` that resumes `session`: one task at a time per
    /// session (two prompts in one session would take each other's answers).
    pub fn reserve_resuming(
        &mut self,
        task_id: &str,
        session: &str,
    ) -> Result<Reservation, (Refusal, Option<String>)> {
        if let Some(holder) = self.sessions.get(session)
            && self.holds(holder)
        {
            return Err((Refusal::SessionBusy, Some(holder.clone())));
        }
        let mut r = self.reserve().map_err(|refusal| (refusal, None))?;
        if self.sessions.len() >= 4096 {
            let live: HashSet<String> = self
                .sessions
                .values()
                .filter(|t| self.holds(t))
                .cloned()
                .collect();
            self.sessions.retain(|_, t| live.contains(t));
        }
        self.sessions
            .insert(session.to_string(), task_id.to_string());
        self.claiming.insert(task_id.to_string());
        r.0 = Some(task_id.to_string());
        Ok(r)
    }

    /// Whether task `id` is reserved, queued or running (so holds the session it claimed).
    fn holds(&self, id: &str) -> bool {
        self.claiming.contains(id)
            || self.queue_keys.contains_key(id)
            || self.running.contains_key(id)
    }

    /// Gives back a place whose task was never committed.
    pub fn unreserve(&mut self, r: Reservation) {
        self.reserved = self.reserved.saturating_sub(1);
        if let Some(task_id) = r.0 {
            self.claiming.remove(&task_id);
        }
    }

    /// Puts a committed task in the queue, using its reservation.
    pub fn enqueue(&mut self, r: Reservation, task: &Task) {
        self.unreserve(r);
        self.enqueue_recovered(task);
    }

    /// Puts a task back in the queue after a restart (no reservation: it was queued before).
    pub fn enqueue_recovered(&mut self, task: &Task) {
        self.ticket += 1;
        let key = (Reverse(task.priority), self.ticket);
        self.queue.insert(
            key,
            Queued {
                task_id: task.id.clone(),
                agent: task.agent.clone(),
                model: task.model.clone(),
            },
        );
        self.queue_keys.insert(task.id.clone(), key);
    }

    /// Removes a queued task (cancel). False if it is not waiting in the queue.
    pub fn dequeue(&mut self, task_id: &str) -> bool {
        match self.queue_keys.remove(task_id) {
            Some(key) => self.queue.remove(&key).is_some(),
            None => false,
        }
    }

    fn has_room(&self, agent: &str, model: Option<&str>) -> bool {
        if self.per_agent.get(agent).copied().unwrap_or(0) >= self.limits.max_per_agent {
            return false;
        }
        if let Some(model) = model
            && let Some(cap) = self.limits.max_per_model.get(model)
            && self.per_model.get(model).copied().unwrap_or(0) >= *cap
        {
            return false;
        }
        true
    }

    /// Picks every queued task that may start now, in priority then arrival order. A task
    /// whose agent or model is at its cap is skipped, not waited for, so one busy agent never
    /// holds up the others.
    pub fn pick_ready(&mut self) -> Vec<Started> {
        let mut started = Vec::new();
        if !self.accepting {
            return started;
        }
        let mut chosen = Vec::new();
        let mut free = self
            .limits
            .max_concurrent
            .saturating_sub(self.running.len());
        // Counts as they will be once the chosen ones start.
        let mut agent_delta: HashMap<&str, usize> = HashMap::new();
        let mut model_delta: HashMap<&str, usize> = HashMap::new();
        for (key, q) in &self.queue {
            if free == 0 {
                break;
            }
            let agent_now = self.per_agent.get(&q.agent).copied().unwrap_or(0)
                + agent_delta.get(q.agent.as_str()).copied().unwrap_or(0);
            if agent_now >= self.limits.max_per_agent {
                continue;
            }
            if let Some(model) = q.model.as_deref()
                && let Some(cap) = self.limits.max_per_model.get(model)
            {
                let model_now = self.per_model.get(model).copied().unwrap_or(0)
                    + model_delta.get(model).copied().unwrap_or(0);
                if model_now >= *cap {
                    continue;
                }
                *model_delta.entry(model).or_default() += 1;
            }
            *agent_delta.entry(q.agent.as_str()).or_default() += 1;
            chosen.push(*key);
            free -= 1;
        }
        for key in chosen {
            let Some(q) = self.queue.remove(&key) else {
                continue;
            };
            self.queue_keys.remove(&q.task_id);
            let cancel = CancellationToken::new();
            *self.per_agent.entry(q.agent.clone()).or_default() += 1;
            if let Some(model) = &q.model {
                *self.per_model.entry(model.clone()).or_default() += 1;
            }
            self.running.insert(
                q.task_id.clone(),
                Running {
                    agent: q.agent,
                    model: q.model,
                    cancel: cancel.clone(),
                },
            );
            started.push(Started {
                task_id: q.task_id,
                cancel,
            });
        }
        started
    }

    /// Takes the slots of a task a previous process left running, so limits hold while it is
    /// re-attached.
    pub fn adopt(&mut self, task: &Task) -> Started {
        let cancel = CancellationToken::new();
        *self.per_agent.entry(task.agent.clone()).or_default() += 1;
        if let Some(model) = &task.model {
            *self.per_model.entry(model.clone()).or_default() += 1;
        }
        self.running.insert(
            task.id.clone(),
            Running {
                agent: task.agent.clone(),
                model: task.model.clone(),
                cancel: cancel.clone(),
            },
        );
        Started {
            task_id: task.id.clone(),
            cancel,
        }
    }

    /// Frees the slots of a task that stopped running.
    pub fn release(&mut self, task_id: &str) {
        let Some(r) = self.running.remove(task_id) else {
            return;
        };
        decrement(&mut self.per_agent, &r.agent);
        if let Some(model) = &r.model {
            decrement(&mut self.per_model, model);
        }
    }

    /// The cancel switch of a running task.
    pub fn cancel_token(&self, task_id: &str) -> Option<CancellationToken> {
        self.running.get(task_id).map(|r| r.cancel.clone())
    }

    pub fn is_queued(&self, task_id: &str) -> bool {
        self.queue_keys.contains_key(task_id)
    }

    pub fn stop_accepting(&mut self) {
        self.accepting = false;
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn running_by_agent(&self) -> BTreeMap<String, usize> {
        self.per_agent
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(a, n)| (a.clone(), *n))
            .collect()
    }

    pub fn queued_by_agent(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for q in self.queue.values() {
            *out.entry(q.agent.clone()).or_default() += 1;
        }
        out
    }

    pub fn running_by_model(&self) -> BTreeMap<String, usize> {
        self.per_model
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(a, n)| (a.clone(), *n))
            .collect()
    }

    pub fn hot(&self) -> &HotTasks {
        &self.hot
    }

    pub fn hot_mut(&mut self) -> &mut HotTasks {
        &mut self.hot
    }

    /// Whether `agent` could start another task right now (for tests and stats).
    pub fn agent_has_room(&self, agent: &str, model: Option<&str>) -> bool {
        self.has_room(agent, model)
    }
}

fn decrement(map: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// The newest task records, by id. Unfinished tasks always stay; finished ones leave oldest
/// first once there are more than `capacity` records (they remain in the ledger).
pub struct HotTasks {
    capacity: usize,
    tasks: HashMap<String, Task>,
    by_session: HashMap<String, String>,
    finished: VecDeque<String>,
    archived: u64,
}

impl HotTasks {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tasks: HashMap::new(),
            by_session: HashMap::new(),
            finished: VecDeque::new(),
            archived: 0,
        }
    }

    /// Records the committed state of a task.
    pub fn put(&mut self, task: Task) {
        if let Some(session) = &task.session_id {
            self.by_session.insert(session.clone(), task.id.clone());
        }
        let newly_finished = task.status.is_terminal()
            && !self
                .tasks
                .get(&task.id)
                .is_some_and(|old| old.status.is_terminal());
        if newly_finished {
            self.finished.push_back(task.id.clone());
        }
        self.tasks.insert(task.id.clone(), task);
        while self.tasks.len() > self.capacity {
            let Some(oldest) = self.finished.pop_front() else {
                break; // everything left is unfinished: those are never archived
            };
            if let Some(t) = self.tasks.remove(&oldest) {
                // Only if it still points here: a later task may have resumed the session.
                if let Some(session) = &t.session_id
                    && self.by_session.get(session) == Some(&t.id)
                {
                    self.by_session.remove(session);
                }
                self.archived += 1;
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub fn by_session(&self, session_id: &str) -> Option<&Task> {
        self.by_session
            .get(session_id)
            .and_then(|id| self.tasks.get(id))
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Finished tasks moved out of memory since start.
    pub fn archived(&self) -> u64 {
        self.archived
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::task::TaskStatus;

    fn task(id: &str, agent: &str, priority: i32, model: Option<&str>) -> Task {
        Task {
            id: id.into(),
            agent: agent.into(),
            description: String::new(),
            prompt: String::new(),
            status: TaskStatus::Queued,
            background: true,
            priority,
            depth: 1,
            model: model.map(Into::into),
            parent_session_id: None,
            parent_task_id: None,
            session_id: None,
            resumed_from: None,
            parent_agent: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
            result: None,
            reasoning: None,
            error: None,
            usage: None,
            mission_id: None,
            plan_item: None,
        }
    }

    fn limits(global: usize, per_agent: usize, queue: usize) -> SchedulerConfig {
        SchedulerConfig {
            max_concurrent: global,
            max_per_agent: per_agent,
            queue_capacity: queue,
            ..SchedulerConfig::default()
        }
    }

    fn add(s: &mut SchedState, t: &Task) {
        let r = s.reserve().unwrap();
        s.enqueue(r, t);
    }

    fn ids(started: &[Started]) -> Vec<&str> {
        started.iter().map(|s| s.task_id.as_str()).collect()
    }

    #[test]
    fn priority_first_then_arrival() {
        let mut s = SchedState::new(limits(10, 10, 100), 100);
        add(&mut s, &task("a", "builder", 0, None));
        add(&mut s, &task("b", "builder", 5, None));
        add(&mut s, &task("c", "builder", 0, None));
        add(&mut s, &task("d", "builder", 5, None));
        assert_eq!(ids(&s.pick_ready()), ["b", "d", "a", "c"]);
    }

    #[test]
    fn per_agent_cap_skips_without_blocking_others() {
        let mut s = SchedState::new(limits(50, 2, 100), 100);
        for i in 0..4 {
            add(&mut s, &task(&format!("b{i}"), "builder", 0, None));
        }
        add(&mut s, &task("l0", "librarian", 0, None));
        assert_eq!(ids(&s.pick_ready()), ["b0", "b1", "l0"]);
        assert_eq!(s.queued(), 2);
        assert!(s.pick_ready().is_empty());
        s.release("b0");
        assert_eq!(ids(&s.pick_ready()), ["b2"]);
    }

    #[test]
    fn global_cap_and_per_model_cap() {
        let mut cfg = limits(3, 10, 100);
        cfg.max_per_model.insert("p/m".into(), 1);
        let mut s = SchedState::new(cfg, 100);
        add(&mut s, &task("m1", "builder", 0, Some("p/m")));
        add(&mut s, &task("m2", "builder", 0, Some("p/m")));
        for i in 0..4 {
            add(&mut s, &task(&format!("x{i}"), "builder", 0, None));
        }
        assert_eq!(ids(&s.pick_ready()), ["m1", "x0", "x1"]);
        s.release("m1");
        assert_eq!(ids(&s.pick_ready()), ["m2"]);
    }

    #[test]
    fn queue_capacity_counts_reservations() {
        let mut s = SchedState::new(limits(1, 1, 2), 100);
        let r1 = s.reserve().unwrap();
        let _r2 = s.reserve().unwrap();
        assert_eq!(s.reserve().unwrap_err(), Refusal::QueueFull);
        s.unreserve(r1);
        assert!(s.reserve().is_ok());
    }

    #[test]
    fn a_session_is_resumed_by_one_task_at_a_time() {
        let mut s = SchedState::new(limits(2, 2, 10), 100);
        let r = s.reserve_resuming("b", "ses_a").unwrap();
        // Reserved, not yet queued: the session is taken already.
        assert_eq!(
            s.reserve_resuming("c", "ses_a").unwrap_err(),
            (Refusal::SessionBusy, Some("b".into()))
        );
        assert!(s.reserve_resuming("x", "ses_other").is_ok());
        s.enqueue(r, &task("b", "builder", 0, None));
        assert!(s.reserve_resuming("c", "ses_a").is_err(), "queued");
        let started = s.pick_ready();
        assert!(started.iter().any(|t| t.task_id == "b"));
        assert!(s.reserve_resuming("c", "ses_a").is_err(), "running");
        s.release("b");
        assert!(
            s.reserve_resuming("c", "ses_a").is_ok(),
            "free once it ended"
        );
    }

    #[test]
    fn a_reservation_given_back_frees_its_session() {
        let mut s = SchedState::new(limits(1, 1, 10), 100);
        let r = s.reserve_resuming("b", "ses_a").unwrap();
        s.unreserve(r);
        assert!(s.reserve_resuming("c", "ses_a").is_ok());
    }

    #[test]
    fn archiving_a_task_keeps_the_newer_task_of_its_session() {
        let mut hot = HotTasks::new(1);
        let mut a = task("a", "builder", 0, None);
        a.status = TaskStatus::Completed;
        a.session_id = Some("s".into());
        hot.put(a);
        let mut b = task("b", "builder", 0, None);
        b.status = TaskStatus::Running;
        b.session_id = Some("s".into());
        hot.put(b);
        assert!(hot.get("a").is_none(), "archived");
        assert_eq!(hot.by_session("s").map(|t| t.id.as_str()), Some("b"));
    }

    #[test]
    fn dequeue_and_shutdown() {
        let mut s = SchedState::new(limits(1, 1, 10), 100);
        add(&mut s, &task("a", "builder", 0, None));
        assert!(s.is_queued("a"));
        assert!(s.dequeue("a"));
        assert!(!s.dequeue("a"));
        assert!(s.pick_ready().is_empty());
        s.stop_accepting();
        assert_eq!(s.reserve().unwrap_err(), Refusal::ShuttingDown);
    }

    #[test]
    fn hot_tasks_archive_oldest_finished_only() {
        let mut hot = HotTasks::new(3);
        let mut running = task("r", "builder", 0, None);
        running.status = TaskStatus::Running;
        running.session_id = Some("s_r".into());
        hot.put(running);
        for i in 0..4 {
            let mut t = task(&format!("f{i}"), "builder", 0, None);
            t.status = TaskStatus::Completed;
            t.session_id = Some(format!("s_f{i}"));
            hot.put(t);
        }
        assert_eq!(hot.len(), 3);
        assert!(
            hot.get("r").is_some(),
            "unfinished tasks are never archived"
        );
        assert!(hot.get("f0").is_none() && hot.get("f1").is_none());
        assert!(hot.by_session("s_f0").is_none());
        assert_eq!(hot.by_session("s_f3").map(|t| t.id.as_str()), Some("f3"));
        assert_eq!(hot.archived(), 2);
    }
}
