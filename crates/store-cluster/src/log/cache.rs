//! The node's cache of frames: the ones it committed itself (kept from the upload) and the
//! ones it read from the bucket, up to a byte budget, the oldest entered dropped first. Frames
//! never change once committed, so a cached frame is never stale.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use crate::frame::Frame;

/// A frame's place: its object's key and its byte offset there.
type FrameId = (Arc<str>, u64);

pub(crate) struct FrameCache {
    budget: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    frames: HashMap<FrameId, Arc<Frame>>,
    /// Oldest first, with each frame's encoded size.
    order: VecDeque<(FrameId, usize)>,
    bytes: usize,
}

impl FrameCache {
    /// A cache holding at most `budget` bytes of encoded frames.
    pub(crate) fn new(budget: usize) -> Self {
        FrameCache { budget, inner: Mutex::default() }
    }

    pub(crate) fn get(&self, object: &Arc<str>, offset: u64) -> Option<Arc<Frame>> {
        let entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        entries.frames.get(&(object.clone(), offset)).cloned()
    }

    /// Keeps `frame`, `len` bytes encoded, dropping the oldest frames beyond the budget.
    pub(crate) fn insert(&self, object: Arc<str>, offset: u64, len: usize, frame: Arc<Frame>) {
        if len > self.budget {
            return;
        }
        let mut entries = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let id = (object, offset);
        if entries.frames.insert(id.clone(), frame).is_some() {
            return;
        }
        entries.order.push_back((id, len));
        entries.bytes += len;
        while entries.bytes > self.budget {
            let Some((old, old_len)) = entries.order.pop_front() else { break };
            entries.frames.remove(&old);
            entries.bytes -= old_len;
        }
    }
}

#[cfg(test)]
mod tests {
    use kinesin_engine::storage::ShardKey;

    use super::*;

    fn frame() -> Arc<Frame> {
        Arc::new(Frame { shard: ShardKey { stream_id: 1, shard_index: 0 }, arrival_ms: 0, records: vec![] })
    }

    #[test]
    fn the_oldest_frames_leave_first_within_the_budget() {
        let cache = FrameCache::new(100);
        let object: Arc<str> = "o".into();
        cache.insert(object.clone(), 0, 40, frame());
        cache.insert(object.clone(), 40, 40, frame());
        cache.insert(object.clone(), 0, 40, frame()); // again: counted once
        assert!(cache.get(&object, 0).is_some() && cache.get(&object, 40).is_some());
        cache.insert(object.clone(), 80, 40, frame());
        assert!(cache.get(&object, 0).is_none(), "over the budget: the oldest goes");
        assert!(cache.get(&object, 40).is_some() && cache.get(&object, 80).is_some());
        cache.insert(object.clone(), 120, 101, frame());
        assert!(cache.get(&object, 120).is_none(), "larger than the whole budget: not kept");
    }
}
