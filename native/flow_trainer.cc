#include "flow_trainer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../kernels/nn/adam.h"
#include "../kernels/nn/standardize.h"
#include "../kernels/random/samplers.h"
#include "flow_spec.h"
#include "optimizer_step.h"
#include "runtime.h"

namespace sbi_native {
namespace {

constexpr int64_t kTrainChunkRows = 50;  // rows per gradient chunk (a 200-row batch: 4 chunks)
constexpr int64_t kEvalChunkRows = 256;  // rows per validation log-prob chunk
constexpr double kMinStd = 1e-14;        // sbi's floor for z-scoring

bool Cancelled(const int32_t* flag) { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; }

// Column mean and std of the rows `rows` of a [*, dim] float matrix, in double.
void FitStandardizer(const float* a, int64_t dim, const std::vector<int64_t>& rows, std::vector<double>& mean,
                     std::vector<double>& std_dev) {
  std::vector<double> gathered(rows.size() * dim);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t j = 0; j < dim; ++j) gathered[r * dim + j] = a[rows[r] * dim + j];
  mean.assign(dim, 0.0);
  std_dev.assign(dim, 0.0);
  if (dim > 0)
    sbi::nn::standardize_fit<double>(static_cast<int64_t>(rows.size()), dim, gathered.data(), kMinStd, mean.data(),
                                     std_dev.data());
}

// Rows `rows` of a [*, dim] matrix, z-scored, into out [rows.size(), dim].
void Standardize(const float* a, int64_t dim, const std::vector<int64_t>& rows, const std::vector<double>& mean,
                 const std::vector<double>& std_dev, std::vector<float>& out) {
  out.resize(rows.size() * dim);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t j = 0; j < dim; ++j)
      out[r * dim + j] = static_cast<float>((a[rows[r] * dim + j] - mean[j]) / std_dev[j]);
}

// One batch's gradient chunks [b, e) and one wave of validation chunks: the training hot loop,
// compiled for the scalar / AVX2 / AVX-512 paths (runtime.h) so the dense tiles and
// activations use the widest registers. Bit-identical on every path (-ffp-contract=off).
template <class E>
struct ChunkArgs {
  const sbi::MafShape* s;
  const E* e;
  const float* params;
  const uint8_t* mask;
  const float* theta;
  const float* x;
  int64_t rows_total;   // nb (gradient) or n (evaluation)
  int64_t chunk_rows;   // kTrainChunkRows or kEvalChunkRows
  int64_t first_chunk;  // evaluation: the wave's first chunk
  float scale;
  std::vector<std::vector<float>>* grads;
  std::vector<std::vector<float>>* work;
  std::vector<std::vector<float>>* log_prob;
  float* losses;   // gradient: per chunk
  double* sums;    // evaluation: per chunk
  const sbi::MafEmbedding* em;  // null: x is the context
  int64_t x_stride;             // C, or the embedding's input width
  int64_t flow_params;          // P: the embedding's parameters start there
  std::vector<std::vector<float>>* ework;
};

template <class E>
inline void GradChunkRange(const ChunkArgs<E>& a, int64_t b, int64_t e) {
  const int D = a.s->made.dim, C = a.s->made.context;
  for (int64_t k = b; k < e; ++k) {
    const int64_t r0 = k * a.chunk_rows, rows = std::min(a.chunk_rows, a.rows_total - r0);
    if (a.em) {
      float* g = (*a.grads)[k].data();
      a.losses[k] = sbi::maf_embedded_nll_backward(*a.s, *a.e, *a.em, rows, a.params, a.mask, a.params + a.flow_params,
                                                   a.theta + r0 * D, a.x + r0 * a.x_stride, a.scale, g,
                                                   g + a.flow_params, (*a.log_prob)[k].data(), (*a.work)[k].data(),
                                                   (*a.ework)[k].data());
      continue;
    }
    a.losses[k] = sbi::maf_nll_backward(*a.s, *a.e, rows, a.params, a.mask, a.theta + r0 * D,
                                        C > 0 ? a.x + r0 * C : nullptr, C, a.scale, (*a.grads)[k].data(),
                                        static_cast<float*>(nullptr), static_cast<float*>(nullptr),
                                        (*a.log_prob)[k].data(), (*a.work)[k].data());
  }
}

