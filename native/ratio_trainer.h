// Neural ratio estimation's classifier f(θ, x) ≈ log r(θ, x) = log p(θ, x) / (p(θ) p(x)): a
// residual network (kernels/nn/resnet.h, ReLU, one output) on [z(θ), z(x)], or on
// [z(θ), e_φ(z(x))] with a jointly trained ReLU embedding network e_φ (kernels/nn/ratio_embedding.h:
// each x row of a batch is embedded once, whatever the number of contrasting pairs), the inputs
// z-scored with the training rows' mean and std (n − 1, floored at 1e-14, as sbi), trained with
// one of the losses of kernels/nn/ratio_loss.h by the generic loop of native/trainer.h. Plain C++
// (no N-API; native/nre.cc is the boundary). Training and evaluation run in float. Parameters,
// one flat vector: the residual network's (resnet.h layout), then the embedding's (mlp.h layout).
//
// Contrasting pairs: for batch row i, the θ of other rows of the same batch, distinct within a
// set, drawn uniformly without replacement from the batch's other rows (sbi's
// _classifier_logits) by Philox on the calling thread (stream 2 for training batches; the
// validation batches draw from stream 3 afresh at every evaluation, so every epoch is scored on
// the same pairs). Validation rows are cut into batches of batch_size in split order; a trailing
// remainder too small for the contrasts joins the previous batch.
// Initialisation (stream 4): torch's Linear default U(±1/√fan_in) for weights and biases, and
// nflows' near-zero U(±1e-3) for the second layer of every residual block.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "../kernels/nn/ratio_loss.h"
#include "../kernels/nn/resnet.h"
#include "trainer.h"

namespace sbi_native {

struct RatioNetShape {
  int theta_dim = 1, x_dim = 1, hidden = 50, blocks = 2;
  std::vector<int64_t> embed_sizes;  // the embedding's widths [x_dim, hidden..., E]; empty: none
};

sbi::nn::ResNetShape ResNetOf(const RatioNetShape& s);
// Parameters of the embedding network (0 without one).
int64_t EmbeddingParamCount(const RatioNetShape& s);

struct RatioStats {
  std::vector<double> theta_mean, theta_std, x_mean, x_std;
};

struct RatioTrainResult {
  training::Result fit;
  RatioStats stats;
};

// Rows a batch needs for `loss`'s contrasts (distinct partners from the other rows).
int64_t RatioMinBatchRows(const sbi::nn::RatioLossConfig& loss);

// theta [n, D], x [n, C] (double, finite); initial_embedding: the embedding's initial parameters
// [EmbeddingParamCount(shape)] (null without one).
RatioTrainResult TrainRatio(const RatioNetShape& shape, const sbi::nn::RatioLossConfig& loss,
                            const training::Config& config, int64_t n, const double* theta, const double* x,
                            const float* initial_embedding, uint64_t seed, const int32_t* cancel,
                            const std::function<void(const training::Epoch&)>& on_epoch);

// out[i] = f(θ_i, x_i) for rows [begin, end) of theta [n, D]; x holds one row per θ row, or one
// row for all when x_broadcast (embedded once). Single-threaded (callers split the rows).
void RatioLogits(const RatioNetShape& shape, const float* params, const RatioStats& stats, int64_t begin, int64_t end,
                 const double* theta, const double* x, bool x_broadcast, double* out);

}  // namespace sbi_native
