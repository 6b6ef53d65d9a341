//! Cleanup for when this process dies without dropping its [`crate::PgServer`]
//! (Ctrl-C on a test run, kill -9, panic=abort). pg_ctl puts the server in
//! its own session, so without this it would keep running, and a temp data
//! directory would stay, until the next reboot.
//!
//! The watchdog is a detached `sh` blocked reading a pipe whose only write
//! end this process holds. Drop disarms it by writing a line; end of file
//! without a line means we died, and it stops the server (and removes the
//! temp directory).

use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};

use crate::env::{Env, which};

const SCRIPT: &str = r#"data=$1; root=$2; mode=$3; shift 3
if read -r _; then exit 0; fi
"$@" stop -D "$data" -m "$mode" -w -t 30 >/dev/null 2>&1
if [ -n "$root" ]; then rm -rf -- "$root"; fi
"#;

pub(crate) struct Watchdog {
    pipe: Option<ChildStdin>,
}

impl Watchdog {
    /// `temp_root`: deleted too when the watchdog fires. `mode`: pg_ctl's
    /// shutdown mode. Returns None (and the server is simply not watched)
    /// where util-linux's setsid is missing.
    pub fn spawn(env: &Env, data_dir: &Path, temp_root: Option<&Path>, mode: &str) -> Option<Self> {
        let Some(setsid) = which("setsid") else {
            tracing::debug!(
                "setsid not found; the server is not stopped if this process is killed"
            );
            return None;
        };
        // setsid -f: its own session, so the Ctrl-C that kills us does not
        // kill it too; forked, so `init` reaps it and we wait only for setsid.
        let mut cmd = Command::new(setsid);
        cmd.args(["-f", "sh", "-c", SCRIPT, "idsync-pg-watchdog"])
            .arg(data_dir)
            .arg(temp_root.map(Path::as_os_str).unwrap_or_default())
            .arg(mode);
        let pg_ctl = env.server_cmd(&env.pg_ctl);
        cmd.arg(pg_ctl.get_program()).args(pg_ctl.get_args());
        cmd.current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not start the cleanup watchdog");
                return None;
            }
        };
        let pipe = child.stdin.take();
        // Returns as soon as setsid has forked (about a millisecond).
        if let Err(e) = child.wait() {
            tracing::debug!(error = %e, "waiting for setsid");
        }
        Some(Watchdog { pipe })
    }

    /// Tells the watchdog to exit without doing anything.
    pub fn disarm(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            // If this fails the watchdog is gone already.
            let _ = pipe.write_all(b"disarm\n");
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping without disarming would close the pipe and fire it.
        self.disarm();
    }
}
