//! Exports networks as ONNX models, each with inputs and what `predict`
//! returns on them, for `scripts/onnx_check.py` to run the models in ONNX
//! Runtime and compare (`.ci/run` does both):
//!
//! - `lenet5`: LeNet-5 trained for a few hundred steps on the vendored
//!   MNIST, on 100 test digits (with their labels);
//! - `resnet18`: torchvision's ResNet-18 layout (`cnn::models::ResNet18`:
//!   batch norm, projection shortcuts), random weights and
//!   batch-norm statistics, on random 224x224x3 images;
//! - `inception`: a GoogLeNet-style stem with batch norm, two Inception
//!   modules (`same` padding, odd totals), an auxiliary head (left out of
//!   the model), grouped and depthwise convolutions, average pooling, on
//!   random 224x224x3 images;
//! - `detector`: the digit detector of `examples/detect_digits.rs`
//!   (`examples/shared/detector.rs`), trained for a tenth of the steps
//!   on scenes, on 8 test scenes: its output is the raw `12x12x45` YOLO
//!   volume (logits, offsets and log sizes, before any decoding);
//! - `one_shot_encoder`: the `one_shot` example's embedding network
//!   (`examples/shared/one_shot/nets.rs`), random weights and batch-norm
//!   statistics, on random 32x32x1 images (its output is the embedding
//!   before the L2 normalisation, which the user applies);
//! - `mlp` (a flat input, batch norm on vectors, sigmoid), `trunk` (a
//!   network that ends on an image, whose output is NHWC-flattened), and
//!   three small ones where an addition, a batch norm or a softmax reads a
//!   flattened image;
//! - `norms` and `norms_flat`: group norm, layer norm (on images, on a
//!   flattened image and on vectors) and gates (squeeze-and-excitation
//!   with dense layers and with torchvision's 1x1 convolutions, element
//!   by element), random weights and norm parameters;
//! - `convnext`: a reduced ConvNeXt of the zoo's blocks
//!   (`cnn::models::CNBlock`: depthwise 7x7, channels-last layer norm, 1x1
//!   convolutions for torchvision's `Linear`s, exact GELU and the learnt
//!   `layer_scale`, a `Mul` by a `[C, 1, 1]` initializer), random weights
//!   and scales;
//! - `activations`: ReLU6, SiLU, hardswish, hardsigmoid, GELU (exact and
//!   tanh) fused into convolutions, batch norm and dense layers and on
//!   their own, and L2 normalisation per position of an image and of a
//!   flat output (`Clip`, `Sigmoid` + `Mul`, `HardSwish`, `HardSigmoid`,
//!   GELU through `Erf` or `Tanh`, `LpNormalization`).
//! - `dilated`: dilated convolutions (`dilations` on the `Conv` nodes):
//!   dense with `same` padding (an even kernel, so an odd total padding),
//!   unequal per axis with a folded batch norm, depthwise with stride 2,
//!   grouped, random weights, on random 15x14x3 images.
//! - `decoder` and `sequence_decoder`: transposed convolutions
//!   (`ConvTranspose` with strides, pads, output padding, dilations and
//!   groups; one with a folded batch norm and a fused activation, a
//!   depthwise one) and upsampling (`Resize`: nearest with `asymmetric` +
//!   `floor`, bilinear and linear with `half_pixel`), on random 7x6x3
//!   images and random sequences of 9x3 (exported as `[N, 3, 1, 9]`).
//! - `c3d` and `volume_head`: networks on volumes (`[N, c, d, h, w]` in
//!   ONNX), random weights and batch-norm statistics, on random clips: a
//!   small C3D with `Conv3d` (grouped, dilated in depth, strided; a
//!   residual with a strided projection), `MaxPool3d` per frame and
//!   padded, `AvgPool3d` with `same` padding (its odd total at the end),
//!   a flatten of the volume before dense layers; and layer norm, a
//!   squeeze-and-excitation gate, a group norm in a concatenation and
//!   global pooling on a volume.
//! - `volume_decoder`: a volume that shrinks and regrows (`ConvTranspose`
//!   and `Resize` with three axes), random weights and batch-norm
//!   statistics, on random 4x6x5x3 clips: a strided `Conv3d`, a strided
//!   `ConvTranspose3d` with output padding and a folded batch norm, a
//!   grouped one dilated in depth whose output padding there is at its
//!   stride, trilinear (`linear`, `half_pixel`) and nearest upsampling;
//!   the output is the volume itself.
//!
//! Each goes to `<out>/<name>/`: `model.onnx`, `input.npy` (NCHW float32,
//! NCDHW for a volume, or `[n, features]`), `output.npy` (`predict`'s `[n,
//! outputs]`) and, for LeNet-5, `labels.npy`.
//!
//!     cargo run --release --features onnx --example onnx_export -- [--out DIR] [--steps N]
//!     python3 scripts/onnx_check.py DIR

