#include "mlp_classifier.h"
#include "nn_dispatch.h"
#include "denormals.h"
#include "runtime.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../kernels/nn/adam.h"
#include "../kernels/nn/loss.h"
#include "../kernels/nn/mlp.h"
#include "../kernels/nn/relu_sparse.h"
#include "../kernels/random/samplers.h"

namespace sbi_native {
namespace {

using sbi::nn::Activation;

bool Cancelled(const int32_t* flag) { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; }

// The network's layer widths: input dim, hidden_layers × hidden_width, one logit.
std::vector<int64_t> LayerSizes(const ClassifierConfig& c, int64_t dim) {
  std::vector<int64_t> sizes(c.hidden_layers + 2, c.hidden_width);
  sizes.front() = dim;
  sizes.back() = 1;
  return sizes;
}

// The widths the network is stored and run at: the input and hidden widths rounded up to whole
// dense tiles (sbi::nn::kTileCols), so that every product in the forward and backward passes runs
// on full register tiles (measured with the earlier 4 × 16 tiles, whose partial tiles were scalar:
// 2-D and 10-D C2ST ran 1.6-2× slower per batch unpadded; dense.h's gemm now pads partial tiles). The padding changes no result: padded inputs
// are 0 and padded units start with zero weights in and out, so their pre-activations, ReLU
// outputs, gradients, L2 terms and Adam steps are exactly 0 for ever, and they add only exact
// zeros, at the end, to every sum (each sum runs over its depth in order).
std::vector<int64_t> PaddedSizes(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> padded(sizes);
  for (size_t l = 0; l + 1 < padded.size(); ++l) padded[l] = (sizes[l] + sbi::nn::kTileCols - 1) / sbi::nn::kTileCols * sbi::nn::kTileCols;
  return padded;
}

// sklearn's _init_coef for non-logistic activations: W and b ~ U(-r, r), r = sqrt(6 / (fan_in + fan_out))
// (Glorot & Bengio 2010), every layer including the output. Drawn in the order of the unpadded
// layout (W_l row-major, then b_l) into the padded one; padding stays 0.
void GlorotUniform(const std::vector<int64_t>& sizes, const std::vector<int64_t>& padded, sbi::PhiloxStream& rng,
                   float* params) {
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1], in_pad = padded[l], out_pad = padded[l + 1];
    const double r = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
    for (int64_t o = 0; o < fan_out; ++o)
      for (int64_t i = 0; i < fan_in; ++i) params[o * in_pad + i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * r);
    for (int64_t o = 0; o < fan_out; ++o) params[out_pad * in_pad + o] = static_cast<float>((2.0 * rng.uniform() - 1.0) * r);
    params += out_pad * (in_pad + 1);
  }
}

// One mini-batch's parameter update: sklearn's L2 term on the weights (not the biases) added to
// the gradient, ‖W‖² for the loss, then Adam. Compiled per instruction set like the network
// kernels (it was the baseline SSE2 build, ~10 % of a 10-D C2ST's time). Adam is element-wise
// IEEE arithmetic, the same bits on every path; ‖W‖² is summed in double over kLanes interleaved
// partial sums, a fixed order (one running sum cannot vectorise).
struct BatchUpdate {
  const sbi::nn::AdamConfig* adam;
  int64_t step, p;
  int layers;
  const int64_t* sizes;  // padded layer widths
  float l2;              // alpha / batch rows
  float *params, *grads, *m, *v;
  double* w_sq;          // out: ‖W‖²
};
inline void BatchUpdateBody(const BatchUpdate& a, int64_t, int64_t) {
  constexpr int kLanes = 8;
  double acc[kLanes] = {};
  int64_t off = 0;
  for (int l = 0; l < a.layers; ++l) {
    const int64_t nw = a.sizes[l + 1] * a.sizes[l];
    const float* w = a.params + off;
    float* g = a.grads + off;
    int64_t k = 0;
    for (; k + kLanes <= nw; k += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        acc[j] += static_cast<double>(w[k + j]) * w[k + j];
        g[k + j] += a.l2 * w[k + j];
      }
    for (int j = 0; k < nw; ++k, ++j) {
      acc[j] += static_cast<double>(w[k]) * w[k];
      g[k] += a.l2 * w[k];
    }
    off += nw + a.sizes[l + 1];
  }
  double w_sq = 0.0;
  for (int j = 0; j < kLanes; ++j) w_sq += acc[j];
  *a.w_sq = w_sq;
  sbi::nn::adam_step(*a.adam, a.step, a.p, a.params, a.grads, a.m, a.v);
}
SBI_MULTIVERSION(BatchUpdateV, BatchUpdate, BatchUpdateBody)

