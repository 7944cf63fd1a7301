//! `use cnn::prelude::*;` brings the macro, the optimizers and the error
//! type into scope.

pub use crate::network;
pub use crate::optim::{Adam, AdamW, Optimizer, Sgd};
pub use crate::pass::{Grads, Mode};
pub use crate::train::{
    Callback, Dataset, EarlyStopping, Fit, LearningRateScheduler, Model, ModelCheckpoint, Monitor,
    Network, ReduceLrOnPlateau,
};
pub use crate::Error;
