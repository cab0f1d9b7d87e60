//! Development aid: runs the mock model API on a fixed port and prints each request's path and
//! body, answering with a tool call first and text after, so a CLI can be tried against it by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arbor_tests::mock_api::{MockApi, Reply};
use serde_json::json;

#[tokio::main]
async fn main() {
    let tool = std::env::args().nth(1).unwrap_or_else(|| "Write".into());
    let input: serde_json::Value =
        serde_json::from_str(&std::env::args().nth(2).unwrap_or_else(|| "{}".into())).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let mock = MockApi::start(Arc::new(move |request| {
        eprintln!(
            "== {} {}\n{}",
            request.method,
            request.path,
            serde_json::to_string(&request.body).unwrap_or_default()
        );
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::tool(&tool, input.clone())
        } else {
            Reply::text("All done here.")
        }
    }))
    .await;
    println!("{}", mock.url);
    let _ = json!({});
    std::future::pending::<()>().await;
}
