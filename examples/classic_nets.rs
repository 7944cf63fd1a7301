//! The course's classic networks, declared with `network!` and checked at
//! compile time: LeNet-5, AlexNet as published (two towers: grouped conv2,
//! conv4 and conv5), VGG-16, torchvision's ResNet-18/34/50/101/152 and
//! ResNeXt-50 32x4d (one template), Keras's ResNet-50, MobileNet v1
//! (depthwise separable convolutions), GoogLeNet (Inception v1 with its two
//! auxiliary heads) and the CIFAR ResNet-20/56/110 of He et al. (2015).
//! Each is a few lines on top of block templates (`block Name(..) = [..]`)
//! and stages (`Stage { block, repeat, first }`); no block is written out
//! twice. Their sizes are asserted in `const` items against the published
//! figures (a wrong layer is a compile error), and running the example
//! prints every summary and a table of our counts beside the published ones.
//!
//!     cargo run --release --example classic_nets             # summaries and the table
//!     cargo run --release --example classic_nets -- --run    # also time ResNet-50, -152 and GoogLeNet
//!
//! `--run` runs one training step (forward, backward, SGD) and one
//! `predict` of ResNet-50 (Keras), ResNet-152 and GoogLeNet on a batch of random
//! 224x224x3 images (`--batch N`, default 2; `--threads N`) and prints the
//! time per image. `--quiet` leaves the summaries out.

#[path = "shared/cli.rs"]
mod cli;

use std::time::Instant;

use cnn::ndarray::Array4;
use cnn::net::{thousands, Summary, TensorInfo};
use cnn::prelude::*;
use cnn::rng::Rng;

#[path = "shared/cifar_resnet.rs"]
mod cifar_resnet;
#[path = "shared/keras_resnet50.rs"]
mod keras_resnet50;
#[path = "shared/lenet5_net.rs"]
mod lenet5_net;
use cifar_resnet::CifarResNet;
use keras_resnet50::KerasResNet50;
use lenet5_net::LeNet5;

