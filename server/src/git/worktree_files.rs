//! A worktree's files as git sees them, read and written without ever following a symbolic link.
//!
//! An agent controls its worktree and may plant links in it (`ln -s /etc etcdir`, or a directory
//! replaced by a link to somewhere else). Every path here is opened one component at a time,
//! relative to the worktree and with `O_NOFOLLOW`, so nothing outside the worktree is read or
//! written, even if a link appears while Arbor works. As in git, a path that leads through a
//! link does not exist in the worktree ("beyond a symbolic link"), and a link at the end of a path
//! is read and written as the link itself: its content is its target.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// What a worktree path holds, in git's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file.
    File { bytes: Vec<u8>, executable: bool },
    /// A symbolic link; the bytes are its target.
    Link(Vec<u8>),
}

impl Content {
    /// The bytes git stores for it: the file's content, or the link's target.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Content::File { bytes, .. } | Content::Link(bytes) => bytes,
        }
    }

    /// The git file mode (blob, executable blob or link).
    pub fn git_mode(&self) -> u32 {
        match self {
            Content::File { executable: false, .. } => 0o100644,
            Content::File { executable: true, .. } => 0o100755,
            Content::Link(_) => 0o120000,
        }
    }

    /// The content of a tree entry with `mode` and `bytes`.
    pub fn from_git(mode: i32, bytes: Vec<u8>) -> Content {
        match mode {
            0o120000 => Content::Link(bytes),
            0o100755 => Content::File { bytes, executable: true },
            _ => Content::File { bytes, executable: false },
        }
    }
}

/// An open worktree whose files are reached only through it.
pub struct WorktreeFiles {
    root: OwnedFd,
}

const DIRECTORY: OFlags = OFlags::DIRECTORY.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

impl WorktreeFiles {
    /// Opens the worktree at `root` (which Arbor chose, so it may itself be reached through links).
    pub fn open(root: &Path) -> std::io::Result<WorktreeFiles> {
        let root = rustix::fs::open(root, OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(WorktreeFiles { root })
    }

    /// The directory holding `relative`'s last component, and that component. Without `create`,
    /// None when a directory on the way is missing or is not a real directory; with `create`,
    /// missing directories are made and links or files in their place are replaced by
    /// directories, as a git checkout does.
    fn parent<'a>(&self, relative: &'a Path, create: bool) -> std::io::Result<Option<(OwnedFd, &'a OsStr)>> {
        let mut names = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => names.push(name),
                Component::CurDir => {}
                _ => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("{} is not a path inside the worktree", relative.display()),
                    ));
                }
            }
        }
        let Some(leaf) = names.pop() else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "an empty path names no file"));
        };
        let mut dir = rustix::fs::openat(&self.root, ".", DIRECTORY, Mode::empty())?;
        for name in names {
            dir = match rustix::fs::openat(&dir, name, DIRECTORY, Mode::empty()) {
                Ok(next) => next,
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) if !create => return Ok(None),
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    // unlinkat removes a link itself, never what it points to.
                    rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
                    make_dir(&dir, name)?
                }
                Err(Errno::NOENT) => make_dir(&dir, name)?,
                Err(error) => return Err(error.into()),
            };
        }
        Ok(Some((dir, leaf)))
    }

    /// What `relative` holds: None when nothing is there (or only a directory), or when the path
    /// leads through a link.
    pub fn read(&self, relative: &Path) -> std::io::Result<Option<Content>> {
        let Some((dir, leaf)) = self.parent(relative, false)? else { return Ok(None) };
        let stat = match rustix::fs::statat(&dir, leaf, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(&dir, leaf, Vec::new())?;
                Ok(Some(Content::Link(target.into_bytes())))
            }
            FileType::RegularFile => {
                let file =
                    rustix::fs::openat(&dir, leaf, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
                let mut bytes = Vec::new();
                std::fs::File::from(file).read_to_end(&mut bytes)?;
                Ok(Some(Content::File { bytes, executable: stat.st_mode & 0o111 != 0 }))
            }
            _ => Ok(None),
        }
    }

    /// Whether `relative` holds a file or a link (a path through a link holds nothing).
    pub fn exists(&self, relative: &Path) -> std::io::Result<bool> {
        Ok(self.read(relative)?.is_some())
    }

    /// Puts `content` at `relative`, replacing whatever file or link is there (never writing
    /// through a link) and making the directories on the way.
    pub fn write(&self, relative: &Path, content: &Content) -> std::io::Result<()> {
        let (dir, leaf) = self.parent(relative, true)?.expect("created directories on the way");
        match rustix::fs::unlinkat(&dir, leaf, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(error) => return Err(error.into()),
        }
        match content {
            Content::Link(target) => rustix::fs::symlinkat(OsStr::from_bytes(target), &dir, leaf)?,
            Content::File { bytes, executable } => {
                let mode = Mode::from_raw_mode(if *executable { 0o755 } else { 0o644 });
                // O_EXCL: if a link reappeared since the unlink, this fails instead of following it.
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let file = rustix::fs::openat(&dir, leaf, flags, mode)?;
                std::fs::File::from(file).write_all(bytes)?;
            }
        }
        Ok(())
    }

    /// Removes the file or link at `relative` (a link itself, never its target); nothing happens
    /// when the path holds nothing.
    pub fn remove(&self, relative: &Path) -> std::io::Result<()> {
        let Some((dir, leaf)) = self.parent(relative, false)? else { return Ok(()) };
        match rustix::fs::unlinkat(&dir, leaf, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT | Errno::ISDIR) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Makes the directories leading to `relative` real directories, replacing links and files
    /// in their place, so that libgit2 writing `relative` writes inside the worktree.
    pub fn make_parents(&self, relative: &Path) -> std::io::Result<()> {
        self.parent(relative, true).map(drop)
    }
}

