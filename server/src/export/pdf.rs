//! PDF exports: the printable HTML transcript printed by headless Chromium, which lays out code
//! blocks and diffs exactly as a browser shows them and paginates with the page's own print rules.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The browser programs that can print a page to PDF, in the order they are looked for on PATH.
const RENDERERS: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/// How long a print may take before it is abandoned; a busy machine needs a few seconds.
const PRINT_LIMIT: Duration = Duration::from_secs(120);

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No renderer is installed.
    #[error(
        "PDF export needs headless Chromium and none was found on PATH (looked for {}); install it \
         (Debian and Ubuntu: apt-get install chromium) or export as HTML and print that",
        RENDERERS.join(", ")
    )]
    NoRenderer,
    /// The renderer ran but gave no PDF.
    #[error("{renderer} could not print the transcript: {message}")]
    Failed { renderer: String, message: String },
}

/// The first renderer on `path` (a PATH value).
fn find_renderer(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let path = path?;
    RENDERERS.iter().find_map(|name| {
        std::env::split_paths(path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `html` printed to PDF bytes.
pub async fn print(html: &str) -> Result<Vec<u8>, PdfError> {
    let renderer = find_renderer(std::env::var_os("PATH").as_deref()).ok_or(PdfError::NoRenderer)?;
    let failed = |message: String| PdfError::Failed { renderer: renderer.display().to_string(), message };
    // A private directory holds the page, the PDF and the browser's profile, so that prints
    // running at once (or a browser the user has open) never share state.
    let scratch = tempfile::tempdir().map_err(|error| failed(error.to_string()))?;
    let page = scratch.path().join("transcript.html");
    let pdf = scratch.path().join("transcript.pdf");
    tokio::fs::write(&page, html).await.map_err(|error| failed(error.to_string()))?;
    let mut command = tokio::process::Command::new(&renderer);
    command
        .arg("--headless")
        // Chromium's own sandbox needs user namespaces that containers and root often lack; the
        // page is Arbor's own escaped HTML with no scripts.
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--no-first-run")
        .arg(format!("--user-data-dir={}", scratch.path().join("profile").display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(PRINT_LIMIT, command.output())
        .await
        .map_err(|_| failed(format!("no PDF after {} s", PRINT_LIMIT.as_secs())))?
        .map_err(|error| failed(error.to_string()))?;
    match tokio::fs::read(&pdf).await {
        Ok(bytes) if bytes.starts_with(b"%PDF") => Ok(bytes),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no output");
            Err(failed(format!("{} ({last})", output.status)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renderer_is_found_only_where_path_points() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_renderer(Some(dir.path().as_os_str())), None);
        assert_eq!(find_renderer(None), None);
        let fake = dir.path().join("chromium-browser");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        assert_eq!(find_renderer(Some(dir.path().as_os_str())), None, "a file that cannot run is no renderer");
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert_eq!(find_renderer(Some(dir.path().as_os_str())), Some(fake));
    }
}