network! {
    /// AlexNet (Krizhevsky et al. 2012) as published, on 227x227x3: conv2,
    /// conv4 and conv5 are split over the two GPUs' towers (`groups: 2`),
    /// each half seeing only its own tower's channels. Local response
    /// normalisation is left out (it holds no parameters).
    pub struct AlexNet {
        input: [227, 227, 3],
        layers: [
            conv1: Conv2d { filters: 96, kernel: 11, stride: 4 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            conv2: Conv2d { filters: 256, kernel: 5, padding: same, groups: 2 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            conv3: Conv2d { filters: 384, kernel: 3, padding: same },
            Relu,
            conv4: Conv2d { filters: 384, kernel: 3, padding: same, groups: 2 },
            Relu,
            conv5: Conv2d { filters: 256, kernel: 3, padding: same, groups: 2 },
            Relu,
            MaxPool2d { size: 3, stride: 2 },
            Flatten,
            fc6: Dense { units: 4096 },
            Relu,
            Dropout { rate: 0.5 },
            fc7: Dense { units: 4096 },
            Relu,
            Dropout { rate: 0.5 },
            fc8: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// `convs` 3x3 'same' convolutions with ReLU, then 2x2 max pooling: one
    /// of VGG's five blocks.
    block VggBlock(filters, convs) = [
        convs: Stage { block: VggConv { filters: filters }, repeat: convs },
        pool: MaxPool2d { size: 2 },
    ];
    block VggConv(filters) = [conv: Conv2d { filters: filters, kernel: 3, padding: same }, Relu];

    /// VGG-16 (Simonyan and Zisserman 2014, configuration D).
    pub struct Vgg16 {
        input: [224, 224, 3],
        layers: [
            block1: VggBlock { filters: 64, convs: 2 },
            block2: VggBlock { filters: 128, convs: 2 },
            block3: VggBlock { filters: 256, convs: 3 },
            block4: VggBlock { filters: 512, convs: 3 },
            block5: VggBlock { filters: 512, convs: 3 },
            Flatten,
            fc1: Dense { units: 4096 },
            Relu,
            fc2: Dense { units: 4096 },
            Relu,
            predictions: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// torchvision.models.resnet18.
    pub struct ResNet18 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet18 {},
    }
    /// torchvision.models.resnet34.
    pub struct ResNet34 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet34 {},
    }
    /// torchvision.models.resnet50.
    pub struct ResNet50 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet50 {},
    }
    /// torchvision.models.resnet101.
    pub struct ResNet101 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet101 {},
    }
    /// torchvision.models.resnet152.
    pub struct ResNet152 {
        input: [224, 224, 3],
        layers: cnn::models::ResNet152 {},
    }
    /// torchvision.models.resnext50_32x4d (Xie et al. 2017): 32 groups of 4
    /// channels in the first stage's 3x3 convolutions.
    pub struct ResNeXt50 {
        input: [224, 224, 3],
        layers: cnn::models::ResNeXt50 {},
    }
}

network! {
    /// MobileNet v1's depthwise separable convolution (Howard et al. 2017,
    /// Figure 3): a 3x3 depthwise convolution (one filter per channel) and a
    /// 1x1 pointwise one, each with batch norm and ReLU6, as Keras builds it
    /// (no biases; a stride-2 block pads one row and column at the bottom
    /// and right, which is `same`).
    block DepthwiseSeparable(filters, stride: 1) = [
        dw: DepthwiseConv2d { kernel: 3, stride: stride, padding: same, bias: false },
        dw_bn: BatchNorm,
        Relu6,
        pw: Conv2d { filters: filters, kernel: 1, bias: false },
        pw_bn: BatchNorm,
        Relu6,
    ];

    /// MobileNet v1 (alpha 1, 224x224) as keras.applications.MobileNet builds
    /// it, ReLU6 included; its classifier, a 1x1 convolution on the pooled
    /// 1x1x1024, is a dense layer here.
    pub struct MobileNet {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 32, kernel: 3, stride: 2, padding: same, bias: false },
            conv1_bn: BatchNorm,
            Relu6,
            block1: DepthwiseSeparable { filters: 64 },
            block2: DepthwiseSeparable { filters: 128, stride: 2 },
            block3: DepthwiseSeparable { filters: 128 },
            block4: DepthwiseSeparable { filters: 256, stride: 2 },
            block5: DepthwiseSeparable { filters: 256 },
            block6: DepthwiseSeparable { filters: 512, stride: 2 },
            blocks7_11: Stage { block: DepthwiseSeparable { filters: 512 }, repeat: 5 },
            block12: DepthwiseSeparable { filters: 1024, stride: 2 },
            block13: DepthwiseSeparable { filters: 1024 },
            GlobalAvgPool,
            Dropout { rate: 0.001 },
            conv_preds: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// An Inception module (Szegedy et al. 2014, Figure 2b): 1x1, 1x1 then
    /// 3x3, 1x1 then 5x5, and 3x3 max pooling then 1x1, concatenated.
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

    /// GoogLeNet's auxiliary classifier (section 5): 5x5 average pooling with
    /// stride 3, a 1x1 convolution to 128, dense 1024 with 70% dropout, and
    /// a softmax whose loss counts 0.3.
    block AuxClassifier() = [
        AuxHead {
            weight: 0.3,
            layers: [
                AvgPool2d { size: 5, stride: 3 },
                conv: Conv2d { filters: 128, kernel: 1 },
                Relu,
                Flatten,
                fc1: Dense { units: 1024 },
                Relu,
                Dropout { rate: 0.7 },
                fc2: Dense { units: 1000 },
                Softmax,
            ],
        },
    ];

    /// GoogLeNet (Inception v1, Szegedy et al. 2014, Table 1) with its two
    /// auxiliary classifiers after inception 4a and 4d. Local response
    /// normalisation is left out, as most reimplementations do.
    pub struct GoogLeNet {
        input: [224, 224, 3],
        layers: [
            conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: same },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: same },
            conv2_reduce: Conv2d { filters: 64, kernel: 1 },
            Relu,
            conv2: Conv2d { filters: 192, kernel: 3, padding: same },
            Relu,
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception3a: Inception { c1: 64, c3_reduce: 96, c3: 128, c5_reduce: 16, c5: 32, pool_proj: 32 },
            inception3b: Inception { c1: 128, c3_reduce: 128, c3: 192, c5_reduce: 32, c5: 96, pool_proj: 64 },
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception4a: Inception { c1: 192, c3_reduce: 96, c3: 208, c5_reduce: 16, c5: 48, pool_proj: 64 },
            aux1: AuxClassifier,
            inception4b: Inception { c1: 160, c3_reduce: 112, c3: 224, c5_reduce: 24, c5: 64, pool_proj: 64 },
            inception4c: Inception { c1: 128, c3_reduce: 128, c3: 256, c5_reduce: 24, c5: 64, pool_proj: 64 },
            inception4d: Inception { c1: 112, c3_reduce: 144, c3: 288, c5_reduce: 32, c5: 64, pool_proj: 64 },
            aux2: AuxClassifier,
            inception4e: Inception { c1: 256, c3_reduce: 160, c3: 320, c5_reduce: 32, c5: 128, pool_proj: 128 },
            MaxPool2d { size: 3, stride: 2, padding: same },
            inception5a: Inception { c1: 256, c3_reduce: 160, c3: 320, c5_reduce: 32, c5: 128, pool_proj: 128 },
            inception5b: Inception { c1: 384, c3_reduce: 192, c3: 384, c5_reduce: 48, c5: 128, pool_proj: 128 },
            GlobalAvgPool,
            Dropout { rate: 0.4 },
            fc: Dense { units: 1000 },
            Softmax,
        ],
    }
}

