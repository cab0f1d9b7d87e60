//! `session/export` as PDF: the HTML transcript printed by headless Chromium, read back with
//! `pdftotext` the way a person reads the file; and the error when no renderer is installed.

use arbor_protocol::{SessionEvent, error_code, method};
use arbor_tests::TestEnv;
use serde_json::json;

#[tokio::test]
async fn a_pdf_export_holds_the_prompts_the_replies_and_the_diff() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = env.root.join("reply.script");
    std::fs::write(
        &script,
        "say Here is the greeting script.\nwrite greet.sh <<END\necho \"hello from the export\"\nEND\nturn\nsay Second reply: {prompt}\n",
    )
    .unwrap();
    let created = env
        .cli(&[
            "session",
            "new",
            "--cwd",
            &repo.display().to_string(),
            "--script",
            &script.display().to_string(),
            "--prompt",
            "Write a greeting script",
            "--wait",
        ])
        .await;
    let id = created.lines().find_map(|line| line.strip_prefix("started session ")).unwrap()[..8].to_string();
    env.cli(&["session", "prompt", &id, "now the follow-up", "--wait"]).await;

    let pdf = env.root.join("transcript.pdf");
    let said = env.cli(&["session", "export", &id, "--format", "pdf", "--output", &pdf.display().to_string()]).await;
    assert!(said.contains("exported to"), "{said}");
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"), "the file is a PDF");

    let text =
        std::process::Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-").output().expect("run pdftotext");
    assert!(text.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in [
        "Write a greeting script",
        "Here is the greeting script.",
        "now the follow-up",
        "Second reply: now the follow-up",
        "greet.sh",
        "echo \"hello from the export\"",
        "page 1 of",
    ] {
        assert!(text.contains(expected), "the PDF's text lacks {expected:?}:\n{text}");
    }
}

#[tokio::test]
async fn without_chromium_a_pdf_export_says_what_to_install_and_other_formats_still_work() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    // A PATH that holds git (session creation runs it) and nothing else, so no renderer is found.
    let only_git = env.root.join("only-git");
    std::fs::create_dir_all(&only_git).unwrap();
    let git = which_git();
    std::os::unix::fs::symlink(&git, only_git.join("git")).unwrap();
    let mut server = env.standalone_with_env(&[("PATH", only_git.to_str().unwrap())]).await;
    let session = server.client.scripted_session(&repo, "say done", Some("Export me")).await;
    server.client.subscribe(session.id, 0).await;
    server.client.wait_event(session.id, |event| matches!(event, SessionEvent::TurnEnded { .. })).await;

    let error = server
        .client
        .try_call(method::SESSION_EXPORT, json!({ "sessionId": session.id, "format": "pdf" }))
        .await
        .expect_err("no renderer, no PDF");
    assert_eq!(error.code, error_code::NOT_FOUND, "{error:?}");
    assert!(error.message.contains("apt-get install chromium"), "{}", error.message);

    let markdown = server.client.call(method::SESSION_EXPORT, json!({ "sessionId": session.id })).await;
    assert!(markdown["content"].as_str().unwrap().contains("Export me"), "{markdown}");
    assert!(markdown.get("encoding").is_none(), "text exports carry no encoding: {markdown}");
}

fn which_git() -> std::path::PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("git"))
        .find(|candidate| candidate.is_file())
        .expect("git on PATH")
}
