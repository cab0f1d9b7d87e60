//! Which of a worktree's paths may differ from its index, found as git finds them: each tracked
//! file's `lstat` compared with the stat data the index keeps for it (size, times, inode, owner,
//! mode), on every processor, and the directories read for files the index does not hold.
//!
//! libgit2's own scan of a worktree is one thread and an `lstat` of each file's whole path, each
//! walked from `/` one component at a time: most of `review/diff`'s time on a large repository
//! (at 100,000 files, the kernel's path lookups alone were more than half of it). Here each file is
//! reached from its directory's descriptor, and directories are shared among threads.
//!
//! The paths found are only candidates: libgit2 is then asked about them alone (an exact path
//! list, which its iterators follow without looking at anything else) and decides what changed,
//! hashing a file whose stat data is uncertain as it always does. So a path wrongly found costs a
//! little time and a path missed would be a change left out: every comparison errs towards
//! finding. Whatever this scan does not follow (conflicts, a nested repository in a new
//! directory) sends the caller back to libgit2's whole scan.
//!
//! Directories are opened one component at a time with `O_NOFOLLOW`, as in
//! [`super::worktree_files`]: a link an agent plants is never followed out of the worktree.
//!
//! Between looks at a worktree whose index stayed the same, a [`ScanMemory`] keeps the index's
//! directories (built from its entries once) and what each directory's listing showed besides
//! the files the index holds, with the directory's stamp: a directory whose stamp is unchanged
//! holds the same names, and is not read again (git's "untracked cache" does the same). Reading a
//! directory costs as much as a stat of each of its entries, so this halves a look at a large
//! worktree the agent edits but adds no files to.

use std::os::fd::OwnedFd;
use std::path::Path;

use git2::{Index, Repository};
use rustc_hash::{FxHashMap, FxHashSet};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::GitError;

/// The bits of an index entry's flags that hold its merge stage.
const STAGE_MASK: u16 = 0x3000;
/// Extended flags of entries whose worktree file the stat data does not describe: added with
/// `git add -N`, or kept out of the worktree (sparse checkout).
const INTENT_TO_ADD_OR_SKIP_WORKTREE: u16 = (1 << 13) | (1 << 14);
/// A gitlink: a submodule's commit, whose worktree side is a directory.
const GITLINK_MODE: u32 = 0o160000;

const DIRECTORY: OFlags = OFlags::DIRECTORY.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// What the index recorded of a tracked file when it last saw it.
struct Recorded {
    /// Whether the stat data cannot tell (a conflict, an intent to add, a gitlink, or an entry
    /// as new as the index): the path is a candidate whatever its `lstat` says.
    uncertain: bool,
    mode: u32,
    size: u32,
    mtime: (i64, u32),
    ctime: (i64, u32),
    ino: u32,
    uid: u32,
    gid: u32,
}

/// A tracked file: its path, where its name starts in it, and its stat data.
struct Tracked {
    path: Vec<u8>,
    name_at: usize,
    recorded: Recorded,
}

impl Tracked {
    fn name(&self) -> &[u8] {
        &self.path[self.name_at..]
    }
}

/// One directory of the index: its tracked files and the subdirectories the index holds files in.
#[derive(Default)]
struct TrackedDir {
    /// Sorted by name, for the directory's listing to be looked up in.
    files: Vec<Tracked>,
    subdirs: FxHashSet<Vec<u8>>,
    /// What its listing last showed besides the index's files, while it stays as it was then.
    untracked: Option<Untracked>,
}

/// The index's directories, each with its path.
type TrackedDirs = Vec<(Vec<u8>, TrackedDir)>;

/// What a directory's listing held that its index does not, and the directory's stamp then.
struct Untracked {
    stamp: DirStamp,
    /// Files, and links, where the index holds none.
    paths: Vec<Vec<u8>>,
    /// Directories the index holds nothing in.
    new_dirs: Vec<Vec<u8>>,
}

/// What changes whenever a directory's entries do: its inode, and its modification and change
/// times (adding, removing or renaming an entry sets both to the time of the change).
#[derive(Clone, Copy, PartialEq, Eq)]
struct DirStamp {
    dev: u64,
    ino: u64,
    modified: (i64, u64),
    changed: (i64, u64),
}

