// Mixture density network head (Bishop 1994, "Mixture density networks", NCRG/94/004; as the
// conditional density estimator of Papamakarios & Murray, NeurIPS 2016, arXiv:1605.06376): the
// output row o of a conditioner network on the context c parameterises a mixture of K
// full-covariance Gaussians over y ∈ R^D,
//   q(y | c) = Σ_k π_k N(y; μ_k, (U_kᵀ U_k)⁻¹),   π = softmax(a),
// with U_k upper triangular: the Cholesky-type factor of component k's PRECISION. Its diagonal is
// U_ii = exp(s_i): log det U = Σ s_i exactly (a softplus diagonal would need log softplus, which
// underflows to −inf in float for s below about −88, and a non-linear Jacobian term); the
// off-diagonal U_ij (i < j) are free. With the precision factor the density needs no solve:
//   r = U_k (y − μ_k),  log N_k = Σ_i s_i − ½ |r|² − (D/2) log 2π,
//   log q = logsumexp_k (a_k + log N_k) − logsumexp_k a_k,
// and a sample is y = μ_k + U_k⁻¹ z, z ~ N(0, I): one back substitution (U_k⁻¹ = L is the
// covariance's triangular factor, LLᵀ = Σ_k).
//
// Layout of one output row [K · W], W = 1 + 2D + D(D − 1)/2, component after component:
//   o_k = [a_k, μ_k (D), s_k (D), U_k's strictly upper entries row by row (i < j)].
// Backward of log q (weight g = ∂loss/∂log q; responsibilities w_k = π_k N_k / q):
//   ∂/∂a_k = g (w_k − π_k),  ∂/∂μ_k = g w_k U_kᵀ r,  ∂/∂s_i = g w_k (1 − r_i e^{s_i} δ_i),
//   ∂/∂U_ij = −g w_k r_i δ_j  (i < j),  δ = y − μ_k.
// Templated on the scalar (float for training, double for gradient checks); per-row functions
// with caller-owned `work` [mdn_work_size]; no allocation. Randomness: one PhiloxStream per row
// (a uniform picks the component, then D normals of kernels/random/samplers.h).
#pragma once
#include "../common/portable.h"
#include "../common/vecmath.h"
#include "../random/samplers.h"

