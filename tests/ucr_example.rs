//! The core of `examples/ucr.rs` on GunPoint: the vendored files read,
//! z-normalised and padded, the 1D ResNet trained for 40 epochs, and
//! its test accuracy clearly above chance (50% for two classes), with the
//! weights of its lowest training loss restored from a temporary file. The full
//! runs and their figures are in docs/sequences.md.

use crate::ucr::{load, run, set, Recipe};

crate::ucr_networks! {
    GunPointFcn GunPointResNet [150, 1] 2;
}

#[test]
fn resnet_beats_chance_on_gunpoint_in_a_few_epochs() {
    // 40 epochs: before about 35 the moving statistics of the batch norms
    // (momentum 0.99, 10 batches an epoch) still lag the batch ones, and
    // inference is near chance while training accuracy is already 100%.
    let gun = set("gunpoint").unwrap();
    let (train, test) = load(gun, &crate::ucr::data_dir()).unwrap();
    assert_eq!((train.len(), test.len()), (50, 150));
    assert_eq!(GunPointResNet::INPUT_SHAPE, [150, 1]);
    let recipe = Recipe {
        epochs: 40,
        batch_cap: 64,
        seed: 1,
    };
    let (outcome, _) = run(GunPointResNet::new(1), &train, &test, &recipe, None).unwrap();
    assert!(
        outcome.test_accuracy >= 0.75,
        "test accuracy {} after 40 epochs",
        outcome.test_accuracy
    );
    // The FCN is declared alike: 3 convolutions of 128, 256 and 128 filters.
    let conv2 = GunPointFcn::TENSORS
        .iter()
        .find(|t| t.name == "conv2.weight")
        .unwrap();
    assert_eq!(conv2.shape, [1, 5, 128, 256]);
}
