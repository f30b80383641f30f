#include "mdn_trainer.h"

#include <algorithm>
#include <cmath>

#include "../kernels/nn/mlp.h"
#include "../kernels/nn/standardize.h"
#include "nn_dispatch.h"

namespace sbi_native {
namespace {

constexpr int64_t kMdnChunkRows = 50;  // rows per gradient / evaluation chunk (a 200-row batch: 4 chunks)
constexpr auto kAct = sbi::nn::Activation::ReLU;
constexpr double kMdnSmallInit = 1e-2;  // pyknos' ε: initial scale of the logit and precision-factor rows

// One chunk's buffers: gathered inputs, the MLP's saved activations, output gradients, scratch.
struct ChunkBuffers {
  std::vector<float> c, y, saved, dout, scratch, work;
};

class MdnModel {
 public:
  MdnModel(const MdnNetShape& s, const training::Config& c, const double* y, const double* context)
      : s_(s), sizes_(s.sizes()), c_(c), y_(y), context_(context) {}

  int64_t ParamCount() const { return s_.param_count(); }
  int64_t MinBatchRows() const { return 1; }

  void Prepare(const std::vector<int64_t>& train_rows, const std::vector<int64_t>& val_rows, uint64_t seed) {
    seed_ = seed;
    training::FitColumns(y_, s_.dim, train_rows, stats.y_mean, stats.y_std);
    training::FitColumns(context_, s_.context, train_rows, stats.c_mean, stats.c_std);
    train_y_ = training::ZScoreRows(y_, s_.dim, train_rows, stats.y_mean, stats.y_std);
    train_c_ = training::ZScoreRows(context_, s_.context, train_rows, stats.c_mean, stats.c_std);
    val_y_ = training::ZScoreRows(y_, s_.dim, val_rows, stats.y_mean, stats.y_std);
    val_c_ = training::ZScoreRows(context_, s_.context, val_rows, stats.c_mean, stats.c_std);
    n_val_ = static_cast<int64_t>(val_rows.size());
    log_std_sum_ = 0.0;
    for (double v : stats.y_std) log_std_sum_ += std::log(v);
  }

  void InitialParams(float* params) {
    sbi::PhiloxStream rng(seed_, 3);
    const int layers = static_cast<int>(sizes_.size()) - 1;
    const int D = s_.dim;
    const int64_t W = sbi::mdn_component_width(D);
    float* p = params;
    for (int l = 0; l < layers; ++l) {
      const int64_t in = sizes_[l], out = sizes_[l + 1];
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      const bool head = l + 1 == layers;
      // Output rows other than the means (logits, log-diagonal, off-diagonal) start near 0.
      const auto row_bound = [&](int64_t o) {
        const int64_t j = o % W;
        return !head || (j >= 1 && j <= D) ? bound : kMdnSmallInit;
      };
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) *p++ = static_cast<float>(row_bound(o) * (2.0 * rng.uniform() - 1.0));
      for (int64_t o = 0; o < out; ++o) *p++ = static_cast<float>(row_bound(o) * (2.0 * rng.uniform() - 1.0));
    }
  }

  double LossAndGrad(const float* params, const int64_t* rows, int64_t nb, sbi::PhiloxStream&, float* grad) {
    const int64_t chunks = (nb + kMdnChunkRows - 1) / kMdnChunkRows;
    Reserve(chunks);
    const float g = -1.0f / static_cast<float>(nb);
    const double loss = training::SumChunkGradients(chunks, ParamCount(), c_.threads, grads_, grad, [&](int64_t k, float* gk) {
      const int64_t r0 = k * kMdnChunkRows, m = std::min(kMdnChunkRows, nb - r0);
      ChunkBuffers& b = buffers_[k];
      Gather(train_c_.data(), train_y_.data(), rows + r0, m, b);
      const float* out = MdnConditioner(s_, m, params, b.c.data(), b.saved.data());
      const int64_t width = sbi::mdn_output_width(s_.head());
      double sum = 0.0;
      for (int64_t i = 0; i < m; ++i)
        sum -= sbi::mdn_row_backward(s_.head(), out + i * width, &b.y[i * s_.dim], g, &b.dout[i * width], b.work.data());
      MlpBackward(kAct, static_cast<int>(sizes_.size()) - 1, sizes_.data(), m, b.c.data(), params, b.saved.data(),
                  b.dout.data(), gk, b.scratch.data());
      return sum;
    });
    return loss / static_cast<double>(nb) + log_std_sum_;
  }

