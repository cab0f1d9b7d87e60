//! A mock of the model APIs the agent CLIs call (Anthropic Messages, OpenAI Responses, Gemini),
//! served over plain HTTP/1.1 on 127.0.0.1 for the real CLIs to talk to offline.
//!
//! A test gives a `Responder`: for each request (method, path, JSON body) it returns a `Reply`
//! built from turns (text, thinking, tool calls), an HTTP error, or a slow stream. Every request
//! is recorded, so a test can check what the CLI sent (such as the earlier history after resume).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The input tokens a text reply reports ([`Reply::text`]).
pub const TEXT_INPUT_TOKENS: u64 = 20;
/// The output tokens a text reply reports.
pub const TEXT_OUTPUT_TOKENS: u64 = 10;
/// The prompt-cache reads every Anthropic reply reports beside its input tokens.
pub const CACHE_READ_TOKENS: u64 = 7;
/// The prompt-cache writes every Anthropic reply reports beside its input tokens.
pub const CACHE_WRITE_TOKENS: u64 = 3;
/// The cached tokens every OpenAI reply counts within its input tokens.
pub const OPENAI_CACHED_TOKENS: u64 = 4;

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// The JSON body (Null when absent or not JSON).
    pub body: Value,
}

/// One block of a model reply.
#[derive(Debug, Clone)]
pub enum Block {
    /// Visible text.
    Text(String),
    /// Thinking (Anthropic only).
    Thinking(String),
    /// A tool call: name and JSON input.
    Tool { name: String, input: Value },
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A streamed model turn.
    Turn { blocks: Vec<Block>, input_tokens: u64, output_tokens: u64, chunk_delay: Duration },
    /// An HTTP error with a JSON body.
    Error { status: u16, message: String, retry_after: Option<u64> },
}

impl Reply {
    /// A quick text reply.
    pub fn text(text: &str) -> Reply {
        Reply::paced(text, Duration::ZERO)
    }

    /// A reply that calls one tool.
    pub fn tool(name: &str, input: Value) -> Reply {
        Reply::Turn {
            blocks: vec![Block::Tool { name: name.to_string(), input }],
            input_tokens: 30,
            output_tokens: 15,
            chunk_delay: Duration::ZERO,
        }
    }

    /// A text whose pieces come `delay` apart, as a model streams tokens: an agent then
    /// writes each as its own update and Arbor, which joins only the chunks it reads back to
    /// back, stores each as its own event.
    pub fn paced(text: &str, delay: Duration) -> Reply {
        Reply::Turn {
            blocks: vec![Block::Text(text.to_string())],
            input_tokens: TEXT_INPUT_TOKENS,
            output_tokens: TEXT_OUTPUT_TOKENS,
            chunk_delay: delay,
        }
    }

    /// A long text streamed slowly (to be interrupted).
    pub fn slow(words: usize, delay: Duration) -> Reply {
        Reply::Turn {
            blocks: vec![Block::Text("slow ".repeat(words))],
            input_tokens: 20,
            output_tokens: words as u64,
            chunk_delay: delay,
        }
    }
}

/// Chooses the reply to a request.
pub type Responder = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running mock.
pub struct MockApi {
    /// Its base URL, `http://ADDRESS:PORT`.
    pub url: String,
    /// Every request received, in order.
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl MockApi {
    /// Starts the mock with `responder`.
    pub async fn start(responder: Responder) -> MockApi {
        Self::start_on("127.0.0.1", responder).await
    }

    /// Starts the mock on `address` (for hosts that reach this machine at another address).
    pub async fn start_on(address: &str, responder: Responder) -> MockApi {
        let listener = TcpListener::bind((address, 0)).await.expect("bind the mock API");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let recorded = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let responder = responder.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, responder, recorded).await;
                });
            }
        });
        MockApi { url, requests }
    }

    /// The requests whose path contains `fragment`.
    pub fn requests_to(&self, fragment: &str) -> Vec<Request> {
        self.requests
            .lock()
            .expect("requests poisoned")
            .iter()
            .filter(|request| request.path.contains(fragment))
            .cloned()
            .collect()
    }
}

