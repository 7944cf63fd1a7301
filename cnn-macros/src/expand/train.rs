//! `impl cnn::train::Network` for the generated struct: what the Keras-style
//! training loop (`Model::fit`, `evaluate`, checkpoints) needs, on flat
//! slices. Beside compile errors the impl is still emitted, with bodies that
//! never run, so that code handing the network to `Model` shows no
//! follow-on errors.

use proc_macro2::TokenStream;
use quote::quote;

use super::parts::Parts;
use super::rt;
use crate::ast::Header;

pub fn network_impl(header: &Header, parts: Option<&Parts>) -> TokenStream {
    let rt = rt();
    let ident = &header.ident;
    let stub = quote!(::core::unreachable!("network! reported errors"));
    let b = |body: TokenStream| if parts.is_some() { body } else { stub.clone() };
    let train_body = b(quote! {
        let len: usize = Self::INPUT_SHAPE.iter().product();
        let batch = #rt::net::check_flat("train_batch: x", x.len(), &Self::INPUT_SHAPE)?;
        let loss = self.__step(batch, labels, None, |dst| dst.copy_from_slice(&x[..batch * len]), &mut #rt::net::Shard::whole())?;
        self.freezing.step(opt, &mut self.params[..Self::TRAINABLE_PARAMS], &self.grads[..Self::TRAINABLE_PARAMS]);
        let correct = #rt::net::count_correct(self.__logits(batch), Self::__CHANNELS, labels);
        Ok(#rt::train::BatchStats { loss, correct })
    });
    // A rank's shard: the step with the shard, then its one collective
    // (the gradients, each already weighted by its share, summed with the
    // losses and counts) before the same update on every rank; a failure
    // anywhere, or a loss that is not finite, skips the update on every
    // rank and restores the moving statistics this rank's step moved.
    let shard_body = b(quote! {
        let len: usize = Self::INPUT_SHAPE.iter().product();
        let batch = #rt::net::check_flat("train_shard: x", x.len(), &Self::INPUT_SHAPE)?;
        let step = self.__step(batch, labels, None, |dst| dst.copy_from_slice(&x[..batch * len]), shard);
        let stepped = step.is_ok();
        let loss = match shard.finish(step, &mut self.grads[..Self::TRAINABLE_PARAMS]) {
            Ok(loss) if loss.is_finite() => loss,
            other => {
                if stepped {
                    self.__restore_moving();
                }
                return Err(match other {
                    Ok(loss) => #rt::Error::NonFiniteLoss { loss, at: ::std::string::String::from("train_shard") },
                    Err(e) => e,
                });
            }
        };
        self.freezing.step(opt, &mut self.params[..Self::TRAINABLE_PARAMS], &self.grads[..Self::TRAINABLE_PARAMS]);
        let correct = match shard.correct() {
            Some(c) => c,
            None => #rt::net::count_correct(self.__logits(batch), Self::__CHANNELS, labels),
        };
        Ok(#rt::train::BatchStats { loss, correct })
    });
    let predict_body = b(quote! {
        let len: usize = Self::INPUT_SHAPE.iter().product();
        let batch = #rt::net::check_flat("predict_batch: x", x.len(), &Self::INPUT_SHAPE)?;
        self.__infer(batch, out, true, |start, n, dst| dst.copy_from_slice(&x[start * len..(start + n) * len]))
    });
    let infer_body = b(quote! {
        let len: usize = Self::INPUT_SHAPE.iter().product();
        let batch = #rt::net::check_flat("infer_batch: x", x.len(), &Self::INPUT_SHAPE)?;
        self.__infer(batch, out, false, |start, n, dst| dst.copy_from_slice(&x[start * len..(start + n) * len]))
    });
    let train_loss_body = b(quote! {
        let len: usize = Self::INPUT_SHAPE.iter().product();
        let batch = #rt::net::check_flat("train_loss: x", x.len(), &Self::INPUT_SHAPE)?;
        self.__held_forward(batch, #rt::pass::Mode::Train, |dst| dst.copy_from_slice(&x[..batch * len]), &mut #rt::net::Shard::whole())?;
        let mut pass = #rt::pass::Pass::__new(self, batch, #rt::pass::Mode::Train);
        let value = pass.backward_loss(loss, target)?;
        output.clear();
        output.extend(pass.output().iter());
        drop(pass);
        self.step(opt)?;
        Ok(value)
    });
    // A rank's shard with another loss: the held pass on the shard, its
    // gradients weighted by the shard's share, the one collective (the
    // gradients with the losses and the metric), then the same update on
    // every rank, or none anywhere (moving statistics restored).
    let train_loss_shard_body = b(quote! {
        let len: usize = Self::INPUT_SHAPE.iter().product();
        let batch = #rt::net::check_flat("train_loss_shard: x", x.len(), &Self::INPUT_SHAPE)?;
        if shard.batch_norm_sync().is_some() {
            return Err(#rt::Error::Ranks(
                "train_loss_shard: synchronised batch norm takes the fused cross-entropy only; train with per-rank batch norm (Ranks::sync_batch_norm(false))".into(),
            ));
        }
        let weight = shard.weight();
        let mut forwarded = false;
        let step = (|| -> #rt::Result<f32> {
            self.__held_forward(batch, #rt::pass::Mode::Train, |dst| dst.copy_from_slice(&x[..batch * len]), shard)?;
            forwarded = true;
            let mut pass = #rt::pass::Pass::__new(self, batch, #rt::pass::Mode::Train);
            let value = pass.backward_loss(loss, target)?;
            shard.hold(value * weight, metric(pass.output().as_slice().unwrap_or(&[])));
            Ok(value)
        })();
        for g in &mut self.grads[..Self::TRAINABLE_PARAMS] {
            *g *= weight;
        }
        let finished = shard.finish(step, &mut self.grads[..Self::TRAINABLE_PARAMS]);
        let total = match finished {
            Ok(total) if total.is_finite() => total,
            other => {
                if forwarded {
                    self.__restore_moving();
                }
                self.zero_grads();
                return Err(match other {
                    Ok(loss) => #rt::Error::NonFiniteLoss { loss, at: ::std::string::String::from("train_loss_shard") },
                    Err(e) => e,
                });
            }
        };
        self.step(opt)?;
        Ok(total)
    });
    let params_body = b(quote!(&self.params));
    let params_mut_body = b(quote!(&mut self.params));
    let rng_body = b(quote!(self.rng.state()));
    let set_rng_body = b(quote!(self.rng = #rt::rng::Rng::from_state(state);));
    quote! {
        #[allow(unused_variables, clippy::all)]
        impl #rt::train::Network for #ident {
            fn input_shape(&self) -> &'static [usize] {
                &Self::INPUT_SHAPE
            }
            fn classes(&self) -> usize {
                Self::OUTPUT_SIZE
            }
            fn train_batch(
                &mut self,
                x: &[f32],
                labels: &[usize],
                opt: &mut dyn #rt::optim::Optimizer,
            ) -> #rt::Result<#rt::train::BatchStats> {
                #train_body
            }
            fn train_shard(
                &mut self,
                x: &[f32],
                labels: &[usize],
                opt: &mut dyn #rt::optim::Optimizer,
                shard: &mut #rt::net::Shard<'_>,
            ) -> #rt::Result<#rt::train::BatchStats> {
                #shard_body
            }
            fn predict_batch(&self, x: &[f32], out: &mut [f32]) -> #rt::Result<()> {
                #predict_body
            }
            fn output_shape(&self) -> &'static [usize] {
                &Self::OUTPUT_SHAPE
            }
            fn final_activation(&self) -> ::core::option::Option<#rt::loss::Fused> {
                <Self as #rt::pass::Held>::FINAL
            }
            fn infer_batch(&self, x: &[f32], out: &mut [f32]) -> #rt::Result<()> {
                #infer_body
            }
            fn train_loss(
                &mut self,
                x: &[f32],
                target: #rt::loss::Target<'_>,
                loss: &dyn #rt::loss::Loss,
                opt: &mut dyn #rt::optim::Optimizer,
                output: &mut ::std::vec::Vec<f32>,
            ) -> #rt::Result<f32> {
                #train_loss_body
            }
            fn train_loss_shard(
                &mut self,
                x: &[f32],
                target: #rt::loss::Target<'_>,
                loss: &dyn #rt::loss::Loss,
                opt: &mut dyn #rt::optim::Optimizer,
                metric: &mut dyn ::core::ops::FnMut(&[f32]) -> [f64; 2],
                shard: &mut #rt::net::Shard<'_>,
            ) -> #rt::Result<f32> {
                #train_loss_shard_body
            }
            fn tensors(&self) -> &'static [#rt::train::TensorInfo] {
                Self::TENSORS
            }
            fn params(&self) -> &[f32] {
                #params_body
            }
            fn params_mut(&mut self) -> &mut [f32] {
                #params_mut_body
            }
            fn rng_state(&self) -> [u64; 4] {
                #rng_body
            }
            fn set_rng_state(&mut self, state: [u64; 4]) {
                #set_rng_body
            }
        }
    }
}
