// A generic native training loop with sbi's conventions, for any model that computes a batch
// loss and its gradient (the NRE classifier, native/ratio_trainer.h; the conditional flow can
// be hosted the same way). Plain C++ (no N-API).
//
// - Validation split: the last ⌊fraction · n⌋ rows of a Philox permutation of [0, n) (stream 0
//   of the seed) validate, the others train; the training rows are reshuffled every epoch
//   (stream 1) and cut into batches of `batch_size` (a trailing batch smaller than the model's
//   MinBatchRows() is skipped for that epoch: contrastive losses need partners in the batch).
// - Adam (kernels/nn/adam.h) on the batch-mean loss, gradient clipped at global norm
//   `clip_max_norm` first (optimizer_step.h: the norm on the calling thread, clip and Adam on the pool).
// - Stops after `stop_after_epochs` epochs without a lower validation loss (or `max_epochs`) and
//   returns the parameters of the best epoch.
// - `cancel` (may be null; nonzero = stop) is polled before every batch.
// - Deterministic for a seed and any thread count, provided the model is: models compute their
//   gradients in fixed chunks summed in chunk order (SumChunkGradients does that), and draw any
//   per-batch randomness from the stream handed to LossAndGrad (stream 2) on the calling thread.
//
// The Model concept:
//   int64_t ParamCount() const;
//   int64_t MinBatchRows() const;
//   // The split is known: fit standardisation etc. on the training rows (indices into [0, n));
//   // streams >= 3 of `seed` are the model's own.
//   void Prepare(const std::vector<int64_t>& train_rows, const std::vector<int64_t>& val_rows, uint64_t seed);
//   void InitialParams(float* params);
//   // Batch-mean loss of training rows rows[0..nb) (indices into train_rows); gradient into
//   // grad [ParamCount] (overwritten).
//   double LossAndGrad(const float* params, const int64_t* rows, int64_t nb, sbi::PhiloxStream& rng, float* grad);
//   // Mean loss over all validation rows; must be deterministic for the same params.
//   double ValidationLoss(const float* params);
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "../kernels/nn/adam.h"
#include "../kernels/nn/standardize.h"
#include "../kernels/random/samplers.h"
#include "optimizer_step.h"
#include "runtime.h"

namespace sbi_native {
namespace training {

struct Config {
  int64_t batch_size = 200;
  double learning_rate = 5e-4;
  double validation_fraction = 0.1;
  int64_t stop_after_epochs = 20;
  double clip_max_norm = 5.0;
  int64_t max_epochs = (int64_t{1} << 31) - 1;
  int threads = 0;  // <= 0: the pool's default
};

struct Epoch {
  int64_t epoch;  // 1, 2, ...
  double train_loss, validation_loss;
};

struct Result {
  std::vector<float> params;  // the best epoch's
  std::vector<double> train_loss, validation_loss;  // per epoch
  int64_t best_epoch = 0;
  double best_validation_loss = 0.0;
  bool cancelled = false;
};

inline int64_t ValidationRows(int64_t n, double fraction) {
  return static_cast<int64_t>(std::floor(fraction * static_cast<double>(n)));
}

inline bool Cancelled(const int32_t* flag) { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; }

// Runs chunk(k, grad_k) for k in [0, chunks) on the pool, each writing its own gradient
// buffer grads[k] (resized to p) and returning its loss, then sums losses and gradients in
// chunk order into `grad`: the result does not depend on the thread count.
template <class F>
double SumChunkGradients(int64_t chunks, int64_t p, int threads, std::vector<std::vector<float>>& grads, float* grad,
                         F&& chunk) {
  if (static_cast<int64_t>(grads.size()) < chunks) grads.resize(chunks);
  for (int64_t k = 0; k < chunks; ++k) grads[k].resize(p);
  std::vector<double> losses(chunks);
  ParallelFor(chunks, 1, threads, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) losses[k] = chunk(k, grads[k].data());
  });
  std::copy(grads[0].begin(), grads[0].end(), grad);
  double loss = losses[0];
  for (int64_t k = 1; k < chunks; ++k) {
    loss += losses[k];
    for (int64_t j = 0; j < p; ++j) grad[j] += grads[k][j];
  }
  return loss;
}

