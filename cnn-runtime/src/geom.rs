//! Geometry of convolutions and pooling: the run-time twin of the macro's
//! shape arithmetic. The macro emits these structs as literals; tests build
//! them with [`Conv2dGeom::new`] (or [`Conv2dGeom::dilated`]), which checks
//! every size with the course's formula `floor((n + 2p - f) / s) + 1`, `f`
//! the effective window `d (f - 1) + 1` of a kernel dilated by `d`, and
//! TensorFlow's rule for `same`.

use crate::error::{Error, Result};

/// How a convolution or pooling window pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `p` rows and columns of zeros on every side.
    Explicit(usize),
    /// No padding (`p = 0`).
    Valid,
    /// Output `ceil(n / s)`; an odd total padding puts the extra row and
    /// column at the bottom and right, as TensorFlow does.
    Same,
}

/// Output size and leading padding of one spatial axis.
/// Returns `(out, pad_before)`; errors carry the numbers that failed.
pub fn axis(n: usize, f: usize, s: usize, padding: Padding) -> Result<(usize, usize)> {
    axis_dilated(n, f, s, 1, padding)
}

/// [`axis`] for a kernel of `f` taps `d` apart (PyTorch's `dilation`),
/// whose window spans `d (f - 1) + 1` inputs: output
/// `floor((n + 2p - d (f - 1) - 1) / s) + 1`, or `ceil(n / s)` under
/// `same` with the total padding `max((out - 1) s + d (f - 1) + 1 - n, 0)`.
pub fn axis_dilated(
    n: usize,
    f: usize,
    s: usize,
    d: usize,
    padding: Padding,
) -> Result<(usize, usize)> {
    if n == 0 || f == 0 || s == 0 || d == 0 {
        return Err(Error::InvalidArgument(format!(
            "sizes must be positive: n = {n}, f = {f}, s = {s}, d = {d}"
        )));
    }
    let span = effective_window(f, d)?;
    let p = match padding {
        Padding::Explicit(p) => p,
        Padding::Valid => 0,
        Padding::Same => {
            let out = n.div_ceil(s);
            // Total padding so that the last window ends at the padded edge;
            // the odd one goes after, so `before` rounds down.
            let total = (out - 1)
                .checked_mul(s)
                .and_then(|v| v.checked_add(span))
                .ok_or_else(overflow)?
                .saturating_sub(n);
            return Ok((out, total / 2));
        }
    };
    let padded = p
        .checked_mul(2)
        .and_then(|two_p| n.checked_add(two_p))
        .ok_or_else(overflow)?;
    if span > padded {
        let window = if d == 1 {
            format!("f = {f}")
        } else {
            format!("d(f-1)+1 = {d}*({f}-1)+1 = {span}")
        };
        return Err(Error::InvalidArgument(format!(
            "window {span} does not fit the padded input (n + 2p = {n} + 2*{p} = {padded} < {window})"
        )));
    }
    Ok(((padded - span) / s + 1, p))
}

/// The inputs a window of `f` taps `d` apart spans: `d (f - 1) + 1`.
pub fn effective_window(f: usize, d: usize) -> Result<usize> {
    f.checked_sub(1)
        .and_then(|v| v.checked_mul(d))
        .and_then(|v| v.checked_add(1))
        .ok_or_else(overflow)
}

fn overflow() -> Error {
    Error::InvalidArgument("arithmetic overflow in a shape".into())
}

/// The activation applied in a kernel's epilogue, or on its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// `y = x`.
    Identity,
    /// `y = max(x, 0)`.
    Relu,
    /// `y = x` above 0, `alpha * x` below (the `f32` is alpha).
    LeakyRelu(f32),
    /// `y = tanh(x)`.
    Tanh,
    /// `y = 1 / (1 + exp(-x))`.
    Sigmoid,
    /// `y = min(max(x, 0), 6)`.
    Relu6,
    /// `y = x * sigmoid(x)` (SiLU, swish).
    Silu,
    /// `y = x * relu6(x + 3) / 6` (MobileNetV3).
    Hardswish,
    /// `y = relu6(x + 3) / 6` (PyTorch's hardsigmoid).
    Hardsigmoid,
    /// `y = x * Phi(x)`, `Phi` the standard normal CDF: the exact GELU.
    Gelu,
    /// `y = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`: the
    /// GELU's tanh approximation (PyTorch's `approximate='tanh'`).
    GeluTanh,
}

