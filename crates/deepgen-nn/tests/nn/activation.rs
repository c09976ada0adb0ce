//! `activate`/`safe_elu`: ELU values against the host formula and Burn's own ELU, and finite
//! gradients where Burn's ELU overflows (pre-activations above ln(f32::MAX) ≈ 88.7), also
//! through a whole ELU MLP.

use crate::common;

use burn::nn::EluConfig;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::tensor::{Device, Tensor, TensorData};
use common::{assert_all_params_get_gradients, host};
use deepgen_nn::{MlpConfig, activate, safe_elu};

const XS: [f64; 9] = [-100.0, -20.0, -1.5, -0.25, 0.0, 0.25, 2.0, 95.0, 300.0];

fn elu_host(x: f64, alpha: f64) -> f64 {
    if x > 0.0 { x } else { alpha * x.exp_m1() }
}

fn elu_grad_host(x: f64, alpha: f64) -> f64 {
    if x > 0.0 { 1.0 } else { alpha * x.exp() }
}

fn tensor(v: &[f64], dev: &Device) -> Tensor<1> {
    let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(data, [v.len()]), dev)
}

#[test]
fn safe_elu_matches_the_formula_and_burns_elu_where_that_is_finite() {
    let dev = Device::flex();
    for alpha in [1.0, 0.5] {
        let got = host(safe_elu(tensor(&XS, &dev), alpha));
        let burn = host(burn::tensor::activation::elu(tensor(&XS, &dev), alpha));
        for ((&x, g), b) in XS.iter().zip(&got).zip(&burn) {
            let want = elu_host(x, alpha);
            assert!(
                (g - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{x}: {g} vs {want}"
            );
            assert_eq!(g, b, "{x}: same forward value as Burn's ELU");
        }
        // `activate` dispatches ELU to the safe version and everything else to Burn.
        let act: Activation = ActivationConfig::Elu(EluConfig::new().with_alpha(alpha)).init(&dev);
        assert_eq!(host(activate(&act, tensor(&XS, &dev))), got);
        let tanh: Activation = ActivationConfig::Tanh.init(&dev);
        assert_eq!(
            host(activate(&tanh, tensor(&XS, &dev))),
            host(tensor(&XS, &dev).tanh())
        );
    }
}

#[test]
fn safe_elu_gradients_are_finite_and_exact_for_huge_inputs() {
    let ad = Device::flex().autodiff();
    let x = tensor(&XS, &ad).require_grad();
    let grads = safe_elu(x.clone(), 1.0).sum().backward();
    let g = host(x.grad(&grads).unwrap());
    for (&x, g) in XS.iter().zip(&g) {
        let want = elu_grad_host(x, 1.0);
        assert!(g.is_finite(), "{x}: gradient {g}");
        assert!(
            (g - want).abs() <= 1e-6 * want.abs().max(1e-30),
            "{x}: {g} vs {want}"
        );
    }
}

/// An ELU MLP whose first pre-activations exceed 88.7: every parameter gets a finite gradient
/// (with Burn's ELU they would all be NaN).
#[test]
fn an_elu_mlp_with_huge_pre_activations_has_finite_gradients() {
    let ad = Device::flex().autodiff();
    ad.seed(5);
    let mlp = MlpConfig::new(2, vec![16, 16], 3)
        .with_activation(ActivationConfig::Elu(EluConfig::new()))
        .init(&ad);
    let x = tensor(&[400.0, -400.0, 350.0, 420.0], &ad).reshape([2, 2]);
    let loss = mlp.forward(x).powi_scalar(2).mean();
    assert!(host(loss.clone())[0].is_finite());
    let grads = loss.backward();
    assert_all_params_get_gradients(&mlp, &grads, "mlp");
    for layer in &mlp.layers {
        let g = host(layer.weight.val().grad(&grads).unwrap());
        assert!(
            g.iter().all(|v| v.is_finite()),
            "non-finite weight gradient"
        );
    }
}
