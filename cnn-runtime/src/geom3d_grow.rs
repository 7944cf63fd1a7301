//! Geometry of the volume layers that grow a map (`ConvTranspose3d`,
//! `Upsample` on `[d, h, w, c]`), over NDHWC tensors: the 2-D ones with a
//! depth axis in front, each axis by the same rule as an image's
//! ([`transposed_axis`]: `(n - 1) s - 2p + d (f - 1) + output_padding +
//! 1`; upsampling `n s`).

use crate::error::{Error, Result};
use crate::geom::{transposed_axis, Interpolation};
use crate::geom3d::Conv3dGeom;

/// One transposed 3-D convolution over NDHWC tensors (PyTorch's
/// `ConvTranspose3d`), in `groups` channel groups: input voxel `(iz, iy,
/// ix)` spreads the kernel over output `(iz sd + kz dd - pad_front,
/// iy sh + ky dh - pad_top, ix sw + kx dw - pad_left)`.
/// x: [n, in_d, in_h, in_w, c_in]  w: [fd, fh, fw, c_out / groups, c_in]  y: [n, out_d, out_h, out_w, c_out]
///
/// It is the input gradient of the convolution [`ConvTranspose3dGeom::conv`]
/// from `[out_d, out_h, out_w, c_out]` to `[in_d, in_h, in_w, c_in]`, and
/// its weights are that convolution's, which is why they read `[fd, fh,
/// fw, c_out / groups, c_in]` (PyTorch's `[c_in, c_out / groups, fd, fh,
/// fw]` permuted as a convolution's is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose3dGeom {
    /// Input depth.
    pub in_d: usize,
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output depth: `(in_d - 1) sd - 2 pad_front + dd (fd - 1) + out_pad_d + 1`.
    pub out_d: usize,
    /// Output rows, by the same rule.
    pub out_h: usize,
    /// Output columns, by the same rule.
    pub out_w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Kernel depth.
    pub fd: usize,
    /// Kernel rows.
    pub fh: usize,
    /// Kernel columns.
    pub fw: usize,
    /// Output frames between the spreads of two neighbouring input frames.
    pub sd: usize,
    /// Output rows between those of two neighbouring input rows.
    pub sh: usize,
    /// Output columns between those of two neighbouring input columns.
    pub sw: usize,
    /// Frames cut from the front and the back of the full output
    /// (PyTorch's `padding`).
    pub pad_front: usize,
    /// Rows cut from the top and the bottom.
    pub pad_top: usize,
    /// Columns cut from the left and the right.
    pub pad_left: usize,
    /// Frames between kernel taps.
    pub dd: usize,
    /// Rows between kernel taps.
    pub dh: usize,
    /// Columns between kernel taps.
    pub dw: usize,
    /// Frames added at the back (PyTorch's `output_padding`).
    pub out_pad_d: usize,
    /// Rows added at the bottom.
    pub out_pad_h: usize,
    /// Columns added at the right.
    pub out_pad_w: usize,
    /// Channel groups: input channels `[k c_in / groups, (k + 1) c_in /
    /// groups)` feed output channels `[k c_out / groups, (k + 1) c_out /
    /// groups)`.
    pub groups: usize,
}

impl ConvTranspose3dGeom {
    /// Checked construction from the layer's hyper-parameters, each axis
    /// `[depth, rows, columns]`.
    #[allow(clippy::too_many_arguments)] // one argument per hyper-parameter, as PyTorch's
    pub fn new(
        input: [usize; 4],
        c_out: usize,
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [usize; 3],
        output_padding: [usize; 3],
        dilation: [usize; 3],
        groups: usize,
    ) -> Result<Self> {
        let [in_d, in_h, in_w, c_in] = input;
        let mut out = [0; 3];
        for a in 0..3 {
            out[a] = transposed_axis(
                input[a],
                kernel[a],
                stride[a],
                dilation[a],
                padding[a],
                output_padding[a],
            )?;
        }
        let g = ConvTranspose3dGeom {
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
            pad_front: padding[0],
            pad_top: padding[1],
            pad_left: padding[2],
            dd: dilation[0],
            dh: dilation[1],
            dw: dilation[2],
            out_pad_d: output_padding[0],
            out_pad_h: output_padding[1],
            out_pad_w: output_padding[2],
            groups,
        };
        g.validate()?;
        Ok(g)
    }

