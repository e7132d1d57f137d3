//! An LRU cache of rankings keyed by (retriever, k, query text), shared by all retrievers of a
//! service, and `CachedRetriever`, which consults it before a batch goes to the engine.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use trawl_retrieve::{RetrievedDoc, Retriever};

/// Rankings of recently seen query texts. Capacity 0 disables caching.
pub struct QueryCache {
    entries: Option<Mutex<LruCache<String, Arc<[RetrievedDoc]>>>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn key(retriever: &str, k: usize, text: &str) -> String {
    format!("{retriever}\u{1f}{k}\u{1f}{text}")
}

impl QueryCache {
    pub fn new(capacity: usize) -> Self {
        QueryCache {
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries
            .as_ref()
            .map_or(0, |m| m.lock().map(|c| c.len()).unwrap_or(0))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A retriever whose rankings go through a [`QueryCache`]. Misses of one batch are retrieved
/// with one call to the inner retriever.
pub struct CachedRetriever {
    inner: Arc<dyn Retriever>,
    cache: Arc<QueryCache>,
}

impl CachedRetriever {
    pub fn new(inner: Arc<dyn Retriever>, cache: Arc<QueryCache>) -> Self {
        CachedRetriever { inner, cache }
    }
}

impl Retriever for CachedRetriever {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
    ) -> trawl_retrieve::Result<Vec<Vec<RetrievedDoc>>> {
        let Some(entries) = &self.cache.entries else {
            self.cache
                .misses
                .fetch_add(queries.len() as u64, Ordering::Relaxed);
            return self.inner.retrieve_batch(queries, k);
        };
        let name = self.inner.name();
        let mut out: Vec<Option<Arc<[RetrievedDoc]>>> = Vec::with_capacity(queries.len());
        {
            let mut lru = entries.lock().unwrap_or_else(|p| p.into_inner());
            for q in queries {
                out.push(lru.get(&key(name, k, q)).cloned());
            }
        }
        let missing: Vec<usize> = (0..queries.len()).filter(|&i| out[i].is_none()).collect();
        self.cache
            .hits
            .fetch_add((queries.len() - missing.len()) as u64, Ordering::Relaxed);
        self.cache
            .misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        if !missing.is_empty() {
            let texts: Vec<&str> = missing.iter().map(|&i| queries[i]).collect();
            let fresh = self.inner.retrieve_batch(&texts, k)?;
            let mut lru = entries.lock().unwrap_or_else(|p| p.into_inner());
            for (&i, ranking) in missing.iter().zip(fresh) {
                let ranking: Arc<[RetrievedDoc]> = ranking.into();
                lru.put(key(name, k, queries[i]), ranking.clone());
                out[i] = Some(ranking);
            }
        }
        Ok(out
            .into_iter()
            .map(|r| r.map(|r| r.to_vec()).unwrap_or_default())
            .collect())
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.inner.document_title(ordinal)
    }

    fn num_docs(&self) -> usize {
        self.inner.num_docs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trawl_retrieve::InMemoryRetriever;

    #[test]
    fn repeated_texts_hit_and_results_match_the_engine() {
        let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new(
            "m",
            &[("a", "", "x y"), ("b", "", "y z")],
        ));
        let cache = Arc::new(QueryCache::new(10));
        let cached = CachedRetriever::new(mem.clone(), cache.clone());
        let first = cached.retrieve_batch(&["y", "z"], 5).unwrap();
        assert_eq!((cache.hits(), cache.misses()), (0, 2));
        let second = cached.retrieve_batch(&["z", "y", "x"], 5).unwrap();
        assert_eq!((cache.hits(), cache.misses()), (2, 3));
        assert_eq!(second[0], first[1]);
        assert_eq!(second, mem.retrieve_batch(&["z", "y", "x"], 5).unwrap());
        // A different k is a different entry.
        cached.retrieve_batch(&["y"], 1).unwrap();
        assert_eq!(cache.misses(), 4);
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("m", &[("a", "", "x")]));
        let cache = Arc::new(QueryCache::new(0));
        let cached = CachedRetriever::new(mem, cache.clone());
        cached.retrieve_batch(&["x", "x"], 5).unwrap();
        cached.retrieve_batch(&["x"], 5).unwrap();
        assert_eq!((cache.hits(), cache.misses(), cache.len()), (0, 3, 0));
    }
}
