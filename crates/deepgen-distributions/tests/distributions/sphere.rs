//! Hypersphere geometry (`deepgen_distributions::sphere`) and `UniformSphere`.
//!
//! Statistical tests use fixed seeds with ~5 standard-error tolerances (also run
//! locally with the committed seeds + 1000, 2000 and 3000 to check they are not
//! flaky).

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_distributions::sphere::{
    householder_reflect, log_sphere_surface_area, tangent_embed, tangent_embed_with_sine,
    uniform_directions, uniform_sphere_noise,
};
use deepgen_distributions::{Distribution, DistributionError, Entropy, Rsample, UniformSphere};
use deepgen_tensor::rng::HostRng;

fn devices() -> Vec<Device> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    vec![Device::flex(), ndarray]
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn tensor2(v: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn normalise(v: &mut [f64]) {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// f64 host version of the documented formula: s = +1 if μ₁ ≤ 0 else −1,
/// u = e₁ − sμ, Hx = s(x − 2u(uᵀx)/(uᵀu)).
fn householder_host(mu: &[f64], x: &[f64]) -> Vec<f64> {
    let s = if mu[0] > 0.0 { -1.0 } else { 1.0 };
    let mut u: Vec<f64> = mu.iter().map(|m| -s * m).collect();
    u[0] += 1.0;
    let c = 2.0 * dot(&u, x) / dot(&u, &u);
    x.iter().zip(&u).map(|(xi, ui)| s * (xi - c * ui)).collect()
}

/// Test directions for dimension m: the poles ±e₁ exactly, μ₁ = 0, points within
/// 1e-4 of ±e₁ (where the naive e₁ − μ reflection loses its precision), and
/// random directions.
fn test_directions(m: usize, rng: &mut HostRng) -> Vec<Vec<f64>> {
    let mut dirs = Vec::new();
    let mut e1 = vec![0.0; m];
    e1[0] = 1.0;
    dirs.push(e1.clone());
    dirs.push(e1.iter().map(|x| -x).collect());
    let mut eq = vec![0.0; m];
    eq[1] = 1.0;
    dirs.push(eq);
    for sign in [1.0, -1.0] {
        let mut near = vec![0.0; m];
        near[0] = sign;
        near[m - 1] = 1e-4;
        normalise(&mut near);
        dirs.push(near);
    }
    for _ in 0..8 {
        dirs.push(uniform_directions(rng, 1, m));
    }
    dirs
}

#[test]
fn log_surface_area_matches_mpmath() {
    // mpmath 1.4.1, mp.dps = 50:
    //   mp.log(2*mp.pi**(mp.mpf(m)/2)/mp.gamma(mp.mpf(m)/2)), rounded to f64.
    let cases = [
        (1, std::f64::consts::LN_2), // mpmath: 0.6931471805599453 (= ln 2)
        (2, 1.8378770664093456),
        (3, 2.5310242469692907),
        (10, 3.2387427794590007),
        (100, -86.63610247331493),
    ];
    for (m, want) in cases {
        let got = log_sphere_surface_area(m);
        assert!(
            (got - want).abs() <= 1e-14 * f64::abs(want),
            "m={m}: {got} vs {want}"
        );
    }
    assert_eq!(log_sphere_surface_area(0), f64::NEG_INFINITY);
}

#[test]
fn householder_is_orthogonal_and_maps_pole_to_mu() {
    let mut rng = HostRng::seed_from_u64(1);
    for device in devices() {
        for m in [2, 3, 10] {
            let mus = test_directions(m, &mut rng);
            let b = mus.len();
            let mu_flat: Vec<f64> = mus.concat();
            let x_flat: Vec<f64> = (0..b * m).map(|_| 3.0 * rng.normal()).collect();
            let y_flat: Vec<f64> = (0..b * m).map(|_| rng.normal()).collect();
            let mut e1_flat = vec![0.0; b * m];
            (0..b).for_each(|i| e1_flat[i * m] = 1.0);
            let mu = tensor2(&mu_flat, [b, m], &device);
            let h =
                |v: &[f64]| values(householder_reflect(mu.clone(), tensor2(v, [b, m], &device)));
            let he1 = h(&e1_flat);
            let hx = h(&x_flat);
            let hy = h(&y_flat);
            let hhx = values(householder_reflect(
                mu.clone(),
                tensor2(&hx, [b, m], &device),
            ));
            assert!(hx.iter().chain(&he1).all(|v| v.is_finite()));
            for i in 0..b {
                let r = i * m..(i + 1) * m;
                // H e₁ = μ (f32 storage of μ: 1e-6 absolute).
                for (g, w) in he1[r.clone()].iter().zip(&mu_flat[r.clone()]) {
                    assert!((g - w).abs() < 1e-6, "m={m} row {i}: He₁ {g} vs μ {w}");
                }
                // Norms and inner products preserved; H² = I.
                let (x, y) = (&x_flat[r.clone()], &y_flat[r.clone()]);
                let (hxr, hyr) = (&hx[r.clone()], &hy[r.clone()]);
                let nx = dot(x, x).sqrt();
                assert!(
                    (dot(hxr, hxr).sqrt() - nx).abs() < 2e-6 * nx,
                    "m={m} row {i}: norm"
                );
                assert!(
                    (dot(hxr, hyr) - dot(x, y)).abs() < 2e-6 * nx * dot(y, y).sqrt(),
                    "m={m} row {i}: inner product"
                );
                for (g, w) in hhx[r.clone()].iter().zip(x) {
                    assert!((g - w).abs() < 2e-6 * nx, "m={m} row {i}: H²x {g} vs {w}");
                }
                // Same values as the documented formula in f64.
                let want = householder_host(&mu_flat[r.clone()], x);
                for (g, w) in hxr.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 2e-6 * nx,
                        "m={m} row {i}: {g} vs formula {w}"
                    );
                }
            }
            // The exact poles: H(e₁) = diag(1, −1, …), H(−e₁) = diag(−1, 1, …).
            for (row, first, rest) in [(0, 1.0, -1.0), (1, -1.0, 1.0)] {
                let r = row * m..(row + 1) * m;
                let x = &x_flat[r.clone()];
                let hxr = &hx[r];
                assert_eq!(hxr[0], (first * x[0]) as f32 as f64);
                for k in 1..m {
                    assert_eq!(hxr[k], (rest * x[k]) as f32 as f64);
                }
            }
        }
    }
}

