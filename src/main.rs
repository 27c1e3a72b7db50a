//! The `ebmpc` command-line interface.

use clap::{Parser, Subcommand};
use ebmpc::commands;

/// Energy-based model-predictive planning for robots: simulate, collect data, plan.
#[derive(Parser, Debug)]
#[command(
    name = "ebmpc",
    version,
    about = "Energy-based model-predictive planning for robots: simulate, collect data, train a \
             world model, plan",
    long_about = None
)]
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
    /// Train a JEPA-style world model on a collected dataset.
    Train(commands::train::Args),
    /// Evaluate a trained model: prediction error, linear probes, collapse indicators.
    EvalModel(commands::eval_model::Args),
    /// Fit a model's palm head (latent -> palm position), used by `planner.palm_weight`.
    FitHead(commands::fit_head::Args),
    /// Train a model's learned goal value (steps-to-goal in latent space), used by
    /// `planner.value_weight`.
    FitValue(commands::fit_value::Args),
    /// Closed-loop planning episodes with a learned world model or the simulator oracle.
    Run(commands::run::Args),
    /// Time the planners on the W1 reference workload (3 warm-ups, 20 timed calls).
    PlanBench(commands::plan_bench::Args),
    /// Pick-and-place with the shipped model: success rate, planning latency and a report.
    Demo(commands::demo::Args),
    /// Collect, train and evaluate in one command (how the shipped model is made).
    Pipeline(commands::pipeline::Args),
    /// A benchmark suite (tasks x models x planners x seeds), resumable, with a report.
    Bench(commands::bench::Args),
}

/// Parses the command line; usage errors come out as one line on stderr with exit status 2.
fn parse() -> Result<Cli, std::process::ExitCode> {
    use clap::error::ErrorKind;
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                let text = e.render().to_string();
                let line: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                    .filter(|l| !l.is_empty())
                    .collect();
                eprintln!("{}", line.join(" "));
                Err(std::process::ExitCode::from(2))
            }
        },
    }
}

fn main() -> std::process::ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match &cli.command {
        Command::Sim(a) => commands::sim::run(a),
        Command::Collect(a) => commands::collect::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::EvalModel(a) => commands::eval_model::run(a),
        Command::FitHead(a) => commands::fit_head::run(a),
        Command::FitValue(a) => commands::fit_value::run(a),
        Command::PlanBench(a) => commands::plan_bench::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Pipeline(a) => commands::pipeline::run(a),
        Command::Bench(a) => commands::bench::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