impl Act {
    /// Whether backward needs the activation's input: its output does not
    /// give the derivative (SiLU, hardswish and GELU are not one-to-one),
    /// so a layer that applies it must keep its pre-activation.
    pub fn needs_input(self) -> bool {
        matches!(self, Act::Silu | Act::Hardswish | Act::Gelu | Act::GeluTanh)
    }
}

/// One 2-D convolution over NHWC tensors.
/// x: [n, in_h, in_w, c_in]  w: [fh, fw, c_in, c_out]  y: [n, out_h, out_w, c_out]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeom {
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output rows: `floor((in_h + pads - dh (fh - 1) - 1) / sh) + 1`.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Kernel rows.
    pub fh: usize,
    /// Kernel columns.
    pub fw: usize,
    /// Stride between output rows.
    pub sh: usize,
    /// Stride between output columns.
    pub sw: usize,
    /// Zero rows above the input; the rows below follow from `out_h`.
    pub pad_top: usize,
    /// Zero columns left of the input; the columns right follow from `out_w`.
    pub pad_left: usize,
    /// Rows between kernel taps (PyTorch's `dilation`, Keras's
    /// `dilation_rate`): tap `ky` reads input row `oy * sh + ky * dh -
    /// pad_top`. 1 is an ordinary convolution.
    pub dh: usize,
    /// Columns between kernel taps.
    pub dw: usize,
}

impl Conv2dGeom {
    /// Checked construction from the layer's hyper-parameters (dilation 1).
    pub fn new(
        input: [usize; 3],
        c_out: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: Padding,
    ) -> Result<Self> {
        Self::dilated(input, c_out, kernel, stride, [1, 1], padding)
    }

    /// Checked construction of a convolution whose kernel taps are
    /// `dilation = [dh, dw]` apart.
    pub fn dilated(
        input: [usize; 3],
        c_out: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
    ) -> Result<Self> {
        let [in_h, in_w, c_in] = input;
        if c_in == 0 || c_out == 0 {
            return Err(Error::InvalidArgument(format!(
                "channels must be positive: c_in = {c_in}, c_out = {c_out}"
            )));
        }
        let (out_h, pad_top) = axis_dilated(in_h, kernel[0], stride[0], dilation[0], padding)?;
        let (out_w, pad_left) = axis_dilated(in_w, kernel[1], stride[1], dilation[1], padding)?;
        Ok(Conv2dGeom {
            in_h,
            in_w,
            c_in,
            out_h,
            out_w,
            c_out,
            fh: kernel[0],
            fw: kernel[1],
            sh: stride[0],
            sw: stride[1],
            pad_top,
            pad_left,
            dh: dilation[0],
            dw: dilation[1],
        })
    }

    /// True when some kernel axis of more than one tap has its taps apart
    /// (a dilation above 1 on an axis of one tap changes nothing). Only the
    /// im2col + GEMM paths and the references run such a convolution.
    pub const fn is_dilated(&self) -> bool {
        (self.fh > 1 && self.dh > 1) || (self.fw > 1 && self.dw > 1)
    }

    /// Elements of one input image.
    pub const fn in_len(&self) -> usize {
        self.in_h * self.in_w * self.c_in
    }
    /// Elements of one output image.
    pub const fn out_len(&self) -> usize {
        self.out_h * self.out_w * self.c_out
    }
    /// Elements of the weight tensor `[fh, fw, c_in, c_out]`.
    pub const fn weight_len(&self) -> usize {
        self.fh * self.fw * self.c_in * self.c_out
    }
    /// The GEMM's inner dimension: one im2col row.
    pub const fn k(&self) -> usize {
        self.fh * self.fw * self.c_in
    }
    /// Multiply-adds of one image, as the course counts them.
    pub const fn macs(&self) -> usize {
        self.out_h * self.out_w * self.c_out * self.k()
    }
    /// True when the convolution is a plain GEMM on the input rows
    /// (1x1 kernel, stride 1, no padding; a 1x1 kernel has no dilation).
    pub const fn is_pointwise(&self) -> bool {
        self.fh == 1
            && self.fw == 1
            && self.sh == 1
            && self.sw == 1
            && self.pad_top == 0
            && self.pad_left == 0
    }
}

