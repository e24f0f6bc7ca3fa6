//! The console in a real browser: the Playwright suite in `console/e2e`
//! (Node, `playwright-core`, Debian's Chromium) against `warden serve` on a
//! fresh data directory, with the Google stand-in as the OAuth2 provider and
//! the Calendar API.
//!
//! Without Node, the console's npm packages or Chromium the test prints
//! `SKIPPED`; under `CI` it fails instead. `WARDEN_CONSOLE_SCREENSHOTS=DIR`
//! saves the suite's screenshots of the main pages in `DIR` (see
//! docs/console.md).

use crate::serve::start_with_env;
use crate::*;
use warden_testing::GoogleCalendar;

/// Where Chromium is: `WARDEN_TEST_CHROMIUM`, or Debian's.
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("WARDEN_TEST_CHROMIUM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    path.is_file().then_some(path)
}

#[test]
fn the_console_drives_the_platform_in_a_browser() {
    let console = repo_root().join("console");
    let Some(chromium) = chromium() else {
        skipped(
            "the_console_drives_the_platform_in_a_browser: no Chromium \
             (Debian: apt-get install chromium, or set WARDEN_TEST_CHROMIUM)",
        );
        return;
    };
    if !console.join("node_modules/playwright-core").is_dir()
        || Command::new("node").arg("--version").output().is_err()
    {
        skipped(
            "the_console_drives_the_platform_in_a_browser: no Node.js or no console \
             packages (run `npm ci` in console/)",
        );
        return;
    }

    let runtime = stand_in_runtime();
    let google = runtime.block_on(GoogleCalendar::start());
    let data = tempfile::tempdir().unwrap();
    let origin = google.origin();
    let credential_host = format!("access_token={origin}");
    let server = start_with_env(
        data.path(),
        &[
            "--allow-private-network",
            "--allow-host",
            &origin,
            "--credential-host",
            &credential_host,
            "--oauth-token-url",
            &google.token_url(),
            "--oauth-authorize-url",
            &google.authorize_url(),
            "--oauth-revocation-url",
            &google.revoke_url(),
        ],
        &[],
    );
    let url = format!("http://{}", server.address);
    google.register_redirect_uri(&format!("{url}/oauth/callback"));
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("bootstrap.json")).unwrap())
            .unwrap();
    let key = bootstrap["api_key"].as_str().unwrap();

    let mut suite = Command::new("node");
    suite
        .args(["--test", "--test-reporter=spec", "e2e/"])
        .current_dir(&console)
        .env("WARDEN_URL", &url)
        .env("WARDEN_API_KEY", key)
        .env("WARDEN_CHROMIUM", &chromium)
        .env("GOOGLE_API_BASE", google.base_url())
        .env("GOOGLE_CLIENT_ID", GoogleCalendar::CLIENT_ID)
        .env("GOOGLE_CLIENT_SECRET", GoogleCalendar::CLIENT_SECRET)
        // A real component for the upload: inspected, installed, inspected again.
        .env("WARDEN_E2E_COMPONENT", artifacts::ECHO);
    if let Some(dir) = std::env::var_os("WARDEN_CONSOLE_SCREENSHOTS") {
        suite.env("WARDEN_SCREENSHOTS", dir);
    }
    let output = suite.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the console's browser suite failed:\n{stdout}\n{stderr}\n---- server ----\n{}",
        server.stderr.lock().unwrap().join("\n")
    );
    eprintln!("{stdout}");

    // The suite connected the account through the stand-in's consent page:
    // the stand-in issued the tokens, and Warden used them for the calendar.
    assert!(
        google
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/calendar/v3/")),
        "no Calendar API call reached the stand-in"
    );
    // The client secret the suite typed never reached the server's output.
    let log = server.stderr.lock().unwrap().join("\n");
    assert!(!log.contains(GoogleCalendar::CLIENT_SECRET));
    assert!(!server.stdout.contains(GoogleCalendar::CLIENT_SECRET));
}
