//! Geometry of volume layers (`Conv3d`, `MaxPool3d`, `AvgPool3d`) over
//! NDHWC tensors: the 2-D geometry with a depth axis in front. Each axis
//! follows the same rule as an image's ([`axis_dilated`]): output
//! `floor((n + 2p - d (f - 1) - 1) / s) + 1`, or `ceil(n / s)` under
//! `same` with the odd padding at the end.

use crate::error::{Error, Result};
use crate::geom::{axis_dilated, effective_window, Padding};

/// One 3-D convolution over NDHWC tensors, in `groups` channel groups:
/// output voxel `(oz, oy, ox)` reads input `(oz sd + kz dd - pad_front,
/// oy sh + ky dh - pad_top, ox sw + kx dw - pad_left)`.
/// x: [n, in_d, in_h, in_w, c_in]  w: [fd, fh, fw, c_in / groups, c_out]  y: [n, out_d, out_h, out_w, c_out]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv3dGeom {
    /// Input depth (frames, slices).
    pub in_d: usize,
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output depth.
    pub out_d: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Kernel depth.
    pub fd: usize,
    /// Kernel rows.
    pub fh: usize,
    /// Kernel columns.
    pub fw: usize,
    /// Stride along depth.
    pub sd: usize,
    /// Stride between output rows.
    pub sh: usize,
    /// Stride between output columns.
    pub sw: usize,
    /// Zero slices before the input; those after follow from `out_d`.
    pub pad_front: usize,
    /// Zero rows above the input.
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
    /// Slices between kernel taps (1: an ordinary convolution).
    pub dd: usize,
    /// Rows between kernel taps.
    pub dh: usize,
    /// Columns between kernel taps.
    pub dw: usize,
    /// Channel groups: output channel `co` reads only the `c_in / groups`
    /// input channels of group `co / (c_out / groups)`.
    pub groups: usize,
}

/// Checks that `out` windows of `f` taps `d` apart and stride `s`, after
/// `pad` in front, fit an axis of `n` (with at most one more padded cell at
/// the end than in front, as `same` with an odd total gives) and that one
/// more would not.
fn axis_consistent(
    what: &str,
    n: usize,
    out: usize,
    f: usize,
    s: usize,
    d: usize,
    pad: usize,
) -> Result<()> {
    let bad = || {
        Error::InvalidArgument(format!(
            "{what}: output {out} is not the size of input {n} with window {f}, stride {s}, dilation {d}, padding {pad}"
        ))
    };
    let span = effective_window(f, d)?;
    let padded = pad
        .checked_mul(2)
        .and_then(|v| v.checked_add(n))
        .ok_or_else(bad)?;
    let last = (out - 1)
        .checked_mul(s)
        .and_then(|v| v.checked_add(span))
        .ok_or_else(bad)?;
    if last > padded + 1 || last + s <= padded {
        return Err(bad());
    }
    Ok(())
}

fn positive(what: &str, fields: &[(&str, usize)]) -> Result<()> {
    match fields.iter().find(|(_, v)| *v == 0) {
        Some((name, _)) => Err(Error::InvalidArgument(format!(
            "{what}: {name} must be positive"
        ))),
        None => Ok(()),
    }
}

fn product(what: &str, factors: &[usize]) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| Error::InvalidArgument(format!("{what}: arithmetic overflow in a length")))
}

