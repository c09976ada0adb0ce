//! Masked autoregressive layers with elementwise bijections (`AutoregressiveLayer`): the
//! Jacobian is triangular in the MADE order, zero-initialised layers are the identity, and the
//! `D`-pass inverse is exact. (Round trips and ln|det J| against the autodiff Jacobian of
//! stacked layers, with and without context, are in `coupling_layers::vector_flows`.)

use burn::tensor::Device;
use deepgen_flows::{AutoregressiveConfig, Bijection, CouplingBijection, MadeOrder};

use crate::common::bij::{perturb, tensor_r};
use crate::common::{autodiff_jacobians, host, max_abs_diff};

fn points(n: usize, d: usize) -> Vec<f64> {
    (0..n * d)
        .map(|i| ((i * 37 + 11) % 29) as f64 / 14.0 - 1.0)
        .collect()
}

#[test]
fn jacobian_is_triangular_in_the_made_order() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    let d = 5;
    for (order, name) in [
        (MadeOrder::Natural, "natural"),
        (MadeOrder::Reversed, "reversed"),
    ] {
        ad.seed(3);
        let layer = AutoregressiveConfig::new(d)
            .with_hidden(vec![12])
            .with_order(order.clone())
            .init(&ad);
        let layer = perturb(layer, 0.3);
        let x = points(1, d);
        let jac = autodiff_jacobians(&x, d, &ad, |t| layer.forward(t, None));
        let jac = &jac[0];
        // Position of each variable in the order.
        let pos: Vec<usize> = match order {
            MadeOrder::Reversed => (0..d).rev().collect(),
            _ => (0..d).collect(),
        };
        for i in 0..d {
            for j in 0..d {
                let v = jac[i * d + j];
                if pos[j] > pos[i] {
                    assert_eq!(v, 0.0, "{name}: ∂z_{i}/∂x_{j} must vanish (j later than i)");
                }
                if i == j {
                    assert!(v > 0.0, "{name}: ∂z_{i}/∂x_{i} = {v} must be positive");
                }
            }
        }
        // Not trivially diagonal: some earlier variable influences a later one.
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .filter(|&(i, j)| pos[j] < pos[i])
            .map(|(i, j)| jac[i * d + j].abs())
            .sum();
        assert!(off > 1e-3, "{name}: no autoregressive dependence ({off})");
    }
}

#[test]
fn zero_initialised_layer_is_the_identity() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    for bij in [
        CouplingBijection::spline(6, 3.0),
        CouplingBijection::realnvp(),
    ] {
        let layer = AutoregressiveConfig::new(4).with_bijection(bij).init(&dev);
        let x = points(3, 4);
        let (z, ladj) = layer.forward_and_ladj(tensor_r(&x, [3, 4], &dev), None);
        assert!(max_abs_diff(&host(z), &x) < 1e-6);
        assert!(host(ladj).iter().all(|v| v.abs() < 1e-6));
    }
}

#[test]
fn config_errors_name_the_field() {
    let _serial = crate::common::serial();
    use deepgen_tensor::Validate;
    let e = AutoregressiveConfig::new(1).validate().unwrap_err();
    assert_eq!(
        (e.config, e.field.as_str()),
        ("AutoregressiveConfig", "dim")
    );
    let e = AutoregressiveConfig::new(4)
        .with_hidden(vec![8, 0])
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "hidden[1]");
}

#[test]
fn af_prior_is_a_normalizing_flow() {
    let _serial = crate::common::serial();
    use deepgen_flows::{AfPriorConfig, NormalizingFlow};
    use deepgen_tensor::HostRng;
    let dev = Device::flex();
    let prior = perturb(AfPriorConfig::new(3, 2, vec![8]).init(&dev), 0.3);
    let z = tensor_r(&points(4, 3), [4, 3], &dev);
    // The inherent API and the trait agree, and the trait's log_prob is ln N(u) + ladj.
    let inherent = host(prior.log_prob(z.clone()));
    let via_trait = host(NormalizingFlow::log_prob(&prior, z.clone(), None));
    assert!(max_abs_diff(&inherent, &via_trait) < 1e-6);
    let (u, ladj) = prior.forward_and_ladj(z, None);
    let u = host(u);
    let ladj = host(ladj);
    for (r, lp) in inherent.iter().enumerate() {
        let norm: f64 = u[r * 3..r * 3 + 3]
            .iter()
            .map(|v| -0.5 * v * v - 0.5 * (2.0 * std::f64::consts::PI).ln())
            .sum();
        assert!((lp - (norm + ladj[r])).abs() < 1e-4, "row {r}");
    }
    // Temperature 0 is the image of the base mode.
    let mut rng = HostRng::seed_from_u64(1);
    let mode = host(prior.sample_with_temperature(2, 0.0, None, &mut rng));
    let expected = host(prior.inverse(tensor_r(&[0.0; 6], [2, 3], &dev), None));
    assert!(max_abs_diff(&mode, &expected) < 1e-6);
}
