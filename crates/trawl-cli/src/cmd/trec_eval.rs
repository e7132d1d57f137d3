//! `trawl trec-eval`: a drop-in for trec_eval 10.0.
//!
//! Flags are parsed by hand because trec_eval accepts attached short forms (`-mndcg_cut.10`,
//! `-M100`, `-l2`) and repeated `-m`. Supported: `-m`, `-q`, `-c`, `-M`, `-l`, `-n`, `-N`, and
//! the long forms `--measure`, `--query_eval_wanted`, `--complete_rel_info_wanted`,
//! `--Max_retrieved_per_topic`, `--level_for_rel`, `--nosummary`, `--Number_docs_in_coll`.
//!
//! Files are read in the trec_eval dialect of trawl-data's reader (what trec_eval 10.0 accepts
//! and rejects, with its values); a value trec_eval reads leniently (a grade `1.5` read as 1 by
//! `atol`, a score `high` read as 0 by `atof`) gets a `note:` line on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use trawl_eval::trec_format::{parse_run, read_qrels, read_text};
use trawl_eval::{trec_eval, TrecEvalOptions};

/// Drop-in for trec_eval 10.0: `trawl trec-eval [-q] [-c] [-n] [-m MEASURE]... [-M N] [-l N] QRELS RUN`.
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// trec_eval's own arguments, e.g. `-q -m all_trec -mndcg_cut.10 -M100 qrels run`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    rest: Vec<String>,
}

const USAGE: &str = "usage: trawl trec-eval [-q] [-c] [-n] [-m measure[.params]]... [-M num] [-l num] [-N num] QRELS RUN
  -q        also print each query's values
  -c        average over all queries in QRELS (missing queries score 0)
  -n        no summary
  -m        measure or nickname (official, all_trec, set), repeatable; e.g. -m P.5,10 -mndcg_cut.10
  -M num    evaluate only the first num documents of each query
  -l num    minimum relevance grade that counts as relevant (default 1)
  -N num    number of documents in the collection (utility)";

struct Parsed {
    opts: TrecEvalOptions,
    files: Vec<String>,
    help: bool,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> anyhow::Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{flag} expects a number, got '{value}'\n{USAGE}"))
}

fn parse(args: &[String]) -> anyhow::Result<Parsed> {
    let mut opts = TrecEvalOptions::default();
    let mut files = Vec::new();
    let mut help = false;
    let mut i = 0;
    // Takes the value attached (`-M100`) or from the next argument (`-M 100`).
    let value = |i: &mut usize, attached: &str, flag: &str| -> anyhow::Result<String> {
        if !attached.is_empty() {
            return Ok(attached.to_string());
        }
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"))
    };
    while i < args.len() {
        let a = &args[i];
        if let Some(long) = a.strip_prefix("--") {
            let (name, attached) = long.split_once('=').unwrap_or((long, ""));
            match name {
                "help" => help = true,
                "query_eval_wanted" => opts.per_query = true,
                "complete_rel_info_wanted" => opts.complete = true,
                "nosummary" => opts.summary = false,
                "measure" => opts.measures.push(value(&mut i, attached, "--measure")?),
                "level_for_rel" => opts.relevance_level = number("--level_for_rel", &value(&mut i, attached, name)?)?,
                "Max_retrieved_per_topic" => opts.max_docs = Some(number("-M", &value(&mut i, attached, name)?)?),
                "Number_docs_in_coll" => opts.num_docs_in_coll = number("-N", &value(&mut i, attached, name)?)?,
                _ => bail!("unknown or unsupported option '{a}' (trawl implements trec_eval's -q -c -n -m -M -l -N)\n{USAGE}"),
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // Bundled flags: `-qc`, `-qm map`.
            let body = &a[1..];
            for (pos, c) in body.char_indices() {
                let rest = &body[pos + c.len_utf8()..];
                match c {
                    'q' => opts.per_query = true,
                    'c' => opts.complete = true,
                    'n' => opts.summary = false,
                    'h' => help = true,
                    'm' | 'M' | 'l' | 'N' => {
                        let v = value(&mut i, rest, &format!("-{c}"))?;
                        match c {
                            'm' => opts.measures.push(v),
                            'M' => opts.max_docs = Some(number("-M", &v)?),
                            'l' => opts.relevance_level = number("-l", &v)?,
                            _ => opts.num_docs_in_coll = number("-N", &v)?,
                        }
                        break;
                    }
                    'J' | 'R' | 'T' | 'Z' | 'D' | 'o' => {
                        bail!("trec_eval option -{c} is not implemented by trawl\n{USAGE}")
                    }
                    _ => bail!("unknown option -{c}\n{USAGE}"),
                }
            }
        } else {
            files.push(a.clone());
        }
        i += 1;
    }
    Ok(Parsed { opts, files, help })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let parsed = parse(&args.rest)?;
    if parsed.help {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let [qrels_path, run_arg] = parsed.files.as_slice() else {
        eprintln!(
            "error: expected QRELS and RUN, got {} file argument(s)\n{USAGE}",
            parsed.files.len()
        );
        return Ok(ExitCode::from(2));
    };
    // Check the measures before reading (possibly large) files.
    trawl_eval::measures::parse_measures(&parsed.opts.measures)?;
    let qrels = read_qrels(&PathBuf::from(qrels_path))?;
    let run_path = PathBuf::from(run_arg);
    let text = read_text(&run_path)?;
    let run = parse_run(&text, &run_path)?;
    // trec_eval reads such values silently; the numbers stay trec_eval's, stderr says why.
    for (file, notes) in [(qrels_path.as_str(), &qrels.notes), (run_arg, &run.notes)] {
        for n in notes {
            eprintln!("note: {file}:{}: {}", n.line, n.message);
        }
    }
    let out = trec_eval(&qrels, &run, &parsed.opts)
        .with_context(|| format!("evaluating {} against {qrels_path}", run_path.display()))?;
    super::eval::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn attached_and_separate_forms() {
        let x = p(&[
            "-q",
            "-mndcg_cut.10",
            "-m",
            "P.5",
            "-M100",
            "-l",
            "2",
            "-c",
            "q",
            "r",
        ]);
        assert!(x.opts.per_query && x.opts.complete);
        assert_eq!(x.opts.measures, ["ndcg_cut.10", "P.5"]);
        assert_eq!(x.opts.max_docs, Some(100));
        assert_eq!(x.opts.relevance_level, 2);
        assert_eq!(x.files, ["q", "r"]);
        let y = p(&["-qcl2", "-n", "q", "r"]);
        assert!(y.opts.per_query && y.opts.complete && !y.opts.summary);
        assert_eq!(y.opts.relevance_level, 2);
    }

    #[test]
    fn bad_flags_are_named() {
        let e = parse(&["-Zfile".to_string()]).err().unwrap().to_string();
        assert!(e.contains("-Z is not implemented"), "{e}");
        let e = parse(&["-M".to_string()]).err().unwrap().to_string();
        assert!(e.contains("-M needs a value"), "{e}");
    }
}
