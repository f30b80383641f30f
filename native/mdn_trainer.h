// Maximum-likelihood training of a mixture density network q(y | c) (kernels/flows/mdn.h): a
// ReLU MLP (kernels/nn/mlp.h) on the z-scored context c whose output row parameterises the
// mixture over the z-scored y, trained by the generic loop of native/trainer.h with sbi's
// defaults. NPE models y = θ given c = x, NLE y = x given c = θ. Plain C++ (no N-API;
// native/mdn.cc is the boundary). Training and evaluation run in float.
//
// - y and c are z-scored with the training rows' mean and std (n − 1, floored at 1e-14, as sbi);
//   log q(y | c) = log q_z(z_y | z_c) − Σ_d log std_y,d, the loss every epoch reports (mean
//   −log q of the original y), as the flows do (native/flow_trainer.h).
// - Gradients in fixed chunks of kMdnChunkRows rows summed in chunk order: the same result for
//   any thread count; the dense layers run on the per-ISA kernels of native/nn_dispatch.h.
// - Initialisation (stream 3 of the seed): torch's Linear default U(±1/√fan_in) for every weight
//   and bias, except the output rows of the logits, log-diagonals and off-diagonals, which get
//   U(±0.01) (pyknos' custom initialisation, ε = 0.01): the mixture starts near uniform weights
//   and unit precision in z space (U ≈ I); the means differ by component through their weights.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "../kernels/flows/mdn.h"
#include "trainer.h"

namespace sbi_native {

struct MdnNetShape {
  int dim = 1;            // D: the modelled variable y
  int context = 1;        // C
  int hidden = 50;        // units per hidden layer
  int hidden_layers = 2;
  int components = 10;    // K

  sbi::MdnShape head() const { return sbi::MdnShape{dim, components}; }
  // The conditioner's widths [C, H, .., H, K · W].
  std::vector<int64_t> sizes() const;
  int64_t param_count() const;
};

struct MdnStats {
  std::vector<double> y_mean, y_std, c_mean, c_std;
};

struct MdnTrainResult {
  training::Result fit;
  MdnStats stats;
};

// y [n, D], context [n, C] (double, finite).
MdnTrainResult TrainMdn(const MdnNetShape& shape, const training::Config& config, int64_t n, const double* y,
                        const double* context, uint64_t seed, const int32_t* cancel,
                        const std::function<void(const training::Epoch&)>& on_epoch);

// The conditioner's output rows out [n, K · W] for z-scored context rows c [n, C] (float, the
// per-ISA kernels; `saved` [mlp_saved_size]). Returns a pointer into saved.
const float* MdnConditioner(const MdnNetShape& shape, int64_t n, const float* params, const float* c, float* saved);

}  // namespace sbi_native
