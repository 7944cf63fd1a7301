//! Inverted dropout: in training each element is kept with probability
//! `1 - rate` and scaled by `1 / (1 - rate)`, so the expected output equals
//! the input and inference is the identity (the layer is skipped).
//!
//! Whether element `i` is kept depends only on `(seed, i)`: its uniform
//! number is SplitMix64 of the `i`-th step of a SplitMix64 stream started
//! from the seed. The mask is therefore the same for any thread count and
//! any split of the work, and a step can be replayed from its seed.

use crate::error::{check_len, Error, Result};
use crate::layers::activation::{par_rows, par_rows2};
use crate::rng::splitmix64;

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The 24-bit uniforms of elements `2p` and `2p + 1`: the top and the
/// middle 24 bits of one hash (one 64-bit hash per pair halves the cost).
#[inline(always)]
fn pair(base: u64, p: usize) -> (u32, u32) {
    let h = splitmix64(base.wrapping_add((p as u64).wrapping_mul(GAMMA)));
    ((h >> 40) as u32, ((h >> 8) & 0xFF_FFFF) as u32)
}

/// Writes the mask for elements `start..start + mask.len()`: `keep` where
/// the element's 24-bit uniform is at least `threshold`, else 0.
fn fill(threshold: u32, keep: f32, base: u64, start: usize, mask: &mut [f32]) {
    let pick = |u: u32| if u >= threshold { keep } else { 0.0 };
    let end = start + mask.len();
    // An odd first element is the second half of its pair.
    let head = (start % 2).min(mask.len());
    let (first, rest) = mask.split_at_mut(head);
    if let [m] = first {
        *m = pick(pair(base, start / 2).1);
    }
    let mut twos = rest.chunks_exact_mut(2);
    let p0 = (start + head) / 2;
    for (n, two) in (&mut twos).enumerate() {
        let (a, b) = pair(base, p0 + n);
        two[0] = pick(a);
        two[1] = pick(b);
    }
    // An even last element is the first half of its pair.
    if let [m] = twos.into_remainder() {
        *m = pick(pair(base, (end - 1) / 2).0);
    }
}

/// Relative cost of one element (a hash and a compare) in element-operations.
const COST: usize = 4;

/// Inverted dropout in training mode: `mask[i]` is 0 (probability `rate`)
/// or `1 / (1 - rate)`, and `y = x * mask`. Overwrites y and mask.
/// `rate` must be in [0, 1); 0 makes `y = x`.
/// x, y, mask: same length
pub fn forward_train(
    rate: f32,
    seed: u64,
    x: &[f32],
    y: &mut [f32],
    mask: &mut [f32],
) -> Result<()> {
    forward_train_at(rate, seed, 0, x, y, mask)
}

/// [`forward_train`] on a part of a larger tensor that starts at element
/// `first`: element `i` gets the mask that element `first + i` of the
/// whole tensor would get. One rank of a data-parallel step passes its shard's offset
/// in the global batch, so the masks are those of one process running the
/// whole batch. Overwrites y and mask.
/// x, y, mask: same length
pub fn forward_train_at(
    rate: f32,
    seed: u64,
    first: usize,
    x: &[f32],
    y: &mut [f32],
    mask: &mut [f32],
) -> Result<()> {
    if !(0.0..1.0).contains(&rate) {
        return Err(Error::InvalidArgument(format!(
            "dropout: rate must be in [0, 1), got {rate}"
        )));
    }
    check_len("dropout y", y.len(), x.len())?;
    check_len("dropout mask", mask.len(), x.len())?;
    let base = splitmix64(seed);
    // u / 2^24 >= rate  <=>  u >= rate * 2^24 (exact: a power-of-two
    // scale), and for an integer u, u >= ceil(rate * 2^24).
    let threshold = (rate * (1u32 << 24) as f32).ceil() as u32;
    let keep = 1.0 / (1.0 - rate);
    par_rows2(y, mask, x.len(), x.len() * COST, |start, y, mask| {
        fill(threshold, keep, base, first + start, mask);
        let x = &x[start..start + y.len()];
        y.iter_mut()
            .zip(x)
            .zip(mask.iter())
            .for_each(|((o, &v), &m)| *o = v * m);
    });
    Ok(())
}

