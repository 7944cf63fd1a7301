//! The convolution shapes the benchmarks time: every distinct convolution
//! of LeNet-5 (batch 64), ResNet-20 (batch 128) and the Keras ResNet-50
//! (batch 8), the batch sizes of the training workloads that
//! `examples/bench.rs` runs against PyTorch. `count` says how many layers
//! of one network have the shape, so that the times of a network's cases,
//! weighted by it, add up to the convolutions' share of a step.

use crate::geom::Padding::{self, Explicit, Same, Valid};

use super::ConvCase;

const fn case(
    layer: &'static str,
    input: [usize; 3],
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    batch: usize,
    dx: bool,
    count: usize,
) -> ConvCase {
    ConvCase {
        layer,
        input,
        c_out,
        kernel,
        stride,
        padding,
        batch,
        dx,
        count,
    }
}

/// Every distinct convolution of LeNet-5 (batch 64), ResNet-20 (batch 128)
/// and ResNet-50 (batch 8). A network's first layer has `dx: false`
/// (backward skips the input gradient).
// One row per shape reads better than rustfmt's nine lines per call.
#[rustfmt::skip]
pub const CONV_CASES: &[ConvCase] = &[
    //    layer                        input           c_out  f  s  padding  batch  dx   count
    // LeNet-5, batch 64.
    case("lenet5.conv1",               [32, 32, 1],       6, 5, 1, Valid,      64, false, 1),
    case("lenet5.conv2",               [14, 14, 6],      16, 5, 1, Valid,      64, true,  1),
    // ResNet-20, batch 128: the stem, the three 3x3 'same' stages, the
    // stride-2 transitions and their 1x1 stride-2 projections.
    case("resnet20.conv1",             [32, 32, 3],      16, 3, 1, Same,      128, false, 1),
    case("resnet20.stage1",            [32, 32, 16],     16, 3, 1, Same,      128, true,  6),
    case("resnet20.stage2",            [16, 16, 32],     32, 3, 1, Same,      128, true,  5),
    case("resnet20.stage3",            [8, 8, 64],       64, 3, 1, Same,      128, true,  5),
    case("resnet20.stage2_0.conv1",    [32, 32, 16],     32, 3, 2, Same,      128, true,  1),
    case("resnet20.stage3_0.conv1",    [16, 16, 32],     64, 3, 2, Same,      128, true,  1),
    case("resnet20.stage2_0.conv0",    [32, 32, 16],     32, 1, 2, Valid,     128, true,  1),
    case("resnet20.stage3_0.conv0",    [16, 16, 32],     64, 1, 2, Valid,     128, true,  1),
    // ResNet-50 (keras.applications.ResNet50's layout: the stride on the
    // first 1x1 of a stage's first block), batch 8. Names are the layers'
    // (`conv3.0.conv1`; `*` for every block of the stage, `1-2` for
    // blocks 1 and 2): the 7x7 stem, the 3x3 of each stage, then the 1x1s.
    case("resnet50.conv1",             [224, 224, 3],    64, 7, 2, Explicit(3), 8, false, 1),
    case("resnet50.conv2.*.conv2",     [56, 56, 64],     64, 3, 1, Same,        8, true,  3),
    case("resnet50.conv3.*.conv2",     [28, 28, 128],   128, 3, 1, Same,        8, true,  4),
    case("resnet50.conv4.*.conv2",     [14, 14, 256],   256, 3, 1, Same,        8, true,  6),
    case("resnet50.conv5.*.conv2",     [7, 7, 512],     512, 3, 1, Same,        8, true,  3),
    case("resnet50.conv2.0.conv1",     [56, 56, 64],     64, 1, 1, Valid,       8, true,  1),
    case("resnet50.conv2.*.conv3+0.conv0", [56, 56, 64], 256, 1, 1, Valid,      8, true,  4),
    case("resnet50.conv2.1-2.conv1",   [56, 56, 256],    64, 1, 1, Valid,       8, true,  2),
    case("resnet50.conv3.0.conv1",     [56, 56, 256],   128, 1, 2, Valid,       8, true,  1),
    case("resnet50.conv3.0.conv0",     [56, 56, 256],   512, 1, 2, Valid,       8, true,  1),
    case("resnet50.conv3.*.conv3",     [28, 28, 128],   512, 1, 1, Valid,       8, true,  4),
    case("resnet50.conv3.1-3.conv1",   [28, 28, 512],   128, 1, 1, Valid,       8, true,  3),
    case("resnet50.conv4.0.conv1",     [28, 28, 512],   256, 1, 2, Valid,       8, true,  1),
    case("resnet50.conv4.0.conv0",     [28, 28, 512],  1024, 1, 2, Valid,       8, true,  1),
    case("resnet50.conv4.*.conv3",     [14, 14, 256],  1024, 1, 1, Valid,       8, true,  6),
    case("resnet50.conv4.1-5.conv1",   [14, 14, 1024],  256, 1, 1, Valid,       8, true,  5),
    case("resnet50.conv5.0.conv1",     [14, 14, 1024],  512, 1, 2, Valid,       8, true,  1),
    case("resnet50.conv5.0.conv0",     [14, 14, 1024], 2048, 1, 2, Valid,       8, true,  1),
    case("resnet50.conv5.*.conv3",     [7, 7, 512],    2048, 1, 1, Valid,       8, true,  3),
    case("resnet50.conv5.1-2.conv1",   [7, 7, 2048],    512, 1, 1, Valid,       8, true,  2),
];

/// The network a case belongs to: the part of its layer name before the
/// first dot (`resnet50`).
pub fn network_of(case: &ConvCase) -> &'static str {
    case.layer.split('.').next().unwrap_or(case.layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multiply-adds of one image over a network's cases, each times its count.
    fn macs_per_image(network: &str) -> usize {
        CONV_CASES
            .iter()
            .filter(|c| network_of(c) == network)
            .map(|c| c.count * c.geom().macs())
            .sum()
    }

    #[test]
    fn the_cases_cover_every_convolution_of_each_network() {
        let layers = |network: &str| -> usize {
            CONV_CASES
                .iter()
                .filter(|c| network_of(c) == network)
                .map(|c| c.count)
                .sum()
        };
        // LeNet-5: 2. ResNet-20: 19 + 2 projections. ResNet-50: the stem,
        // 16 blocks of 3 and 4 projections.
        assert_eq!(layers("lenet5"), 2);
        assert_eq!(layers("resnet20"), 21);
        assert_eq!(layers("resnet50"), 1 + 16 * 3 + 4);
        // KerasResNet50::MACS (examples/classic_nets.rs, from the network!
        // macro's count) is 3,857,973,248 (its summary), of which the dense classifier
        // is 2048 x 1000; the rest is the convolutions.
        assert_eq!(macs_per_image("resnet50"), 3_857_973_248 - 2048 * 1000);
    }
}
