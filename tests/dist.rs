//! Data-parallel training (`cnn::dist`) with ranks as threads
//! (`ThreadGroup`): the same global batch and seed give the same weights
//! on 1, 2 and 3 ranks (uneven shards, dropout, synchronised batch norm,
//! augmentation, another loss on value targets with its metric), per-rank batch norm still converges, a resumed job may
//! have another number of ranks, and ranks that differ (network, seed,
//! data, settings) all stop with one clear error. The same runs over MPI
//! are `examples/dist_check.rs`, run by `.ci/run` under `mpirun -np 2`.

use crate::common::squares;
use cnn::dist::{self, Collective, Ranks, ThreadGroup};
use cnn::network;
use cnn::train::{Dataset, Fit, Model, Network, RandomShift};
use cnn_runtime::optim::Sgd;
use cnn_runtime::testing::assert_close;

network! {
    /// No batch norm; dropout, whose masks go by position in the global batch.
    struct Plain {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, Relu, Dropout { rate: 0.3 }, Dense { units: 10 }, Softmax,
        ],
    }
}

network! {
    /// Batch norm after a convolution and after a dense layer.
    struct Normed {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, BatchNorm { momentum: 0.9 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, BatchNorm { momentum: 0.9 }, Relu, Dense { units: 10 }, Softmax,
        ],
    }
}

network! {
    /// Plain without its softmax: ten scores for a mean squared error.
    struct Scores {
        input: [32, 32, 1],
        layers: [
            Conv2d { filters: 4, kernel: 5, stride: 3 }, Relu, MaxPool2d { size: 2 },
            Flatten, Dense { units: 16 }, Relu, Dropout { rate: 0.3 }, Dense { units: 10 },
        ],
    }
}

network! {
    /// Another declaration with the same input and classes.
    struct Other {
        input: [32, 32, 1],
        layers: [Conv2d { filters: 3, kernel: 5, stride: 3 }, Relu, Flatten, Dense { units: 10 }, Softmax],
    }
}

fn dataset(n: usize, seed: u64) -> Dataset {
    let (x, y) = squares(n, seed);
    Dataset::new([32, 32, 1], x.into_raw_vec_and_offset().0, y, 10).unwrap()
}

/// What a run leaves: every parameter (moving statistics included) and
/// the loss of every epoch.
#[derive(Debug)]
struct Run {
    params: Vec<f32>,
    losses: Vec<f32>,
}

/// Runs `job(ranks)` on `size` threads, one rank each.
fn on_ranks<T: Send>(size: usize, job: impl Fn(&mut ThreadGroup) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(size)
            .into_iter()
            .map(|mut g| {
                let job = &job;
                s.spawn(move || job(&mut g))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a rank panicked"))
            .collect()
    })
}

fn finish<N: Network>(model: &Model<N>) -> Run {
    Run {
        params: model.network().params().to_vec(),
        losses: model.history().epochs.iter().map(|e| e.loss).collect(),
    }
}

/// `fit` for `epochs` epochs of batch 24 over 104 examples (the last
/// batch has 8: three ranks get 3, 3 and 2), on one process or on ranks.
fn train<N: Network>(
    net: N,
    ranks: Option<&mut dyn Collective>,
    sync_bn: bool,
    augment: bool,
) -> cnn::Result<Run> {
    let data = dataset(104, 1);
    let shift = RandomShift { max: 2, fill: 0.0 };
    let mut model = Model::compile(net, Sgd::new(0.05).momentum(0.9)).seed(7);
    let mut cfg = Fit::epochs(3).batch_size(24).verbose(false);
    if augment {
        cfg = cfg.augment(&shift);
    }
    if let Some(r) = ranks {
        cfg = cfg.ranks(Ranks::new(r).sync_batch_norm(sync_bn));
    }
    model.fit(&data, cfg)?;
    Ok(finish(&model))
}

