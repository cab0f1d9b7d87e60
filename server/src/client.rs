//! A small client for Arbor's protocol (LSP-framed JSON-RPC over any byte stream), used by the
//! CLI, the benchmark and the end-to-end tests.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::rpc::framing::{Frame, FrameReader, write_frame};
use crate::rpc::pending::PendingRequests;

/// An error answer from the server, or a failure to get one.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// JSON-RPC error code (see `arbor_protocol::error_code`); 0 when the connection failed.
    pub code: i64,
    /// The server's message.
    pub message: String,
}

impl RpcError {
    fn disconnected() -> Self {
        RpcError { code: 0, message: "the connection to the server closed".into() }
    }
}

/// A notification from the server.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Its method, such as `session/event`.
    pub method: String,
    /// Its params.
    pub params: Value,
}

type Pending = Arc<PendingRequests<oneshot::Sender<Result<Value, RpcError>>>>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A connected client.
pub struct RpcClient {
    writer: tokio::sync::Mutex<Writer>,
    pending: Pending,
}

impl RpcClient {
    /// Starts a client on a byte stream. Server notifications arrive on the returned receiver.
    pub fn new<R, W>(reader: R, writer: W) -> (Arc<RpcClient>, mpsc::UnboundedReceiver<Notification>)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let pending: Pending = Arc::default();
        let (notifications, receiver) = mpsc::unbounded_channel();
        let client =
            Arc::new(RpcClient { writer: tokio::sync::Mutex::new(Box::new(writer)), pending: pending.clone() });
        tokio::spawn(async move {
            // The server is trusted to send frames of any size (a large diff, a long history page).
            let mut reader = FrameReader::new(reader, usize::MAX);
            while let Ok(Some(frame)) = reader.next_frame().await {
                let Frame::Body(body) = frame else { continue };
                let Ok(message) = serde_json::from_slice::<Value>(&body) else {
                    continue;
                };
                if let Some(method) = message["method"].as_str() {
                    if message.get("id").is_none() {
                        let _ = notifications
                            .send(Notification { method: method.to_string(), params: message["params"].clone() });
                    }
                    continue;
                }
                let Some(id) = message["id"].as_u64() else {
                    continue;
                };
                let result = match message.get("error") {
                    Some(error) => Err(RpcError {
                        code: error["code"].as_i64().unwrap_or_default(),
                        message: error["message"].as_str().unwrap_or_default().to_string(),
                    }),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
                pending.resolve(id, result);
            }
            pending.close(RpcError::disconnected());
        });
        (client, receiver)
    }

    /// Sends a request and waits for its result.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (reply, answer) = oneshot::channel();
        let id = self.pending.insert(reply);
        let mut message = json!({ "jsonrpc": "2.0", "id": id, "method": method });
        if !params.is_null() {
            message["params"] = params;
        }
        self.send_raw(message.to_string().as_bytes()).await?;
        answer.await.map_err(|_| RpcError::disconnected())?
    }

    /// Sends a request with typed params and result.
    pub async fn call<P: Serialize, R: DeserializeOwned>(&self, method: &str, params: &P) -> Result<R, RpcError> {
        let params = serde_json::to_value(params).expect("params serialise");
        let result = self.request(method, params).await?;
        serde_json::from_value(result)
            .map_err(|error| RpcError { code: 0, message: format!("unexpected result of {method}: {error}") })
    }

    /// Sends a notification.
    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RpcError> {
        let message = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        self.send_raw(message.to_string().as_bytes()).await
    }

    /// Sends `body` as one frame, whatever it contains (tests use this for malformed input).
    pub async fn send_raw(&self, body: &[u8]) -> Result<(), RpcError> {
        let mut writer = self.writer.lock().await;
        write_frame(&mut **writer, body).await.map_err(|_| RpcError::disconnected())
    }

    /// Sends bytes as they are, without framing.
    pub async fn send_bytes(&self, bytes: &[u8]) -> Result<(), RpcError> {
        let mut writer = self.writer.lock().await;
        writer.write_all(bytes).await.map_err(|_| RpcError::disconnected())?;
        writer.flush().await.map_err(|_| RpcError::disconnected())
    }

    /// The LSP handshake: `initialize` then `initialized`. Returns the initialize result.
    pub async fn initialize(&self) -> Result<Value, RpcError> {
        let result = self
            .request(
                "initialize",
                json!({ "processId": std::process::id(), "capabilities": {}, "clientInfo": { "name": "arbor-cli" } }),
            )
            .await?;
        self.notify("initialized", json!({})).await?;
        Ok(result)
    }

    /// The LSP goodbye: `shutdown` then `exit`.
    pub async fn shutdown(&self) -> Result<(), RpcError> {
        self.request("shutdown", Value::Null).await?;
        self.notify("exit", Value::Null).await
    }
}
