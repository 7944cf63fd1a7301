//! The generated struct, its constants and its methods (docs/dsl.md, "What
//! the macro generates"). With `parts` the methods have their bodies; without
//! (beside compile errors) every body is `unreachable!()`, so that user code
//! naming the network still type-checks and only our messages show.

use proc_macro2::TokenStream;
use quote::quote;

use super::parts::Parts;
use super::{dims, fields, held, io, passes, rt, summary, train};
use crate::ast::Header;
use crate::ir::{flatten_groups, Layer, LayerKind, Net, Shape};

pub fn generate(header: &Header, net: &Net, parts: Option<Parts>) -> TokenStream {
    let rt = rt();
    let Header { attrs, vis, ident } = header;
    let name = ident.to_string();
    let (params, trainable, macs) = (net.params, net.trainable, net.macs);
    let (predict_params, predict_macs) = crate::count::without_aux_heads(&net.layers);
    let output_shape = dims(
        net.layers
            .last()
            .map_or(Some(net.input), |l| l.output)
            .unwrap_or(Shape::Flat { n: 0 }),
    );
    let output_rank = output_shape.len();
    let input = dims(net.input);
    let rank = input.len();
    let output = net
        .layers
        .last()
        .map_or(Some(net.input), |l| l.output)
        .map_or(0, |s| s.len());
    // A batch has one axis more than an example.
    let view = ::quote::format_ident!("ArrayView{}", rank + 1);
    let x_ty = quote!(::cnn::__private::ndarray::#view<'_, f32>);
    let x_desc = match net.input {
        Shape::Image {
            w, c, seq: true, ..
        } => format!("`[batch, {w}, {c}]` (length, channels)"),
        Shape::Image {
            h,
            w,
            c,
            depth: Some(d),
            ..
        } => format!("`[batch, {d}, {h}, {w}, {c}]` (NDHWC)"),
        Shape::Image { h, w, c, .. } => format!("`[batch, {h}, {w}, {c}]` (NHWC)"),
        Shape::Flat { n } => format!("`[batch, {n}]`"),
    };
    let stub = quote!(::core::unreachable!("network! reported errors"));
    let b = |body: TokenStream| if parts.is_some() { body } else { stub.clone() };

    let tensors = parts
        .as_ref()
        .map_or(quote!(&[]), |p| io::tensor_table(p.params));
    let graph = parts.as_ref().map_or(
        quote!(#rt::net::graph::Graph { values: &[], nodes: &[], input: 0, output: 0 }),
        |p| super::graph::graph(p.infer, p.params),
    );
    let flattened_rows = flattened(&net.layers)
        .into_iter()
        .map(|(layer, [h, w, c])| quote!((#layer, [#h, #w, #c])));
    let summary = b(summary::body(net));
    let private = parts
        .as_ref()
        .map(|p| passes::private_items(p, &x_ty))
        .unwrap_or_default();
    let network_impl = train::network_impl(header, parts.as_ref());
    let held_impl = held::held_impl(header, net, parts.as_ref());
    let held_methods = held::methods(parts.as_ref(), &x_ty);
    let taps_const = held::taps_const(net);
    let fields_consts = fields::consts(net);

    let mut loss_doc = match &parts {
        Some(p) if !p.fused_softmax => format!(
            "The network does not end in `Softmax`, so its {output} outputs are taken as logits: \
             the loss is the softmax cross-entropy of the outputs (computed stably from them), \
             and [`{name}::predict`] returns the outputs as they are."
        ),
        _ => "The last layer's `Softmax` is fused with the cross-entropy: the loss is computed \
              stably from the logits, and its gradient is `p - y`."
            .to_string(),
    };
    if parts.as_ref().is_some_and(|p| p.train.losses.len() > 1) {
        loss_doc.push_str(
            " Each `AuxHead` adds its own cross-entropy (from its logits, on the same labels) \
             times its weight; the heads are skipped at inference.",
        );
    }
    let summary_doc = format!(" A Keras-style table of `{name}`: each layer's output shape, parameters and multiply-adds, then the totals.");
    let predict_doc = format!(
        " Runs the network in inference mode (moving batch-norm statistics, no dropout) on a batch {x_desc}; \
         returns `[batch, {output}]`. A wrong shape is an `Err` that shows both shapes."
    );

    let new_body = b(quote! {
        let (params, rng) = #rt::net::init_params(seed, Self::TENSORS, Self::PARAMS);
        Self::__from_params(params, rng)
    });
    let predict_body = b(quote! {
        let batch = #rt::net::check_input("predict: x", x.shape(), &Self::INPUT_SHAPE)?;
        let mut out = ::std::vec![0.0f32; batch * Self::OUTPUT_SIZE];
        self.__infer(batch, &mut out, false, |start, n, dst| {
            let part = x.slice_axis(
                ::cnn::__private::ndarray::Axis(0),
                ::cnn::__private::ndarray::Slice::from(start..start + n),
            );
            Self::__copy_input(part, dst)
        })?;
        ::cnn::__private::ndarray::Array2::from_shape_vec((batch, Self::OUTPUT_SIZE), out)
            .map_err(|e| #rt::Error::InvalidArgument(e.to_string()))
    });
    let check_step = quote! {
        let batch = #rt::net::check_input("train_step: x", x.shape(), &Self::INPUT_SHAPE)?;
    };
    let train_body = b(quote! {
        #check_step
        let loss = self.__step(batch, labels, None, |dst| Self::__copy_input(x, dst), &mut #rt::net::Shard::whole())?;
        self.freezing.step(opt, &mut self.params[..Self::TRAINABLE_PARAMS], &self.grads[..Self::TRAINABLE_PARAMS]);
        Ok(loss)
    });
    let grads_body = b(quote! {
        #check_step
        let loss = self.__step(batch, labels, None, |dst| Self::__copy_input(x, dst), &mut #rt::net::Shard::whole())?;
        Ok((loss, &self.grads[..]))
    });
    let grads_seed_body = b(quote! {
        #check_step
        let loss = self.__step(batch, labels, Some(dropout_seed), |dst| Self::__copy_input(x, dst), &mut #rt::net::Shard::whole())?;
        Ok((loss, &self.grads[..]))
    });
    let save_body =
        b(quote!(#rt::net::save_params(path.as_ref(), #name, &self.params, Self::TENSORS)));
    let load_body = b(quote! {
        let mut net = Self::__from_params(::std::vec![0.0; Self::PARAMS], #rt::rng::Rng::new(0));
        net.load_weights(path)?;
        Ok(net)
    });
    let load_weights_body =
        b(quote!(#rt::net::load_params(path.as_ref(), &mut self.params, Self::TENSORS)));
    let load_part_body = b(
        quote!(#rt::net::load_params_prefixed(path.as_ref(), prefix, &mut self.params, Self::TENSORS)),
    );
    let freeze_body = b(quote!(self.freezing.freeze(Self::TENSORS, prefix)));
    let unfreeze_body = b(quote!(self.freezing.unfreeze(Self::TENSORS, prefix)));
    let trainable_now_body = b(quote!(self.freezing.trainable_params()));
    let load_by_name_body =
        b(quote!(#rt::net::load_by_name(path.as_ref(), &mut self.params, Self::TENSORS)));
    let load_dense_as_conv_body =
        b(quote!(#rt::net::load_dense_as_conv(path.as_ref(), &mut self.params, Self::TENSORS)));
    let load_pytorch_body = b(quote! {
        #rt::net::load_state_dict(path.as_ref(), &mut self.params, Self::TENSORS, Self::FLATTENED, &map)
    });
    let export_onnx_body = b(quote! {
        #rt::onnx::export(path.as_ref(), #name, &Self::GRAPH, Self::TENSORS, &self.params, &Self::INPUT_SHAPE)
    });
    let from_onnx_body = b(quote! {
        let mut net = Self::new(0);
        net.load_onnx(path)?;
        Ok(net)
    });
    let load_onnx_body = b(quote! {
        #rt::onnx::import(path.as_ref(), &Self::GRAPH, Self::TENSORS, &mut self.params)
    });
    let params_body = b(quote!(&self.params));
    let params_mut_body = b(quote!(&mut self.params));
    let grads_get_body = b(quote!(&self.grads));
    let tensor_body = b(quote! {
        let t = Self::TENSORS.iter().find(|t| t.name == name)?;
        Some(&self.params[t.range()])
    });
    let tensor_mut_body = b(quote! {
        let t = Self::TENSORS.iter().find(|t| t.name == name)?;
        Some(&mut self.params[t.range()])
    });

    quote! {
        #(#attrs)*
        #vis struct #ident {
            params: ::std::vec::Vec<f32>,
            grads: ::std::vec::Vec<f32>,
            workspace: #rt::net::Workspace,
            rng: #rt::rng::Rng,
            freezing: #rt::net::Freezing,
            /// Held passes whose gradients await `step`.
            pending: usize,
        }

        #[allow(unused_variables, dead_code, clippy::all)]
        impl #ident {
            /// The shape of one input example: `[height, width, channels]` or `[features]`.
            pub const INPUT_SHAPE: [usize; #rank] = [#(#input),*];
            /// Outputs per example (classes).
            pub const OUTPUT_SIZE: usize = #output;
            /// Every parameter, counted as Keras counts them.
            pub const PARAMS: usize = #params;
            /// The parameters the optimizer updates: `params()[..TRAINABLE_PARAMS]`.
            pub const TRAINABLE_PARAMS: usize = #trainable;
            /// Multiply-adds of one example's forward pass, counted as the course does.
            pub const MACS: u64 = #macs;
            /// The parameters `predict` uses: `PARAMS` without the auxiliary heads'
            /// (which only train).
            pub const PREDICT_PARAMS: usize = #predict_params;
            /// Multiply-adds of one example's `predict`: `MACS` without the auxiliary
            /// heads'.
            pub const PREDICT_MACS: u64 = #predict_macs;
            /// The shape of one output example: `[classes]`, or `[h, w, c]` for a
            /// network that ends on an image (a trunk).
            pub const OUTPUT_SHAPE: [usize; #output_rank] = [#(#output_shape),*];
            /// Every parameter tensor: name (what `save` writes), layer, shape, offset in
            /// `params()`, whether it trains, and its initialiser. Trainable tensors come first.
            pub const TENSORS: &'static [#rt::net::TensorInfo] = #tensors;
            /// `predict`'s program as a graph: the values one example flows through,
            /// with their shapes, and the fused kernel calls between them, naming the
            /// tensors of `TENSORS` they read (auxiliary heads and dropout left out).
            /// What exporters (ONNX) read.
            pub const GRAPH: #rt::net::graph::Graph = #graph;
            /// The dense layers whose input is a flattened image, with that image's
            /// `[h, w, c]`: `Flatten` keeps our NHWC order, PyTorch's `flatten` a
            /// channels-first one, so `load_pytorch` permutes these layers' rows.
            pub const FLATTENED: &'static [(&'static str, [usize; 3])] = &[#(#flattened_rows),*];
            #taps_const
            #fields_consts

            #[doc = #summary_doc]
            pub fn summary() -> #rt::net::Summary {
                #summary
            }

            /// A network with fresh weights: He normal before ReLU, Glorot uniform
            /// elsewhere, zero biases, batch norm at gamma 1, beta 0, moving mean 0 and
            /// variance 1. The same seed gives the same weights (and dropout masks).
            pub fn new(seed: u64) -> Self {
                #new_body
            }

            #[doc = #predict_doc]
            pub fn predict(&self, x: #x_ty) -> ::core::result::Result<::cnn::__private::ndarray::Array2<f32>, #rt::Error> {
                #predict_body
            }

            /// One training step on a batch: forward in training mode (batch statistics,
            /// dropout on), backward, and one optimizer step on the trainable parameters.
            /// Returns the mean loss over the batch. `labels` holds one class index per
            /// example. A wrong shape, a label out of range or a labels length that is not
            /// the batch size is an `Err` before anything changes; a loss that is not finite
            /// is `Error::NonFiniteLoss` and leaves every parameter as it was.
            ///
            #[doc = #loss_doc]
            pub fn train_step<O: #rt::optim::Optimizer + ?Sized>(
                &mut self,
                x: #x_ty,
                labels: &[usize],
                opt: &mut O,
            ) -> ::core::result::Result<f32, #rt::Error> {
                #train_body
            }

            #held_methods

            /// The loss and the gradient of every trainable parameter (same offsets as
            /// `params()`), without updating the weights (batch norm's moving statistics
            /// are updated, as in a training step).
            #[doc(hidden)]
            pub fn loss_and_grads(&mut self, x: #x_ty, labels: &[usize]) -> ::core::result::Result<(f32, &[f32]), #rt::Error> {
                #grads_body
            }

            /// [`Self::loss_and_grads`] with a given dropout seed (gradient checks).
            #[doc(hidden)]
            pub fn loss_and_grads_with_seed(
                &mut self,
                x: #x_ty,
                labels: &[usize],
                dropout_seed: u64,
            ) -> ::core::result::Result<(f32, &[f32]), #rt::Error> {
                #grads_seed_body
            }

            /// Saves every parameter in safetensors (written atomically), one tensor per
            /// entry of `TENSORS`: `<layer>.weight`, `.bias`, `.gamma`, `.beta`,
            /// `.moving_mean`, `.moving_variance`.
            pub fn save(&self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<(), #rt::Error> {
                #save_body
            }

            /// Loads a network saved by `save`. A file of another architecture is an
            /// `Err` naming the first tensor that does not fit.
            pub fn load(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<Self, #rt::Error> {
                #load_body
            }

            /// Replaces the parameters with those of a file saved by `save`; on `Err`
            /// nothing changes.
            pub fn load_weights(&mut self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<(), #rt::Error> {
                #load_weights_body
            }

            /// Loads the weights of one part of the network, the layers under `prefix`
            /// (a network used as a layer, `trunk`, or a block, `layer1`), from a file
            /// whose tensors are named as within that part: what the inner network
            /// saved alone. The file must hold exactly the part's tensors; the rest of
            /// the network keeps its weights, and on `Err` nothing changes.
            pub fn load_part(&mut self, prefix: &str, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<(), #rt::Error> {
                #load_part_body
            }

            /// Freezes the layers named `prefix` or under it (`"trunk"`, `"layer3.1"`,
            /// `""` for all) until [`Self::unfreeze`]: their tensors get no update, no
            /// weight decay and no optimizer-state work, backward does not run below the
            /// lowest layer that still trains, and a batch norm among them normalises with
            /// its moving statistics. Returns the parameters it froze; an `Err` when no
            /// trainable layer is under `prefix`. (`trainable: false` in the declaration
            /// is the compile-time form, which cannot be undone.)
            pub fn freeze(&mut self, prefix: &str) -> ::core::result::Result<usize, #rt::Error> {
                #freeze_body
            }

            /// Lets the layers under `prefix` train again; returns how many parameters.
            pub fn unfreeze(&mut self, prefix: &str) -> ::core::result::Result<usize, #rt::Error> {
                #unfreeze_body
            }

            /// The parameters that train now: `TRAINABLE_PARAMS` less what
            /// [`Self::freeze`] froze.
            pub fn trainable_params(&self) -> usize {
                #trainable_now_body
            }

            /// Loads every tensor of a safetensors file whose name and shape are one of
            /// `TENSORS` (a checkpoint of a related network); the others keep their
            /// values, and the file's other tensors are left out. A name that matches
            /// with another shape is an `Err` naming both shapes; on `Err` nothing
            /// changes. The report lists what was loaded, kept and unused.
            pub fn load_by_name(&mut self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<#rt::net::LoadReport, #rt::Error> {
                #load_by_name_body
            }

            /// [`Self::load_by_name`] from a classifier into its convolutional twin
            /// (sliding windows done convolutionally): a file's dense weight
            /// `[in, units]` loads into this network's convolution of the same name,
            /// `[fh, fw, c, units]` with `fh * fw * c = in`, unchanged, because
            /// `Flatten`'s `(h, w, c)` order is a convolution weight's order; a dense
            /// layer after it is a `1 x 1` convolution. See
            /// `cnn::net::load_dense_as_conv`.
            pub fn load_dense_as_conv(&mut self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<#rt::net::LoadReport, #rt::Error> {
                #load_dense_as_conv_body
            }

            /// Loads a PyTorch `state_dict` saved with
            /// `safetensors.torch.save_file(model.state_dict(), path)`. `map` turns each
            /// PyTorch key into ours (`None` leaves it out; `|k| Some(k.to_string())`
            /// when the names already match); layouts are converted (conv
            /// `[out, in, fh, fw]`, `Linear` `[out, in]`, the channels-first flatten in
            /// front of the layers of `FLATTENED`), batch norm's `weight`, `bias`,
            /// `running_mean`, `running_var` go to `gamma`, `beta`, `moving_mean`,
            /// `moving_variance`, and `num_batches_tracked` is skipped. A shape that
            /// does not fit is an `Err` naming the key, our tensor and both shapes; on
            /// `Err` nothing changes. The report lists what was loaded, kept and unused.
            pub fn load_pytorch(
                &mut self,
                path: impl ::core::convert::AsRef<::std::path::Path>,
                map: impl ::core::ops::Fn(&str) -> ::core::option::Option<::std::string::String>,
            ) -> ::core::result::Result<#rt::net::LoadReport, #rt::Error> {
                #load_pytorch_body
            }

            /// Every parameter, tensors at the offsets of `TENSORS`.
            pub fn params(&self) -> &[f32] {
                #params_body
            }

            /// Every parameter, mutably.
            pub fn params_mut(&mut self) -> &mut [f32] {
                #params_mut_body
            }

            /// The gradients of the last step, `[TRAINABLE_PARAMS]`, same offsets as `params()`.
            pub fn grads(&self) -> &[f32] {
                #grads_get_body
            }

            /// One tensor by name (`"conv1.weight"`).
            pub fn tensor(&self, name: &str) -> ::core::option::Option<&[f32]> {
                #tensor_body
            }

            /// One tensor by name, mutably.
            pub fn tensor_mut(&mut self, name: &str) -> ::core::option::Option<&mut [f32]> {
                #tensor_mut_body
            }

            #private
        }

        // With the facade's `onnx` feature only (`__cnn_onnx_methods`).
        ::cnn::__private::onnx_methods! {
            #[allow(unused_variables, dead_code, clippy::all)]
            impl #ident {
                /// Writes the network as an ONNX model (opset 17) for ONNX Runtime and
                /// the other serving runtimes: input `input`, NCHW float32
                /// `[N, c, h, w]` with a dynamic batch `N` (`[N, c, d, h, w]` for a
                /// volume, `[N, features]` for a flat network), output `output`,
                /// `[N, OUTPUT_SIZE]`, equal to `predict`'s.
                /// Auxiliary heads and dropout are left out, as `predict` leaves them.
                /// Written atomically.
                pub fn export_onnx(&self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<(), #rt::Error> {
                    #export_onnx_body
                }

                /// A network with the weights of an ONNX model whose layers are this
                /// declaration's (see [`Self::load_onnx`]); tensors the model's graph
                /// does not reach (auxiliary heads) are as `new(0)` makes them.
                pub fn from_onnx(path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<Self, #rt::Error> {
                    #from_onnx_body
                }

                /// Loads the weights of an ONNX model (PyTorch's `torch.onnx.export`,
                /// the ONNX Model Zoo's, or `export_onnx`'s): its Conv, Gemm/MatMul and
                /// BatchNormalization nodes, in order, go to this network's
                /// convolutions, dense layers and batch norms, in order, every shape and
                /// convolution geometry checked and the layouts converted. A mismatch
                /// is an `Err` naming the ONNX node and the layer; on `Err` nothing
                /// changes.
                pub fn load_onnx(&mut self, path: impl ::core::convert::AsRef<::std::path::Path>) -> ::core::result::Result<(), #rt::Error> {
                    #load_onnx_body
                }
            }
        }

        #network_impl
        #held_impl
    }
}

/// The dense layers that read a flattened image, with the image's
/// `[h, w, c]`: a `Dense` on a flat input after a `Flatten` of an image,
/// with only order-keeping layers (dropout, element-wise activations,
/// gates) between them. Blocks are searched too; a block's branches start from
/// what came before it, and what follows a `Residual` or `Concat` is no
/// longer the flattened image.
fn flattened(layers: &[Layer]) -> Vec<(String, [usize; 3])> {
    let mut out = Vec::new();
    scan_flattened(layers, None, &mut out);
    out
}

/// [`flattened`] over one list, `image` the flattened image its input
/// still is; returns what its output still is.
fn scan_flattened(
    layers: &[Layer],
    mut image: Option<[usize; 3]>,
    out: &mut Vec<(String, [usize; 3])>,
) -> Option<[usize; 3]> {
    for layer in flatten_groups(layers) {
        image = match (&layer.kind, layer.input) {
            // A volume's frames are rows: PyTorch's channels-first
            // flatten of `[c, d, h, w]` is that of `[c, d * h, w]`.
            (LayerKind::Flatten, Some(Shape::Image { h, w, c, depth, .. })) => {
                Some([depth.unwrap_or(1) * h, w, c])
            }
            (LayerKind::Dense { .. }, Some(Shape::Flat { .. })) => {
                if let Some(hwc) = image {
                    out.push((layer.name.clone(), hwc));
                }
                None
            }
            (
                LayerKind::Dropout { .. }
                | LayerKind::Scale { .. }
                | LayerKind::Relu
                | LayerKind::LeakyRelu { .. }
                | LayerKind::Tanh
                | LayerKind::Sigmoid
                | LayerKind::Relu6
                | LayerKind::Silu
                | LayerKind::Hardswish
                | LayerKind::Hardsigmoid
                | LayerKind::Gelu { .. },
                _,
            ) => image,
            // A side head taps the value and passes it on unchanged; a
            // gate scales it in place, so its order is the image's still.
            (LayerKind::AuxHead { layers, .. } | LayerKind::Gate { body: layers }, _) => {
                scan_flattened(layers, image, out);
                image
            }
            _ => {
                for list in layer.children() {
                    scan_flattened(list, image, out);
                }
                None
            }
        };
    }
    image
}

#[cfg(test)]
mod tests {
    use super::flattened;
    use crate::expand::testnets::{bn_net, lenet5, net};

    #[test]
    fn flattened_lists_the_dense_layers_after_a_flatten_of_an_image() {
        assert_eq!(
            flattened(&lenet5().layers),
            [("fc3".to_string(), [5, 5, 16])]
        );
        // After a global pool the input is flat already: nothing to permute.
        assert!(flattened(&bn_net().layers).is_empty());
        let n = net("struct N {
            input: [6, 4, 2],
            layers: [
                Residual { body: [conv: Conv2d { filters: 2, kernel: 1 }] },
                head: AuxHead { weight: 0.3, layers: [Flatten, Dropout { rate: 0.5 }, aux: Dense { units: 3 }, Softmax] },
                Flatten,
                Dropout { rate: 0.5 },
                Relu,
                fc1: Dense { units: 5 },
                fc2: Dense { units: 3 },
                Softmax,
            ],
        }");
        assert_eq!(
            flattened(&n.layers),
            [
                ("head.aux".to_string(), [6, 4, 2]),
                ("fc1".to_string(), [6, 4, 2])
            ]
        );
    }
}