fn make_dir(parent: &OwnedFd, name: &OsStr) -> std::io::Result<OwnedFd> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(rustix::fs::openat(parent, name, DIRECTORY, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("arbor-worktree-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("worktree/sub")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        std::fs::write(dir.join("outside/canary"), "canary").unwrap();
        dir
    }

    #[test]
    fn links_are_never_followed_out_of_the_worktree() {
        let dir = scratch("links");
        let worktree = dir.join("worktree");
        std::os::unix::fs::symlink(dir.join("outside"), worktree.join("escape")).unwrap();
        std::os::unix::fs::symlink(dir.join("outside/canary"), worktree.join("leaf")).unwrap();
        let files = WorktreeFiles::open(&worktree).unwrap();

        assert_eq!(files.read(Path::new("escape/canary")).unwrap(), None, "a path through a link holds nothing");
        let link = files.read(Path::new("leaf")).unwrap().unwrap();
        assert_eq!(link, Content::Link(dir.join("outside/canary").as_os_str().as_bytes().to_vec()));

        files.write(Path::new("leaf"), &Content::File { bytes: b"mine".to_vec(), executable: false }).unwrap();
        files.write(Path::new("escape/canary"), &Content::File { bytes: b"base".to_vec(), executable: true }).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("outside/canary")).unwrap(), "canary");
        assert_eq!(std::fs::read_to_string(worktree.join("leaf")).unwrap(), "mine");
        assert!(std::fs::symlink_metadata(worktree.join("escape")).unwrap().is_dir(), "the link became a directory");
        assert_eq!(std::fs::read_to_string(worktree.join("escape/canary")).unwrap(), "base");

        std::os::unix::fs::symlink(dir.join("outside/canary"), worktree.join("sub/gone")).unwrap();
        files.remove(Path::new("sub/gone")).unwrap();
        files.remove(Path::new("sub/never-there")).unwrap();
        assert!(dir.join("outside/canary").exists(), "removing a link leaves its target");
        assert!(files.read(Path::new("../outside/canary")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
