//! A fixed permutation of the dimensions, placed between autoregressive steps so that each
//! step sees a different order (Kingma et al. 2016 reverse the order between IAF steps).
//!
//! `y[:, k] = x[:, perm[k]]`, a volume-preserving map: ladj 0 in both directions. The indices
//! (and their inverse) are `Param<Tensor<1, Int>>`: recorded with the weights, never trained.

use burn::module::{Module, Param, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::transform::{Transform, check_input, zero_ladj};

/// A fixed permutation of the columns; see the [module docs](self).
#[derive(Module, Debug)]
pub struct Permutation {
    /// `perm[k]`: the input column that becomes output column `k`.
    pub perm: Param<Tensor<1, Int>>,
    /// The inverse permutation.
    pub inverse_perm: Param<Tensor<1, Int>>,
    /// `D`.
    pub dim: usize,
}

impl Permutation {
    /// The permutation `perm` of `0..perm.len()`.
    ///
    /// # Panics
    /// If `perm` is empty or not a permutation.
    pub fn new(perm: &[usize], device: &Device) -> Self {
        let d = perm.len();
        assert!(d >= 1, "Permutation: empty");
        let mut inverse = vec![usize::MAX; d];
        for (k, &i) in perm.iter().enumerate() {
            assert!(
                i < d && inverse[i] == usize::MAX,
                "Permutation: {perm:?} is not a permutation of 0..{d}"
            );
            inverse[i] = k;
        }
        let param = |p: &[usize]| {
            Param::initialized(
                ParamId::new(),
                Tensor::<1, Int>::from_data(
                    TensorData::new(p.iter().map(|&i| i as i64).collect(), [d]),
                    device,
                ),
            )
        };
        Self {
            perm: param(perm),
            inverse_perm: param(&inverse),
            dim: d,
        }
    }

    /// Reverses the order of `d` columns.
    pub fn reverse(d: usize, device: &Device) -> Self {
        Self::new(&(0..d).rev().collect::<Vec<_>>(), device)
    }

    /// The permutation read back from the device.
    pub fn indices(&self) -> Vec<usize> {
        self.perm
            .val()
            .into_data()
            .try_to_vec_as::<i64>()
            .expect("int indices convert to i64")
            .into_iter()
            .map(|i| i as usize)
            .collect()
    }
}

impl Transform for Permutation {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        check_input("Permutation", &x, self.dim);
        let ladj = zero_ladj(&x);
        (x.select(1, self.perm.val()), ladj)
    }

    fn inverse_and_ladj(
        &self,
        y: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        check_input("Permutation", &y, self.dim);
        let ladj = zero_ladj(&y);
        (y.select(1, self.inverse_perm.val()), ladj)
    }
}
