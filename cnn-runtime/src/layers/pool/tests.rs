//! Max, average and global average pooling against their references on
//! odd, strided, padded and non-square cases (threaded path and interior
//! fast paths included), the course's worked example, how ties and
//! padding are handled, gradient checks, and the error paths.

use super::*;
use crate::geom::Padding;
use crate::parallel;
use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

/// (input [h, w, c], window, stride, padding, batch): odd sizes, stride 2
/// and 3, explicit padding, `same` with odd total padding (which goes
/// bottom/right), non-square windows, 1, 2, 3, 5 and 16 channels (each
/// specialised channel count and the general loop), batch 1, 2 and 3.
fn cases() -> Vec<(PoolGeom, usize)> {
    type Case = ([usize; 3], [usize; 2], [usize; 2], Padding, usize);
    let raw: &[Case] = &[
        ([4, 4, 1], [2, 2], [2, 2], Padding::Valid, 1),
        ([5, 7, 3], [2, 2], [2, 2], Padding::Valid, 3),
        ([7, 7, 3], [3, 3], [2, 2], Padding::Same, 3), // total 2: 1 on top
        ([6, 5, 1], [3, 3], [2, 2], Padding::Same, 1), // rows: total 1, all at the bottom
        ([5, 5, 2], [2, 2], [1, 1], Padding::Same, 2), // total 1: bottom/right only
        ([7, 8, 3], [2, 3], [1, 2], Padding::Explicit(1), 3),
        ([9, 7, 1], [3, 2], [3, 3], Padding::Valid, 3),
        ([8, 9, 3], [3, 3], [3, 3], Padding::Same, 1),
        ([3, 3, 2], [3, 3], [1, 1], Padding::Explicit(1), 2),
        ([1, 1, 3], [1, 1], [1, 1], Padding::Explicit(2), 2), // windows of padding only
        ([5, 6, 5], [3, 2], [2, 1], Padding::Same, 2),        // 5 channels: the general loop
        ([4, 6, 16], [2, 2], [2, 2], Padding::Valid, 1),
    ];
    raw.iter()
        .map(|&(input, size, stride, padding, batch)| {
            (PoolGeom::new(input, size, stride, padding).unwrap(), batch)
        })
        .collect()
}

#[test]
fn max_matches_reference() {
    for (seed, (g, batch)) in cases().into_iter().enumerate() {
        let x = random(batch * g.in_len(), seed as u64);
        let mut y = nan_filled(batch * g.out_len());
        let mut argmax = vec![7; y.len()];
        max_forward(&g, batch, &x, &mut y, &mut argmax).unwrap();
        let (want, want_arg) = reference::max_forward(&g, batch, &x);
        assert_eq!(y, want, "{g:?}");
        assert_eq!(argmax, want_arg, "{g:?}");
    }
}

#[test]
fn avg_matches_reference() {
    for (seed, (g, batch)) in cases().into_iter().enumerate() {
        let x = random(batch * g.in_len(), seed as u64 + 100);
        let mut y = nan_filled(batch * g.out_len());
        avg_forward(&g, batch, &x, &mut y).unwrap();
        assert_close(&y, &reference::avg_forward(&g, batch, &x), 1e-5, 1e-6);
        let dy = random(y.len(), seed as u64 + 200);
        let mut dx = nan_filled(x.len());
        avg_backward(&g, batch, &dy, &mut dx).unwrap();
        assert_close(&dx, &reference::avg_backward(&g, batch, &dy), 1e-5, 1e-6);
    }
}

// LeNet-5's first pooling at batch 64 is large enough to run on the pool's threads.
#[test]
fn threaded_path_matches_reference() {
    parallel::set_threads(2);
    let g = PoolGeom::new([28, 28, 6], [2, 2], [2, 2], Padding::Valid).unwrap();
    let batch = 64;
    let x = random(batch * g.in_len(), 11);
    let (mut y, mut argmax) = (
        nan_filled(batch * g.out_len()),
        vec![0; batch * g.out_len()],
    );
    max_forward(&g, batch, &x, &mut y, &mut argmax).unwrap();
    let (want, want_arg) = reference::max_forward(&g, batch, &x);
    assert_eq!(y, want);
    assert_eq!(argmax, want_arg);
    let dy = random(y.len(), 12);
    let mut dx = nan_filled(x.len());
    max_backward(&g, batch, &argmax, &dy, &mut dx).unwrap();
    // Non-overlapping windows: each output's gradient lands on its winner.
    for (b, (dyb, ab)) in dy
        .chunks(g.out_len())
        .zip(argmax.chunks(g.out_len()))
        .enumerate()
    {
        for (&d, &a) in dyb.iter().zip(ab) {
            assert_eq!(dx[b * g.in_len() + a as usize], d);
        }
    }
    assert_eq!(dx.iter().filter(|&&v| v != 0.0).count(), y.len());
    avg_forward(&g, batch, &x, &mut y).unwrap();
    assert_close(&y, &reference::avg_forward(&g, batch, &x), 1e-5, 1e-6);
    avg_backward(&g, batch, &dy, &mut dx).unwrap();
    assert_close(&dx, &reference::avg_backward(&g, batch, &dy), 1e-5, 1e-6);
}