/// One transposed 2-D convolution over NHWC tensors (PyTorch's
/// `ConvTranspose2d`): input pixel `(iy, ix)` spreads `w`'s taps over the
/// output rows `iy * sh + ky * dh - pad_top` (and the columns likewise).
/// Along each axis the output is `(n - 1) s - 2p + d (f - 1) +
/// output_padding + 1`, with `output_padding < max(s, d)`.
/// x: [n, in_h, in_w, c_in]  w: [fh, fw, c_out / groups, c_in]  y: [n, out_h, out_w, c_out]
///
/// It is the input gradient of the convolution [`ConvTranspose2dGeom::conv`]
/// from `[out_h, out_w, c_out]` to `[in_h, in_w, c_in]`, and its weights
/// are that convolution's, which is why they read `[fh, fw, c_out /
/// groups, c_in]` (PyTorch's `[c_in, c_out / groups, fh, fw]` permuted as
/// a convolution's is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dGeom {
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output rows: `(in_h - 1) sh - 2 pad_top + dh (fh - 1) + out_pad_h + 1`.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Kernel rows.
    pub fh: usize,
    /// Kernel columns.
    pub fw: usize,
    /// Output rows between the spreads of two neighbouring input rows.
    pub sh: usize,
    /// Output columns between those of two neighbouring input columns.
    pub sw: usize,
    /// Rows cut from the top and the bottom of the full output (PyTorch's
    /// `padding`: the padding of the convolution this is the transpose of).
    pub pad_top: usize,
    /// Columns cut from the left and the right.
    pub pad_left: usize,
    /// Rows between kernel taps.
    pub dh: usize,
    /// Columns between kernel taps.
    pub dw: usize,
    /// Rows added at the bottom (PyTorch's `output_padding`): which of the
    /// `sh` input sizes that a stride-`sh` convolution maps to `in_h` to
    /// give back.
    pub out_pad_h: usize,
    /// Columns added at the right.
    pub out_pad_w: usize,
}

/// The output size along one axis of a transposed convolution:
/// `(n - 1) s - 2p + d (f - 1) + output_padding + 1`, checked.
pub fn transposed_axis(
    n: usize,
    f: usize,
    s: usize,
    d: usize,
    p: usize,
    output_padding: usize,
) -> Result<usize> {
    if n == 0 || f == 0 || s == 0 || d == 0 {
        return Err(Error::InvalidArgument(format!(
            "sizes must be positive: n = {n}, f = {f}, s = {s}, d = {d}"
        )));
    }
    if output_padding >= s.max(d) {
        return Err(Error::InvalidArgument(format!(
            "output padding {output_padding} must be smaller than the stride {s} or the dilation {d}"
        )));
    }
    let full = (n - 1)
        .checked_mul(s)
        .and_then(|v| v.checked_add(effective_window(f, d).ok()?))
        .and_then(|v| v.checked_add(output_padding))
        .ok_or_else(overflow)?;
    match p.checked_mul(2) {
        Some(two_p) if two_p < full => Ok(full - two_p),
        _ => Err(Error::InvalidArgument(format!(
            "the padding cuts the whole output: (n - 1) s + d (f - 1) + output_padding + 1 = \
             ({n} - 1)*{s} + {d}*({f} - 1) + {output_padding} + 1 = {full} <= 2p = 2*{p}"
        ))),
    }
}

