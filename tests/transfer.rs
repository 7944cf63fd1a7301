//! Transfer learning end to end on a folder the test writes: images read
//! with `data::folder`, a frozen trunk run once with `features::extract`,
//! the features cached on disk and read back, and a flat head
//! (`input: [N]`) trained on them; the cache refuses features of the trunk
//! once its weights change.

use cnn::data::features::{self, weights_checksum, Features};
use cnn::data::folder;
use cnn::ndarray::ArrayView4;
use cnn::network;
use cnn::optim::Adam;
use cnn::train::{Fit, Model};
use std::fs;

network! {
    /// The frozen part: its outputs are what the head learns from.
    struct Trunk {
        input: [12, 12, 3],
        layers: [Conv2d { filters: 6, kernel: 3 }, Relu, GlobalAvgPool],
    }
}

network! {
    /// A new head on the trunk's 6 features.
    struct Head {
        input: [6],
        layers: [Dense { units: 3 }, Softmax],
    }
}

/// `photos/<colour>/<k>.png`: a 5x5 square of that colour at a place that
/// moves with `k`, on grey. The classes differ by colour, which survives
/// the trunk's global average pooling.
fn photos() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("cnn-transfer-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let colours = [
        ("blue", [0.1, 0.2, 0.9]),
        ("green", [0.1, 0.8, 0.2]),
        ("red", [0.9, 0.1, 0.1]),
    ];
    for (name, rgb) in colours {
        fs::create_dir_all(root.join(name)).unwrap();
        for k in 0..8 {
            // Odd sizes: the loader scales to 12x12 and crops the centre.
            let (w, h) = (14 + k % 3, 12 + k % 2);
            let (top, left) = (1 + k % 5, 2 + (3 * k) % 6);
            let mut pixels = vec![0.5f32; w * h * 3];
            for y in top..top + 5 {
                for x in left..left + 5 {
                    pixels[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&rgb);
                }
            }
            let path = root.join(name).join(format!("{k}.png"));
            cnn::io::image::write_png_rgb(&path, w, h, &pixels, false).unwrap();
        }
    }
    root
}

#[test]
fn a_head_trains_on_cached_features_of_a_folder() {
    let root = photos();
    let (images, report) = folder::load(&root, Trunk::INPUT_SHAPE).unwrap();
    assert_eq!(report.class_names(), ["blue", "green", "red"]);
    assert_eq!(images.len(), 24);

    let trunk = Trunk::new(3);
    let checksum = weights_checksum(trunk.params());
    let predict = |trunk: &Trunk, x: &[f32], n: usize| {
        let view = ArrayView4::from_shape((n, 12, 12, 3), x)
            .map_err(|e| cnn::Error::InvalidArgument(e.to_string()))?;
        Ok(trunk.predict(view)?.into_raw_vec_and_offset().0)
    };
    let feats = features::extract(
        &images,
        "trunk",
        checksum,
        &Trunk::OUTPUT_SHAPE,
        5,
        |x, n| predict(&trunk, x, n),
    )
    .unwrap();
    assert_eq!((feats.len(), feats.shape.as_slice()), (24, &[6][..]));

    let cache = root.join("trunk.features");
    feats.save(&cache).unwrap();
    let cached = Features::load(&cache, "trunk", checksum).unwrap();
    assert_eq!(cached, feats);

    let train = cached.into_dataset().unwrap();
    assert_eq!(train.shape(), [1, 1, 6]);
    let mut head = Model::compile(Head::new(1), Adam::new(0.05)).seed(2);
    head.fit(&train, Fit::epochs(60).batch_size(8).verbose(false))
        .unwrap();
    let eval = head.evaluate(&train, 24).unwrap();
    assert!(eval.accuracy >= 0.9, "accuracy {}", eval.accuracy);

    // The trunk's weights change (fine-tuning): its cached features are stale.
    let mut tuned = Trunk::new(3);
    tuned.params_mut()[0] += 1e-3;
    let err = Features::load(&cache, "trunk", weights_checksum(tuned.params())).unwrap_err();
    assert!(
        matches!(&err, cnn::Error::Mismatch { message, .. }
            if message.starts_with("features of the same trunk with other weights")),
        "{err}"
    );
    fs::remove_dir_all(root).unwrap();
}
