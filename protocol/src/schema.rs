//! Generation of `schema/arbor.schema.json`: one document with a definition for every wire type
//! and a table of methods and notifications naming their params and result types.

use schemars::SchemaGenerator;
use serde_json::{Map, Value, json};

use crate::{events::*, forge::*, method, review::*, tasks::*, types::*};

/// Builds the whole protocol schema as JSON.
pub fn protocol_schema() -> Value {
    let mut generator = SchemaGenerator::default();
    let mut methods = Map::new();

    macro_rules! request {
        ($name:expr, $params:ty, $result:ty) => {{
            let params = generator.subschema_for::<$params>().to_value();
            let result = generator.subschema_for::<$result>().to_value();
            methods.insert($name.to_string(), json!({ "params": params, "result": result }));
        }};
    }

    let agents_result = generator.subschema_for::<AgentsListResult>().to_value();
    methods.insert(method::AGENTS_LIST.to_string(), json!({ "params": Value::Null, "result": agents_result }));
    request!(method::SESSION_NEW, NewSessionParams, Session);
    request!(method::SESSION_LIST, ListSessionsParams, ListSessionsResult);
    request!(method::SESSION_GET, SessionIdParams, Session);
    request!(method::SESSION_PROMPT, PromptParams, PromptResult);
    request!(method::SESSION_CANCEL, SessionIdParams, Ack);
    request!(method::SESSION_STOP, SessionIdParams, Session);
    request!(method::SESSION_RESUME, ResumeParams, Session);
    request!(method::SESSION_CONFIGURE, ConfigureParams, Session);
    request!(method::SESSION_DELETE, DeleteParams, DeleteResult);
    request!(method::SESSION_EVENTS, EventsParams, EventsResult);
    request!(method::SESSION_SUBSCRIBE, SubscribeParams, SubscribeResult);
    request!(method::SESSION_UNSUBSCRIBE, SessionIdParams, Ack);
    request!(method::SESSION_RESPOND, RespondParams, Ack);
    request!(method::SESSION_EXPORT, ExportParams, ExportResult);
    request!(method::SESSION_CHECKPOINTS, SessionIdParams, CheckpointsResult);
    request!(method::SESSION_FORK, ForkParams, Session);
    request!(method::SESSION_CLONE, CloneParams, Session);
    request!(method::SESSION_REWIND, RewindParams, RewindResult);
    request!(method::SESSION_MERGE, MergeParams, MergeResult);
    request!(method::SESSION_PUSH, PushParams, PushResult);
    request!(method::SESSION_PR, PullRequestParams, PullRequest);
    request!(method::SESSION_SEND_REVIEW, SessionIdParams, SendReviewResult);
    request!(method::REVIEW_DIFF, DiffParams, ReviewDiff);
    request!(method::REVIEW_FILE, FileParams, ReviewFile);
    request!(method::REVIEW_APPLY, ApplyParams, ReviewDiff);
    request!(method::REVIEW_COMMIT, CommitParams, CommitResult);
    request!(method::TASK_NEW, TaskNewParams, Task);
    request!(method::TASK_LIST, TaskListParams, TaskListResult);
    request!(method::TASK_GET, TaskIdParams, TaskDetail);
    request!(method::TRIAL_NEW, TrialNewParams, TrialNewResult);
    request!(method::TRIAL_RETRY, TrialRetryParams, TrialDetail);
    request!(method::TRIAL_CHECK, TrialIdParams, CheckResult);
    request!(method::TRIAL_COMPARE, TaskIdParams, CompareResult);
    request!(method::TRIAL_PUSH, TrialPushParams, PushResult);
    request!(method::TRIAL_PROMOTE, PromoteParams, PromoteResult);
    request!(method::WORKFLOW_LIST, WorkflowListParams, WorkflowListResult);

    let orphans_result = generator.subschema_for::<OrphansResult>().to_value();
    methods.insert(method::WORKTREE_ORPHANS.to_string(), json!({ "params": Value::Null, "result": orphans_result }));

    let profiles_result = generator.subschema_for::<ProfileListResult>().to_value();
    methods.insert(method::PROFILE_LIST.to_string(), json!({ "params": Value::Null, "result": profiles_result }));

    let mut notifications = Map::new();
    notifications.insert(
        method::NOTIFY_SESSION_EVENT.to_string(),
        json!({ "params": generator.subschema_for::<SessionEventNotification>().to_value() }),
    );
    notifications.insert(
        method::NOTIFY_SESSION_CHANGED.to_string(),
        json!({ "params": generator.subschema_for::<SessionChangedNotification>().to_value() }),
    );
    notifications.insert(
        method::NOTIFY_TASK_CHANGED.to_string(),
        json!({ "params": generator.subschema_for::<TaskChangedNotification>().to_value() }),
    );
    let capabilities = generator.subschema_for::<ArborCapabilities>().to_value();

    let definitions: Map<String, Value> =
        generator.definitions().iter().map(|(name, schema)| (name.clone(), schema.clone())).collect();

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Arbor protocol",
        "description": "Wire types of the Arbor protocol. Generated from the arbor-protocol crate; do not edit.",
        "protocolVersion": crate::PROTOCOL_VERSION,
        "initializeCapability": capabilities,
        "methods": methods,
        "notifications": notifications,
        "$defs": definitions,
    })
}

/// The schema as the pretty-printed text committed in `schema/arbor.schema.json`.
pub fn protocol_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&protocol_schema()).expect("schema serialises");
    text.push('\n');
    text
}
