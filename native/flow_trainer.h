// Maximum-likelihood training of a conditional MAF q(θ | x) (kernels/flows/maf.h): the loop of
// NPE's density estimator, with sbi's defaults. Plain C++ (no N-API; native/train_flow.cc is the
// boundary). Training runs in float.
//
// - θ and x are z-scored with the mean and std (n − 1, floored at 1e-14) of the training rows;
//   the flow models z_θ given z_x, and log q(θ | x) = log q_z(z_θ | z_x) − Σ_d log std_θ,d, the
//   loss every epoch reports (mean −log q of the original θ).
// - A validation split of ⌊fraction · n⌋ rows, chosen by a Philox permutation (stream 0 of the
//   seed); per-epoch shuffles of the training rows from stream 1.
// - Adam on the batch-mean loss, gradient clipped at global norm `clip_max_norm`.
// - Stops after `stop_after_epochs` epochs without a lower validation loss (or `max_epochs`)
//   and returns the parameters of the best epoch.
// - Deterministic for a seed and any thread count: a batch's rows run in fixed chunks of
//   kTrainChunkRows with one gradient each, summed in chunk order.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "../kernels/flows/maf.h"
#include "../kernels/flows/maf_embedding.h"

namespace sbi_native {

struct TransformSpec;

struct FlowTrainConfig {
  int64_t batch_size = 200;
  double learning_rate = 5e-4;
  double validation_fraction = 0.1;
  int64_t stop_after_epochs = 20;
  double clip_max_norm = 5.0;
  int64_t max_epochs = (int64_t{1} << 31) - 1;
  int threads = 0;  // <= 0: the pool's default
  // Optional embedding network e_φ (ReLU MLP, identity output) between z-scored x and the flow's
  // context, trained jointly: sizes [L + 1] with sizes[0] = x's width and sizes[L] = the flow's
  // context width. Empty: none (x is the context). Its parameters follow the flow's in
  // `init_params` and in the result's `params`.
  std::vector<int64_t> embed_sizes;
};

struct EpochLosses {
  int64_t epoch;  // 1, 2, ...
  double train_loss, validation_loss;
};

struct FlowTrainResult {
  std::vector<float> params;  // the best epoch's (the flow's, then the embedding's)
  std::vector<double> theta_mean, theta_std, x_mean, x_std;
  std::vector<double> train_loss, validation_loss;  // per epoch
  int64_t best_epoch = 0;
  double best_validation_loss = 0.0;
  bool cancelled = false;
};

// The split sizes for n rows: validation ⌊fraction · n⌋, training the rest.
int64_t ValidationRows(int64_t n, double fraction);

// θ [n, dim], x [n, context] (or [n, embed_sizes[0]] with an embedding) (float), initial parameters (masked weights 0; `made_mask` is one
// MADE's mask). Polls `cancel` (may be null) before every batch; calls on_epoch after each epoch.
FlowTrainResult TrainFlow(const sbi::MafShape& shape, const TransformSpec& transform, const uint8_t* made_mask,
                          const FlowTrainConfig& config, int64_t n, const float* theta, const float* x,
                          const float* init_params, uint64_t seed, const int32_t* cancel,
                          const std::function<void(const EpochLosses&)>& on_epoch);

}  // namespace sbi_native
