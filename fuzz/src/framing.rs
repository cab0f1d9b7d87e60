//! The framing guard: bytes in, frames and parse errors out. Inputs are runs of frames with
//! well-formed or broken headers around JSON-RPC requests (mutated), arbitrary JSON or bytes, and
//! raw bytes between them.
//!
//! Contract: reading frames from any bytes ends; the guard, in front of a server that echoes what
//! reaches it, finishes once the input ends and writes only frames holding JSON objects; given
//! well-delimited frames, it answers each at most once and still serves a valid request that
//! follows any number of bad ones.

use std::time::Duration;

use arbor_server::rpc::framing::{Frame, FrameReader, MAX_FRAME_BYTES, write_frame};
use arbor_server::rpc::guard::guard;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, DuplexStream};

use crate::Target;
use crate::input::{Mutation, json, mutate, mutations, string};

/// Longest a round through the guard may take.
const ROUND_LIMIT: Duration = Duration::from_secs(10);
/// The id of the request appended after well-delimited frames, which must come back.
const FINAL_ID: &str = "fuzz-final";

/// How a frame's header block is written.
#[derive(Debug, Clone)]
pub enum Header {
    /// `Content-Length: <exact>`.
    Exact,
    /// The header name in lower case.
    LowerCase,
    /// Lines ended by `\n` alone.
    LineFeedOnly,
    /// Another header before Content-Length.
    Extra(String),
    /// Blank lines before the header block.
    LeadingBlank,
    /// This text as the Content-Length value.
    Length(String),
    /// A length off from the body's by this much.
    OffBy(i64),
    /// No Content-Length at all.
    Missing,
    /// Content-Length twice, the second with this text.
    Duplicate(String),
}

impl Header {
    /// Whether the frame's end is where its header says, so the next frame starts after it.
    fn delimits(&self) -> bool {
        matches!(
            self,
            Header::Exact | Header::LowerCase | Header::LineFeedOnly | Header::Extra(_) | Header::LeadingBlank
        )
    }

    fn render(&self, body: &[u8]) -> Vec<u8> {
        let length = body.len();
        let header = match self {
            Header::Exact => format!("Content-Length: {length}\r\n\r\n"),
            Header::LowerCase => format!("content-length: {length}\r\n\r\n"),
            Header::LineFeedOnly => format!("Content-Length: {length}\n\n"),
            Header::Extra(value) => {
                let value = value.replace(['\r', '\n'], " ");
                format!("Content-Type: {value}\r\nContent-Length: {length}\r\n\r\n")
            }
            Header::LeadingBlank => format!("\r\n\r\nContent-Length: {length}\r\n\r\n"),
            Header::Length(text) => format!("Content-Length: {text}\r\n\r\n"),
            Header::OffBy(delta) => format!("Content-Length: {}\r\n\r\n", length as i64 + delta),
            Header::Missing => "Content-Type: application/json\r\n\r\n".to_string(),
            Header::Duplicate(text) => format!("Content-Length: {length}\r\nContent-Length: {text}\r\n\r\n"),
        };
        let mut frame = header.into_bytes();
        frame.extend_from_slice(body);
        frame
    }
}

/// What a frame carries.
#[derive(Debug, Clone)]
pub enum Body {
    /// A recorded request, mutated.
    Request(usize, Vec<(usize, Mutation)>),
    /// Any JSON value.
    Json(Value),
    /// Any bytes.
    Bytes(Vec<u8>),
}

/// One part of the byte stream.
#[derive(Debug, Clone)]
pub enum Piece {
    /// A frame.
    Frame(Header, Body),
    /// Bytes outside any frame.
    Raw(Vec<u8>),
}

/// The framing target.
pub struct Framing {
    requests: Vec<Value>,
    runtime: tokio::runtime::Runtime,
}

impl Framing {
    /// The target, with requests built from the params corpus.
    pub fn new() -> Self {
        let corpus: serde_json::Map<String, Value> =
            serde_json::from_str(crate::params::CORPUS).expect("the params corpus is a JSON object");
        let requests =
            corpus
                .iter()
                .flat_map(|(method, seeds)| {
                    seeds.as_array().into_iter().flatten().enumerate().map(
                        move |(id, params)| json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }),
                    )
                })
                .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        Self { requests, runtime }
    }

    fn body(&self, body: &Body) -> Vec<u8> {
        match body {
            Body::Request(index, mutations) => {
                let mut request = self.requests[index % self.requests.len()].clone();
                mutate(&mut request, mutations);
                request.to_string().into_bytes()
            }
            Body::Json(value) => value.to_string().into_bytes(),
            Body::Bytes(bytes) => bytes.clone(),
        }
    }
}

