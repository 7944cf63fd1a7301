//! `visualize` through its own shared code (`examples/shared/visualize/`)
//! on a tiny budget: LeNet-5 trained on 512 digits for an epoch, the top
//! patches over 60 test digits, 15 steps of gradient ascent. What must
//! hold whatever the weights: each unit's patches come strongest first,
//! are the strongest there are, and are the unit's receptive field
//! clipped to the picture; gradient ascent raises what it maximises; the
//! pictures are written.

use crate::visualize::{self, LeNet5Taps};

use cnn::ndarray::ArrayView4;
use cnn::pass::Mode;
use std::path::PathBuf;

#[test]
fn top_patches_follow_the_receptive_field_and_ascent_raises_the_unit() {
    let out: PathBuf = std::env::temp_dir().join(format!("cnn-visualize-{}", std::process::id()));
    let missing = out.join("none.safetensors");
    let flags = [
        "--out",
        out.to_str().unwrap(),
        "--weights",
        missing.to_str().unwrap(),
        "--epochs",
        "1",
        "--images",
        "60",
        "--units",
        "3",
        "--steps",
        "15",
    ];
    let mut args = visualize::parse(flags.iter().map(|s| s.to_string())).unwrap();
    args.train_images = 512;
    args.saliency = 4;
    args.quiet = true;
    let report = visualize::run(&args).unwrap();

    assert_eq!(report.layers.len(), 3);
    for layer in &report.layers {
        let f = layer.field;
        assert_eq!(layer.tops.len(), 3, "{}: a list per unit", layer.name);
        for unit in &layer.tops {
            assert_eq!(unit.len(), visualize::TOP, "{}", layer.name);
            assert!(
                unit.windows(2).all(|w| w[0].value >= w[1].value),
                "{}: not strongest first: {unit:?}",
                layer.name
            );
            for t in unit {
                // The field at that position, clipped to 0..32 here by hand.
                let o = f.origin(t.at[0], t.at[1]);
                let clip = |a: usize| {
                    let lo = o[a].max(0);
                    let hi = (o[a] + f.size[a] as isize).min(32);
                    (lo as usize, (hi - lo) as usize)
                };
                assert_eq!((t.patch.top, t.patch.height), clip(0), "{}", layer.name);
                assert_eq!((t.patch.left, t.patch.width), clip(1), "{}", layer.name);
            }
        }
        assert!(
            layer.ascent.iter().all(|&(before, after)| after > before),
            "{}: {:?}",
            layer.name,
            layer.ascent
        );
        assert!(layer.top_png.exists());
    }
    // LeNet-5's convolutions have no padding: every conv1 patch is 5x5,
    // every conv2 patch 14x14; fc3 sees the whole digit.
    let sizes: Vec<[usize; 2]> = report
        .layers
        .iter()
        .map(|l| [l.tops[0][0].patch.height, l.tops[0][0].patch.width])
        .collect();
    assert_eq!(sizes, [[5, 5], [14, 14], [32, 32]]);
    assert!(report.classes.iter().all(|&(before, after)| after > before));
    assert!(report.ascent_png.exists() && report.saliency_png.exists());

    // The strongest there are: conv2's unit 0 recomputed by hand from a
    // held pass over the same 60 digits (each digit's best position).
    let mut net = LeNet5Taps::load(out.join(visualize::OWN_WEIGHTS)).unwrap();
    let mnist = cnn::data::mnist::load(&args.data).unwrap();
    let test = crate::lenet5_net::prepare(&mnist.test).unwrap().take(60);
    let x = ArrayView4::from_shape((60, 32, 32, 1), test.images()).unwrap();
    let pass = net.forward(x, Mode::Infer).unwrap();
    let tap = pass.tap("conv2").unwrap();
    let mut best: Vec<f32> = (0..60)
        .map(|e| {
            (0..100)
                .map(|p| tap.as_slice().unwrap()[(e * 100 + p) * 16])
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .collect();
    best.sort_by(|a, b| b.total_cmp(a));
    let found: Vec<f32> = report.layers[1].tops[0].iter().map(|t| t.value).collect();
    assert_eq!(found, best[..visualize::TOP]);
    drop(pass);
    std::fs::remove_dir_all(&out).ok();
}
