//! The exact text of `LeNet5::summary()`: what a user sees first.

use crate::common::LeNet5;

// Counts: see tests/consts.rs. Activation memory: the outputs of every
// layer but Flatten, 14,612 floats = 58,448 bytes. Receptive fields by
// hand: conv1 5; a 2x2 pool adds 1 (6, jump 2); conv2 6 + 4 * 2 = 14; the
// second pool 14 + 2 = 16 (jump 4); the flat layers see all 32x32.
const LENET5: &str = "\
Model: LeNet5 (input 32x32x1)
==============================================================================
Layer (type)              Output shape  Receptive field  Params  Multiply-adds
------------------------------------------------------------------------------
conv1 (Conv2d)            28x28x6       5x5                 156        117,600
relu_1 (Relu)             28x28x6       5x5                   0              0
max_pool2d_1 (MaxPool2d)  14x14x6       6x6                   0              0
conv2 (Conv2d)            10x10x16      14x14             2,416        240,000
relu_2 (Relu)             10x10x16      14x14                 0              0
max_pool2d_2 (MaxPool2d)  5x5x16        16x16                 0              0
flatten_1 (Flatten)       400           32x32                 0              0
fc3 (Dense)               120           32x32            48,120         48,000
relu_3 (Relu)             120           32x32                 0              0
fc4 (Dense)               84            32x32            10,164         10,080
relu_4 (Relu)             84            32x32                 0              0
fc5 (Dense)               10            32x32               850            840
softmax_1 (Softmax)       10            32x32                 0              0
==============================================================================
Total params: 61,706
Trainable params: 61,706
Non-trainable params: 0
Multiply-adds per example: 416,520
Activation memory per example: 57.1 KiB (58,448 bytes)";

#[test]
fn lenet5_summary_text() {
    let text = LeNet5::summary().to_string();
    assert_eq!(text, LENET5, "\n{text}");
}

#[test]
fn summary_rows_carry_the_numbers() {
    let s = LeNet5::summary();
    assert_eq!(s.rows.len(), 13);
    assert_eq!(s.params, LeNet5::PARAMS);
    assert_eq!(s.macs, LeNet5::MACS);
    assert_eq!(s.rows[3].name, "conv2");
    assert_eq!(s.rows[3].output, "10x10x16");
    assert_eq!(
        4 * (4704 * 2 + 1176 + 1600 * 2 + 400 + 120 * 2 + 84 * 2 + 10 * 2),
        58_448
    );
}