#[test]
fn householder_gradient_is_finite_and_matches_finite_differences() {
    // μ = p/‖p‖ with p a leaf; L = Σ_b c_bᵀ H(μ_b) x_b. Autodiff gradient in p vs a
    // central f64 finite difference (h = 1e-6) of the host formula. Rows include
    // p = e₁ and p = −e₁ exactly (both branches, the poles themselves), and
    // random p with |μ₁| > 0.05 (away from the branch switch at μ₁ = 0).
    let m = 4;
    let mut rng = HostRng::seed_from_u64(2);
    let mut ps: Vec<Vec<f64>> = vec![vec![1.0, 0.0, 0.0, 0.0], vec![-1.0, 0.0, 0.0, 0.0]];
    while ps.len() < 8 {
        let p: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
        if (p[0] / dot(&p, &p).sqrt()).abs() > 0.05 {
            ps.push(p);
        }
    }
    let b = ps.len();
    let xs: Vec<f64> = (0..b * m).map(|_| rng.normal()).collect();
    let cs: Vec<f64> = (0..b * m).map(|_| rng.normal()).collect();
    // Round the data to f32 first so both sides see the same inputs.
    let r32 = |v: &[f64]| v.iter().map(|&x| x as f32 as f64).collect::<Vec<_>>();
    let (xs, cs) = (r32(&xs), r32(&cs));
    let ps: Vec<Vec<f64>> = ps.iter().map(|p| r32(p)).collect();
    let loss_host = |row: usize, p: &[f64]| {
        let mut mu = p.to_vec();
        normalise(&mut mu);
        let hx = householder_host(&mu, &xs[row * m..(row + 1) * m]);
        dot(&hx, &cs[row * m..(row + 1) * m])
    };
    for device in devices() {
        let ad = device.clone().autodiff();
        let p = tensor2(&ps.concat(), [b, m], &ad).require_grad();
        let mu = p.clone() / p.clone().square().sum_dim(1).sqrt();
        let hx = householder_reflect(mu, tensor2(&xs, [b, m], &ad));
        let loss = (hx * tensor2(&cs, [b, m], &ad)).sum();
        let grads = loss.backward();
        let g = values(p.grad(&grads).unwrap());
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        for (row, p0) in ps.iter().enumerate() {
            for j in 0..m {
                let h = 1e-6;
                let (mut pp, mut pm) = (p0.clone(), p0.clone());
                pp[j] += h;
                pm[j] -= h;
                let fd = (loss_host(row, &pp) - loss_host(row, &pm)) / (2.0 * h);
                let got = g[row * m + j];
                assert!(
                    (got - fd).abs() < 1e-4 * (1.0 + fd.abs()),
                    "row {row}, ∂/∂p[{j}]: autodiff {got}, finite difference {fd}"
                );
            }
        }
    }
}