impl DirStamp {
    fn of(stat: &Stat) -> DirStamp {
        DirStamp {
            dev: stat.st_dev,
            ino: stat.st_ino,
            modified: (stat.st_mtime, stat.st_mtime_nsec),
            changed: (stat.st_ctime, stat.st_ctime_nsec),
        }
    }

    /// Whether both times are before `now`. A directory changed in the same tick as it was read
    /// could change again in that tick without its times showing it, so only a listing of a
    /// directory last changed before the scan began is kept.
    fn before(&self, now: (i64, u64)) -> bool {
        self.modified < now && self.changed < now
    }
}

/// What the stat scan keeps between looks at one worktree, valid for as long as its index is
/// the one it was built from (the caller forgets it whenever the index is read again).
#[derive(Default)]
pub struct ScanMemory {
    /// The index's directories, the top one first; None until the first scan.
    dirs: Option<TrackedDirs>,
}

impl TrackedDir {
    fn holds_file(&self, name: &[u8]) -> bool {
        self.files.binary_search_by(|file| file.name().cmp(name)).is_ok()
    }
}

/// The number of directory `dir` in `dirs`, added (and made known to its parent) when new.
fn dir_number(dirs: &mut TrackedDirs, numbers: &mut FxHashMap<Vec<u8>, usize>, dir: &[u8]) -> usize {
    if let Some(number) = numbers.get(dir) {
        return *number;
    }
    let number = dirs.len();
    dirs.push((dir.to_vec(), TrackedDir::default()));
    numbers.insert(dir.to_vec(), number);
    let (parent, name) = split(dir);
    let parent = dir_number(dirs, numbers, parent);
    dirs[parent].1.subdirs.insert(name.to_vec());
    number
}

impl ScanMemory {
    /// How many directories' listings are kept.
    #[cfg(test)]
    pub fn kept_listings(&self) -> usize {
        self.dirs.iter().flatten().filter(|(_, tracked)| tracked.untracked.is_some()).count()
    }
}

/// What one thread found in its share of the directories.
#[derive(Default)]
struct Found {
    paths: Vec<Vec<u8>>,
    /// Directories the index holds nothing in (or holds as a file): listed afterwards, when
    /// not ignored.
    new_dirs: Vec<Vec<u8>>,
    /// Listings read afresh that may be kept, by the directory's number.
    listed: Vec<(usize, Untracked)>,
}

/// The worktree paths that may differ from `index` (tracked files changed, gone or of another
/// kind, and files the index does not hold outside ignored directories), sorted; None when the
/// scan cannot answer for this worktree and libgit2 must scan it whole. `memory` is what earlier
/// scans against the same index kept.
pub fn candidates(repo: &Repository, index: &Index, memory: &mut ScanMemory) -> Result<Option<Vec<Vec<u8>>>, GitError> {
    // Taken before any directory is looked at, from the clock file times are set from.
    let began = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    candidates_since(repo, index, memory, (began.tv_sec as i64, began.tv_nsec as u64))
}

/// [`candidates`], keeping only the listings of directories last changed before `began`.
pub(super) fn candidates_since(
    repo: &Repository,
    index: &Index,
    memory: &mut ScanMemory,
    began: (i64, u64),
) -> Result<Option<Vec<Vec<u8>>>, GitError> {
    let Some(workdir) = repo.workdir() else { return Ok(None) };
    if index.has_conflicts() {
        return Ok(None);
    }
    let dirs = match &mut memory.dirs {
        Some(dirs) => dirs,
        unbuilt => match tracked_dirs(index)? {
            Some(dirs) => unbuilt.insert(dirs),
            None => return Ok(None),
        },
    };
    let mut found = Found::default();

    let root =
        rustix::fs::open(workdir, OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(std::io::Error::from)?;
    let threads = std::thread::available_parallelism().map_or(1, |count| count.get()).min(dirs.len().max(1));
    let shares: Vec<Result<Found, std::io::Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (dirs, root) = (&*dirs, &root);
                scope.spawn(move || {
                    let mut found = Found::default();
                    // Every `threads`-th directory, so that deep and shallow ones are shared alike.
                    for (number, (path, tracked)) in dirs.iter().enumerate().skip(thread).step_by(threads) {
                        scan_dir(root, number, path, tracked, began, &mut found)?;
                    }
                    Ok(found)
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("a scan thread panicked")).collect()
    });
    for share in shares {
        let share = share?;
        found.paths.extend(share.paths);
        found.new_dirs.extend(share.new_dirs);
        for (number, untracked) in share.listed {
            dirs[number].1.untracked = Some(untracked);
        }
    }
    for dir in std::mem::take(&mut found.new_dirs) {
        if !list_new_dir(repo, &root, &dir, &mut found.paths)? {
            return Ok(None);
        }
    }
    found.paths.sort_unstable();
    found.paths.dedup();
    Ok(Some(found.paths))
}

