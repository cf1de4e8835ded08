//! The orchestrator core: one per workspace, shared by every connected client.
//!
//! It owns the scheduler state, the ledger, the event bus and the agent runtime. Requests
//! answer quickly; a delegated task runs in its own tokio task and reports through events.

pub mod agents;
pub mod backend;
mod cancel;
mod delegate;
pub mod error;
pub mod events;
pub(crate) mod ids;
pub mod ledger;
pub mod missions;
mod notifier;
pub mod plan;
mod queries;
mod router;
mod runner;
pub mod scheduler;
pub mod task;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use cancel::CancelOutcome;
pub use delegate::DelegateRequest;
pub use error::OrchestratorError;
pub use queries::{Replay, Stats};

use crate::config::Config;
use backend::SessionBackend;
use events::EventBus;
use ledger::{Ledger, OpenOptions};
use router::SessionRouter;
use scheduler::SchedState;
use task::Task;

/// Everything needed to open an orchestrator for a workspace.
pub struct OpenParams {
    pub workspace_root: PathBuf,
    pub config: Config,
    /// The agent runtime; `Err(reason)` when none is available (delegation is then refused
    /// with that reason).
    pub backend: Result<Arc<dyn SessionBackend>, String>,
}

/// A cheap handle to the shared core.
#[derive(Clone)]
pub struct Orchestrator {
    core: Arc<Core>,
}

pub(crate) struct Core {
    config: Config,
    workspace_root: PathBuf,
    ledger: Ledger,
    bus: EventBus,
    backend: Result<Arc<dyn SessionBackend>, String>,
    state: Arc<Mutex<SchedState>>,
    router: SessionRouter,
    runners: TaskTracker,
    shutdown: CancellationToken,
    started: Instant,
    /// Tasks a previous process left running, waiting for [`Orchestrator::start_recovery`].
    orphans: Mutex<Vec<scheduler::Started>>,
    /// Wakes parents whose background tasks finished (none without an agent runtime).
    notices: Option<notifier::NoticeSignal>,
    /// Background shell jobs (`run_background` and friends).
    jobs: crate::tools::background::JobManager,
    /// The web tools' HTTP clients, built on first use.
    web: crate::tools::web::WebClients,
    /// Missions (`/task`); set once the core exists, since the engine holds a handle to it.
    missions: std::sync::OnceLock<missions::Missions>,
}

impl Orchestrator {
    /// Opens the ledger (recovering what a previous process left), starts following the agent
    /// runtime's events and queues again the tasks that were waiting.
    pub async fn open(params: OpenParams) -> Result<Orchestrator, OrchestratorError> {
        let OpenParams {
            workspace_root,
            config,
            backend,
        } = params;
        let bus = EventBus::new(config.events.memory, config.events.client_queue);
        let state = Arc::new(Mutex::new(SchedState::new(
            config.scheduler.clone(),
            config.ledger.hot_tasks,
        )));
        // The hot cache follows commits, so a reader woken by an event sees what it announces.
        let hook_state = state.clone();
        let options = OpenOptions {
            path: config.ledger_path(&workspace_root),
            notices_per_parent: config.events.notices_per_parent,
            on_commit: Some(Arc::new(move |task: &Task| {
                hook_state.lock().hot_mut().put(task.clone());
            })),
        };
        let ledger_bus = bus.clone();
        let (ledger, recovered) =
            tokio::task::spawn_blocking(move || Ledger::open(options, ledger_bus))
                .await
                .map_err(|e| {
                    OrchestratorError::BackendUnavailable(format!("ledger open panicked: {e}"))
                })??;
        let orphans = {
            let mut st = state.lock();
            for task in recovered.interrupted {
                st.hot_mut().put(task);
            }
            let orphans: Vec<_> = recovered.running.iter().map(|t| st.adopt(t)).collect();
            for task in recovered.running {
                st.hot_mut().put(task);
            }
            for task in recovered.requeue {
                st.enqueue_recovered(&task);
                st.hot_mut().put(task);
            }
            orphans
        };
        let jobs =
            crate::tools::background::JobManager::open(&config, &workspace_root, ledger.clone());
        let router = SessionRouter::default();
        let shutdown = CancellationToken::new();
        let notices = match &backend {
            Ok(backend) => {
                router.spawn(backend.subscribe());
                Some(notifier::Notifier::spawn(
                    ledger.clone(),
                    backend.clone(),
                    std::time::Duration::from_millis(config.events.notice_batch_ms),
                    shutdown.clone(),
                ))
            }
            Err(_) => None,
        };
        let core = Arc::new(Core {
            config,
            workspace_root,
            ledger,
            bus,
            backend,
            state,
            router,
            runners: TaskTracker::new(),
            shutdown,
            started: Instant::now(),
            orphans: Mutex::new(orphans),
            notices,
            jobs,
            web: Default::default(),
            missions: std::sync::OnceLock::new(),
        });
        // Queued tasks (requeued from the last run) start with `start_recovery`, once the
        // runtime can carry calls.
        let orchestrator = Orchestrator { core };
        let missions =
            missions::Missions::spawn(orchestrator.clone(), orchestrator.core.shutdown.clone());
        let _ = orchestrator.core.missions.set(missions);
        Ok(orchestrator)
    }

