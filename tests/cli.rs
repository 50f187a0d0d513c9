//! The binary's own flags.

use std::process::Command;

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