network! {
    /// ResNet-20 for CIFAR-10 (He et al. 2015, section 4.2).
    pub struct ResNet20 { input: [32, 32, 3], layers: CifarResNet { n: 3 } }
    /// ResNet-56.
    pub struct ResNet56 { input: [32, 32, 3], layers: CifarResNet { n: 9 } }
    /// ResNet-110.
    pub struct ResNet110 { input: [32, 32, 3], layers: CifarResNet { n: 18 } }
}

// ---------------------------------------------------------------------------
// Compile-time checks against published figures. Keras counts batch norm's
// moving mean and variance as non-trainable parameters (`PARAMS`), PyTorch
// keeps them as buffers outside `parameters()`: a torchvision figure is
// compared with `TRAINABLE_PARAMS`, a Keras figure with both.
// ---------------------------------------------------------------------------

// LeNet-5 as in docs/design.md (ReLU, max pooling, a 120-84-10 head): 61,706.
// LeCun et al. (1998) count about 60,000 trainable parameters for theirs.
const _: () = assert!(LeNet5::PARAMS == 61_706);

// AlexNet as published (Krizhevsky et al. 2012, two towers): 60,965,224,
// the figure of the two-tower reimplementations; "60 million" in the
// paper. conv2, conv4 and conv5 each see half the channels: 5*5*48*256,
// 3*3*192*384 and 3*3*192*256 weights. One tower would hold 62,378,344.
const _: () = assert!(AlexNet::PARAMS == 60_965_224);

// VGG-16: keras.applications.VGG16 summary (include_top=True), 138,357,544;
// Simonyan and Zisserman (2014), Table 2: 138 million.
const _: () = assert!(Vgg16::PARAMS == 138_357_544);
// 15.47 GMACs: torchvision's model table (its "GFLOPS" column counts
// multiply-adds) gives 15.47 for vgg16; the usual rounding is 15.5G.
const _: () = assert!(Vgg16::MACS > 15_465_000_000 && Vgg16::MACS < 15_475_000_000);

