//! LSP framing and lifecycle (tower-lsp-server) over any byte stream, mapping every custom
//! method onto the service and every service error onto a JSON-RPC error.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arbor_protocol::{
    Ack, AgentsListResult, ApplyParams, CheckResult, CheckpointsResult, CloneParams, CommitParams, CommitResult,
    CompareResult, ConfigureParams, DeleteParams, DeleteResult, DiffParams, EventsParams, EventsResult, ExportParams,
    ExportResult, FileParams, ForkParams, ListSessionsParams, ListSessionsResult, MergeParams, MergeResult,
    NewSessionParams, OrphansResult, ProfileListResult, PromoteParams, PromoteResult, PromptParams, PromptResult,
    PullRequest, PullRequestParams, PushParams, PushResult, RespondParams, ResumeParams, ReviewDiff, ReviewFile,
    RewindParams, RewindResult, SendReviewResult, Session, SessionIdParams, SubscribeParams, SubscribeResult, Task,
    TaskDetail, TaskIdParams, TaskListParams, TaskListResult, TaskNewParams, TrialDetail, TrialIdParams,
    TrialNewParams, TrialNewResult, TrialPushParams, TrialRetryParams, WorkflowListParams, WorkflowListResult, method,
};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::jsonrpc::{self, ErrorCode};
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{
    InitializeParams, InitializeResult, InitializedParams, MessageType, ServerCapabilities, ServerInfo,
};
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService, Server};

use super::params::{Lenient, NoParams};
use crate::service::{ClientSink, Connection, Service, ServiceError};

/// Requests handled at once per connection; long requests (stop, delete) must not block others.
const CONCURRENT_REQUESTS: usize = 32;

/// Serves one client on `input`/`output` until it exits or disconnects. Malformed frames are
/// answered by the framing guard and never reach (or stop) the server.
pub async fn serve<I, O>(service: Arc<Service>, input: I, output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    super::guard::guard(input, output, |input, output| serve_frames(service, input, output)).await;
}

async fn serve_frames<I, O>(service: Arc<Service>, input: I, output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (lsp_service, socket) = build(service);
    Server::new(input, output, socket).concurrency_level(CONCURRENT_REQUESTS).serve(lsp_service).await;
}

/// The JSON-RPC service of one connection, with every method registered, and the socket its
/// notifications to the client leave by. Public so requests can be dispatched without a transport
/// (the fuzz targets do).
pub fn build(service: Arc<Service>) -> (LspService<impl LanguageServer>, ClientSocket) {
    LspService::build(|client| Backend::new(service, client))
        .custom_method(method::AGENTS_LIST, Backend::agents_list)
        .custom_method(method::SESSION_NEW, Backend::session_new)
        .custom_method(method::SESSION_LIST, Backend::session_list)
        .custom_method(method::SESSION_GET, Backend::session_get)
        .custom_method(method::SESSION_PROMPT, Backend::session_prompt)
        .custom_method(method::SESSION_CANCEL, Backend::session_cancel)
        .custom_method(method::SESSION_STOP, Backend::session_stop)
        .custom_method(method::SESSION_RESUME, Backend::session_resume)
        .custom_method(method::SESSION_CONFIGURE, Backend::session_configure)
        .custom_method(method::SESSION_DELETE, Backend::session_delete)
        .custom_method(method::SESSION_EVENTS, Backend::session_events)
        .custom_method(method::SESSION_SUBSCRIBE, Backend::session_subscribe)
        .custom_method(method::SESSION_UNSUBSCRIBE, Backend::session_unsubscribe)
        .custom_method(method::SESSION_RESPOND, Backend::session_respond)
        .custom_method(method::SESSION_EXPORT, Backend::session_export)
        .custom_method(method::SESSION_CHECKPOINTS, Backend::session_checkpoints)
        .custom_method(method::SESSION_FORK, Backend::session_fork)
        .custom_method(method::SESSION_CLONE, Backend::session_clone)
        .custom_method(method::SESSION_REWIND, Backend::session_rewind)
        .custom_method(method::SESSION_MERGE, Backend::session_merge)
        .custom_method(method::SESSION_PUSH, Backend::session_push)
        .custom_method(method::SESSION_PR, Backend::session_pr)
        .custom_method(method::SESSION_SEND_REVIEW, Backend::session_send_review)
        .custom_method(method::REVIEW_DIFF, Backend::review_diff)
        .custom_method(method::REVIEW_FILE, Backend::review_file)
        .custom_method(method::REVIEW_APPLY, Backend::review_apply)
        .custom_method(method::REVIEW_COMMIT, Backend::review_commit)
        .custom_method(method::WORKTREE_ORPHANS, Backend::worktree_orphans)
        .custom_method(method::TASK_NEW, Backend::task_new)
        .custom_method(method::TASK_LIST, Backend::task_list)
        .custom_method(method::TASK_GET, Backend::task_get)
        .custom_method(method::TRIAL_NEW, Backend::trial_new)
        .custom_method(method::TRIAL_RETRY, Backend::trial_retry)
        .custom_method(method::TRIAL_CHECK, Backend::trial_check)
        .custom_method(method::TRIAL_COMPARE, Backend::trial_compare)
        .custom_method(method::TRIAL_PUSH, Backend::trial_push)
        .custom_method(method::TRIAL_PROMOTE, Backend::trial_promote)
        .custom_method(method::WORKFLOW_LIST, Backend::workflow_list)
        .custom_method(method::PROFILE_LIST, Backend::profile_list)
        .finish()
}

