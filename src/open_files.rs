//! The process's limit on open files (RLIMIT_NOFILE). The store keeps a file open per shard
//! (docs/storage.md, "Open files and permissions"), so a low soft limit would cap the shards a data directory
//! can hold and reopen.

/// Below this many descriptors the async runtime, the listeners, the catalog, the journal and
/// a few segment files do not fit.
pub const MIN_LIMIT: u64 = 32;

/// The soft limit before and after [`raise_limit`], and the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub soft_was: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft limit on open files to the hard limit (which an unprivileged process may
/// do), so that a low default soft limit (often 1,024) does not cap the store.
pub fn raise_limit() -> std::io::Result<Limits> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the limits into `limit`, a valid rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let soft_was = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit only reads `raised`.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    Ok(Limits { soft_was, soft: limit.rlim_cur, hard: limit.rlim_max })
}