// torchvision's ResNets, `sum(p.numel() for p in model.parameters())`
// (torchvision's model table): 11,689,512 / 21,797,672 / 25,557,032 /
// 44,549,160 / 60,192,808, and resnext50_32x4d 25,028,904. Those exclude
// batch norm's running statistics (buffers), so they are our
// TRAINABLE_PARAMS; PARAMS adds two per batch-norm channel.
const _: () = assert!(ResNet18::TRAINABLE_PARAMS == 11_689_512);
const _: () = assert!(ResNet18::PARAMS == 11_689_512 + 2 * 4_800);
const _: () = assert!(ResNet34::TRAINABLE_PARAMS == 21_797_672);
const _: () = assert!(ResNet34::PARAMS == 21_797_672 + 2 * 8_512);
const _: () = assert!(ResNet50::TRAINABLE_PARAMS == 25_557_032);
const _: () = assert!(ResNet101::TRAINABLE_PARAMS == 44_549_160);
const _: () = assert!(ResNet152::TRAINABLE_PARAMS == 60_192_808);
const _: () = assert!(ResNeXt50::TRAINABLE_PARAMS == 25_028_904);
// torchvision's table: 4.09 GFLOPS (multiply-adds) for resnet50 v1.5,
// 7.80 for resnet101, 11.51 for resnet152, 4.23 for resnext50_32x4d.
const _: () = assert!(ResNet50::MACS > 4_080_000_000 && ResNet50::MACS < 4_140_000_000);
const _: () = assert!(ResNet152::MACS > 11_450_000_000 && ResNet152::MACS < 11_600_000_000);
const _: () = assert!(ResNeXt50::MACS > 4_200_000_000 && ResNeXt50::MACS < 4_300_000_000);

// ResNet-50: keras.applications.ResNet50 summary (include_top=True):
// "Total params: 25,636,712, Trainable params: 25,583,592,
// Non-trainable params: 53,120" (the moving statistics of 26,560 channels).
const _: () = assert!(KerasResNet50::PARAMS == 25_636_712);
const _: () = assert!(KerasResNet50::TRAINABLE_PARAMS == 25_583_592);
// He et al. (2015), Table 1: 3.8 x 10^9 FLOPs (multiply-adds) for the
// 50-layer net (the stride on the 1x1 convolution, as here).
const _: () = assert!(KerasResNet50::MACS > 3_800_000_000 && KerasResNet50::MACS < 3_950_000_000);

// MobileNet v1: keras.applications.MobileNet summary (alpha 1, 224x224,
// include_top=True): "Total params: 4,253,864, Trainable params:
// 4,231,976, Non-trainable params: 21,888". Howard et al. (2017), Table 8:
// 569 million multiply-adds, 4.2 million parameters.
const _: () = assert!(MobileNet::PARAMS == 4_253_864);
const _: () = assert!(MobileNet::TRAINABLE_PARAMS == 4_231_976);
const _: () = assert!(MobileNet::MACS > 565_000_000 && MobileNet::MACS < 575_000_000);

