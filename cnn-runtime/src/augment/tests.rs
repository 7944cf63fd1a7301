//! What each transform must keep: mirrored twice is the original; a zero
//! angle, shear, scale change, translation or displacement is the
//! identity; PCA colour with sigma 0 is the identity and otherwise moves
//! colours along the principal axes; composed warps equal warps applied
//! one after the other; bad parameters are errors; batches are the same
//! for any number of worker threads.

use super::elastic::{smooth, smooth_rows, Spectral};
use super::pipeline::Scratch;
use super::queue::EpochBatches;
use super::warp::bilinear;
use super::*;
use crate::testing::assert_close;
use crate::train::{Augment, Dataset, RandomShift};

fn random_image(shape: [usize; 3], seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..shape.iter().product::<usize>())
        .map(|_| rng.uniform())
        .collect()
}

/// Runs `p` on `x` with generator seed `seed`.
fn run(p: &Pipeline, x: &[f32], shape: [usize; 3], seed: u64) -> Vec<f32> {
    let out = p.output_shape(shape).unwrap();
    let mut y = vec![f32::NAN; out.iter().product()];
    p.apply_into(x, shape, &mut y, &mut Rng::new(seed));
    y
}

#[test]
fn mirrored_twice_is_the_original() {
    let shape = [5, 7, 3];
    let x = random_image(shape, 1);
    for m in [Mirror::horizontal(1.0), Mirror::vertical(1.0)] {
        let once = run(&Pipeline::new().then(m), &x, shape, 2);
        assert_ne!(once, x);
        // Left-right: pixel (0, 0) is the input's (0, 6).
        if !m.vertical {
            assert_eq!(&once[..3], &x[6 * 3..7 * 3]);
        }
        let twice = run(&Pipeline::new().then(m).then(m), &x, shape, 2);
        assert_eq!(twice, x);
        // Applying the one-step pipeline twice gives it back as well.
        assert_eq!(run(&Pipeline::new().then(m), &once, shape, 3), x);
    }
}

#[test]
fn zero_distortions_are_the_identity() {
    let shape = [9, 8, 2];
    let x = random_image(shape, 4);
    let zero = [
        Pipeline::new().then(Affine::rotation(0.0)),
        Pipeline::new().then(Affine::shear(0.0)),
        Pipeline::new().then(Affine::scale(1.0, 1.0)),
        Pipeline::new().then(Affine::default()),
        Pipeline::new().then(Elastic::new(0.0, 4.0)),
        Pipeline::new().then(RandomCrop::new(9, 8, 0)),
    ];
    for (k, p) in zero.iter().enumerate() {
        assert_eq!(run(p, &x, shape, 5), x, "pipeline {k}");
    }
    // A displacement field of zeros through the dense path, twice.
    let mut s = Scratch::default();
    let mut y = vec![f32::NAN; x.len()];
    let mut frame = Frame::new(&x, shape, Border::Constant(7.0), &mut s);
    frame.displace(|_, _, _| {});
    frame.displace(|_, _, _| {});
    frame.affine(warp::IDENTITY, shape);
    frame.finish(&mut y);
    assert_eq!(y, x);
}

#[test]
fn a_quarter_turn_moves_pixels_where_they_belong() {
    // 90 degrees on a square image is exact: output (y, x) reads input
    // (x, w - 1 - y) (counter-clockwise in the pull with y down).
    let shape = [5, 5, 1];
    let x: Vec<f32> = (0..25).map(|v| v as f32).collect();
    let m = Affine::pull(5, 5, std::f32::consts::FRAC_PI_2, 0.0, 1.0, (0.0, 0.0));
    let mut s = Scratch::default();
    let mut y = vec![f32::NAN; 25];
    let mut frame = Frame::new(&x, shape, Border::Constant(-1.0), &mut s);
    frame.affine(m, shape);
    frame.finish(&mut y);
    let (r, q) = (0.0f32, 0.0f32);
    let src_y = m[0] * r + m[1] * q + m[2];
    let src_x = m[3] * r + m[4] * q + m[5];
    // Every output pixel is some input pixel (a permutation), up to rounding.
    let mut sorted = y.clone();
    sorted.sort_by(f32::total_cmp);
    assert_close(&sorted, &x, 0.0, 1e-4);
    assert_close(
        &y[..1],
        &[x[(src_y.round() as usize) * 5 + src_x.round() as usize]],
        0.0,
        1e-4,
    );
}