    pub fn config(&self) -> &Config {
        &self.core.config
    }

    pub fn workspace_root(&self) -> &std::path::Path {
        &self.core.workspace_root
    }

    pub fn bus(&self) -> &EventBus {
        &self.core.bus
    }

    pub fn ledger(&self) -> &Ledger {
        &self.core.ledger
    }

    /// Background shell jobs.
    pub(crate) fn jobs(&self) -> &crate::tools::background::JobManager {
        &self.core.jobs
    }

    /// Missions (`/task`).
    pub fn missions(&self) -> &missions::Missions {
        self.core
            .missions
            .get()
            .expect("the mission engine is started when the orchestrator opens")
    }

    /// The agent runtime, or why there is none.
    pub fn backend(&self) -> Result<Arc<dyn SessionBackend>, &str> {
        match &self.core.backend {
            Ok(backend) => Ok(backend.clone()),
            Err(reason) => Err(reason.as_str()),
        }
    }

    /// The web tools' HTTP clients.
    pub(crate) fn web_clients(&self) -> &crate::tools::web::WebClients {
        &self.core.web
    }

    /// Re-attaches the tasks a previous process left running (or records them `interrupted`).
    /// Call once the agent runtime can be reached: for the plugin bridge, after the client's
    /// `initialized`. Later calls do nothing.
    pub fn start_recovery(&self) {
        if self
            .core
            .backend
            .as_ref()
            .is_ok_and(|b| b.available().is_err())
        {
            return; // called again when a runtime is plugged in
        }
        let orphans = std::mem::take(&mut *self.core.orphans.lock());
        for started in orphans {
            self.core
                .runners
                .spawn(runner::run(self.core.clone(), started));
        }
        self.core.dispatch();
    }

    /// Stops starting tasks, lets running ones go (they are re-attached or marked
    /// `interrupted` on the next start), and closes the ledger after its pending writes.
    pub async fn shutdown(&self) {
        self.core.state.lock().stop_accepting();
        self.core.shutdown.cancel();
        self.core.runners.close();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.core.runners.wait()).await;
        // Jobs record their end (and announce it) through the ledger: stop them first.
        self.core.jobs.shutdown().await;
        self.core.ledger.close().await;
    }
}

impl Core {
    /// Starts every queued task that has room now.
    fn dispatch(self: &Arc<Self>) {
        // Without a runtime a task would only fail: it waits in the queue for one.
        match &self.backend {
            Ok(backend) if backend.available().is_ok() => {}
            _ => return,
        }
        let started = self.state.lock().pick_ready();
        for s in started {
            self.runners.spawn(runner::run(self.clone(), s));
        }
    }

    /// A finished background task left a notice for its parent.
    fn notice_committed(&self, task: &Task) {
        if let (true, Some(parent), Some(signal)) =
            (task.background, &task.parent_session_id, &self.notices)
        {
            signal.notify(parent);
        }
    }

    /// The newest committed record of a task, from memory or the ledger.
    async fn task(&self, id: &str) -> Result<Task, OrchestratorError> {
        if let Some(t) = self.state.lock().hot().get(id).cloned() {
            return Ok(t);
        }
        self.ledger
            .task(id)
            .await?
            .ok_or_else(|| OrchestratorError::TaskNotFound { id: id.to_string() })
    }
}
