//! The [`kernel`](super::kernel) convolution as a Burn backend extension: implemented for
//! `Flex` (forward) and `Autodiff<Flex>` (forward plus a hand-written backward step that computes
//! the input, weight and bias gradients in one pass over the batch).
//!
//! Only [`super::conv2d`] calls this, and only for `f32` tensors on a flex device with
//! `groups = 1`; every other case goes to Burn's own `conv2d`, so no other backend is routed here.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::TensorData;
use burn::tensor::ops::ConvOptions;

use super::kernel::{self, Geometry};

/// The deepgen CPU convolution as a backend operation (see the module docs).
#[backend_extension(Flex, Autodiff)]
pub trait CpuConv2d: Backend {
    /// `x ⋆ weight + bias`, NCHW, `groups = 1`.
    fn deepgen_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// `x ⋆ weight`, NCHW, `groups = 1`.
    fn deepgen_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    [s[0], s[1], s[2], s[3]]
}

fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("deepgen conv2d: a contiguous f32 tensor (the caller checks the dtype)")
}

fn flex_tensor(data: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape.into()))
}

fn flex_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, weight) = (contiguous(x), contiguous(weight));
    let bias = bias.map(contiguous);
    let g = Geometry::new(dims4(&x), dims4(&weight), options);
    let y = kernel::forward(&g, values(&x), values(&weight), bias.as_ref().map(values));
    flex_tensor(y, [g.batch, g.c_out, g.oh, g.ow])
}

impl CpuConv2d for Flex {
    fn deepgen_conv2d_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        flex_forward(x, weight, Some(bias), &options)
    }

    fn deepgen_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        flex_forward(x, weight, None, &options)
    }
}

/// The backward step: `x` and `weight` are checkpointed, the bias is not needed.
#[derive(Debug)]
struct Conv2dBackward;

type State = (NodeId, NodeId, ConvOptions<2>);

/// Computes the gradients the graph asks for (`parents`: x, weight, bias) and registers them.
fn run_backward<const N: usize>(
    ops: Ops<State, N>,
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
) {
    let dy = contiguous(grads.consume::<Flex>(&ops.node));
    let (x_id, w_id, options) = ops.state;
    let x = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(x_id));
    let weight = contiguous(checkpointer.retrieve_node_output::<FlexTensor>(w_id));
    let g = Geometry::new(dims4(&x), dims4(&weight), &options);
    let parents = ops.parents;
    let want = [0, 1, 2].map(|i| parents.get(i).is_some_and(Option::is_some));
    let out = kernel::backward(&g, values(&x), values(&weight), values(&dy), want);
    let shapes = [
        vec![g.batch, g.c_in, g.h, g.w],
        vec![g.c_out, g.c_in, g.kh, g.kw],
        vec![g.c_out],
    ];
    let results = [out.x, out.weight, out.bias];
    for ((parent, grad), shape) in parents.into_iter().zip(results).zip(shapes) {
        if let (Some(node), Some(grad)) = (parent, grad) {
            grads.register::<Flex>(node.id, flex_tensor(grad, shape));
        }
    }
}

impl Backward<Flex, 3> for Conv2dBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        run_backward(ops, grads, checkpointer);
    }
}

impl Backward<Flex, 2> for Conv2dBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        run_backward(ops, grads, checkpointer);
    }
}

impl<C: CheckpointStrategy> CpuConv2d for Autodiff<Flex, C> {
    fn deepgen_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match <Conv2dBackward as Backward<Flex, 3>>::prepare::<C>(
            Conv2dBackward,
            [x.node(), weight.node(), bias.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    options.clone(),
                );
                let y = flex_forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    Some(bias.into_primitive()),
                    &options,
                );
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                Some(bias.into_primitive()),
                &options,
            )),
        }
    }

    fn deepgen_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match <Conv2dBackward as Backward<Flex, 2>>::prepare::<C>(
            Conv2dBackward,
            [x.node(), weight.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    options.clone(),
                );
                let y = flex_forward(x.into_primitive(), weight.into_primitive(), None, &options);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                None,
                &options,
            )),
        }
    }
}
