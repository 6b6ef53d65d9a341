//! Runs the SCIM compliance checker (`check_scim.py`: PyPI `scim2-tester`
//! driven through `scim2-client`, plus filter checks) against a SCIM base
//! URL and reads its verdict.
//!
//! The checker lives in the SDK virtualenv (`target/sdk-venv`, or the
//! Python named by `IDSYNC_SDK_PYTHON`), which `scripts/sdk-test-deps.sh`
//! installs. A missing virtualenv fails the run: a compliance test that
//! skips would hide a broken endpoint.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// What a run of the checker found.
#[derive(Debug)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Every check that failed or errored, with the checker's reason.
    pub failures: Vec<CheckFailure>,
    /// Whether the checker exited 0.
    pub success: bool,
    /// One line per check result, for failure messages.
    pub output: String,
}

#[derive(Debug, Deserialize)]
pub struct CheckFailure {
    pub check: String,
    pub resource_type: Option<String>,
    pub status: String,
    pub reason: String,
}

/// The summary line `check_scim.py` prints last.
#[derive(Deserialize)]
struct Summary {
    passed: usize,
    failed: usize,
    skipped: usize,
    failures: Vec<CheckFailure>,
}

impl Report {
    /// Panics, naming each failure and its reason, unless every check passed.
    pub fn assert_clean(&self) {
        if self.success && self.failed == 0 {
            return;
        }
        let failures: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                let resource = f.resource_type.as_deref().unwrap_or("-");
                format!("  {} {resource}/{}: {}", f.status, f.check, f.reason)
            })
            .collect();
        panic!(
            "scim2-tester: {} failed, {} passed, {} skipped:\n{}\n\nfull output:\n{}",
            self.failed,
            self.passed,
            self.skipped,
            failures.join("\n"),
            self.output
        );
    }

    /// Whether `check` (for `resource_type`, or a check of the server as a
    /// whole when `None`) is among the failures.
    pub fn failed_check(&self, check: &str, resource_type: Option<&str>) -> bool {
        self.failures
            .iter()
            .any(|f| f.check == check && f.resource_type.as_deref() == resource_type)
    }
}

/// The folder of the checker, its reference server and the Okta and Entra
/// request sequences.
pub fn scim_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scim")
}

/// The SDK virtualenv's Python, or `IDSYNC_SDK_PYTHON`.
pub fn sdk_python() -> PathBuf {
    std::env::var_os("IDSYNC_SDK_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sdk-venv/bin/python"),
        PathBuf::from,
    )
}

/// Runs every check against the SCIM service at `base_url` (e.g.
/// `http://127.0.0.1:PORT/scim/CONNECTION/v2`) with `token` as bearer token.
/// Panics when the checker cannot run or gives no verdict.
pub async fn run_scim2_tester(base_url: &str, token: &str) -> Report {
    run_scim2_tester_with(&sdk_python(), base_url, token)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// [`run_scim2_tester`] with the given Python; an error when the checker
/// cannot run or gives no verdict.
pub async fn run_scim2_tester_with(
    python: &Path,
    base_url: &str,
    token: &str,
) -> Result<Report, String> {
    let install = "install it with scripts/sdk-test-deps.sh (scripts/test.sh runs it)";
    if !python.exists() {
        return Err(format!(
            "{} is missing: the SCIM compliance checker needs the SDK virtualenv; {install}",
            python.display()
        ));
    }
    let output = Command::new(python)
        .arg(scim_dir().join("check_scim.py"))
        .arg("--url")
        .arg(base_url)
        // In the environment rather than the arguments, which `ps` shows.
        .env("SCIM_TOKEN", token)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {} ({e}); {install}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Summary = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| {
            let hint = if stderr.contains("ModuleNotFoundError") {
                format!("the virtualenv lacks the checker; {install}")
            } else {
                "the checker crashed".to_owned()
            };
            format!(
                "check_scim.py printed no summary ({}): {hint}\n{stdout}\n{stderr}",
                output.status
            )
        })?;
    let success = output.status.success();
    if success != (summary.failed == 0) {
        return Err(format!(
            "check_scim.py exited {} with {} failures in its summary:\n{stdout}\n{stderr}",
            output.status, summary.failed
        ));
    }
    Ok(Report {
        passed: summary.passed,
        failed: summary.failed,
        skipped: summary.skipped,
        failures: summary.failures,
        success,
        output: stdout,
    })
}

/// The reference SCIM server (PyPI `scim2-server`) on a port of its own; the
/// child is killed when dropped.
pub async fn reference_server(token: &str) -> (tokio::process::Child, String) {
    let mut child = Command::new(sdk_python())
        .arg(scim_dir().join("reference_server.py"))
        .arg(token)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start reference_server.py; install the checker with scripts/sdk-test-deps.sh");
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("reference_server.py exited before serving");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (child, url)
}
