//! One file per `orchestrator/...` method: its params, its result, its handler.

pub mod agents_list;
pub mod events_replay;
pub mod mission_cancel;
pub mod mission_get;
pub mod mission_list;
pub mod mission_resume;
pub mod mission_start;
pub mod mission_target;
pub mod opencode_event;
pub mod stats;
pub mod task_cancel;
pub mod task_delegate;
pub mod task_get;
pub mod task_list;
pub mod tools_call;
pub mod tools_list;