#[test]
fn bilinear_reads_between_pixels_and_fades_into_the_border() {
    let src = [0.0, 2.0, 4.0, 6.0]; // 2x2x1
    let mut out = [0.0];
    bilinear(&src, [2, 2, 1], 0.5, 0.5, Border::Constant(0.0), &mut out);
    assert_eq!(out[0], 3.0);
    // Half a pixel left of the image: half the edge pixel, half the border 10.
    bilinear(&src, [2, 2, 1], 0.0, -0.5, Border::Constant(10.0), &mut out);
    assert_eq!(out[0], 5.0);
    bilinear(&src, [2, 2, 1], 0.0, -0.5, Border::Nearest, &mut out);
    assert_eq!(out[0], 0.0);
    bilinear(&src, [2, 2, 1], 50.0, 0.0, Border::Constant(10.0), &mut out);
    assert_eq!(out[0], 10.0);
}

#[test]
fn composed_warps_equal_warps_in_turn() {
    // Elastic then mirror, sampled once through the dense map, equals the
    // elastic result mirrored afterwards (a mirror reads whole pixels).
    let shape = [12, 10, 1];
    let x = random_image(shape, 6);
    let elastic = Elastic::new(3.0, 2.0);
    let both = run(
        &Pipeline::new()
            .then(elastic.clone())
            .then(Mirror::horizontal(1.0)),
        &x,
        shape,
        9,
    );
    let first = run(&Pipeline::new().then(elastic), &x, shape, 9);
    assert_ne!(first, x);
    let then = run(
        &Pipeline::new().then(Mirror::horizontal(1.0)),
        &first,
        shape,
        9,
    );
    assert_close(&both, &then, 0.0, 1e-5);
}

#[test]
fn crop_cuts_a_window_of_the_padded_image() {
    // 4x4 image 1..16, padding 1, 4x4 window: a shift of at most one pixel.
    let shape = [4, 4, 1];
    let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
    let p = Pipeline::new()
        .then(RandomCrop::new(4, 4, 1))
        .border(Border::Constant(0.0));
    for seed in 0..20 {
        let y = run(&p, &x, shape, seed);
        let sum: f32 = y.iter().sum();
        assert!(y.iter().all(|v| v.fract() == 0.0), "whole pixels: {y:?}");
        assert!((136.0 - 4.0 * 16.0 - 3.0 * 13.0..=136.0).contains(&sum));
    }
    // A 2x3 window of a 4x4 image without padding, not firing: the centre.
    let centre = RandomCrop {
        p: 0.0,
        ..RandomCrop::new(2, 3, 0)
    };
    let y = run(&Pipeline::new().then(centre), &x, shape, 0);
    assert_eq!(y, [5.0, 6.0, 7.0, 9.0, 10.0, 11.0]);
    assert_eq!(
        Pipeline::new().then(centre).output_shape(shape).unwrap(),
        [2, 3, 1]
    );
}

