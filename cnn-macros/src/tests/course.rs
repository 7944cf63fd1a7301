//! The course's worked examples and the published parameter counts of
//! known networks, as facts the front end must reproduce.

use super::{find, good, image, net_src};
use crate::ir::Shape;

/// LeNet-5 as written in docs/design.md.
pub(crate) const LENET5: &str = "
    /// LeNet-5 (LeCun et al., 1998) with ReLU and max pooling.
    pub struct LeNet5 {
        input: [32, 32, 1],
        layers: [
            conv1: Conv2d { filters: 6, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            conv2: Conv2d { filters: 16, kernel: 5 },
            Relu,
            MaxPool2d { size: 2, stride: 2 },
            Flatten,
            fc3: Dense { units: 120 },
            Relu,
            fc4: Dense { units: 84 },
            Relu,
            fc5: Dense { units: 10 },
            Softmax,
        ],
    }";

#[test]
fn course_39x39x3_example() {
    // Course notes, "Example ConvNet": 39x39x3 -> f3 s1 10 filters ->
    // 37x37x10 -> f5 s2 20 -> 17x17x20 -> f5 s2 40 -> 7x7x40 -> 1960.
    let net = good(&net_src(
        "[39, 39, 3]",
        "c1: Conv2d { filters: 10, kernel: 3 }, c2: Conv2d { filters: 20, kernel: 5, stride: 2 },
         c3: Conv2d { filters: 40, kernel: 5, stride: 2 }, f: Flatten",
    ));
    assert_eq!(find(&net, "c1").output, image(37, 37, 10));
    assert_eq!(find(&net, "c2").output, image(17, 17, 20));
    assert_eq!(find(&net, "c3").output, image(7, 7, 40));
    assert_eq!(find(&net, "f").output, Some(Shape::Flat { n: 1960 }));
}

#[test]
fn course_ten_3x3_filters_on_6x6x3_hold_280_params() {
    // Course notes: 10 filters of 3x3x3 plus a bias each: 10 * 28 = 280.
    let net = good(&net_src("[6, 6, 3]", "Conv2d { filters: 10, kernel: 3 }"));
    assert_eq!(net.params, 280);
    assert_eq!(net.layers[0].output, image(4, 4, 10));
}

#[test]
fn lenet5_holds_61706_params() {
    // docs/design.md: 156 + 2416 + 48120 + 10164 + 850 = 61,706.
    let net = good(LENET5);
    assert_eq!(net.params, 61_706);
    assert_eq!(net.trainable, 61_706);
    assert_eq!(find(&net, "conv2").output, image(10, 10, 16));
    assert_eq!(find(&net, "flatten_1").output, Some(Shape::Flat { n: 400 }));
    assert_eq!(
        net.layers.last().unwrap().output,
        Some(Shape::Flat { n: 10 })
    );
    // 28*28*6*25 + 10*10*16*150 + 400*120 + 120*84 + 84*10.
    assert_eq!(net.macs, 117_600 + 240_000 + 48_000 + 10_080 + 840);
}

#[test]
fn inception_5x5_cost_and_its_bottleneck() {
    // Course notes, "Inception network motivation": 28x28x192 -> 5x5 same
    // -> 28x28x32 costs 120,422,400 multiplications.
    let net = good(&net_src(
        "[28, 28, 192]",
        "Conv2d { filters: 32, kernel: 5, padding: same }",
    ));
    assert_eq!(net.macs, 120_422_400);
    // With a 1x1 bottleneck to 16 channels first: 2,408,448 + 10,035,200.
    let net = good(&net_src(
        "[28, 28, 192]",
        "Conv2d { filters: 16, kernel: 1 }, Conv2d { filters: 32, kernel: 5, padding: same }",
    ));
    assert_eq!(net.layers[0].macs, 2_408_448);
    assert_eq!(net.layers[1].macs, 10_035_200);
    assert_eq!(net.layers[1].output, image(28, 28, 32));
    assert_eq!(net.layers[1].pad_before, [2, 2]);
}

/// VGG-16 (Simonyan and Zisserman, 2014), configuration D.
pub(crate) fn vgg16() -> String {
    let mut layers = String::new();
    for (stage, (filters, convs)) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
        .into_iter()
        .enumerate()
    {
        for i in 1..=convs {
            layers += &format!(
                "block{}_conv{i}: Conv2d {{ filters: {filters}, kernel: 3, padding: same }}, Relu,\n",
                stage + 1
            );
        }
        layers += "MaxPool2d { size: 2 },\n";
    }
    layers += "Flatten, fc1: Dense { units: 4096 }, Relu, fc2: Dense { units: 4096 }, Relu,
               predictions: Dense { units: 1000 }, Softmax";
    net_src("[224, 224, 3]", &layers)
}

#[test]
fn vgg16_holds_138357544_params() {
    // Keras `VGG16().count_params()` = 138,357,544.
    let net = good(&vgg16());
    assert_eq!(net.params, 138_357_544);
    assert_eq!(
        find(&net, "flatten_1").output,
        Some(Shape::Flat { n: 25_088 })
    );
    // Well known: about 15.5 G multiply-adds per 224x224 image.
    assert_eq!(net.macs, 15_470_264_320);
}

/// ResNet-50 as Keras builds it (`keras.applications.ResNet50`): convs
/// with biases, the stride on the first 1x1 conv of each stage's first
/// block, projection shortcuts with batch norm.
pub(crate) fn resnet50() -> String {
    let mut layers = String::from(
        "conv1: Conv2d { filters: 64, kernel: 7, stride: 2, padding: 3 }, bn_conv1: BatchNorm, Relu,
         MaxPool2d { size: 3, stride: 2, padding: 1 },\n",
    );
    let stages = [
        (2, 64, 3, 1),
        (3, 128, 4, 2),
        (4, 256, 6, 2),
        (5, 512, 3, 2),
    ];
    for (stage, f, blocks, stride) in stages {
        for b in 0..blocks {
            let s = if b == 0 { stride } else { 1 };
            let name = format!("res{stage}{}", (b'a' + b as u8) as char);
            let body = format!(
                "Conv2d {{ filters: {f}, kernel: 1, stride: {s} }}, BatchNorm, Relu,
                 Conv2d {{ filters: {f}, kernel: 3, padding: same }}, BatchNorm, Relu,
                 Conv2d {{ filters: {}, kernel: 1 }}, BatchNorm",
                4 * f
            );
            let shortcut = if b == 0 {
                format!(
                    ", shortcut: [Conv2d {{ filters: {}, kernel: 1, stride: {s} }}, BatchNorm]",
                    4 * f
                )
            } else {
                String::new()
            };
            layers += &format!("{name}: Residual {{ body: [{body}]{shortcut} }}, Relu,\n");
        }
    }
    layers += "GlobalAvgPool, fc1000: Dense { units: 1000 }, Softmax";
    net_src("[224, 224, 3]", &layers)
}

#[test]
fn resnet50_holds_25636712_params() {
    // Keras `ResNet50().summary()`: Total params: 25,636,712; Trainable
    // params: 25,583,592; Non-trainable params: 53,120.
    let net = good(&resnet50());
    assert_eq!(net.params, 25_636_712);
    assert_eq!(net.trainable, 25_583_592);
    assert_eq!(find(&net, "res2a").output, image(56, 56, 256));
    assert_eq!(find(&net, "res3a.conv2d_1").output, image(28, 28, 128));
    assert_eq!(find(&net, "res5c").output, image(7, 7, 2048));
    // A block's counts are the sums of its layers'.
    let block = find(&net, "res2a");
    let inner: usize = block
        .children()
        .iter()
        .flat_map(|l| l.iter())
        .map(|l| l.params)
        .sum();
    assert_eq!(block.params, inner);
}

#[test]
fn front_end_time_for_vgg16_and_resnet50() {
    // Not an assertion (no timing asserts): printed for the issue note,
    // `cargo test -p cnn-macros front_end_time -- --nocapture`.
    for (name, src) in [("VGG-16", vgg16()), ("ResNet-50", resnet50())] {
        let tokens: proc_macro2::TokenStream = src.parse().unwrap();
        let start = std::time::Instant::now();
        let runs = 20;
        for _ in 0..runs {
            let front = crate::front(tokens.clone()).unwrap();
            assert!(front.diags.is_empty());
        }
        eprintln!(
            "front end, {name}: {:?} per declaration",
            start.elapsed() / runs
        );
    }
}
