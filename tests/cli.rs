//! The binary's own flags, and what it says when it cannot start.

mod common;

use std::process::Command;

use common::limit_open_files;

/// Runs `kinesin serve` on `data_dir` expecting it to fail; returns its stderr.
fn serve_fails(data_dir: &std::path::Path, open_files_limit: Option<u64>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinesin"));
    cmd.args(["serve", "--port", "0", "--data-dir"]).arg(data_dir);
    if let Some(n) = open_files_limit {
        limit_open_files(&mut cmd, n);
    }
    let output = cmd.output().unwrap();
    assert!(!output.status.success(), "kinesin started: {output:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn too_low_an_open_files_limit_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = serve_fails(&dir.path().join("data"), Some(16));
    assert!(stderr.contains("the open-files limit is 16 (hard limit 16)"), "{stderr}");
    assert!(stderr.contains("ulimit -n"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_data_directory_that_cannot_be_made_is_named_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let stderr = serve_fails(&file.join("data"), None);
    assert!(stderr.contains("cannot open the data directory"), "{stderr}");
    assert!(stderr.contains("Not a directory"), "{stderr}");
    assert!(stderr.contains("Check the path"), "{stderr}");
    assert!(!stderr.contains("writable") && !stderr.contains("file descriptors"), "{stderr}");
}

#[test]
fn version_names_the_release_and_the_commit() {
    let output = Command::new(env!("CARGO_BIN_EXE_kinesin")).arg("--version").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let expected_start = format!("kinesin {} (commit ", env!("CARGO_PKG_VERSION"));
    let commit = text.trim_end().strip_prefix(&expected_start).and_then(|rest| rest.strip_suffix(')'));
    let commit = commit.unwrap_or_else(|| panic!("unexpected --version output: {text:?}"));
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        commit == "unknown" || (hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit())),
        "not a commit: {commit:?}"
    );
}
