//! Backward code, generated in reverse op order with no tape: each block
//! reads the gradient of its op's output, applies a fused activation's
//! derivative in place on it (from the saved output), and calls the layer's
//! backward kernel, which adds into the parameter gradients and writes the
//! gradient of the input only when something below it trains.
//!
//! The statements run inside the generated `__backward`, with the
//! parameters `p`, their gradients `grads` (same offsets, trainable part
//! only), the workspace's `f`, `u`, `fixed` and `batch` in scope, and what
//! a held pass adds: `input_grad` (compute every input gradient, down to
//! the network's input), `infer` (batch norm ran on its moving
//! statistics) and `taps` (a gradient, or `None`, per tap). A layer whose
//! weights are frozen, in the declaration or at run time, computes its
//! input gradient alone.

use proc_macro2::TokenStream;
use quote::quote;

use super::forward::{
    batch_norm_args, conv3d_geom, conv_geom, has_act, pool3d_geom, pool_geom, transpose3d_geom,
    transpose_geom, upsample_geom,
};
use super::plan::{Act, Back, OpKind, Program, Slot, Step, TapStep};
use super::{act, range, rt, span};

/// The statements of a backward pass (the loss has written the gradient of
/// the logits).
pub fn program(prog: &Program) -> TokenStream {
    let first = prog.loss_steps.iter().map(step);
    // Ops below `lowest` (the first that still trains when some tensors
    // are frozen at run time) are not back-propagated at all.
    let steps = prog.back.iter().map(|b| {
        let kernel = one(b, prog);
        let after = b.after.iter().map(step);
        let taps = b.taps.iter().map(tap_step);
        let i = b.op;
        quote! {
            if #i >= lowest {
                #(#taps)* #kernel #(#after)*
            }
        }
    });
    quote!(#(#first)* #(#steps)*)
}

/// Gradient bookkeeping between two slots of the workspace.
fn step(s: &Step) -> TokenStream {
    let rt = rt();
    match *s {
        Step::Copy { from, to } => {
            let (from, to) = (span(from), span(to));
            quote! {{
                let [from, to] = #rt::net::slices(f, [#from, #to])?;
                to.copy_from_slice(from);
            }}
        }
        Step::AddInto { into, from } => {
            let (into, from) = (span(into), span(from));
            quote! {{
                let [into, from] = #rt::net::slices(f, [#into, #from])?;
                #rt::layers::merge::add_into(into, from)?;
            }}
        }
    }
}

/// A tap's gradient into its value's (or as it, when nothing else reads
/// the value).
fn tap_step(t: &TapStep) -> TokenStream {
    let rt = rt();
    let (k, into, first) = (t.tap, span(t.into), t.first);
    let otherwise = if t.first {
        quote!(None => into.fill(0.0),)
    } else {
        quote!(None => {})
    };
    quote! {{
        let [into] = #rt::net::slices(f, [#into])?;
        const FIRST: bool = #first;
        match taps[#k] {
            Some(g) => {
                if FIRST {
                    into.copy_from_slice(g);
                } else {
                    #rt::layers::merge::add_into(into, g)?;
                }
            }
            #otherwise
        }
    }}
}