#[test]
fn smooth_matches_a_direct_convolution() {
    let (h, w) = (7, 9);
    let kernel = Elastic::new(1.0, 1.3);
    let g = {
        // The kernel through the public path: smooth a single 1 in the middle.
        let mut f = vec![0.0; 31 * 31];
        f[15 * 31 + 15] = 1.0;
        let mut t = vec![0.0; 31 * 31];
        smooth(&mut f, &mut t, 31, 31, &kernel_of(&kernel), 1.0);
        f
    };
    let k = kernel_of(&kernel);
    let r = k.len() / 2;
    // The impulse response is the outer product of the 1-D kernel.
    for dy in 0..k.len() {
        for dx in 0..k.len() {
            let got = g[(15 + dy - r) * 31 + 15 + dx - r];
            assert!((got - k[dy] * k[dx]).abs() < 1e-7);
        }
    }
    let mut field = random_image([h, w, 1], 7);
    let want: Vec<f32> = (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as isize, (i % w) as isize);
            let mut v = 0.0;
            for (a, ka) in k.iter().enumerate() {
                for (b, kb) in k.iter().enumerate() {
                    let (sy, sx) = (y + a as isize - r as isize, x + b as isize - r as isize);
                    if sy >= 0 && sx >= 0 && sy < h as isize && sx < w as isize {
                        v += ka * kb * field[(sy * w as isize + sx) as usize];
                    }
                }
            }
            2.5 * v
        })
        .collect();
    // Both ways: banded GEMMs (small images) and shifted rows (large ones).
    let mut rows = field.clone();
    let mut tmp = vec![f32::NAN; h * w];
    smooth(&mut field, &mut tmp, h, w, &k, 2.5);
    assert_close(&field, &want, 1e-5, 1e-6);
    smooth_rows(&mut rows, &mut tmp, h, w, &k, 2.5);
    assert_close(&rows, &want, 1e-5, 1e-6);
}

