//! An LRU cache of rankings keyed by (retriever, k, query text), bounded in estimated bytes,
//! and `CachedRetriever`, which consults it before a batch goes to the engine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use trawl_retrieve::{RetrievedDoc, Retriever};

/// Bookkeeping bytes of one LRU entry besides key and ranking (hash slot, list node, Arc).
const ENTRY_OVERHEAD: usize = 96;

/// The estimated heap bytes an entry holds: its key, the ranking and every id it owns.
pub fn entry_bytes(key: &str, ranking: &[RetrievedDoc]) -> usize {
    let docs: usize = ranking
        .iter()
        .map(|d| std::mem::size_of::<RetrievedDoc>() + d.id.len() + 16)
        .sum();
    ENTRY_OVERHEAD + key.len() + docs
}

struct Entries {
    lru: LruCache<String, Arc<[RetrievedDoc]>>,
    bytes: usize,
}

/// Rankings of recently seen query texts, at most `capacity_bytes` of them (estimated by
/// [`entry_bytes`]); the least recently used go first. Capacity 0 disables caching.
pub struct QueryCache {
    entries: Option<Mutex<Entries>>,
    capacity_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn key(retriever: &str, k: usize, text: &str) -> String {
    format!("{retriever}\u{1f}{k}\u{1f}{text}")
}

impl QueryCache {
    pub fn new(capacity_bytes: usize) -> Self {
        QueryCache {
            entries: (capacity_bytes > 0).then(|| {
                Mutex::new(Entries {
                    lru: LruCache::unbounded(),
                    bytes: 0,
                })
            }),
            capacity_bytes,
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

    pub fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Entries>> {
        self.entries
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn len(&self) -> usize {
        self.lock().map_or(0, |e| e.lru.len())
    }

    /// Estimated bytes held now (never above the capacity).
    pub fn bytes(&self) -> usize {
        self.lock().map_or(0, |e| e.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Entries {
    /// Inserts, then evicts least recently used entries until the total fits; an entry larger
    /// than the whole capacity is not kept.
    fn put(&mut self, key: String, ranking: Arc<[RetrievedDoc]>, capacity: usize) {
        let size = entry_bytes(&key, &ranking);
        if size > capacity {
            return;
        }
        if let Some(old) = self.lru.peek(&key) {
            self.bytes -= entry_bytes(&key, old);
        }
        self.lru.put(key, ranking);
        self.bytes += size;
        while self.bytes > capacity {
            match self.lru.pop_lru() {
                Some((k, v)) => self.bytes -= entry_bytes(&k, &v),
                None => break,
            }
        }
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
        if self.cache.entries.is_none() {
            self.cache
                .misses
                .fetch_add(queries.len() as u64, Ordering::Relaxed);
            return self.inner.retrieve_batch(queries, k);
        }
        let name = self.inner.name();
        let mut out: Vec<Option<Arc<[RetrievedDoc]>>> = Vec::with_capacity(queries.len());
        {
            let mut e = self.cache.lock().expect("checked above");
            for q in queries {
                out.push(e.lru.get(&key(name, k, q)).cloned());
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
            let mut e = self.cache.lock().expect("checked above");
            for (&i, ranking) in missing.iter().zip(fresh) {
                let ranking: Arc<[RetrievedDoc]> = ranking.into();
                e.put(
                    key(name, k, queries[i]),
                    ranking.clone(),
                    self.cache.capacity_bytes,
                );
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

    fn knowledge_base(&self) -> Option<&trawl_kb::KnowledgeBase> {
        self.inner.knowledge_base()
    }

    fn embed_queries(&self, texts: &[&str]) -> Option<trawl_retrieve::Result<Vec<Vec<f32>>>> {
        self.inner.embed_queries(texts)
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
        let cache = Arc::new(QueryCache::new(1 << 20));
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
    fn the_cache_is_bounded_in_bytes_and_evicts_the_least_recently_used() {
        let docs: Vec<(String, String)> = (0..200)
            .map(|i| (format!("doc-{i:04}"), "w".to_string()))
            .collect();
        let docs: Vec<(&str, &str, &str)> = docs
            .iter()
            .map(|(id, t)| (id.as_str(), "", t.as_str()))
            .collect();
        let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("m", &docs));
        let one = mem.retrieve_batch(&["w"], 200).unwrap().remove(0);
        let size = entry_bytes(&key("m", 200, "w"), &one);
        // 200 docs of 9-byte ids: over 10 KB an entry, counted with its ids.
        assert!(
            size > 200 * (std::mem::size_of::<RetrievedDoc>() + 9),
            "{size}"
        );
        // Room for two such entries, not three.
        let cache = Arc::new(QueryCache::new(size * 5 / 2));
        let cached = CachedRetriever::new(mem, cache.clone());
        for q in ["w", "w w", "w w w"] {
            cached.retrieve_batch(&[q], 200).unwrap();
            assert!(cache.bytes() <= cache.capacity_bytes());
        }
        assert_eq!(cache.len(), 2);
        // "w" was least recently used, so it was evicted: a miss; "w w w" is a hit.
        let misses = cache.misses();
        cached.retrieve_batch(&["w w w"], 200).unwrap();
        assert_eq!(cache.misses(), misses);
        cached.retrieve_batch(&["w"], 200).unwrap();
        assert_eq!(cache.misses(), misses + 1);
        // An entry larger than the whole cache is not kept.
        let tiny = Arc::new(QueryCache::new(size / 2));
        let mem: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("m", &docs));
        CachedRetriever::new(mem, tiny.clone())
            .retrieve_batch(&["w"], 200)
            .unwrap();
        assert_eq!((tiny.len(), tiny.bytes()), (0, 0));
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