// GoogLeNet: Szegedy et al. (2014), Table 1, sums to about 6.8 million
// parameters without the auxiliary classifiers. Our trunk (biases
// included, no local response normalisation) holds 6,998,552; the paper's
// table gives conv1 2.7K where its 7x7x3x64 weights are 9.4K, and rounds
// every row. The two auxiliary heads add 6,379,728 (3,188,840 + 3,190,888:
// 1x1 conv to 128, dense 2048 -> 1024 and 1024 -> 1000), counted in PARAMS
// because they train; PREDICT_PARAMS leaves them out.
const GOOGLENET_AUX_PARAMS: usize = params_under(GoogLeNet::TENSORS, "aux");
const _: () = assert!(GOOGLENET_AUX_PARAMS == 3_188_840 + 3_190_888);
const GOOGLENET_TRUNK_PARAMS: usize = GoogLeNet::PARAMS - GOOGLENET_AUX_PARAMS;
const _: () = assert!(GoogLeNet::PREDICT_PARAMS == GOOGLENET_TRUNK_PARAMS);
const _: () = assert!(GOOGLENET_TRUNK_PARAMS == 6_998_552);
// Multiply-adds of inference: the heads' (4x4x128 1x1 convolutions on
// 512 and 528 channels, dense 2048 -> 1024 -> 1000) are left out.
const GOOGLENET_AUX_MACS: u64 = 4 * 4 * 128 * (512 + 528) + 2 * (2048 * 1024 + 1024 * 1000);
const _: () = assert!(GoogLeNet::MACS - GOOGLENET_AUX_MACS == 1_582_671_872);
const _: () = assert!(GoogLeNet::PREDICT_MACS == 1_582_671_872);

// ResNet-20, -56 and -110: He et al. (2015), Table 6, 0.27M, 0.85M and
// 1.7M. Theirs use zero-padding (parameter-free) shortcuts where the shape
// changes (option A); ours use projections (option B), which add
// 16x32 + 32x64 = 2,560 weights and 2 x 96 batch-norm parameters.
const _: () = assert!(ResNet20::TRAINABLE_PARAMS > 265_000 && ResNet20::TRAINABLE_PARAMS < 275_000);
const _: () = assert!(ResNet56::TRAINABLE_PARAMS > 845_000 && ResNet56::TRAINABLE_PARAMS < 860_000);
const _: () =
    assert!(ResNet110::TRAINABLE_PARAMS > 1_700_000 && ResNet110::TRAINABLE_PARAMS < 1_750_000);

/// Parameters of the tensors whose layer name starts with `prefix` (the
/// layers of a block named `prefix...`), summed at compile time.
const fn params_under(tensors: &[TensorInfo], prefix: &str) -> usize {
    let p = prefix.as_bytes();
    let mut total = 0;
    let mut i = 0;
    while i < tensors.len() {
        let name = tensors[i].layer.as_bytes();
        let mut matches = name.len() >= p.len();
        let mut k = 0;
        while matches && k < p.len() {
            matches = name[k] == p[k];
            k += 1;
        }
        if matches {
            total += tensors[i].len;
        }
        i += 1;
    }
    total
}

/// One row of the comparison: our compile-time counts beside a published
/// figure and where it comes from.
struct Row {
    name: &'static str,
    params: usize,
    trainable: usize,
    /// Our multiply-adds of the network as published (without auxiliary heads).
    macs: u64,
    published_params: &'static str,
    published_macs: &'static str,
    source: &'static str,
}

/// Multiply-adds of the auxiliary heads (top-level `AuxHead` rows), which
/// the published counts leave out: they are skipped at inference.
fn aux_macs(s: &Summary) -> u64 {
    s.rows
        .iter()
        .filter(|r| r.kind == "AuxHead")
        .map(|r| r.macs)
        .sum()
}

/// A row for a network whose counts are its constants.
macro_rules! row {
    ($net:ty, $name:expr, $params:expr, $macs:expr, $source:expr) => {
        Row {
            name: $name,
            params: <$net>::PARAMS,
            trainable: <$net>::TRAINABLE_PARAMS,
            macs: <$net>::PREDICT_MACS,
            published_params: $params,
            published_macs: $macs,
            source: $source,
        }
    };
}