fn kernel_of(e: &Elastic) -> Vec<f32> {
    // sigma 1.3: radius ceil(3.9) = 4, 9 taps summing to 1.
    let r = (3.0 * e.sigma()).ceil() as i32;
    let k: Vec<f32> = (-r..=r)
        .map(|d| (-(d * d) as f32 / (2.0 * e.sigma() * e.sigma())).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter().map(|v| v / s).collect()
}

#[test]
fn elastic_moves_pixels_by_about_alpha_over_the_smoothing() {
    // Each smoothed U(-1, 1) value has variance (1/3) sum g^2; with sigma 4
    // that is about (1/3) / (4 pi sigma^2) = 1.66e-3 in the middle of the
    // image, so alpha 34 moves a pixel by about 34 * 0.041 = 1.4 pixels.
    let shape = [32, 32, 1];
    let mut s = Scratch::default();
    let x = vec![0.0; 32 * 32];
    let e = Elastic::new(34.0, 4.0);
    let mut sum_sq = 0.0f64;
    let mut count = 0;
    for seed in 0..20 {
        let mut frame = Frame::new(&x, shape, Border::Constant(0.0), &mut s);
        e.apply(&mut frame, &mut Rng::new(seed));
        frame.finish(&mut vec![0.0; 1024]);
        for y in 12..20 {
            for x in 12..20 {
                // A first displacement field stays in the map as it is
                // (the map holds D(p) - p).
                let d = s.sy[y * 32 + x];
                sum_sq += (d * d) as f64;
                count += 1;
            }
        }
    }
    let rms = (sum_sq / count as f64).sqrt();
    assert!(rms > 0.9 && rms < 2.0, "rms displacement {rms}");
}

#[test]
fn pca_colour_is_the_identity_at_sigma_zero_and_moves_along_the_axes() {
    // Colours c0 + t v for random t: the covariance has rank 1 along v.
    let v = [0.6f32, 0.64, 0.48]; // a unit vector
    let mut rng = Rng::new(11);
    let shape = [4, 5, 3];
    let n = 30;
    let mut data = Vec::new();
    for _ in 0..n * 20 {
        let t = rng.normal();
        data.extend(v.iter().zip([0.2, 0.5, 0.3]).map(|(vi, c)| c + t * vi));
    }
    let pca = PcaColor::fit(&data, shape, 0.0).unwrap();
    assert!(
        pca.values[0] > 0.5 && pca.values[1] < 1e-6,
        "{:?}",
        pca.values
    );
    let dot: f32 = (0..3).map(|c| pca.vectors[0][c] * v[c]).sum();
    assert!((dot.abs() - 1.0).abs() < 1e-5);

    let x = &data[..shape.iter().product::<usize>()];
    assert_eq!(run(&Pipeline::new().then(pca), x, shape, 1), x);

    let strong = PcaColor { sigma: 0.5, ..pca };
    let y = run(&Pipeline::new().then(strong), x, shape, 1);
    // Every pixel moved by the same offset, and that offset is along v.
    let d0: Vec<f32> = (0..3).map(|c| y[c] - x[c]).collect();
    assert!(d0.iter().map(|d| d * d).sum::<f32>() > 1e-6);
    for (py, px) in y.chunks_exact(3).zip(x.chunks_exact(3)) {
        for c in 0..3 {
            assert!((py[c] - px[c] - d0[c]).abs() < 1e-5);
        }
    }
    let along: f32 = (0..3).map(|c| d0[c] * v[c]).sum();
    let norm = d0.iter().map(|d| d * d).sum::<f32>().sqrt();
    assert!((along.abs() - norm).abs() < 1e-4 * norm.max(1.0), "{d0:?}");

    // The offset is sum_i a_i l_i p_i: with a = (1, 0, 0) it is l_1 p_1.
    let o = pca.offset([1.0, 0.0, 0.0]);
    for (oc, pc) in o.iter().zip(pca.vectors[0]) {
        assert!((oc - pca.values[0] * pc).abs() < 1e-6);
    }
}

#[test]
fn bad_parameters_are_errors_that_say_why() {
    let msg = |p: Pipeline, shape: [usize; 3]| match p.output_shape(shape) {
        Err(crate::Error::InvalidArgument(m)) => m,
        other => panic!("expected an error, got {other:?}"),
    };
    let m = msg(
        Pipeline::new().then(RandomCrop::new(36, 36, 2)),
        [28, 28, 1],
    );
    assert!(
        m.contains("36x36") && m.contains("32x32") && m.contains("28 + 2*2"),
        "{m}"
    );
    let m = msg(Pipeline::new().then(Mirror::horizontal(1.5)), [8, 8, 1]);
    assert!(
        m.contains("mirror") && m.contains("1.5") && m.contains("[0, 1]"),
        "{m}"
    );
    let m = msg(Pipeline::new().then(ColorShift::new(0.1)), [8, 8, 1]);
    assert!(m.contains("3 channels") && m.contains("8x8x1"), "{m}");
    let pca = PcaColor {
        values: [1.0, 0.5, 0.1],
        vectors: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        sigma: 0.1,
        p: 1.0,
    };
    let m = msg(Pipeline::new().then(pca), [8, 8, 1]);
    assert!(m.contains("PCA colour") && m.contains("3 channels"), "{m}");
    assert!(PcaColor::fit(&[0.0; 64], [8, 8, 1], 0.1).is_err());
    let m = msg(Pipeline::new().then(Elastic::new(34.0, -1.0)), [8, 8, 1]);
    assert!(
        m.contains("elastic") && m.contains("sigma") && m.contains("-1"),
        "{m}"
    );
    let m = msg(Pipeline::new().then(ColorShift::new(-0.2)), [8, 8, 3]);
    assert!(m.contains("sigma"), "{m}");
    let m = msg(
        Pipeline::new().then(PcaColor { sigma: -0.1, ..pca }),
        [8, 8, 3],
    );
    assert!(m.contains("sigma"), "{m}");
    let m = msg(Pipeline::new().then(Affine::scale(1.2, 0.8)), [8, 8, 1]);
    assert!(m.contains("scale"), "{m}");
    // The step is named when several are chained.
    let m = msg(
        Pipeline::new()
            .then(Mirror::horizontal(0.5))
            .then(Elastic::new(1.0, 1.0).probability(-0.1)),
        [8, 8, 1],
    );
    assert!(m.starts_with("augmentation step 2 of 2: elastic"), "{m}");
}

fn digits(n: usize) -> Dataset {
    let shape = [10, 10, 1];
    let x = random_image([n * 10, 10, 1], 3);
    Dataset::new(shape, x, (0..n).map(|i| i % 3).collect(), 3).unwrap()
}

/// Every batch of an epoch, made with `workers` threads.
fn all_batches(b: &EpochBatches<'_>, workers: usize) -> Vec<(Vec<f32>, Vec<usize>)> {
    let mut got = Vec::new();
    b.for_each(workers, 2, |k, x, y| {
        assert_eq!(k, got.len());
        let crate::loss::Target::Classes(y) = y else {
            panic!("class labels come out as class labels")
        };
        got.push((x.to_vec(), y.to_vec()));
        Ok(())
    })
    .unwrap();
    got
}

#[test]
fn batches_are_the_same_whatever_the_thread_count() {
    let data = digits(37);
    let pipeline = Pipeline::new()
        .then(Affine {
            rotation: 10.0,
            shear: 5.0,
            scale: (0.9, 1.1),
            translate: 1.0,
            p: 0.8,
        })
        .then(Elastic::new(5.0, 2.0).probability(0.7))
        .then(RandomCrop::new(8, 8, 1));
    let mut order = Vec::new();
    data.epoch_order(5, 2, &mut order);
    let b = EpochBatches {
        data: &data,
        order: &order,
        batch_size: 8,
        augment: Some(&pipeline),
        seed: 5,
        epoch: 2,
    };
    let base = all_batches(&b, 0);
    assert_eq!(base.len(), 5);
    assert_eq!(base[4].1.len(), 5);
    assert_eq!(base[0].0.len(), 8 * 64);
    for workers in [1, 2, 3, 8] {
        assert_eq!(all_batches(&b, workers), base, "{workers} workers");
    }
    // Another epoch or seed draws other distortions of the same images.
    let other = all_batches(&EpochBatches { epoch: 3, ..b }, 2);
    assert_ne!(other, base);
    // An image's distortion depends on its index, not its batch.
    let shuffled = all_batches(&EpochBatches { batch_size: 3, ..b }, 2);
    let flat =
        |v: &[(Vec<f32>, Vec<usize>)]| v.iter().flat_map(|b| b.0.clone()).collect::<Vec<_>>();
    assert_eq!(flat(&shuffled), flat(&base));
    // RandomShift goes through the same queue.
    let shift = RandomShift { max: 1, fill: 0.0 };
    let s = EpochBatches {
        augment: Some(&shift),
        ..b
    };
    assert_eq!(all_batches(&s, 3), all_batches(&s, 0));
}

#[test]
fn the_queue_stops_at_the_first_error() {
    let data = digits(50);
    let order: Vec<usize> = (0..50).collect();
    let pipeline = Pipeline::new().then(Elastic::new(2.0, 1.0));
    let b = EpochBatches {
        data: &data,
        order: &order,
        batch_size: 2,
        augment: Some(&pipeline),
        seed: 1,
        epoch: 1,
    };
    for workers in [0, 1, 3] {
        let mut seen = 0;
        let r = b.for_each(workers, 1, |k, _, _| {
            seen += 1;
            if k == 4 {
                return Err(crate::Error::InvalidArgument("stop".into()));
            }
            Ok(())
        });
        assert!(r.is_err());
        assert_eq!(seen, 5);
    }
    // A crop that does not fit is an error before any batch is made.
    let bad = Pipeline::new().then(RandomCrop::new(20, 20, 0));
    let r = EpochBatches {
        augment: Some(&bad),
        ..b
    }
    .for_each(2, 1, |_, _, _| panic!("no batch"));
    assert!(r.is_err());
}

#[test]
fn image_generators_differ_by_seed_epoch_and_index() {
    let first = |s, e, i| image_rng(s, e, i).next_u64();
    let a = first(1, 1, 1);
    assert_eq!(a, first(1, 1, 1));
    assert_ne!(a, first(2, 1, 1));
    assert_ne!(a, first(1, 2, 1));
    assert_ne!(a, first(1, 1, 2));
}

#[test]
fn in_place_apply_equals_apply_into() {
    let shape = [6, 6, 3];
    let x = random_image(shape, 8);
    let p = Pipeline::new()
        .then(Affine::rotation(20.0))
        .then(ColorShift::new(0.1))
        .then(Elastic::new(2.0, 1.5))
        .border(Border::Nearest);
    let want = run(&p, &x, shape, 4);
    let mut y = x.clone();
    Augment::apply(&p, &mut y, shape, &mut Rng::new(4));
    assert_eq!(y, want);
}

#[test]
fn sampling_gives_the_same_bits_on_every_instruction_set() {
    // The vector versions (straight from the image, gathers under masks,
    // a plain loop for the end of the row) must agree with the plain loop
    // on the padded image bit for bit: odd widths, several
    // channels, points far outside, NaN and infinities.
    use super::sample::{Points, Sampler};
    use crate::isa::Isa;
    let mut rng = Rng::new(11);
    for (shape, border) in [
        ([32, 32, 1], Border::Constant(-0.4)),
        ([7, 13, 1], Border::Nearest),
        ([5, 37, 1], Border::Constant(2.0)),
        ([6, 5, 3], Border::Nearest),
        ([4, 9, 2], Border::Constant(1.0)),
    ] {
        let [h, w, c] = shape;
        let x = random_image(shape, 12);
        let mut buf = Vec::new();
        let spread = |rng: &mut Rng, n: usize| -> Vec<f32> {
            (0..w)
                .map(|_| match rng.below(20) {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    _ => rng.uniform_in(-4.0, n as f32 + 4.0),
                })
                .collect()
        };
        let (qy, qx) = (spread(&mut rng, h), spread(&mut rng, w));
        let (dy, dx): (Vec<f32>, Vec<f32>) = (0..w)
            .map(|_| (rng.uniform_in(-3.0, 3.0), rng.uniform_in(-3.0, 3.0)))
            .unzip();
        let a = Affine::pull(h, w, 0.3, 0.1, 0.9, (0.5, -1.0));
        for (y, points) in [
            (h / 2, Points::Grid),
            (0, Points::Displaced(&dy, &dx)),
            (h - 1, Points::Mapped(&qy, &qx)),
        ] {
            for x0 in [0, 1] {
                let n = w - x0;
                let points = match points {
                    Points::Grid => Points::Grid,
                    Points::Displaced(p, q) => Points::Displaced(&p[x0..], &q[x0..]),
                    Points::Mapped(p, q) => Points::Mapped(&p[x0..], &q[x0..]),
                };
                let mut want = vec![f32::NAN; n * c];
                Sampler::new(Isa::Portable, &x, shape, border, &mut buf)
                    .row(a, y, x0, points, &mut want);
                assert!(want.iter().all(|v| v.is_finite()));
                for isa in Isa::supported_here() {
                    let mut got = vec![f32::NAN; n * c];
                    Sampler::new(isa, &x, shape, border, &mut buf).row(a, y, x0, points, &mut got);
                    let (gb, wb): (Vec<u32>, Vec<u32>) = (
                        got.iter().map(|v| v.to_bits()).collect(),
                        want.iter().map(|v| v.to_bits()).collect(),
                    );
                    assert_eq!(gb, wb, "{isa}, shape {shape:?}, row {y}, from x {x0}");
                }
            }
        }
    }
}

/// `G G^T` for the band matrix of `kernel` on `n` points (zeros outside).
fn smoothing_squared(n: usize, kernel: &[f32]) -> Vec<f64> {
    let r = kernel.len() / 2;
    let g = |i: usize, j: usize| {
        let d = j as isize - i as isize;
        if d.unsigned_abs() <= r {
            kernel[(d + r as isize) as usize] as f64
        } else {
            0.0
        }
    };
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n).map(|m| g(i, m) * g(m, j)).sum();
        }
    }
    out
}