#[test]
fn tangent_embed_builds_unit_vectors_with_finite_gradients() {
    let ws = [-1.0, -0.5, 0.0, 0.3, 0.999, 1.0];
    let b = ws.len();
    let m = 3;
    let mut rng = HostRng::seed_from_u64(3);
    let v_flat = uniform_directions(&mut rng, b, m - 1);
    let c_flat: Vec<f64> = (0..b * m).map(|_| rng.normal()).collect();
    for device in devices() {
        let ad = device.clone().autodiff();
        let w_data: Vec<f32> = ws.iter().map(|&w| w as f32).collect();
        let w = Tensor::<1>::from_data(TensorData::new(w_data, [b]), &ad).require_grad();
        let x = tangent_embed(w.clone(), tensor2(&v_flat, [b, m - 1], &ad));
        let xv = values(x.clone());
        for (i, &wi) in ws.iter().enumerate() {
            let row = &xv[i * m..(i + 1) * m];
            assert!((row[0] - wi).abs() < 1e-7);
            assert!((dot(row, row) - 1.0).abs() < 1e-6, "row {i}: {row:?}");
        }
        let loss = (x * tensor2(&c_flat, [b, m], &ad)).sum();
        let grads = loss.backward();
        let g = values(w.grad(&grads).unwrap());
        for (i, &wi) in ws.iter().enumerate() {
            // d/dw [c₀w + √(1−w²)·c_restᵀv] = c₀ − w/√(1−w²)·c_restᵀv, and by
            // construction c₀ at |w| = 1.
            let c = &c_flat[i * m..(i + 1) * m];
            let v = &v_flat[i * (m - 1)..(i + 1) * (m - 1)];
            let want = if wi.abs() == 1.0 {
                c[0]
            } else {
                c[0] - wi / (1.0 - wi * wi).sqrt() * dot(&c[1..], v)
            };
            assert!(
                (g[i] - want).abs() < 1e-3 * (1.0 + want.abs()),
                "w={wi}: {} vs {want}",
                g[i]
            );
        }
        // The explicit-sine variant gives the same points.
        let sine: Vec<f32> = ws.iter().map(|&w| (1.0f64 - w * w).sqrt() as f32).collect();
        let w_plain =
            Tensor::<1>::from_data(TensorData::new(ws.map(|w| w as f32).to_vec(), [b]), &device);
        let x2 = values(tangent_embed_with_sine(
            w_plain,
            Tensor::from_data(TensorData::new(sine, [b]), &device),
            tensor2(&v_flat, [b, m - 1], &device),
        ));
        for (a, e) in x2.iter().zip(&xv) {
            assert!((a - e).abs() < 1e-6);
        }
    }
}

