//! Data directory chores: initdb, ownership, permissions, the lock file.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::PgError;
use crate::env::{Env, output, run};

/// initdb's settings: trust auth because the server only listens on
/// loopback (and on no unix socket) and holds throwaway or dev data; UTF8
/// without a locale so that results do not depend on the machine's locales.
pub(crate) async fn initdb(env: &Env, dir: &Path, sync: bool) -> Result<(), PgError> {
    create_private_dir(env, dir)?;
    let mut cmd = env.server_cmd(&env.initdb);
    cmd.arg("-D").arg(dir).args([
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-locale",
        "--auth=trust",
    ]);
    if !sync {
        // For copies that die with the test run, skipping ~40 MB of fsyncs
        // roughly halves initdb's time.
        cmd.arg("--no-sync");
    }
    let started = std::time::Instant::now();
    run(cmd, &format!("initdb -D {}", dir.display())).await?;
    tracing::info!(data_dir = %dir.display(), elapsed = ?started.elapsed(), "initdb done");
    Ok(())
}

/// Creates `dir` (parents too) as the server's private directory: mode 0700,
/// as PostgreSQL demands, owned by the server's user.
pub(crate) fn create_private_dir(env: &Env, dir: &Path) -> Result<(), PgError> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| PgError::io("create", parent, e))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| PgError::io("set permissions of", dir, e))?;
        }
        Err(e) => return Err(PgError::io("create", dir, e)),
    }
    if let Some(acct) = env.run_as {
        std::os::unix::fs::chown(dir, Some(acct.uid), Some(acct.gid))
            .map_err(|e| PgError::io("chown to postgres", dir, e))?;
    }
    check_traversable(env, dir)
}

/// As root, makes an existing data directory belong to `postgres` (it may
/// have been created by an earlier non-root run).
pub(crate) async fn ensure_owned(env: &Env, dir: &Path) -> Result<(), PgError> {
    let Some(acct) = env.run_as else {
        return Ok(());
    };
    let meta = std::fs::metadata(dir).map_err(|e| PgError::io("inspect", dir, e))?;
    if meta.uid() != acct.uid {
        tracing::warn!(data_dir = %dir.display(), "data directory is not owned by postgres; chown -R");
        let mut cmd = Command::new("chown");
        cmd.arg("-R").arg("postgres:postgres").arg(dir);
        run(
            cmd,
            &format!("chown -R postgres:postgres {}", dir.display()),
        )
        .await?;
    }
    Ok(())
}

/// As root, every ancestor of `dir` must be enterable by `postgres`, or the
/// server fails with a bare "Permission denied". Checked up front to say
/// which directory is in the way.
pub(crate) fn check_traversable(env: &Env, dir: &Path) -> Result<(), PgError> {
    let Some(acct) = env.run_as else {
        return Ok(());
    };
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        let ok = mode & 0o001 != 0
            || (meta.uid() == acct.uid && mode & 0o100 != 0)
            || (meta.gid() == acct.gid && mode & 0o010 != 0);
        if !ok {
            return Err(PgError::NotTraversable {
                dir: ancestor.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

/// postmaster.pid's pid and port (line 4), if the file is there.
pub(crate) fn read_pid_file(dir: &Path) -> Option<(u32, Option<u16>)> {
    let text = std::fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let port = lines.nth(2).and_then(|l| l.trim().parse().ok());
    Some((pid, port))
}

/// Whether postmaster.pid says the server on `port` accepts connections:
/// line 4 is the port, line 8 the status, "ready" once it accepts them.
pub(crate) fn pid_file_ready(dir: &Path, port: u16) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("postmaster.pid")) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines.get(3).and_then(|l| l.parse::<u16>().ok()) == Some(port)
        && lines.get(7).is_some_and(|l| *l == "ready")
}

/// What postmaster.pid says about a live server in `dir`. A stale file (its
/// process is gone, or the pid now belongs to something else, as happens
/// after a reboot or in a restarted container) is removed so that it cannot
/// block the next start.
pub(crate) async fn live_postmaster(env: &Env, dir: &Path) -> Option<(u32, Option<u16>)> {
    let (pid, port) = read_pid_file(dir)?;
    let alive = match proc_is_postmaster(dir, pid) {
        Some(alive) => alive,
        None => {
            // No /proc (not Linux): pg_ctl status checks the pid with kill(pid, 0).
            let mut cmd = env.server_cmd(&env.pg_ctl);
            cmd.arg("status").arg("-D").arg(dir);
            output(cmd, "pg_ctl status")
                .await
                .is_ok_and(|o| o.status.success())
        }
    };
    if alive {
        return Some((pid, port));
    }
    let pid_file = dir.join("postmaster.pid");
    tracing::info!(pid, file = %pid_file.display(), "removing stale postmaster.pid");
    if let Err(e) = std::fs::remove_file(&pid_file) {
        tracing::warn!(file = %pid_file.display(), error = %e, "could not remove stale postmaster.pid");
    }
    None
}

/// Whether `pid` is a running (not zombie) postmaster of `dir`, judged from
/// /proc; None where there is no /proc.
pub(crate) fn proc_is_postmaster(dir: &Path, pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return Some(false);
    };
    // "pid (comm) state ...": comm may hold spaces, so split at the last ')'.
    let Some((head, tail)) = stat.rsplit_once(')') else {
        return Some(false);
    };
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    let state = tail.split_whitespace().next().unwrap_or("");
    if !matches!(comm, "postgres" | "postmaster") || matches!(state, "Z" | "X") {
        return Some(false);
    }
    // The postmaster's working directory is its data directory; if we may
    // not look (another user's process), trust the name.
    Some(
        match (
            std::fs::read_link(proc_dir.join("cwd")),
            std::fs::canonicalize(dir),
        ) {
            (Ok(cwd), Ok(dir)) => cwd == dir,
            _ => true,
        },
    )
}

/// Number of files and directories below `dir`; a cheap check that nobody
/// (e.g. a /tmp cleaner) removed part of the cached template.
pub(crate) fn count_entries(dir: &Path) -> std::io::Result<u64> {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            count += 1;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(count)
}

/// The last `lines` lines of the server log written since `offset`.
pub(crate) fn log_tail(log: &Path, offset: u64, lines: usize) -> String {
    let bytes = match std::fs::read(log) {
        Ok(b) => b,
        Err(e) => return format!("(could not read {}: {e})", log.display()),
    };
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let all: Vec<&str> = text.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    if tail.is_empty() {
        "(the log is empty)".to_owned()
    } else {
        tail.join("\n")
    }
}
