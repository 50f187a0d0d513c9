//! Running out of file descriptors, memory or disk space: an error that says what to do, and
//! a log line about it at most once a minute per resource, however many requests it fails
//! (see docs/storage.md, *Open files*).

use std::io;
use std::time::Duration;

use crate::log_limit::LogLimit;
use crate::storage::StoreError;

/// A resource the process ran out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// EMFILE or ENFILE: the process or the system has no file descriptor left.
    Descriptors,
    /// ENOMEM.
    Memory,
    /// ENOSPC or EDQUOT: the disk or the user's quota is full.
    Disk,
}

static DESCRIPTORS: LogLimit = LogLimit::new(Duration::from_secs(60));
static MEMORY: LogLimit = LogLimit::new(Duration::from_secs(60));
static DISK: LogLimit = LogLimit::new(Duration::from_secs(60));

impl Exhausted {
    /// The resource `e` says ran out, if it says so.
    pub fn of(e: &io::Error) -> Option<Exhausted> {
        match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE) => Some(Exhausted::Descriptors),
            Some(libc::ENOMEM) => Some(Exhausted::Memory),
            Some(libc::ENOSPC | libc::EDQUOT) => Some(Exhausted::Disk),
            _ => match e.kind() {
                io::ErrorKind::OutOfMemory => Some(Exhausted::Memory),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Some(Exhausted::Disk),
                _ => None,
            },
        }
    }

    /// The resource a store error says ran out, if it says so.
    pub fn of_store(e: &StoreError) -> Option<Exhausted> {
        match e {
            StoreError::Io(e) => Exhausted::of(e),
            _ => None,
        }
    }

    /// What ran out and what to do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Exhausted::Descriptors => {
                "out of file descriptors: raise the open-files limit (ulimit -n, or LimitNOFILE= in a \
                 systemd unit; kinesin raises its soft limit to the hard limit at start-up) or lower \
                 --max-open-files"
            }
            Exhausted::Memory => {
                "out of memory: give kinesin more memory, or run fewer shards or connections"
            }
            Exhausted::Disk => {
                "the disk is full: free space on the data directory's file system (deleting streams \
                 alone may not be possible on a completely full disk); appends work again once there is room"
            }
        }
    }

    fn limit(self) -> &'static LogLimit {
        match self {
            Exhausted::Descriptors => &DESCRIPTORS,
            Exhausted::Memory => &MEMORY,
            Exhausted::Disk => &DISK,
        }
    }
}

/// If `e` says a resource ran out, logs so with what to do — at most once a minute per
/// resource, counting the occurrences held back — and returns `true`.
pub fn report(e: &io::Error) -> bool {
    let Some(exhausted) = Exhausted::of(e) else { return false };
    if let Some(held_back) = exhausted.limit().pass() {
        tracing::error!(error = %e, held_back, "{}", exhausted.advice());
    }
    true
}

/// [`report`] for a store error.
pub fn report_store(e: &StoreError) -> bool {
    match e {
        StoreError::Io(e) => report(e),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_what_ran_out() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(Exhausted::of(&os(libc::EMFILE)), Some(Exhausted::Descriptors));
        assert_eq!(Exhausted::of(&os(libc::ENFILE)), Some(Exhausted::Descriptors));
        assert_eq!(Exhausted::of(&os(libc::ENOMEM)), Some(Exhausted::Memory));
        assert_eq!(Exhausted::of(&os(libc::ENOSPC)), Some(Exhausted::Disk));
        assert_eq!(Exhausted::of(&io::ErrorKind::StorageFull.into()), Some(Exhausted::Disk));
        assert_eq!(Exhausted::of(&os(libc::EACCES)), None);
        assert_eq!(Exhausted::of_store(&StoreError::Corrupt("x".into())), None);
        assert!(Exhausted::Descriptors.advice().contains("ulimit -n"));
    }
}