/// The backward kernel of one op (nothing for an addition, or for an op
/// without parameters whose input needs no gradient).
fn one(back: &Back, prog: &Program) -> TokenStream {
    let rt = rt();
    let op = &prog.ops[back.op];
    let xs = span(prog.values[op.x].slot);
    let ys = span(prog.values[op.y].slot);
    let dys = span(back.dy);
    let p = |s: Slot| {
        let r = range(s);
        quote!(&p[#r])
    };
    // `dx` as an argument: `Some(dx)` or `None`, and its slot if any.
    // The lowest op that trains computes no input gradient.
    let index = back.op;
    let (dx_slot, dx_arg) = match back.dx {
        Some(s) => (
            vec![span(s)],
            quote!(if #index > lowest || input_grad { Some(dx) } else { None }),
        ),
        None => (vec![], quote!(None)),
    };
    let dx_name: Vec<TokenStream> = back.dx.iter().map(|_| quote!(dx)).collect();
    let param_free = !matches!(
        op.kind,
        OpKind::Conv { .. }
            | OpKind::Dense { .. }
            | OpKind::BatchNorm { .. }
            | OpKind::Norm { .. }
            | OpKind::Scale { .. }
            | OpKind::Activation { .. }
    );
    if param_free && back.dx.is_none() && back.dother.is_none() {
        return quote!();
    }
    // A layer with weights whose kernels take `dw` and `db` (`full`) or,
    // frozen, compute the input gradient alone (`dx_only`): the geometry
    // constant `geom`, the fused activation's derivative, then either.
    let weighted = |geom: TokenStream,
                    a: &Act,
                    (w, b, w_tensor): (Slot, Option<Slot>, usize),
                    full: TokenStream,
                    dx_only: TokenStream| {
        let (y_name, y_slot, derivative) = fused_derivative(*a, ys.clone());
        let full = weight_grads(w, b, full);
        let body = frozen_or_not(back, op.frozen, w_tensor, &dx_arg, dx_only, full);
        quote! {{
            #geom
            let [x, #(#y_name,)* dy #(, #dx_name)*] = #rt::net::slices(f, [#xs, #(#y_slot,)* #dys #(, #dx_slot)*])?;
            let _ = &x;
            #derivative
            #body
        }}
    };
    match &op.kind {
        // A volume's transposed convolution: its geometry holds the
        // groups; the input gradient alone when frozen.
        OpKind::Conv {
            w,
            b,
            act: a,
            g,
            groups,
            transposed: Some(out_pad),
            w_tensor,
            ..
        } if g.depth.is_some() => {
            let geom = transpose3d_geom(g, *out_pad, *groups);
            let wp = p(*w);
            weighted(
                quote!(const G: #rt::ConvTranspose3dGeom = #geom;),
                a,
                (*w, *b, *w_tensor),
                quote!(#rt::layers::conv_transpose3d::backward(&G, batch, x, #wp, dy, dx, dw, db)?;),
                quote!(#rt::layers::conv_transpose3d::backward_input(&G, batch, #wp, dy, dx)?;),
            )
        }
        // A transposed convolution: the input gradient alone when frozen
        // (whatever its groups).
        OpKind::Conv {
            w,
            b,
            act: a,
            g,
            groups,
            transposed: Some(out_pad),
            w_tensor,
            ..
        } => {
            let geom = transpose_geom(g, *out_pad);
            let wp = p(*w);
            weighted(
                quote!(const G: #rt::ConvTranspose2dGeom = #geom;),
                a,
                (*w, *b, *w_tensor),
                quote!(#rt::layers::conv_transpose::backward(&G, #groups, batch, x, #wp, dy, dx, dw, db)?;),
                quote!(#rt::layers::conv_transpose::backward_input(&G, #groups, batch, #wp, dy, dx)?;),
            )
        }
        // A volume's convolution: its geometry holds the groups, and a
        // frozen one computes the input gradient alone.
        OpKind::Conv {
            w,
            b,
            act: a,
            g,
            groups,
            w_tensor,
            ..
        } if g.depth.is_some() => {
            let geom = conv3d_geom(g, *groups);
            let wp = p(*w);
            weighted(
                quote!(const G: #rt::Conv3dGeom = #geom;),
                a,
                (*w, *b, *w_tensor),
                quote!(#rt::layers::conv3d::backward(&G, batch, x, #wp, dy, dx, dw, db)?;),
                quote!(#rt::layers::conv3d::backward_input(&G, batch, #wp, dy, dx)?;),
            )
        }
        // An image's or a sequence's convolution in any number of groups;
        // a frozen one computes the input gradient alone.
        OpKind::Conv {
            w,
            b,
            act: a,
            g,
            groups,
            w_tensor,
            ..
        } => {
            let geom = conv_geom(g);
            let wp = p(*w);
            weighted(
                quote!(const G: #rt::Conv2dGeom = #geom;),
                a,
                (*w, *b, *w_tensor),
                quote!(#rt::layers::conv2d::backward(&G, #groups, batch, x, #wp, dy, dx, dw, db)?;),
                quote!(#rt::layers::conv2d::backward_input(&G, #groups, batch, #wp, dy, dx)?;),
            )
        }
        OpKind::Dense {
            w,
            b,
            act: a,
            n_in,
            n_out,
            w_tensor,
            ..
        } => {
            let wp = p(*w);
            weighted(
                quote!(),
                a,
                (*w, *b, *w_tensor),
                quote!(#rt::layers::dense::backward(batch, #n_in, #n_out, x, #wp, dy, dx, dw, db)?;),
                quote!(#rt::layers::dense::backward_input(batch, #n_in, #n_out, #wp, dy, dx)?;),
            )
        }
        // Frozen: the moving statistics' affine map; only dx.
        OpKind::BatchNorm {
            rows,
            c,
            bn,
            saved: None,
            act: a,
        } => {
            let args = batch_norm_args(*rows, *c, bn, *a, p(bn.gamma), p(bn.beta));
            let (mean, var) = (p(bn.mean), p(bn.var));
            let bn_rt = quote!(#rt::layers::batch_norm);
            quote! {{
                let [x, dy, dx] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
                #args
                let running = #bn_rt::RunningStats { mean: #mean, var: #var };
                #bn_rt::backward_frozen(shape, x, params, running, SETTINGS, dy, dx)?;
            }}
        }
        OpKind::BatchNorm {
            rows,
            c,
            bn,
            saved,
            act: a,
        } => {
            let (mean, inv_std) = saved.expect("training plans save batch statistics");
            let (sm, si) = (range(mean), range(inv_std));
            let (gr, br) = (range(bn.gamma), range(bn.beta));
            let args = batch_norm_args(*rows, *c, bn, *a, p(bn.gamma), p(bn.beta));
            let k = bn.gamma_tensor;
            let (rm, rv) = (p(bn.mean), p(bn.var));
            let bn_rt = quote!(#rt::layers::batch_norm);
            quote! {{
                let [x, dy #(, #dx_name)*] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
                #args
                if freezing.is_frozen(#k) || infer {
                    let running = #bn_rt::RunningStats { mean: #rm, var: #rv };
                    #bn_rt::backward_frozen(shape, x, params, running, SETTINGS, dy, dx)?;
                } else {
                    let [mean, inv_std] = #rt::net::slices(fixed, [#sm, #si])?;
                    let [dgamma, dbeta] = #rt::net::slices(grads, [#gr, #br])?;
                    let stats = #bn_rt::Stats { mean, inv_std };
                    let bn_grads = #bn_rt::Grads { dy, dx, dgamma, dbeta };
                    #bn_rt::backward(shape, x, params, stats, SETTINGS, bn_grads, shard.batch_norm_sync())?;
                }
            }}
        }
        // Statistics recomputed from x; a frozen layer computes dx alone.
        OpKind::Norm {
            layer_norm,
            n,
            hw,
            c,
            groups,
            gamma_tensor,
            gamma,
            beta,
            eps,
        } => {
            let gp = p(*gamma);
            let (gr, br) = (range(*gamma), range(*beta));
            let eps = super::f32_lit(*eps);
            let (gn, ln) = (
                quote!(#rt::layers::group_norm),
                quote!(#rt::layers::layer_norm),
            );
            let call = |dparams: TokenStream| {
                if *layer_norm {
                    quote! {
                        let shape = #ln::Shape { m: batch * #n, c: #c };
                        #ln::backward(shape, x, #gp, #eps, dy, dx, #dparams)?;
                    }
                } else {
                    quote! {
                        let shape = #gn::Shape { n: batch * #n, hw: #hw, c: #c, groups: #groups };
                        #gn::backward(shape, x, #gp, #eps, dy, dx, #dparams)?;
                    }
                }
            };
            let input_only = call(quote!(None));
            let full = call(quote!(Some(#gn::ParamGrads { dgamma, dbeta })));
            let body = if op.frozen {
                input_only
            } else {
                quote! {
                    if freezing.is_frozen(#gamma_tensor) {
                        #input_only
                    } else {
                        let [dgamma, dbeta] = #rt::net::slices(grads, [#gr, #br])?;
                        #full
                    }
                }
            };
            quote! {{
                let [x, dy #(, #dx_name)*] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
                let dx: ::core::option::Option<&mut [f32]> = #dx_arg;
                #body
            }}
        }
        // The factors' gradient sums dy * x over every row; a frozen
        // layer computes dx alone.
        OpKind::Scale {
            rows,
            c,
            s_tensor,
            s,
        } => {
            let sp = p(*s);
            let sr = range(*s);
            let call = |ds: TokenStream| quote!(#rt::layers::scale::backward(batch * #rows, #c, x, #sp, dy, dx, #ds)?;);
            let input_only = call(quote!(None));
            let full = call(quote!(Some(ds)));
            let body = if op.frozen {
                input_only
            } else {
                quote! {
                    if freezing.is_frozen(#s_tensor) {
                        #input_only
                    } else {
                        let [ds] = #rt::net::slices(grads, [#sr])?;
                        #full
                    }
                }
            };
            quote! {{
                let [x, dy #(, #dx_name)*] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
                let dx: ::core::option::Option<&mut [f32]> = #dx_arg;
                #body
            }}
        }
        // Both factors get a gradient: the input's directly, the body's
        // output's to flow on through the body (into the input again).
        OpKind::Gate { other, hw, c } => {
            let (dg_name, dg_slot, dg_arg) = match back.dother {
                Some(s) => (vec![quote!(dg)], vec![span(s)], quote!(Some(dg))),
                None => (vec![], vec![], quote!(None)),
            };
            let (g_name, g_slot, g) = if *other == op.x {
                (vec![], vec![], quote!(x))
            } else {
                let os = span(prog.values[*other].slot);
                (vec![quote!(g)], vec![os], quote!(g))
            };
            quote! {{
                let [x #(, #g_name)*, dy #(, #dx_name)* #(, #dg_name)*] =
                    #rt::net::slices(f, [#xs #(, #g_slot)*, #dys #(, #dx_slot)* #(, #dg_slot)*])?;
                let dx: ::core::option::Option<&mut [f32]> = #dx_arg;
                #rt::layers::gate::backward(batch, #hw, #c, x, #g, dy, dx, #dg_arg)?;
            }}
        }
        // In place: the input's gradient is the output's, scaled (by the
        // derivative at the input for an activation that needs it).
        OpKind::Activation { act: a } if a.needs_input() => {
            let a = act(*a);
            quote! {{
                let [x, dy] = #rt::net::slices(f, [#xs, #dys])?;
                #rt::layers::activation::backward_from_input(#a, x, dy)?;
            }}
        }
        OpKind::Activation { act: a } => {
            let a = act(*a);
            quote! {{
                let [y, dy] = #rt::net::slices(f, [#ys, #dys])?;
                #rt::layers::activation::backward_inplace(#a, y, dy)?;
            }}
        }
        OpKind::L2Normalize { rows, c } => quote! {{
            let [x, dy, dx] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
            #rt::layers::l2_normalize::backward(batch * #rows, #c, x, dy, dx)?;
        }},
        OpKind::Softmax { rows, classes } => quote! {{
            let [y, dy, dx] = #rt::net::slices(f, [#ys, #dys #(, #dx_slot)*])?;
            #rt::net::softmax_backward(batch * #rows, #classes, y, dy, dx)?;
        }},
        OpKind::MaxPool { g, argmax } if g.depth.is_some() => {
            let geom = pool3d_geom(g);
            let am = span(*argmax);
            quote! {{
                const G: #rt::Pool3dGeom = #geom;
                let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
                let [argmax] = #rt::net::slices(u, [#am])?;
                #rt::layers::pool3d::max_backward(&G, batch, dy, argmax, dx)?;
            }}
        }
        OpKind::AvgPool { g } if g.depth.is_some() => {
            let geom = pool3d_geom(g);
            quote! {{
                const G: #rt::Pool3dGeom = #geom;
                let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
                #rt::layers::pool3d::avg_backward(&G, batch, dy, dx)?;
            }}
        }
        OpKind::MaxPool { g, argmax } => {
            let geom = pool_geom(g);
            let am = span(*argmax);
            quote! {{
                const G: #rt::PoolGeom = #geom;
                let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
                let [argmax] = #rt::net::slices(u, [#am])?;
                #rt::layers::pool::max_backward(&G, batch, argmax, dy, dx)?;
            }}
        }
        OpKind::AvgPool { g } => {
            let geom = pool_geom(g);
            quote! {{
                const G: #rt::PoolGeom = #geom;
                let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
                #rt::layers::pool::avg_backward(&G, batch, dy, dx)?;
            }}
        }
        OpKind::GlobalAvgPool { hw, c } => quote! {{
            let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
            #rt::layers::pool::global_avg_backward(batch, #hw, #c, dy, dx)?;
        }},
        OpKind::Upsample { .. } => {
            let (ty, geom, module) = upsample_geom(&op.kind);
            quote! {{
                const G: #ty = #geom;
                let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
                #rt::layers::#module::backward(&G, batch, dy, dx)?;
            }}
        }
        OpKind::Add { .. } => quote!(),
        OpKind::ConcatPart {
            rows,
            c_total,
            offset,
            c_part,
        } => quote! {{
            let [dy, dx] = #rt::net::slices(f, [#dys #(, #dx_slot)*])?;
            #rt::layers::merge::split_part(batch * #rows, #c_total, #offset, #c_part, dy, dx)?;
        }},
        OpKind::Dropout { mask, .. } => {
            let ms = span(*mask);
            quote! {{
                let [mask, dy, dx] = #rt::net::slices(f, [#ms, #dys #(, #dx_slot)*])?;
                #rt::layers::dropout::backward(mask, dy, dx)?;
            }}
        }
    }
}

/// A fused activation's derivative, applied in place on `dy` from the
/// saved output `y`: the names and slots to cut, and the call.
fn fused_derivative(a: Act, ys: TokenStream) -> (Vec<TokenStream>, Vec<TokenStream>, TokenStream) {
    let rt = rt();
    if has_act(a) {
        let a = act(a);
        (
            vec![quote!(y)],
            vec![ys],
            quote!(#rt::layers::activation::backward_inplace(#a, y, dy)?;),
        )
    } else {
        (vec![], vec![], quote!())
    }
}

/// The full backward call (`dx` bound to the optional input gradient),
/// with `dw` and `db` cut from the gradient buffer.
fn weight_grads(w: Slot, b: Option<Slot>, call: TokenStream) -> TokenStream {
    let rt = rt();
    let wr = range(w);
    let (db_name, db_slot, db_arg) = match b {
        Some(b) => (vec![quote!(db)], vec![range(b)], quote!(Some(db))),
        None => (vec![], vec![], quote!(None)),
    };
    quote! {
        let [dw #(, #db_name)*] = #rt::net::slices(grads, [#wr #(, #db_slot)*])?;
        let db: ::core::option::Option<&mut [f32]> = #db_arg;
        #call
    }
}

/// A layer frozen in the declaration computes its input gradient alone;
/// one that trains computes everything, unless frozen at run time.
fn frozen_or_not(
    back: &Back,
    frozen: bool,
    w_tensor: usize,
    dx_arg: &TokenStream,
    dx_only: TokenStream,
    full: TokenStream,
) -> TokenStream {
    let input_only = if back.dx.is_some() {
        quote! {
            let dx: ::core::option::Option<&mut [f32]> = #dx_arg;
            if let Some(dx) = dx {
                #dx_only
            }
        }
    } else {
        quote!()
    };
    if frozen {
        return input_only;
    }
    quote! {
        if freezing.is_frozen(#w_tensor) {
            #input_only
        } else {
            let dx: ::core::option::Option<&mut [f32]> = #dx_arg;
            #full
        }
    }
}
