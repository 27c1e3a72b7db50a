//! # ebmpc
//!
//! Energy-based model-predictive planning for robots. This root package holds the command-line
//! interface and the glue between the member crates: `sim` (the rapier3d test bed), `world_model`,
//! `planner` and `kernels`. No algorithm lives here; see `../shared/DESIGN.md` for the layout.
#![forbid(unsafe_code)]

pub mod closed_loop;
pub mod commands;
pub mod episodes;
pub mod heads;
pub mod json_nan;
pub mod oracle;
pub mod paired;
pub mod progress;
pub mod replay;
pub mod report;
pub mod reports;
pub mod setup;
mod subgoals;
pub mod suite;
pub mod summary;
