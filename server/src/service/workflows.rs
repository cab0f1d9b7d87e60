//! Workflows: named prompt plans (bug fix, triage, spec writing …) kept as Markdown files in a
//! repository's `.arbor/workflows/` or the user's `workflows/` beside the config file. A
//! workflow attached to a session (or a task's trials) is sent to the agent ahead of the prompt.

use std::path::Path;

use arbor_protocol::Workflow;

use super::ServiceError;
use crate::paths::Paths;

fn read_dir(dir: &Path) -> Vec<Workflow> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut workflows: Vec<Workflow> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let name = path.file_stem()?.to_string_lossy().into_owned();
            let title =
                text.lines().find_map(|line| line.strip_prefix("# ")).map(str::trim).unwrap_or(&name).to_string();
            Some(Workflow { name, title, path: path.display().to_string(), text })
        })
        .collect();
    workflows.sort_by(|a, b| a.name.cmp(&b.name));
    workflows
}

/// The workflows of a repository (when given) and of the user; a repository's wins over the
/// user's of the same name.
pub fn list(paths: &Paths, repo_root: Option<&Path>) -> Vec<Workflow> {
    let mut workflows = repo_root.map(|root| read_dir(&root.join(".arbor/workflows"))).unwrap_or_default();
    for workflow in read_dir(&paths.user_workflows()) {
        if !workflows.iter().any(|existing| existing.name == workflow.name) {
            workflows.push(workflow);
        }
    }
    workflows
}

/// The workflow `name`, or an error naming where it was looked for.
pub fn find(paths: &Paths, repo_root: &Path, name: &str) -> Result<Workflow, ServiceError> {
    list(paths, Some(repo_root)).into_iter().find(|workflow| workflow.name == name).ok_or_else(|| {
        ServiceError::NotFound(format!(
            "no workflow '{name}' in {} or {}",
            repo_root.join(".arbor/workflows").display(),
            paths.user_workflows().display()
        ))
    })
}

/// The text sent to the agent: the workflow, then the prompt.
pub fn compose(workflow: &Workflow, prompt: Option<&str>) -> String {
    match prompt {
        Some(prompt) => {
            format!("Follow the \"{}\" workflow:\n\n{}\n\nTask: {prompt}", workflow.title, workflow.text.trim_end())
        }
        None => format!("Follow the \"{}\" workflow:\n\n{}", workflow.title, workflow.text.trim_end()),
    }
}