    /// Checks a geometry built by hand (the macro emits literals): channels
    /// and groups positive, `groups` dividing both channel counts, each
    /// output size the rule's, and every length representable.
    pub fn validate(&self) -> Result<()> {
        let g = self;
        if g.c_in == 0 || g.c_out == 0 || g.groups == 0 {
            return Err(Error::InvalidArgument(format!(
                "conv_transpose3d: channels and groups must be positive in {g:?}"
            )));
        }
        if !g.c_in.is_multiple_of(g.groups) || !g.c_out.is_multiple_of(g.groups) {
            return Err(Error::InvalidArgument(format!(
                "conv_transpose3d: groups {} must divide c_in {} and c_out {}",
                g.groups, g.c_in, g.c_out
            )));
        }
        for (what, n, f, s, d, p, op, out) in [
            (
                "depth",
                g.in_d,
                g.fd,
                g.sd,
                g.dd,
                g.pad_front,
                g.out_pad_d,
                g.out_d,
            ),
            (
                "height",
                g.in_h,
                g.fh,
                g.sh,
                g.dh,
                g.pad_top,
                g.out_pad_h,
                g.out_h,
            ),
            (
                "width",
                g.in_w,
                g.fw,
                g.sw,
                g.dw,
                g.pad_left,
                g.out_pad_w,
                g.out_w,
            ),
        ] {
            let want = transposed_axis(n, f, s, d, p, op)
                .map_err(|e| Error::InvalidArgument(format!("conv_transpose3d: {what}: {e}")))?;
            if want != out {
                return Err(Error::InvalidArgument(format!(
                    "conv_transpose3d: {what}: output {out} does not match input {n}, kernel {f}, \
                     stride {s}, dilation {d}, padding {p}, output padding {op} (expected \
                     (n - 1) s - 2p + d (f - 1) + output_padding + 1 = {want})"
                )));
            }
        }
        let prod = |v: &[usize]| v.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let ok = prod(&[g.in_d, g.in_h, g.in_w, g.c_in]).is_some()
            && prod(&[g.out_d, g.out_h, g.out_w, g.c_out]).is_some()
            && prod(&[g.fd, g.fh, g.fw, g.c_in, g.c_out]).is_some();
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "conv_transpose3d: tensor sizes overflow in {g:?}"
            )));
        }
        Ok(())
    }

    /// The convolution whose input gradient this is: from `[out_d, out_h,
    /// out_w, c_out]` to `[frames, rows, cols, c_in]`, kernel, stride,
    /// dilation, leading padding and groups the same. Each axis is ours
    /// unless the output padding is at least the stride (possible when it
    /// is below the dilation instead): then that convolution has more
    /// outputs than we have inputs, and the extra ones are zeros of our
    /// input (see [`ConvTranspose3dGeom::is_exact`]).
    pub fn conv(&self) -> Conv3dGeom {
        let g = self;
        // The convolution's output rule on the transposed output; cannot
        // fail on a validated geometry, whose `out + 2p` covers the window.
        let axis = |n: usize, p: usize, f: usize, s: usize, d: usize| {
            (n + 2 * p - (d * (f - 1) + 1)) / s + 1
        };
        Conv3dGeom {
            in_d: g.out_d,
            in_h: g.out_h,
            in_w: g.out_w,
            c_in: g.c_out,
            out_d: axis(g.out_d, g.pad_front, g.fd, g.sd, g.dd),
            out_h: axis(g.out_h, g.pad_top, g.fh, g.sh, g.dh),
            out_w: axis(g.out_w, g.pad_left, g.fw, g.sw, g.dw),
            c_out: g.c_in,
            fd: g.fd,
            fh: g.fh,
            fw: g.fw,
            sd: g.sd,
            sh: g.sh,
            sw: g.sw,
            pad_front: g.pad_front,
            pad_top: g.pad_top,
            pad_left: g.pad_left,
            dd: g.dd,
            dh: g.dh,
            dw: g.dw,
            groups: g.groups,
        }
    }

    /// True when [`ConvTranspose3dGeom::conv`]'s output is our input's
    /// size (`output_padding < stride` on every axis).
    pub fn is_exact(&self) -> bool {
        let c = self.conv();
        (c.out_d, c.out_h, c.out_w) == (self.in_d, self.in_h, self.in_w)
    }

    /// Elements of one input volume.
    pub const fn in_len(&self) -> usize {
        self.in_d * self.in_h * self.in_w * self.c_in
    }
    /// Elements of one output volume.
    pub const fn out_len(&self) -> usize {
        self.out_d * self.out_h * self.out_w * self.c_out
    }
    /// Elements of the weight tensor `[fd, fh, fw, c_out / groups, c_in]`.
    pub const fn weight_len(&self) -> usize {
        self.fd * self.fh * self.fw * (self.c_out / self.groups) * self.c_in
    }
    /// Multiply-adds of one volume: every input voxel times every tap,
    /// into `c_out / groups` channels (taps that land in the cut padding
    /// included, as PyTorch's profilers count them).
    pub const fn macs(&self) -> usize {
        self.in_d * self.in_h * self.in_w * self.weight_len()
    }
}