impl Default for Framing {
    fn default() -> Self {
        Self::new()
    }
}

fn header() -> impl Strategy<Value = Header> {
    prop_oneof![
        6 => Just(Header::Exact),
        1 => Just(Header::LowerCase),
        1 => Just(Header::LineFeedOnly),
        1 => string().prop_map(Header::Extra),
        1 => Just(Header::LeadingBlank),
        1 => string().prop_map(Header::Length),
        1 => (-3i64..4).prop_map(Header::OffBy),
        1 => Just(Header::Missing),
        1 => string().prop_map(Header::Duplicate),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        6 => (any::<usize>(), mutations()).prop_map(|(index, mutations)| Body::Request(index, mutations)),
        2 => json().prop_map(Body::Json),
        1 => proptest::collection::vec(any::<u8>(), 0..48).prop_map(Body::Bytes),
    ]
}

impl Target for Framing {
    type Input = Vec<Piece>;
    const NAME: &'static str = "framing";

    fn strategy(&self) -> BoxedStrategy<Self::Input> {
        let piece = prop_oneof![
            8 => (header(), body()).prop_map(|(header, body)| Piece::Frame(header, body)),
            1 => proptest::collection::vec(any::<u8>(), 0..48).prop_map(Piece::Raw),
        ];
        proptest::collection::vec(piece, 1..8).boxed()
    }

    fn check(&self, pieces: &Self::Input) -> Result<(), String> {
        let mut bytes = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Frame(header, body) => bytes.extend(header.render(&self.body(body))),
                Piece::Raw(raw) => bytes.extend_from_slice(raw),
            }
        }
        let delimited = pieces.iter().all(|piece| matches!(piece, Piece::Frame(header, _) if header.delimits()));
        if delimited {
            let last = json!({ "jsonrpc": "2.0", "id": FINAL_ID, "method": "session/list", "params": {} });
            bytes.extend(Header::Exact.render(last.to_string().as_bytes()));
        }
        self.runtime.block_on(async {
            tokio::time::timeout(ROUND_LIMIT, read_all_frames(&bytes))
                .await
                .map_err(|_| "reading frames from a finite input did not end".to_string())??;
            let answers = tokio::time::timeout(ROUND_LIMIT, through_guard(&bytes))
                .await
                .map_err(|_| "the guard did not finish after its input ended".to_string())??;
            // Only well-delimited frames have a count: the bytes of a broken one can read as any
            // number of header blocks.
            if !delimited {
                return Ok(());
            }
            if answers.len() > pieces.len() + 1 {
                return Err(format!("{} answers to {} frames", answers.len(), pieces.len() + 1));
            }
            if !answers.iter().any(|answer| answer["id"] == FINAL_ID) {
                return Err(format!("a valid request after well-delimited frames was not served: {answers:?}"));
            }
            Ok(())
        })
    }
}

/// Reads frames until the input ends; every frame read is a body or a header error.
async fn read_all_frames(bytes: &[u8]) -> Result<(), String> {
    let mut reader = FrameReader::new(bytes, MAX_FRAME_BYTES);
    while let Ok(Some(_)) = reader.next_frame().await {}
    Ok(())
}

/// Runs the guard over `bytes` with an echoing server behind it; returns every frame it wrote,
/// each of which must be a JSON object.
async fn through_guard(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let (output, mut client) = tokio::io::duplex(1 << 20);
    let written = async move {
        let mut written = Vec::new();
        client.read_to_end(&mut written).await.map(|_| written)
    };
    let ((), written) = tokio::join!(guard(bytes, output, |input, output, _direct| echo(input, output)), written);
    let written = written.map_err(|error| format!("reading the guard's output: {error}"))?;
    let mut reader = FrameReader::new(&written[..], usize::MAX);
    let mut answers = Vec::new();
    loop {
        match reader.next_frame().await {
            Ok(Some(Frame::Body(body))) => match serde_json::from_slice::<Value>(&body) {
                Ok(answer @ Value::Object(_)) => answers.push(answer),
                _ => return Err(format!("the guard wrote a frame that is not a JSON object: {body:?}")),
            },
            Ok(Some(Frame::BadHeader(message))) => return Err(format!("the guard wrote a bad header: {message}")),
            Ok(None) => return Ok(answers),
            Err(error) => return Err(format!("the guard wrote a cut frame: {error}")),
        }
    }
}

/// A server that sends back every frame it is given.
async fn echo(input: DuplexStream, mut output: DuplexStream) {
    let mut reader = FrameReader::new(input, usize::MAX);
    while let Ok(Some(Frame::Body(body))) = reader.next_frame().await {
        if write_frame(&mut output, &body).await.is_err() {
            return;
        }
    }
}
