//! rag-data streams: conversations are read, retrieved for and written a batch at a time, so
//! the number held at once is bounded by the batch size, not by the input's length.

use std::cell::Cell;
use std::sync::Arc;

use trawl_kb::{KbBuildOptions, KnowledgeBase};
use trawl_rag::{example, RagData, RagOptions, Record};
use trawl_retrieve::Bm25Retriever;

#[test]
fn conversations_in_flight_never_exceed_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = KnowledgeBase::build(
        example::documents(7, 40).into_iter().map(Ok),
        tmp.path().join("kb"),
        &KbBuildOptions::default(),
        |_| {},
    )
    .unwrap();
    let retriever = Bm25Retriever::new(Arc::new(kb)).unwrap();
    let rag = RagData::new(&retriever, RagOptions::default()).unwrap();
    let conversations = example::conversations(7, 50);
    let read = Cell::new(0usize);
    let records = conversations.iter().enumerate().map(|(i, c)| {
        read.set(read.get() + 1);
        Ok(Record {
            at: format!("mem:{}", i + 1),
            value: c.clone(),
        })
    });
    let mut written = 0usize;
    let mut most_in_flight = 0;
    let n = rag
        .run(
            records,
            8,
            |c| {
                written += 1;
                most_in_flight = most_in_flight.max(read.get() - written + 1);
                assert!(c["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["role"] == "retrieval"));
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap();
    assert_eq!((n, written), (50, 50));
    assert_eq!(
        most_in_flight, 8,
        "conversations read ahead of the ones written"
    );
}
