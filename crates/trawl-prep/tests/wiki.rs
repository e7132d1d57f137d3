//! `trawl prep wiki`'s library: a sample dump with templates, tables, links and references
//! gives the golden passages; bz2 reads the same; truncated input is a clear error.

use std::io::Write;
use std::path::{Path, PathBuf};

use trawl_prep::wiki::{prepare, Options, Summary};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(input: &Path, options: &Options) -> trawl_prep::Result<(String, Summary)> {
    let mut out = Vec::new();
    let summary = prepare(input, &mut out, options, |_| {})?;
    Ok((String::from_utf8(out).unwrap(), summary))
}

fn bz2(bytes: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn sample_dump_gives_the_golden_passages() {
    let (got, _) = run(&data("wiki_sample.xml"), &Options::default()).unwrap();
    let golden = data("wiki_sample.passages.jsonl");
    if std::env::var_os("TRAWL_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(got, want, "passages differ from {}", golden.display());
}

#[test]
fn passages_hold_no_markup_and_skip_redirects_and_other_namespaces() {
    let (got, summary) = run(&data("wiki_sample.xml"), &Options::default()).unwrap();
    for marker in [
        "{{",
        "}}",
        "[[",
        "]]",
        "<ref",
        "</",
        "{|",
        "''",
        "==",
        "&lt;",
        "&nbsp;",
        "__NOTOC",
        "Political ideologies",
        "Anarchismus",
        "thumb|",
        "cite",
    ] {
        assert!(!got.contains(marker), "markup {marker:?} left in:\n{got}");
    }
    assert!(
        !got.contains("talk page") && !got.contains("templates are not"),
        "{got}"
    );
    assert_eq!(
        (
            summary.pages.pages,
            summary.pages.redirects,
            summary.pages.other_namespaces
        ),
        (5, 1, 2)
    );
    assert_eq!(summary.articles, 2);
    let lines: Vec<serde_json::Value> = got
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, summary.passages);
    // DPR: 100-word passages, the article's last one shorter, ids 1.., the title kept.
    let words = |v: &serde_json::Value| v["text"].as_str().unwrap().split(' ').count();
    assert_eq!(words(&lines[0]), 100);
    assert!(words(&lines[1]) < 100);
    assert_eq!(lines[0]["id"], "1");
    assert_eq!(lines[0]["title"], "Anarchism");
    assert!(lines[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Anarchism is a political philosophy and movement"));
    assert_eq!(lines.last().unwrap()["title"], "Albedo");
}

#[test]
fn bz2_dump_reads_like_the_xml() {
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read(data("wiki_sample.xml")).unwrap();
    let path = dir.path().join("dump.xml.bz2");
    std::fs::write(&path, bz2(&xml)).unwrap();
    let (from_bz2, s) = run(&path, &Options::default()).unwrap();
    let (from_xml, _) = run(&data("wiki_sample.xml"), &Options::default()).unwrap();
    assert_eq!(from_bz2, from_xml);
    assert_eq!(s.bytes_read, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn truncated_bz2_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let packed = bz2(&std::fs::read(data("wiki_sample.xml")).unwrap());
    let path = dir.path().join("cut.xml.bz2");
    std::fs::write(&path, &packed[..packed.len() / 2]).unwrap();
    let err = run(&path, &Options::default()).unwrap_err().to_string();
    assert!(
        err.contains("cut.xml.bz2") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn truncated_xml_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(data("wiki_sample.xml")).unwrap();
    let path = dir.path().join("cut.xml");
    std::fs::write(&path, &xml[..xml.find("<title>Albedo").unwrap() + 40]).unwrap();
    let err = run(&path, &Options::default()).unwrap_err().to_string();
    assert!(
        err.contains("cut.xml") && err.contains("truncated") && err.contains("Albedo"),
        "{err}"
    );
}

#[test]
fn num_passages_and_min_words_limit_the_output() {
    let opts = Options {
        num_passages: Some(2),
        ..Options::default()
    };
    let (got, s) = run(&data("wiki_sample.xml"), &opts).unwrap();
    assert_eq!((got.lines().count(), s.passages), (2, 2));
    let all = run(&data("wiki_sample.xml"), &Options::default())
        .unwrap()
        .1
        .passages;
    let opts = Options {
        min_words: 100,
        ..Options::default()
    };
    let (got, s) = run(&data("wiki_sample.xml"), &opts).unwrap();
    assert!(s.short_passages > 0 && s.passages + s.short_passages == all);
    assert!(got.lines().all(|l| l.split(' ').count() >= 100));
}

#[test]
fn plain_text_articles_are_title_tab_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("articles.txt");
    let body: Vec<String> = (0..150).map(|i| format!("w{i}")).collect();
    std::fs::write(
        &path,
        format!(
            "Alpha\t{}\n\nBeta\tshort '''bold''' [[x|text]]\n",
            body.join(" ")
        ),
    )
    .unwrap();
    let (got, s) = run(&path, &Options::default()).unwrap();
    let lines: Vec<serde_json::Value> = got
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!((s.articles, lines.len()), (2, 3));
    assert_eq!(lines[1]["text"], body[100..].join(" "));
    assert_eq!(lines[2]["title"], "Beta");
    assert_eq!(lines[2]["text"], "short bold text");
    std::fs::write(&path, "no tab here\n").unwrap();
    let err = run(&path, &Options::default()).unwrap_err().to_string();
    assert!(
        err.contains("articles.txt:1:") && err.contains("title<TAB>text"),
        "{err}"
    );
}