#[test]
fn spectral_fields_have_the_covariance_of_smoothed_noise() {
    // The field drawn in the eigenbasis is alpha A Z B with Z normal of
    // variance 1/3 (that of U(-1, 1)): its covariance is (alpha^2 / 3) (A A^T) (x) (B^T B), which must be
    // that of alpha G_h X G_w for per-pixel noise X, (alpha^2 / 3)
    // G_h^2 (x) G_w^2. A 20x28 field (not square, so that the axes cannot
    // be swapped unseen) with sigma 3: the basis keeps only a few directions.
    let (h, w) = (20, 28);
    let e = Elastic::new(2.0, 3.0);
    let k = kernel_of(&e);
    let s = Spectral::of(h, w, &k).expect("sigma 3 on 20x28 is drawn in the eigenbasis");
    let (kh, kw) = s.ranks();
    assert!(kh <= 10 && kw <= 12, "ranks {kh} x {kw}");
    for (n, want) in [(h, smoothing_squared(h, &k)), (w, smoothing_squared(w, &k))] {
        let got = s.axis_covariance(n == h);
        let peak = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (g, v) in got.iter().zip(&want) {
            assert!((g - v).abs() < 1e-3 * peak, "{g} vs {v}, side {n}");
        }
    }
    // And the drawn fields have that variance, pixel by pixel (4000 pairs
    // of fields; the estimate's relative error is about 2%).
    let alpha = 2.0;
    let (gh, gw) = (smoothing_squared(h, &k), smoothing_squared(w, &k));
    let mut sum_sq = vec![0f64; 2 * h * w];
    let mut sum_4 = vec![0f64; 2 * h * w];
    let draws = 4000;
    let (mut dy, mut dx, mut tmp) = (vec![0.0; h * w], vec![0.0; h * w], vec![0.0; h * w]);
    for seed in 0..draws {
        s.draw(&mut dy, &mut dx, &mut tmp, alpha, &mut Rng::new(seed));
        for ((acc, acc4), v) in sum_sq.iter_mut().zip(&mut sum_4).zip(dy.iter().chain(&dx)) {
            *acc += (*v as f64).powi(2);
            *acc4 += (*v as f64).powi(4);
        }
    }
    let mut worst = 0f64;
    for y in 0..h {
        for x in 0..w {
            let want = (alpha as f64).powi(2) / 3.0 * gh[y * h + y] * gw[x * w + x];
            for field in 0..2 {
                let got = sum_sq[field * h * w + y * w + x] / draws as f64;
                worst = worst.max((got / want - 1.0).abs());
            }
        }
    }
    assert!(
        worst < 0.12,
        "worst relative error of a pixel's variance: {worst}"
    );
    // Smoothed noise is a sum of many small terms, so normal: its excess
    // kurtosis is about 0, where coefficients drawn uniform would give
    // about -0.2 (the first direction carries much of the variance).
    let kurtosis = sum_sq
        .iter()
        .zip(&sum_4)
        .map(|(m2, m4)| (m4 / draws as f64) / (m2 / draws as f64).powi(2) - 3.0)
        .sum::<f64>()
        / sum_sq.len() as f64;
    assert!(
        kurtosis.abs() < 0.08,
        "mean excess kurtosis of the pixels: {kurtosis}"
    );
}

