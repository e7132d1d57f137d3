//! The CLI files crates/trawl-cli/src/cmd/{train,mine_negatives}.rs, compiled here and run end
//! to end on a tiny model (the binary registers them in main.rs).

#[path = "../../trawl-cli/src/cmd/mine_negatives.rs"]
mod mine_negatives;
#[path = "../../trawl-cli/src/cmd/quantize_arg.rs"]
mod quantize_arg;
#[path = "../../trawl-cli/src/cmd/train.rs"]
mod train;
pub use quantize_arg::{Quantize, QuantizeArg};

use clap::Parser;

#[derive(Parser)]
struct TrainCli {
    #[command(flatten)]
    args: train::Args,
}

#[derive(Parser)]
struct MineCli {
    #[command(flatten)]
    args: mine_negatives::Args,
}

fn pairs(dir: &std::path::Path) -> std::path::PathBuf {
    let words = &trawl_train::testkit::WORDS[2..];
    let mut text = String::new();
    for (i, w) in words.iter().enumerate() {
        let o = words[(i * 5 + 1) % words.len()];
        text += &serde_json::json!({"question": format!("what is {w}"), "answer": format!("the {w} and {o}")}).to_string();
        text.push('\n');
    }
    let p = dir.join("pairs.jsonl");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn mine_then_train_then_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    trawl_train::testkit::write_tiny_model(&model, 9).unwrap();
    let data = pairs(tmp.path());
    let mined = tmp.path().join("mined.jsonl");
    let m = MineCli::try_parse_from([
        "mine",
        data.to_str().unwrap(),
        "--retriever",
        "dense",
        "--model",
        model.to_str().unwrap(),
        "--num",
        "2",
        "--range",
        "2-20",
        "--out",
        mined.to_str().unwrap(),
        "--json",
    ])
    .unwrap();
    mine_negatives::run(m.args).unwrap();
    let lines = std::fs::read_to_string(&mined).unwrap();
    assert_eq!(lines.lines().count(), 43);
    let out = tmp.path().join("trained");
    let t = TrainCli::try_parse_from([
        "train",
        "--model",
        model.to_str().unwrap(),
        "--data",
        mined.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--val-fraction",
        "0.2",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--epochs",
        "2",
        "--eval-every",
        "2",
        "--json",
    ])
    .unwrap();
    train::run(t.args).unwrap();
    let reloaded = trawl_train::SentenceModel::load(&out, &Default::default()).unwrap();
    let best =
        trawl_train::SentenceModel::load(&tmp.path().join("trained.run/best"), &Default::default())
            .unwrap();
    assert_eq!(
        reloaded.embed(&["the cat"], 4).unwrap(),
        best.embed(&["the cat"], 4).unwrap()
    );
    assert!(tmp.path().join("trained.run/train_log.jsonl").exists());
    // A second run into the same --out is allowed (our own folder); a foreign folder is not.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "x").unwrap();
    let t = TrainCli::try_parse_from([
        "train",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        foreign.to_str().unwrap(),
        "--batch-size",
        "8",
        "--max-steps",
        "1",
    ])
    .unwrap();
    let err = train::run(t.args).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    assert!(foreign.join("keep.txt").exists());
}

