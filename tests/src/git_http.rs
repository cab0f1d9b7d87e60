//! A git remote over smart HTTP: `git http-backend` run as a CGI program behind a small HTTP/1.1
//! server on 127.0.0.1 that demands basic auth, so a push has to find a user name and password
//! the way git would (a credential helper). Hooks of the served repositories run as on any git
//! server, and what they print reaches the client on the side band.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{RawRequest, read_request};

/// A request the server received: its path and the `Authorization` header it carried.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path with query.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Whether it was let through.
    pub accepted: bool,
}

/// A running git HTTP server.
#[derive(Clone)]
pub struct GitHttpServer {
    /// `http://127.0.0.1:PORT`; a bare repository `ROOT/NAME.git` is at `URL/NAME.git`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Clone)]
struct Serving {
    root: PathBuf,
    user: String,
    expected: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl GitHttpServer {
    /// Serves the bare repositories under `root`, to `user` with `password` only.
    pub async fn start(root: PathBuf, user: &str, password: &str) -> GitHttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the git HTTP server");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let serving =
            Serving { root, user: user.to_string(), expected: format!("Basic {credentials}"), seen: seen.clone() };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serving = serving.clone();
                tokio::spawn(async move {
                    let _ = serving.serve(stream).await;
                });
            }
        });
        GitHttpServer { url, seen }
    }

    /// Every request received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen poisoned").clone()
    }
}

impl Serving {
    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader).await? {
            let authorization = request.header("authorization").map(str::to_string);
            let accepted = authorization.as_deref() == Some(self.expected.as_str());
            self.seen.lock().expect("seen poisoned").push(Seen { path: request.path.clone(), authorization, accepted });
            let answer = if accepted {
                self.backend(&request).await?
            } else {
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n"
                    .to_vec()
            };
            reader.get_mut().write_all(&answer).await?;
        }
        Ok(())
    }

    /// Runs `git http-backend` for one request and turns its CGI answer into an HTTP one.
    async fn backend(&self, request: &RawRequest) -> std::io::Result<Vec<u8>> {
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let mut child = tokio::process::Command::new("git")
            .arg("http-backend")
            .env("GIT_PROJECT_ROOT", &self.root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", &request.method)
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("CONTENT_TYPE", request.header("content-type").unwrap_or_default())
            .env("CONTENT_LENGTH", request.body.len().to_string())
            .env("REMOTE_USER", &self.user)
            .env("REMOTE_ADDR", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().expect("stdin");
        let body = request.body.clone();
        let feeding = tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
        let mut output = Vec::new();
        child.stdout.take().expect("stdout").read_to_end(&mut output).await?;
        let _ = feeding.await;
        child.wait().await?;
        Ok(cgi_to_http(&output))
    }
}

/// A CGI answer (headers, a blank line, the body; `Status:` for anything but 200) as HTTP/1.1.
fn cgi_to_http(output: &[u8]) -> Vec<u8> {
    let (head, body) = match output.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(end) => (&output[..end], &output[end + 4..]),
        None => match output.windows(2).position(|window| window == b"\n\n") {
            Some(end) => (&output[..end], &output[end + 2..]),
            None => (&output[..0], output),
        },
    };
    let mut status = "200 OK".to_string();
    let mut headers = String::new();
    for line in String::from_utf8_lossy(head).lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => status = value.trim().to_string(),
            Some((name, value)) => headers.push_str(&format!("{name}: {}\r\n", value.trim())),
            None => {}
        }
    }
    let mut answer = format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(body);
    answer
}