#[test]
fn rough_fields_are_smoothed_per_pixel() {
    // sigma 0.8 keeps most directions of a 16-pixel side: the noise is
    // then drawn per pixel and filtered as written.
    let e = Elastic::new(2.0, 0.8);
    assert!(Spectral::of(16, 16, &kernel_of(&e)).is_none());
    // Past the largest side diagonalised, too.
    let e = Elastic::new(2.0, 8.0);
    assert!(Spectral::of(200, 16, &kernel_of(&e)).is_none());
}

#[test]
fn near_normal_values_have_the_moments_of_a_normal() {
    let mut v = vec![0.0f32; 200_000];
    super::elastic::near_normal(&mut v, 0.5, &mut Rng::new(3));
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let m2 = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let m4 = v.iter().map(|&x| (x as f64 - mean).powi(4)).sum::<f64>() / n;
    // Standard errors: 0.5 / sqrt(n) = 0.0011 for the mean, 0.3% for the
    // variance, 0.011 for the kurtosis (-0.1 for twelve uniforms).
    assert!(mean.abs() < 0.005, "mean {mean}");
    assert!((m2 / 0.25 - 1.0).abs() < 0.015, "variance {m2}");
    let kurtosis = m4 / (m2 * m2) - 3.0;
    assert!((kurtosis + 0.1).abs() < 0.05, "excess kurtosis {kurtosis}");
    assert!(
        v.iter().all(|x| x.abs() <= 3.0),
        "bounded at 6 standard deviations"
    );
}

