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
fn a_file_in_place_of_the_data_directory_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    std::fs::write(&file, "not a directory").unwrap();
    let stderr = serve_fails(&file, None);
    assert!(stderr.contains("cannot open the data directory"), "{stderr}");
    assert!(stderr.contains("File exists"), "{stderr}");
    assert!(stderr.contains("Something that is not a directory is in its place"), "{stderr}");
    assert!(!stderr.contains("writable") && !stderr.contains("file descriptors"), "{stderr}");
}

/// Runs `kinesin serve` under an open-files limit of 64 of which only `free` descriptors are
/// left (the others taken by copies of stderr it inherits); kills it if it starts. Returns its
/// stderr and whether it started.
fn serve_with_free_descriptors(data_dir: &std::path::Path, free: i32) -> (String, bool) {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    const LIMIT: i32 = 64;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinesin"));
    cmd.args(["serve", "--port", "0", "--admin-port", "off", "--data-dir"]).arg(data_dir);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let limit = libc::rlimit { rlim_cur: LIMIT as u64, rlim_max: LIMIT as u64 };
    // SAFETY: setrlimit, dup and close are async-signal-safe; nothing else runs here.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            while libc::dup(2) >= 0 {}
            for fd in LIMIT - free..LIMIT {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let started = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("kinesin listening"));
    if started {
        child.kill().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    (String::from_utf8(output.stderr).unwrap(), started)
}

/// Out of descriptors while opening the data directory: the message says so and what to do,
/// and does not guess at permissions. How many descriptors the runtime takes before the store
/// opens is not fixed, so the free ones go up until the server starts. (With the fewest free,
/// tokio's signal handling panics while the runtime starts, before kinesin can say anything.)
#[test]
fn running_out_of_descriptors_at_start_up_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut data_dir_failures = 0;
    // Other tests of this binary spawn processes at the same time, which can shift how many
    // descriptors a child really has free past the narrow window: a few scans, not one.
    for scan in 0..3 {
        for free in 0..40 {
            let (stderr, started) =
                serve_with_free_descriptors(&dir.path().join(format!("data-{scan}-{free}")), free);
            if started {
                break;
            }
            assert!(!stderr.contains("writable"), "{free} free: {stderr}");
            if stderr.contains("cannot open the data directory") {
                assert!(!stderr.contains("panicked"), "{free} free: {stderr}");
                assert!(stderr.contains("Too many open files"), "{free} free: {stderr}");
                assert!(
                    stderr.contains("out of file descriptors: raise the open-files limit"),
                    "{free} free: {stderr}"
                );
                data_dir_failures += 1;
            }
        }
        if data_dir_failures > 0 {
            break;
        }
    }
    assert!(data_dir_failures > 0, "the data directory never ran out of descriptors");
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