/// `dx = dy * mask`. Overwrites dx.
/// mask, dy, dx: same length
pub fn backward(mask: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<()> {
    check_len("dropout dy", dy.len(), mask.len())?;
    check_len("dropout dx", dx.len(), mask.len())?;
    par_rows(dx, mask.len(), mask.len(), |start, dx| {
        let (m, d) = (&mask[start..start + dx.len()], &dy[start..start + dx.len()]);
        dx.iter_mut()
            .zip(m)
            .zip(d)
            .for_each(|((o, &m), &d)| *o = d * m);
    });
    Ok(())
}

/// For tests: the mask of [`forward_train`], one element at a time.
#[cfg(any(test, feature = "testing"))]
pub mod reference {
    use crate::rng::splitmix64;

    /// `mask[i]` for `len` elements, straight from the definition.
    pub fn mask(rate: f32, seed: u64, len: usize) -> Vec<f32> {
        let base = splitmix64(seed);
        (0..len)
            .map(|i| {
                let h = splitmix64(base.wrapping_add((i as u64 / 2).wrapping_mul(super::GAMMA)));
                let bits = if i % 2 == 0 {
                    h >> 40
                } else {
                    (h >> 8) & 0xFF_FFFF
                };
                let u = bits as f64 / (1u64 << 24) as f64;
                if u >= rate as f64 {
                    1.0 / (1.0 - rate)
                } else {
                    0.0
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel;
    use crate::testing::{assert_close, dot, gradcheck, nan_filled, random};

    fn run(rate: f32, seed: u64, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (mut y, mut mask) = (nan_filled(x.len()), nan_filled(x.len()));
        forward_train(rate, seed, x, &mut y, &mut mask).unwrap();
        (y, mask)
    }

    #[test]
    fn keep_fraction_and_expectation() {
        parallel::set_threads(2);
        let n = 1 << 20;
        let ones = vec![1.0; n];
        for rate in [0.1, 0.25, 0.5, 0.9] {
            let (y, mask) = run(rate, 42, &ones);
            let kept = mask.iter().filter(|&&m| m != 0.0).count() as f64 / n as f64;
            // Binomial: standard deviation sqrt(p (1 - p) / n) <= 0.0005; allow 6 of them.
            assert!(
                (kept - (1.0 - rate as f64)).abs() < 3e-3,
                "rate {rate}: kept {kept}"
            );
            // Inverted dropout preserves the expectation: mean(y) ~ mean(x) = 1.
            let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            assert!(
                (mean - 1.0).abs() < 3e-3 / (1.0 - rate as f64),
                "rate {rate}: mean {mean}"
            );
            assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0 / (1.0 - rate)));
            // Neighbours are independent: both kept with probability (1 - rate)^2.
            let both = mask
                .windows(2)
                .filter(|w| w[0] != 0.0 && w[1] != 0.0)
                .count() as f64
                / (n - 1) as f64;
            assert!(
                (both - (1.0 - rate as f64).powi(2)).abs() < 4e-3,
                "rate {rate}: both {both}"
            );
        }
    }

    #[test]
    fn parts_at_their_offsets_give_the_whole_mask() {
        // Shards of a data-parallel step: odd and even offsets and lengths.
        let x = random(1001, 3);
        let (y, mask) = run(0.4, 11, &x);
        for (a, b) in [(0, 333), (333, 700), (700, 1001), (1, 2), (2, 2)] {
            let (mut yp, mut mp) = (nan_filled(b - a), nan_filled(b - a));
            forward_train_at(0.4, 11, a, &x[a..b], &mut yp, &mut mp).unwrap();
            assert_eq!((&yp[..], &mp[..]), (&y[a..b], &mask[a..b]), "part {a}..{b}");
        }
    }

    #[test]
    fn mask_depends_only_on_seed_and_index() {
        let x = random(300_000, 1);
        parallel::set_threads(2);
        let (y2, m2) = run(0.3, 7, &x);
        parallel::set_threads(1);
        let (y1, m1) = run(0.3, 7, &x);
        parallel::set_threads(2);
        assert_eq!((&y1, &m1), (&y2, &m2), "thread count changed the mask");
        assert_eq!(m1, reference::mask(0.3, 7, x.len()));
        // A prefix of the tensor gets the prefix of the mask.
        let (_, short) = run(0.3, 7, &x[..1000]);
        assert_eq!(short, m1[..1000]);
        let (_, other) = run(0.3, 8, &x);
        assert_ne!(other, m1, "another seed gives another mask");
        let expected: Vec<f32> = x.iter().zip(&m1).map(|(a, b)| a * b).collect();
        assert_eq!(y1, expected);
    }

    /// Blocks of the mask starting and ending at odd and even indices (as
    /// threads cut it) agree with the whole.
    #[test]
    fn any_block_of_the_mask_matches() {
        let whole = reference::mask(0.5, 9, 40);
        let (threshold, base) = (1 << 23, splitmix64(9));
        for start in 0..6 {
            for len in 0..7 {
                let mut m = nan_filled(len);
                fill(threshold, 2.0, base, start, &mut m);
                assert_eq!(m, whole[start..start + len], "start {start}, len {len}");
            }
        }
    }

    #[test]
    fn rate_zero_is_the_identity() {
        let x = random(1000, 2);
        let (y, mask) = run(0.0, 3, &x);
        assert_eq!(y, x);
        assert!(mask.iter().all(|&m| m == 1.0));
    }

    #[test]
    fn backward_and_gradcheck() {
        let mut x = random(200, 4);
        let r = random(200, 5);
        let (_, mask) = run(0.4, 6, &x);
        let mut dx = nan_filled(200);
        backward(&mask, &r, &mut dx).unwrap();
        let want: Vec<f32> = r.iter().zip(&mask).map(|(a, b)| a * b).collect();
        assert_close(&dx, &want, 0.0, 0.0);
        gradcheck(&mut x, &dx, 1e-3, 1e-3, None, |x| {
            dot(&run(0.4, 6, x).0, &r)
        });
    }

    #[test]
    fn bad_rates_and_shapes_are_errors() {
        let (x, mut y, mut m) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
        for rate in [1.0, 1.5, -0.1, f32::NAN, f32::INFINITY] {
            let e = forward_train(rate, 0, &x, &mut y, &mut m).unwrap_err();
            assert!(e.to_string().contains("rate"), "{e}");
        }
        let msg = |r: Result<()>| r.unwrap_err().to_string();
        assert!(msg(forward_train(0.5, 0, &x, &mut y[1..], &mut m)).contains("dropout y"));
        assert!(msg(forward_train(0.5, 0, &x, &mut y, &mut m[1..])).contains("dropout mask"));
        assert!(msg(backward(&m, &x[1..], &mut y)).contains("dropout dy"));
        assert!(msg(backward(&m, &x, &mut y[1..])).contains("dropout dx"));
        forward_train(0.5, 0, &[], &mut [], &mut []).unwrap();
    }
}
