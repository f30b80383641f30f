#include "ratio_trainer.h"
#include "nn_dispatch.h"

#include <algorithm>
#include <cmath>

#include "../kernels/nn/ratio_embedding.h"
#include "../kernels/nn/standardize.h"
#include "../kernels/random/samplers.h"

namespace sbi_native {
namespace {

constexpr int64_t kPairChunk = 128;  // classifier rows per forward / backward chunk
constexpr int64_t kEmbedChunk = 64;  // x rows per embedding forward / backward chunk

// Fills out[0..count) with distinct batch positions in [0, nb) other than `self`.
void DrawContrasts(sbi::PhiloxStream& rng, int64_t nb, int64_t self, int count, int64_t* out) {
  for (int k = 0; k < count;) {
    int64_t j = sbi::sample_index(rng, nb - 1);
    if (j >= self) ++j;
    bool seen = false;
    for (int q = 0; q < k && !seen; ++q) seen = out[q] == j;
    if (!seen) out[k++] = j;
  }
}

class RatioModel {
 public:
  RatioModel(const RatioNetShape& s, const sbi::nn::RatioLossConfig& loss, const training::Config& c, const double* theta,
             const double* x, const float* initial_embedding)
      : s_(s), net_(ResNetOf(s)), loss_(loss), c_(c), theta_(theta), x_(x), initial_embedding_(initial_embedding),
        per_row_(sbi::nn::ratio_logits_per_row(loss)), embedded_(!s.embed_sizes.empty()),
        layers_(embedded_ ? static_cast<int>(s.embed_sizes.size()) - 1 : 0),
        feat_dim_(embedded_ ? s.embed_sizes.back() : s.x_dim), net_params_(sbi::nn::resnet_param_count(net_)),
        embed_params_(EmbeddingParamCount(s)) {}

  int64_t ParamCount() const { return net_params_ + embed_params_; }
  int64_t MinBatchRows() const { return RatioMinBatchRows(loss_); }

  void Prepare(const std::vector<int64_t>& train_rows, const std::vector<int64_t>& val_rows, uint64_t seed) {
    seed_ = seed;
    training::FitColumns(theta_, s_.theta_dim, train_rows, stats.theta_mean, stats.theta_std);
    training::FitColumns(x_, s_.x_dim, train_rows, stats.x_mean, stats.x_std);
    train_theta_ = training::ZScoreRows(theta_, s_.theta_dim, train_rows, stats.theta_mean, stats.theta_std);
    train_x_ = training::ZScoreRows(x_, s_.x_dim, train_rows, stats.x_mean, stats.x_std);
    val_theta_ = training::ZScoreRows(theta_, s_.theta_dim, val_rows, stats.theta_mean, stats.theta_std);
    val_x_ = training::ZScoreRows(x_, s_.x_dim, val_rows, stats.x_mean, stats.x_std);
    n_val_ = static_cast<int64_t>(val_rows.size());
  }

  void InitialParams(float* params) {
    sbi::PhiloxStream rng(seed_, 4);
    const int64_t H = net_.hidden;
    float* p = params;
    const auto fill = [&rng, &p](int64_t count, double bound) {
      for (int64_t i = 0; i < count; ++i) *p++ = static_cast<float>(bound * (2.0 * rng.uniform() - 1.0));
    };
    const double in_bound = 1.0 / std::sqrt(static_cast<double>(net_.in)), h_bound = 1.0 / std::sqrt(double(H));
    fill(H * (net_.in + 1), in_bound);
    for (int b = 0; b < net_.blocks; ++b) {
      fill(H * (H + 1), h_bound);
      fill(H * (H + 1), 1e-3);
    }
    fill(net_.out * (H + 1), h_bound);
    if (embedded_) std::copy(initial_embedding_, initial_embedding_ + embed_params_, params + net_params_);
  }

  double LossAndGrad(const float* params, const int64_t* rows, int64_t nb, sbi::PhiloxStream& rng, float* grad) {
    return BatchLoss(params, train_theta_.data(), train_x_.data(), rows, nb, rng, grad);
  }