/// A 24x20 RGB picture of three regions whose pixels are their class / 10
/// in every channel (class 0 is the background), and its label map.
fn regions() -> (Vec<f32>, Vec<usize>) {
    let (h, w) = (24, 20);
    let class = |y: usize, x: usize| match (y, x) {
        (4..=13, 2..=9) => 1,
        (10..=21, 10..=17) => 2,
        _ => 0,
    };
    let labels: Vec<usize> = (0..h * w).map(|i| class(i / w, i % w)).collect();
    let pixels = labels.iter().flat_map(|&k| [k as f32 / 10.0; 3]).collect();
    (pixels, labels)
}

/// How many pixels of `out` (RGB) show their label's value (k / 10), of
/// those at least two pixels from another label (a bilinear pixel on an
/// edge blends two regions, and two nearest-pixel pulls may each move an
/// edge by half a pixel).
fn agreeing(out: &[f32], labels: &[usize], w: usize) -> (usize, usize) {
    let h = labels.len() / w;
    let (mut agree, mut interior) = (0, 0);
    for y in 2..h - 2 {
        for x in 2..w - 2 {
            let k = labels[y * w + x];
            let same = (y - 2..=y + 2).all(|r| (x - 2..=x + 2).all(|c| labels[r * w + c] == k));
            if same {
                interior += 1;
                agree += usize::from((out[(y * w + x) * 3] - k as f32 / 10.0).abs() < 1e-3);
            }
        }
    }
    (agree, interior)
}

