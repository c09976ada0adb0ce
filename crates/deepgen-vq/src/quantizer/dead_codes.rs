//! Re-seeding codes that the encoder stopped choosing (codebook collapse is the common failure
//! of VQ-VAEs; Dhariwal et al. 2020 (Jukebox) and vector-quantize-pytorch re-seed unused codes
//! from encoder outputs).
//!
//! Each code counts the consecutive training steps in which no row chose it
//! (`steps_unused`, saved with the model). After a step, every code whose count reached
//! `dead_code_steps` is replaced by a row of the batch's encoder outputs drawn uniformly with
//! the caller's [`HostRng`]; its count restarts at 0, and with EMA updates its cluster size is
//! reset to 1 and its cluster sum to the new code so the average starts from it.

use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};
use deepgen_tensor::HostRng;

use super::ema::{BatchStats, replace};
use super::{CodebookUpdate, VectorQuantizer};

impl VectorQuantizer {
    /// Updates the steps-without-use counters with a batch's counts and re-seeds the codes
    /// unused for `dead_code_steps` steps (never when it is 0). Returns the quantizer and the
    /// number of codes re-seeded.
    pub fn reseed_dead_codes(mut self, stats: &BatchStats, rng: &mut HostRng) -> (Self, usize) {
        let unused = stats.counts.clone().equal_elem(0.0).float();
        let steps = (self.steps_unused.val().detach().add_scalar(1.0)) * unused;
        if self.dead_code_steps == 0 {
            self.steps_unused = replace(self.steps_unused, steps);
            return (self, 0);
        }
        let host: Vec<f32> = steps
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 counters");
        let dead: Vec<i64> = host
            .iter()
            .enumerate()
            .filter(|(_, s)| **s as usize >= self.dead_code_steps)
            .map(|(k, _)| k as i64)
            .collect();
        let n_rows = stats.inputs.dims()[0];
        if dead.is_empty() || n_rows == 0 {
            self.steps_unused = replace(self.steps_unused, steps);
            return (self, 0);
        }
        let device = steps.device();
        let m = dead.len();
        let rows: Vec<i64> = (0..m).map(|_| rng.below(n_rows as u64) as i64).collect();
        let dead_t = Tensor::<1, Int>::from_data(TensorData::new(dead, [m]), &device);
        let rows_t = Tensor::<1, Int>::from_data(TensorData::new(rows, [m]), &device);
        let seeds = stats.inputs.clone().detach().select(0, rows_t);
        let codebook = self.codebook.val().detach().select_assign(
            0,
            dead_t.clone(),
            seeds.clone(),
            IndexingUpdateOp::Assign,
        );
        self.codebook = replace(self.codebook, codebook);
        let steps = steps.select_assign(
            0,
            dead_t.clone(),
            Tensor::zeros([m], &device),
            IndexingUpdateOp::Assign,
        );
        self.steps_unused = replace(self.steps_unused, steps);
        if let CodebookUpdate::Ema { .. } = self.update {
            let count = self.ema_count.val().detach().select_assign(
                0,
                dead_t.clone(),
                Tensor::ones([m], &device),
                IndexingUpdateOp::Assign,
            );
            let sum = self.ema_sum.val().detach().select_assign(
                0,
                dead_t,
                seeds,
                IndexingUpdateOp::Assign,
            );
            self.ema_count = replace(self.ema_count, count);
            self.ema_sum = replace(self.ema_sum, sum);
        }
        (self, m)
    }
}
