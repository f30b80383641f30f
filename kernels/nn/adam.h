// Adam and AdamW over a flat parameter vector, and global-norm gradient clipping.
// Kingma & Ba, "Adam" (arXiv:1412.6980); Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization" (arXiv:1711.05101). The update of torch.optim.Adam / AdamW, bias corrections
// arranged as torch arranges them:
//   Adam  (L2):     g ← g + λθ
//   AdamW (decoupled): θ ← θ (1 - lr λ)
//   m ← β1 m + (1 - β1) g,   v ← β2 v + (1 - β2) g²
//   θ ← θ - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + ε),   t = 1, 2, ...
// θ, g, m, v [P], caller-owned; m and v start at 0. g is not modified.
#pragma once
#include "../common/portable.h"

namespace sbi {
namespace nn {

struct AdamConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // true: AdamW
};

template <class T>
SBI_HD void adam_step(const AdamConfig& c, int64_t step, int64_t p, T* theta, const T* grad, T* m, T* v) {
  const T b1 = T(c.beta1), b2 = T(c.beta2), lr = T(c.lr), wd = T(c.weight_decay), eps = T(c.eps);
  const T bias1 = T(1) - T(std::pow(c.beta1, double(step)));
  const T bias2_sqrt = T(std::sqrt(1.0 - std::pow(c.beta2, double(step))));
  const T step_size = lr / bias1;
  const T decay = T(1) - lr * wd;
  for (int64_t i = 0; i < p; ++i) {
    T g = grad[i];
    if (c.decoupled) theta[i] *= decay;
    else g += wd * theta[i];
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    theta[i] -= step_size * (m[i] / (std::sqrt(v[i]) / bias2_sqrt + eps));
  }
}

// Σᵢ g_i² in double, in index order, added to `sq`: clip_grad_norm's sum (a caller may run it
// block by block, passing each block's result on, for the same bits).
template <class T>
SBI_HD double grad_sq_sum(int64_t p, const T* grad, double sq) {
  for (int64_t i = 0; i < p; ++i) sq += double(grad[i]) * double(grad[i]);
  return sq;
}

// The factor clip_grad_norm scales a gradient of norm `norm` by: max_norm / norm when
// norm > max_norm, else 1 (nothing to scale; a NaN norm scales nothing either).
template <class T>
SBI_HD T clip_scale(double norm, double max_norm) {
  return norm > max_norm ? T(max_norm / norm) : T(1);
}

// Scales g by max_norm / ‖g‖₂ when ‖g‖₂ > max_norm (sbi clips at 5.0); returns ‖g‖₂ before
// clipping. The squares are summed in double so float gradients neither overflow nor lose the
// small components.
template <class T>
SBI_HD double clip_grad_norm(int64_t p, T* grad, double max_norm) {
  const double norm = std::sqrt(grad_sq_sum(p, grad, 0.0));
  if (norm > max_norm) {
    const T scale = clip_scale<T>(norm, max_norm);
    for (int64_t i = 0; i < p; ++i) grad[i] *= scale;
  }
  return norm;
}

}  // namespace nn
}  // namespace sbi
