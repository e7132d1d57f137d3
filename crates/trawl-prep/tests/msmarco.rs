//! `trawl prep msmarco`'s library on small files in the official MS MARCO formats: every
//! passage, query, judgement and triple of the inputs is in the output, readable by trawl-data.

use std::path::Path;

use trawl_data::BeirDataset;
use trawl_prep::msmarco::{prepare, Options, Sources, Summary, TriplesFormat};

/// An MS MARCO folder: 12 passages, 4 train + 2 dev queries, qrels as in the official files
/// (tab-separated `qid 0 pid 1`), and 6 id triples.
fn write_msmarco(dir: &Path) {
    let passages: String = (0..12)
        .map(|i| format!("{i}\tpassage number {i} about topic {}\n", i % 4))
        .collect();
    std::fs::write(dir.join("collection.tsv"), passages).unwrap();
    std::fs::write(
        dir.join("queries.train.tsv"),
        "1185869\twhat is topic 0\n1185868\twhat is topic 1\n597651\twhat is topic 2\n403613\ttopic 3 meaning\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("queries.dev.tsv"),
        "1048585\twhat about 4\n2\tdev two\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("qrels.train.tsv"),
        "1185869\t0\t0\t1\n1185868\t0\t1\t1\n597651\t0\t2\t1\n403613\t0\t3\t1\n403613\t0\t7\t1\n",
    )
    .unwrap();
    std::fs::write(dir.join("qrels.dev.tsv"), "1048585\t0\t4\t1\n2\t0\t5\t1\n").unwrap();
    std::fs::write(
        dir.join("qidpidtriples.train.full.2.tsv"),
        "1185869\t0\t9\n1185869\t0\t10\n1185868\t1\t11\n597651\t2\t8\n403613\t3\t6\n403613\t7\t6\n",
    )
    .unwrap();
}

fn run(dir: &Path, out: &Path, options: &Options) -> trawl_prep::Result<Summary> {
    std::fs::create_dir_all(out).unwrap();
    let sources = Sources::locate(dir, options.triples.as_deref())?;
    prepare(&sources, out, options, &|_, _| {})
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn counts_equal_the_inputs_and_trawl_reads_the_beir_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("msmarco"), tmp.path().join("beir"));
    std::fs::create_dir(&src).unwrap();
    write_msmarco(&src);
    let s = run(&src, &out, &Options::default()).unwrap();
    assert_eq!(s.passages, 12);
    assert_eq!(
        s.queries,
        vec![
            ("queries.train.tsv".to_string(), 4),
            ("queries.dev.tsv".to_string(), 2)
        ]
    );
    assert_eq!(
        s.qrels,
        vec![("train".to_string(), 5), ("dev".to_string(), 2)]
    );
    assert_eq!(
        (s.triples_format, s.triples_read, s.triplets_train),
        (Some(TriplesFormat::Ids), 6, 6)
    );

    // The BEIR folder reads back through trawl-data with the same counts and values.
    let beir = BeirDataset::open(&out).unwrap();
    let docs: Vec<_> = beir.read_corpus().unwrap().map(Result::unwrap).collect();
    assert_eq!(docs.len(), 12);
    assert_eq!(
        (docs[7].id.as_str(), docs[7].text.as_str()),
        ("7", "passage number 7 about topic 3")
    );
    let queries = beir.read_queries().unwrap();
    assert_eq!(queries.len(), 6);
    assert_eq!(queries[4].id, "1048585");
    let train = beir.read_qrels("train").unwrap();
    assert_eq!(train.iter().map(|(_, d)| d.len()).sum::<usize>(), 5);
    assert_eq!(train.get("403613").unwrap()["7"], 1);
    assert_eq!(beir.read_qrels("dev").unwrap().get("2").unwrap()["5"], 1);

    // Triplets carry the texts the ids name, in the format `trawl train` reads.
    let t = jsonl(&out.join("triplets.train.jsonl"));
    assert_eq!(t.len(), 6);
    assert_eq!(t[0]["query"], "what is topic 0");
    assert_eq!(t[0]["positive"], "passage number 0 about topic 0");
    assert_eq!(
        t[0]["negatives"],
        serde_json::json!(["passage number 9 about topic 1"])
    );
    assert!(!out.join("triplets.val.jsonl").exists());
}

