//! One module per subcommand: its clap arguments and its `run`.

pub mod beir;
pub mod check;
pub mod compare;
pub mod encode;
pub mod eval;
pub mod kb;
pub mod search;
pub mod serve;
pub mod trec_eval;
