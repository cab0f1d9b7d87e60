//! The command line a person uses without an editor, and the README's demo, run as the real
//! binary.

use arbor_tests::{TestEnv, git};

#[tokio::test]
async fn session_commands_work_through_the_daemon() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = env.root.join("reply.script");
    std::fs::write(&script, "say The answer is 42.\nwrite answer.txt <<END\n42\nEND\nturn\nsay Follow-up: {prompt}\n")
        .unwrap();
    let repo_arg = repo.display().to_string();
    let script_arg = script.display().to_string();

    let created = env
        .cli(&[
            "session",
            "new",
            "--cwd",
            &repo_arg,
            "--script",
            &script_arg,
            "--prompt",
            "What is the answer?",
            "--wait",
        ])
        .await;
    assert!(created.contains("agent: The answer is 42."), "{created}");
    assert!(created.contains("▸ Write answer.txt"), "{created}");
    assert!(created.contains("turn ended (end_turn)"), "{created}");
    assert!(created.contains("status    running, idle"), "{created}");
    let id = created
        .lines()
        .find_map(|line| line.strip_prefix("started session "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    let listed = env.cli(&["session", "list"]).await;
    assert!(
        listed.contains(&id[..8]) && listed.contains("What is the answer?") && listed.contains("running"),
        "{listed}"
    );
    let filtered = env.cli(&["session", "list", "--status", "stopped"]).await;
    assert!(filtered.contains("0 of 0 sessions"), "{filtered}");

    let followed = env.cli(&["session", "prompt", &id[..8], "more please", "--wait"]).await;
    assert!(followed.contains("Follow-up: more please"), "{followed}");

    let stopped = env.cli(&["session", "stop", &id[..8]]).await;
    assert!(stopped.contains("is stopped"), "{stopped}");
    let shown = env.cli(&["session", "show", &id]).await;
    assert!(shown.contains("you: What is the answer?") && shown.contains("you: more please"), "{shown}");
    assert!(shown.contains("agent: The answer is 42."), "{shown}");
    assert!(shown.contains("· stopped"), "{shown}");

    let exported = env.cli(&["session", "export", &id[..8]]).await;
    assert!(
        exported.starts_with("# What is the answer?") && exported.contains("**Agent:** The answer is 42."),
        "{exported}"
    );
    let html_file = env.root.join("session.html");
    env.cli(&["session", "export", &id, "--format", "html", "--output", &html_file.display().to_string()]).await;
    assert!(std::fs::read_to_string(&html_file).unwrap().starts_with("<!DOCTYPE html>"));

    let deleted = env.cli(&["session", "delete", &id]).await;
    let branch = deleted
        .lines()
        .find_map(|line| line.strip_prefix("its work is kept on branch "))
        .expect("the branch is named")
        .to_string();
    assert_eq!(git(&repo, &["show", &format!("{branch}:answer.txt")]), "42");

    let agents = env.cli(&["agents"]).await;
    assert!(agents.contains("scripted") && agents.contains("available"), "{agents}");
}

#[tokio::test]
async fn the_demo_shows_a_whole_session_and_where_its_data_lives() {
    let env = TestEnv::new();
    let dir = env.root.join("demo");
    let output = env.cli(&["demo", "--dir", &dir.display().to_string()]).await;
    for expected in [
        "built-in scripted agent",
        "you: Add a greeting script",
        "▸ Write greeting.sh",
        "? permission: Run the check script",
        "│ greeting ok",
        "turn ended (end_turn)",
        "2 files changed, 7 insertions(+), 0 deletions(-)",
        "store (SQLite)",
    ] {
        assert!(output.contains(expected), "demo output lacks {expected:?}:\n{output}");
    }
    let worktree = std::fs::read_dir(dir.join("data/worktrees")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(
        std::process::Command::new("sh").arg("check.sh").current_dir(&worktree).output().unwrap().stdout,
        b"greeting ok\n"
    );
    assert!(dir.join("data/arbor.db").exists());
}

#[tokio::test]
async fn task_and_trial_commands_work_through_the_daemon() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    env.commit_files(
        &repo,
        &[("check.sh", "grep -q 42 answer.txt && echo '1 passed' || { echo '1 failed'; exit 1; }\n")],
        "check",
    );
    let script = env.root.join("answer.script");
    std::fs::write(&script, "write answer.txt <<END\n42\nEND\nusage input=10 output=5 cost=0.01").unwrap();
    let repo_arg = repo.display().to_string();

    let created = env.cli(&["task", "new", "--title", "Answer it", "--cwd", &repo_arg, "--check", "sh check.sh"]).await;
    let task_id = created.split_whitespace().nth(2).unwrap().to_string();
    let started = env
        .cli(&[
            "trial",
            "new",
            &task_id[..8],
            "--agent",
            "scripted",
            "--agent",
            "scripted",
            "--script",
            &script.display().to_string(),
        ])
        .await;
    assert_eq!(started.lines().filter(|line| line.starts_with("started trial")).count(), 2, "{started}");
    let trial_id = started.lines().next().unwrap().split_whitespace().nth(4).unwrap().to_string();

    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    loop {
        let shown = env.cli(&["task", "show", &task_id]).await;
        if shown.contains("status    done") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{shown}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let checked = env.cli(&["trial", "check", &trial_id[..8]]).await;
    assert!(checked.contains("check passed") && checked.contains("1 passed"), "{checked}");
    let compared = env.cli(&["trial", "compare", &task_id]).await;
    assert!(
        compared.contains("pass (1 passed)") && compared.contains("changed by trials 1, 2: answer.txt"),
        "{compared}"
    );
    let promoted = env.cli(&["trial", "promote", &trial_id, "--squash"]).await;
    assert!(promoted.contains("promoted into main") && promoted.contains("1 other trials abandoned"), "{promoted}");
    assert_eq!(std::fs::read_to_string(repo.join("answer.txt")).unwrap(), "42\n");
    let listed = env.cli(&["task", "list"]).await;
    assert!(listed.contains("promoted") && listed.contains("Answer it"), "{listed}");
}

/// The id printed after `prefix` on one of `output`'s lines.
fn id_after(output: &str, prefix: &str) -> String {
    let line = output.lines().find_map(|line| line.trim_start().strip_prefix(prefix)).unwrap_or_else(|| {
        panic!("no line starts with {prefix:?}:\n{output}");
    });
    line.split(|c: char| c.is_whitespace() || c == ')' || c == ':').next().unwrap().to_string()
}

/// Runs `arbor session show` until its output contains `wanted`.
async fn show_until(env: &TestEnv, session: &str, wanted: &str) -> String {
    let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
    loop {
        let shown = env.cli(&["session", "show", session]).await;
        if shown.contains(wanted) {
            return shown;
        }
        assert!(tokio::time::Instant::now() < deadline, "never showed {wanted:?}:\n{shown}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn waiting_without_a_terminal_ends_at_a_permission_with_the_command_that_answers_it() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let waited =
        env.cli(&["session", "new", "--cwd", &repo.display().to_string(), "--prompt", "Add a README", "--wait"]).await;
    let session = id_after(&waited, "started session ");
    let request = id_after(&waited, &format!("session {session} is waiting for an answer to request "));
    assert!(waited.contains(&format!("arbor session respond {session} {request} allow")), "{waited}");
    assert!(waited.contains("status    running, waiting_input"), "{waited}");

    let shown = env.cli(&["session", "show", &session[..8]]).await;
    assert!(shown.contains(&format!("(request {request})")), "{shown}");

    let answered = env.cli(&["session", "respond", &session[..8], "allow"]).await;
    assert!(answered.contains(&format!("answered {request} with allow")), "{answered}");
    let shown = show_until(&env, &session, "turn ended (end_turn)").await;
    assert!(shown.contains("  → allow") && shown.contains("│ greeting ok"), "{shown}");

    let output = env.command().args(["session", "respond", &session, "allow"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("has no permission request or question waiting"), "{stderr}");
}

/// `arbor` run on a pseudo-terminal by util-linux's `script`, which passes our input to it.
struct Terminal {
    child: tokio::process::Child,
    input: tokio::process::ChildStdin,
    output: tokio::process::ChildStdout,
    screen: Vec<u8>,
}

impl Terminal {
    fn start(env: &TestEnv, args: &[&str]) -> Self {
        let mut arbor = env.command();
        arbor.args(args);
        let command_line: Vec<String> = std::iter::once(arbor.as_std().get_program())
            .chain(arbor.as_std().get_args())
            .map(|arg| format!("'{}'", arg.to_string_lossy().replace('\'', r"'\''")))
            .collect();
        let mut child = tokio::process::Command::new("script")
            .args(["-qefc", &command_line.join(" "), "/dev/null"])
            .current_dir(&env.root)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run script");
        let (input, output) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
        Self { child, input, output, screen: Vec::new() }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen).to_string()
    }

    /// Reads the terminal until it shows `wanted`.
    async fn expect(&mut self, wanted: &str) {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + arbor_tests::WAIT;
        let mut chunk = [0; 4096];
        while !self.text().contains(wanted) {
            let read = tokio::time::timeout_at(deadline, self.output.read(&mut chunk)).await;
            let read = read.unwrap_or_else(|_| panic!("never showed {wanted:?}:\n{}", self.text())).unwrap();
            assert!(read > 0, "the terminal closed before {wanted:?}:\n{}", self.text());
            self.screen.extend_from_slice(&chunk[..read]);
        }
    }

    async fn type_line(&mut self, line: &str) {
        use tokio::io::AsyncWriteExt;
        self.input.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }

    /// Waits for arbor to exit and returns everything it showed.
    async fn finish(mut self) -> String {
        let status = self.child.wait().await.unwrap();
        let screen = self.text();
        assert!(status.success(), "{screen}");
        screen
    }
}

#[tokio::test]
async fn waiting_at_a_terminal_asks_each_permission_and_sends_the_answer() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let mut terminal = Terminal::start(
        &env,
        &["session", "new", "--cwd", &repo.display().to_string(), "--prompt", "Add a README", "--wait"],
    );
    terminal.expect("answer (1-3): ").await;
    let asked = terminal.text();
    assert!(asked.contains("? permission: Run the check script") && asked.contains("1) Allow [allow]"), "{asked}");
    terminal.type_line("maybe").await;
    terminal.expect("'maybe' is not an answer here").await;
    terminal.type_line("1").await;
    terminal.expect("status    running, idle").await;
    let screen = terminal.finish().await;
    assert!(screen.contains("  → allow") && screen.contains("turn ended (end_turn)"), "{screen}");
    assert!(!screen.contains("arbor session respond"), "{screen}");
}

#[tokio::test]
async fn a_question_is_answered_with_the_printed_command() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = env.root.join("ask.script");
    std::fs::write(&script, "elicit Which ticket?\n").unwrap();
    let (repo_arg, script_arg) = (repo.display().to_string(), script.display().to_string());
    let waited =
        env.cli(&["session", "new", "--cwd", &repo_arg, "--script", &script_arg, "--prompt", "Fix it", "--wait"]).await;
    let session = id_after(&waited, "started session ");
    let request = id_after(&waited, &format!("session {session} is waiting for an answer to request "));
    assert!(waited.contains(&format!("? question: Which ticket? (request {request})")), "{waited}");
    assert!(
        waited.contains(&format!(r#"arbor session respond {session} {request} accept --content '{{"answer":"…"}}'"#)),
        "{waited}"
    );
    // The printed command names the daemon's directories and config the way this run did, so
    // it works as it is from a shell with none of Arbor's variables set.
    let line = waited.lines().find(|line| line.contains(" accept --content ")).unwrap();
    let command = line.trim_start().trim_start_matches("Answer").trim_start().replace('…', "ARB-13");
    let flags = format!(
        "--data-dir {} --runtime-dir {} --config {}",
        env.data_dir().display(),
        env.runtime_dir().display(),
        env.config_file().display()
    );
    assert!(command.ends_with(&flags), "{command}");
    let bin_dir = arbor_tests::arbor_bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = tokio::process::Command::new("sh")
        .args(["-c", &command])
        .env_clear()
        .env("PATH", path)
        .env("HOME", &env.root)
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
    show_until(&env, &session, "You answered: ARB-13.").await;
}

#[tokio::test]
async fn a_question_is_answered_at_the_terminal_field_by_field() {
    let env = TestEnv::new();
    let repo = env.repo("repo");
    let script = env.root.join("ask.script");
    std::fs::write(&script, "elicit Which ticket?\n").unwrap();
    let (repo_arg, script_arg) = (repo.display().to_string(), script.display().to_string());
    let mut terminal = Terminal::start(
        &env,
        &["session", "new", "--cwd", &repo_arg, "--script", &script_arg, "--prompt", "Fix it", "--wait"],
    );
    terminal.expect("answer (1-3): ").await;
    assert!(terminal.text().contains("? question: Which ticket?") && terminal.text().contains("1) Answer [accept]"));
    terminal.type_line("accept").await;
    terminal.expect("  Answer: ").await;
    terminal.type_line("ARB-14").await;
    terminal.expect("turn ended").await;
    let screen = terminal.finish().await;
    assert!(!screen.contains("arbor session respond"), "{screen}");
    show_until(&env, &id_after(&screen, "started session "), "You answered: ARB-14.").await;
}