template <class E>
inline void EvalChunkRange(const ChunkArgs<E>& a, int64_t b, int64_t e) {
  const int D = a.s->made.dim, C = a.s->made.context;
  for (int64_t i = b; i < e; ++i) {
    const int64_t k = a.first_chunk + i, r0 = k * a.chunk_rows, rows = std::min(a.chunk_rows, a.rows_total - r0);
    float* lp = (*a.log_prob)[i].data();
    if (a.em)
      sbi::maf_embedded_log_prob(*a.s, *a.e, *a.em, rows, a.params, a.params + a.flow_params, a.theta + r0 * D,
                                 a.x + r0 * a.x_stride, lp, (*a.work)[i].data(), (*a.ework)[i].data());
    else
      sbi::maf_log_prob(*a.s, *a.e, rows, a.params, a.theta + r0 * D, C > 0 ? a.x + r0 * C : nullptr, C, lp,
                      static_cast<float*>(nullptr), (*a.work)[i].data());
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum -= lp[r];
    a.sums[k] = sum;
  }
}

using AffineArgs = ChunkArgs<sbi::AffineElement<float>>;
using SplineArgs = ChunkArgs<sbi::RqSplineElement<float>>;
SBI_MULTIVERSION(AffineGrad, AffineArgs, GradChunkRange)
SBI_MULTIVERSION(SplineGrad, SplineArgs, GradChunkRange)
SBI_MULTIVERSION(AffineEval, AffineArgs, EvalChunkRange)
SBI_MULTIVERSION(SplineEval, SplineArgs, EvalChunkRange)

template <class E>
struct ChunkKernels;
template <>
struct ChunkKernels<sbi::AffineElement<float>> {
  using Fn = void (*)(const AffineArgs&, int64_t, int64_t);
  static Fn grad() {
    static const Fn kTable[3] = SBI_MULTIVERSION_TABLE(AffineGrad);
    return kTable[static_cast<int>(ActiveIsa())];
  }
  static Fn eval() {
    static const Fn kTable[3] = SBI_MULTIVERSION_TABLE(AffineEval);
    return kTable[static_cast<int>(ActiveIsa())];
  }
};
template <>
struct ChunkKernels<sbi::RqSplineElement<float>> {
  using Fn = void (*)(const SplineArgs&, int64_t, int64_t);
  static Fn grad() {
    static const Fn kTable[3] = SBI_MULTIVERSION_TABLE(SplineGrad);
    return kTable[static_cast<int>(ActiveIsa())];
  }
  static Fn eval() {
    static const Fn kTable[3] = SBI_MULTIVERSION_TABLE(SplineEval);
    return kTable[static_cast<int>(ActiveIsa())];
  }
};

template <class E>
class Trainer {
 public:
  Trainer(const sbi::MafShape& s, const E& e, const uint8_t* mask, const FlowTrainConfig& c)
      : s_(s), e_(e), mask_(mask), c_(c), flow_P_(sbi::maf_param_count(s)),
        em_{sbi::nn::Activation::ReLU, static_cast<int>(c.embed_sizes.size()) - 1, c.embed_sizes.data()},
        embedded_(!c.embed_sizes.empty()),
        P_(flow_P_ + (embedded_ ? sbi::nn::mlp_param_count(em_.layers, em_.sizes) : 0)),
        x_stride_(embedded_ ? c.embed_sizes[0] : s.made.context) {
    const int64_t batch = c.batch_size;
    const int64_t chunks = (batch + kTrainChunkRows - 1) / kTrainChunkRows;
    grads_.assign(chunks, std::vector<float>(P_));
    for (const auto& g : grads_) grad_ptrs_.push_back(g.data());
    work_.assign(std::max<int64_t>(chunks, 1),
                 std::vector<float>(sbi::maf_workspace_size(s, std::max(kTrainChunkRows, kEvalChunkRows))));
    log_prob_.assign(work_.size(), std::vector<float>(std::max(kTrainChunkRows, kEvalChunkRows)));
    losses_.resize(chunks);
    if (embedded_)
      ework_.assign(work_.size(),
                    std::vector<float>(sbi::maf_embedding_work_size(em_, std::max(kTrainChunkRows, kEvalChunkRows))));
  }