impl ConvTranspose2dGeom {
    /// Checked construction from the layer's hyper-parameters.
    pub fn new(
        input: [usize; 3],
        c_out: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<Self> {
        let [in_h, in_w, c_in] = input;
        if c_in == 0 || c_out == 0 {
            return Err(Error::InvalidArgument(format!(
                "channels must be positive: c_in = {c_in}, c_out = {c_out}"
            )));
        }
        let out_h = transposed_axis(
            in_h,
            kernel[0],
            stride[0],
            dilation[0],
            padding[0],
            output_padding[0],
        )?;
        let out_w = transposed_axis(
            in_w,
            kernel[1],
            stride[1],
            dilation[1],
            padding[1],
            output_padding[1],
        )?;
        Ok(ConvTranspose2dGeom {
            in_h,
            in_w,
            c_in,
            out_h,
            out_w,
            c_out,
            fh: kernel[0],
            fw: kernel[1],
            sh: stride[0],
            sw: stride[1],
            pad_top: padding[0],
            pad_left: padding[1],
            dh: dilation[0],
            dw: dilation[1],
            out_pad_h: output_padding[0],
            out_pad_w: output_padding[1],
        })
    }

    /// Checks a geometry built by hand: channels positive and the output
    /// size the rule's, along both axes.
    pub fn validate(&self) -> Result<()> {
        let g = self;
        if g.c_in == 0 || g.c_out == 0 {
            return Err(Error::InvalidArgument(format!(
                "conv_transpose: channels must be positive in {g:?}"
            )));
        }
        for (what, n, f, s, d, p, op, out) in [
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
                .map_err(|e| Error::InvalidArgument(format!("conv_transpose: {what}: {e}")))?;
            if want != out {
                return Err(Error::InvalidArgument(format!(
                    "conv_transpose: {what}: output {out} does not match input {n}, kernel {f}, \
                     stride {s}, dilation {d}, padding {p}, output padding {op} (expected \
                     (n - 1) s - 2p + d (f - 1) + output_padding + 1 = {want})"
                )));
            }
        }
        let prod = |v: &[usize]| v.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let ok = prod(&[g.in_h, g.in_w, g.c_in]).is_some()
            && prod(&[g.out_h, g.out_w, g.c_out]).is_some()
            && prod(&[g.fh, g.fw, g.c_in, g.c_out]).is_some();
        if !ok {
            return Err(Error::InvalidArgument(format!(
                "conv_transpose: tensor sizes overflow in {g:?}"
            )));
        }
        Ok(())
    }

    /// The convolution whose input gradient this is: from `[out_h, out_w,
    /// c_out]` to `[rows, cols, c_in]`, kernel, stride, dilation and
    /// leading padding the same. `rows` is `in_h` unless the output
    /// padding is at least the stride (possible when it is below the
    /// dilation instead): then that convolution has more outputs than the
    /// transposed one has inputs, and the extra ones are zeros of the
    /// transposed input (see [`ConvTranspose2dGeom::is_exact`]).
    pub fn conv(&self) -> Conv2dGeom {
        let g = self;
        // The convolution's output rule on the transposed output; cannot
        // fail on a validated geometry, whose `out + 2p` covers the window.
        let rows = (g.out_h + 2 * g.pad_top - (g.dh * (g.fh - 1) + 1)) / g.sh + 1;
        let cols = (g.out_w + 2 * g.pad_left - (g.dw * (g.fw - 1) + 1)) / g.sw + 1;
        Conv2dGeom {
            in_h: g.out_h,
            in_w: g.out_w,
            c_in: g.c_out,
            out_h: rows,
            out_w: cols,
            c_out: g.c_in,
            fh: g.fh,
            fw: g.fw,
            sh: g.sh,
            sw: g.sw,
            pad_top: g.pad_top,
            pad_left: g.pad_left,
            dh: g.dh,
            dw: g.dw,
        }
    }

    /// True when [`ConvTranspose2dGeom::conv`]'s output is the transposed
    /// input's size (`output_padding < stride` on both axes).
    pub fn is_exact(&self) -> bool {
        let c = self.conv();
        c.out_h == self.in_h && c.out_w == self.in_w
    }

    /// Elements of one input image.
    pub const fn in_len(&self) -> usize {
        self.in_h * self.in_w * self.c_in
    }
    /// Elements of one output image.
    pub const fn out_len(&self) -> usize {
        self.out_h * self.out_w * self.c_out
    }
    /// Multiply-adds of one image: every input pixel times every tap, into
    /// `c_out / groups` channels (taps that land in the cut padding
    /// included, as PyTorch's profilers count them).
    pub const fn macs(&self, groups: usize) -> usize {
        self.in_h * self.in_w * self.c_in * self.fh * self.fw * (self.c_out / groups)
    }
}

/// How [`UpsampleGeom`] fills the new pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// Each output pixel copies input pixel `(oy / sh, ox / sw)` (PyTorch's
    /// `nearest`, ONNX's `asymmetric` with `floor`).
    Nearest,
    /// Each output pixel mixes the four input pixels around `((oy + 0.5) /
    /// sh - 0.5, (ox + 0.5) / sw - 0.5)`, clamped at the border (PyTorch's
    /// `bilinear` with `align_corners=False`, ONNX's `half_pixel`); on a
    /// height-1 image it is PyTorch's `linear`.
    Bilinear,
}

