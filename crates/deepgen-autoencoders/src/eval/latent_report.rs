//! The standard pictures and numbers of a trained latent-variable model, written
//! next to its checkpoints: `reconstructions.png`, `interpolation.png`,
//! `traversal.png`, and the active units.

use std::path::Path;

use burn::tensor::Tensor;
use deepgen_tensor::output::{OutputError, save_image_grid};

use crate::eval::latent_tools::{
    ActiveUnits, LatentCodec, active_units, reconstruct, slerp, traversal,
};

/// Writes into `dir`:
/// - `reconstructions.png`: rows alternate 16 inputs and their reconstructions
///   (first 64 rows of `inputs`);
/// - `interpolation.png`: 8 rows, spherical interpolation in 10 steps between the codes of
///   inputs 2i and 2i+1;
/// - `traversal.png`: the 8 most active latent dimensions (rows), each swept over
///   −3…3 in 9 steps from the zero code;
///
/// and returns the active units over all of `inputs` (threshold 0.01).
/// `inputs` are model inputs `[N, C·H·W]` (N ≥ 16), `image` their `[C, H, W]`.
pub fn write_latent_report<M: LatentCodec>(
    model: &M,
    inputs: Tensor<2>,
    image: [usize; 3],
    dir: &Path,
) -> Result<ActiveUnits, OutputError> {
    let device = inputs.device();
    let [n, _] = inputs.dims();
    let [c, h, w] = image;
    let au = active_units(
        model,
        (0..n)
            .step_by(1000)
            .map(|s| inputs.clone().narrow(0, s, (s + 1000).min(n) - s)),
        0.01,
    );

    let m = n.min(64) / 16 * 16;
    if m >= 16 {
        let x = inputs.clone().narrow(0, 0, m);
        let r = reconstruct(model, x.clone());
        let (xs, rs) = (host(x), host(r));
        let d = c * h * w;
        let mut grid = Vec::with_capacity(2 * m * d);
        for row in 0..m / 16 {
            grid.extend_from_slice(&xs[row * 16 * d..(row + 1) * 16 * d]);
            grid.extend_from_slice(&rs[row * 16 * d..(row + 1) * 16 * d]);
        }
        save_image_grid(&dir.join("reconstructions.png"), &grid, 2 * m, c, h, w, 16)?;
    }

    let pairs = (n / 2).min(8);
    if pairs > 0 {
        let codes: Vec<f64> = host(model.encode_mean(inputs.clone().narrow(0, 0, 2 * pairs)))
            .into_iter()
            .map(f64::from)
            .collect();
        let l = model.latent_dim();
        let mut grid = Vec::new();
        for p in 0..pairs {
            let (a, b) = (
                &codes[2 * p * l..(2 * p + 1) * l],
                &codes[(2 * p + 1) * l..(2 * p + 2) * l],
            );
            grid.extend(host(model.decode_mean(slerp(a, b, 10, &device))));
        }
        save_image_grid(
            &dir.join("interpolation.png"),
            &grid,
            pairs * 10,
            c,
            h,
            w,
            10,
        )?;
    }

    let mut order: Vec<usize> = (0..au.activity.len()).collect();
    order.sort_by(|a, b| au.activity[*b].total_cmp(&au.activity[*a]));
    order.truncate(8);
    let values: Vec<f64> = (0..9).map(|i| -3.0 + 0.75 * i as f64).collect();
    let base = vec![0.0; model.latent_dim()];
    let z = traversal(&base, &order, &values, &device);
    let grid = host(model.decode_mean(z));
    save_image_grid(
        &dir.join("traversal.png"),
        &grid,
        order.len() * 9,
        c,
        h,
        w,
        9,
    )?;
    Ok(au)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("tensor converts to f32")
}