  int64_t param_count() const { return P_; }

  // Batch-mean NLL of z-scored rows theta [nb, D], x [nb, C]; the gradient of chunk k (rows
  // [k kTrainChunkRows, ...)) into chunk_grads()[k] for k < chunks(nb), summed in chunk order by
  // the optimizer step (optimizer_step.h).
  double LossAndChunkGrads(int64_t nb, const float* theta, const float* x) {
    const int64_t chunks = Trainer::chunks(nb);
    const float scale = 1.0f / static_cast<float>(nb);
    const ChunkArgs<E> args{&s_, &e_, params_.data(), mask_, theta, x, nb, kTrainChunkRows, 0, scale,
                            &grads_, &work_, &log_prob_, losses_.data(), nullptr,
                            embedded_ ? &em_ : nullptr, x_stride_, flow_P_, &ework_};
    const auto kernel = ChunkKernels<E>::grad();
    ParallelFor(chunks, 1, c_.threads, [&](int64_t b, int64_t e) { kernel(args, b, e); });
    double loss = 0.0;
    for (int64_t k = 0; k < chunks; ++k) loss += losses_[k];
    return loss;
  }
  static int64_t chunks(int64_t nb) { return (nb + kTrainChunkRows - 1) / kTrainChunkRows; }
  const float* const* chunk_grads() const { return grad_ptrs_.data(); }

  // Mean NLL of z-scored rows (fixed chunks, summed in order).
  double MeanNll(int64_t n, const float* theta, const float* x) {
    const int64_t chunks = (n + kEvalChunkRows - 1) / kEvalChunkRows;
    std::vector<double> sums(chunks);
    const int64_t slots = static_cast<int64_t>(work_.size());
    // Chunks run in waves of `slots` (one workspace each), so the order of the sums stays fixed.
    for (int64_t w0 = 0; w0 < chunks; w0 += slots) {
      const int64_t wn = std::min(slots, chunks - w0);
      const ChunkArgs<E> args{&s_, &e_, params_.data(), mask_, theta, x, n, kEvalChunkRows, w0, 1.0f,
                              nullptr, &work_, &log_prob_, nullptr, sums.data(),
                              embedded_ ? &em_ : nullptr, x_stride_, flow_P_, &ework_};
      const auto kernel = ChunkKernels<E>::eval();
      ParallelFor(wn, 1, c_.threads, [&](int64_t b, int64_t e) { kernel(args, b, e); });
    }
    double total = 0.0;
    for (double v : sums) total += v;
    return total / static_cast<double>(n);
  }

  std::vector<float> params_;

 private:
  const sbi::MafShape& s_;
  const E& e_;
  const uint8_t* mask_;
  const FlowTrainConfig& c_;
  const int64_t flow_P_;
  const sbi::MafEmbedding em_;
  const bool embedded_;
  const int64_t P_;  // the flow's and the embedding's
  const int64_t x_stride_;
  std::vector<std::vector<float>> grads_, work_, log_prob_, ework_;
  std::vector<const float*> grad_ptrs_;  // grads_[k].data()
  std::vector<float> losses_;
};

