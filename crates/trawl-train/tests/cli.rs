//! The CLI files crates/trawl-cli/src/cmd/{train,mine_negatives}.rs, compiled here and run end
//! to end on a tiny model (the binary registers them in main.rs).

#[path = "../../trawl-cli/src/cmd/mine_negatives.rs"]
mod mine_negatives;
#[path = "../../trawl-cli/src/cmd/train.rs"]
mod train;

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
