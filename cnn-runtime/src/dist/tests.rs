//! The data-parallel pieces without MPI: shards, the thread-group
//! collective, the checks, and synchronised batch norm against one process
//! running the whole batch.

use std::time::Duration;

use super::*;
use crate::error::Error;
use crate::geom::Act;
use crate::layers::batch_norm::{self, Grads, Params, Settings, Shape, Stats, TrainOut};
use crate::testing::{assert_close, nan_filled, random};

/// Runs `f(rank)` on `size` threads, each with its rank of a group.
fn on_ranks<T: Send>(size: usize, f: impl Fn(&mut ThreadGroup) -> T + Sync) -> Vec<T> {
    let group = ThreadGroup::new(size);
    std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|mut g| {
                let f = &f;
                s.spawn(move || f(&mut g))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rank panicked"))
            .collect()
    })
}

#[test]
fn shards_cover_the_batch_in_order_and_differ_by_at_most_one() {
    for n in [1, 2, 7, 64, 65] {
        for size in 1..=5usize.min(n) {
            let parts: Vec<_> = (0..size).map(|r| shard_range(n, r, size)).collect();
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts[size - 1].end, n);
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            let lens: Vec<_> = parts.iter().map(|p| p.len()).collect();
            assert!(
                lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1,
                "{n} over {size}: {lens:?}"
            );
        }
    }
}

#[test]
fn thread_group_sums_gathers_and_broadcasts() {
    let out = on_ranks(3, |g| {
        let r = g.rank() as f32;
        let mut a = [r, 1.0, -r];
        g.sum_f32(&mut a);
        let mut b = [r as f64 * 0.5];
        g.sum_f64(&mut b);
        let mut all = [0u64; 6];
        g.gather_u64(&[g.rank() as u64, 7], &mut all);
        let mut bytes = if g.rank() == 2 {
            b"from two".to_vec()
        } else {
            vec![1; 30]
        };
        g.broadcast_bytes(2, &mut bytes);
        (a, b, all, bytes)
    });
    for (a, b, all, bytes) in out {
        assert_eq!(a, [3.0, 3.0, -3.0]);
        assert_eq!(b, [1.5]);
        assert_eq!(all, [0, 7, 1, 7, 2, 7]);
        assert_eq!(bytes, b"from two");
    }
}