/// Upsampling of NDHWC volumes by whole factors; channels separately.
/// `Interpolation::Bilinear` interpolates linearly along every axis, which
/// on a volume is PyTorch's `trilinear` (`align_corners=False`).
/// x: [n, in_d, in_h, in_w, c]  y: [n, in_d * sd, in_h * sh, in_w * sw, c]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upsample3dGeom {
    /// Input depth.
    pub in_d: usize,
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Channels (the same in and out).
    pub c: usize,
    /// Output frames per input frame.
    pub sd: usize,
    /// Output rows per input row.
    pub sh: usize,
    /// Output columns per input column.
    pub sw: usize,
    /// Nearest, or linear along each axis (trilinear).
    pub mode: Interpolation,
}

impl Upsample3dGeom {
    /// Output depth, `in_d * sd`.
    pub const fn out_d(&self) -> usize {
        self.in_d * self.sd
    }
    /// Output rows, `in_h * sh`.
    pub const fn out_h(&self) -> usize {
        self.in_h * self.sh
    }
    /// Output columns, `in_w * sw`.
    pub const fn out_w(&self) -> usize {
        self.in_w * self.sw
    }
    /// Elements of one input volume.
    pub const fn in_len(&self) -> usize {
        self.in_d * self.in_h * self.in_w * self.c
    }
    /// Elements of one output volume.
    pub const fn out_len(&self) -> usize {
        self.in_len() * self.sd * self.sh * self.sw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PyTorch's ConvTranspose3d docs: D_out = (D_in - 1) stride - 2 padding
    // + dilation (kernel_size - 1) + output_padding + 1. Their example
    // ConvTranspose3d(16, 33, (3, 5, 2), stride=(2, 1, 1), padding=(0, 4, 2))
    // on 10x50x100 gives 9*2 + 2 + 1 = 21, 49 - 8 + 4 + 1 = 46, 99 - 4 + 1 + 1 = 97.
    #[test]
    fn output_size_is_pytorchs() {
        let g = ConvTranspose3dGeom::new(
            [10, 50, 100, 16],
            33,
            [3, 5, 2],
            [2, 1, 1],
            [0, 4, 2],
            [0; 3],
            [1; 3],
            1,
        )
        .unwrap();
        assert_eq!((g.out_d, g.out_h, g.out_w), (21, 46, 97));
        assert!(g.is_exact());
        let c = g.conv();
        assert_eq!((c.out_d, c.out_h, c.out_w), (10, 50, 100));
        // Output padding 1 under stride 1 is allowed by dilation 2, and
        // makes the convolution's output one frame longer than the input.
        let g = ConvTranspose3dGeom::new(
            [3, 4, 4, 2],
            4,
            [2; 3],
            [1; 3],
            [0; 3],
            [1, 0, 0],
            [2; 3],
            2,
        )
        .unwrap();
        assert_eq!(g.out_d, 2 + 2 + 1 + 1);
        assert!(!g.is_exact());
        assert!(ConvTranspose3dGeom { out_h: 9, ..g }.validate().is_err());
        assert!(ConvTranspose3dGeom { groups: 3, ..g }.validate().is_err());
    }
}