// The course's max pooling example (f = 2, s = 2 on a 4x4 input).
#[test]
fn course_max_pool_example() {
    let x = [
        1., 3., 2., 1., 2., 9., 1., 1., 1., 3., 2., 3., 5., 6., 1., 2.,
    ];
    let g = PoolGeom::new([4, 4, 1], [2, 2], [2, 2], Padding::Valid).unwrap();
    let (mut y, mut argmax) = (nan_filled(4), vec![0; 4]);
    max_forward(&g, 1, &x, &mut y, &mut argmax).unwrap();
    assert_eq!(y, [9., 2., 6., 3.]);
    assert_eq!(argmax, [5, 2, 13, 11]);
}

#[test]
fn padded_cells_never_win_nor_count() {
    // All inputs negative: a zero from padding would win if it could.
    let g = PoolGeom::new([3, 3, 1], [2, 2], [2, 2], Padding::Same).unwrap();
    assert_eq!((g.out_h, g.pad_top), (2, 0));
    let x: Vec<f32> = (1..=9).map(|v| -(v as f32)).collect();
    let (mut y, mut argmax) = (nan_filled(4), vec![0; 4]);
    max_forward(&g, 1, &x, &mut y, &mut argmax).unwrap();
    assert_eq!(y, [-1., -3., -7., -9.]);
    assert_eq!(argmax, [0, 2, 6, 8]);
    // Average over the real cells only (Keras): the corner window has one cell.
    avg_forward(&g, 1, &x, &mut y).unwrap();
    assert_eq!(y, [-3., -4.5, -7.5, -9.]);
}

#[test]
fn ties_go_to_the_first_cell_in_window_order() {
    let g = PoolGeom::new([4, 4, 2], [2, 2], [1, 1], Padding::Valid).unwrap();
    let x = vec![1.0; g.in_len()];
    let (mut y, mut argmax) = (nan_filled(g.out_len()), vec![0; g.out_len()]);
    max_forward(&g, 1, &x, &mut y, &mut argmax).unwrap();
    for oh in 0..3 {
        for ow in 0..3 {
            for ch in 0..2 {
                assert_eq!(
                    argmax[(oh * 3 + ow) * 2 + ch] as usize,
                    (oh * 4 + ow) * 2 + ch
                );
            }
        }
    }
}

#[test]
fn all_padding_windows_output_zero_and_pass_no_gradient() {
    let g = PoolGeom::new([1, 1, 1], [1, 1], [1, 1], Padding::Explicit(1)).unwrap();
    assert_eq!((g.out_h, g.out_w), (3, 3));
    let (mut y, mut argmax) = (nan_filled(9), vec![0; 9]);
    max_forward(&g, 1, &[-5.0], &mut y, &mut argmax).unwrap();
    assert_eq!(y, [0., 0., 0., 0., -5., 0., 0., 0., 0.]);
    assert_eq!(argmax.iter().filter(|&&a| a == NO_WINNER).count(), 8);
    let mut dx = nan_filled(1);
    max_backward(&g, 1, &argmax, &[1.0; 9], &mut dx).unwrap();
    assert_eq!(dx, [1.0]);
}

/// True when no window has two real values within `margin` of its max:
/// then a perturbation smaller than `margin / 2` cannot change a winner.
fn tie_free(g: &PoolGeom, batch: usize, x: &[f32], margin: f32) -> bool {
    let (y, _) = reference::max_forward(g, batch, x);
    let mut ok = true;
    for b in 0..batch {
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                for ch in 0..g.c {
                    let m = y[b * g.out_len() + (oh * g.out_w + ow) * g.c + ch];
                    let (h0, h1) = span(oh, g.sh, g.fh, g.pad_top, g.in_h);
                    let (w0, w1) = span(ow, g.sw, g.fw, g.pad_left, g.in_w);
                    let near = (h0..h1)
                        .flat_map(|ih| (w0..w1).map(move |iw| (ih, iw)))
                        .filter(|&(ih, iw)| {
                            (x[b * g.in_len() + (ih * g.in_w + iw) * g.c + ch] - m).abs() < margin
                        })
                        .count();
                    ok &= near <= 1;
                }
            }
        }
    }
    ok
}

