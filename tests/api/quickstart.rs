//! The README's walkthrough ("First steps with curl") runs as written: its `sh` blocks, in
//! order, in one bash with `set -euo pipefail`, against a real server (curl and jq as a reader
//! would use them). A README edit that breaks the sequence fails here.

use crate::helpers::{ADMIN_KEY, Backend, TestApp, backend_tests};

/// The `sh` code blocks of the README section `heading`, joined in order.
fn shell_blocks(readme: &str, heading: &str) -> String {
    let section = readme.split(heading).nth(1).expect("the section exists");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut script = String::new();
    for block in section.split("```sh\n").skip(1) {
        script.push_str(block.split("```").next().unwrap_or_default());
    }
    script
}

async fn the_readme_walkthrough_runs_as_written(backend: Backend) {
    let script = shell_blocks(include_str!("../../README.md"), "## First steps with curl");
    assert!(script.contains("/auth/login") && script.contains("DELETE"), "the walkthrough was found:\n{script}");
    let app = TestApp::spawn(backend).await;

    let output = tokio::process::Command::new("bash")
        .args(["-c", &format!("set -euo pipefail\n{script}")])
        .env("OVLT", &app.address)
        .env("KEY", ADMIN_KEY)
        .output()
        .await
        .expect("bash runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the walkthrough failed:\n{stderr}\n--- its output:\n{stdout}");
    assert!(stdout.contains(r#""status":"ok""#), "{stdout}");
    assert!(stdout.contains("/oauth/authorize?response_type=code&client_id="), "{stdout}");
    let gone = app.admin(reqwest::Method::GET, "/tenants/slugs").send().await.unwrap().text().await.unwrap();
    assert!(!gone.contains("acme"), "the walkthrough tears its tenant down: {gone}");
}

backend_tests!(the_readme_walkthrough_runs_as_written);