  double ValidationLoss(const float* params) {
    sbi::PhiloxStream rng(seed_, 3);
    const int64_t batch = std::max(c_.batch_size, MinBatchRows());
    std::vector<int64_t> rows(n_val_);
    for (int64_t i = 0; i < n_val_; ++i) rows[i] = i;
    double sum = 0.0;
    for (int64_t start = 0; start < n_val_;) {
      int64_t nb = std::min(batch, n_val_ - start);
      if (n_val_ - start - nb < MinBatchRows()) nb = n_val_ - start;  // a small remainder joins this batch
      sum += BatchLoss(params, val_theta_.data(), val_x_.data(), rows.data() + start, nb, rng, nullptr) *
             static_cast<double>(nb);
      start += nb;
    }
    return sum / static_cast<double>(n_val_);
  }

  RatioStats stats;

 private:
  // Loss of rows rows[0..nb) of the z-scored zt / zx (and its gradient if grad is not null).
  // Pair p = r·A + a scores x row r of the batch against θ row pair_theta_[p] (a = 0: its own).
  double BatchLoss(const float* params, const float* zt, const float* zx, const int64_t* rows, int64_t nb,
                   sbi::PhiloxStream& rng, float* grad) {
    const int A = per_row_, D = s_.theta_dim, C = s_.x_dim;
    const int64_t pairs = nb * A;
    pair_theta_.resize(pairs);
    pair_x_.resize(pairs);
    int64_t partners[2 * sbi::nn::kRatioMaxClasses];
    const int first = loss_.kind == sbi::nn::RatioLoss::C ? loss_.classes - 1 : A - 1;
    const int second = loss_.kind == sbi::nn::RatioLoss::C ? loss_.classes : 0;
    for (int64_t r = 0; r < nb; ++r) {
      DrawContrasts(rng, nb, r, first, partners);
      DrawContrasts(rng, nb, r, second, partners + first);
      int64_t* pt = &pair_theta_[r * A];
      pt[0] = rows[r];
      for (int k = 0; k < first + second; ++k) pt[1 + k] = rows[partners[k]];
      for (int a = 0; a < A; ++a) pair_x_[r * A + a] = r;
    }
    batch_x_.resize(nb * C);
    for (int64_t r = 0; r < nb; ++r) std::copy(zx + rows[r] * C, zx + (rows[r] + 1) * C, &batch_x_[r * C]);
    const float* feat = embedded_ ? Embed(params + net_params_, nb) : batch_x_.data();
    const int64_t chunks = (pairs + kPairChunk - 1) / kPairChunk;
    if (static_cast<int64_t>(input_.size()) < chunks) {
      input_.resize(chunks);
      d_input_.resize(chunks);
      saved_.resize(chunks);
      scratch_.resize(chunks);
    }
    logits_.resize(pairs);
    dlogits_.resize(pairs);
    const int64_t in = net_.in;
    ParallelFor(chunks, 1, c_.threads, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t p0 = k * kPairChunk, m = std::min(kPairChunk, pairs - p0);
        input_[k].resize(kPairChunk * in);
        saved_[k].resize(sbi::nn::resnet_saved_size(net_, kPairChunk));
        sbi::nn::ratio_gather_pairs<float>(D, feat_dim_, m, zt, &pair_theta_[p0], feat, &pair_x_[p0], input_[k].data());
        ResNetForward(net_, m, params, input_[k].data(), saved_[k].data(), &logits_[p0]);
      }
    });
    const double loss = sbi::nn::ratio_loss<float>(loss_, nb, logits_.data(), grad ? dlogits_.data() : nullptr);
    if (!grad) return loss;
    training::SumChunkGradients(chunks, net_params_, c_.threads, grads_, grad, [&](int64_t k, float* g) {
      const int64_t p0 = k * kPairChunk, m = std::min(kPairChunk, pairs - p0);
      scratch_[k].resize(sbi::nn::resnet_scratch_size(net_, kPairChunk));
      float* d_input = nullptr;
      if (embedded_) {
        d_input_[k].resize(kPairChunk * in);
        d_input = d_input_[k].data();
      }
      ResNetBackward(net_, m, params, input_[k].data(), saved_[k].data(), &dlogits_[p0], g, scratch_[k].data(), d_input);
      return 0.0;
    });
    if (embedded_) EmbeddingBackward(params + net_params_, nb, chunks, pairs, grad + net_params_);
    return loss;
  }

