//! The lent blocks and network are checked and counted in the borrowing
//! crate as if declared there, with the lender's names.

use cnn_borrower::{Twice, Wider};

#[test]
fn a_block_from_another_crate_takes_its_arguments_and_names() {
    // unit1: 3x3x1x4 conv + 4 gamma/beta; unit2: 3x3x4x8 conv + 8 gamma/beta; head 8x3+3.
    let trainable = 9 * 4 + 2 * 4 + 9 * 4 * 8 + 2 * 8 + 8 * 3 + 3;
    assert_eq!(Wider::TRAINABLE_PARAMS, trainable);
    let names: Vec<&str> = Wider::TENSORS.iter().map(|t| t.name).collect();
    assert!(names.contains(&"trunk.unit1.conv.weight"), "{names:?}");
    assert!(names.contains(&"trunk.unit2.bn.gamma"), "{names:?}");
}

#[test]
fn a_network_from_another_crate_is_a_layer() {
    let small = cnn_lender::Small::TRAINABLE_PARAMS;
    assert_eq!(Twice::TRAINABLE_PARAMS, small + 10 * 2 + 2);
    let net = Twice::new(7);
    let x = cnn::ndarray::Array4::<f32>::zeros((2, 16, 16, 1));
    let p = net.predict(x.view()).unwrap();
    assert_eq!(p.dim(), (2, 2));
}

#[test]
fn a_zoo_model_is_one_line_with_torchvisions_names() {
    use cnn_borrower::Tiny18;
    // torchvision's resnet18 has 11,689,512 with a 1,000-way fc.
    assert_eq!(Tiny18::TRAINABLE_PARAMS, 11_689_512 - 990 * 512 - 990);
    let names: Vec<&str> = Tiny18::TENSORS.iter().map(|t| t.name).collect();
    for name in [
        "conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer4.1.bn2.gamma",
        "fc.bias",
    ] {
        assert!(names.contains(&name), "{name}");
    }
}
