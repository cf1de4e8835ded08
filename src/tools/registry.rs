//! The tool registry: names, schemas, validation and dispatch.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::{Tool, ToolContext, ToolError, ToolOutput, schema};
use crate::orchestrator::Orchestrator;

/// What `orchestrator/tools/list` says about a tool.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
}

type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send + 'a>>;
type Caller =
    Arc<dyn for<'a> Fn(&'a Orchestrator, &'a ToolContext, Value) -> CallFuture<'a> + Send + Sync>;

struct Entry {
    info: ToolInfo,
    /// See [`Tool::REPEATABLE`].
    repeatable: bool,
    validator: jsonschema::Validator,
    call: Caller,
}

pub struct ToolRegistry {
    tools: BTreeMap<&'static str, Entry>,
}

impl ToolRegistry {
    /// Every tool this build has.
    pub fn builtin() -> Self {
        let mut r = Self {
            tools: BTreeMap::new(),
        };
        r.register(super::delegate_task::DelegateTask);
        r.register(super::get_task_result::GetTaskResult);
        r.register(super::list_tasks::ListTasks);
        r.register(super::cancel_task::CancelTask);
        r.register(super::background::run::RunBackground);
        r.register(super::background::check::CheckBackground);
        r.register(super::background::list::ListBackground);
        r.register(super::background::kill::KillBackground);
        r.register(super::grep_search::GrepSearch);
        r.register(super::glob_search::GlobSearch);
        r.register(super::mgrep::Mgrep);
        r.register(super::mission_triage::MissionTriage);
        r.register(super::plan_edit::PlanEditTool);
        r.register(super::plan_get::PlanGet);
        r.register(super::plan_dispatch::PlanDispatch);
        r.register(super::task_report::TaskReport);
        r.register(super::mission_complete::MissionComplete);
        r.register(super::mission_verdict::MissionVerdict);
        r.register(super::webfetch::WebFetch);
        r.register(super::cache_docs::CacheDocs);
        r.register(super::websearch::WebSearch);
        r.register(super::codesearch::CodeSearch);
        r
    }

    fn register<T: Tool>(&mut self, tool: T) {
        let input_schema = schema::for_args::<T::Args>();
        // Our own schemas are generated at build time; one that does not compile is a bug.
        let validator = jsonschema::validator_for(&input_schema)
            .unwrap_or_else(|e| panic!("schema of tool {} does not compile: {e}", T::NAME));
        let tool = Arc::new(tool);
        let call: Caller = Arc::new(move |orch, ctx, args| {
            let tool = tool.clone();
            Box::pin(async move {
                let args: T::Args = serde_path_to_error::deserialize(args).map_err(|e| {
                    ToolError::InvalidArguments {
                        tool: T::NAME.into(),
                        field: pointer_of(&e.path().to_string()),
                        message: e.inner().to_string(),
                    }
                })?;
                tool.run(orch, ctx, args)
                    .await
                    .map_err(|source| ToolError::Failed {
                        tool: T::NAME.into(),
                        source,
                    })
            })
        });
        self.tools.insert(
            T::NAME,
            Entry {
                info: ToolInfo {
                    name: T::NAME,
                    description: T::DESCRIPTION,
                    input_schema,
                },
                validator,
                repeatable: T::REPEATABLE,
                call,
            },
        );
    }

    pub fn list(&self) -> Vec<ToolInfo> {
        self.tools.values().map(|e| e.info.clone()).collect()
    }

    /// Validates `args` against the tool's schema, then runs it.
    pub async fn call(
        &self,
        orchestrator: &Orchestrator,
        name: &str,
        args: Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let entry = self.tools.get(name).ok_or_else(|| ToolError::UnknownTool {
            name: name.to_string(),
            known: self.tools.keys().copied().collect::<Vec<_>>().join(", "),
        })?;
        // A tagged union (`oneOf`) fails as a whole, without saying which field is wrong;
        // serde's own error (run by the call) names it, so leave those to it.
        let first = entry.validator.iter_errors(&args).find(|err| {
            !matches!(
                err.kind(),
                jsonschema::error::ValidationErrorKind::OneOfNotValid { .. }
                    | jsonschema::error::ValidationErrorKind::OneOfMultipleValid { .. }
            )
        });
        if let Some(err) = first {
            let mut field = err.instance_path().to_string();
            // A missing property is reported at its parent: name the property itself.
            if let jsonschema::error::ValidationErrorKind::Required { property } = err.kind()
                && let Some(name) = property.as_str()
            {
                field = format!("{field}/{name}");
            }
            let at = if field.is_empty() {
                String::new()
            } else {
                format!(" at `{}`", field.trim_start_matches('/').replace('/', "."))
            };
            return Err(ToolError::InvalidArguments {
                tool: name.to_string(),
                message: format!("{err}{at}"),
                field,
            });
        }
        if let Some(session) = &ctx.session_id
            && !entry.repeatable
        {
            orchestrator.missions().tool_called(session, name, &args);
        }
        (entry.call)(orchestrator, ctx, args).await
    }
}

/// serde_path_to_error writes `a.b[0]`; report it as a JSON pointer like the validator does.
fn pointer_of(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    let mut out = String::new();
    for part in path.split('.') {
        for piece in part.split('[') {
            let piece = piece.trim_end_matches(']');
            if !piece.is_empty() {
                out.push('/');
                out.push_str(piece);
            }
        }
    }
    out
}