use std::path::{Path, PathBuf};

use cnn::ndarray::{Array2, Array4, Array5, ArrayView4};
use cnn::prelude::*;
use cnn::rng::Rng;

#[path = "shared/detector.rs"]
mod detector;
#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
#[path = "shared/npy.rs"]
mod npy;
#[allow(dead_code)] // the encoder alone, not the softmax baseline
#[path = "shared/one_shot/nets.rs"]
mod one_shot_nets;
use lenet5_net::{prepare, LeNet5};
use npy::write_npy;

network! {
    /// torchvision's ResNet-18.
    pub struct ResNet18 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet18 {},
    }
}

network! {
    /// An Inception module (Szegedy et al. 2014, Figure 2b).
    block Inception(c1, c3_reduce, c3, c5_reduce, c5, pool_proj) = [
        Concat {
            branches: [
                [b1: Conv2d { filters: c1, kernel: 1 }, Relu],
                [b2_reduce: Conv2d { filters: c3_reduce, kernel: 1 }, Relu, b2: Conv2d { filters: c3, kernel: 3, padding: same }, Relu],
                [b3_reduce: Conv2d { filters: c5_reduce, kernel: 1 }, Relu, b3: Conv2d { filters: c5, kernel: 5, padding: same }, Relu],
                [MaxPool2d { size: 3, stride: 1, padding: same }, b4_proj: Conv2d { filters: pool_proj, kernel: 1 }, Relu],
            ],
        },
    ];

    /// GoogLeNet's stem and inception 3a/3b, then a grouped and a
    /// depthwise convolution and a small head.
    pub struct InceptionNet {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: same, bias: false },
            conv1_bn: BatchNorm,
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: same },
            conv2: Conv2d { filters: 192, kernel: 3, padding: same },
            LeakyRelu { alpha: 0.1 },
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception3a: Inception { c1: 64, c3_reduce: 96, c3: 128, c5_reduce: 16, c5: 32, pool_proj: 32 },
            aux: AuxHead { weight: 0.3, layers: [GlobalAvgPool, Dense { units: 10 }, Softmax] },
            inception3b: Inception { c1: 128, c3_reduce: 128, c3: 192, c5_reduce: 32, c5: 96, pool_proj: 64 },
            AvgPool2d { size: 3, stride: 2, padding: same },
            grouped: Conv2d { filters: 128, kernel: 3, padding: 1, groups: 4 },
            grouped_bn: BatchNorm,
            Relu,
            depthwise: DepthwiseConv2d { kernel: 3, stride: 2, padding: same },
            Tanh,
            GlobalAvgPool,
            Dropout { rate: 0.4 },
            fc: Dense { units: 10 },
            Softmax,
        ],
    }

    /// A flat network: batch norm on vectors, sigmoid outputs.
    pub struct Mlp {
        input: [20],
        layers: [Dense { units: 16 }, BatchNorm, LeakyRelu { alpha: 0.2 }, Dense { units: 5, bias: false }, Sigmoid],
    }

    /// A network that ends on an image: predict returns it NHWC-flattened.
    pub struct Trunk {
        input: [13, 11, 2],
        layers: [Conv2d { filters: 3, kernel: 3, stride: 2, padding: same }, Relu, MaxPool2d { size: 2, padding: same }],
    }

    /// Nodes that read an image as the vector a `Flatten` made of it: an
    /// addition, a batch norm, a softmax (NHWC-flattened in ONNX first).
    pub struct AfterFlatten {
        input: [6, 5, 2],
        layers: [
            Conv2d { filters: 3, kernel: 3, padding: same },
            Relu,
            res: Residual { body: [Flatten, Dense { units: 90 }], shortcut: [Flatten] },
            Tanh,
            Dense { units: 12 },
            Softmax,
        ],
    }
    pub struct NormAfterFlatten {
        input: [6, 5, 2],
        layers: [Conv2d { filters: 3, kernel: 3, padding: same }, Flatten, BatchNorm, Relu, Dense { units: 4 }, Softmax],
    }
    /// Group norm, layer norm and gates on images.
    pub struct Norms {
        input: [7, 6, 3],
        layers: [
            Conv2d { filters: 8, kernel: 3, padding: same },
            gn: GroupNorm { groups: 4 },
            Relu,
            se: Gate { body: [GlobalAvgPool, Dense { units: 2 }, Relu, Dense { units: 8 }, Sigmoid] },
            Conv2d { filters: 6, kernel: 3, stride: 2, padding: 1 },
            ln: LayerNorm { epsilon: 0.000001 },
            sa: Gate { body: [Conv2d { filters: 6, kernel: 1 }, Sigmoid] },
            tv: Gate { body: [AvgPool2d { size: [4, 3] }, fc1: Conv2d { filters: 3, kernel: 1 }, Relu, fc2: Conv2d { filters: 6, kernel: 1 }, Sigmoid] },
            inst: GroupNorm { groups: 6 },
            Flatten,
            ln_flat: LayerNorm,
            Dense { units: 5 },
            Softmax,
        ],
    }
    /// The same kinds on vectors.
    pub struct NormsFlat {
        input: [12],
        layers: [
            Dense { units: 8 },
            gn: GroupNorm { groups: 2 },
            Tanh,
            g: Gate { body: [Dense { units: 8 }, Sigmoid] },
            ln: LayerNorm,
            Dense { units: 4 },
        ],
    }
    pub struct SoftmaxAfterFlatten {
        input: [4, 3, 2],
        layers: [Conv2d { filters: 2, kernel: 3, padding: same }, Flatten, Softmax],
    }

    /// ConvNeXt-Tiny's layout at a width of 8 and 16 channels, with the
    /// zoo's blocks: stem, two blocks, downsampling, one block, head.
    pub struct ConvNextSmall {
        input: [16, 16, 3],
        layers: [
            features: Sequential { layers: [
                Sequential { layers: [Conv2d { filters: 8, kernel: 4, stride: 4 }, LayerNorm { epsilon: 0.000001 }] },
                Sequential { layers: [cnn::models::CNBlock { dim: 8 }, cnn::models::CNBlock { dim: 8 }] },
                Sequential { layers: [LayerNorm { epsilon: 0.000001 }, Conv2d { filters: 16, kernel: 2, stride: 2 }] },
                Sequential { layers: [cnn::models::CNBlock { dim: 16 }] },
            ] },
            GlobalAvgPool,
            classifier: Sequential { layers: [LayerNorm { epsilon: 0.000001 }, Flatten, Dense { units: 5 }] },
            Softmax,
        ],
    }

    /// Dilated dense, depthwise and grouped convolutions.
    pub struct Dilated {
        input: [15, 14, 3],
        layers: [
            d1: Conv2d { filters: 8, kernel: 2, dilation: 3, padding: same },
            Relu,
            d2: Conv2d { filters: 8, kernel: 3, dilation: [2, 3], padding: 2, bias: false },
            d2_bn: BatchNorm,
            Relu,
            dw: DepthwiseConv2d { kernel: 3, dilation: 2, stride: 2, padding: same, multiplier: 2 },
            g: Conv2d { filters: 6, kernel: 3, dilation: [1, 2], groups: 2 },
            Tanh,
            Flatten,
            fc: Dense { units: 5 },
            Softmax,
        ],
    }

    /// A decoder: strided, grouped-dilated and depthwise transposed
    /// convolutions, a batch norm folded into one, nearest and bilinear
    /// upsampling.
    pub struct Decoder {
        input: [7, 6, 3],
        layers: [
            down: Conv2d { filters: 8, kernel: 3, stride: 2, padding: 1 },
            Relu,
            up: ConvTranspose2d { filters: 8, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            up_bn: BatchNorm,
            Relu,
            g: ConvTranspose2d { filters: 6, kernel: [2, 3], stride: [1, 2], dilation: [2, 1], padding: [1, 0], output_padding: [1, 1], groups: 2 },
            Upsample { scale: [2, 1] },
            dw: ConvTranspose2d { filters: 6, kernel: 3, padding: 1, groups: 6, bias: false },
            Tanh,
            Upsample { scale: 2, mode: bilinear },
            head: Conv2d { filters: 2, kernel: 1 },
        ],
    }

    /// A sequence decoder: transposed 1-D convolutions and linear and
    /// nearest upsampling.
    pub struct SequenceDecoder {
        input: [9, 3],
        layers: [
            t1: ConvTranspose1d { filters: 4, kernel: 4, stride: 2, padding: 1 },
            Relu,
            t2: ConvTranspose1d { filters: 6, kernel: 3, dilation: 2, padding: 2, output_padding: 1, groups: 2 },
            Upsample { scale: 2, mode: linear },
            Upsample { scale: 3 },
            head: Conv1d { filters: 2, kernel: 1 },
        ],
    }

    /// A small C3D (Tran et al. 2015) on clips of 8 frames of 16x16x3,
    /// with every 3-D kind: a per-frame pool, a residual whose body has a
    /// grouped convolution dilated in depth and a strided one, a padded
    /// max pool, an average pool with `same` padding, a flatten of the
    /// volume.
    pub struct C3dTiny {
        input: [8, 16, 16, 3],
        layers: [
            c1: Conv3d { filters: 8, kernel: 3, padding: 1 },
            b1: BatchNorm,
            Relu,
            MaxPool3d { size: [1, 2, 2] },
            res: Residual {
                body: [
                    g: Conv3d { filters: 8, kernel: 3, dilation: [2, 1, 1], padding: same, groups: 2, bias: false },
                    g_bn: BatchNorm,
                    Relu,
                    s: Conv3d { filters: 16, kernel: 3, stride: 2, padding: 1 },
                ],
                shortcut: [p: Conv3d { filters: 16, kernel: 1, stride: 2 }],
            },
            b2: BatchNorm,
            Relu,
            MaxPool3d { size: 3, stride: 2, padding: 1 },
            AvgPool3d { size: 2, stride: 1, padding: same },
            Flatten,
            fc1: Dense { units: 32 },
            Relu,
            fc2: Dense { units: 10 },
            Softmax,
        ],
    }

    /// Layer norm, a gate, a group norm in a concatenation and global
    /// pooling on a volume.
    pub struct VolumeHead {
        input: [4, 6, 5, 3],
        layers: [
            c: Conv3d { filters: 8, kernel: [1, 3, 3], padding: same },
            ln: LayerNorm,
            se: Gate { body: [GlobalAvgPool, Dense { units: 2 }, Relu, Dense { units: 8 }, Sigmoid] },
            cat: Concat { branches: [[Conv3d { filters: 4, kernel: 1 }, Tanh], [gn: GroupNorm { groups: 4 }]] },
            Relu,
            GlobalAvgPool,
            fc: Dense { units: 5 },
        ],
    }

    /// A volume encoder-decoder: `ConvTranspose3d` (strided with output
    /// padding and a folded batch norm; grouped and dilated, its depth's
    /// output padding at the stride) and `Upsample` on volumes.
    pub struct VolumeDecoder {
        input: [4, 6, 5, 3],
        layers: [
            down: Conv3d { filters: 6, kernel: 3, stride: 2, padding: 1 },
            Relu,
            up: ConvTranspose3d { filters: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1 },
            up_bn: BatchNorm,
            Relu,
            g: ConvTranspose3d {
                filters: 4, kernel: [2, 3, 2], stride: [1, 1, 2], padding: [1, 1, 0],
                output_padding: [1, 0, 1], dilation: [2, 1, 1], groups: 2,
            },
            Upsample { scale: [2, 1, 1], mode: trilinear },
            Tanh,
            Upsample { scale: [1, 2, 1] },
            head: Conv3d { filters: 2, kernel: 1 },
        ],
    }

    /// Every activation of issue 25 and L2 normalisation.
    pub struct Activations {
        input: [9, 8, 3],
        layers: [
            c1: Conv2d { filters: 6, kernel: 3, padding: same },
            Relu6,
            c2: Conv2d { filters: 6, kernel: 3, stride: 2, padding: same },
            bn: BatchNorm,
            Hardswish,
            Gelu,
            c3: Conv2d { filters: 8, kernel: 1 },
            Silu,
            L2Normalize,
            dw: DepthwiseConv2d { kernel: 3, padding: 1 },
            Hardsigmoid,
            Flatten,
            d1: Dense { units: 12 },
            Gelu { approximate: tanh },
            d2: Dense { units: 6 },
            Gelu,
            Silu,
            L2Normalize,
        ],
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `$net::new($seed)` with its batch norms stirred (seed `$seed + 1`), its
/// export and its outputs on three random images of `$shape` (seed
/// `$seed + 2`) in `$out/$name`.
macro_rules! stirred_image_net {
    ($out:expr, $net:ident, $name:literal, $seed:literal, $shape:expr) => {{
        let mut net = $net::new($seed);
        stir_batch_norms(net.params_mut(), $net::TENSORS, $seed + 1);
        let x = random_images(3, $shape, $seed + 2);
        let y = net.predict(x.view())?;
        write_image_net(&$out.join($name), |p| net.export_onnx(p), &x, &y)?;
    }};
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Args { out, steps } = <Args as clap::Parser>::parse();
    std::fs::create_dir_all(&out)?;

    // LeNet-5 on MNIST, briefly trained so that its outputs mean something.
    let mnist = cnn::data::mnist::load(&cnn::data::mnist::vendored_dir())?;
    let (train, test) = (prepare(&mnist.train)?, prepare(&mnist.test)?.take(100));
    let mut lenet = LeNet5::new(1);
    let mut opt = Adam::new(1e-3);
    let per = train.example_len();
    let batch = 64;
    for step in 0..steps {
        let start = (step * batch) % (train.len() - batch);
        let x = ArrayView4::from_shape(
            (batch, 32, 32, 1),
            &train.images()[start * per..(start + batch) * per],
        )?;
        lenet.train_step(x, &train.labels()[start..start + batch], &mut opt)?;
    }
    let x = Array4::from_shape_vec((test.len(), 32, 32, 1), test.images().to_vec())?;
    let y = lenet.predict(x.view())?;
    let correct = cnn::net::count_correct(y.as_slice().unwrap_or(&[]), 10, test.labels());
    println!(
        "lenet5: {steps} training steps, {correct}/{} test digits right",
        test.len()
    );
    write_image_net(&out.join("lenet5"), |p| lenet.export_onnx(p), &x, &y)?;
    let labels: Vec<f32> = test.labels().iter().map(|&l| l as f32).collect();
    write_npy(&out.join("lenet5/labels.npy"), &[labels.len()], &labels)?;

    // The digit detector, briefly trained on scenes: the raw volume.
    let config = detector::scene_config();
    let scenes = cnn::data::scenes::Scenes::train(&mnist, config, 1)?;
    let test_scenes = cnn::data::scenes::Scenes::test(&mnist, config, 2)?;
    let anchors = detector::fit_anchors(&scenes, 200)?;
    let grid = cnn::detect::Grid::new(detector::S, anchors, detector::K)?;
    let plan = detector::Plan {
        epochs: 1,
        scenes_per_epoch: 16 * (steps / 10).max(1),
        batch_size: 16,
        learning_rate: 2e-3,
        seed: 1,
        out: None,
        resume: None,
        validation_scenes: 0,
        verbose: false,
        stop_after: None,
    };
    let net = detector::train(&scenes, &scenes, &grid, &plan)?.into_network();
    let indices: Vec<usize> = (0..8).collect();
    let pixels: Vec<f32> = indices
        .iter()
        .flat_map(|&i| test_scenes.scene(i).pixels)
        .collect();
    let x = Array4::from_shape_vec((8, detector::SIDE, detector::SIDE, 1), pixels)?;
    let y = net.predict(x.view())?;
    println!(
        "detector: {} training steps on scenes, output {:?} per scene",
        plan.scenes_per_epoch / plan.batch_size,
        grid.shape()
    );
    write_image_net(&out.join("detector"), |p| net.export_onnx(p), &x, &y)?;

    let mut resnet = ResNet18::new(2);
    stir_batch_norms(resnet.params_mut(), ResNet18::TENSORS, 3);
    let x = random_images(2, [224, 224, 3], 4);
    let y = resnet.predict(x.view())?;
    write_image_net(&out.join("resnet18"), |p| resnet.export_onnx(p), &x, &y)?;

    let mut inception = InceptionNet::new(5);
    stir_batch_norms(inception.params_mut(), InceptionNet::TENSORS, 6);
    let x = random_images(2, [224, 224, 3], 7);
    let y = inception.predict(x.view())?;
    write_image_net(&out.join("inception"), |p| inception.export_onnx(p), &x, &y)?;

    let mut encoder = one_shot_nets::Encoder::new(20);
    stir_batch_norms(encoder.params_mut(), one_shot_nets::Encoder::TENSORS, 21);
    let x = random_images(4, [32, 32, 1], 22);
    let y = encoder.predict(x.view())?;
    write_image_net(
        &out.join("one_shot_encoder"),
        |p| encoder.export_onnx(p),
        &x,
        &y,
    )?;

    let mut mlp = Mlp::new(8);
    stir_batch_norms(mlp.params_mut(), Mlp::TENSORS, 9);
    let mut rng = Rng::new(10);
    let x = Array2::from_shape_fn((5, 20), |_| rng.uniform_in(-2.0, 2.0));
    let y = mlp.predict(x.view())?;
    write_flat_net(&out.join("mlp"), |p| mlp.export_onnx(p), &x, &y)?;

    let trunk = Trunk::new(11);
    let x = random_images(3, [13, 11, 2], 12);
    let y = trunk.predict(x.view())?;
    write_image_net(&out.join("trunk"), |p| trunk.export_onnx(p), &x, &y)?;

    let net = AfterFlatten::new(13);
    let x = random_images(3, [6, 5, 2], 14);
    let y = net.predict(x.view())?;
    write_image_net(&out.join("after_flatten"), |p| net.export_onnx(p), &x, &y)?;
    stirred_image_net!(out, NormAfterFlatten, "norm_after_flatten", 15, [6, 5, 2]);
    let net = SoftmaxAfterFlatten::new(18);
    let x = random_images(3, [4, 3, 2], 19);
    let y = net.predict(x.view())?;
    write_image_net(
        &out.join("softmax_after_flatten"),
        |p| net.export_onnx(p),
        &x,
        &y,
    )?;
    let mut net = Activations::new(22);
    stir_batch_norms(net.params_mut(), Activations::TENSORS, 23);
    // Inputs up to ±8 reach every piece of the piecewise activations.
    let x = random_images(3, [9, 8, 3], 24).mapv(|v| 8.0 * v);
    let y = net.predict(x.view())?;
    write_image_net(&out.join("activations"), |p| net.export_onnx(p), &x, &y)?;

    stirred_image_net!(out, Dilated, "dilated", 26, [15, 14, 3]);

    stirred_image_net!(out, Norms, "norms", 20, [7, 6, 3]);
    stirred_image_net!(out, ConvNextSmall, "convnext", 26, [16, 16, 3]);

    let mut net = NormsFlat::new(23);
    stir_batch_norms(net.params_mut(), NormsFlat::TENSORS, 24);
    let mut rng = Rng::new(25);
    let x = Array2::from_shape_fn((3, 12), |_| rng.uniform_in(-2.0, 2.0));
    let y = net.predict(x.view())?;
    write_flat_net(&out.join("norms_flat"), |p| net.export_onnx(p), &x, &y)?;

    stirred_image_net!(out, Decoder, "decoder", 29, [7, 6, 3]);

    // A sequence [l, c] is the image [1, l, c]: NCHW [N, c, 1, l].
    let net = SequenceDecoder::new(32);
    let x = random_images(3, [1, 9, 3], 33);
    let y = net.predict(x.view().into_shape_with_order((3, 9, 3))?)?;
    write_image_net(
        &out.join("sequence_decoder"),
        |p| net.export_onnx(p),
        &x,
        &y,
    )?;

    // Volumes: NCDHW [N, c, d, h, w] in ONNX.
    let mut net = C3dTiny::new(35);
    stir_batch_norms(net.params_mut(), C3dTiny::TENSORS, 36);
    let x = random_clips(2, [8, 16, 16, 3], 37);
    let y = net.predict(x.view())?;
    write_volume_net(&out.join("c3d"), |p| net.export_onnx(p), &x, &y)?;
    let mut net = VolumeHead::new(38);
    stir_batch_norms(net.params_mut(), VolumeHead::TENSORS, 39);
    let x = random_clips(3, [4, 6, 5, 3], 40);
    let y = net.predict(x.view())?;
    write_volume_net(&out.join("volume_head"), |p| net.export_onnx(p), &x, &y)?;
    let mut net = VolumeDecoder::new(41);
    stir_batch_norms(net.params_mut(), VolumeDecoder::TENSORS, 42);
    let x = random_clips(3, [4, 6, 5, 3], 43);
    let y = net.predict(x.view())?;
    write_volume_net(&out.join("volume_decoder"), |p| net.export_onnx(p), &x, &y)?;

    println!(
        "wrote lenet5, detector, resnet18, inception, one_shot_encoder, mlp, trunk, three networks with flattens, norms, norms_flat, convnext, activations, dilated, decoder, sequence_decoder, c3d, volume_head and volume_decoder to {}",
        out.display()
    );
    Ok(())
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "onnx_export",
    about = "Exports trained and random networks to ONNX, with inputs and our outputs for \
             scripts/onnx_check.py"
)]
struct Args {
    /// Where the models and arrays go
    #[arg(long, value_name = "DIR", default_value = "out/onnx")]
    out: PathBuf,
    /// Training steps of LeNet-5 before its export
    #[arg(long, value_name = "N", default_value_t = 300)]
    steps: usize,
}

/// A batch `[n, h, w, c]` of values uniform in [-1, 1).
fn random_images(n: usize, [h, w, c]: [usize; 3], seed: u64) -> Array4<f32> {
    let mut rng = Rng::new(seed);
    Array4::from_shape_fn((n, h, w, c), |_| rng.uniform_in(-1.0, 1.0))
}

/// A batch `[n, d, h, w, c]` of values uniform in [-1, 1).
fn random_clips(n: usize, [d, h, w, c]: [usize; 4], seed: u64) -> Array5<f32> {
    let mut rng = Rng::new(seed);
    Array5::from_shape_fn((n, d, h, w, c), |_| rng.uniform_in(-1.0, 1.0))
}

/// Batch norms away from their fresh state (gamma 1, beta 0, mean 0,
/// variance 1), and ConvNeXt's layer scales from their 1e-6, so a norm or
/// scale exported wrong shows in the outputs.
fn stir_batch_norms(params: &mut [f32], tensors: &[cnn::net::TensorInfo], seed: u64) {
    let mut rng = Rng::new(seed);
    for t in tensors {
        let (lo, hi) = match t.name.rsplit('.').next() {
            Some("gamma") => (0.5, 1.5),
            Some("beta") | Some("moving_mean") => (-0.2, 0.2),
            Some("moving_variance") => (0.5, 2.0),
            Some("layer_scale") => (0.5, 1.5),
            _ => continue,
        };
        params[t.range()]
            .iter_mut()
            .for_each(|v| *v = rng.uniform_in(lo, hi));
    }
}

/// `model.onnx` through `export`, the rows `x` as `input.npy`, and
/// `output.npy`, in `dir`.
fn write_flat_net(
    dir: &Path,
    export: impl FnOnce(&Path) -> Result<(), cnn::Error>,
    x: &Array2<f32>,
    y: &Array2<f32>,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    export(&dir.join("model.onnx"))?;
    write_npy(
        &dir.join("input.npy"),
        x.shape(),
        x.as_slice().unwrap_or(&[]),
    )?;
    write_npy(
        &dir.join("output.npy"),
        y.shape(),
        y.as_slice().unwrap_or(&[]),
    )?;
    Ok(())
}

/// `model.onnx` through `export`, the images as NCHW `input.npy`, and
/// `output.npy`, in `dir`.
fn write_image_net(
    dir: &Path,
    export: impl FnOnce(&Path) -> Result<(), cnn::Error>,
    x: &Array4<f32>,
    y: &Array2<f32>,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    export(&dir.join("model.onnx"))?;
    let nchw = x.view().permuted_axes([0, 3, 1, 2]);
    let nchw: Vec<f32> = nchw.iter().copied().collect();
    let s = x.shape();
    write_npy(&dir.join("input.npy"), &[s[0], s[3], s[1], s[2]], &nchw)?;
    write_npy(
        &dir.join("output.npy"),
        y.shape(),
        y.as_slice().unwrap_or(&[]),
    )?;
    Ok(())
}

/// `model.onnx` through `export`, the volumes as NCDHW `input.npy`, and
/// `output.npy`, in `dir`.
fn write_volume_net(
    dir: &Path,
    export: impl FnOnce(&Path) -> Result<(), cnn::Error>,
    x: &Array5<f32>,
    y: &Array2<f32>,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    export(&dir.join("model.onnx"))?;
    let ncdhw: Vec<f32> = x
        .view()
        .permuted_axes([0, 4, 1, 2, 3])
        .iter()
        .copied()
        .collect();
    let s = x.shape();
    write_npy(
        &dir.join("input.npy"),
        &[s[0], s[4], s[1], s[2], s[3]],
        &ncdhw,
    )?;
    write_npy(
        &dir.join("output.npy"),
        y.shape(),
        y.as_slice().unwrap_or(&[]),
    )?;
    Ok(())
}
