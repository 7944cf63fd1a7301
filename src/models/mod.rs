//! Published networks as block templates, with torchvision's layer names:
//! `layers: cnn::models::ResNet50 { classes: 10 }` declares ResNet-50 in
//! one line, and `load_pytorch(path, |k| Some(k.to_string()))` takes
//! torchvision's `state_dict` unchanged (batch norm's `weight`, `bias`,
//! `running_mean`, `running_var` and PyTorch's layouts are converted).
//!
//! ```
//! use cnn::prelude::*;
//!
//! network! {
//!     /// ResNet-18 for ten classes.
//!     pub struct Net {
//!         input: [224, 224, 3],
//!         layers: cnn::models::ResNet18 { classes: 10 },
//!     }
//! }
//!
//! // torchvision's resnet18 has 11,689,512; the 1,000-way `fc` is 10-way here.
//! assert_eq!(Net::TRAINABLE_PARAMS, 11_689_512 - 512 * 990 - 990);
//! ```
//!
//! Each model is a template (`pub block`) of the `network!` macro, lent to
//! every crate that uses it: a crate that uses no model compiles none, and
//! one that uses ResNet-50 compiles ResNet-50 only. A model may be the whole
//! network, a layer (`trunk: cnn::models::ResNet50 { .. }`), or spread
//! (`..cnn::models::ResNet50 { .. }`). Every model ends in a softmax over
//! `classes` (torchvision's end in the scores; the softmax holds no
//! parameters).
//!
//! | Model | Template | Input | Trainable parameters (1,000 classes) |
//! |---|---|---|---|
//! | LeNet-5 (the course's) | `LeNet5` | 32x32x1 | 61,706 (10 classes) |
//! | AlexNet | `AlexNet` | 224x224x3 | 61,100,840 |
//! | VGG-11, -16, -19, -16-BN | `Vgg11`, `Vgg16`, `Vgg19`, `Vgg16Bn` | 224x224x3 | 132,863,336; 138,357,544; 143,667,240; 138,365,992 |
//! | ResNet-18, -34, -50, -101, -152 | `ResNet18` .. `ResNet152` | any, at least 32x32 | 11,689,512; 21,797,672; 25,557,032; 44,549,160; 60,192,808 |
//! | ResNeXt-50 32x4d | `ResNeXt50` | any | 25,028,904 |
//! | Wide ResNet-50-2 | `WideResNet50` | any | 68,883,240 |
//! | GoogLeNet | `GoogLeNet` | 224x224x3 | 6,624,904 (13,004,888 with its two auxiliary heads) |
//! | DenseNet-121 | `DenseNet121` | any | 7,978,856 |
//! | SqueezeNet 1.1 | `SqueezeNet11` | 224x224x3 | 1,235,496 |
//! | MobileNet v2 | `MobileNetV2` | any | 3,504,872 |
//! | MobileNet v3 small, large | `MobileNetV3Small`, `MobileNetV3Large` | any | 2,542,856; 5,483,032 |
//! | EfficientNet-B0 | `EfficientNetB0` | any | 5,288,548 |
//! | RegNetY-400MF | `RegNetY400MF` | any | 4,344,144 |
//! | ConvNeXt-Tiny | `ConvNextTiny` | any, at least 32x32 | 28,589,128 |
//!
//! The counts are torchvision's, and `cnn-macros`'s test `models` holds
//! each model to its count and to torchvision's `state_dict` keys and
//! shapes, one to one (`tests/fixtures/models/`, made by
//! `scripts/make_model_keys.py`).
//!
//! What differs from torchvision, none of it in the parameters: max
//! pooling with `ceil_mode` is written with the padding that gives the same
//! sizes; GoogLeNet's auxiliary heads pool 14x14 to 4x4 with a 5x5 window
//! and stride 3, where torchvision's adaptive pooling uses windows of 4 and
//! 5; VGG and AlexNet take the 224x224 their classifiers were sized for
//! (torchvision's adaptive pooling would resize other inputs);
//! squeeze-and-excitation `fc1`/`fc2` are dense layers on the pooled
//! vector (torchvision's are 1x1 convolutions; `load_pytorch` takes their
//! `[out, in, 1, 1]` weights); EfficientNet's and ConvNeXt's stochastic
//! depth, which holds no parameters and which inference skips, is left
//! out (every block trains); ConvNeXt's per-position `Linear` layers are
//! 1x1 convolutions (`load_pytorch` takes their `[out, in]` weights), its
//! `Permute`s the identity on NHWC data, and its `layer_scale` a `Scale`
//! layer whose tensor is named after the layer, as torchvision's bare
//! parameter is (`[c, 1, 1]` there, `[c]` here; `load_pytorch` takes
//! either).
//!
//! At reduced width, each family's block reproduces torchvision's own
//! block class (output and gradients, PyTorch's weights loaded with
//! `load_pytorch`): the facade's test `model_blocks`.

mod alexnet;
mod convnext;
mod densenet;
mod efficientnet;
mod googlenet;
mod inception;
mod lenet;
mod mobilenet;
mod regnet;
mod resnet;
mod squeezenet;
mod vgg;

pub use alexnet::*;
pub use convnext::*;
pub use densenet::*;
pub use efficientnet::*;
pub use googlenet::*;
pub use inception::*;
pub use lenet::*;
pub use mobilenet::*;
pub use regnet::*;
pub use resnet::*;
pub use squeezenet::*;
pub use vgg::*;
