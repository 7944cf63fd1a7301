//! `use cnn::prelude::*;` brings the macro, the optimizers and the error
//! type into scope.

pub use crate::network;
pub use crate::optim::Optimizer;
pub use crate::Error;