#[test]
fn text_triples_split_by_query_and_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("msmarco");
    std::fs::create_dir(&src).unwrap();
    write_msmarco(&src);
    std::fs::remove_file(src.join("qidpidtriples.train.full.2.tsv")).unwrap();
    let triples: String = (0..200)
        .map(|i| {
            format!(
                "query {}\tpositive passage {i}\tnegative passage {i}\n",
                i % 40
            )
        })
        .collect();
    std::fs::write(src.join("triples.train.small.tsv"), triples).unwrap();

    let opts = Options {
        split_ratio: 0.75,
        ..Options::default()
    };
    let out = tmp.path().join("split");
    let s = run(&src, &out, &opts).unwrap();
    assert_eq!(s.triples_format, Some(TriplesFormat::Texts));
    assert_eq!(
        (s.triples_read, s.triplets_train + s.triplets_val),
        (200, 200)
    );
    assert!(s.triplets_val >= 20 && s.triplets_val <= 80, "{s:?}");
    let query_set = |name: &str| -> std::collections::BTreeSet<String> {
        jsonl(&out.join(name))
            .iter()
            .map(|v| v["query"].as_str().unwrap().to_string())
            .collect()
    };
    let (train, val) = (
        query_set("triplets.train.jsonl"),
        query_set("triplets.val.jsonl"),
    );
    assert!(train.is_disjoint(&val), "a query in both files");
    assert_eq!(train.len() + val.len(), 40);
    // Same seed, same split.
    let again = run(&src, &tmp.path().join("again"), &opts).unwrap();
    assert_eq!(again.triplets_val, s.triplets_val);

    let capped = Options {
        max_train_samples: Some(37),
        ..Options::default()
    };
    let s = run(&src, &tmp.path().join("capped"), &capped).unwrap();
    assert_eq!((s.triples_read, s.triplets_train), (37, 37));
    assert_eq!(
        jsonl(&tmp.path().join("capped/triplets.train.jsonl"))[36]["positive"],
        "positive passage 36"
    );
}

#[test]
fn malformed_lines_name_the_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("msmarco");
    std::fs::create_dir(&src).unwrap();
    let case = |file: &str, content: &str, want: &[&str]| {
        write_msmarco(&src);
        std::fs::write(src.join(file), content).unwrap();
        let out = tmp.path().join(format!("out-{file}"));
        let err = run(&src, &out, &Options::default())
            .unwrap_err()
            .to_string();
        for w in want {
            assert!(err.contains(w), "{file}: {err:?} lacks {w:?}");
        }
    };
    case(
        "collection.tsv",
        "0\tfine\n1\tfine\n2\n",
        &["collection.tsv:3:", "tab-separated"],
    );
    case(
        "queries.train.tsv",
        "1\tq\nno-tab-here\n",
        &["queries.train.tsv:2:", "qid<TAB>text"],
    );
    case(
        "qrels.train.tsv",
        "1185869\t0\t0\t1\n1185869\t0\t0\n",
        &["qrels.train.tsv:2:", "4 columns"],
    );
    case(
        "qrels.dev.tsv",
        "1048585\t0\t4\t1\n999\t0\t4\t1\n",
        &["qrels.dev.tsv:2:", "`999`", "no queries file"],
    );
    case(
        "qidpidtriples.train.full.2.tsv",
        "1185869\t0\t9\n1185869\t0\n",
        &[
            "qidpidtriples.train.full.2.tsv:2:",
            "3 tab-separated columns",
        ],
    );
    case(
        "qidpidtriples.train.full.2.tsv",
        "1185869\t0\t9\n1185869\t0\t99\n",
        &[
            "qidpidtriples.train.full.2.tsv:2:",
            "passage id `99`",
            "collection",
        ],
    );
    let err = run(
        &src,
        &tmp.path().join("r"),
        &Options {
            split_ratio: 0.0,
            ..Options::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--split-ratio"), "{err}");
    std::fs::remove_file(src.join("collection.tsv")).unwrap();
    let err = Sources::locate(&src, None).unwrap_err().to_string();
    assert!(err.contains("collection.tsv"), "{err}");
}