struct Backend {
    connection: Arc<Connection>,
    client: Client,
}

/// `session/event` as a typed LSP notification.
enum SessionEventNotification {}
impl Notification for SessionEventNotification {
    type Params = Value;
    const METHOD: &'static str = method::NOTIFY_SESSION_EVENT;
}

/// `$/progress` with free-form params (the service builds LSP's WorkDoneProgress values).
enum ProgressNotification {}
impl Notification for ProgressNotification {
    type Params = Value;
    const METHOD: &'static str = crate::service::progress::PROGRESS_METHOD;
}

/// `task/changed` as a typed LSP notification.
enum TaskChangedNotification {}
impl Notification for TaskChangedNotification {
    type Params = Value;
    const METHOD: &'static str = method::NOTIFY_TASK_CHANGED;
}

/// `session/changed` as a typed LSP notification.
enum SessionChangedNotification {}
impl Notification for SessionChangedNotification {
    type Params = Value;
    const METHOD: &'static str = method::NOTIFY_SESSION_CHANGED;
}

struct LspSink(Client);

impl ClientSink for LspSink {
    fn notify(&self, method: &'static str, params: Value) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            match method {
                method::NOTIFY_SESSION_EVENT => self.0.send_notification::<SessionEventNotification>(params).await,
                method::NOTIFY_SESSION_CHANGED => self.0.send_notification::<SessionChangedNotification>(params).await,
                method::NOTIFY_TASK_CHANGED => self.0.send_notification::<TaskChangedNotification>(params).await,
                crate::service::progress::PROGRESS_METHOD => {
                    self.0.send_notification::<ProgressNotification>(params).await
                }
                other => {
                    tracing::error!(method = other, "no LSP notification type for this method")
                }
            }
        })
    }
}

/// The one mapping from service errors to JSON-RPC errors.
fn to_rpc<T>(result: Result<T, ServiceError>) -> jsonrpc::Result<T> {
    result.map_err(|error| jsonrpc::Error {
        code: ErrorCode::from(error.code()),
        message: Cow::Owned(error.to_string()),
        data: None,
    })
}

impl Backend {
    fn new(service: Arc<Service>, client: Client) -> Self {
        Self { connection: Connection::new(service, Arc::new(LspSink(client.clone()))), client }
    }

    /// Takes a request's params, telling the client which of its fields were ignored: under the
    /// protocol's compatibility rule unknown fields do not fail a request, but a misspelt one
    /// must not go unnoticed.
    async fn accept<P>(&self, method: &str, params: Lenient<P>) -> P {
        if !params.ignored.is_empty() {
            let fields = params.ignored.join(", ");
            tracing::info!(method, %fields, "ignored unknown params fields");
            let message =
                format!("{method}: ignored unknown field(s) {fields} (misspelt, or meant for a newer server)");
            self.client.log_message(MessageType::WARNING, message).await;
        }
        params.params
    }

    fn service(&self) -> &Service {
        self.connection.service()
    }