fn rows() -> Vec<Row> {
    vec![
        row!(
            LeNet5,
            "LeNet-5",
            "~60K",
            "-",
            "LeCun et al. 1998 (tanh, subsampling, partial C3)"
        ),
        row!(
            AlexNet,
            "AlexNet",
            "60,965,224",
            "~0.72G",
            "Krizhevsky et al. 2012 (two towers: grouped conv2/4/5)"
        ),
        row!(
            Vgg16,
            "VGG-16",
            "138,357,544",
            "15.47G",
            "keras.applications.VGG16; torchvision model table"
        ),
        row!(
            ResNet18,
            "ResNet-18",
            "11,689,512 trainable",
            "1.8G",
            "torchvision resnet18; He et al. 2015 Table 1"
        ),
        row!(
            ResNet34,
            "ResNet-34",
            "21,797,672 trainable",
            "3.6G",
            "torchvision resnet34; He et al. 2015 Table 1"
        ),
        row!(
            ResNet50,
            "ResNet-50",
            "25,557,032 trainable",
            "4.09G",
            "torchvision resnet50 (v1.5: stride on the 3x3)"
        ),
        row!(
            ResNet101,
            "ResNet-101",
            "44,549,160 trainable",
            "7.80G",
            "torchvision resnet101"
        ),
        row!(
            ResNet152,
            "ResNet-152",
            "60,192,808 trainable",
            "11.51G",
            "torchvision resnet152"
        ),
        row!(
            ResNeXt50,
            "ResNeXt-50 32x4d",
            "25,028,904 trainable",
            "4.23G",
            "torchvision resnext50_32x4d"
        ),
        row!(
            MobileNet,
            "MobileNet v1",
            "4,253,864",
            "569M",
            "keras.applications.MobileNet; Howard et al. 2017 Table 8"
        ),
        row!(
            KerasResNet50,
            "ResNet-50 (Keras)",
            "25,636,712",
            "3.8G",
            "keras.applications.ResNet50; He et al. 2015 Table 1"
        ),
        Row {
            name: "GoogLeNet (no aux)",
            params: GOOGLENET_TRUNK_PARAMS,
            trainable: GOOGLENET_TRUNK_PARAMS,
            macs: GoogLeNet::MACS - GOOGLENET_AUX_MACS,
            published_params: "~6.8M",
            published_macs: "~1.5G",
            source: "Szegedy et al. 2014 Table 1, section 5 (conv1 row: 34M, ours 118M)",
        },
        row!(
            ResNet20,
            "ResNet-20 (CIFAR)",
            "0.27M",
            "-",
            "He et al. 2015 Table 6 (option A shortcuts)"
        ),
        row!(
            ResNet56,
            "ResNet-56 (CIFAR)",
            "0.85M",
            "-",
            "He et al. 2015 Table 6 (option A shortcuts)"
        ),
        row!(
            ResNet110,
            "ResNet-110 (CIFAR)",
            "1.7M",
            "-",
            "He et al. 2015 Table 6 (option A shortcuts)"
        ),
    ]
}

/// `15_470_264_320` -> `15.47G`.
fn giga(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.2}G", n as f64 / 1e9)
    } else {
        format!("{:.1}M", n as f64 / 1e6)
    }
}

fn print_table() {
    println!("Compile-time counts against the published figures");
    println!(
        "{:<19} {:>12} {:>12} {:>21} {:>9} {:>18}  source",
        "network", "params", "trainable", "published params", "MACs", "published MACs"
    );
    for r in rows() {
        println!(
            "{:<19} {:>12} {:>12} {:>21} {:>9} {:>18}  {}",
            r.name,
            thousands(r.params as u64),
            thousands(r.trainable as u64),
            r.published_params,
            giga(r.macs),
            r.published_macs,
            r.source
        );
    }
    let aux = aux_macs(&GoogLeNet::summary());
    assert_eq!(aux, GOOGLENET_AUX_MACS, "the summary's AuxHead rows");
    println!(
        "GoogLeNet with its auxiliary heads: {} parameters ({} in the heads), {} multiply-adds ({} in the heads, skipped by predict)",
        thousands(GoogLeNet::PARAMS as u64),
        thousands(GOOGLENET_AUX_PARAMS as u64),
        thousands(GoogLeNet::MACS),
        thousands(aux)
    );
    println!(
        "ResNet-20: {} trainable parameters (He et al.: 0.27M); ResNet-56: {} (0.85M)",
        thousands(ResNet20::TRAINABLE_PARAMS as u64),
        thousands(ResNet56::TRAINABLE_PARAMS as u64)
    );
}

