//! The `ebmpc` command-line interface.

use clap::{Parser, Subcommand};
use ebmpc::commands;

/// Energy-based model-predictive planning for robots: simulate, collect data, plan.
#[derive(Parser, Debug)]
#[command(name = "ebmpc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scripted-policy episodes and report success rate, episode length and speed.
    Sim(commands::sim::Args),
    /// Record scripted-policy episodes into a safetensors dataset.
    Collect(commands::collect::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Sim(a) => commands::sim::run(a),
        Command::Collect(a) => commands::collect::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
