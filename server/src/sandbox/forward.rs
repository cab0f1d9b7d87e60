//! The model API across the sandbox's edge. A sandbox without a network of its own reaches its
//! model API only through a Unix socket bound into it: inside, `arbor sandbox-forward` listens on
//! 127.0.0.1:PORT and carries each connection to the socket, then runs the agent; outside, Arbor
//! carries each connection on to the one upstream the agent's base URL names, or, when the agent
//! uses the providers' own hosts, answers HTTP CONNECT for those hosts only.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// Longest CONNECT request head accepted.
const MAX_HEAD_BYTES: usize = 8192;

/// Where the outside end sends connections.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// Always this `host:port`.
    Fixed(String),
    /// An HTTP CONNECT proxy for port 443 of these hosts only.
    Connect(Vec<String>),
}

/// The outside end for one agent process; dropping it stops listening and removes the socket.
pub struct Forwarder {
    task: tokio::task::JoinHandle<()>,
    socket: PathBuf,
}

impl Forwarder {
    /// Listens on `socket` (created 0600 in a private directory) and forwards to `upstream`.
    pub fn start(socket: &Path, upstream: Upstream) -> std::io::Result<Forwarder> {
        if let Some(dir) = socket.parent() {
            crate::paths::create_private_dir(dir)?;
        }
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket)?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Err(error) = serve(stream, &upstream).await {
                        tracing::debug!(%error, "a model API connection from a sandbox ended with an error");
                    }
                });
            }
        });
        Ok(Forwarder { task, socket: socket.to_path_buf() })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

async fn serve(mut inside: UnixStream, upstream: &Upstream) -> std::io::Result<()> {
    match upstream {
        Upstream::Fixed(address) => {
            let mut outside = TcpStream::connect(address).await?;
            tokio::io::copy_bidirectional(&mut inside, &mut outside).await?;
        }
        Upstream::Connect(hosts) => {
            let (head, rest) = read_head(&mut inside).await?;
            let target = connect_target(&head).filter(|(host, port)| *port == 443 && hosts.contains(host));
            let Some((host, port)) = target else {
                inside.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await?;
                return Ok(());
            };
            let mut outside = TcpStream::connect((host.as_str(), port)).await?;
            inside.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
            outside.write_all(&rest).await?;
            tokio::io::copy_bidirectional(&mut inside, &mut outside).await?;
        }
    }
    Ok(())
}

/// Reads up to the end of an HTTP request head; returns the head and any bytes after it.
async fn read_head(stream: &mut UnixStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buffer).into_owned(), rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(std::io::Error::other("the request head is too long"));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// The host and port of a `CONNECT host:port HTTP/1.1` request.
fn connect_target(head: &str) -> Option<(String, u16)> {
    let mut words = head.lines().next()?.split_whitespace();
    if words.next()? != "CONNECT" {
        return None;
    }
    let (host, port) = words.next()?.rsplit_once(':')?;
    Some((host.to_ascii_lowercase(), port.parse().ok()?))
}

/// The inside end, `arbor sandbox-forward`: listens on 127.0.0.1:`port`, carries connections to
/// `socket`, runs `program` and exits with its status.
pub async fn run_inside(socket: PathBuf, port: u16, program: PathBuf, arguments: Vec<String>) -> anyhow::Result<i32> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let socket = socket.clone();
            tokio::spawn(async move {
                if let Ok(mut outside) = UnixStream::connect(&socket).await {
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut outside).await;
                }
            });
        }
    });
    // The agent shares this process's group, so Arbor's signals reach it directly; this process
    // stays until the agent has exited, to keep forwarding its last requests.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut child = tokio::process::Command::new(&program).args(&arguments).spawn()?;
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status?;
                use std::os::unix::process::ExitStatusExt;
                return Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
            }
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::connect_target;

    #[test]
    fn connect_requests_name_their_target() {
        assert_eq!(
            connect_target("CONNECT API.anthropic.com:443 HTTP/1.1\r\nHost: x\r\n"),
            Some(("api.anthropic.com".into(), 443))
        );
        assert_eq!(connect_target("GET / HTTP/1.1\r\n"), None);
    }
}
