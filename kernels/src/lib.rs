//! # kernels: the CUDA backend of the planner (not implemented yet)
//!
//! This crate will hold the `.cu` kernel sources and the cudarc launchers that implement the
//! planner's `Rollout` seam on a GPU (see `../shared/DESIGN.md` and the CUDA backend issue).
//! Nothing is implemented yet: the crate exports no API, so nothing can mistake it for a
//! working backend.