template <class E>
FlowTrainResult Train(const sbi::MafShape& s, const E& e, const uint8_t* mask, const FlowTrainConfig& c, int64_t n,
                      const float* theta, const float* x, const float* init_params, uint64_t seed,
                      const int32_t* cancel, const std::function<void(const EpochLosses&)>& on_epoch) {
  const int D = s.made.dim;
  const int64_t C = c.embed_sizes.empty() ? s.made.context : c.embed_sizes[0];  // x's width
  FlowTrainResult result;
  // Split: the first n_train rows of a random permutation train, the rest validate.
  const int64_t n_val = ValidationRows(n, c.validation_fraction), n_train = n - n_val;
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  sbi::PhiloxStream split_rng(seed, 0);
  sbi::shuffle(split_rng, perm.data(), n);
  const std::vector<int64_t> train_rows(perm.begin(), perm.begin() + n_train), val_rows(perm.begin() + n_train, perm.end());
  FitStandardizer(theta, D, train_rows, result.theta_mean, result.theta_std);
  FitStandardizer(x, C, train_rows, result.x_mean, result.x_std);
  double log_std_sum = 0.0;  // the Jacobian of z-scoring θ: log q(θ | x) = log q_z − Σ log std
  for (int d = 0; d < D; ++d) log_std_sum += std::log(result.theta_std[d]);
  std::vector<float> train_theta, train_x, val_theta, val_x;
  Standardize(theta, D, train_rows, result.theta_mean, result.theta_std, train_theta);
  Standardize(x, C, train_rows, result.x_mean, result.x_std, train_x);
  Standardize(theta, D, val_rows, result.theta_mean, result.theta_std, val_theta);
  Standardize(x, C, val_rows, result.x_mean, result.x_std, val_x);

  const int64_t batch = std::min(c.batch_size, n_train);
  Trainer<E> trainer(s, e, mask, c);
  const int64_t P = trainer.param_count();
  trainer.params_.assign(init_params, init_params + P);
  result.params = trainer.params_;
  std::vector<float> grad(P), m(P, 0.0f), v(P, 0.0f), batch_theta(batch * D), batch_x(batch * C);
  std::vector<int64_t> order(n_train);
  for (int64_t i = 0; i < n_train; ++i) order[i] = i;
  sbi::PhiloxStream shuffle_rng(seed, 1);
  sbi::nn::AdamConfig adam;
  adam.lr = c.learning_rate;
  result.best_validation_loss = std::numeric_limits<double>::infinity();
  int64_t since_best = 0, step = 0;
  for (int64_t epoch = 1; epoch <= c.max_epochs; ++epoch) {
    sbi::shuffle(shuffle_rng, order.data(), n_train);
    double loss_sum = 0.0;
    for (int64_t start = 0; start < n_train; start += batch) {
      if (Cancelled(cancel)) {
        result.cancelled = true;
        return result;
      }
      const int64_t nb = std::min(batch, n_train - start);
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t i = order[start + r];
        std::copy(&train_theta[i * D], &train_theta[i * D] + D, &batch_theta[r * D]);
        if (C > 0) std::copy(&train_x[i * C], &train_x[i * C] + C, &batch_x[r * C]);
      }
      loss_sum += trainer.LossAndChunkGrads(nb, batch_theta.data(), batch_x.data()) * static_cast<double>(nb);
      training::OptimizerStep(adam, ++step, P, trainer.chunk_grads(), Trainer<E>::chunks(nb), c.clip_max_norm,
                              trainer.params_.data(), grad.data(), m.data(), v.data(), c.threads);
    }
    const EpochLosses losses{epoch, loss_sum / static_cast<double>(n_train) + log_std_sum,
                             trainer.MeanNll(n_val, val_theta.data(), val_x.data()) + log_std_sum};
    result.train_loss.push_back(losses.train_loss);
    result.validation_loss.push_back(losses.validation_loss);
    // A NaN validation loss never counts as an improvement.
    if (losses.validation_loss < result.best_validation_loss) {
      result.best_validation_loss = losses.validation_loss;
      result.best_epoch = epoch;
      result.params = trainer.params_;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (on_epoch) on_epoch(losses);
    if (since_best >= c.stop_after_epochs) break;
  }
  return result;
}

}  // namespace

int64_t ValidationRows(int64_t n, double fraction) {
  return static_cast<int64_t>(std::floor(fraction * static_cast<double>(n)));
}

FlowTrainResult TrainFlow(const sbi::MafShape& shape, const TransformSpec& transform, const uint8_t* made_mask,
                          const FlowTrainConfig& config, int64_t n, const float* theta, const float* x,
                          const float* init_params, uint64_t seed, const int32_t* cancel,
                          const std::function<void(const EpochLosses&)>& on_epoch) {
  if (transform.kind == Transform::Affine) {
    const sbi::AffineElement<float> e{static_cast<float>(transform.scale_bound)};
    return Train(shape, e, made_mask, config, n, theta, x, init_params, seed, cancel, on_epoch);
  }
  const sbi::RqSplineElement<float> e{SplineConfig<float>(transform)};
  return Train(shape, e, made_mask, config, n, theta, x, init_params, seed, cancel, on_epoch);
}

}  // namespace sbi_native
