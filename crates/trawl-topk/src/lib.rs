//! One search hit and one top-k selection for every trawl index (flat, HNSW, IVF, IVF-PQ; BM25
//! can adopt the same), so ranks and tie-breaks agree everywhere: higher score first, then lower
//! document ordinal; NaN ranks last.
//!
//! ```
//! use trawl_topk::{Hit, TopK};
//! let mut top = TopK::new(2);
//! top.push_row(0, &[0.1, 0.9, 0.5, 0.9]);
//! let hits = top.into_sorted();
//! assert_eq!(hits, vec![Hit { doc: 1, score: 0.9 }, Hit { doc: 3, score: 0.9 }]);
//! ```

mod hit;
mod topk;

pub use hit::{hit_of_key, rank_key, Hit};
pub use topk::TopK;