async fn serve(stream: TcpStream, responder: Responder, recorded: Arc<Mutex<Vec<Request>>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    while let Some(raw) = crate::http::read_request(&mut reader).await? {
        let request = Request {
            method: raw.method.clone(),
            path: raw.path.clone(),
            body: serde_json::from_slice(&raw.body).unwrap_or(Value::Null),
        };
        let stream = reader.get_mut();
        if raw.method == "HEAD" || raw.method == "GET" {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}")
                .await?;
            continue;
        }
        recorded.lock().expect("requests poisoned").push(request.clone());
        let reply = responder(&request);
        write_reply(stream, &request, reply).await?;
        return Ok(());
    }
    Ok(())
}

async fn write_reply(stream: &mut TcpStream, request: &Request, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Error { status, message, retry_after } => {
            let body = json!({ "type": "error", "error": { "type": "api_error", "message": message, "code": status, "status": "UNAVAILABLE" } }).to_string();
            let retry = retry_after.map(|seconds| format!("retry-after: {seconds}\r\n")).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
        }
        Reply::Turn { blocks, input_tokens, output_tokens, chunk_delay } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n")
                .await?;
            let events = if request.path.contains("/v1/messages") {
                anthropic_events(&blocks, input_tokens, output_tokens)
            } else if request.path.contains("/responses") {
                openai_events(&blocks, input_tokens, output_tokens)
            } else {
                gemini_events(&blocks, input_tokens, output_tokens)
            };
            for event in events {
                stream.write_all(event.as_bytes()).await?;
                stream.flush().await?;
                if !chunk_delay.is_zero() {
                    tokio::time::sleep(chunk_delay).await;
                }
            }
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

fn sse(event: Option<&str>, data: Value) -> String {
    match event {
        Some(event) => format!("event: {event}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// Splits text into small pieces, as a model streams it.
fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_string).collect()
}

fn anthropic_events(blocks: &[Block], input_tokens: u64, output_tokens: u64) -> Vec<String> {
    let mut events = vec![sse(
        Some("message_start"),
        json!({ "type": "message_start", "message": { "id": "msg_mock", "type": "message", "role": "assistant", "model": "claude-mock",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": { "input_tokens": input_tokens, "output_tokens": 1, "cache_creation_input_tokens": CACHE_WRITE_TOKENS, "cache_read_input_tokens": CACHE_READ_TOKENS } } }),
    )];
    let mut stop_reason = "end_turn";
    for (index, block) in blocks.iter().enumerate() {
        match block {
            Block::Text(text) | Block::Thinking(text) => {
                let thinking = matches!(block, Block::Thinking(_));
                let start = if thinking {
                    json!({ "type": "thinking", "thinking": "", "signature": "" })
                } else {
                    json!({ "type": "text", "text": "" })
                };
                events.push(sse(
                    Some("content_block_start"),
                    json!({ "type": "content_block_start", "index": index, "content_block": start }),
                ));
                for piece in pieces(text) {
                    let delta = if thinking {
                        json!({ "type": "thinking_delta", "thinking": piece })
                    } else {
                        json!({ "type": "text_delta", "text": piece })
                    };
                    events.push(sse(
                        Some("content_block_delta"),
                        json!({ "type": "content_block_delta", "index": index, "delta": delta }),
                    ));
                }
                if thinking {
                    events.push(sse(Some("content_block_delta"), json!({ "type": "content_block_delta", "index": index, "delta": { "type": "signature_delta", "signature": "mock" } })));
                }
            }
            Block::Tool { name, input } => {
                stop_reason = "tool_use";
                let start =
                    json!({ "type": "tool_use", "id": format!("toolu_mock_{index}"), "name": name, "input": {} });
                events.push(sse(
                    Some("content_block_start"),
                    json!({ "type": "content_block_start", "index": index, "content_block": start }),
                ));
                let delta = json!({ "type": "input_json_delta", "partial_json": input.to_string() });
                events.push(sse(
                    Some("content_block_delta"),
                    json!({ "type": "content_block_delta", "index": index, "delta": delta }),
                ));
            }
        }
        events.push(sse(Some("content_block_stop"), json!({ "type": "content_block_stop", "index": index })));
    }
    events.push(sse(
        Some("message_delta"),
        json!({ "type": "message_delta", "delta": { "stop_reason": stop_reason, "stop_sequence": null }, "usage": { "output_tokens": output_tokens } }),
    ));
    events.push(sse(Some("message_stop"), json!({ "type": "message_stop" })));
    events
}

fn openai_events(blocks: &[Block], input_tokens: u64, output_tokens: u64) -> Vec<String> {
    let mut events = vec![sse(
        Some("response.created"),
        json!({ "type": "response.created", "response": { "id": "resp_mock", "status": "in_progress" } }),
    )];
    for (index, block) in blocks.iter().enumerate() {
        match block {
            Block::Thinking(text) => {
                let item = json!({ "type": "reasoning", "id": format!("rs_mock_{index}"), "summary": [{ "type": "summary_text", "text": text }] });
                events.push(sse(Some("response.output_item.added"), json!({ "type": "response.output_item.added", "output_index": index, "item": { "type": "reasoning", "id": format!("rs_mock_{index}"), "summary": [] } })));
                events.push(sse(
                    Some("response.output_item.done"),
                    json!({ "type": "response.output_item.done", "output_index": index, "item": item }),
                ));
            }
            Block::Text(text) => {
                let item_id = format!("msg_mock_{index}");
                events.push(sse(
                    Some("response.output_item.added"),
                    json!({ "type": "response.output_item.added", "output_index": index, "item": { "type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": [] } }),
                ));
                for piece in pieces(text) {
                    events.push(sse(
                        Some("response.output_text.delta"),
                        json!({ "type": "response.output_text.delta", "item_id": item_id, "output_index": index, "content_index": 0, "delta": piece }),
                    ));
                }
                events.push(sse(
                    Some("response.output_item.done"),
                    json!({ "type": "response.output_item.done", "output_index": index, "item": { "type": "message", "id": item_id, "role": "assistant",
                        "status": "completed", "content": [{ "type": "output_text", "text": text, "annotations": [] }] } }),
                ));
            }
            Block::Tool { name, input } => {
                // A string input is a freeform (custom) tool such as Codex's apply_patch.
                let item = match input.as_str() {
                    Some(text) => {
                        json!({ "type": "custom_tool_call", "id": format!("ctc_mock_{index}"), "call_id": format!("call_mock_{index}"),
                        "name": name, "input": text, "status": "completed" })
                    }
                    None => {
                        json!({ "type": "function_call", "id": format!("fc_mock_{index}"), "call_id": format!("call_mock_{index}"),
                        "name": name, "arguments": input.to_string(), "status": "completed" })
                    }
                };
                events.push(sse(
                    Some("response.output_item.added"),
                    json!({ "type": "response.output_item.added", "output_index": index, "item": item }),
                ));
                events.push(sse(
                    Some("response.output_item.done"),
                    json!({ "type": "response.output_item.done", "output_index": index, "item": item }),
                ));
            }
        }
    }
    events.push(sse(
        Some("response.completed"),
        json!({ "type": "response.completed", "response": { "id": "resp_mock", "status": "completed",
            "usage": { "input_tokens": input_tokens, "input_tokens_details": { "cached_tokens": OPENAI_CACHED_TOKENS }, "output_tokens": output_tokens,
                "output_tokens_details": { "reasoning_tokens": 0 }, "total_tokens": input_tokens + output_tokens } } }),
    ));
    events
}

fn gemini_events(blocks: &[Block], input_tokens: u64, output_tokens: u64) -> Vec<String> {
    let mut events = Vec::new();
    let usage = json!({ "promptTokenCount": input_tokens, "candidatesTokenCount": output_tokens, "totalTokenCount": input_tokens + output_tokens });
    for block in blocks {
        match block {
            Block::Text(text) | Block::Thinking(text) => {
                let thought = matches!(block, Block::Thinking(_));
                for piece in pieces(text) {
                    let part =
                        if thought { json!({ "text": piece, "thought": true }) } else { json!({ "text": piece }) };
                    events.push(sse(
                        None,
                        json!({ "candidates": [{ "content": { "parts": [part], "role": "model" }, "index": 0 }] }),
                    ));
                }
            }
            Block::Tool { name, input } => {
                events.push(sse(None, json!({ "candidates": [{ "content": { "parts": [{ "functionCall": { "name": name, "args": input } }], "role": "model" }, "index": 0 }] })));
            }
        }
    }
    events.push(sse(None, json!({ "candidates": [{ "content": { "parts": [{ "text": "" }], "role": "model" }, "finishReason": "STOP", "index": 0 }], "usageMetadata": usage })));
    events
}