/// The index's directories, each with its files' stat data; None for an index not read from a
/// file (which the scan does not answer for).
fn tracked_dirs(index: &Index) -> Result<Option<TrackedDirs>, GitError> {
    let Some(index_path) = index.path() else { return Ok(None) };
    // An entry written in the same tick as the index itself may have changed since without its
    // stat data showing it ("racily clean", in git's words): such entries are always candidates.
    let index_stat = rustix::fs::stat(index_path).map_err(std::io::Error::from)?;
    let index_written = (index_stat.st_mtime as i64, index_stat.st_mtime_nsec as u32);

    // The top directory is number 0 and always known, so that finding a parent always ends.
    let mut dirs: TrackedDirs = vec![(Vec::new(), TrackedDir::default())];
    let mut numbers: FxHashMap<Vec<u8>, usize> = FxHashMap::from_iter([(Vec::new(), 0)]);
    let mut last = 0;
    for entry in index.iter() {
        let recorded = Recorded {
            uncertain: entry.flags & STAGE_MASK != 0
                || entry.flags_extended & INTENT_TO_ADD_OR_SKIP_WORKTREE != 0
                || entry.mode == GITLINK_MODE
                || (entry.mtime.seconds() as i64, entry.mtime.nanoseconds()) >= index_written,
            mode: entry.mode,
            size: entry.file_size,
            mtime: (entry.mtime.seconds() as i64, entry.mtime.nanoseconds()),
            ctime: (entry.ctime.seconds() as i64, entry.ctime.nanoseconds()),
            ino: entry.ino,
            uid: entry.uid,
            gid: entry.gid,
        };
        let name_at = entry.path.iter().rposition(|byte| *byte == b'/').map_or(0, |slash| slash + 1);
        let dir = &entry.path[..name_at.saturating_sub(1)];
        // The index keeps a directory's files together (but for its subdirectories' between
        // them): the directory of the entry before is the one to try first.
        if dirs[last].0 != dir {
            last = dir_number(&mut dirs, &mut numbers, dir);
        }
        dirs[last].1.files.push(Tracked { path: entry.path, name_at, recorded });
    }
    for (_, tracked) in &mut dirs {
        // Already in order but where the index sorts without regard to case.
        tracked.files.sort_unstable_by(|one, other| one.name().cmp(other.name()));
    }
    Ok(Some(dirs))
}

/// A path's directory (empty at the top) and its last component.
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|byte| *byte == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (&[], path),
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    let mut path = Vec::with_capacity(dir.len() + 1 + name.len());
    path.extend_from_slice(dir);
    path.push(b'/');
    path.extend_from_slice(name);
    path
}

/// The directory at `path` under `root`, each component opened without following a link; None
/// when one is missing or is not a real directory.
fn open_dir(root: &OwnedFd, path: &[u8]) -> Result<Option<OwnedFd>, std::io::Error> {
    let mut dir = rustix::fs::openat(root, ".", DIRECTORY, Mode::empty())?;
    for name in path.split(|byte| *byte == b'/').filter(|name| !name.is_empty()) {
        dir = match rustix::fs::openat(&dir, bytes_name(name), DIRECTORY, Mode::empty()) {
            Ok(next) => next,
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
    }
    Ok(Some(dir))
}

/// The git mode a worktree file's `lstat` stands for (0 for what git does not track).
fn git_mode(stat: &Stat) -> u32 {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile if stat.st_mode & 0o100 != 0 => 0o100755,
        FileType::RegularFile => 0o100644,
        FileType::Symlink => 0o120000,
        FileType::Directory => 0o040000,
        _ => 0,
    }
}

