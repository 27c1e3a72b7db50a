//! Glue between the simulator's dataset files and the world model's training sequences.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sim::dataset::Dataset;
use world_model::train::data::Sequences;

/// Loads a dataset file and converts it to training sequences (observations, actions, states).
/// The returned dataset keeps its metadata and episode lengths; its observation, action and
/// state buffers have moved into the sequences (empty here), so the data is held once.
pub fn load_sequences(path: &Path) -> Result<(Dataset, Sequences)> {
    let mut d =
        Dataset::load(path).with_context(|| format!("reading dataset {}", path.display()))?;
    let lengths: Vec<usize> = d.episode_lengths.iter().map(|&l| l as usize).collect();
    let seqs = Sequences::new(
        d.meta.obs_dim,
        d.meta.action_dim,
        std::mem::take(&mut d.observations),
        std::mem::take(&mut d.actions),
        std::mem::take(&mut d.states),
        sim::obs::STATE_DIM,
        &lengths,
    )
    .with_context(|| format!("dataset {}", path.display()))?;
    Ok((d, seqs))
}

/// The dataset's observation layout as JSON, the form a model file stores and checks.
pub fn layout_json(d: &Dataset) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(&d.meta.obs_layout)?)
}

/// Loads several dataset files as one set of sequences (one group per file, so
/// `Sequences::split` holds out the last episodes of each); refuses files whose observation
/// layouts differ, naming both.
pub fn load_datasets(paths: &[std::path::PathBuf]) -> Result<(Vec<Dataset>, Sequences)> {
    let mut datasets: Vec<Dataset> = Vec::new();
    let mut parts = Vec::new();
    for path in paths {
        let (d, seq) = load_sequences(path)?;
        if let Some((first, first_path)) = datasets.first().zip(paths.first())
            && layout_json(first)? != layout_json(&d)?
        {
            bail!(
                "{} and {} have different observation layouts",
                first_path.display(),
                path.display()
            );
        }
        datasets.push(d);
        parts.push(seq);
    }
    if datasets.is_empty() {
        bail!("no dataset given");
    }
    Ok((datasets, Sequences::concat(parts)?))
}