/// Distinct values `0.01` apart in a random order: gaps between any two
/// inputs are far above the gradient-check step, so no perturbation can
/// change a window's winner.
fn spaced(len: usize, seed: u64) -> Vec<f32> {
    let mut x: Vec<f32> = (0..len)
        .map(|i| (i as f32 - len as f32 / 2.0) * 0.01)
        .collect();
    crate::rng::Rng::new(seed).shuffle(&mut x);
    x
}

#[test]
fn random_inputs_have_no_exact_ties() {
    for (seed, (g, batch)) in cases().into_iter().enumerate() {
        let x = random(batch * g.in_len(), seed as u64 + 300);
        assert!(tie_free(&g, batch, &x, f32::MIN_POSITIVE), "case {seed}");
    }
}

#[test]
fn gradcheck_max() {
    let step = 1e-3;
    for (seed, (g, batch)) in cases().into_iter().enumerate() {
        let mut x = spaced(batch * g.in_len(), seed as u64 + 300);
        assert!(
            tie_free(&g, batch, &x, 4.0 * step),
            "case {seed} has near-ties"
        );
        let r = random(batch * g.out_len(), seed as u64 + 400);
        let (mut y, mut argmax) = (nan_filled(r.len()), vec![0; r.len()]);
        max_forward(&g, batch, &x, &mut y, &mut argmax).unwrap();
        let mut dx = nan_filled(x.len());
        max_backward(&g, batch, &argmax, &r, &mut dx).unwrap();
        gradcheck(&mut x, &dx, step, 1e-3, None, |x| {
            max_forward(&g, batch, x, &mut y, &mut argmax).unwrap();
            dot(&y, &r)
        });
    }
}

#[test]
fn gradcheck_avg() {
    for (seed, (g, batch)) in cases().into_iter().enumerate() {
        let mut x = random(batch * g.in_len(), seed as u64 + 500);
        let r = random(batch * g.out_len(), seed as u64 + 600);
        let mut dx = nan_filled(x.len());
        avg_backward(&g, batch, &r, &mut dx).unwrap();
        let mut y = vec![0.0; r.len()];
        gradcheck(&mut x, &dx, 1e-3, 1e-3, None, |x| {
            avg_forward(&g, batch, x, &mut y).unwrap();
            dot(&y, &r)
        });
    }
}

