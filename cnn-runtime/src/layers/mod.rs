//! One module per layer kind; each has `forward` and `backward` side by side
//! and a slow reference implementation used only by tests.

pub mod activation;
pub mod batch_norm;
pub mod conv2d;
pub mod conv3d;
pub mod conv_transpose;
pub mod conv_transpose3d;
pub mod dense;
pub mod dropout;
pub mod gate;
pub mod group_norm;
pub mod l2_normalize;
pub mod layer_norm;
pub mod loss;
pub mod merge;
pub mod pool;
pub mod pool3d;
pub mod scale;
pub mod upsample;
pub mod upsample3d;
#[cfg(test)]
mod volume_fixture_tests;
