//! Training a JEPA-style world model: layers with hand-written backward, AdamW, the latent
//! prediction loss with EMA and VICReg against collapse, evaluation, and the model file.

pub mod adamw;
pub mod checkpoint;
pub mod config;
pub mod conv;
pub mod data;
pub mod encoder;
pub mod eval;
pub mod matmul;
pub mod modelfile;
pub mod net;
pub mod params;
pub mod trainer;
pub mod value_fit;
pub mod vicreg;
