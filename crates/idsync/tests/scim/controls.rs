//! Controls of the compliance harness, so that a clean run means something:
//! it fails a server that is not SCIM, passes the ecosystem's reference
//! server, and refuses to run without its virtualenv; and of the request
//! sequences, which play through on the reference server.

use std::path::Path;

use axum::Router;
use axum::http::StatusCode;

use crate::scim_compliance::{reference_server, run_scim2_tester, run_scim2_tester_with};
use crate::sequences;

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

#[tokio::test]
async fn checker_passes_the_reference_scim_server() {
    let (_server, url) = reference_server(TOKEN).await;

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

/// Every sequence parses, and names only values an earlier step captured.
#[test]
fn sequences_capture_what_they_use() {
    let names = [
        "okta-user-lifecycle",
        "okta-group-membership",
        "entra-user-lifecycle",
        "entra-group-membership",
        "entra-legacy-patch",
        "entra-scim-compliant-patch",
    ];
    for name in names {
        let mut captured: Vec<String> = Vec::new();
        for step in sequences::load(name) {
            let text = format!("{} {}", step.path, step.body.unwrap_or_default());
            for used in text.split('{').skip(1).filter_map(|s| s.split_once('}')) {
                let used = used.0;
                let is_name = !used.is_empty()
                    && used
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                assert!(
                    !is_name || captured.iter().any(|c| c == used),
                    "{name}: {:?} uses {{{used}}} before it is captured",
                    step.step
                );
            }
            captured.extend(step.capture);
        }
    }
}

/// The sequences a strict RFC 7644 server accepts play through on the
/// reference server, each from an empty one: the data, the placeholders and
/// the player work. (Entra's group requests carry a schema URI and a remove
/// form that it refuses; sequences/README.md lists them.)
#[tokio::test]
async fn documented_sequences_replay_on_the_reference_server() {
    for name in [
        "okta-user-lifecycle",
        "okta-group-membership",
        "entra-user-lifecycle",
    ] {
        let (_server, url) = reference_server(TOKEN).await;

        let captured = sequences::replay(&url, TOKEN, &sequences::load(name)).await;

        assert!(captured.contains_key("user_id"), "{name}: {captured:?}");
    }
}
