//! Backward code, generated in reverse op order with no tape: each block
//! reads the gradient of its op's output, applies a fused activation's
//! derivative in place on it (from the saved output), and calls the layer's
//! backward kernel, which adds into the parameter gradients and writes the
//! gradient of the input only when something below it trains.
//!
//! The statements run inside the generated `__backward`, with the
//! parameters `p`, their gradients `grads` (same offsets, trainable part
//! only), the workspace's `f`, `u`, `fixed` and `batch` in scope.

use proc_macro2::TokenStream;
use quote::quote;

use super::forward::{conv_geom, has_act, pool_geom};
use super::plan::{Back, OpKind, Program, Slot, Step};
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
        let i = b.op;
        quote! {
            if #i >= lowest {
                #kernel #(#after)*
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
            quote!(if #index > lowest { Some(dx) } else { None }),
        ),
        None => (vec![], quote!(None)),
    };
    let dx_name: Vec<TokenStream> = back.dx.iter().map(|_| quote!(dx)).collect();
    let param_free = !matches!(
        op.kind,
        OpKind::Conv { .. }
            | OpKind::Dense { .. }
            | OpKind::BatchNorm { .. }
            | OpKind::Activation { .. }
    );
    if param_free && back.dx.is_none() {
        return quote!();
    }
    match &op.kind {
        OpKind::Conv { w, b, act: a, .. } | OpKind::Dense { w, b, act: a, .. } => {
            // Cut x, y (when an activation was fused), dy and dx at once.
            let (y_name, y_slot, derivative) = if has_act(*a) {
                let a = act(*a);
                (
                    vec![quote!(y)],
                    vec![ys],
                    quote!(#rt::layers::activation::backward_inplace(#a, y, dy)?;),
                )
            } else {
                (vec![], vec![], quote!())
            };
            let (wr, wp) = (range(*w), p(*w));
            let (db_name, db_slot, db_arg) = match b {
                Some(b) => (vec![quote!(db)], vec![range(*b)], quote!(Some(db))),
                None => (vec![], vec![], quote!(None)),
            };
            let call = match &op.kind {
                OpKind::Conv { g, groups, .. } => {
                    let geom = conv_geom(g);
                    let call = if *groups > 1 {
                        quote!(#rt::layers::conv2d::backward_grouped(&G, #groups, batch, x, #wp, dy, #dx_arg, dw, #db_arg)?;)
                    } else {
                        quote!(#rt::layers::conv2d::backward(&G, batch, x, #wp, dy, #dx_arg, dw, #db_arg)?;)
                    };
                    quote! {
                        const G: #rt::Conv2dGeom = #geom;
                        #call
                    }
                }
                OpKind::Dense { n_in, n_out, .. } => quote! {
                    #rt::layers::dense::backward(batch, #n_in, #n_out, x, #wp, dy, #dx_arg, dw, #db_arg)?;
                },
                _ => unreachable!(),
            };
            // A frozen layer's weight gradients go to scratch.
            let (target, wr, db_slot, zero) = match back.scratch {
                Some((sw, sb)) => (
                    quote!(fixed),
                    range(sw),
                    sb.map(range).into_iter().collect(),
                    quote!(dw.fill(0.0); #(#db_name.fill(0.0);)*),
                ),
                None => (quote!(grads), wr, db_slot, quote!()),
            };
            quote! {{
                let [x, #(#y_name,)* dy #(, #dx_name)*] = #rt::net::slices(f, [#xs, #(#y_slot,)* #dys #(, #dx_slot)*])?;
                #derivative
                let [dw #(, #db_name)*] = #rt::net::slices(#target, [#wr #(, #db_slot)*])?;
                #zero
                #call
            }}
        }
        // Frozen: the moving statistics' affine map; only dx.
        OpKind::BatchNorm {
            rows,
            c,
            bn,
            saved: None,
            act: a,
        } => {
            let a = act(*a);
            let (gamma, beta, mean, var) = (p(bn.gamma), p(bn.beta), p(bn.mean), p(bn.var));
            let eps = super::f32_lit(bn.eps);
            quote! {{
                let [x, dy, dx] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
                #rt::layers::batch_norm::backward_frozen_act(batch * #rows, #c, x, #gamma, #beta, #mean, #var, #eps, #a, dy, dx)?;
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
            let (gamma, beta) = (p(bn.gamma), p(bn.beta));
            let a = act(*a);
            let k = bn.gamma_tensor;
            let (rm, rv) = (p(bn.mean), p(bn.var));
            let eps = super::f32_lit(bn.eps);
            quote! {{
                let [x, dy #(, #dx_name)*] = #rt::net::slices(f, [#xs, #dys #(, #dx_slot)*])?;
                if freezing.is_frozen(#k) {
                    #rt::layers::batch_norm::backward_frozen_act(batch * #rows, #c, x, #gamma, #beta, #rm, #rv, #eps, #a, dy, dx)?;
                } else {
                    let [mean, inv_std] = #rt::net::slices(fixed, [#sm, #si])?;
                    let [dgamma, dbeta] = #rt::net::slices(grads, [#gr, #br])?;
                    #rt::layers::batch_norm::backward_sync(batch * #rows, #c, x, #gamma, #beta, mean, inv_std, #a, dy, dx, dgamma, dbeta, shard.batch_norm_sync())?;
                }
            }}
        }
        // In place: the input's gradient is the output's, scaled.
        OpKind::Activation { act: a } => {
            let a = act(*a);
            quote! {{
                let [y, dy] = #rt::net::slices(f, [#ys, #dys])?;
                #rt::layers::activation::backward_inplace(#a, y, dy)?;
            }}
        }
        OpKind::Softmax { rows, classes } => quote! {{
            let [y, dy, dx] = #rt::net::slices(f, [#ys, #dys #(, #dx_slot)*])?;
            #rt::net::softmax_backward(batch * #rows, #classes, y, dy, dx)?;
        }},
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
