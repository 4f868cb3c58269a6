//! The commands of the `tp` binary by family and the sweep-file commands; `main.rs`
//! holds the argument definitions, the width commands and the output helpers they share.

pub(crate) mod depth;
pub(crate) mod meanfield;
pub(crate) mod shaped;
pub(crate) mod sweep_files;
