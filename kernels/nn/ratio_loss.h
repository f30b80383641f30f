// Losses of neural ratio estimation on the logits f(θ, x) of a classifier, batch-mean value and
// gradient w.r.t. the logits (grad may be null). A batch of n rows (θ_i, x_i) ~ p(θ, x) gives,
// per row i, `ratio_logits_per_row` logits laid out row-major [n, A]; contrasting θ_j (j ≠ i, other
// rows of the batch, so (θ_j, x_i) ~ p(θ) p(x)) are chosen by the caller. σ = logistic sigmoid,
// softplus(z) = log(1 + e^z), LSE = log-sum-exp.
//
//  A   NRE-A (Hermans, Begy, Louppe 2020, arXiv:1903.04057), row [f(θ_i, x_i), f(θ_j, x_i)]:
//        l = (1/2n) Σ_i softplus(−z_i0) + softplus(z_i1)          (binary cross-entropy)
//  BNRE (Delaunoy et al. 2022, arXiv:2208.13624): NRE-A's row and loss plus the balance penalty
//        λ (mean_i σ(z_i0) + mean_i σ(z_i1) − 1)²
//  B   NRE-B (Durkan, Murray, Papamakarios 2020, arXiv:2002.03712), K atoms per row, atom 0 the
//      joint θ_i, atoms 1..K−1 distinct contrasts:  l = (1/n) Σ_i LSE_k z_ik − z_i0
//  C   NRE-C (Miller, Weniger, Forré 2022, arXiv:2210.06170), K classes, weight γ; row 2K:
//      z_i[0..K) the joint set (θ_i, then K−1 contrasts), z_i[K..2K) = m_i, K more contrasts
//      (drawn independently of the first set). With p0 = 1/(1+γ), pJ = γ/(1+γ):
//        lp_m = log K − LSE(log γ + m_i0, .., log γ + m_iK−1, log K)
//        lp_j = log γ + z_i0 − LSE(log γ + z_i0, .., log γ + z_iK−1, log K)
//        l = −(1/n) Σ_i p0 lp_m + pJ lp_j
//      (sbi's SNRE_C loss, num_classes = K.)
// At the optimum f(θ, x) = log p(θ, x) / (p(θ) p(x)) for A, BNRE and C; B learns it up to a
// function of x only, which the posterior's normaliser absorbs.
// Portable, templated on float / double, no allocation.
#pragma once
#include <cstdint>

#include "../common/portable.h"
#include "dense.h"

namespace sbi {
namespace nn {

enum class RatioLoss : int { A = 0, B = 1, C = 2, Balanced = 3 };

constexpr int kRatioMaxClasses = 64;  // K ≤ this (callers check): NRE-C keeps a row on the stack

struct RatioLossConfig {
  RatioLoss kind = RatioLoss::A;
  int classes = 2;       // K: atoms per row of NRE-B, classes of NRE-C (ignored by A / BNRE)
  double gamma = 1.0;    // NRE-C's weight of the independent class
  double lambda = 100.0; // BNRE's regularization strength
};

// A: logits per row.
SBI_HD int ratio_logits_per_row(const RatioLossConfig& c) {
  switch (c.kind) {
    case RatioLoss::B: return c.classes;
    case RatioLoss::C: return 2 * c.classes;
    default: return 2;
  }
}

// Contrasting θ per row that must be distinct within each set: batches need more rows than this.
SBI_HD int ratio_contrasts_per_set(const RatioLossConfig& c) {
  switch (c.kind) {
    case RatioLoss::B: return c.classes - 1;
    case RatioLoss::C: return c.classes;
    default: return 1;
  }
}

template <class T>
SBI_HD T softplus(T z) {
  return (z > T(0) ? z : T(0)) + std::log1p(std::exp(-std::fabs(z)));
}

// log Σ_k exp(a_k) over k < count, and (if w is not null) w_k = exp(a_k − LSE) for k < count,
// with one extra term exp(extra) in the sum when has_extra.
template <class T>
SBI_HD T ratio_lse(const T* a, int count, bool has_extra, T extra, T* w) {
  T m = has_extra ? extra : a[0];
  for (int k = 0; k < count; ++k) m = a[k] > m ? a[k] : m;
  T s = has_extra ? std::exp(extra - m) : T(0);
  for (int k = 0; k < count; ++k) s += std::exp(a[k] - m);
  const T lse = m + std::log(s);
  if (w)
    for (int k = 0; k < count; ++k) w[k] = std::exp(a[k] - lse);
  return lse;
}

// Batch-mean loss of logits [n, ratio_logits_per_row(c)]; grad has the same layout.
template <class T>
SBI_HD T ratio_loss(const RatioLossConfig& c, int64_t n, const T* z, T* grad) {
  const T inv_n = T(1) / T(n);
  if (c.kind == RatioLoss::A || c.kind == RatioLoss::Balanced) {
    T sum = T(0), balance = T(0);
    for (int64_t i = 0; i < n; ++i) {
      const T zj = z[2 * i], zm = z[2 * i + 1];
      sum += softplus(-zj) + softplus(zm);
      balance += logistic(zj) + logistic(zm);
      if (grad) {
        grad[2 * i] = (logistic(zj) - T(1)) * inv_n / T(2);
        grad[2 * i + 1] = logistic(zm) * inv_n / T(2);
      }
    }
    T loss = sum * inv_n / T(2);
    if (c.kind == RatioLoss::Balanced) {
      const T b = balance * inv_n - T(1), lam = T(c.lambda);
      loss += lam * b * b;
      if (grad)
        for (int64_t k = 0; k < 2 * n; ++k) {
          const T s = logistic(z[k]);
          grad[k] += lam * T(2) * b * s * (T(1) - s) * inv_n;
        }
    }
    return loss;
  }
  const int K = c.classes;
  if (c.kind == RatioLoss::B) {
    T sum = T(0);
    for (int64_t i = 0; i < n; ++i) {
      const T* zi = z + i * K;
      T* gi = grad ? grad + i * K : nullptr;
      sum += ratio_lse(zi, K, false, T(0), gi) - zi[0];
      if (gi) {
        for (int k = 0; k < K; ++k) gi[k] *= inv_n;
        gi[0] -= inv_n;
      }
    }
    return sum * inv_n;
  }
  // NRE-C: the LSE terms are evaluated on log γ + z; the softmax weights w give their gradients.
  const T log_gamma = T(std::log(c.gamma)), log_k = T(std::log(double(K)));
  const T p0 = T(1.0 / (1.0 + c.gamma)), pj = T(c.gamma / (1.0 + c.gamma));
  T shifted[2 * kRatioMaxClasses];
  T sum = T(0);
  for (int64_t i = 0; i < n; ++i) {
    const T* zi = z + i * 2 * K;
    for (int k = 0; k < 2 * K; ++k) shifted[k] = log_gamma + zi[k];
    T* gi = grad ? grad + i * 2 * K : nullptr;
    const T lp_j = shifted[0] - ratio_lse(shifted, K, true, log_k, gi);
    const T lp_m = log_k - ratio_lse(shifted + K, K, true, log_k, gi ? gi + K : nullptr);
    sum += p0 * lp_m + pj * lp_j;
    if (gi) {
      for (int k = 0; k < K; ++k) gi[k] *= pj * inv_n;
      gi[0] -= pj * inv_n;
      for (int k = K; k < 2 * K; ++k) gi[k] *= p0 * inv_n;
    }
  }
  return -sum * inv_n;
}

}  // namespace nn
}  // namespace sbi