// The network's forward and backward on relu_sparse.h (the zeros of ReLU skipped; the same
// results as mlp.h's), compiled per instruction set.
struct SparsePass {
  int layers;
  const int64_t *sizes, *widths;  // padded (storage) and logical layer widths
  int64_t n;
  const float *x, *params, *dout;
  float *saved, *grads, *scratch;
  int32_t* lists;
  const float** out;
};
inline void SparseForwardBody(const SparsePass& a, int64_t, int64_t) {
  *a.out = sbi::nn::relu_mlp_forward(a.layers, a.sizes, a.widths, a.n, a.x, a.params, a.saved, a.scratch, a.lists);
}
inline void SparseBackwardBody(const SparsePass& a, int64_t, int64_t) {
  sbi::nn::relu_mlp_backward(a.layers, a.sizes, a.widths, a.n, a.x, a.params, a.saved, a.dout, a.grads, a.scratch, a.lists);
}
SBI_MULTIVERSION(SparseForwardV, SparsePass, SparseForwardBody)
SBI_MULTIVERSION(SparseBackwardV, SparsePass, SparseBackwardBody)

}  // namespace

ClassifierFit TrainBinaryClassifier(const ClassifierConfig& c, int64_t n, int64_t dim, const float* x,
                                    const uint8_t* labels, uint64_t seed, uint64_t stream, const int32_t* cancel) {
  // Late epochs push Adam's moments and some gradients into the denormal range: flushing them
  // made 10-D C2ST 1.35x faster (bench: 10-D, similar samples) with the same accuracies.
  const ScopedFlushDenormals flush_denormals;
  const std::vector<int64_t> logical = LayerSizes(c, dim);
  const std::vector<int64_t> sizes = PaddedSizes(logical);
  const int layers = c.hidden_layers + 1;
  const int64_t batch = std::max<int64_t>(1, std::min(c.batch_size, n));
  const int64_t p = sbi::nn::mlp_param_count(layers, sizes.data());
  const int64_t in_pad = sizes.front();

  ClassifierFit fit;
  fit.params.assign(p, 0.0f);
  std::vector<float> grads(p), m(p, 0.0f), v(p, 0.0f);
  std::vector<float> xb(batch * in_pad, 0.0f), tb(batch), dlogit(batch);
  std::vector<float> saved(sbi::nn::mlp_saved_size(Activation::ReLU, layers, sizes.data(), batch));
  std::vector<float> scratch(std::max(sbi::nn::mlp_scratch_size(layers, sizes.data(), batch),
                                      sbi::nn::relu_mlp_forward_scratch(layers, sizes.data())));
  std::vector<int32_t> lists(sbi::nn::relu_mlp_list_size(layers, sizes.data(), batch));
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;

  sbi::PhiloxStream rng(seed, stream);
  GlorotUniform(logical, sizes, rng, fit.params.data());

  static const decltype(&BatchUpdateV_scalar) kBatchUpdate[3] = SBI_MULTIVERSION_TABLE(BatchUpdateV);
  static const decltype(&SparseForwardV_scalar) kForward[3] = SBI_MULTIVERSION_TABLE(SparseForwardV);
  static const decltype(&SparseBackwardV_scalar) kBackward[3] = SBI_MULTIVERSION_TABLE(SparseBackwardV);
  const auto batch_update = kBatchUpdate[static_cast<int>(ActiveIsa())];
  const auto forward = kForward[static_cast<int>(ActiveIsa())];
  const auto backward = kBackward[static_cast<int>(ActiveIsa())];
  sbi::nn::AdamConfig adam;
  adam.lr = c.lr;
  adam.beta1 = c.beta1;
  adam.beta2 = c.beta2;
  double best = std::numeric_limits<double>::infinity();
  int64_t no_improvement = 0, step = 0;
  for (int64_t epoch = 0; epoch < c.max_epochs; ++epoch) {
    if (Cancelled(cancel)) {
      fit.cancelled = true;
      return fit;
    }
    sbi::shuffle(rng, order.data(), n);
    double loss_sum = 0.0;
    for (int64_t start = 0; start < n; start += batch) {
      const int64_t nb = std::min(batch, n - start);
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t i = order[start + r];
        for (int64_t j = 0; j < dim; ++j) xb[r * in_pad + j] = x[i * dim + j];  // a few values: no memmove call
        tb[r] = static_cast<float>(labels[i]);
      }
      const float* logits = nullptr;
      forward({layers, sizes.data(), logical.data(), nb, xb.data(), fit.params.data(), nullptr, saved.data(), nullptr,
               scratch.data(), lists.data(), &logits}, 0, 1);
      double loss = sbi::nn::bce_with_logits(nb, int64_t{1}, logits, tb.data(), dlogit.data());
      backward({layers, sizes.data(), logical.data(), nb, xb.data(), fit.params.data(), dlogit.data(), saved.data(),
                grads.data(), scratch.data(), lists.data(), nullptr}, 0, 1);
      // sklearn's L2 term on the batch-mean loss: + (alpha / 2 nb) ‖W‖², gradient (alpha / nb) W,
      // weights only (adam.h's weight_decay would also decay the biases). The loss takes ‖W‖²
      // before the step, as sklearn's does.
      // sklearn's Adam puts ε outside the bias correction of v: θ -= lr_t m / (sqrt(v) + ε) with
      // lr_t = lr sqrt(1 - β2ᵗ) / (1 - β1ᵗ). adam.h divides sqrt(v) by sqrt(1 - β2ᵗ) before adding
      // ε, so ε / sqrt(1 - β2ᵗ) there is sklearn's ε here.
      ++step;
      adam.eps = c.eps / std::sqrt(1.0 - std::pow(c.beta2, static_cast<double>(step)));
      double w_sq = 0.0;
      batch_update({&adam, step, p, layers, sizes.data(), static_cast<float>(c.alpha / static_cast<double>(nb)),
                    fit.params.data(), grads.data(), m.data(), v.data(), &w_sq}, 0, 1);
      loss += 0.5 * c.alpha * w_sq / static_cast<double>(nb);
      loss_sum += loss * static_cast<double>(nb);
    }
    const double epoch_loss = loss_sum / static_cast<double>(n);
    if (epoch == 0) fit.first_loss = epoch_loss;
    fit.last_loss = epoch_loss;
    fit.epochs = epoch + 1;
    // sklearn's _update_no_improvement_count (early_stopping=False) and its stop test.
    no_improvement = epoch_loss > best - c.tol ? no_improvement + 1 : 0;
    best = std::min(best, epoch_loss);
    if (no_improvement > c.patience) break;
  }
  return fit;
}