/// Upsampling by whole factors over NHWC tensors; channels separately.
/// x: [n, in_h, in_w, c]  y: [n, in_h * sh, in_w * sw, c]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpsampleGeom {
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Channels (the same in and out).
    pub c: usize,
    /// Output rows per input row.
    pub sh: usize,
    /// Output columns per input column.
    pub sw: usize,
    /// Nearest or bilinear.
    pub mode: Interpolation,
}

impl UpsampleGeom {
    /// Output rows, `in_h * sh`.
    pub const fn out_h(&self) -> usize {
        self.in_h * self.sh
    }
    /// Output columns, `in_w * sw`.
    pub const fn out_w(&self) -> usize {
        self.in_w * self.sw
    }
    /// Elements of one input example.
    pub const fn in_len(&self) -> usize {
        self.in_h * self.in_w * self.c
    }
    /// Elements of one output example.
    pub const fn out_len(&self) -> usize {
        self.in_len() * self.sh * self.sw
    }
}

/// One pooling window over NHWC tensors; channels are pooled separately.
/// x: [n, in_h, in_w, c]  y: [n, out_h, out_w, c]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    /// Input rows.
    pub in_h: usize,
    /// Input columns.
    pub in_w: usize,
    /// Channels (the same in and out).
    pub c: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
    /// Window rows.
    pub fh: usize,
    /// Window columns.
    pub fw: usize,
    /// Stride between output rows.
    pub sh: usize,
    /// Stride between output columns.
    pub sw: usize,
    /// Padded rows above the input (never win the max, not averaged).
    pub pad_top: usize,
    /// Padded columns left of the input.
    pub pad_left: usize,
}

