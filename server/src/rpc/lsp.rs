//! LSP framing and lifecycle (tower-lsp-server) over any byte stream, mapping every custom
//! method onto the service and every service error onto a JSON-RPC error.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arbor_protocol::{ServerNotification, method};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{self, ErrorCode};
use tower_lsp_server::ls_types::{
    InitializeParams, InitializeResult, InitializedParams, MessageType, ServerCapabilities, ServerInfo,
};
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService, Server};

use super::framing::SharedBody;
use super::params::Lenient;
use crate::service::{ClientSink, Connection, Service, ServiceError};
use crate::store::RenderedEvent;

/// Requests handled at once per connection; long requests (stop, delete) must not block others.
const CONCURRENT_REQUESTS: usize = 32;

/// Serves one client on `input`/`output` until it exits or disconnects. Malformed frames are
/// answered by the framing guard and never reach (or stop) the server.
pub async fn serve<I, O>(service: Arc<Service>, input: I, output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
{
    super::guard::guard(input, output, |input, output, direct| serve_frames(service, input, output, direct)).await;
}

async fn serve_frames<I, O>(service: Arc<Service>, input: I, output: O, direct: mpsc::Sender<SharedBody>)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    let (lsp_service, socket) = build_with(service, Some(direct));
    Server::new(input, output, socket).concurrency_level(CONCURRENT_REQUESTS).serve(lsp_service).await;
}

/// The JSON-RPC service of one connection, with every method registered, and the socket its
/// notifications to the client leave by. Public so requests can be dispatched without a transport
/// (the fuzz targets do).
pub fn build(service: Arc<Service>) -> (LspService<impl LanguageServer>, ClientSocket) {
    build_with(service, None)
}

/// Generates, from the protocol's request table, [`build`] with one registration per request
/// and one `Backend` wrapper per request that decodes the params leniently and calls the
/// connection's handler of the same name. A request in the table without a handler (on
/// [`Connection`] or, through it, on [`Service`]) taking its params type and answering its
/// result type does not compile.
macro_rules! register_requests {
    ($( $(#[doc = $doc:literal])* $konst:ident, $marker:ident, $handler:ident = $name:literal ($params:ty) -> $result:ty; )*) => {
        /// [`build`], with session events sent on `direct` (the guard's writer) rather than
        /// through tower-lsp-server, when given.
        fn build_with(
            service: Arc<Service>,
            direct: Option<mpsc::Sender<SharedBody>>,
        ) -> (LspService<impl LanguageServer>, ClientSocket) {
            LspService::build(|client| Backend::new(service, client, direct))
                $( .custom_method(method::$konst, Backend::$handler) )*
                .finish()
        }

        impl Backend {
            $(
                async fn $handler(&self, params: Lenient<$params>) -> jsonrpc::Result<$result> {
                    let params = self.accept(method::$konst, params).await;
                    to_rpc(self.connection.$handler(params).await)
                }
            )*
        }
    };
}
arbor_protocol::arbor_requests!(register_requests);

struct Backend {
    connection: Arc<Connection>,
    client: Client,
}

/// Generates one LSP notification type per notification of the protocol's table, and the
/// sink that sends a [`ServerNotification`] as the one of its variant.
macro_rules! notification_types {
    ($( $(#[doc = $doc:literal])* $konst:ident, $variant:ident = $name:literal ($params:ty); )*) => {
        mod notifications {
            $(
                $(#[doc = $doc])*
                pub enum $variant {}
                impl tower_lsp_server::ls_types::notification::Notification for $variant {
                    type Params = $params;
                    const METHOD: &'static str = $name;
                }
            )*
        }

        impl ClientSink for LspSink {
            fn notify(&self, notification: ServerNotification) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
                Box::pin(async move {
                    match notification {
                        $( ServerNotification::$variant(params) => {
                            self.client.send_notification::<notifications::$variant>(params).await
                        } )*
                    }
                })
            }

            fn notify_event(&self, event: Arc<RenderedEvent>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
                Box::pin(async move {
                    match &self.direct {
                        // A closed writer means the connection is ending: nothing is left to tell.
                        Some(direct) => {
                            let _ = direct.send(event).await;
                        }
                        None => self.notify(ServerNotification::SessionEvent(
                            serde_json::from_str(event.params()).expect("a rendered event is a session event"),
                        )).await,
                    }
                })
            }
        }
    };
}
arbor_protocol::arbor_notifications!(notification_types);

struct LspSink {
    client: Client,
    /// The connection's writer, when there is one: session events go there as rendered.
    direct: Option<mpsc::Sender<SharedBody>>,
}

/// The one mapping from service errors to JSON-RPC errors.
fn to_rpc<T>(result: Result<T, ServiceError>) -> jsonrpc::Result<T> {
    result.map_err(|error| jsonrpc::Error {
        code: ErrorCode::from(error.code()),
        message: Cow::Owned(error.to_string()),
        data: None,
    })
}

/// Refuses a client that declares (as `capabilities.experimental.arbor.protocolVersion`) a
/// protocol version other than the one this server speaks. A client that declares none is served:
/// within one version every change is compatible (docs/protocol.md, "Versions").
fn check_protocol_version(params: &InitializeParams) -> Result<(), ServiceError> {
    let asked = params.capabilities.experimental.as_ref().and_then(|experimental| experimental.pointer("/arbor/protocolVersion"));
    match asked {
        None => Ok(()),
        Some(version) if version.as_u64() == Some(u64::from(arbor_protocol::PROTOCOL_VERSION)) => Ok(()),
        Some(version) => Err(ServiceError::UnsupportedProtocolVersion(version.to_string())),
    }
}

impl Backend {
    fn new(service: Arc<Service>, client: Client, direct: Option<mpsc::Sender<SharedBody>>) -> Self {
        let sink = LspSink { client: client.clone(), direct };
        Self { connection: Connection::new(service, Arc::new(sink)), client }
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
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> jsonrpc::Result<InitializeResult> {
        to_rpc(check_protocol_version(&params))?;
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
