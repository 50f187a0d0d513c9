//! The in-memory view of every stream's metadata, indexed by id and by (account, region,
//! name). The catalog is the durable copy; this is what requests read.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use crate::model::StreamMeta;

/// Streams are named per account and region.
pub type StreamKey = (String, String, String);

#[derive(Default)]
pub struct Registry {
    by_id: HashMap<u64, Arc<StreamMeta>>,
    /// Sorted, so ListStreams pages through names in order.
    by_name: BTreeMap<StreamKey, u64>,
}

pub fn key_of(meta: &StreamMeta) -> StreamKey {
    (meta.account.clone(), meta.region.clone(), meta.name.clone())
}

impl Registry {
    pub fn insert(&mut self, meta: Arc<StreamMeta>) {
        self.by_name.insert(key_of(&meta), meta.id);
        self.by_id.insert(meta.id, meta);
    }

    pub fn remove(&mut self, id: u64) -> Option<Arc<StreamMeta>> {
        let meta = self.by_id.remove(&id)?;
        self.by_name.remove(&key_of(&meta));
        Some(meta)
    }

    pub fn by_id(&self, id: u64) -> Option<&Arc<StreamMeta>> {
        self.by_id.get(&id)
    }

    pub fn by_name(&self, account: &str, region: &str, name: &str) -> Option<&Arc<StreamMeta>> {
        let key = (account.to_owned(), region.to_owned(), name.to_owned());
        self.by_name.get(&key).and_then(|id| self.by_id.get(id))
    }

    /// The streams of one account and region, in name order.
    pub fn in_account<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
    ) -> impl Iterator<Item = &'a Arc<StreamMeta>> + 'a {
        self.in_account_after(account, region, None)
    }

    /// [`Self::in_account`] from the first name after `after` on (all for `None`), found in
    /// the sorted index: a page of ListStreams costs the page, not the streams before it.
    pub fn in_account_after<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        after: Option<&str>,
    ) -> impl Iterator<Item = &'a Arc<StreamMeta>> + 'a {
        let key = |name: &str| (account.to_owned(), region.to_owned(), name.to_owned());
        let start = match after {
            Some(name) => Bound::Excluded(key(name)),
            None => Bound::Included(key("")),
        };
        self.by_name
            .range((start, Bound::Unbounded))
            .take_while(move |((a, r, _), _)| a == account && r == region)
            .filter_map(|(_, id)| self.by_id.get(id))
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<StreamMeta>> {
        self.by_id.values()
    }
}
