//! The private half of the generated impl: the workspace layouts, the
//! training step (boundary copy, forward with the losses, backward into the
//! gradient buffer, restoring the moving statistics when the loss is not
//! finite) and the chunked inference pass. Inputs arrive through a `fill`
//! closure, so an ndarray view and a flat slice share one code path.

use proc_macro2::TokenStream;
use quote::quote;

use super::parts::Parts;
use super::plan::{Mode, Program};
use super::{backward, forward, range, rt};

/// At most this many bytes of inference workspace per chunk of a
/// `predict` batch (the batch is run in chunks of at most 256 examples).
const PREDICT_CHUNK_BYTES: usize = 64 << 20;

/// Examples of at most this many bytes of inference workspace let
/// `predict` run whole chunks per thread (LeNet-5: 28 KB; ResNet-20: 242
/// KB; ResNet-50 at 224x224, 13 MB, stays layer by layer, so that each
/// weight is read once per chunk rather than once per example).
const BY_EXAMPLE_BYTES: usize = 256 << 10;
/// The most inference workspace a thread's chunk of the batch takes when
/// chunks go to threads: about an L2 (LeNet-5: 37 examples; ResNet-20: 4).
const TASK_BYTES: usize = 1 << 20;

/// The private half: workspace layouts, the step, the passes.
pub fn private_items(parts: &Parts, x_ty: &TokenStream) -> TokenStream {
    let rt = rt();
    let Parts {
        params,
        train,
        infer,
        ..
    } = parts;
    let t = params.trainable;
    let mutable = params.mutable;
    let layout = |p: &Program| {
        let (a, b, c) = (p.per_example, p.per_example_u32, p.fixed);
        quote!(#rt::net::WorkspaceLayout { per_example: #a, per_example_u32: #b, fixed: #c })
    };
    let (train_layout, infer_layout) = (layout(train), layout(infer));
    let chunk = (PREDICT_CHUNK_BYTES / (4 * infer.per_example.max(1))).clamp(1, 256);
    let example_bytes = 4 * (infer.per_example + infer.per_example_u32);
    let by_example = if example_bytes <= BY_EXAMPLE_BYTES {
        let most = TASK_BYTES / example_bytes.max(1);
        quote!(::core::option::Option::Some(#most))
    } else {
        quote!(::core::option::Option::None)
    };
    let slot = |p: &Program, v: usize| {
        let s = p.values[v].slot;
        (s.offset, s.len)
    };
    let (train_in, train_in_len) = slot(train, train.input);
    let (infer_in, infer_in_len) = slot(infer, infer.input);
    let (infer_out, infer_out_len) = slot(infer, infer.output);
    let losses = train.losses.iter().map(|l| {
        let (logits, classes, dlogits) = (train.values[l.logits].slot.offset, l.classes, l.dlogits.offset);
        let (positions, channels) = (l.positions, l.classes / l.positions.max(1));
        let w = super::f32_lit(l.weight);
        quote! {{
            let [logits, dlogits] = #rt::net::slices(f, [
                #rt::net::span(batch, #logits, #classes),
                #rt::net::span(batch, #dlogits, #classes),
            ])?;
            // One rank's shard weighs its share of the global batch (1 alone).
            let w = #w * shard.weight();
            // A softmax per position: one row (and one label) per position.
            loss += w * #rt::layers::loss::softmax_cross_entropy(batch * #positions, #channels, logits, labels, w, dlogits)?;
        }}
    });
    let main = train.losses.last().expect("training plans the main loss");
    let (positions, channels) = (main.positions, main.classes / main.positions.max(1));
    let n_taps = train.taps.len();
    let backup = range(train.backup.expect("training plans a backup"));
    let train_fwd = forward::program(
        train,
        forward::Params {
            mode: Mode::Train,
            trainable: t,
        },
    );
    let infer_fwd = forward::program(
        infer,
        forward::Params {
            mode: Mode::Infer,
            trainable: t,
        },
    );
    let back = backward::program(train);
    let tensor_op = &train.tensor_op;
    let ws_ty = quote!(#rt::net::Workspace);
    // Probabilities from the outputs: a copy when the network ends in a
    // softmax, else the softmax of the outputs (the loss's view of them).
    let to_out = if parts.fused_softmax {
        quote!(dst.copy_from_slice(src);)
    } else {
        quote! {
            if probs {
                #rt::layers::activation::softmax(n, Self::OUTPUT_SIZE, src, dst)?;
            } else {
                dst.copy_from_slice(src);
            }
        }
    };
    let (logits, classes) = slot(train, train.output);
    let res = |ty: TokenStream| quote!(::core::result::Result<#ty, #rt::Error>);
    let (r_unit, r_f32) = (res(quote!(())), res(quote!(f32)));
    quote! {
        const __TRAIN: #rt::net::WorkspaceLayout = #train_layout;
        const __INFER: #rt::net::WorkspaceLayout = #infer_layout;
        /// Examples per inference pass: bounds `predict`'s memory.
        const __CHUNK: usize = #chunk;
        /// Whether `predict` may give whole chunks to threads, and of how
        /// many examples at most (examples small enough that several fit
        /// in L2): `net::infer_chunks`.
        const __BY_EXAMPLE: ::core::option::Option<usize> = #by_example;

        /// For each trainable tensor, the training op that holds it.
        const __TENSOR_OP: &'static [usize] = &[#(#tensor_op),*];
        /// Labels per example (positions of a softmax per position, else
        /// 1) and the classes each chooses from.
        const __POSITIONS: usize = #positions;
        const __CHANNELS: usize = #channels;

        fn __from_params(params: ::std::vec::Vec<f32>, rng: #rt::rng::Rng) -> Self {
            Self {
                params,
                grads: ::std::vec![0.0; Self::TRAINABLE_PARAMS],
                workspace: ::core::default::Default::default(),
                rng,
                freezing: #rt::net::Freezing::new(Self::TENSORS),
                pending: 0,
            }
        }

        /// Copies a batch into a workspace slot in standard (row-major NHWC)
        /// order, whatever the view's strides.
        fn __copy_input(x: #x_ty, dst: &mut [f32]) {
            match x.as_slice() {
                Some(s) => dst.copy_from_slice(s),
                None => dst.iter_mut().zip(x.iter()).for_each(|(d, s)| *d = *s),
            }
        }

        /// Inference on `batch` examples in chunks of at most `__CHUNK`:
        /// `fill(start, n, dst)` writes examples `start..start + n` into the
        /// input slot; the outputs go to `out` (`[batch, OUTPUT_SIZE]`), as
        /// class probabilities when `probs` (a softmax is applied when the
        /// network does not end in one).
        fn __infer(
            &self,
            batch: usize,
            out: &mut [f32],
            probs: bool,
            fill: impl Fn(usize, usize, &mut [f32]) + Sync,
        ) -> #r_unit {
            #rt::net::infer_chunks(
                batch,
                Self::__CHUNK,
                Self::__BY_EXAMPLE,
                Self::OUTPUT_SIZE,
                out,
                |start, n, ws, dst| -> #r_unit {
                    ws.ensure(n, &Self::__INFER)?;
                    fill(start, n, &mut ws.f[#rt::net::span(n, #infer_in, #infer_in_len)]);
                    Self::__forward_infer(&self.params, ws, n)?;
                    let src = &ws.f[#rt::net::span(n, #infer_out, #infer_out_len)];
                    #to_out
                    Ok(())
                },
            )
        }

        /// Forward in training mode with the losses, then backward into
        /// `grads`; the optimizer is the caller's. `fill` writes the batch
        /// into the input slot. Moving statistics are restored when the loss
        /// is not finite or a kernel fails. `shard` places the batch in a
        /// data-parallel global batch (`Shard::whole()` alone: then nothing
        /// changes); on a rank's shard the loss is checked after the
        /// ranks' sum instead (`train_shard`), and 0 is returned.
        fn __step(
            &mut self,
            batch: usize,
            labels: &[usize],
            seed: Option<u64>,
            fill: impl FnOnce(&mut [f32]),
            shard: &mut #rt::net::Shard<'_>,
        ) -> #r_f32 {
            #rt::net::check_labels(labels, batch * Self::__POSITIONS, Self::__CHANNELS)?;
            let Self { params, grads, workspace: ws, rng, freezing, pending } = self;
            *pending = 0;
            let freezing: &#rt::net::Freezing = freezing;
            ws.ensure(batch, &Self::__TRAIN)?;
            let seed = match seed {
                Some(s) => s,
                None => rng.next_u64(),
            };
            fill(&mut ws.f[#rt::net::span(batch, #train_in, #train_in_len)]);
            ws.fixed[#backup].copy_from_slice(&params[#t..#mutable]);
            let loss = Self::__forward_train(params, ws, batch, seed, false, freezing, shard)
                .and_then(|()| Self::__losses(ws, batch, labels, shard));
            let logits = &ws.f[#rt::net::span(batch, #logits, #classes)];
            let loss = match shard.total_loss(loss, logits, Self::__CHANNELS, labels) {
                Ok(loss) if loss.is_finite() => loss,
                other => {
                    params[#t..#mutable].copy_from_slice(&ws.fixed[#backup]);
                    return Err(match other {
                        Ok(loss) => #rt::Error::NonFiniteLoss { loss, at: ::std::string::String::from("train_step") },
                        Err(e) => e,
                    });
                }
            };
            grads.fill(0.0);
            let lowest = freezing.lowest(Self::__TENSOR_OP);
            let taps = [::core::option::Option::None; #n_taps];
            Self::__backward(params, grads, ws, batch, freezing, lowest, false, false, &taps, shard)?;
            Ok(loss)
        }

        /// Puts back the moving statistics saved at the start of the last
        /// step (a data-parallel step that the ranks agreed not to apply).
        fn __restore_moving(&mut self) {
            self.params[#t..#mutable].copy_from_slice(&self.workspace.fixed[#backup]);
        }

        /// The main output's logits of the last training step, `[batch, OUTPUT_SIZE]`.
        fn __logits(&self, batch: usize) -> &[f32] {
            &self.workspace.f[#rt::net::span(batch, #logits, #classes)]
        }

        /// The training program's forward (`infer`: batch norm on its
        /// moving statistics and no dropout, for a held pass in inference
        /// mode).
        fn __forward_train(
            params: &mut [f32],
            ws: &mut #ws_ty,
            batch: usize,
            seed: u64,
            infer: bool,
            freezing: &#rt::net::Freezing,
            shard: &mut #rt::net::Shard<'_>,
        ) -> #r_unit {
            let (tp, ntp) = params.split_at_mut(#t);
            let tp: &[f32] = tp;
            let #ws_ty { f, u, fixed } = ws;
            #train_fwd
            Ok(())
        }

        /// The cross-entropies of the main output and the auxiliary heads
        /// against the labels, their gradients in the logits' slots.
        fn __losses(
            ws: &mut #ws_ty,
            batch: usize,
            labels: &[usize],
            shard: &mut #rt::net::Shard<'_>,
        ) -> #r_f32 {
            let f = &mut ws.f;
            let mut loss = 0.0f32;
            #(#losses)*
            Ok(loss)
        }

        /// Backward from the logits' gradients. Ops below `lowest` do not
        /// run; `input_grad` computes every input gradient (down to the
        /// network's input); `taps` holds a gradient (or `None`) per tap.
        fn __backward(
            p: &[f32],
            grads: &mut [f32],
            ws: &mut #ws_ty,
            batch: usize,
            freezing: &#rt::net::Freezing,
            lowest: usize,
            input_grad: bool,
            infer: bool,
            taps: &[::core::option::Option<&[f32]>; #n_taps],
            shard: &mut #rt::net::Shard<'_>,
        ) -> #r_unit {
            let _ = (&shard, &taps, infer, input_grad); // not every network reads them
            let #ws_ty { f, u, fixed } = ws;
            #back
            Ok(())
        }

        fn __forward_infer(p: &[f32], ws: &mut #ws_ty, batch: usize) -> #r_unit {
            let #ws_ty { f, u, fixed } = ws;
            #infer_fwd
            Ok(())
        }
    }
}