double ClassifierAccuracy(const ClassifierConfig& c, const ClassifierFit& fit, int64_t n, int64_t dim, const float* x,
                          const uint8_t* labels) {
  const std::vector<int64_t> sizes = PaddedSizes(LayerSizes(c, dim));
  const int layers = c.hidden_layers + 1;
  const int64_t in_pad = sizes.front();
  constexpr int64_t kChunk = 1024;
  std::vector<float> saved(sbi::nn::mlp_saved_size(Activation::ReLU, layers, sizes.data(), kChunk));
  std::vector<float> xc(kChunk * in_pad, 0.0f);
  int64_t correct = 0;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t nb = std::min(kChunk, n - start);
    for (int64_t r = 0; r < nb; ++r) std::copy(x + (start + r) * dim, x + (start + r + 1) * dim, xc.data() + r * in_pad);
    const float* logits = MlpForward(Activation::ReLU, layers, sizes.data(), nb, xc.data(), fit.params.data(), saved.data());
    for (int64_t r = 0; r < nb; ++r) correct += (logits[r] > 0.0f ? 1 : 0) == labels[start + r] ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

void AssignFolds(int64_t n, int folds, uint64_t seed, int32_t* fold_of) {
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  sbi::PhiloxStream rng(seed, 0);
  sbi::shuffle(rng, perm.data(), n);
  int64_t start = 0;
  for (int f = 0; f < folds; ++f) {
    const int64_t size = n / folds + (f < n % folds ? 1 : 0);
    for (int64_t k = start; k < start + size; ++k) fold_of[perm[k]] = f;
    start += size;
  }
}

FoldResult RunFold(const ClassifierConfig& c, int64_t n, int64_t dim, const double* x, const uint8_t* labels,
                   const int32_t* fold_of, int fold, uint64_t seed, const int32_t* cancel) {
  std::vector<float> train_x, test_x;
  std::vector<uint8_t> train_t, test_t;
  for (int64_t i = 0; i < n; ++i) {
    auto& xs = fold_of[i] == fold ? test_x : train_x;
    (fold_of[i] == fold ? test_t : train_t).push_back(labels[i]);
    for (int64_t j = 0; j < dim; ++j) xs.push_back(static_cast<float>(x[i * dim + j]));
  }
  const int64_t n_train = static_cast<int64_t>(train_t.size()), n_test = static_cast<int64_t>(test_t.size());
  const ClassifierFit fit =
      TrainBinaryClassifier(c, n_train, dim, train_x.data(), train_t.data(), seed, static_cast<uint64_t>(fold) + 1, cancel);
  FoldResult r;
  r.cancelled = fit.cancelled;
  r.epochs = fit.epochs;
  r.first_loss = fit.first_loss;
  r.last_loss = fit.last_loss;
  if (!fit.cancelled) r.accuracy = ClassifierAccuracy(c, fit, n_test, dim, test_x.data(), test_t.data());
  return r;
}

}  // namespace sbi_native
