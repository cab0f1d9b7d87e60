//! What a sandboxed agent sees of the file system, the same for every backend: the system and the
//! agent's CLI read-only, its worktree, its session's extra directories, HOME and temporary
//! directory read-write, the repository's shared git directory read-only, and nothing else (no
//! real home, no other worktree, no data directory, no credential file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::git_links;

/// The system directories every agent reads.
pub const SYSTEM_ROOTS: [&str; 7] = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"];
/// Credential files and directories inside the system roots, hidden from every agent.
pub const CREDENTIAL_PATHS: [&str; 10] = [
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/docker",
    "/etc/containers/auth.json",
];
/// The directories every sandbox mounts as empty private tmpfs: the temporary directories, and
/// `/run`, where a visible root-owned socket (docker.sock) would be reachable otherwise.
const PRIVATE_TMPFS: [&str; 3] = ["/tmp", "/var/tmp", "/run"];

/// What every sandbox gives its agent beyond the layout, its hostname and its private tmpfs, as
/// bwrap and podman/docker both spell it (`--hostname NAME`, `--tmpfs DIR`).
pub fn hostname_and_tmpfs_arguments() -> Vec<String> {
    let tmpfs = PRIVATE_TMPFS.iter().flat_map(|dir| ["--tmpfs", dir]);
    ["--hostname", "arbor-sandbox"].into_iter().chain(tmpfs).map(String::from).collect()
}
/// Variables that name a place rather than a directory given to the agent.
const NOT_AGENT_DIRECTORIES: [&str; 4] = ["HOME", "TMPDIR", "PATH", "PWD"];

/// The paths one agent process may see.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Read-only, beyond the system roots: the agent's CLI and interpreter, the Arbor binary, the
    /// repository's shared git directory.
    pub read_only: Vec<PathBuf>,
    /// Read-write: the worktree, HOME, the temporary directory, the worktree's git admin
    /// directory, directories the config file gives the agent.
    pub read_write: Vec<PathBuf>,
    /// Read-only again inside a read-write path: a repository's hooks and config when the agent
    /// works in the repository itself, a worktree's links to its repository otherwise.
    pub read_only_over: Vec<PathBuf>,
    /// Existing credential paths to hide.
    pub masked: Vec<PathBuf>,
    /// The program and its interpreter where they lie in the system roots: a backend with a
    /// system of its own (a container image) binds them read-only.
    pub system_programs: Vec<PathBuf>,
}

impl Layout {
    /// The layout for running `program` in `cwd` (and the session's `extra` directories) with
    /// `home` and `tmp` and the environment `env`.
    pub fn new(
        program: &Path,
        cwd: &Path,
        extra: &[PathBuf],
        home: &Path,
        tmp: &Path,
        env: &BTreeMap<String, String>,
    ) -> Layout {
        let mut layout = Layout::default();
        layout.read_only.extend(program_roots(program, env));
        if let Ok(arbor) = std::env::current_exe() {
            layout.read_only.push(arbor);
        }
        layout.read_write.extend([cwd.to_path_buf(), home.to_path_buf(), tmp.to_path_buf()]);
        layout.read_write.extend(extra.iter().cloned());
        layout.add_git(cwd);
        for (name, value) in env {
            let path = Path::new(value);
            let given = std::env::var(name).ok().as_deref() != Some(value.as_str());
            if given && path.is_absolute() && path.is_dir() && !NOT_AGENT_DIRECTORIES.contains(&name.as_str()) {
                layout.read_write.push(path.to_path_buf());
            }
        }
        layout.masked = CREDENTIAL_PATHS.iter().map(PathBuf::from).filter(|path| path.exists()).collect();
        let interpreter = interpreter(program, env).and_then(|interpreter| interpreter.canonicalize().ok());
        layout.system_programs =
            [Some(program.to_path_buf()), interpreter].into_iter().flatten().filter(|path| is_system(path)).collect();
        layout.read_only.retain(|path| !is_system(path));
        layout.read_only.sort();
        layout.read_only.dedup();
        layout.read_write.dedup();
        layout
    }

    /// The shared git directory read-only and the worktree's own admin directory (its index and
    /// HEAD) read-write, so `git status` and `git add` work but the agent cannot rewrite the
    /// repository's config, hooks or other branches; Arbor commits and checkpoints on the host.
    /// The files tying the worktree to the repository are read-only again, so that git cannot be
    /// pointed at a repository of the agent's own (`git_links.rs`).
    fn add_git(&mut self, cwd: &Path) {
        let Ok(repository) = git2::Repository::open(cwd) else { return };
        let common = repository.commondir().to_path_buf();
        if repository.is_worktree() {
            self.read_only.push(common);
            self.read_write.push(repository.path().to_path_buf());
            self.read_only_over.extend(git_links::link_paths(cwd, repository.path()));
            self.read_only_over.retain(|path| path.exists());
        } else {
            self.read_only_over.extend([common.join("hooks"), common.join("config")]);
            self.read_only_over.retain(|path| path.exists());
        }
    }
}

/// Whether `path` lies in a system root (already visible read-only).
pub fn is_system(path: &Path) -> bool {
    SYSTEM_ROOTS.iter().any(|root| path.starts_with(root))
}

/// What running `program` needs: its package (the whole `node_modules` for an npm-installed CLI,
/// else its directory) and the interpreter its first line names.
fn program_roots(program: &Path, env: &BTreeMap<String, String>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for path in [program.to_path_buf(), program.canonicalize().unwrap_or_else(|_| program.to_path_buf())] {
        roots.push(package_root(&path));
    }
    if let Some(interpreter) = interpreter(program, env)
        && let Ok(real) = interpreter.canonicalize()
    {
        // An interpreter in <prefix>/bin comes with its libraries in <prefix>/lib.
        let bin = real.parent().unwrap_or(&real);
        roots.push(if bin.ends_with("bin") { bin.parent().unwrap_or(bin).to_path_buf() } else { bin.to_path_buf() });
    }
    roots
}

fn package_root(path: &Path) -> PathBuf {
    let topmost = path.ancestors().filter(|ancestor| ancestor.ends_with("node_modules")).last();
    match topmost {
        Some(modules) => modules.to_path_buf(),
        None => path.parent().unwrap_or(path).to_path_buf(),
    }
}

/// The interpreter named by a script's `#!` line (`env NAME` looked up on PATH).
fn interpreter(program: &Path, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let read = std::fs::File::open(program).and_then(|mut file| file.read(&mut head)).ok()?;
    let line = std::str::from_utf8(&head[..read]).ok()?.strip_prefix("#!")?.lines().next()?.to_string();
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if !first.ends_with("/env") {
        return Some(PathBuf::from(first));
    }
    let name = words.find(|word| !word.starts_with('-'))?;
    let path = env.get("PATH").cloned().or_else(|| std::env::var("PATH").ok())?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_npm_cli_brings_its_whole_node_modules() {
        assert_eq!(
            package_root(Path::new("/opt/x/node_modules/@a/cli/node_modules/dep/bin/run.js")),
            PathBuf::from("/opt/x/node_modules")
        );
        assert_eq!(package_root(Path::new("/opt/tool/bin/tool")), PathBuf::from("/opt/tool/bin"));
    }
}