#[test]
fn label_maps_move_with_the_pixels() {
    let shape = [24, 20, 3];
    let (x, labels) = regions();
    // A mirror exactly: the labels mirror too.
    let mirror = Pipeline::new().then(Mirror::horizontal(1.0));
    let mut out = vec![f32::NAN; x.len()];
    let mut moved = labels.clone();
    mirror.apply_into_with_labels(&x, shape, &mut out, &mut moved, &mut Rng::new(1));
    for y in 0..24 {
        for c in 0..20 {
            assert_eq!(moved[y * 20 + c], labels[y * 20 + 19 - c]);
        }
    }
    // Rotation, shear, scale and shift, a colour step that makes the frame
    // resolve its pixels half way (sigma 0 leaves the values), then an
    // elastic warp: pixel values and labels still tell the same story
    // away from the regions' edges, for several draws.
    let warp = Pipeline::new()
        .then(Affine {
            rotation: 20.0,
            shear: 10.0,
            scale: (0.9, 1.1),
            translate: 1.5,
            p: 1.0,
        })
        .then(ColorShift::new(0.0))
        .then(Elastic::new(8.0, 3.0))
        .label_border(0);
    assert_eq!(warp.moves_label_maps(), Ok(()));
    for seed in 0..5 {
        let mut moved = labels.clone();
        warp.apply_into_with_labels(&x, shape, &mut out, &mut moved, &mut Rng::new(seed));
        assert_ne!(moved, labels, "seed {seed}: the labels did not move");
        let (agree, interior) = agreeing(&out, &moved, 20);
        assert!(interior > 50, "seed {seed}: {interior} interior pixels");
        assert_eq!(
            agree, interior,
            "seed {seed}: pixels that disagree with their label"
        );
        // The same draws without labels give the same pixels.
        assert_eq!(run(&warp, &x, shape, seed), out);
    }
}

#[test]
fn a_constant_border_needs_a_class_for_the_label_map() {
    let p = Pipeline::new().then(Affine::rotation(10.0));
    let why = p.moves_label_maps().unwrap_err();
    assert!(why.contains("label_border"), "{why}");
    assert_eq!(p.clone().label_border(0).moves_label_maps(), Ok(()));
    assert_eq!(p.border(Border::Nearest).moves_label_maps(), Ok(()));
    // Colour alone moves nothing, so it needs no class.
    assert_eq!(
        Pipeline::new()
            .then(ColorShift::new(0.1))
            .moves_label_maps(),
        Ok(())
    );
}
