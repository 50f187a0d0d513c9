//! The process's limit on open files (RLIMIT_NOFILE), and how many segment files the store
//! may keep open within it (docs/storage.md, *Open files and permissions*).

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

/// How many segment files to keep open under a limit of `limit` descriptors: a quarter of it
/// (at least 128, at most 16,384) stays for sockets, the catalog, the journal, TLS files and
/// the files and directories that creating shards, reads and syncs open for a moment (creating
/// a stream's shards alone can hold about 64 from its 32 threads).
pub fn segment_files_within(limit: u64) -> usize {
    let reserve = (limit / 4).clamp(128, 16_384);
    usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_room_for_everything_else() {
        assert_eq!(segment_files_within(1_024), 768);
        assert_eq!(segment_files_within(256), 128);
        assert_eq!(segment_files_within(100), 1);
        assert_eq!(segment_files_within(1_048_576), 1_048_576 - 16_384);
    }
}