  // e_φ of the batch's x rows (batch_x_ [nb, C]) into feat_ [nb, E], in chunks of x rows on the pool.
  const float* Embed(const float* eparams, int64_t nb) {
    const int64_t C = s_.x_dim, E = feat_dim_, chunks = (nb + kEmbedChunk - 1) / kEmbedChunk;
    if (static_cast<int64_t>(esaved_.size()) < chunks) {
      esaved_.resize(chunks);
      escratch_.resize(chunks);
    }
    feat_.resize(nb * E);
    const sbi::nn::Activation relu = sbi::nn::Activation::ReLU;
    ParallelFor(chunks, 1, c_.threads, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t r0 = k * kEmbedChunk, m = std::min(kEmbedChunk, nb - r0);
        esaved_[k].resize(sbi::nn::mlp_saved_size(relu, layers_, s_.embed_sizes.data(), kEmbedChunk));
        const float* out = MlpForward(relu, layers_, s_.embed_sizes.data(), m, &batch_x_[r0 * C], eparams, esaved_[k].data());
        std::copy(out, out + m * E, &feat_[r0 * E]);
      }
    });
    return feat_.data();
  }

  // The embedding's gradient egrad [embed_params_] (overwritten): the classifier's input gradient
  // of every pair summed onto its x row (in pair order), then back through the MLP by x-row chunks.
  void EmbeddingBackward(const float* eparams, int64_t nb, int64_t pair_chunks, int64_t pairs, float* egrad) {
    const int64_t C = s_.x_dim, E = feat_dim_, chunks = (nb + kEmbedChunk - 1) / kEmbedChunk;
    d_feat_.assign(nb * E, 0.0f);
    for (int64_t k = 0; k < pair_chunks; ++k) {
      const int64_t p0 = k * kPairChunk, m = std::min(kPairChunk, pairs - p0);
      sbi::nn::ratio_scatter_feature_grad<float>(s_.theta_dim, E, m, d_input_[k].data(), &pair_x_[p0], d_feat_.data());
    }
    const sbi::nn::Activation relu = sbi::nn::Activation::ReLU;
    training::SumChunkGradients(chunks, embed_params_, c_.threads, egrads_, egrad, [&](int64_t k, float* g) {
      const int64_t r0 = k * kEmbedChunk, m = std::min(kEmbedChunk, nb - r0);
      escratch_[k].resize(sbi::nn::mlp_scratch_size(layers_, s_.embed_sizes.data(), kEmbedChunk));
      MlpBackward(relu, layers_, s_.embed_sizes.data(), m, &batch_x_[r0 * C], eparams, esaved_[k].data(), &d_feat_[r0 * E],
                  g, escratch_[k].data());
      return 0.0;
    });
  }

  const RatioNetShape s_;
  const sbi::nn::ResNetShape net_;
  const sbi::nn::RatioLossConfig loss_;
  const training::Config& c_;
  const double* theta_;
  const double* x_;
  const float* initial_embedding_;
  const int per_row_;
  const bool embedded_;
  const int layers_;           // the embedding's dense layers
  const int64_t feat_dim_;     // the classifier's x features: E with an embedding, else C
  const int64_t net_params_, embed_params_;
  uint64_t seed_ = 0;
  int64_t n_val_ = 0;
  std::vector<float> train_theta_, train_x_, val_theta_, val_x_, logits_, dlogits_, batch_x_, feat_, d_feat_;
  std::vector<int64_t> pair_theta_, pair_x_;
  std::vector<std::vector<float>> input_, d_input_, saved_, scratch_, grads_, esaved_, escratch_, egrads_;
};

}  // namespace