/// One timed call; returns seconds.
fn timed<T>(f: impl FnOnce() -> Result<T, cnn::Error>) -> Result<f64, cnn::Error> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// A training step and a `predict` on `batch` random images, each run
/// twice: the first call sizes the workspace, the second is the one timed.
/// `predict_macs`: the multiply-adds `predict` does per image.
macro_rules! time_net {
    ($net:ty, $label:expr, $batch:expr, $predict_macs:expr) => {{
        let batch: usize = $batch;
        let mut rng = Rng::new(7);
        let [h, w, c] = <$net>::INPUT_SHAPE;
        let x = Array4::from_shape_simple_fn((batch, h, w, c), || rng.normal());
        let y: Vec<usize> = (0..batch).map(|_| rng.below(<$net>::OUTPUT_SIZE)).collect();
        let t = Instant::now();
        let mut net = <$net>::new(1);
        let init = t.elapsed().as_secs_f64();
        let mut opt = Sgd::new(0.01).momentum(0.9);
        let first_step = timed(|| net.train_step(x.view(), &y, &mut opt))?;
        let step = timed(|| net.train_step(x.view(), &y, &mut opt))?;
        let first_predict = timed(|| net.predict(x.view()))?;
        let predict = timed(|| net.predict(x.view()))?;
        let per = |s: f64| 1e3 * s / batch as f64;
        println!(
            "{:<10} batch {batch}: train_step {:>7.1} ms/image (first call {:.1}), predict {:>6.1} ms/image (first call {:.1}); {:.2} GMAC/s forward in predict; init {:.2} s",
            $label,
            per(step),
            per(first_step),
            per(predict),
            per(first_predict),
            ($predict_macs as f64 * batch as f64) / predict / 1e9,
            init,
        );
    }};
}

/// The command line.
#[derive(clap::Parser)]
#[command(
    name = "classic_nets",
    about = "The classic networks' summaries and sizes, checked against the papers and torchvision"
)]
struct Args {
    /// Also time one training step and one predict of ResNet-50, ResNet-152 and GoogLeNet
    #[arg(long)]
    run: bool,
    /// Print the table only, not each network's summary
    #[arg(long)]
    quiet: bool,
    /// The batch of --run
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = cli::positive)]
    batch: usize,
    /// Kernel threads [default: all cores]
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    threads: Option<usize>,
}

fn main() {
    let Args {
        run,
        quiet,
        batch,
        threads,
    } = <Args as clap::Parser>::parse();
    if let Some(t) = threads {
        cnn::parallel::set_threads(t);
    }
    if !quiet {
        for s in [
            LeNet5::summary(),
            AlexNet::summary(),
            Vgg16::summary(),
            ResNet18::summary(),
            ResNet34::summary(),
            ResNet50::summary(),
            ResNet101::summary(),
            ResNet152::summary(),
            ResNeXt50::summary(),
            KerasResNet50::summary(),
            MobileNet::summary(),
            GoogLeNet::summary(),
            ResNet20::summary(),
            ResNet56::summary(),
            ResNet110::summary(),
        ] {
            println!("{s}\n");
        }
    }
    print_table();
    if run {
        println!(
            "\nOne SGD training step and one predict on random 224x224x3 images ({} threads)",
            cnn::parallel::threads()
        );
        let timing = || -> Result<(), cnn::Error> {
            time_net!(KerasResNet50, "ResNet-50", batch, KerasResNet50::MACS);
            time_net!(ResNet152, "ResNet-152", batch, ResNet152::MACS);
            // predict skips the auxiliary heads.
            time_net!(GoogLeNet, "GoogLeNet", batch, GoogLeNet::PREDICT_MACS);
            Ok(())
        };
        if let Err(e) = timing() {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