namespace sbi {

struct MdnShape {
  int dim;         // D
  int components;  // K
};

SBI_HD int64_t mdn_component_width(int dim) { return 1 + 2 * int64_t{dim} + int64_t{dim} * (dim - 1) / 2; }
SBI_HD int64_t mdn_output_width(const MdnShape& s) { return s.components * mdn_component_width(s.dim); }
// Per-row workspace: the K component terms and one residual r [D].
SBI_HD int64_t mdn_work_size(const MdnShape& s) { return s.components + s.dim; }
// Offset of U_ij (i < j) among a component's strictly upper entries.
SBI_HD int64_t mdn_upper_index(int dim, int i, int j) { return int64_t{i} * dim - int64_t{i} * (i + 1) / 2 + (j - i - 1); }

constexpr double kMdnHalfLog2Pi = 0.91893853320467274178;

namespace mdn_detail {

// r = U (y − μ) for the component whose block starts at o; returns Σ s_i − ½ |r|² − (D/2) log 2π.
template <class T>
SBI_HD T component_log_normal(int D, const T* o, const T* y, T* r) {
  const T* mu = o + 1;
  const T* s = mu + D;
  const T* upper = s + D;
  T log_det = T(0), sq = T(0);
  for (int i = 0; i < D; ++i) {
    T acc = vexp(s[i]) * (y[i] - mu[i]);
    const T* row = upper + mdn_upper_index(D, i, i + 1);
    for (int j = i + 1; j < D; ++j) acc += row[j - i - 1] * (y[j] - mu[j]);
    r[i] = acc;
    log_det += s[i];
    sq += acc * acc;
  }
  return log_det - T(0.5) * sq - T(D * kMdnHalfLog2Pi);
}

template <class T>
SBI_HD T log_sum_exp(int n, const T* v) {
  T m = v[0];
  for (int i = 1; i < n; ++i) m = v[i] > m ? v[i] : m;
  if (m - m != T(0)) return m;  // the largest is ±inf or NaN: propagate it
  T sum = T(0);
  for (int i = 0; i < n; ++i) sum += vexp(v[i] - m);
  return m + vlog(sum);
}

}  // namespace mdn_detail

// log q(y | c) of one row: o [K · W], y [D].
template <class T>
SBI_HD T mdn_row_log_prob(const MdnShape& s, const T* o, const T* y, T* work) {
  const int D = s.dim, K = s.components;
  const int64_t W = mdn_component_width(D);
  T* terms = work;
  T* r = work + K;
  for (int k = 0; k < K; ++k) terms[k] = o[k * W];
  const T log_norm = mdn_detail::log_sum_exp(K, terms);
  for (int k = 0; k < K; ++k) terms[k] = o[k * W] + mdn_detail::component_log_normal(D, o + k * W, y, r);
  return mdn_detail::log_sum_exp(K, terms) - log_norm;
}

// Returns log q(y | c) and writes dout [K · W] = g · ∂ log q / ∂o (overwritten).
template <class T>
SBI_HD T mdn_row_backward(const MdnShape& s, const T* o, const T* y, T g, T* dout, T* work) {
  const int D = s.dim, K = s.components;
  const int64_t W = mdn_component_width(D);
  T* terms = work;
  T* r = work + K;
  for (int k = 0; k < K; ++k) terms[k] = o[k * W];
  const T log_norm = mdn_detail::log_sum_exp(K, terms);
  for (int k = 0; k < K; ++k) terms[k] = o[k * W] + mdn_detail::component_log_normal(D, o + k * W, y, r);
  const T log_joint = mdn_detail::log_sum_exp(K, terms);
  for (int k = 0; k < K; ++k) {
    const T* ok = o + k * W;
    T* dk = dout + k * W;
    const T gk = g * vexp(terms[k] - log_joint);  // g · responsibility
    dk[0] = gk - g * vexp(ok[0] - log_norm);
    mdn_detail::component_log_normal(D, ok, y, r);  // r of this component (recomputed: work holds one)
    const T* mu = ok + 1;
    const T* sk = mu + D;
    const T* upper = sk + D;
    T* dmu = dk + 1;
    T* ds = dmu + D;
    T* dupper = ds + D;
    // ∂/∂μ_j = gk (Uᵀ r)_j: the diagonal term here, the off-diagonal ones in the loop below.
    for (int j = 0; j < D; ++j) {
      const T e = vexp(sk[j]);
      dmu[j] = gk * e * r[j];
      ds[j] = gk * (T(1) - r[j] * e * (y[j] - mu[j]));
    }
    for (int i = 0; i < D; ++i) {
      const int64_t base = mdn_upper_index(D, i, i + 1);
      for (int j = i + 1; j < D; ++j) {
        dupper[base + j - i - 1] = -gk * r[i] * (y[j] - mu[j]);
        dmu[j] += gk * upper[base + j - i - 1] * r[i];
      }
    }
  }
  return log_joint - log_norm;
}

// One draw y [D] ~ q(· | c) from o [K · W]: the component from one uniform of `rng` against the
// cumulative mixture weights, then z ~ N(0, I) (D normals of `rng`) and y = μ_k + U_k⁻¹ z.
template <class T>
SBI_HD void mdn_row_sample(const MdnShape& s, const T* o, PhiloxStream& rng, T* y, T* work) {
  const int D = s.dim, K = s.components;
  const int64_t W = mdn_component_width(D);
  T* terms = work;
  for (int k = 0; k < K; ++k) terms[k] = o[k * W];
  const T log_norm = mdn_detail::log_sum_exp(K, terms);
  double u = rng.uniform();
  int chosen = K - 1;  // where round-off in the cumulative sum leaves u
  for (int k = 0; k < K; ++k) {
    const double p = static_cast<double>(vexp(o[k * W] - log_norm));
    if (u < p) {
      chosen = k;
      break;
    }
    u -= p;
  }
  const T* ok = o + chosen * W;
  const T* mu = ok + 1;
  const T* sk = mu + D;
  const T* upper = sk + D;
  T* v = work + K;
  for (int i = 0; i < D; ++i) v[i] = static_cast<T>(sample_std_normal(rng));
  // Back substitution U v' = z from the last row up (v holds z, overwritten by v').
  for (int i = D - 1; i >= 0; --i) {
    T acc = v[i];
    const T* row = upper + mdn_upper_index(D, i, i + 1);
    for (int j = i + 1; j < D; ++j) acc -= row[j - i - 1] * v[j];
    v[i] = acc / vexp(sk[i]);
  }
  for (int i = 0; i < D; ++i) y[i] = mu[i] + v[i];
}

// Batched: out [N, K · W] with row stride out_stride (0: one output row for all), y [N, D].
template <class T>
SBI_HD void mdn_log_prob(const MdnShape& s, int64_t n, const T* out, int64_t out_stride, const T* y, T* log_prob,
                         T* work) {
  for (int64_t i = 0; i < n; ++i) log_prob[i] = mdn_row_log_prob(s, out + i * out_stride, y + i * s.dim, work);
}

}  // namespace sbi
