//! The held forward pass: `forward`, `step` and `zero_grads` on the
//! generated struct, the `TAPS` table, and `impl cnn::pass::Held`, which
//! tells the runtime's `Pass` where the training program keeps the logits,
//! the final activation's output, the taps and the input's gradient. The
//! pass runs the training program (every activation kept until backward);
//! what is generic over networks is in `cnn_runtime::pass`.

use proc_macro2::TokenStream;
use quote::quote;

use super::parts::Parts;
use super::plan::{FinalKind, Program, Slot};
use super::{dims, rt, span};
use crate::ast::Header;
use crate::ir::{Layer, Net, Shape};

/// The tapped layers' output shapes, by the names the declaration gives.
fn tap_shapes(net: &Net) -> Vec<(String, Vec<usize>)> {
    fn find(layers: &[Layer], name: &str) -> Option<Shape> {
        layers.iter().find_map(|l| {
            if l.name == name {
                return l.output;
            }
            l.children().into_iter().find_map(|list| find(list, name))
        })
    }
    net.taps
        .iter()
        .map(|(name, _)| {
            let shape = find(&net.layers, name).map(dims).unwrap_or_default();
            (name.clone(), shape)
        })
        .collect()
}

/// `TAPS`, with the struct's other constants.
pub fn taps_const(net: &Net) -> TokenStream {
    let rt = rt();
    let rows = tap_shapes(net)
        .into_iter()
        .map(|(name, shape)| quote!(#rt::pass::Tap { name: #name, shape: &[#(#shape),*] }));
    quote! {
        /// The layers whose outputs a held pass shows (`taps: [..]` in the
        /// declaration), with one example's shape: `pass.tap(name)`.
        pub const TAPS: &'static [#rt::pass::Tap] = &[#(#rows),*];
    }
}

/// `forward`, `step`, `zero_grads`.
pub fn methods(parts: Option<&Parts>, x_ty: &TokenStream) -> TokenStream {
    let rt = rt();
    let stub = quote!(::core::unreachable!("network! reported errors"));
    let res = |ty: TokenStream| quote!(::core::result::Result<#ty, #rt::Error>);
    let r_pass = res(quote!(#rt::pass::Pass<'_, Self>));
    let r_unit = res(quote!(()));
    let (forward_body, step_body, zero_body, held_forward_body) = match parts {
        None => (stub.clone(), stub.clone(), stub.clone(), stub),
        Some(p) => bodies(p),
    };
    quote! {
        /// Runs the network's training program on a batch and holds it for
        /// backward (`cnn::pass`): `pass.output()`, `pass.tap(name)`, then
        /// `pass.backward(..)` or `pass.backward_loss(&loss, target)`, which
        /// add the parameter gradients (applied by [`Self::step`]) and, when
        /// asked, compute the gradient with respect to `x`. `Mode::Train`
        /// uses the batch's statistics in batch norm (updating the moving
        /// ones) and drops units; `Mode::Infer` behaves as `predict`. A
        /// wrong shape or an empty batch is an `Err`.
        pub fn forward(&mut self, x: #x_ty, mode: #rt::pass::Mode) -> #r_pass {
            #forward_body
        }

        /// One optimizer step on the gradients the held passes since the
        /// last step added (the layers frozen at run time left out), then
        /// clears them. An `Err`, changing nothing, when no backward ran
        /// since the last step.
        pub fn step<O: #rt::optim::Optimizer + ?Sized>(&mut self, opt: &mut O) -> #r_unit {
            #step_body
        }

        /// Drops the gradients the held passes have added since the last
        /// step.
        pub fn zero_grads(&mut self) {
            #zero_body
        }

        /// The forward of a held pass, `fill` writing the batch into the
        /// input slot: the training program, then the final activation.
        /// Moving statistics are put back on an error. `shard`: the
        /// batch's place in a global batch (dropout masks by position).
        fn __held_forward(
            &mut self,
            batch: usize,
            mode: #rt::pass::Mode,
            fill: impl ::core::ops::FnOnce(&mut [f32]),
            shard: &mut #rt::net::Shard<'_>,
        ) -> #r_unit {
            #held_forward_body
        }
    }
}

fn bodies(p: &Parts) -> (TokenStream, TokenStream, TokenStream, TokenStream) {
    let rt = rt();
    let train = p.train;
    let t = p.params.trainable;
    let mutable = p.params.mutable;
    let backup = super::range(train.backup.expect("training plans a backup"));
    let input = span(train.values[train.input].slot);
    let logits = span(train.values[train.output].slot);
    let main = train.losses.last().expect("training plans the main loss");
    let positions = main.positions;
    let activate = match train.fin {
        None => quote!(),
        Some(fin) => {
            let probs = span(fin.probs);
            let call = match fin.kind {
                FinalKind::Softmax { channels } => quote! {
                    #rt::layers::activation::softmax(batch * #positions, #channels, logits, probs)?;
                },
                FinalKind::Sigmoid => quote! {
                    #rt::layers::activation::forward(#rt::Act::Sigmoid, logits, probs)?;
                },
            };
            quote! {
                let [logits, probs] = #rt::net::slices(&mut ws.f, [#logits, #probs])?;
                #call
            }
        }
    };
    let forward = quote! {
        let batch = #rt::net::check_input("forward: x", x.shape(), &Self::INPUT_SHAPE)?;
        self.__held_forward(batch, mode, |dst| Self::__copy_input(x, dst), &mut #rt::net::Shard::whole())?;
        Ok(#rt::pass::Pass::__new(self, batch, mode))
    };
    let held_forward = quote! {
        if batch == 0 {
            return Err(#rt::Error::InvalidArgument(
                "forward: the batch is empty: a held pass needs at least one example".into(),
            ));
        }
        let Self { params, workspace: ws, rng, freezing, .. } = self;
        let freezing: &#rt::net::Freezing = freezing;
        ws.ensure(batch, &Self::__TRAIN)?;
        let infer = mode == #rt::pass::Mode::Infer;
        // Dropout masks come from the network's generator, as in a step.
        let seed = if infer { 0 } else { rng.next_u64() };
        fill(&mut ws.f[#input]);
        ws.fixed[#backup].copy_from_slice(&params[#t..#mutable]);
        let run = Self::__forward_train(params, ws, batch, seed, infer, freezing, shard)
            .and_then(|()| {
                #activate
                Ok(())
            });
        if let Err(e) = run {
            params[#t..#mutable].copy_from_slice(&ws.fixed[#backup]);
            return Err(e);
        }
        Ok(())
    };
    let step = quote! {
        if self.pending == 0 {
            return Err(#rt::Error::InvalidArgument(
                "step: no gradient to apply: run backward on a held pass (net.forward(..)) first".into(),
            ));
        }
        self.freezing.step(opt, &mut self.params[..Self::TRAINABLE_PARAMS], &self.grads[..Self::TRAINABLE_PARAMS]);
        self.grads.fill(0.0);
        self.pending = 0;
        Ok(())
    };
    let zero = quote! {
        self.grads.fill(0.0);
        self.pending = 0;
    };
    (forward, step, zero, held_forward)
}

/// `impl cnn::pass::Held` (beside compile errors, with bodies that never
/// run, so that code calling `forward` shows no follow-on errors).
pub fn held_impl(header: &Header, net: &Net, parts: Option<&Parts>) -> TokenStream {
    let rt = rt();
    let ident = &header.ident;
    let nd = quote!(::cnn::__private::ndarray);
    // A batch has one axis more than an example (a net whose sizes did
    // not check takes vectors).
    let dim = |s: Option<Shape>| {
        let ix = ::quote::format_ident!("Ix{}", s.map_or(1, |s| super::dims(s).len()) + 1);
        quote!(#nd::#ix)
    };
    let in_dim = dim(Some(net.input));
    let out_dim = dim(net.layers.last().map_or(Some(net.input), |l| l.output));
    let stub = quote!(::core::unreachable!("network! reported errors"));
    let (fin, body) = match parts {
        None => (quote!(None), held_stub(&stub)),
        Some(p) => (final_kind(p.train), held_bodies(p.train)),
    };
    quote! {
        #[allow(unused_variables, clippy::all)]
        impl #rt::pass::Held for #ident {
            type InDim = #in_dim;
            type OutDim = #out_dim;
            const IN_SHAPE: &'static [usize] = &Self::INPUT_SHAPE;
            const OUT_SHAPE: &'static [usize] = &Self::OUTPUT_SHAPE;
            const TAP_LIST: &'static [#rt::pass::Tap] = Self::TAPS;
            const FINAL: ::core::option::Option<#rt::loss::Fused> = #fin;
            #body
        }
    }
}

fn final_kind(train: &Program) -> TokenStream {
    let rt = rt();
    match train.fin.map(|f| f.kind) {
        Some(FinalKind::Softmax { .. }) => quote!(Some(#rt::loss::Fused::Softmax)),
        Some(FinalKind::Sigmoid) => quote!(Some(#rt::loss::Fused::Sigmoid)),
        None => quote!(None),
    }
}

fn held_stub(stub: &TokenStream) -> TokenStream {
    let rt = rt();
    let r = |ty: TokenStream| quote!(#rt::Result<#ty>);
    let (r_slots, r_unit) = (r(quote!(#rt::pass::Slots<'_>)), r(quote!(())));
    quote! {
        fn __slots(&mut self, batch: usize) -> #r_slots { #stub }
        fn __output(&self, batch: usize) -> &[f32] { #stub }
        fn __tap(&self, k: usize, batch: usize) -> &[f32] { #stub }
        fn __input_grad(&self, batch: usize) -> &[f32] { #stub }
        fn __backward(&mut self, batch: usize, mode: #rt::pass::Mode, taps: &[::core::option::Option<&[f32]>], input_grad: bool) -> #r_unit { #stub }
        fn __restore_moving(&mut self) { #stub }
    }
}

fn held_bodies(train: &Program) -> TokenStream {
    let rt = rt();
    let r = |ty: TokenStream| quote!(#rt::Result<#ty>);
    let (r_slots, r_unit) = (r(quote!(#rt::pass::Slots<'_>)), r(quote!(())));
    let main = train.losses.last().expect("training plans the main loss");
    let logits = span(train.values[train.output].slot);
    let dlogits = span(main.dlogits);
    let (slots, output) = match train.fin {
        Some(fin) => {
            let (probs, dprobs) = (span(fin.probs), span(fin.dprobs));
            (
                quote! {
                    let [logits, probs, dlogits, dprobs] =
                        #rt::net::slices(&mut self.workspace.f, [#logits, #probs, #dlogits, #dprobs])?;
                    Ok(#rt::pass::Slots { logits, probs: Some(probs), dlogits, dprobs: Some(dprobs) })
                },
                quote!(&self.workspace.f[#probs]),
            )
        }
        None => (
            quote! {
                let [logits, dlogits] = #rt::net::slices(&mut self.workspace.f, [#logits, #dlogits])?;
                Ok(#rt::pass::Slots { logits, probs: None, dlogits, dprobs: None })
            },
            quote!(&self.workspace.f[#logits]),
        ),
    };
    let tap_arms = train.taps.iter().enumerate().map(|(k, &v)| {
        let s = span(train.values[v].slot);
        quote!(#k => &self.workspace.f[#s],)
    });
    let input_grad = match train.values[train.input].grad {
        Some(g) => span(g),
        None => span(Slot { offset: 0, len: 0 }),
    };
    // The auxiliary heads' losses take no part in a held pass.
    let aux = train.losses[..train.losses.len() - 1].iter().map(|l| {
        let d = span(l.dlogits);
        quote!(ws.f[#d].fill(0.0);)
    });
    let n_taps = train.taps.len();
    quote! {
        fn __slots(&mut self, batch: usize) -> #r_slots {
            #slots
        }
        fn __output(&self, batch: usize) -> &[f32] {
            #output
        }
        fn __tap(&self, k: usize, batch: usize) -> &[f32] {
            match k {
                #(#tap_arms)*
                _ => &[],
            }
        }
        fn __input_grad(&self, batch: usize) -> &[f32] {
            &self.workspace.f[#input_grad]
        }
        fn __backward(
            &mut self,
            batch: usize,
            mode: #rt::pass::Mode,
            taps: &[::core::option::Option<&[f32]>],
            input_grad: bool,
        ) -> #r_unit {
            let taps: &[::core::option::Option<&[f32]>; #n_taps] = taps.try_into().map_err(|_| {
                #rt::Error::InvalidArgument(::std::format!("backward: {} tap gradients for {} taps", taps.len(), #n_taps))
            })?;
            let Self { params, grads, workspace: ws, freezing, pending, .. } = self;
            let freezing: &#rt::net::Freezing = freezing;
            #(#aux)*
            let lowest = if input_grad { 0 } else { freezing.lowest(Self::__TENSOR_OP) };
            let infer = mode == #rt::pass::Mode::Infer;
            Self::__backward(params, grads, ws, batch, freezing, lowest, input_grad, infer, taps, &mut #rt::net::Shard::whole())?;
            *pending += 1;
            Ok(())
        }
        fn __restore_moving(&mut self) {
            Self::__restore_moving(self)
        }
    }
}
