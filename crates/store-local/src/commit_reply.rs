//! The answers to one call's appends, gathered. A PutRecords becomes one append request per
//! shard it touches (hundreds, on a stream of thousands of shards); the committer answers each
//! as its group is durable, and the caller is woken once, when the last one is answered — not
//! once per shard (docs/storage.md, *Appending*).

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use kinesin_engine::storage::{Appended, NewRecord, StoreError};
use tokio::sync::oneshot;

/// What the caller gets: every request's outcome, in the order of the requests, and their
/// records, handed back so that the caller's task frees them rather than the committer or the
/// syncer, whose every microsecond delays a whole group (freeing them, glibc's frees of other
/// threads' allocations, was a fifth of the committer's CPU time).
pub(crate) struct Gathered {
    pub results: Vec<Result<Appended, StoreError>>,
    pub _records: Vec<Vec<NewRecord>>,
}

struct Pending {
    results: Vec<Option<Result<Appended, StoreError>>>,
    records: Vec<Vec<NewRecord>>,
    left: usize,
    done: Option<oneshot::Sender<Gathered>>,
}

/// Where one request's answer goes. Dropped unanswered (a group that panicked drops its
/// requests), it answers that the append failed, so the caller is never left waiting.
pub(crate) struct Reply {
    pending: Arc<Mutex<Pending>>,
    slot: usize,
    answered: bool,
}

/// Replies for `n` requests, and the receiver of their gathered answers.
pub(crate) fn gather(n: usize) -> (Vec<Reply>, oneshot::Receiver<Gathered>) {
    let (done, gathered) = oneshot::channel();
    let pending = Arc::new(Mutex::new(Pending {
        results: (0..n).map(|_| None).collect(),
        records: Vec::with_capacity(n),
        left: n,
        done: Some(done),
    }));
    let replies = (0..n).map(|slot| Reply { pending: pending.clone(), slot, answered: false }).collect();
    (replies, gathered)
}

impl Reply {
    pub fn send(mut self, result: Result<Appended, StoreError>, records: Vec<NewRecord>) {
        self.fill(result, records);
    }

    fn fill(&mut self, result: Result<Appended, StoreError>, records: Vec<NewRecord>) {
        self.answered = true;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.results[self.slot] = Some(result);
        pending.records.push(records);
        pending.left -= 1;
        if pending.left > 0 {
            return;
        }
        if let Some(done) = pending.done.take() {
            let results = std::mem::take(&mut pending.results)
                .into_iter()
                .map(|result| result.expect("every request was answered"))
                .collect();
            let _records = std::mem::take(&mut pending.records);
            // The caller may have given up waiting (a cancelled request): nothing to tell.
            let _ = done.send(Gathered { results, _records });
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.answered {
            self.fill(Err(StoreError::Io(io::Error::other("the committer stopped"))), Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(first_seq_ix: u64) -> Result<Appended, StoreError> {
        Ok(Appended { first_seq_ix, arrival_ms: 1 })
    }

    #[tokio::test]
    async fn answers_come_back_in_request_order_once_all_are_in() {
        let (mut replies, mut gathered) = gather(3);
        let last = replies.pop().unwrap();
        let first = replies.remove(0);
        last.send(appended(30), Vec::new());
        first.send(appended(10), Vec::new());
        assert!(gathered.try_recv().is_err(), "one request is still unanswered");
        replies.pop().unwrap().send(appended(20), Vec::new());
        let results = gathered.await.unwrap().results;
        let firsts: Vec<u64> = results.into_iter().map(|r| r.unwrap().first_seq_ix).collect();
        assert_eq!(firsts, [10, 20, 30]);
    }

    #[tokio::test]
    async fn a_reply_dropped_unanswered_fails_its_request_only() {
        let (mut replies, gathered) = gather(2);
        drop(replies.pop().unwrap());
        replies.pop().unwrap().send(appended(5), Vec::new());
        let results = gathered.await.unwrap().results;
        assert_eq!(results[0].as_ref().unwrap().first_seq_ix, 5);
        assert!(matches!(&results[1], Err(StoreError::Io(e)) if e.to_string().contains("committer stopped")));
    }
}
