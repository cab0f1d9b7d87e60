//! LSP work-done progress (`$/progress`) for long operations, reported to the client that asked
//! with a `workDoneToken`.

use std::sync::Arc;

use arbor_protocol::{ProgressNotification, ProgressToken, ServerNotification, WorkDoneProgress};

use super::ClientSink;

/// Reports progress to one client under one token, or nowhere.
pub struct Progress {
    target: Option<(Arc<dyn ClientSink>, ProgressToken)>,
}

impl Progress {
    /// Progress that is not reported.
    pub fn none() -> Self {
        Self { target: None }
    }

    /// Progress reported to `sink` when the client gave a token.
    pub fn new(sink: Arc<dyn ClientSink>, token: Option<ProgressToken>) -> Self {
        Self { target: token.map(|token| (sink, token)) }
    }

    async fn send(&self, value: WorkDoneProgress) {
        if let Some((sink, token)) = &self.target {
            sink.notify(ServerNotification::Progress(ProgressNotification { token: token.clone(), value })).await;
        }
    }

    /// Starts the operation.
    pub async fn begin(&self, title: &str) {
        self.send(WorkDoneProgress::Begin { title: title.into(), cancellable: false, percentage: 0 }).await;
    }

    /// Reports a step.
    pub async fn report(&self, message: &str, percentage: u32) {
        self.send(WorkDoneProgress::Report { message: message.into(), percentage }).await;
    }

    /// Ends the operation.
    pub async fn end(&self, message: &str) {
        self.send(WorkDoneProgress::End { message: message.into() }).await;
    }
}