sbi::nn::ResNetShape ResNetOf(const RatioNetShape& s) {
  const int64_t features = s.embed_sizes.empty() ? s.x_dim : s.embed_sizes.back();
  return sbi::nn::ResNetShape{s.theta_dim + features, s.hidden, 1, s.blocks, sbi::nn::Activation::ReLU};
}

int64_t EmbeddingParamCount(const RatioNetShape& s) {
  if (s.embed_sizes.empty()) return 0;
  return sbi::nn::mlp_param_count(static_cast<int>(s.embed_sizes.size()) - 1, s.embed_sizes.data());
}

int64_t RatioMinBatchRows(const sbi::nn::RatioLossConfig& loss) { return sbi::nn::ratio_contrasts_per_set(loss) + 1; }

RatioTrainResult TrainRatio(const RatioNetShape& shape, const sbi::nn::RatioLossConfig& loss,
                            const training::Config& config, int64_t n, const double* theta, const double* x,
                            const float* initial_embedding, uint64_t seed, const int32_t* cancel,
                            const std::function<void(const training::Epoch&)>& on_epoch) {
  RatioModel model(shape, loss, config, theta, x, initial_embedding);
  RatioTrainResult r;
  r.fit = training::Train(model, config, n, seed, cancel, on_epoch);
  r.stats = model.stats;
  return r;
}

void RatioLogits(const RatioNetShape& shape, const float* params, const RatioStats& stats, int64_t begin, int64_t end,
                 const double* theta, const double* x, bool x_broadcast, double* out) {
  const sbi::nn::ResNetShape net = ResNetOf(shape);
  const int D = shape.theta_dim, C = shape.x_dim;
  const bool embedded = !shape.embed_sizes.empty();
  const int layers = embedded ? static_cast<int>(shape.embed_sizes.size()) - 1 : 0;
  const int64_t F = net.in - D;  // the classifier's x features
  const float* eparams = params + sbi::nn::resnet_param_count(net);
  const sbi::nn::Activation relu = sbi::nn::Activation::ReLU;
  const int64_t rows = std::min<int64_t>(kPairChunk, end - begin);
  const int64_t x_rows = x_broadcast ? 1 : rows;
  std::vector<float> input(rows * net.in), saved(sbi::nn::resnet_saved_size(net, rows)), logits(rows), zx(x_rows * C);
  std::vector<float> esaved(embedded ? sbi::nn::mlp_saved_size(relu, layers, shape.embed_sizes.data(), x_rows) : 0);
  // z(x) of m rows from x row `first` into zx, and their features (z(x) itself or its embedding).
  const auto features = [&](int64_t first, int64_t m) -> const float* {
    for (int64_t q = 0; q < m; ++q)
      sbi::nn::standardize_to_float(C, x + (first + q) * C, stats.x_mean.data(), stats.x_std.data(), &zx[q * C]);
    return embedded ? MlpForward(relu, layers, shape.embed_sizes.data(), m, zx.data(), eparams, esaved.data()) : zx.data();
  };
  const float* feat = x_broadcast ? features(0, 1) : nullptr;
  for (int64_t r0 = begin; r0 < end; r0 += rows) {
    const int64_t m = std::min(rows, end - r0);
    if (!x_broadcast) feat = features(r0, m);
    for (int64_t q = 0; q < m; ++q) {
      const double* t = theta + (r0 + q) * D;
      const float* f = x_broadcast ? feat : feat + q * F;
      float* row = &input[q * net.in];
      sbi::nn::standardize_to_float(D, t, stats.theta_mean.data(), stats.theta_std.data(), row);
      std::copy(f, f + F, row + D);
    }
    ResNetForward(net, m, params, input.data(), saved.data(), logits.data());
    for (int64_t q = 0; q < m; ++q) out[r0 + q] = logits[q];
  }
}

}  // namespace sbi_native
