//! The constants the macro computes at compile time, for networks whose
//! counts are known from elsewhere.

use crate::common::LeNet5;
use cnn::network;

// LeNet-5 with 32x32x1 input (docs/design.md): 156 + 2,416 + 48,120 + 10,164 +
// 850 = 61,706 parameters. Multiply-adds by the course's count:
// conv1 28*28*6*25 = 117,600; conv2 10*10*16*150 = 240,000;
// fc3 400*120 = 48,000; fc4 120*84 = 10,080; fc5 84*10 = 840.
const _: () = assert!(LeNet5::PARAMS == 61_706);
const _: () = assert!(LeNet5::MACS == 117_600 + 240_000 + 48_000 + 10_080 + 840);

network! {
    /// conv -> batch norm: 3*3*3*8 + 8 = 224 conv parameters, and 4 per
    /// channel in batch norm (gamma, beta trainable; moving mean and
    /// variance not), as Keras counts them.
    struct WithBatchNorm {
        input: [6, 6, 3],
        layers: [
            conv: Conv2d { filters: 8, kernel: 3 },
            bn: BatchNorm,
            Relu,
            GlobalAvgPool,
            out: Dense { units: 4 },
            Softmax,
        ],
    }
}

network! {
    struct Flat {
        input: [20],
        layers: [Dense { units: 7 }, Tanh, Dense { units: 3, bias: false }],
    }
}

#[test]
fn lenet5_constants() {
    assert_eq!(LeNet5::INPUT_SHAPE, [32, 32, 1]);
    assert_eq!(LeNet5::OUTPUT_SIZE, 10);
    assert_eq!(LeNet5::PARAMS, 61_706);
    assert_eq!(LeNet5::TRAINABLE_PARAMS, 61_706);
    assert_eq!(LeNet5::MACS, 416_520);
    let net = LeNet5::new(0);
    assert_eq!(net.params().len(), LeNet5::PARAMS);
}

#[test]
fn batch_norm_statistics_are_not_trainable() {
    assert_eq!(WithBatchNorm::PARAMS, 224 + 32 + 8 * 4 + 4);
    assert_eq!(WithBatchNorm::TRAINABLE_PARAMS, 224 + 16 + 8 * 4 + 4);
    // Trainable tensors first, the moving statistics at the end.
    let names: Vec<&str> = WithBatchNorm::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "conv.weight",
            "conv.bias",
            "bn.gamma",
            "bn.beta",
            "out.weight",
            "out.bias",
            "bn.moving_mean",
            "bn.moving_variance"
        ]
    );
    let first_frozen = &WithBatchNorm::TENSORS[6];
    assert!(!first_frozen.trainable);
    assert_eq!(first_frozen.offset, WithBatchNorm::TRAINABLE_PARAMS);
}

#[test]
fn tensor_table_covers_the_arena() {
    let mut at = 0;
    for t in LeNet5::TENSORS {
        assert_eq!(t.offset, at, "{}", t.name);
        assert_eq!(t.len, t.shape.iter().product::<usize>());
        at += t.len;
    }
    assert_eq!(at, LeNet5::PARAMS);
    let conv2 = LeNet5::TENSORS
        .iter()
        .find(|t| t.name == "conv2.weight")
        .unwrap();
    assert_eq!(conv2.shape, [5, 5, 6, 16]);
    let fc3 = LeNet5::TENSORS
        .iter()
        .find(|t| t.name == "fc3.weight")
        .unwrap();
    assert_eq!(fc3.shape, [400, 120]);
}

#[test]
fn flat_input_and_no_bias() {
    assert_eq!(Flat::INPUT_SHAPE, [20]);
    assert_eq!(Flat::OUTPUT_SIZE, 3);
    assert_eq!(Flat::PARAMS, 20 * 7 + 7 + 7 * 3);
    assert_eq!(Flat::MACS, 20 * 7 + 7 * 3);
}

#[test]
fn same_seed_same_weights() {
    assert_eq!(LeNet5::new(3).params(), LeNet5::new(3).params());
    assert_ne!(LeNet5::new(3).params(), LeNet5::new(4).params());
    let net = WithBatchNorm::new(1);
    assert!(net.tensor("bn.gamma").unwrap().iter().all(|&g| g == 1.0));
    assert!(net
        .tensor("bn.moving_variance")
        .unwrap()
        .iter()
        .all(|&v| v == 1.0));
    assert!(net.tensor("conv.bias").unwrap().iter().all(|&b| b == 0.0));
}

#[test]
fn he_before_relu_glorot_elsewhere() {
    // conv1 (5x5x1, then Relu): He normal, std sqrt(2/25) ~ 0.283.
    // fc5 (84 -> 10, then Softmax): Glorot uniform, |w| < sqrt(6/94) ~ 0.253.
    let net = LeNet5::new(11);
    let fc5 = net.tensor("fc5.weight").unwrap();
    assert!(fc5.iter().all(|w| w.abs() < (6.0f32 / 94.0).sqrt()));
    let fc3 = net.tensor("fc3.weight").unwrap();
    let var = fc3.iter().map(|w| w * w).sum::<f32>() / fc3.len() as f32;
    assert!(
        (var - 2.0 / 400.0).abs() < 0.1 * 2.0 / 400.0,
        "variance {var}"
    );
}

#[test]
fn network_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<LeNet5>();
    check::<WithBatchNorm>();
}