#[test]
fn a_rank_that_leaves_makes_the_others_panic_instead_of_waiting() {
    let group = ThreadGroup::with_timeout(2, Duration::from_secs(20));
    let mut it = group.into_iter();
    let (mut zero, one) = (it.next().unwrap(), it.next().unwrap());
    let waiter = std::thread::spawn(move || {
        let mut v = [1.0f32];
        zero.sum_f32(&mut v);
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(one);
    let err = waiter.join().expect_err("rank 0 must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("rank 1 left the group"), "{msg}");
}

#[test]
fn check_same_names_what_differs_and_on_which_ranks() {
    let out = on_ranks(3, |g| {
        let mut f = Fingerprint::new();
        f.add("the batch size", 64, "pass the same settings");
        f.add("the seed", if g.rank() == 0 { 1 } else { 2 }, "same seed");
        check_same(g, &f)
    });
    for r in out {
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains("the seed: ranks 1, 2 differ from rank 0; same seed"),
            "{msg}"
        );
        assert!(!msg.contains("batch size"), "{msg}");
    }
    let ok = on_ranks(2, |g| {
        let mut f = Fingerprint::new();
        f.add("x", 5, "");
        check_same(g, &f)
    });
    assert!(ok.iter().all(Result::is_ok));
}

#[test]
fn agree_gives_every_rank_the_first_failure() {
    let out = on_ranks(3, |g| {
        let mine: crate::Result<u32> = match g.rank() {
            1 => Err(Error::InvalidArgument("no data on this host".into())),
            _ => Ok(5),
        };
        agree(g, mine)
    });
    for r in out {
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains("rank 1 failed: invalid argument: no data on this host"),
            "{msg}"
        );
    }
    let fine = on_ranks(2, |g| {
        let r = g.rank();
        agree(g, Ok::<_, Error>(r))
    });
    assert_eq!(
        fine.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [0, 1]
    );
}

/// One rank's y, mean, inv_std, running mean and variance, dx, dgamma, dbeta.
type RankOut = (
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
    Vec<f32>,
);

/// Batch norm over rows `[m, c]` split into `parts` shards, with the
/// statistics summed over the ranks: the same outputs, statistics, input
/// gradients and (summed) parameter gradients as the whole.
fn sync_batch_norm_matches_whole(m: usize, c: usize, parts: usize, act: Act) {
    let x: Vec<f32> = random(m * c, 1).iter().map(|v| 3.0 + 2.0 * v).collect();
    let dy = random(m * c, 2);
    let (gamma, beta) = (random(c, 3), random(c, 4));
    let settings = Settings {
        eps: 1e-3,
        momentum: 0.9,
        act,
    };
    let params = Params {
        gamma: &gamma,
        beta: &beta,
    };
    let run0 = random(c, 5);
    let var0: Vec<f32> = random(c, 6).iter().map(|v| 1.0 + v.abs()).collect();
    // Forward and backward on rows `lo..hi` of the batch: one process with
    // the whole batch, or one rank with its shard.
    let shard = |lo: usize, hi: usize, mut sync: Option<&mut ThreadGroup>| -> RankOut {
        let n = hi - lo;
        let (shape, x, dy) = (Shape { m: n, c }, &x[lo * c..hi * c], &dy[lo * c..hi * c]);
        let (mut y, mut mean, mut inv_std) = (nan_filled(n * c), nan_filled(c), nan_filled(c));
        let (mut rm, mut rv) = (run0.clone(), var0.clone());
        let out = TrainOut {
            y: &mut y,
            mean: &mut mean,
            inv_std: &mut inv_std,
            running_mean: &mut rm,
            running_var: &mut rv,
        };
        let ranks = sync.as_deref_mut().map(|g| g as &mut dyn Collective);
        batch_norm::forward_train(shape, x, params, settings, out, ranks).unwrap();
        let (mut dx, mut dg, mut db) = (nan_filled(n * c), vec![0.0; c], vec![0.0; c]);
        let stats = Stats {
            mean: &mean,
            inv_std: &inv_std,
        };
        let grads = Grads {
            dy,
            dx: &mut dx,
            dgamma: &mut dg,
            dbeta: &mut db,
        };
        let ranks = sync.as_deref_mut().map(|g| g as &mut dyn Collective);
        batch_norm::backward(shape, x, params, stats, settings, grads, ranks).unwrap();
        if let Some(g) = sync {
            g.sum_f32(&mut dg);
            g.sum_f32(&mut db);
        }
        (y, mean, inv_std, rm, rv, dx, dg, db)
    };
    // One process, the whole batch.
    let (y, mean, inv_std, rm, rv, dx, dg, db) = shard(0, m, None);
    let ranks = on_ranks(parts, |g| {
        let rows = shard_range(m, g.rank(), g.size());
        shard(rows.start, rows.end, Some(g))
    });
    // The ranks' parts of one output, in rank order.
    let cat = |k: fn(&RankOut) -> &Vec<f32>| {
        ranks
            .iter()
            .flat_map(|r| k(r).iter().copied())
            .collect::<Vec<f32>>()
    };
    assert_close(&cat(|r| &r.0), &y, 1e-4, 1e-5);
    assert_close(&cat(|r| &r.5), &dx, 1e-4, 1e-5);
    for r in &ranks {
        assert_close(&r.1, &mean, 1e-5, 1e-6);
        assert_close(&r.2, &inv_std, 1e-5, 1e-6);
        assert_close(&r.3, &rm, 1e-5, 1e-6);
        assert_close(&r.4, &rv, 1e-5, 1e-6);
        assert_close(&r.6, &dg, 1e-4, 1e-5);
        assert_close(&r.7, &db, 1e-4, 1e-5);
        // Every rank the same bits: the sums are the same on every rank.
        assert_eq!((&r.1, &r.3), (&ranks[0].1, &ranks[0].3));
    }
}

#[test]
fn sync_batch_norm_is_the_whole_batch_over_two_and_three_ranks() {
    sync_batch_norm_matches_whole(10, 3, 2, Act::Identity);
    sync_batch_norm_matches_whole(11, 5, 3, Act::Relu);
    // Long rows, enough work for the threaded sums.
    sync_batch_norm_matches_whole(4099, 16, 2, Act::Relu);
}
