//! The cluster backend (docs/architecture.md, "Cluster mode").

pub mod bucket;
pub mod frame;
