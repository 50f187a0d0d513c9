//! Work on many shards at once: opening, recovering and creating them, and syncing their
//! segments. A disk serves concurrent syncs (and file-system lookups) together — one cache
//! flush for many — where the same in a row cost one each: 100,000 segments synced one at a
//! time took minutes at a clean stop.

/// How many threads: enough concurrent syncs to keep a disk busy. Each may hold a segment
/// file open beyond the cache's bound for a moment.
pub(crate) const THREADS: usize = 32;

/// `f` of every item, on up to [`THREADS`] threads, in the items' order; the first error, if
/// any.
pub(crate) fn map<T: Sync, R: Send, E: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let chunk = items.len().div_ceil(THREADS).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|items| scope.spawn(move || items.iter().map(f).collect::<Result<Vec<R>, E>>()))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for worker in workers {
            all.extend(worker.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?);
        }
        Ok(all)
    })
}