/// Whether the file's `lstat` is exactly what the index recorded.
fn unchanged(recorded: &Recorded, stat: &Stat) -> bool {
    recorded.mode == git_mode(stat)
        && recorded.size == stat.st_size as u32
        && recorded.mtime == (stat.st_mtime as i64, stat.st_mtime_nsec as u32)
        && recorded.ctime == (stat.st_ctime as i64, stat.st_ctime_nsec as u32)
        && recorded.ino == stat.st_ino as u32
        && recorded.uid == stat.st_uid
        && recorded.gid == stat.st_gid
}

/// Compares one tracked directory's files with the index and reads it for files the index does
/// not hold, unless it is unchanged since its listing was last kept; `number` is its place in the
/// index's directories.
fn scan_dir(
    root: &OwnedFd,
    number: usize,
    path: &[u8],
    tracked: &TrackedDir,
    began: (i64, u64),
    found: &mut Found,
) -> Result<(), std::io::Error> {
    let Some(dir) = open_dir(root, path)? else {
        // Gone, or a file or link now: every tracked file in it is a candidate (its own
        // directory's scan finds what stands in its place).
        found.paths.extend(tracked.files.iter().map(|file| file.path.clone()));
        return Ok(());
    };
    for file in &tracked.files {
        match rustix::fs::statat(&dir, bytes_name(file.name()), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if !file.recorded.uncertain && unchanged(&file.recorded, &stat) => {}
            Ok(stat) => {
                if git_mode(&stat) == 0o040000 {
                    found.new_dirs.push(file.path.clone());
                }
                found.paths.push(file.path.clone());
            }
            Err(_) => found.paths.push(file.path.clone()),
        }
    }
    // Stamped before it is read, so that a change while it is read shows at the next look.
    let stamp = DirStamp::of(&rustix::fs::fstat(&dir)?);
    if let Some(untracked) = tracked.untracked.as_ref().filter(|untracked| untracked.stamp == stamp) {
        found.paths.extend(untracked.paths.iter().cloned());
        found.new_dirs.extend(untracked.new_dirs.iter().cloned());
        return Ok(());
    }
    let mut untracked = Untracked { stamp, paths: Vec::new(), new_dirs: Vec::new() };
    for entry in Dir::read_from(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if matches!(name, b"." | b".." | b".git") || tracked.holds_file(name) {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => rustix::fs::statat(&dir, bytes_name(name), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Directory),
            _ => false,
        };
        match (is_dir, tracked.subdirs.contains(name)) {
            // A tracked directory: scanned as its own.
            (true, true) => {}
            (true, false) => untracked.new_dirs.push(join(path, name)),
            // A file or link where the index holds files, or one the index does not hold.
            (false, _) => untracked.paths.push(join(path, name)),
        }
    }
    found.paths.extend(untracked.paths.iter().cloned());
    found.new_dirs.extend(untracked.new_dirs.iter().cloned());
    if stamp.before(began) {
        found.listed.push((number, untracked));
    }
    Ok(())
}

/// Adds every file of a directory the index holds nothing in, unless git ignores it; false when it
/// holds a repository of its own (which git shows as one entry: libgit2 must then decide).
fn list_new_dir(repo: &Repository, root: &OwnedFd, path: &[u8], paths: &mut Vec<Vec<u8>>) -> Result<bool, GitError> {
    let mut shown = path.to_vec();
    shown.push(b'/');
    if repo.is_path_ignored(Path::new(bytes_name(&shown)))? {
        return Ok(true);
    }
    let Some(dir) = open_dir(root, path)? else { return Ok(true) };
    let mut subdirs = Vec::new();
    for entry in Dir::read_from(&dir).map_err(std::io::Error::from)? {
        let entry = entry.map_err(std::io::Error::from)?;
        let name = entry.file_name().to_bytes();
        if matches!(name, b"." | b"..") {
            continue;
        }
        if name == b".git" {
            return Ok(false);
        }
        let kind = match entry.file_type() {
            FileType::Unknown => rustix::fs::statat(&dir, bytes_name(name), AtFlags::SYMLINK_NOFOLLOW)
                .map_or(FileType::Unknown, |stat| FileType::from_raw_mode(stat.st_mode)),
            kind => kind,
        };
        match kind {
            FileType::Directory => subdirs.push(join(path, name)),
            FileType::RegularFile | FileType::Symlink => paths.push(join(path, name)),
            _ => {}
        }
    }
    for subdir in subdirs {
        if !list_new_dir(repo, root, &subdir, paths)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn bytes_name(name: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(name)
}
