//! One module per subcommand. Each exposes `Args` (clap) and `run(&Args) -> anyhow::Result<()>`.

pub mod collect;
pub mod common;
pub mod sim;