fn assert_same(runs: &[Run], want: &Run, what: &str) {
    for (r, run) in runs.iter().enumerate() {
        // Only the order of additions differs: a few ulps per step.
        assert_close(&run.params, &want.params, 2e-4, 2e-5);
        assert_close(&run.losses, &want.losses, 1e-4, 1e-6);
        assert_eq!(
            run.params, runs[0].params,
            "{what}: rank {r}'s weights differ from rank 0's"
        );
    }
}

#[test]
fn two_and_three_ranks_give_one_process_s_weights_without_batch_norm() {
    let one = train(Plain::new(3), None, false, false).unwrap();
    for size in [2, 3] {
        let runs: Vec<Run> = on_ranks(size, |g| {
            train(Plain::new(3), Some(g), false, false).unwrap()
        });
        assert_same(&runs, &one, &format!("{size} ranks"));
    }
}

#[test]
fn synchronised_batch_norm_gives_one_process_s_weights_and_statistics() {
    let one = train(Normed::new(3), None, false, false).unwrap();
    let runs: Vec<Run> = on_ranks(2, |g| train(Normed::new(3), Some(g), true, false).unwrap());
    assert_same(&runs, &one, "synchronised batch norm");
    let uneven: Vec<Run> = on_ranks(3, |g| train(Normed::new(3), Some(g), true, false).unwrap());
    assert_same(&uneven, &one, "synchronised batch norm, 3 ranks");
}

#[test]
fn augmentation_does_not_depend_on_the_number_of_ranks() {
    // Each image's generator depends on (seed, epoch, index) alone, so a
    // rank's shard is augmented as that part of the whole batch would be.
    let one = train(Plain::new(3), None, false, true).unwrap();
    for size in [2, 3] {
        let runs: Vec<Run> = on_ranks(size, |g| {
            train(Plain::new(3), Some(g), false, true).unwrap()
        });
        assert_same(&runs, &one, &format!("augmented, {size} ranks"));
    }
}

#[test]
fn per_rank_batch_norm_differs_by_design_and_still_converges() {
    let test = dataset(60, 2);
    let one = train(Normed::new(3), None, false, false).unwrap();
    let runs: Vec<(Run, f32)> = on_ranks(2, |g| {
        let run = train(Normed::new(3), Some(g), false, false).unwrap();
        let mut net = Normed::new(0);
        net.params_mut().copy_from_slice(&run.params);
        let acc = Model::compile(net, Sgd::new(0.0))
            .evaluate(&test, 60)
            .unwrap()
            .accuracy;
        (run, acc)
    });
    // Each rank normalised by its own 12 examples' statistics: not the
    // one-process weights, but the same on every rank (moving statistics
    // averaged at the end of each epoch).
    let max_diff = runs[0]
        .0
        .params
        .iter()
        .zip(&one.params)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        max_diff > 1e-3,
        "per-rank statistics should change the result (max diff {max_diff})"
    );
    assert_eq!(runs[0].0.params, runs[1].0.params);
    for (run, acc) in &runs {
        assert!(*acc >= 0.9, "accuracy {acc} after 3 epochs");
        assert!(
            run.losses[2] < run.losses[0],
            "loss did not fall: {:?}",
            run.losses
        );
    }
}

