//! One module per subcommand. Each exposes `Args` (clap) and `run(&Args) -> anyhow::Result<()>`.

pub mod bench;
pub mod collect;
pub mod common;
pub mod data;
pub mod demo;
pub mod eval_model;
pub mod fit_head;
pub mod fit_value;
pub mod pipeline;
pub mod plan_bench;
pub mod run;
pub mod sim;
pub mod train;
