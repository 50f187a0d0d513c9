//! The web console (docs/console.md) in a real browser: `tests/console_browser.py` drives
//! Debian's headless Chromium with Playwright against a real `kinesin serve`, with and without
//! `--credentials`, and saves screenshots under `target/console-screenshots/`. Where Chromium
//! or the Python environment is missing the tests say so and skip, except under `CI=true`,
//! where `.ci/run` installs both and a missing one is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ServerOptions, TestServer};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The venv's Python with Playwright, or None (having said why) when the test must skip.
fn browser_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-tests/bin/python");
    let missing = if !Path::new(CHROMIUM).exists() {
        Some(format!("{CHROMIUM} is missing (apt-get install chromium)"))
    } else if !python.exists() {
        Some(format!("{} is missing (.ci/run creates it)", python.display()))
    } else if !Command::new(&python).args(["-c", "import playwright"]).status().is_ok_and(|s| s.success()) {
        Some(format!("Playwright is not installed in {} (.ci/run installs it)", python.display()))
    } else {
        None
    };
    match missing {
        None => Some(python),
        Some(why) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipping the browser test: {why}");
            None
        }
    }
}

fn screenshot_dir(case: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots").join(case);
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

/// Runs the browser script against `server`; `key` when it verifies signatures.
fn drive(python: &Path, server: &TestServer, case: &str, key: Option<(&str, &str)>) {
    let admin = server.stdout_line("kinesin admin on ").expect("the admin port's line");
    let admin = admin.trim_start_matches("kinesin admin on ");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console_browser.py");
    let mut command = Command::new(python);
    command.arg(&script).arg(server.endpoint()).arg(admin).arg(screenshot_dir(case));
    if let Some((id, secret)) = key {
        command.args([id, secret]);
    }
    let output = command.output().expect("run the browser script");
    assert!(
        output.status.success(),
        "the browser script failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.stderr()
    );
}

#[test]
fn console_pages_in_headless_chromium() {
    let Some(python) = browser_python() else { return };
    let server = TestServer::start();
    drive(&python, &server, "open", None);
}

#[test]
fn console_asks_for_a_key_when_signatures_are_verified() {
    let Some(python) = browser_python() else { return };
    let keys = tempfile::NamedTempFile::new().expect("a credentials file");
    std::fs::write(keys.path(), "AKIDCONSOLE console-secret-key 000000000000\n").unwrap();
    let server = TestServer::start_with(
        ServerOptions::default().arg("--credentials").arg(keys.path().to_str().unwrap()),
    );
    drive(&python, &server, "credentials", Some(("AKIDCONSOLE", "console-secret-key")));
}