/// A BEIR folder over the tiny vocabulary: document `d{i}` is "the {w} and {o}", query `q{i}`
/// "what is {w}" judges it relevant (qrels/train.tsv).
fn beir(dir: &std::path::Path) -> std::path::PathBuf {
    let words = &trawl_train::testkit::WORDS[2..];
    let root = dir.join("beir");
    std::fs::create_dir_all(root.join("qrels")).unwrap();
    let (mut corpus, mut queries) = (String::new(), String::new());
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (i, w) in words.iter().enumerate() {
        let o = words[(i * 5 + 1) % words.len()];
        let p = words[(i * 7 + 3) % words.len()];
        corpus += &serde_json::json!({"_id": format!("d{i}"), "title": "", "text": format!("the {w} and {o}")}).to_string();
        corpus += "\n";
        // Distractors sharing the query's word, for the refreshes to find.
        corpus += &serde_json::json!({"_id": format!("x{i}"), "title": w, "text": format!("{p} on the {o}")}).to_string();
        corpus += "\n";
        queries += &serde_json::json!({"_id": format!("q{i}"), "text": format!("what is {w}")})
            .to_string();
        queries += "\n";
        qrels += &format!("q{i}\td{i}\t1\n");
    }
    std::fs::write(root.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(root.join("queries.jsonl"), queries).unwrap();
    std::fs::write(root.join("qrels/train.tsv"), qrels).unwrap();
    root
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// `trawl train` with `args` after the model, data and output.
fn train_run(
    model: &std::path::Path,
    data: &std::path::Path,
    out: &std::path::Path,
    args: &[&str],
) -> anyhow::Result<std::process::ExitCode> {
    let mut argv = vec![
        "train",
        "--model",
        s(model),
        "--data",
        s(data),
        "--out",
        s(out),
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--json",
    ];
    argv.extend_from_slice(args);
    train::run(TrainCli::try_parse_from(argv)?.args)
}

fn log_records(run_dir: &std::path::Path, event: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("train_log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == event)
        .collect()
}

fn refresh_steps(run_dir: &std::path::Path) -> Vec<u64> {
    log_records(run_dir, "refresh")
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .collect()
}

/// Refreshes happen after steps N, 2N, ... (not after the last), each logged with its cost; the
/// negatives a refresh mined (checkpointed in `last/negatives.jsonl`) are byte for byte what
/// `trawl mine-negatives --retriever dense` writes with that step's checkpoint.
#[test]
fn negatives_refresh_every_n_steps_equals_mining_with_that_steps_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    trawl_train::testkit::write_tiny_model(&model, 9).unwrap();
    let data = beir(tmp.path());
    let out = tmp.path().join("trained");
    let run = tmp.path().join("trained.run");
    let mining = [
        "--refresh-num",
        "2",
        "--refresh-range",
        "1-20",
        "--refresh-margin",
        "0.01",
    ];
    // 6 batches an epoch: 2 epochs, cut at 7 steps.
    let mut args = vec![
        "--epochs",
        "2",
        "--max-steps",
        "7",
        "--refresh-negatives-every",
        "3",
    ];
    args.extend_from_slice(&mining);
    // Stop after step 6 (checkpointed: a refresh happened there), finish later.
    let mut first = args.clone();
    first.extend_from_slice(&["--interrupt-after", "6"]);
    train_run(&model, &data, &out, &first).unwrap();
    assert_eq!(refresh_steps(&run), [3, 6]);
    for r in log_records(&run, "refresh") {
        assert_eq!(r["documents"], 86, "{r}");
        assert_eq!(r["queries"], 43, "{r}");
        assert_eq!(r["lines"], 43, "{r}");
        assert!(r["encode_seconds"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["mine_seconds"].as_f64().is_some(), "{r}");
        assert!(r["negatives"].as_u64().unwrap() > 0, "{r}");
    }
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("last/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["step"], 6);
    let mined = tmp.path().join("mined-at-6.jsonl");
    let last = run.join("last");
    let argv = vec![
        "mine",
        s(&data),
        "--retriever",
        "dense",
        "--model",
        s(&last),
        "--seed",
        "42",
        "--batch-size",
        "64",
        "--num",
        "2",
        "--range",
        "1-20",
        "--margin",
        "0.01",
        "--out",
        s(&mined),
        "--json",
    ];
    mine_negatives::run(MineCli::try_parse_from(argv).unwrap().args).unwrap();
    let refreshed = std::fs::read_to_string(run.join("last/negatives.jsonl")).unwrap();
    assert_eq!(refreshed, std::fs::read_to_string(&mined).unwrap());

    // The resumed run refreshes at the same steps as an uninterrupted one and ends with the
    // same weights and negatives.
    train_run(
        &model,
        &data,
        &out,
        &[&args[..], &["--resume"][..]].concat(),
    )
    .unwrap();
    let whole_out = tmp.path().join("whole");
    let whole_run = tmp.path().join("whole.run");
    train_run(&model, &data, &whole_out, &args).unwrap();
    assert_eq!(refresh_steps(&whole_run), [3, 6]);
    assert_eq!(
        refresh_steps(&run),
        [3, 6],
        "no refresh repeated or added on resume"
    );
    let a = trawl_train::SentenceModel::load(&out, &Default::default()).unwrap();
    let b = trawl_train::SentenceModel::load(&whole_out, &Default::default()).unwrap();
    let texts = ["what is cat", "the dog and sun"];
    assert_eq!(a.embed(&texts, 4).unwrap(), b.embed(&texts, 4).unwrap());
    assert_eq!(
        std::fs::read(run.join("last/negatives.jsonl")).unwrap(),
        std::fs::read(whole_run.join("last/negatives.jsonl")).unwrap()
    );
    // The data's hashes are recorded in the log and beside the model.
    let sources: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("training_sources.json")).unwrap())
            .unwrap();
    assert_eq!(sources["data"]["format"], "beir");
    assert_eq!(
        sources["data"]["corpus_hash"].as_str().unwrap(),
        trawl_kb::hash_file(&data.join("corpus.jsonl")).unwrap()
    );
    assert_eq!(log_records(&run, "start")[0]["sources"], sources);
}

/// With evaluation on the same corpus at the same steps, the corpus is embedded once for both
/// and the evaluation's numbers are those of a run without refreshes up to that step.
#[test]
fn a_refresh_at_an_evaluation_step_shares_the_corpus_embeddings() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    trawl_train::testkit::write_tiny_model(&model, 9).unwrap();
    let data = beir(tmp.path());
    let common = [
        "--max-steps",
        "5",
        "--eval",
        s(&data),
        "--split",
        "train",
        "--eval-every",
        "2",
    ];
    let with = tmp.path().join("with");
    let refresh = ["--refresh-negatives-every", "2", "--refresh-num", "2"];
    train_run(&model, &data, &with, &[&common[..], &refresh[..]].concat()).unwrap();
    let run = tmp.path().join("with.run");
    let refreshes = log_records(&run, "refresh");
    assert_eq!(refresh_steps(&run), [2, 4]);
    assert!(
        refreshes.iter().all(|r| r["shared_with_eval"] == true),
        "{refreshes:?}"
    );
    let without = tmp.path().join("without");
    train_run(&model, &data, &without, &common).unwrap();
    let evals = |r: &std::path::Path| -> Vec<(u64, f64)> {
        log_records(r, "eval")
            .iter()
            .map(|e| (e["step"].as_u64().unwrap(), e["nDCG@10"].as_f64().unwrap()))
            .collect()
    };
    let (a, b) = (evals(&run), evals(&tmp.path().join("without.run")));
    assert_eq!(a.iter().map(|e| e.0).collect::<Vec<_>>(), [2, 4, 5]);
    // Up to the first refresh both runs trained on the same (no) negatives.
    assert_eq!(a[0], b[0]);
}

/// Negatives mined from a knowledge base: its generation and content hash are recorded in the
/// log and in every saved folder, and the refresh mines over its live documents.
#[test]
fn refreshes_from_a_kb_record_its_generation_and_content_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    trawl_train::testkit::write_tiny_model(&model, 9).unwrap();
    let data = pairs(tmp.path());
    let beir_dir = beir(tmp.path());
    let kb_dir = tmp.path().join("kb");
    let ds = trawl_data::beir::BeirDataset::open(&beir_dir).unwrap();
    let kb = trawl_kb::KnowledgeBase::build(
        ds.read_corpus().unwrap(),
        &kb_dir,
        &Default::default(),
        |_| {},
    )
    .unwrap();
    let out = tmp.path().join("trained");
    train_run(
        &model,
        &data,
        &out,
        &[
            "--max-steps",
            "3",
            "--refresh-negatives-every",
            "2",
            "--kb",
            s(&kb_dir),
        ],
    )
    .unwrap();
    let run = tmp.path().join("trained.run");
    let r = &log_records(&run, "refresh")[0];
    // 86 documents; the pairs' positives ("the w and o") are all in the KB.
    assert_eq!(
        (r["step"].as_u64(), r["documents"].as_u64()),
        (Some(2), Some(86)),
        "{r}"
    );
    let start = &log_records(&run, "start")[0];
    let recorded = &start["sources"]["kb"];
    assert_eq!(recorded["generation"].as_str(), Some(kb.generation()));
    assert_eq!(
        recorded["content_hash"].as_str(),
        Some(kb.manifest().content_hash.as_str())
    );
    assert_eq!(start["sources"]["data"]["format"], "jsonl");
    for dir in [out.clone(), run.join("last")] {
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("training_sources.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(&s["kb"], recorded, "{}", dir.display());
    }
    let lines = trawl_train::mining::read_jsonl(&run.join("last/negatives.jsonl")).unwrap();
    assert_eq!(lines.len(), 43);
    assert!(lines.iter().all(|l| !l.negative_ids.is_empty()
        && l.negative_ids
            .iter()
            .all(|id| id.starts_with('d') || id.starts_with('x'))));
    assert!(lines.iter().all(|l| !l.negatives.contains(&l.positive)));
}

/// Bad refresh settings are clear errors, before any training.
#[test]
fn bad_refresh_settings_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    trawl_train::testkit::write_tiny_model(&model, 9).unwrap();
    let pairs = pairs(tmp.path());
    let data = beir(tmp.path());
    let out = tmp.path().join("out");
    let err = |data: &std::path::Path, args: &[&str]| {
        train_run(&model, data, &out, args).unwrap_err().to_string()
    };
    let e = err(&data, &["--refresh-negatives-every", "0"]);
    assert!(
        e.contains("--refresh-negatives-every must be at least 1"),
        "{e}"
    );
    let e = err(&pairs, &["--refresh-negatives-every", "2"]);
    assert!(
        e.contains("needs a corpus to mine negatives from") && e.contains("--kb"),
        "{e}"
    );
    let e = err(
        &data,
        &["--refresh-negatives-every", "2", "--refresh-num", "0"],
    );
    assert!(e.contains("--refresh-num must be at least 1"), "{e}");
    let e = err(
        &data,
        &["--refresh-negatives-every", "2", "--max-negatives", "0"],
    );
    assert!(e.contains("--max-negatives 0"), "{e}");
    let e = err(
        &data,
        &["--refresh-negatives-every", "2", "--refresh-range", "20-5"],
    );
    assert!(e.contains("range `20-5`"), "{e}");
    // --kb alone: clap names the missing option.
    let e = err(&data, &["--kb", s(&data)]);
    assert!(e.contains("--refresh-negatives-every"), "{e}");
    let e = err(
        &pairs,
        &[
            "--refresh-negatives-every",
            "2",
            "--kb",
            s(&tmp.path().join("nokb")),
        ],
    );
    assert!(e.contains("nokb"), "{e}");
    assert!(!out.exists() && !tmp.path().join("out.run/last").exists());
}