impl PoolGeom {
    /// Checked construction from the layer's hyper-parameters.
    pub fn new(
        input: [usize; 3],
        size: [usize; 2],
        stride: [usize; 2],
        padding: Padding,
    ) -> Result<Self> {
        let [in_h, in_w, c] = input;
        if c == 0 {
            return Err(Error::InvalidArgument(
                "channels must be positive: c = 0".into(),
            ));
        }
        let (out_h, pad_top) = axis(in_h, size[0], stride[0], padding)?;
        let (out_w, pad_left) = axis(in_w, size[1], stride[1], padding)?;
        Ok(PoolGeom {
            in_h,
            in_w,
            c,
            out_h,
            out_w,
            fh: size[0],
            fw: size[1],
            sh: stride[0],
            sw: stride[1],
            pad_top,
            pad_left,
        })
    }
    /// Elements of one input example: `in_h * in_w * c`.
    pub const fn in_len(&self) -> usize {
        self.in_h * self.in_w * self.c
    }
    /// Elements of one output example: `out_h * out_w * c`.
    pub const fn out_len(&self) -> usize {
        self.out_h * self.out_w * self.c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Course: n + 2p - f + 1 with n = 6, f = 3, p = 1 gives 6 ('same').
    #[test]
    fn course_padding_example() {
        assert_eq!(axis(6, 3, 1, Padding::Explicit(1)).unwrap(), (6, 1));
        assert_eq!(axis(6, 3, 1, Padding::Valid).unwrap(), (4, 0));
    }

    // Course: 39 -> 37 (f3 s1) -> 17 (f5 s2) -> 7 (f5 s2).
    #[test]
    fn course_strided_chain() {
        let (a, _) = axis(39, 3, 1, Padding::Valid).unwrap();
        let (b, _) = axis(a, 5, 2, Padding::Valid).unwrap();
        let (c, _) = axis(b, 5, 2, Padding::Valid).unwrap();
        assert_eq!((a, b, c), (37, 17, 7));
        assert_eq!(c * c * 40, 1960);
    }

    #[test]
    fn same_padding_puts_the_odd_row_last() {
        // n = 5, f = 2, s = 1: total padding 1, none on top.
        assert_eq!(axis(5, 2, 1, Padding::Same).unwrap(), (5, 0));
        // n = 7, f = 3, s = 2: out 4, total (3*2 + 3) - 7 = 2, one on top.
        assert_eq!(axis(7, 3, 2, Padding::Same).unwrap(), (4, 1));
        // n = 6, f = 3, s = 2: out 3, total (2*2 + 3) - 6 = 1, none on top.
        assert_eq!(axis(6, 3, 2, Padding::Same).unwrap(), (3, 0));
    }

    // PyTorch's Conv2d docs: H_out = floor((H + 2p - d (f - 1) - 1) / s) + 1;
    // n = 10, f = 3, d = 2, p = 0, s = 1 gives (10 - 4 - 1) + 1 = 6.
    #[test]
    fn dilation_widens_the_window() {
        assert_eq!(axis_dilated(10, 3, 1, 2, Padding::Valid).unwrap(), (6, 0));
        // d = 1 is `axis`.
        assert_eq!(
            axis_dilated(7, 3, 2, 1, Padding::Same).unwrap(),
            axis(7, 3, 2, Padding::Same).unwrap()
        );
        // Same with n = 7, f = 3, d = 2, s = 1: out 7; the window spans 5,
        // so the total is (7 - 1) + 5 - 7 = 4, two before.
        assert_eq!(axis_dilated(7, 3, 1, 2, Padding::Same).unwrap(), (7, 2));
        // n = 6, f = 2, d = 3, s = 2: out 3, span 4, total 4 + 4 - 6 = 2.
        assert_eq!(axis_dilated(6, 2, 2, 3, Padding::Same).unwrap(), (3, 1));
        // Span 5 on 4 inputs does not fit; the message says why.
        let err = axis_dilated(4, 3, 1, 2, Padding::Valid).unwrap_err();
        assert!(
            err.to_string().contains("d(f-1)+1 = 2*(3-1)+1 = 5"),
            "{err}"
        );
        assert!(axis_dilated(4, 3, 1, 0, Padding::Valid).is_err());
        assert!(axis_dilated(4, 3, 1, usize::MAX, Padding::Same).is_err());
        let g = Conv2dGeom::dilated([9, 8, 2], 3, [3, 2], [1, 2], [2, 3], Padding::Same).unwrap();
        // Width: out ceil(8 / 2) = 4, span 3 * 1 + 1 = 4, total 3 * 2 + 4 - 8 = 2.
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (9, 4, 2, 1));
        assert!(g.is_dilated());
        assert!(
            !Conv2dGeom::dilated([9, 8, 2], 3, [1, 1], [1, 1], [2, 3], Padding::Valid)
                .unwrap()
                .is_dilated()
        );
    }

    #[test]
    fn too_large_windows_are_errors() {
        assert!(axis(5, 7, 1, Padding::Valid).is_err());
        assert!(axis(0, 1, 1, Padding::Valid).is_err());
        assert!(axis(5, 3, 0, Padding::Valid).is_err());
    }

    // Course: ten 3x3x3 filters on a 6x6x3 image give 4x4x10; 280 parameters.
    #[test]
    fn course_volume_example() {
        let g = Conv2dGeom::new([6, 6, 3], 10, [3, 3], [1, 1], Padding::Valid).unwrap();
        assert_eq!((g.out_h, g.out_w, g.c_out), (4, 4, 10));
        assert_eq!(g.weight_len() + g.c_out, 280);
    }
}
