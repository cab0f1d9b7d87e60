//! `arbor sandbox build-image`: the container backend's image, made offline from this machine's
//! own Debian packages. No image registry is needed (none may be reachable): the files dpkg
//! installed for the essential packages, a shell's tools and git (with everything they depend
//! on, documentation left out) are streamed as one tarball into the engine's `import`. The
//! agent's CLI and its interpreter are not baked in; each container binds them read-only from
//! the machine, and they run against the same libraries they were installed with.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::container::{Engine, IMAGE};
use super::layout::{CREDENTIAL_PATHS, SYSTEM_ROOTS};

/// The packages an agent's tools need beyond the essential ones.
const BASE_PACKAGES: [&str; 14] = [
    "bash",
    "ca-certificates",
    "coreutils",
    "diffutils",
    "findutils",
    "git",
    "grep",
    "gzip",
    "libc6",
    "libstdc++6",
    "procps",
    "sed",
    "tar",
    "util-linux",
];
/// Parts of packages no agent needs.
const LEFT_OUT: [&str; 5] = ["/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/locale", "/usr/share/lintian"];
/// Where dpkg lists each installed package's files.
const DPKG_INFO: &str = "/var/lib/dpkg/info";
/// The image's users: root and the agent's uid inside a container.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/tmp:/bin/sh\n";
const GROUP: &str = "root:x:0:\nagent:x:1000:\n";

/// Errors of building the image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// dpkg's database could not be read (not a Debian-based system?).
    #[error("could not read the installed Debian packages ({0}); the image is made from them")]
    Packages(String),
    /// Writing the tarball or running the engine failed.
    #[error("could not import the image into {engine}: {source}")]
    Import { engine: String, source: std::io::Error },
}

/// What went into the image.
#[derive(Debug)]
pub struct Built {
    /// The packages taken.
    pub packages: usize,
    /// The files, directories and links written.
    pub entries: usize,
}

/// Builds [`IMAGE`] with `engine`, replacing any earlier one.
pub fn build(engine: &Engine) -> Result<Built, ImageError> {
    let packages = packages()?;
    let paths = files(&packages);
    let import_error =
        |source| ImageError::Import { engine: engine.program.display().to_string(), source };
    let mut import = std::process::Command::new(&engine.program)
        .args(["import", "-", IMAGE])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(import_error)?;
    let stdin = import.stdin.take().expect("stdin is piped");
    let entries = write_tarball(stdin, &paths).map_err(import_error)?;
    let status = import.wait().map_err(import_error)?;
    if !status.success() {
        return Err(import_error(std::io::Error::other(format!("the import ended with {status}"))));
    }
    Ok(Built { packages: packages.len(), entries })
}

/// The installed packages the image is made of: the essential ones and [`BASE_PACKAGES`], with
/// every installed package they depend on.
fn packages() -> Result<BTreeSet<String>, ImageError> {
    let output = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n"])
        .output()
        .map_err(|error| ImageError::Packages(error.to_string()))?;
    if !output.status.success() {
        return Err(ImageError::Packages(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    let mut depends = BTreeMap::new();
    let mut wanted: Vec<String> = BASE_PACKAGES.map(String::from).to_vec();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(essential), Some(needs)) = (fields.next(), fields.next(), fields.next()) else { continue };
        if essential == "yes" {
            wanted.push(name.to_string());
        }
        depends.insert(name.to_string(), needs.to_string());
    }
    let mut taken = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        let Some(needs) = depends.get(&name) else { continue };
        if !taken.insert(name) {
            continue;
        }
        // Of each dependency's alternatives, the first one installed.
        for alternatives in needs.split(',') {
            let installed = alternatives.split('|').map(package_name).find(|name| depends.contains_key(*name));
            wanted.extend(installed.map(String::from));
        }
    }
    Ok(taken)
}

/// `name (>= 1.0)` or `name:any` as the bare name.
fn package_name(dependency: &str) -> &str {
    let name = dependency.trim().split([' ', '(']).next().unwrap_or_default();
    name.split(':').next().unwrap_or_default()
}

/// Every path the packages installed, with links in their directories resolved (`/bin/sh` is
/// `/usr/bin/sh` on a merged-/usr system), credentials and documentation left out.
fn files(packages: &BTreeSet<String>) -> BTreeSet<PathBuf> {
    let lists: Vec<PathBuf> = std::fs::read_dir(DPKG_INFO)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let Some(package) = name.strip_suffix(".list") else { return false };
            packages.contains(package.split(':').next().unwrap_or_default())
        })
        .collect();
    let mut paths = BTreeSet::new();
    for list in lists {
        for line in std::fs::read_to_string(list).unwrap_or_default().lines() {
            let path = Path::new(line);
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else { continue };
            let real = parent.canonicalize().unwrap_or_else(|_| parent.to_path_buf()).join(name);
            let hidden = CREDENTIAL_PATHS.iter().chain(&LEFT_OUT).any(|left| real.starts_with(left));
            if !hidden && real.symlink_metadata().is_ok() {
                paths.insert(real);
            }
        }
    }
    paths
}

/// Writes the image's tarball: the system roots that are links, the mount points and
/// directories every system has, the users, then `paths`. Returns how many entries it wrote.
fn write_tarball(out: impl Write, paths: &BTreeSet<PathBuf>) -> std::io::Result<usize> {
    let mut tarball = tar::Builder::new(out);
    tarball.follow_symlinks(false);
    let mut written = BTreeSet::new();
    for root in SYSTEM_ROOTS {
        if let Ok(target) = std::fs::read_link(root) {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            header.set_mode(0o777);
            tarball.append_link(&mut header, root.trim_start_matches('/'), target)?;
            written.insert(PathBuf::from(root));
        }
    }
    for (dir, mode) in [("/tmp", 0o1777), ("/var/tmp", 0o1777), ("/proc", 0o555), ("/sys", 0o555), ("/dev", 0o755)]
        .into_iter()
        .chain(["/run", "/home", "/root", "/etc", "/var"].map(|dir| (dir, 0o755)))
    {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        header.set_mode(mode);
        tarball.append_data(&mut header, dir.trim_start_matches('/'), std::io::empty())?;
        written.insert(PathBuf::from(dir));
    }
    for (file, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        tarball.append_data(&mut header, file, text.as_bytes())?;
    }
    let mut entries = written.len() + 2;
    for path in paths.iter().filter(|path| !written.contains(*path)) {
        let name = path.strip_prefix("/").unwrap_or(path);
        if !name.as_os_str().is_empty() {
            tarball.append_path_with_name(path, name)?;
            entries += 1;
        }
    }
    tarball.finish()?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::package_name;

    #[test]
    fn dependencies_are_taken_down_to_their_names() {
        assert_eq!(package_name(" libc6 (>= 2.34)"), "libc6");
        assert_eq!(package_name("perl:any"), "perl");
        assert_eq!(package_name(" "), "");
    }
}
