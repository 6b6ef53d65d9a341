//! Controls of the compliance harness, so that a clean run means something:
//! it fails a server that is not SCIM, passes the ecosystem's reference
//! server, and refuses to run without its virtualenv.

use std::path::Path;
use std::process::Stdio;

use axum::Router;
use axum::http::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::scim_compliance::{run_scim2_tester, run_scim2_tester_with, scim_dir, sdk_python};

const TOKEN: &str = "scim-test-token-0123456789";

/// An HTTP server that answers every request 404 in plain text.
async fn not_scim_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "not found") });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/scim/not-scim/v2")
}

#[tokio::test]
async fn checker_fails_a_server_that_is_not_scim() {
    let report = run_scim2_tester(&not_scim_server().await, TOKEN).await;

    assert!(!report.success, "{}", report.output);
    assert!(report.failed > 0);
    assert!(
        report.failed_check("discover", None),
        "{:?}",
        report.failures
    );
    assert!(report.failed_check("service_provider_config_endpoint", None));
    // Nothing past discovery ran, and the run says so rather than passing.
    for resource_type in ["User", "Group"] {
        assert!(report.failed_check("coverage", Some(resource_type)));
    }
}

/// The reference SCIM server (PyPI `scim2-server`) on a port of its own; the
/// child is killed when dropped.
async fn reference_server() -> (tokio::process::Child, String) {
    let mut child = Command::new(sdk_python())
        .arg(scim_dir().join("reference_server.py"))
        .arg(TOKEN)
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

#[tokio::test]
async fn checker_passes_the_reference_scim_server() {
    let (_server, url) = reference_server().await;

    let report = run_scim2_tester(&url, TOKEN).await;

    report.assert_clean();
    assert_eq!(report.skipped, 0, "{}", report.output);
    // Every scim2-tester check of User (with the enterprise extension) and
    // Group ran: 145 results with scim2-tester 0.5.2.
    assert!(report.passed >= 140, "{}", report.output);
}

#[tokio::test]
async fn checker_without_its_virtualenv_names_the_install_script() {
    let missing = Path::new("/nonexistent/sdk-venv/bin/python");

    let error = run_scim2_tester_with(missing, "http://127.0.0.1:9/v2", TOKEN)
        .await
        .unwrap_err();

    assert!(error.contains("scripts/sdk-test-deps.sh"), "{error}");
}