impl Conv3dGeom {
    /// Checked construction from the layer's hyper-parameters, each axis
    /// `[depth, rows, columns]`.
    pub fn new(
        input: [usize; 4],
        c_out: usize,
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [Padding; 3],
        dilation: [usize; 3],
        groups: usize,
    ) -> Result<Self> {
        let [in_d, in_h, in_w, c_in] = input;
        let mut out = [0; 3];
        let mut pad = [0; 3];
        for a in 0..3 {
            (out[a], pad[a]) =
                axis_dilated(input[a], kernel[a], stride[a], dilation[a], padding[a])?;
        }
        let g = Conv3dGeom {
            in_d,
            in_h,
            in_w,
            c_in,
            out_d: out[0],
            out_h: out[1],
            out_w: out[2],
            c_out,
            fd: kernel[0],
            fh: kernel[1],
            fw: kernel[2],
            sd: stride[0],
            sh: stride[1],
            sw: stride[2],
            pad_front: pad[0],
            pad_top: pad[1],
            pad_left: pad[2],
            dd: dilation[0],
            dh: dilation[1],
            dw: dilation[2],
            groups,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks a geometry built by hand (the macro emits literals): every
    /// size positive, `groups` dividing both channel counts, each output
    /// size consistent with its axis, and every length representable.
    pub fn validate(&self) -> Result<()> {
        let g = self;
        positive(
            "conv3d",
            &[
                ("in_d", g.in_d),
                ("in_h", g.in_h),
                ("in_w", g.in_w),
                ("c_in", g.c_in),
                ("out_d", g.out_d),
                ("out_h", g.out_h),
                ("out_w", g.out_w),
                ("c_out", g.c_out),
                ("fd", g.fd),
                ("fh", g.fh),
                ("fw", g.fw),
                ("sd", g.sd),
                ("sh", g.sh),
                ("sw", g.sw),
                ("dd", g.dd),
                ("dh", g.dh),
                ("dw", g.dw),
                ("groups", g.groups),
            ],
        )?;
        if !g.c_in.is_multiple_of(g.groups) || !g.c_out.is_multiple_of(g.groups) {
            return Err(Error::InvalidArgument(format!(
                "conv3d: groups {} must divide c_in {} and c_out {}",
                g.groups, g.c_in, g.c_out
            )));
        }
        axis_consistent(
            "conv3d depth",
            g.in_d,
            g.out_d,
            g.fd,
            g.sd,
            g.dd,
            g.pad_front,
        )?;
        axis_consistent("conv3d rows", g.in_h, g.out_h, g.fh, g.sh, g.dh, g.pad_top)?;
        axis_consistent(
            "conv3d columns",
            g.in_w,
            g.out_w,
            g.fw,
            g.sw,
            g.dw,
            g.pad_left,
        )?;
        product("conv3d", &[g.in_d, g.in_h, g.in_w, g.c_in])?;
        product("conv3d", &[g.out_d, g.out_h, g.out_w, g.c_out])?;
        product("conv3d", &[g.fd, g.fh, g.fw, g.c_in, g.c_out])?;
        Ok(())
    }

    /// Elements of one input volume.
    pub const fn in_len(&self) -> usize {
        self.in_d * self.in_h * self.in_w * self.c_in
    }
    /// Elements of one output volume.
    pub const fn out_len(&self) -> usize {
        self.out_d * self.out_h * self.out_w * self.c_out
    }
    /// Output voxels of one volume.
    pub const fn out_voxels(&self) -> usize {
        self.out_d * self.out_h * self.out_w
    }
    /// Input channels per group.
    pub const fn c_group(&self) -> usize {
        self.c_in / self.groups
    }
    /// The GEMM's inner dimension: one im2col row of one group,
    /// `fd * fh * fw * c_in / groups`.
    pub const fn k(&self) -> usize {
        self.fd * self.fh * self.fw * self.c_group()
    }
    /// Elements of the weight tensor `[fd, fh, fw, c_in / groups, c_out]`.
    pub const fn weight_len(&self) -> usize {
        self.k() * self.c_out
    }
    /// Multiply-adds of one volume.
    pub const fn macs(&self) -> usize {
        self.out_voxels() * self.c_out * self.k()
    }
}

/// One 3-D pooling window over NDHWC tensors; channels are pooled
/// separately. Padded cells never win the max and are not counted in the
/// average, as for [`crate::PoolGeom`].
/// x: [n, in_d, in_h, in_w, c]  y: [n, out_d, out_h, out_w, c]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool3dGeom {
    /// Input depth.
    pub in_d: usize,
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Channels (the same in and out).
    pub c: usize,
    /// Output depth.
    pub out_d: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Window depth.
    pub fd: usize,
    /// Window rows.
    pub fh: usize,
    /// Window columns.
    pub fw: usize,
    /// Stride along depth.
    pub sd: usize,
    /// Stride between output rows.
    pub sh: usize,
    /// Stride between output columns.
    pub sw: usize,
    /// Padded slices before the input.
    pub pad_front: usize,
    /// Padded rows above the input.
    pub pad_top: usize,
    /// Padded columns left of the input.
    pub pad_left: usize,
}

impl Pool3dGeom {
    /// Checked construction from the layer's hyper-parameters, each axis
    /// `[depth, rows, columns]`.
    pub fn new(
        input: [usize; 4],
        size: [usize; 3],
        stride: [usize; 3],
        padding: [Padding; 3],
    ) -> Result<Self> {
        let [in_d, in_h, in_w, c] = input;
        let mut out = [0; 3];
        let mut pad = [0; 3];
        for a in 0..3 {
            (out[a], pad[a]) = axis_dilated(input[a], size[a], stride[a], 1, padding[a])?;
        }
        let g = Pool3dGeom {
            in_d,
            in_h,
            in_w,
            c,
            out_d: out[0],
            out_h: out[1],
            out_w: out[2],
            fd: size[0],
            fh: size[1],
            fw: size[2],
            sd: stride[0],
            sh: stride[1],
            sw: stride[2],
            pad_front: pad[0],
            pad_top: pad[1],
            pad_left: pad[2],
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks a geometry built by hand, as [`Conv3dGeom::validate`] does.
    pub fn validate(&self) -> Result<()> {
        let g = self;
        positive(
            "pool3d",
            &[
                ("in_d", g.in_d),
                ("in_h", g.in_h),
                ("in_w", g.in_w),
                ("c", g.c),
                ("out_d", g.out_d),
                ("out_h", g.out_h),
                ("out_w", g.out_w),
                ("fd", g.fd),
                ("fh", g.fh),
                ("fw", g.fw),
                ("sd", g.sd),
                ("sh", g.sh),
                ("sw", g.sw),
            ],
        )?;
        axis_consistent("pool3d depth", g.in_d, g.out_d, g.fd, g.sd, 1, g.pad_front)?;
        axis_consistent("pool3d rows", g.in_h, g.out_h, g.fh, g.sh, 1, g.pad_top)?;
        axis_consistent("pool3d columns", g.in_w, g.out_w, g.fw, g.sw, 1, g.pad_left)?;
        product("pool3d", &[g.in_d, g.in_h, g.in_w, g.c])?;
        product("pool3d", &[g.out_d, g.out_h, g.out_w, g.c])?;
        Ok(())
    }

    /// Elements of one input volume.
    pub const fn in_len(&self) -> usize {
        self.in_d * self.in_h * self.in_w * self.c
    }
    /// Elements of one output volume.
    pub const fn out_len(&self) -> usize {
        self.out_d * self.out_h * self.out_w * self.c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PyTorch's Conv3d docs: D_out = floor((D_in + 2 padding - dilation
    // (kernel_size - 1) - 1) / stride + 1); their example Conv3d(16, 33,
    // (3, 5, 2), stride=(2, 1, 1), padding=(4, 2, 0)) on 10x50x100 gives
    // floor((10 + 8 - 3) / 2 + 1) = 8, 50, 99.
    #[test]
    fn output_size_is_pytorchs() {
        let p = Padding::Explicit;
        let g = Conv3dGeom::new(
            [10, 50, 100, 16],
            33,
            [3, 5, 2],
            [2, 1, 1],
            [p(4), p(2), p(0)],
            [1, 1, 1],
            1,
        )
        .unwrap();
        assert_eq!((g.out_d, g.out_h, g.out_w), (8, 50, 99));
        assert_eq!(g.weight_len(), 3 * 5 * 2 * 16 * 33);
        // `same` with stride 2 on an odd axis: ceil(7 / 2) = 4.
        let s = Padding::Same;
        let g = Pool3dGeom::new([7, 8, 9, 2], [2, 2, 2], [2, 2, 2], [s, s, s]).unwrap();
        assert_eq!((g.out_d, g.out_h, g.out_w), (4, 4, 5));
        let bad = Conv3dGeom {
            out_d: 10,
            ..Conv3dGeom::new([10, 5, 5, 4], 4, [3, 3, 3], [1, 1, 1], [p(0); 3], [1; 3], 2).unwrap()
        };
        assert!(bad.validate().is_err());
        assert!(Conv3dGeom::new([4, 4, 4, 3], 4, [1; 3], [1; 3], [p(0); 3], [1; 3], 2).is_err());
    }
}