#[test]
fn global_avg_matches_reference_and_gradcheck() {
    for (batch, hw, c) in [(1, 1, 1), (3, 7, 5), (2, 49, 3), (64, 64, 64)] {
        let mut x = random(batch * hw * c, 21);
        let mut y = nan_filled(batch * c);
        global_avg_forward(batch, hw, c, &x, &mut y).unwrap();
        assert_close(
            &y,
            &reference::global_avg_forward(batch, hw, c, &x),
            1e-5,
            1e-6,
        );
        let r = random(batch * c, 22);
        let mut dx = nan_filled(x.len());
        global_avg_backward(batch, hw, c, &r, &mut dx).unwrap();
        if x.len() <= 1000 {
            gradcheck(&mut x, &dx, 1e-3, 1e-3, None, |x| {
                dot(&reference::global_avg_forward(batch, hw, c, x), &r)
            });
        } else {
            assert_close(
                &dx[..c],
                &r[..c].iter().map(|v| v / hw as f32).collect::<Vec<_>>(),
                1e-6,
                0.0,
            );
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let g = PoolGeom::new([4, 4, 2], [2, 2], [2, 2], Padding::Valid).unwrap();
    let (x, mut y, mut a) = (vec![0.0; 64], vec![0.0; 16], vec![0u32; 16]);
    let msg = |r: Result<()>| r.unwrap_err().to_string();
    assert!(msg(max_forward(&g, 2, &x[1..], &mut y, &mut a)).contains("max pool x"));
    assert!(msg(max_forward(&g, 2, &x, &mut y[1..], &mut a)).contains("max pool y"));
    assert!(msg(max_forward(&g, 2, &x, &mut y, &mut a[1..])).contains("max pool argmax"));
    assert!(msg(max_forward(&g, 3, &x, &mut y, &mut a)).contains("max pool x"));
    let mut dx = vec![0.0; 64];
    assert!(msg(max_backward(&g, 2, &a, &y[1..], &mut dx)).contains("max pool dy"));
    assert!(msg(max_backward(&g, 2, &a, &y, &mut dx[1..])).contains("max pool dx"));
    assert!(msg(avg_forward(&g, 2, &x[1..], &mut y)).contains("avg pool x"));
    assert!(msg(avg_forward(&g, 2, &x, &mut y[1..])).contains("avg pool y"));
    assert!(msg(avg_backward(&g, 2, &y[1..], &mut dx)).contains("avg pool dy"));
    assert!(msg(avg_backward(&g, 2, &y, &mut dx[1..])).contains("avg pool dx"));
    // An argmax that does not come from max_forward.
    a[3] = 32;
    assert!(msg(max_backward(&g, 2, &a, &y, &mut dx)).contains("argmax"));
    // Zero sizes in a hand-built geometry, and overflow.
    for broken in [
        PoolGeom { c: 0, ..g },
        PoolGeom { fh: 0, ..g },
        PoolGeom { sw: 0, ..g },
        PoolGeom { out_h: 0, ..g },
        PoolGeom { in_w: 0, ..g },
        PoolGeom {
            in_h: usize::MAX,
            ..g
        },
    ] {
        assert!(matches!(
            max_forward(&broken, 1, &x, &mut y, &mut a),
            Err(Error::InvalidArgument(_))
        ));
        assert!(avg_backward(&broken, 1, &y, &mut dx).is_err());
    }
    // More than a u32 can index in one example.
    let huge = PoolGeom {
        in_h: 1 << 16,
        in_w: 1 << 16,
        c: 2,
        ..g
    };
    assert!(max_forward(&huge, 0, &[], &mut [], &mut []).is_err());
    // Global average pooling.
    assert!(
        msg(global_avg_forward(2, 4, 3, &x[..23], &mut y[..6])).contains("global average pool x")
    );
    assert!(
        msg(global_avg_forward(2, 4, 3, &x[..24], &mut y[..5])).contains("global average pool y")
    );
    assert!(msg(global_avg_backward(2, 4, 3, &y[..5], &mut dx[..24]))
        .contains("global average pool dy"));
    assert!(msg(global_avg_backward(2, 4, 3, &y[..6], &mut dx[..23]))
        .contains("global average pool dx"));
    assert!(global_avg_forward(2, 0, 3, &[], &mut y[..6]).is_err());
    assert!(global_avg_backward(2, 4, 0, &[], &mut []).is_err());
    assert!(global_avg_forward(usize::MAX, 4, 3, &[], &mut []).is_err());
    // An empty batch is nothing to do.
    max_forward(&g, 0, &[], &mut [], &mut []).unwrap();
    global_avg_backward(0, 4, 3, &[], &mut []).unwrap();
}

/// Windows inside the input take the fast paths (`max_interior`; with
/// padding, all but the border outputs): every version of them against
/// the reference, on inputs full of ties (a few distinct values, as after
/// a ReLU) and with NaNs, whose bits must match.
#[test]
fn interior_paths_match_reference_with_ties_and_nans() {
    type Case = ([usize; 3], [usize; 2], [usize; 2], Padding, usize);
    let raw: &[Case] = &[
        ([28, 28, 6], [2, 2], [2, 2], Padding::Valid, 3),
        ([10, 10, 16], [2, 2], [2, 2], Padding::Valid, 2),
        ([9, 11, 5], [3, 3], [2, 2], Padding::Valid, 2),
        ([7, 7, 20], [3, 2], [1, 1], Padding::Valid, 1), // overlapping windows, two vectors of channels
        ([6, 9, 33], [2, 3], [2, 3], Padding::Valid, 2), // three vectors, the last of one lane
        ([5, 5, 1], [5, 5], [1, 1], Padding::Valid, 3),  // one window covering the input
        ([12, 12, 16], [3, 3], [2, 2], Padding::Explicit(1), 2), // a ResNet stem's pool
        ([9, 11, 5], [3, 3], [2, 2], Padding::Same, 2),
        ([7, 8, 20], [3, 2], [1, 1], Padding::Explicit(1), 1),
        ([11, 10, 3], [3, 3], [3, 2], Padding::Same, 2),
        ([2, 2, 3], [3, 3], [1, 1], Padding::Explicit(1), 1), // no output inside
    ];
    for (seed, &(input, size, stride, padding, batch)) in raw.iter().enumerate() {
        let g = PoolGeom::new(input, size, stride, padding).unwrap();
        let region = interior_region(&g);
        let mut x: Vec<f32> = random(batch * g.in_len(), 40 + seed as u64)
            .iter()
            .map(|v| (v * 2.0).round().max(0.0))
            .collect();
        for i in (0..x.len()).step_by(37) {
            x[i] = f32::NAN;
        }
        let (want, want_arg) = reference::max_forward(&g, batch, &x);
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        // Each version recording the winners, then without (values only).
        let mut versions: Vec<(&str, MaxFn, MaxFn)> = vec![(
            "portable",
            max_interior_portable::<true>,
            max_interior_portable::<false>,
        )];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY (of the calls through the pointers): AVX-512F is present.
            versions.push((
                "avx512",
                |g, r, x, y, a| unsafe { simd::max_interior_avx512::<true>(g, r, x, y, a) },
                |g, r, x, y, a| unsafe { simd::max_interior_avx512::<false>(g, r, x, y, a) },
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if crate::isa::Isa::Avx2.supported() {
            // SAFETY (of the calls through the pointers): AVX2 is present.
            versions.push((
                "avx2",
                |g, r, x, y, a| unsafe { simd::max_interior_avx2::<true>(g, r, x, y, a) },
                |g, r, x, y, a| unsafe { simd::max_interior_avx2::<false>(g, r, x, y, a) },
            ));
        }
        versions.push(("dispatch", max_interior::<true>, max_interior::<false>));
        for (name, f, values) in versions {
            let (mut y, mut argmax) = (nan_filled(want.len()), vec![7; want.len()]);
            let mut y_values = nan_filled(want.len());
            for (((x, y), a), yv) in x
                .chunks(g.in_len())
                .zip(y.chunks_mut(g.out_len()))
                .zip(argmax.chunks_mut(g.out_len()))
                .zip(y_values.chunks_mut(g.out_len()))
            {
                // The border one cell at a time, the region on the path tested.
                max_example::<0, true>(&g, region, x, y, a);
                max_example::<0, false>(&g, region, x, yv, &mut []);
                if !region.is_empty() {
                    f(&g, region, x, y, a);
                    values(&g, region, x, yv, &mut []);
                }
            }
            assert_eq!(bits(&y), bits(&want), "{name} {g:?}");
            assert_eq!(argmax, want_arg, "{name} {g:?}");
            assert_eq!(
                bits(&y_values),
                bits(&want),
                "{name} without winners, {g:?}"
            );
        }
    }
}

/// `max_forward_values` (inference) gives `max_forward`'s values bit for
/// bit, on every case, and checks its arguments as `max_forward` does.
#[test]
fn values_only_max_pooling_matches_max_forward() {
    for (seed, (g, batch)) in cases().into_iter().enumerate() {
        let mut x = random(batch * g.in_len(), 90 + seed as u64);
        for i in (0..x.len()).step_by(29) {
            x[i] = f32::NAN;
        }
        let n = batch * g.out_len();
        let (mut y, mut argmax) = (nan_filled(n), vec![0; n]);
        max_forward(&g, batch, &x, &mut y, &mut argmax).unwrap();
        let mut yv = nan_filled(n);
        max_forward_values(&g, batch, &x, &mut yv).unwrap();
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&yv), bits(&y), "{g:?}");
        assert!(max_forward_values(&g, batch, &x[1..], &mut yv).is_err());
        assert!(max_forward_values(&g, batch, &x, &mut yv[1..]).is_err());
    }
}

#[test]
fn the_interior_region_is_every_output_whose_window_is_inside() {
    // A ResNet stem: 3x3 stride 2, padding 1 on 112x112 gives 56x56, of
    // which rows and columns 1..56 start at 1, 3, .. 109 and end by 111.
    let g = PoolGeom::new([112, 112, 64], [3, 3], [2, 2], Padding::Explicit(1)).unwrap();
    let r = interior_region(&g);
    assert_eq!((r.oh0, r.oh1, r.ow0, r.ow1), (1, 56, 1, 56));
    // Against the definition, on every case.
    for (g, _) in cases() {
        let r = interior_region(&g);
        for oh in 0..g.out_h {
            for ow in 0..g.out_w {
                let inside = oh * g.sh >= g.pad_top
                    && ow * g.sw >= g.pad_left
                    && oh * g.sh + g.fh <= g.in_h + g.pad_top
                    && ow * g.sw + g.fw <= g.in_w + g.pad_left;
                assert_eq!(r.contains(oh, ow), inside, "{g:?} ({oh}, {ow})");
            }
        }
        assert!(r.is_empty() || r.inside(&g));
    }
}

type MaxFn = fn(&PoolGeom, Region, &[f32], &mut [f32], &mut [u32]);
