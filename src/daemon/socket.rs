//! Where a workspace's daemon listens: a Unix socket in a directory only the user can enter,
//! named after the workspace path, so every client of one workspace finds the same daemon.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The directory of the user's daemon sockets: `$XDG_RUNTIME_DIR/opencode-orchestrator`, or
/// `<temp>/opencode-orchestrator-<uid>` without one.
pub fn dir() -> PathBuf {
    match dirs::runtime_dir() {
        Some(runtime) => runtime.join("opencode-orchestrator"),
        None => std::env::temp_dir().join(format!(
            "opencode-orchestrator-{}",
            rustix::process::getuid().as_raw()
        )),
    }
}

/// The socket of `workspace` (an absolute, canonical path) in `dir`.
pub fn path_in(dir: &Path, workspace: &Path) -> PathBuf {
    let name: String = workspace
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(24)
        .collect();
    let hash = crate::orchestrator::ids::stable_hash(workspace.as_os_str().as_encoded_bytes());
    dir.join(format!("{name}-{hash:016x}.sock"))
}

/// Creates `dir` for the user alone, or checks that an existing one is: owned by the user, and
/// not open to anyone else (else another user could impersonate the daemon).
pub fn prepare(dir: &Path) -> io::Result<()> {
    // Created closed (mode 700 from the start, not chmod-ed after): a racing process that
    // finds it existing must never see it open to others for a moment.
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700);
    match builder.create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            builder.recursive(true).create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let me = rustix::process::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} must be a directory owned by you (uid {me}) and closed to others (mode 700); \
                 it is {} owned by uid {} with mode {:o}",
                dir.display(),
                if meta.is_dir() {
                    "a directory"
                } else {
                    "not a directory"
                },
                meta.uid(),
                meta.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_racing_to_create_the_directory_all_find_it_closed() {
        for _ in 0..20 {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("run/opencode-orchestrator");
            let racers: Vec<_> = (0..8)
                .map(|_| {
                    let dir = dir.clone();
                    std::thread::spawn(move || prepare(&dir))
                })
                .collect();
            for r in racers {
                r.join()
                    .unwrap()
                    .expect("every racer accepts the directory");
            }
            let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
    }

    #[test]
    fn one_socket_per_workspace_path() {
        let d = Path::new("/run/user/1000/opencode-orchestrator");
        let a = path_in(d, Path::new("/home/me/projects/app"));
        let b = path_in(d, Path::new("/home/me/other/app"));
        assert_ne!(a, b);
        assert_eq!(a, path_in(d, Path::new("/home/me/projects/app")));
        let name = a.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with("app-") && name.ends_with(".sock"),
            "{name}"
        );
        let long = path_in(d, Path::new(&format!("/x/{}", "ü".repeat(200))));
        assert!(long.as_os_str().len() < 108, "fits a Unix socket address");
    }

    #[test]
    fn the_directory_is_closed_to_others() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sockets");
        prepare(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        prepare(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = prepare(&dir).unwrap_err();
        assert!(err.to_string().contains("closed to others"), "{err}");
    }
}