template <class Model>
Result Train(Model& model, const Config& c, int64_t n, uint64_t seed, const int32_t* cancel,
             const std::function<void(const Epoch&)>& on_epoch) {
  Result result;
  const int64_t p = model.ParamCount();
  const int64_t n_val = ValidationRows(n, c.validation_fraction), n_train = n - n_val;
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  sbi::PhiloxStream split_rng(seed, 0);
  sbi::shuffle(split_rng, perm.data(), n);
  model.Prepare(std::vector<int64_t>(perm.begin(), perm.begin() + n_train),
                std::vector<int64_t>(perm.begin() + n_train, perm.end()), seed);

  std::vector<float> params(p), grad(p), m(p, 0.0f), v(p, 0.0f);
  model.InitialParams(params.data());
  result.params = params;
  std::vector<int64_t> order(n_train);
  for (int64_t i = 0; i < n_train; ++i) order[i] = i;
  sbi::PhiloxStream shuffle_rng(seed, 1), batch_rng(seed, 2);
  sbi::nn::AdamConfig adam;
  adam.lr = c.learning_rate;
  const int64_t batch = std::min(c.batch_size, n_train);
  result.best_validation_loss = std::numeric_limits<double>::infinity();
  int64_t since_best = 0, step = 0;
  for (int64_t epoch = 1; epoch <= c.max_epochs; ++epoch) {
    sbi::shuffle(shuffle_rng, order.data(), n_train);
    double loss_sum = 0.0;
    int64_t rows_seen = 0;
    for (int64_t start = 0; start < n_train; start += batch) {
      const int64_t nb = std::min(batch, n_train - start);
      if (nb < model.MinBatchRows()) break;
      if (Cancelled(cancel)) {
        result.cancelled = true;
        return result;
      }
      loss_sum += model.LossAndGrad(params.data(), order.data() + start, nb, batch_rng, grad.data()) *
                  static_cast<double>(nb);
      rows_seen += nb;
      OptimizerStep(adam, ++step, p, nullptr, 0, c.clip_max_norm, params.data(), grad.data(), m.data(), v.data(),
                    c.threads);
    }
    const Epoch losses{epoch, loss_sum / static_cast<double>(rows_seen), model.ValidationLoss(params.data())};
    result.train_loss.push_back(losses.train_loss);
    result.validation_loss.push_back(losses.validation_loss);
    // A NaN validation loss never counts as an improvement.
    if (losses.validation_loss < result.best_validation_loss) {
      result.best_validation_loss = losses.validation_loss;
      result.best_epoch = epoch;
      result.params = params;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (on_epoch) on_epoch(losses);
    if (since_best >= c.stop_after_epochs) break;
  }
  return result;
}

// z-scoring of the training data (sbi's: column mean and std of the training rows, std floored).
constexpr double kZScoreMinStd = 1e-14;

// Column mean and std of the rows `rows` of a [*, dim] matrix, in double.
inline void FitColumns(const double* a, int64_t dim, const std::vector<int64_t>& rows, std::vector<double>& mean,
                       std::vector<double>& std_dev) {
  std::vector<double> gathered(rows.size() * dim);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t j = 0; j < dim; ++j) gathered[r * dim + j] = a[rows[r] * dim + j];
  mean.assign(dim, 0.0);
  std_dev.assign(dim, 0.0);
  sbi::nn::standardize_fit<double>(static_cast<int64_t>(rows.size()), dim, gathered.data(), kZScoreMinStd, mean.data(),
                                   std_dev.data());
}

// The rows `rows` of a [*, dim] matrix, z-scored with (mean, std_dev), as float rows.
inline std::vector<float> ZScoreRows(const double* a, int64_t dim, const std::vector<int64_t>& rows,
                                     const std::vector<double>& mean, const std::vector<double>& std_dev) {
  std::vector<float> out(rows.size() * dim);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t j = 0; j < dim; ++j) out[r * dim + j] = static_cast<float>((a[rows[r] * dim + j] - mean[j]) / std_dev[j]);
  return out;
}

}  // namespace training
}  // namespace sbi_native