#[test]
fn uniform_directions_are_unit_vectors() {
    let mut rng = HostRng::seed_from_u64(4);
    for dim in [1, 2, 5] {
        let v = uniform_directions(&mut rng, 1000, dim);
        for row in v.chunks(dim) {
            assert!((dot(row, row) - 1.0).abs() < 1e-14);
        }
    }
    let v = uniform_directions(&mut rng, 1000, 1);
    assert!(v.iter().all(|x| x.abs() == 1.0));
    assert!(v.iter().any(|x| *x > 0.0) && v.iter().any(|x| *x < 0.0));
    let t = uniform_sphere_noise(&mut rng, [7, 3], &Device::flex());
    assert_eq!(t.dims(), [7, 3]);
}

#[test]
fn uniform_sphere_log_prob_and_entropy_match_mpmath() {
    // mpmath 1.4.1 (see log_surface_area_matches_mpmath): ln |S^{m−1}|.
    let cases = [
        (2, 1.8378770664093456),
        (3, 2.5310242469692907),
        (10, 3.2387427794590007),
        (100, -86.63610247331493),
    ];
    for device in devices() {
        for (m, log_area) in cases {
            let u = UniformSphere::new(4, m, &device).unwrap();
            assert_eq!(u.dim(), m);
            assert_eq!(u.shape().event, vec![m]);
            let mut rng = HostRng::seed_from_u64(5);
            let x = u.sample(&mut rng);
            let lp = values(u.log_prob(x));
            let h = values(u.entropy());
            assert_eq!(lp.len(), 4);
            for (l, e) in lp.iter().zip(&h) {
                assert!(
                    (l + log_area).abs() < 1e-6 * (1.0 + log_area.abs()),
                    "m={m}: {l}"
                );
                assert!(
                    (e - log_area).abs() < 1e-6 * (1.0 + log_area.abs()),
                    "m={m}: {e}"
                );
            }
        }
    }
}

#[test]
fn uniform_sphere_samples_have_isotropic_moments() {
    // x uniform on S^{m−1}: E[x] = 0, E[xxᵀ] = I/m. Per-element standard errors
    // with n draws: SE(x̄_i) = √(1/(m n)); SE of the mean of x_i² is
    // √((3/(m(m+2)) − 1/m²)/n); of x_i x_j (i ≠ j) √(1/(m(m+2)n)).
    // Tolerance 5 SE per element.
    let n = 20_000;
    for device in devices() {
        for m in [2, 3, 10] {
            let u = UniformSphere::new(n, m, &device).unwrap();
            let mut rng = HostRng::seed_from_u64(6);
            let x = values(u.rsample(&mut rng));
            let mut mean = vec![0.0; m];
            let mut second = vec![0.0; m * m];
            for row in x.chunks(m) {
                assert!((dot(row, row) - 1.0).abs() < 1e-6);
                for i in 0..m {
                    mean[i] += row[i] / n as f64;
                    for j in 0..m {
                        second[i * m + j] += row[i] * row[j] / n as f64;
                    }
                }
            }
            let mf = m as f64;
            let se_mean = (1.0 / (mf * n as f64)).sqrt();
            let se_diag = ((3.0 / (mf * (mf + 2.0)) - 1.0 / (mf * mf)) / n as f64).sqrt();
            let se_off = (1.0 / (mf * (mf + 2.0) * n as f64)).sqrt();
            for i in 0..m {
                assert!(
                    mean[i].abs() < 5.0 * se_mean,
                    "m={m}: mean[{i}] = {}",
                    mean[i]
                );
                for j in 0..m {
                    let (want, se) = if i == j {
                        (1.0 / mf, se_diag)
                    } else {
                        (0.0, se_off)
                    };
                    let got = second[i * m + j];
                    assert!((got - want).abs() < 5.0 * se, "m={m}: E[x{i}x{j}] = {got}");
                }
            }
        }
    }
}

#[test]
fn uniform_sphere_rejects_bad_arguments() {
    let device = Device::flex();
    for dim in [0, 1] {
        match UniformSphere::new(3, dim, &device) {
            Err(DistributionError::InvalidParameter {
                argument: "dim", ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
    match UniformSphere::new(0, 3, &device) {
        Err(DistributionError::InvalidParameter {
            argument: "batch", ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
