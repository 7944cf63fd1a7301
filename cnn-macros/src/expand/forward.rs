//! Forward code: one block per fused op, which cuts its input and output
//! slots out of the workspace and calls one kernel with literal geometry.
//!
//! The statements run inside the generated `__forward_train` (parameters as
//! `tp`, the trainable part, and `ntp`, the moving statistics it updates;
//! the dropout seed `seed`; `infer` for a held pass in inference mode) or
//! `__forward_infer` (parameters `p`), with the workspace's buffers `f`,
//! `u`, `fixed` and the batch size `batch` in scope.

use proc_macro2::TokenStream;
use quote::quote;

use super::plan::{Act, Bn, DepthGeom, Geom, Mode, Op, OpKind, Program, Slot};
use super::{act, f32_lit, range, rt, span};

/// How the ops name the parameter arena.
#[derive(Clone, Copy)]
pub struct Params {
    pub mode: Mode,
    /// `TRAINABLE_PARAMS`: where the non-trainable part starts.
    pub trainable: usize,
}

impl Params {
    /// A read-only parameter slice (in training, from the trainable part
    /// or, for moving statistics and frozen layers, the rest).
    pub fn get(&self, s: Slot) -> TokenStream {
        let r = range(s);
        match self.mode {
            Mode::Train if s.offset >= self.trainable => {
                let r = self.frozen(s);
                quote!(&ntp[#r])
            }
            Mode::Train => quote!(&tp[#r]),
            Mode::Infer => quote!(&p[#r]),
        }
    }
    /// A range in the non-trainable part (training updates it).
    fn frozen(&self, s: Slot) -> TokenStream {
        range(Slot {
            offset: s.offset - self.trainable,
            len: s.len,
        })
    }
}

/// The statements of a forward pass.
pub fn program(prog: &Program, params: Params) -> TokenStream {
    let ops = prog.ops.iter().map(|op| one(op, prog, params));
    quote!(#(#ops)*)
}

fn one(op: &Op, prog: &Program, params: Params) -> TokenStream {
    let rt = rt();
    let xs = span(prog.values[op.x].slot);
    let ys = span(prog.values[op.y].slot);
    match &op.kind {
        OpKind::Conv {
            g,
            groups,
            transposed,
            w_tensor: _,
            w,
            b,
            fold,
            act: a,
        } => {
            let (geom, ty) = match transposed {
                Some(op) if g.depth.is_some() => (
                    transpose3d_geom(g, *op, *groups),
                    quote!(#rt::ConvTranspose3dGeom),
                ),
                Some(op) => (transpose_geom(g, *op), quote!(#rt::ConvTranspose2dGeom)),
                None if g.depth.is_some() => (conv3d_geom(g, *groups), quote!(#rt::Conv3dGeom)),
                None => (conv_geom(g), quote!(#rt::Conv2dGeom)),
            };
            let w = params.get(*w);
            let bias = option(b.map(|b| params.get(b)));
            let a = act(*a);
            let (fold, affine) = match fold {
                Some((bn, scale, shift)) => {
                    let (sc, sh) = (range(*scale), range(*shift));
                    let (gamma, beta, mean, var) = (
                        params.get(bn.gamma),
                        params.get(bn.beta),
                        params.get(bn.mean),
                        params.get(bn.var),
                    );
                    let eps = f32_lit(bn.eps);
                    let bn = quote!(#rt::layers::batch_norm);
                    (
                        quote! {
                            let [scale, shift] = #rt::net::slices(fixed, [#sc, #sh])?;
                            #bn::fold(
                                #bn::Params { gamma: #gamma, beta: #beta },
                                #bn::RunningStats { mean: #mean, var: #var },
                                #eps,
                                #bn::Folded { scale, shift },
                            )?;
                        },
                        quote!(Some((&*scale, &*shift))),
                    )
                }
                None => (quote!(), quote!(None)),
            };
            let call = if g.depth.is_some() && transposed.is_some() {
                quote!(#rt::layers::conv_transpose3d::forward(&G, batch, x, #w, &ep, y)?;)
            } else if g.depth.is_some() {
                quote!(#rt::layers::conv3d::forward(&G, batch, x, #w, &ep, y)?;)
            } else if transposed.is_some() {
                quote!(#rt::layers::conv_transpose::forward(&G, #groups, batch, x, #w, &ep, y)?;)
            } else {
                quote!(#rt::layers::conv2d::forward(&G, #groups, batch, x, #w, &ep, y)?;)
            };
            quote! {{
                const G: #ty = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #fold
                let ep = #rt::layers::conv2d::Epilogue { bias: #bias, affine: #affine, act: #a };
                #call
            }}
        }
        OpKind::Dense {
            n_in,
            n_out,
            w_tensor: _,
            w,
            b,
            act: a,
        } => {
            let w = params.get(*w);
            let bias = option(b.map(|b| params.get(b)));
            let a = act(*a);
            quote! {{
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::dense::forward(batch, #n_in, #n_out, x, #w, #bias, #a, y)?;
            }}
        }
        OpKind::BatchNorm {
            rows,
            c,
            bn,
            saved,
            act: a,
        } => batch_norm(op, prog, params, *rows, *c, bn, *saved, *a),
        OpKind::Norm {
            layer_norm,
            n,
            hw,
            c,
            groups,
            gamma,
            beta,
            eps,
            ..
        } => {
            let (gamma, beta) = (params.get(*gamma), params.get(*beta));
            let eps = f32_lit(*eps);
            let gn = quote!(#rt::layers::group_norm);
            let call = if *layer_norm {
                let ln = quote!(#rt::layers::layer_norm);
                quote! {
                    let shape = #ln::Shape { m: batch * #n, c: #c };
                    #ln::forward(shape, x, #gn::Params { gamma: #gamma, beta: #beta }, #eps, y)?;
                }
            } else {
                quote! {
                    let shape = #gn::Shape { n: batch * #n, hw: #hw, c: #c, groups: #groups };
                    #gn::forward(shape, x, #gn::Params { gamma: #gamma, beta: #beta }, #eps, y)?;
                }
            };
            quote! {{
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #call
            }}
        }
        OpKind::Scale { rows, c, s, .. } => {
            let s = params.get(*s);
            quote! {{
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::scale::forward(batch * #rows, #c, x, #s, y)?;
            }}
        }
        // The body gave nothing but its input (a dropout at inference).
        OpKind::Gate { other, hw, c } if *other == op.x => quote! {{
            let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
            #rt::layers::gate::forward(batch, #hw, #c, x, x, y)?;
        }},
        OpKind::Gate { other, hw, c } => {
            let os = span(prog.values[*other].slot);
            quote! {{
                let [x, g, y] = #rt::net::slices(f, [#xs, #os, #ys])?;
                #rt::layers::gate::forward(batch, #hw, #c, x, g, y)?;
            }}
        }
        OpKind::Activation { act: a } if op.x == op.y => {
            let a = act(*a);
            quote! {{
                let [y] = #rt::net::slices(f, [#ys])?;
                #rt::layers::activation::forward_inplace(#a, y);
            }}
        }
        OpKind::Activation { act: a } => {
            let a = act(*a);
            quote! {{
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::activation::forward(#a, x, y)?;
            }}
        }
        OpKind::Softmax { rows, classes } => quote! {{
            let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
            #rt::layers::activation::softmax(batch * #rows, #classes, x, y)?;
        }},
        OpKind::L2Normalize { rows, c } => quote! {{
            let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
            #rt::layers::l2_normalize::forward(batch * #rows, #c, x, y)?;
        }},
        OpKind::MaxPool { g, argmax } if g.depth.is_some() => {
            let geom = pool3d_geom(g);
            let am = span(*argmax);
            quote! {{
                const G: #rt::Pool3dGeom = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                let [argmax] = #rt::net::slices(u, [#am])?;
                #rt::layers::pool3d::max_forward(&G, batch, x, y, argmax)?;
            }}
        }
        OpKind::AvgPool { g } if g.depth.is_some() => {
            let geom = pool3d_geom(g);
            quote! {{
                const G: #rt::Pool3dGeom = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::pool3d::avg_forward(&G, batch, x, y)?;
            }}
        }
        OpKind::MaxPool { g, .. } if params.mode == Mode::Infer => {
            let geom = pool_geom(g);
            quote! {{
                const G: #rt::PoolGeom = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::pool::max_forward_values(&G, batch, x, y)?;
            }}
        }
        OpKind::MaxPool { g, argmax } => {
            let geom = pool_geom(g);
            let am = span(*argmax);
            quote! {{
                const G: #rt::PoolGeom = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                let [argmax] = #rt::net::slices(u, [#am])?;
                #rt::layers::pool::max_forward(&G, batch, x, y, argmax)?;
            }}
        }
        OpKind::AvgPool { g } => {
            let geom = pool_geom(g);
            quote! {{
                const G: #rt::PoolGeom = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::pool::avg_forward(&G, batch, x, y)?;
            }}
        }
        OpKind::GlobalAvgPool { hw, c } => quote! {{
            let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
            #rt::layers::pool::global_avg_forward(batch, #hw, #c, x, y)?;
        }},
        OpKind::Upsample { .. } => {
            let (ty, geom, module) = upsample_geom(&op.kind);
            quote! {{
                const G: #ty = #geom;
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #rt::layers::#module::forward(&G, batch, x, y)?;
            }}
        }
        OpKind::Add { other } if *other == op.x => quote! {{
            let [a, y] = #rt::net::slices(f, [#xs, #ys])?;
            #rt::layers::merge::add(a, a, y)?;
        }},
        OpKind::Add { other } => {
            let os = span(prog.values[*other].slot);
            quote! {{
                let [a, b, y] = #rt::net::slices(f, [#xs, #os, #ys])?;
                #rt::layers::merge::add(a, b, y)?;
            }}
        }
        OpKind::ConcatPart {
            rows,
            c_total,
            offset,
            c_part,
        } => quote! {{
            let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
            #rt::layers::merge::concat_part(batch * #rows, #c_total, #offset, #c_part, x, y)?;
        }},
        OpKind::Dropout { rate, mask, index } => {
            let rate = f32_lit(*rate);
            let ms = span(*mask);
            // A held pass in inference mode keeps every unit (a mask of 1s,
            // which its backward reads like any other).
            // Masks by position in the global batch: a rank's shard starts
            // at example `shard.first()`.
            let per_example = mask.len;
            quote! {{
                let [x, y, mask] = #rt::net::slices(f, [#xs, #ys, #ms])?;
                let seed = #rt::rng::splitmix64(seed ^ #index);
                let rate = if infer { 0.0 } else { #rate };
                #rt::layers::dropout::forward_train_at(rate, seed, shard.first() * #per_example, x, y, mask)?;
            }}
        }
    }
}

/// Training normalises with the batch's statistics (saving them for
/// backward and updating the moving ones); inference with the moving ones.
fn batch_norm(
    op: &Op,
    prog: &Program,
    params: Params,
    rows: usize,
    c: usize,
    bn: &Bn,
    saved: Option<(Slot, Slot)>,
    a: Act,
) -> TokenStream {
    let rt = rt();
    let xs = span(prog.values[op.x].slot);
    let ys = span(prog.values[op.y].slot);
    let (gamma, beta) = (params.get(bn.gamma), params.get(bn.beta));
    let args = batch_norm_args(rows, c, bn, a, gamma, beta);
    let bn_rt = quote!(#rt::layers::batch_norm);
    match saved {
        Some((mean, inv_std)) => {
            let (sm, si) = (range(mean), range(inv_std));
            let (rm, rv) = (params.frozen(bn.mean), params.frozen(bn.var));
            // Frozen at run time, or a held pass in inference mode: the
            // moving statistics, as at inference.
            let k = bn.gamma_tensor;
            quote! {{
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                let [running_mean, running_var] = #rt::net::slices(ntp, [#rm, #rv])?;
                #args
                if freezing.is_frozen(#k) || infer {
                    let running = #bn_rt::RunningStats { mean: running_mean, var: running_var };
                    #bn_rt::forward_infer(shape, x, params, running, SETTINGS, y)?;
                } else {
                    let [mean, inv_std] = #rt::net::slices(fixed, [#sm, #si])?;
                    let out = #bn_rt::TrainOut { y, mean, inv_std, running_mean, running_var };
                    #bn_rt::forward_train(shape, x, params, SETTINGS, out, shard.batch_norm_sync())?;
                }
            }}
        }
        None => {
            let (mean, var) = (params.get(bn.mean), params.get(bn.var));
            quote! {{
                let [x, y] = #rt::net::slices(f, [#xs, #ys])?;
                #args
                let running = #bn_rt::RunningStats { mean: #mean, var: #var };
                #bn_rt::forward_infer(shape, x, params, running, SETTINGS, y)?;
            }}
        }
    }
}

/// The statements that name what every batch norm kernel of a layer
/// takes: `shape` (`batch` in scope), `params` (gamma and beta, the
/// expressions given) and the constant `SETTINGS`.
pub fn batch_norm_args(
    rows: usize,
    c: usize,
    bn: &Bn,
    a: Act,
    gamma: TokenStream,
    beta: TokenStream,
) -> TokenStream {
    let rt = rt();
    let bn_rt = quote!(#rt::layers::batch_norm);
    let (eps, momentum, a) = (f32_lit(bn.eps), f32_lit(bn.momentum), act(a));
    quote! {
        let shape = #bn_rt::Shape { m: batch * #rows, c: #c };
        let params = #bn_rt::Params { gamma: #gamma, beta: #beta };
        const SETTINGS: #bn_rt::Settings = #bn_rt::Settings { eps: #eps, momentum: #momentum, act: #a };
    }
}

fn option(t: Option<TokenStream>) -> TokenStream {
    match t {
        Some(t) => quote!(Some(#t)),
        None => quote!(None),
    }
}

/// The fields a convolution's geometry and its transpose's share, for a
/// struct literal.
fn geom_fields(g: &Geom) -> TokenStream {
    let Geom {
        in_h,
        in_w,
        c_in,
        out_h,
        out_w,
        c_out,
        fh,
        fw,
        sh,
        sw,
        pad_top,
        pad_left,
        dh,
        dw,
        depth: _,
    } = *g;
    quote! {
        in_h: #in_h, in_w: #in_w, c_in: #c_in, out_h: #out_h, out_w: #out_w, c_out: #c_out,
        fh: #fh, fw: #fw, sh: #sh, sw: #sw, pad_top: #pad_top, pad_left: #pad_left,
        dh: #dh, dw: #dw,
    }
}

/// A `Conv2dGeom` literal.
pub fn conv_geom(g: &Geom) -> TokenStream {
    let (rt, fields) = (rt(), geom_fields(g));
    quote!(#rt::Conv2dGeom { #fields })
}

/// A `Conv3dGeom` literal (`g.depth` is set).
pub fn conv3d_geom(g: &Geom, groups: usize) -> TokenStream {
    let (rt, fields) = (rt(), geom_fields(g));
    let DepthGeom {
        in_d,
        out_d,
        fd,
        sd,
        pad_front,
        dd,
        ..
    } = g.depth.expect("a volume's convolution has a depth axis");
    quote! {
        #rt::Conv3dGeom {
            #fields in_d: #in_d, out_d: #out_d, fd: #fd, sd: #sd, pad_front: #pad_front,
            dd: #dd, groups: #groups,
        }
    }
}

/// A `Pool3dGeom` literal (`g.depth` is set).
pub fn pool3d_geom(g: &Geom) -> TokenStream {
    let rt = rt();
    let Geom {
        in_h,
        in_w,
        c_in,
        out_h,
        out_w,
        fh,
        fw,
        sh,
        sw,
        pad_top,
        pad_left,
        ..
    } = *g;
    let DepthGeom {
        in_d,
        out_d,
        fd,
        sd,
        pad_front,
        ..
    } = g.depth.expect("a volume's pooling has a depth axis");
    quote! {
        #rt::Pool3dGeom {
            in_d: #in_d, in_h: #in_h, in_w: #in_w, c: #c_in,
            out_d: #out_d, out_h: #out_h, out_w: #out_w,
            fd: #fd, fh: #fh, fw: #fw, sd: #sd, sh: #sh, sw: #sw,
            pad_front: #pad_front, pad_top: #pad_top, pad_left: #pad_left,
        }
    }
}

/// A `ConvTranspose2dGeom` literal: `g` is the transposed convolution's
/// own geometry, `out_pad` its output padding.
pub fn transpose_geom(g: &Geom, [oph, opw]: [usize; 2]) -> TokenStream {
    let (rt, fields) = (rt(), geom_fields(g));
    quote!(#rt::ConvTranspose2dGeom { #fields out_pad_h: #oph, out_pad_w: #opw })
}

/// A `ConvTranspose3dGeom` literal: `g` is the transposed convolution's
/// own geometry with its depth axis, `out_pad` its output padding of rows
/// and columns.
pub fn transpose3d_geom(g: &Geom, [oph, opw]: [usize; 2], groups: usize) -> TokenStream {
    let (rt, fields) = (rt(), geom_fields(g));
    let DepthGeom {
        in_d,
        out_d,
        fd,
        sd,
        pad_front,
        dd,
        out_pad,
    } = g
        .depth
        .expect("a volume's transposed convolution has a depth axis");
    quote! {
        #rt::ConvTranspose3dGeom {
            #fields in_d: #in_d, out_d: #out_d, fd: #fd, sd: #sd, pad_front: #pad_front,
            dd: #dd, out_pad_d: #out_pad, out_pad_h: #oph, out_pad_w: #opw, groups: #groups,
        }
    }
}

/// An upsampling's geometry from an `OpKind::Upsample`: its type, the
/// literal, and the kernel module (`upsample`, or `upsample3d` for a
/// volume).
pub fn upsample_geom(kind: &OpKind) -> (TokenStream, TokenStream, TokenStream) {
    let rt = rt();
    let OpKind::Upsample {
        depth,
        in_h,
        in_w,
        c,
        sh,
        sw,
        bilinear,
    } = *kind
    else {
        unreachable!("upsample_geom is called on Upsample ops")
    };
    let mode = if bilinear {
        quote!(#rt::Interpolation::Bilinear)
    } else {
        quote!(#rt::Interpolation::Nearest)
    };
    match depth {
        Some((in_d, sd)) => (
            quote!(#rt::Upsample3dGeom),
            quote! {
                #rt::Upsample3dGeom {
                    in_d: #in_d, in_h: #in_h, in_w: #in_w, c: #c, sd: #sd, sh: #sh, sw: #sw,
                    mode: #mode,
                }
            },
            quote!(upsample3d),
        ),
        None => (
            quote!(#rt::UpsampleGeom),
            quote! {
                #rt::UpsampleGeom { in_h: #in_h, in_w: #in_w, c: #c, sh: #sh, sw: #sw, mode: #mode }
            },
            quote!(upsample),
        ),
    }
}

/// A `PoolGeom` literal.
pub fn pool_geom(g: &Geom) -> TokenStream {
    let rt = rt();
    let Geom {
        in_h,
        in_w,
        c_in,
        out_h,
        out_w,
        fh,
        fw,
        sh,
        sw,
        pad_top,
        pad_left,
        ..
    } = *g;
    quote! {
        #rt::PoolGeom {
            in_h: #in_h, in_w: #in_w, c: #c_in, out_h: #out_h, out_w: #out_w,
            fh: #fh, fw: #fw, sh: #sh, sw: #sw, pad_top: #pad_top, pad_left: #pad_left,
        }
    }
}

/// Whether a fused activation needs its output read back in backward.
pub fn has_act(a: Act) -> bool {
    a != Act::Identity
}
