//! Every float parameter of a module as `.npy` files that NumPy / PyTorch open directly.
//!
//! [`export_npy`] walks a module with Burn's [`ModuleVisitor`] and writes one
//! `<dotted.path>.npy` (float32, the parameter's own shape) per float parameter plus an index,
//! `params.json`: `[{"name", "shape", "file"}, …]` in module order. The dotted path is the
//! field path of the `#[derive(Module)]` structs (`down.0.blocks.0.res.conv1.weight`), the same
//! names the trainer uses in its error messages and per-module learning rates.
//!
//! Burn's layouts are kept as they are, so a user porting weights should know two of them:
//! `Linear` stores its weight `[d_in, d_out]` (PyTorch: `[out, in]`, i.e. transposed), while
//! `Conv2d` stores `[c_out, c_in / groups, k_h, k_w]` like PyTorch. `benches/pytorch/ddpm_mnist.py
//! --init-from DIR` is a worked example that loads such a directory into a PyTorch U-Net.
//!
//! Written here rather than through burn-store's safetensors/PyTorch exporters: those need
//! extra Burn features (and their dependencies) in every build, while `.npy` is what the rest of
//! deepgen already writes and any Python user opens with `numpy.load`.

use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use deepgen_tensor::write_npy_f32;
use serde::Serialize;

use crate::TrainError;

/// File name of the index written next to the parameters.
pub const PARAMS_INDEX_FILE: &str = "params.json";

/// One exported parameter, as listed in `params.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportedParam {
    /// Dotted field path of the parameter in the module.
    pub name: String,
    /// The parameter's shape (Burn's layout).
    pub shape: Vec<usize>,
    /// File name of its `.npy`, relative to the export directory.
    pub file: String,
}

/// Writes every float parameter of `module` to `dir` (created if missing) as
/// `<dotted.path>.npy` plus [`PARAMS_INDEX_FILE`], and returns the index.
///
/// Integer and boolean parameters (none in deepgen's models) are skipped. Files are written
/// atomically, so an interrupted export never leaves a half-written array.
///
/// # Errors
/// [`TrainError::Io`] when `dir` cannot be created, [`TrainError::Output`] when a file cannot
/// be written, [`TrainError::Config`] when a parameter cannot be read as `f32`.
pub fn export_npy<M: Module>(module: &M, dir: &Path) -> Result<Vec<ExportedParam>, TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::io(dir, source))?;
    let mut visitor = Exporter {
        dir,
        path: Vec::new(),
        index: Vec::new(),
        error: None,
    };
    module.visit(&mut visitor);
    if let Some(e) = visitor.error {
        return Err(e);
    }
    let json = serde_json::to_string_pretty(&visitor.index)
        .map_err(|e| TrainError::config("export", format!("cannot encode the index: {e}")))?;
    deepgen_tensor::output::write_file_atomic(&dir.join(PARAMS_INDEX_FILE), json.as_bytes())?;
    Ok(visitor.index)
}

struct Exporter<'a> {
    dir: &'a Path,
    path: Vec<String>,
    index: Vec<ExportedParam>,
    error: Option<TrainError>,
}

impl ModuleVisitor for Exporter<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        let name = self.path.join(".");
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let data = match tensor.into_data().try_to_vec_as::<f32>() {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(TrainError::config(
                    "export",
                    format!("parameter `{name}` cannot be read as f32: {e:?}"),
                ));
                return;
            }
        };
        let file = format!("{name}.npy");
        if let Err(e) = write_npy_f32(&self.dir.join(&file), &shape, &data) {
            self.error = Some(e.into());
            return;
        }
        self.index.push(ExportedParam { name, shape, file });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;
    use deepgen_tensor::read_npy_f32;

    #[derive(Module, Debug)]
    struct Two {
        first: Linear,
        layers: Vec<Linear>,
    }

    #[test]
    fn every_parameter_round_trips_with_its_path_and_shape() {
        let device = Device::default();
        let model = Two {
            first: LinearConfig::new(3, 2).init(&device),
            layers: vec![LinearConfig::new(2, 4).with_bias(false).init(&device)],
        };
        let dir = tempfile::tempdir().unwrap();
        let index = export_npy(&model, dir.path()).unwrap();
        let names: Vec<&str> = index.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["first.weight", "first.bias", "layers.0.weight"]);
        assert_eq!(index[0].shape, [3, 2]);
        assert_eq!(index[2].shape, [2, 4]);
        let (shape, data) = read_npy_f32(&dir.path().join("first.weight.npy")).unwrap();
        assert_eq!(shape, [3, 2]);
        let want = model
            .first
            .weight
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(data, want);
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(PARAMS_INDEX_FILE)).unwrap(),
        )
        .unwrap();
        assert_eq!(json[1]["name"], "first.bias");
        assert_eq!(json[1]["file"], "first.bias.npy");
        assert_eq!(json[1]["shape"][0], 2);
    }
}