  double ValidationLoss(const float* params) {
    const int64_t chunks = (n_val_ + kMdnChunkRows - 1) / kMdnChunkRows;
    Reserve(std::min<int64_t>(chunks, 64));
    const int64_t slots = static_cast<int64_t>(buffers_.size());
    std::vector<double> sums(chunks);
    // Waves of `slots` chunks (one buffer each); the sums are added in chunk order.
    for (int64_t w0 = 0; w0 < chunks; w0 += slots) {
      const int64_t wn = std::min(slots, chunks - w0);
      ParallelFor(wn, 1, c_.threads, [&](int64_t b0, int64_t e0) {
        for (int64_t i = b0; i < e0; ++i) {
          const int64_t k = w0 + i, r0 = k * kMdnChunkRows, m = std::min(kMdnChunkRows, n_val_ - r0);
          ChunkBuffers& b = buffers_[i];
          const float* out = MdnConditioner(s_, m, params, val_c_.data() + r0 * s_.context, b.saved.data());
          const int64_t width = sbi::mdn_output_width(s_.head());
          double sum = 0.0;
          for (int64_t q = 0; q < m; ++q)
            sum -= sbi::mdn_row_log_prob(s_.head(), out + q * width, &val_y_[(r0 + q) * s_.dim], b.work.data());
          sums[k] = sum;
        }
      });
    }
    double total = 0.0;
    for (double v : sums) total += v;
    return total / static_cast<double>(n_val_) + log_std_sum_;
  }

  MdnStats stats;

 private:
  void Reserve(int64_t chunks) {
    if (static_cast<int64_t>(buffers_.size()) >= chunks) return;
    const int layers = static_cast<int>(sizes_.size()) - 1;
    const int64_t width = sbi::mdn_output_width(s_.head());
    buffers_.resize(chunks);
    for (ChunkBuffers& b : buffers_) {
      b.c.resize(kMdnChunkRows * s_.context);
      b.y.resize(kMdnChunkRows * s_.dim);
      b.saved.resize(sbi::nn::mlp_saved_size(kAct, layers, sizes_.data(), kMdnChunkRows));
      b.dout.resize(kMdnChunkRows * width);
      b.scratch.resize(sbi::nn::mlp_scratch_size(layers, sizes_.data(), kMdnChunkRows));
      b.work.resize(sbi::mdn_work_size(s_.head()));
    }
  }

  void Gather(const float* zc, const float* zy, const int64_t* rows, int64_t m, ChunkBuffers& b) const {
    const int C = s_.context, D = s_.dim;
    for (int64_t i = 0; i < m; ++i) {
      std::copy(zc + rows[i] * C, zc + (rows[i] + 1) * C, &b.c[i * C]);
      std::copy(zy + rows[i] * D, zy + (rows[i] + 1) * D, &b.y[i * D]);
    }
  }

  const MdnNetShape s_;
  const std::vector<int64_t> sizes_;
  const training::Config& c_;
  const double* y_;
  const double* context_;
  uint64_t seed_ = 0;
  int64_t n_val_ = 0;
  double log_std_sum_ = 0.0;
  std::vector<float> train_y_, train_c_, val_y_, val_c_;
  std::vector<ChunkBuffers> buffers_;
  std::vector<std::vector<float>> grads_;
};

}  // namespace

std::vector<int64_t> MdnNetShape::sizes() const {
  std::vector<int64_t> s{context};
  for (int l = 0; l < hidden_layers; ++l) s.push_back(hidden);
  s.push_back(sbi::mdn_output_width(head()));
  return s;
}

int64_t MdnNetShape::param_count() const {
  const std::vector<int64_t> s = sizes();
  return sbi::nn::mlp_param_count(static_cast<int>(s.size()) - 1, s.data());
}

MdnTrainResult TrainMdn(const MdnNetShape& shape, const training::Config& config, int64_t n, const double* y,
                        const double* context, uint64_t seed, const int32_t* cancel,
                        const std::function<void(const training::Epoch&)>& on_epoch) {
  MdnModel model(shape, config, y, context);
  MdnTrainResult r;
  r.fit = training::Train(model, config, n, seed, cancel, on_epoch);
  r.stats = model.stats;
  return r;
}

const float* MdnConditioner(const MdnNetShape& shape, int64_t n, const float* params, const float* c, float* saved) {
  const std::vector<int64_t> sizes = shape.sizes();
  return MlpForward(kAct, static_cast<int>(sizes.size()) - 1, sizes.data(), n, c, params, saved);
}

}  // namespace sbi_native