    async fn agents_list(&self, params: Lenient<NoParams>) -> jsonrpc::Result<AgentsListResult> {
        self.accept(method::AGENTS_LIST, params).await;
        to_rpc(self.service().agents_list().await)
    }
    async fn session_new(&self, params: Lenient<NewSessionParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_NEW, params).await;
        to_rpc(self.connection.session_new(params).await)
    }
    async fn session_list(&self, params: Lenient<ListSessionsParams>) -> jsonrpc::Result<ListSessionsResult> {
        let params = self.accept(method::SESSION_LIST, params).await;
        to_rpc(self.service().session_list(params).await)
    }
    async fn session_get(&self, params: Lenient<SessionIdParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_GET, params).await;
        to_rpc(self.service().session_get(params).await)
    }
    async fn session_prompt(&self, params: Lenient<PromptParams>) -> jsonrpc::Result<PromptResult> {
        let params = self.accept(method::SESSION_PROMPT, params).await;
        to_rpc(self.service().session_prompt(params).await)
    }
    async fn session_cancel(&self, params: Lenient<SessionIdParams>) -> jsonrpc::Result<Ack> {
        let params = self.accept(method::SESSION_CANCEL, params).await;
        to_rpc(self.service().session_cancel(params).await)
    }
    async fn session_stop(&self, params: Lenient<SessionIdParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_STOP, params).await;
        to_rpc(self.service().session_stop(params).await)
    }
    async fn session_resume(&self, params: Lenient<ResumeParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_RESUME, params).await;
        to_rpc(self.service().session_resume(params).await)
    }
    async fn session_configure(&self, params: Lenient<ConfigureParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_CONFIGURE, params).await;
        to_rpc(self.service().session_configure(params).await)
    }
    async fn session_delete(&self, params: Lenient<DeleteParams>) -> jsonrpc::Result<DeleteResult> {
        let params = self.accept(method::SESSION_DELETE, params).await;
        to_rpc(self.service().session_delete(params).await)
    }
    async fn session_events(&self, params: Lenient<EventsParams>) -> jsonrpc::Result<EventsResult> {
        let params = self.accept(method::SESSION_EVENTS, params).await;
        to_rpc(self.service().session_events(params).await)
    }
    async fn session_subscribe(&self, params: Lenient<SubscribeParams>) -> jsonrpc::Result<SubscribeResult> {
        let params = self.accept(method::SESSION_SUBSCRIBE, params).await;
        to_rpc(self.connection.subscribe(params).await)
    }
    async fn session_unsubscribe(&self, params: Lenient<SessionIdParams>) -> jsonrpc::Result<Ack> {
        let params = self.accept(method::SESSION_UNSUBSCRIBE, params).await;
        to_rpc(self.connection.unsubscribe(params).await)
    }
    async fn session_respond(&self, params: Lenient<RespondParams>) -> jsonrpc::Result<Ack> {
        let params = self.accept(method::SESSION_RESPOND, params).await;
        to_rpc(self.service().session_respond(params).await)
    }
    async fn session_export(&self, params: Lenient<ExportParams>) -> jsonrpc::Result<ExportResult> {
        let params = self.accept(method::SESSION_EXPORT, params).await;
        to_rpc(self.service().session_export(params).await)
    }
    async fn session_checkpoints(&self, params: Lenient<SessionIdParams>) -> jsonrpc::Result<CheckpointsResult> {
        let params = self.accept(method::SESSION_CHECKPOINTS, params).await;
        to_rpc(self.service().session_checkpoints(params).await)
    }
    async fn session_fork(&self, params: Lenient<ForkParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_FORK, params).await;
        to_rpc(self.service().session_fork(params).await)
    }
    async fn session_clone(&self, params: Lenient<CloneParams>) -> jsonrpc::Result<Session> {
        let params = self.accept(method::SESSION_CLONE, params).await;
        to_rpc(self.service().session_clone(params).await)
    }
    async fn session_rewind(&self, params: Lenient<RewindParams>) -> jsonrpc::Result<RewindResult> {
        let params = self.accept(method::SESSION_REWIND, params).await;
        to_rpc(self.service().session_rewind(params).await)
    }
    async fn session_merge(&self, params: Lenient<MergeParams>) -> jsonrpc::Result<MergeResult> {
        let params = self.accept(method::SESSION_MERGE, params).await;
        to_rpc(self.service().session_merge(params).await)
    }
    async fn session_push(&self, params: Lenient<PushParams>) -> jsonrpc::Result<PushResult> {
        let params = self.accept(method::SESSION_PUSH, params).await;
        to_rpc(self.service().session_push(params).await)
    }
    async fn session_pr(&self, params: Lenient<PullRequestParams>) -> jsonrpc::Result<PullRequest> {
        let params = self.accept(method::SESSION_PR, params).await;
        to_rpc(self.service().session_pr(params).await)
    }
    async fn session_send_review(&self, params: Lenient<SessionIdParams>) -> jsonrpc::Result<SendReviewResult> {
        let params = self.accept(method::SESSION_SEND_REVIEW, params).await;
        to_rpc(self.service().session_send_review(params).await)
    }
    async fn review_diff(&self, params: Lenient<DiffParams>) -> jsonrpc::Result<ReviewDiff> {
        let params = self.accept(method::REVIEW_DIFF, params).await;
        to_rpc(self.service().review_diff(params).await)
    }
    async fn review_file(&self, params: Lenient<FileParams>) -> jsonrpc::Result<ReviewFile> {
        let params = self.accept(method::REVIEW_FILE, params).await;
        to_rpc(self.service().review_file(params).await)
    }
    async fn review_apply(&self, params: Lenient<ApplyParams>) -> jsonrpc::Result<ReviewDiff> {
        let params = self.accept(method::REVIEW_APPLY, params).await;
        to_rpc(self.service().review_apply(params).await)
    }
    async fn review_commit(&self, params: Lenient<CommitParams>) -> jsonrpc::Result<CommitResult> {
        let params = self.accept(method::REVIEW_COMMIT, params).await;
        to_rpc(self.service().review_commit(params).await)
    }
    async fn worktree_orphans(&self, params: Lenient<NoParams>) -> jsonrpc::Result<OrphansResult> {
        self.accept(method::WORKTREE_ORPHANS, params).await;
        to_rpc(self.service().worktree_orphans().await)
    }
    async fn task_new(&self, params: Lenient<TaskNewParams>) -> jsonrpc::Result<Task> {
        let params = self.accept(method::TASK_NEW, params).await;
        to_rpc(self.service().task_new(params).await)
    }
    async fn task_list(&self, params: Lenient<TaskListParams>) -> jsonrpc::Result<TaskListResult> {
        let params = self.accept(method::TASK_LIST, params).await;
        to_rpc(self.service().task_list(params).await)
    }
    async fn task_get(&self, params: Lenient<TaskIdParams>) -> jsonrpc::Result<TaskDetail> {
        let params = self.accept(method::TASK_GET, params).await;
        to_rpc(self.service().task_get(params).await)
    }
    async fn trial_new(&self, params: Lenient<TrialNewParams>) -> jsonrpc::Result<TrialNewResult> {
        let params = self.accept(method::TRIAL_NEW, params).await;
        to_rpc(self.service().trial_new(params).await)
    }
    async fn trial_retry(&self, params: Lenient<TrialRetryParams>) -> jsonrpc::Result<TrialDetail> {
        let params = self.accept(method::TRIAL_RETRY, params).await;
        to_rpc(self.service().trial_retry(params).await)
    }
    async fn trial_check(&self, params: Lenient<TrialIdParams>) -> jsonrpc::Result<CheckResult> {
        let params = self.accept(method::TRIAL_CHECK, params).await;
        to_rpc(self.service().trial_check(params).await)
    }
    async fn trial_compare(&self, params: Lenient<TaskIdParams>) -> jsonrpc::Result<CompareResult> {
        let params = self.accept(method::TRIAL_COMPARE, params).await;
        to_rpc(self.service().trial_compare(params).await)
    }
    async fn trial_push(&self, params: Lenient<TrialPushParams>) -> jsonrpc::Result<PushResult> {
        let params = self.accept(method::TRIAL_PUSH, params).await;
        to_rpc(self.service().trial_push(params).await)
    }
    async fn trial_promote(&self, params: Lenient<PromoteParams>) -> jsonrpc::Result<PromoteResult> {
        let params = self.accept(method::TRIAL_PROMOTE, params).await;
        to_rpc(self.service().trial_promote(params).await)
    }
    async fn workflow_list(&self, params: Lenient<WorkflowListParams>) -> jsonrpc::Result<WorkflowListResult> {
        let params = self.accept(method::WORKFLOW_LIST, params).await;
        to_rpc(self.service().workflow_list(params).await)
    }
    async fn profile_list(&self, params: Lenient<NoParams>) -> jsonrpc::Result<ProfileListResult> {
        self.accept(method::PROFILE_LIST, params).await;
        to_rpc(self.service().profile_list().await)
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: InitializeParams) -> jsonrpc::Result<InitializeResult> {
        let arbor = serde_json::to_value(self.service().capabilities()).expect("capabilities serialise");
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                experimental: Some(json!({ "arbor": arbor })),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo { name: "arbor".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
            ..InitializeResult::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {}

    /// Ends this client's session with the server only: sessions belong to the daemon and keep
    /// running for other clients and later reconnects.
    async fn shutdown(&self) -> jsonrpc::Result<()> {
        Ok(())
    }
}
