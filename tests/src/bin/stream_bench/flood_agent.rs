//! The flood agent: a minimal Agent Client Protocol agent whose turns are load, not work. Its
//! prompt names the load: `flood N` writes N pre-rendered `agent_message_chunk` updates as fast as
//! the pipe takes them; `alternating N` the same with every other one an `agent_thought_chunk`;
//! `steady RATE SECONDS` writes RATE updates a second for SECONDS, each
//! carrying the microsecond it was written (`t<micros> `), so a subscriber can measure delivery
//! latency with a clock finer than the protocol's millisecond `at`.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The agent's one session id: Arbor runs one session per agent process.
const SESSION_ID: &str = "flood";

/// What one prompt asks the agent to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// This many chunks, back to back.
    Flood(usize),
    /// This many chunks, back to back, alternately of the message and of the thinking, so that
    /// no two consecutive ones belong to the same stream.
    Alternating(usize),
    /// This many chunks a second, for this many seconds.
    Steady { rate: usize, seconds: f64 },
}

impl Load {
    /// The prompt text that asks for this load.
    pub fn prompt(self) -> String {
        match self {
            Load::Flood(chunks) => format!("flood {chunks}"),
            Load::Alternating(chunks) => format!("alternating {chunks}"),
            Load::Steady { rate, seconds } => format!("steady {rate} {seconds}"),
        }
    }

    /// Reads a load from prompt text; anything else is a turn with no output.
    fn parse(text: &str) -> Option<Load> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["flood", chunks, ..] => chunks.parse().ok().map(Load::Flood),
            ["alternating", chunks, ..] => chunks.parse().ok().map(Load::Alternating),
            ["steady", rate, seconds, ..] => {
                Some(Load::Steady { rate: rate.parse().ok()?, seconds: seconds.parse().ok()? })
            }
            _ => None,
        }
    }

    /// The chunks this load writes in all.
    pub fn chunks(self) -> usize {
        match self {
            Load::Flood(chunks) | Load::Alternating(chunks) => chunks,
            Load::Steady { rate, seconds } => (rate as f64 * seconds) as usize,
        }
    }
}

/// Microseconds since the Unix epoch: the clock the agent stamps and the subscriber reads.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_micros() as u64
}

/// One `session/update` line carrying `text` as a chunk of the message, or of the thinking.
fn update_line(kind: &str, text: &str) -> String {
    let update = json!({
        "jsonrpc": "2.0",
        "method": "session/update",
        "params": { "sessionId": SESSION_ID, "update": {
            "sessionUpdate": kind, "content": { "type": "text", "text": text } } },
    });
    format!("{update}\n")
}

fn chunk_line(text: &str) -> String {
    update_line("agent_message_chunk", text)
}

fn write_load(out: &mut impl Write, load: Load) -> std::io::Result<()> {
    match load {
        Load::Flood(chunks) => {
            // Rendered before the first write, so the agent costs nothing but the pipe.
            let rendered = chunk_line("token ").repeat(chunks);
            out.write_all(rendered.as_bytes())?;
        }
        Load::Alternating(chunks) => {
            let pair = chunk_line("token ") + &update_line("agent_thought_chunk", "thought ");
            let mut rendered = pair.repeat(chunks / 2);
            if chunks % 2 == 1 {
                rendered.push_str(&chunk_line("token "));
            }
            out.write_all(rendered.as_bytes())?;
        }
        Load::Steady { rate, .. } => {
            let started = Instant::now();
            for index in 0..load.chunks() {
                let due = started + Duration::from_secs_f64(index as f64 / rate as f64);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                out.write_all(chunk_line(&format!("t{} ", now_micros())).as_bytes())?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

fn prompt_text(params: &Value) -> String {
    let blocks = params["prompt"].as_array().into_iter().flatten();
    blocks.filter_map(|block| block["text"].as_str()).collect::<Vec<_>>().join(" ")
}

/// Serves ACP on stdin and stdout until stdin ends.
pub fn run() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    for line in stdin.lines() {
        let Ok(message) = serde_json::from_str::<Value>(&line?) else { continue };
        let id = message["id"].clone();
        let result = match message["method"].as_str() {
            Some("initialize") => json!({ "protocolVersion": 1, "agentCapabilities": {} }),
            Some("session/new") => json!({ "sessionId": SESSION_ID }),
            Some("session/prompt") => {
                if let Some(load) = Load::parse(&prompt_text(&message["params"])) {
                    write_load(&mut out, load)?;
                }
                json!({ "stopReason": "end_turn" })
            }
            _ if id.is_null() => continue,
            _ => {
                let error = json!({ "code": -32601, "message": "the flood agent does not do that" });
                writeln!(out, "{}", json!({ "jsonrpc": "2.0", "id": id, "error": error }))?;
                out.flush()?;
                continue;
            }
        };
        writeln!(out, "{}", json!({ "jsonrpc": "2.0", "id": id, "result": result }))?;
        out.flush()?;
    }
    Ok(())
}