#[test]
fn a_job_resumes_from_rank_0_s_checkpoint_with_another_number_of_ranks() {
    let dir = std::env::temp_dir().join(format!("cnn-dist-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = dir.join("ck.safetensors");
    let data = dataset(104, 1);
    let opt = || Sgd::new(0.05).momentum(0.9);
    // Uninterrupted, one process: 3 epochs.
    let mut whole = Model::compile(Normed::new(3), opt()).seed(7);
    whole
        .fit(&data, Fit::epochs(3).batch_size(24).verbose(false))
        .unwrap();
    // 2 ranks for 2 epochs (rank 0 writes the checkpoint), then 3 ranks.
    on_ranks(2, |g| {
        let mut m = Model::compile(Normed::new(3), opt()).seed(7);
        let cfg = Fit::epochs(2).batch_size(24).verbose(false).checkpoint(&ck);
        m.fit(&data, cfg.ranks(Ranks::new(g).sync_batch_norm(true)))
            .unwrap();
    });
    let runs: Vec<Run> = on_ranks(3, |g| {
        let mut m = dist::resume(g, Normed::new(0), opt(), &ck).unwrap();
        assert_eq!(m.epoch(), 2);
        let cfg = Fit::epochs(3).batch_size(24).verbose(false);
        m.fit(&data, cfg.ranks(Ranks::new(g).sync_batch_norm(true)))
            .unwrap();
        finish(&m)
    });
    assert_same(&runs, &finish(&whole), "resumed on 3 ranks");
    // A checkpoint that is not there: the same error on every rank.
    let missing = dir.join("none.safetensors");
    for r in on_ranks(2, |g| {
        dist::resume(g, Normed::new(0), opt(), &missing).map(|_| ())
    }) {
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains("rank 0 failed") && msg.contains("none.safetensors"),
            "{msg}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every rank's error from `fit` when rank 1 does something else.
fn errors(rank1: impl Fn(&mut ThreadGroup) -> cnn::Result<Run> + Sync) -> Vec<String> {
    on_ranks(2, |g| match g.rank() {
        0 => train(Plain::new(3), Some(g), false, false),
        _ => rank1(g),
    })
    .into_iter()
    .map(|r| r.expect_err("the ranks differ: fit must fail").to_string())
    .collect()
}

#[test]
fn ranks_whose_networks_differ_all_stop_with_the_same_clear_error() {
    for msg in errors(|g| train(Plain::new(4), Some(g), false, false)) {
        assert!(
            msg.contains("the network's weights: rank 1 differs from rank 0"),
            "{msg}"
        );
        assert!(msg.contains("same seed on every rank"), "{msg}");
        assert!(!msg.contains("declaration"), "{msg}");
    }
    for msg in errors(|g| train(Other::new(3), Some(g), false, false)) {
        assert!(
            msg.contains("the network's declaration (its tensor table): rank 1 differs"),
            "{msg}"
        );
    }
}

#[test]
fn a_missing_shard_or_other_settings_stop_every_rank() {
    // Rank 1 has lost part of its data.
    let short = |g: &mut ThreadGroup| {
        let data = dataset(100, 1);
        let mut m = Model::compile(Plain::new(3), Sgd::new(0.05).momentum(0.9)).seed(7);
        let cfg = Fit::epochs(3)
            .batch_size(24)
            .verbose(false)
            .ranks(Ranks::new(g));
        m.fit(&data, cfg)?;
        Ok(finish(&m))
    };
    for msg in errors(short) {
        assert!(
            msg.contains("the number of examples in the training data: rank 1 differs"),
            "{msg}"
        );
        assert!(
            msg.contains("every rank must load the same data set"),
            "{msg}"
        );
    }
    for msg in errors(|g| train(Plain::new(3), Some(g), true, false)) {
        assert!(
            msg.contains("synchronised batch norm (on or off): rank 1 differs"),
            "{msg}"
        );
    }
    // A batch that cannot give every rank an example.
    let runs = on_ranks(3, |g| {
        let data = dataset(26, 1);
        let mut m = Model::compile(Plain::new(3), Sgd::new(0.05)).seed(7);
        m.fit(
            &data,
            Fit::epochs(1)
                .batch_size(24)
                .verbose(false)
                .ranks(Ranks::new(g)),
        )
        .map(|_| ())
    });
    for r in runs {
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains(
                "a batch of 2 examples (of 26 in batches of 24) cannot be shared by 3 ranks"
            ),
            "{msg}"
        );
    }
}

#[test]
fn a_loss_that_is_not_finite_on_one_rank_skips_the_step_on_every_rank() {
    use cnn::net::Shard;
    let (x, y) = squares(8, 3);
    let mut x = x.into_raw_vec_and_offset().0;
    let results = on_ranks(2, |g| {
        let mut net = Normed::new(3);
        let before = net.params().to_vec();
        let mut opt = Sgd::new(0.1);
        let part = dist::shard_range(8, g.rank(), 2);
        let len = 32 * 32;
        let mut xs = x[part.start * len..part.end * len].to_vec();
        if g.rank() == 1 {
            xs[5] = f32::NAN; // one bad pixel on rank 1 only
        }
        let mut shard = Shard::of(g, part.start, part.len(), 8, false);
        let r = net.train_shard(&xs, &y[part.clone()], &mut opt, &mut shard);
        (
            r.map(|s| s.loss).map_err(|e| e.to_string()),
            net.params() == &before[..],
        )
    });
    for (r, unchanged) in results {
        let msg = r.expect_err("the step must fail on every rank");
        assert!(msg.contains("not finite") || msg.contains("NaN"), "{msg}");
        assert!(unchanged, "weights or moving statistics changed");
    }
    // The same data without the bad pixel trains on both ranks.
    x[5] = 0.0;
    let ok = on_ranks(2, |g| {
        let mut net = Normed::new(3);
        let part = dist::shard_range(8, g.rank(), 2);
        let xs = x[part.start * 1024..part.end * 1024].to_vec();
        let mut shard = Shard::of(g, part.start, part.len(), 8, true);
        net.train_shard(&xs, &y[part.clone()], &mut Sgd::new(0.1), &mut shard)
            .unwrap()
            .loss
    });
    assert_eq!(ok[0], ok[1]);
}

/// [`train`] with the mean squared error against one-hot rows (value
/// targets, whose metric is the mean absolute error): the held pass on
/// each rank's shard. Returns the run and the last epoch's metric.
fn train_mse(ranks: Option<&mut dyn Collective>, sync_bn: bool) -> cnn::Result<(Run, f32)> {
    let (x, y) = squares(104, 1);
    let onehot: Vec<f32> = y
        .iter()
        .flat_map(|&label| (0..10).map(move |k| f32::from(u8::from(k == label))))
        .collect();
    let data = Dataset::with_values([32, 32, 1], x.into_raw_vec_and_offset().0, onehot, 10)?;
    let mut model = Model::compile(Scores::new(3), Sgd::new(0.05).momentum(0.9))
        .loss(cnn::loss::Mse)
        .seed(7);
    let mut cfg = Fit::epochs(3).batch_size(24).verbose(false);
    if let Some(r) = ranks {
        cfg = cfg.ranks(Ranks::new(r).sync_batch_norm(sync_bn));
    }
    model.fit(&data, cfg)?;
    let mae = model
        .history()
        .epochs
        .last()
        .map_or(f32::NAN, |e| e.accuracy);
    Ok((finish(&model), mae))
}

#[test]
fn another_loss_on_two_and_three_ranks_gives_one_process_s_weights_and_metric() {
    let (one, mae) = train_mse(None, false).unwrap();
    assert!(mae.is_finite() && mae > 0.0, "{mae}");
    for size in [2, 3] {
        let runs: Vec<(Run, f32)> = on_ranks(size, |g| train_mse(Some(g), false).unwrap());
        let maes: Vec<f32> = runs.iter().map(|r| r.1).collect();
        let runs: Vec<Run> = runs.into_iter().map(|r| r.0).collect();
        assert_same(&runs, &one, &format!("MSE, {size} ranks"));
        // The metric is the global batch's, summed over the ranks.
        assert_close(&maes, &vec![mae; size], 1e-4, 1e-6);
    }
}

#[test]
fn another_loss_with_synchronised_batch_norm_stops_every_rank_with_a_clear_error() {
    let errors: Vec<String> = on_ranks(2, |g| train_mse(Some(g), true).unwrap_err().to_string());
    for e in &errors {
        assert!(
            e.contains("synchronised batch norm") && e.contains("sync_batch_norm(false)"),
            "{e}"
        );
    }
}
