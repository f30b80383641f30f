// Conditional masked autoregressive flow (Papamakarios, Pavlakou, Murray, "Masked Autoregressive
// Flow for Density Estimation", NeurIPS 2017, arXiv:1705.07057) over a batch, with the elementwise
// transform as a template parameter: AffineElement (MAF) or RqSplineElement (the autoregressive
// neural spline flow of Durkan et al., arXiv:1906.04140).
//
// K layers map θ [N, D] to the base variable u, given context x (row stride C, or 0 to broadcast
// one context row to all rows):
//   a_0 = θ,  a_k = reverse(z_k) for k ≥ 1,   z_{k+1} = f(a_k; MADE_k(a_k, x)),   u = z_K
//   log q(θ | x) = Σ_d log N(u_d; 0, 1) + Σ_k Σ_d log|∂z_{k+1,d}/∂a_{k,d}|
// f is applied per dimension with the P parameters MADE_k gives that dimension, so each layer's
// Jacobian is lower triangular. Parameters: the K MADEs' vectors one after another (made.h).
// With p = made.passes degree groups (made.h) the Jacobian is block lower triangular with
// diagonal blocks; p = D is the autoregressive flow, p = 2 a coupling flow (the reversal between
// layers alternates which half is conditioned). Sampling inverts layer K − 1 down to 0, each by
// p network passes (pass g completes the variables of degree g + 1).
// Portable, templated on float / double, caller-owned memory (maf_workspace_size). Math and
// the backward: docs/flows.md (MAF section).
#pragma once
#include <cstdint>

#include "../common/portable.h"
#include "../nn/made.h"
#include "../random/samplers.h"
#include "affine.h"
#include "rq_spline.h"

namespace sbi {

template <class T>
struct AffineElement {
  T scale_bound;
  SBI_HD int param_count() const { return kAffineParamCount; }
  SBI_HD void forward(T x, const T* p, T* y, T* ladj) const { affine_forward(scale_bound, x, p, y, ladj); }
  SBI_HD void inverse(T y, const T* p, T* x, T* ladj) const { affine_inverse(scale_bound, y, p, x, ladj); }
  SBI_HD void backward(T x, const T* p, T g_y, T g_l, T* g_x, T* g_p) const {
    affine_backward(scale_bound, x, p, g_y, g_l, g_x, g_p);
  }
};

template <class T>
struct RqSplineElement {
  RqSplineConfig<T> config;
  SBI_HD int param_count() const { return rq_spline_param_count(config.bins); }
  SBI_HD void forward(T x, const T* p, T* y, T* ladj) const { rq_spline_forward(config, x, p, y, ladj); }
  SBI_HD void inverse(T y, const T* p, T* x, T* ladj) const { rq_spline_inverse(config, y, p, x, ladj); }
  SBI_HD void backward(T x, const T* p, T g_y, T g_l, T* g_x, T* g_p) const {
    rq_spline_backward(config, x, p, g_y, g_l, g_x, g_p);
  }
};

struct MafShape {
  nn::MadeShape made;  // made.params_per_dim = the element transform's parameter count
  int layers;          // K >= 1
};

SBI_HD int64_t maf_param_count(const MafShape& s) { return s.layers * nn::made_param_count(s.made); }

// The workspace of n rows: per layer its input rows [n, D + C], saved hidden outputs and
// pre-activations [L, n, H] and MADE outputs [n, D·P]; then z [n, D] and the backward's
// dL/dz [n, D], dL/din [n, D + C], dL/dout [n, D·P] and MADE scratch [2, n, H].
template <class T>
struct MafWork {
  T* in;
  T* hidden;
  T* pre;
  T* out;
  T* z;
  T* g_z;
  T* g_in;
  T* g_out;
  T* scratch;
};

SBI_HD int64_t maf_layer_work_size(const MafShape& s, int64_t n) {
  const nn::MadeShape& m = s.made;
  return n * (m.dim + m.context) + 2 * nn::made_saved_size(m, n) + n * m.dim * m.params_per_dim;
}
SBI_HD int64_t maf_workspace_size(const MafShape& s, int64_t n) {
  const nn::MadeShape& m = s.made;
  return s.layers * maf_layer_work_size(s, n) + 2 * n * m.dim + n * (m.dim + m.context) +
         n * m.dim * m.params_per_dim + 2 * n * m.hidden;
}

// Layer k's part of the workspace (for k = layers: the shared buffers after the layers).
template <class T>
SBI_HD MafWork<T> maf_work(const MafShape& s, int64_t n, T* buf, int k) {
  const nn::MadeShape& m = s.made;
  T* shared = buf + s.layers * maf_layer_work_size(s, n);
  T* p = buf + k * maf_layer_work_size(s, n);
  MafWork<T> w;
  w.in = p;
  w.hidden = w.in + n * (m.dim + m.context);
  w.pre = w.hidden + nn::made_saved_size(m, n);
  w.out = w.pre + nn::made_saved_size(m, n);
  w.z = shared;
  w.g_z = w.z + n * m.dim;
  w.g_in = w.g_z + n * m.dim;
  w.g_out = w.g_in + n * (m.dim + m.context);
  w.scratch = w.g_out + n * m.dim * m.params_per_dim;
  return w;
}

// Copies the context rows into columns D.. of the input rows in [n, D + C].
template <class T>
SBI_HD void maf_fill_context(const MafShape& s, int64_t n, const T* ctx, int64_t ctx_stride, T* in) {
  const int D = s.made.dim, C = s.made.context;
  for (int64_t r = 0; r < n; ++r)
    for (int c = 0; c < C; ++c) in[r * (D + C) + D + c] = ctx[r * ctx_stride + c];
}

SBI_HD double std_normal_log_density_constant() { return 0.91893853320467274178; }  // log √(2π)

// log q(θ | x) per row into log_prob [n]; the base point u into base [n, D] when not null.
// Leaves every layer's activations in `work` for maf_nll_backward.
template <class T, class E>
SBI_HD void maf_log_prob(const MafShape& s, const E& e, int64_t n, const T* params, const T* theta, const T* ctx,
                         int64_t ctx_stride, T* log_prob, T* base, T* work) {
  const nn::MadeShape& m = s.made;
  const int D = m.dim, W = m.dim + m.context, P = m.params_per_dim;
  const int64_t made_count = nn::made_param_count(m);
  T* in0 = maf_work(s, n, work, 0).in;
  for (int64_t r = 0; r < n; ++r) {
    log_prob[r] = T(0);
    for (int d = 0; d < D; ++d) in0[r * W + d] = theta[r * D + d];
  }
  for (int k = 0; k < s.layers; ++k) {
    const MafWork<T> w = maf_work(s, n, work, k);
    maf_fill_context(s, n, ctx, ctx_stride, w.in);
    nn::made_forward(m, n, params + k * made_count, w.in, w.hidden,
                     nn::activation_needs_preactivation(m.act) ? w.pre : nullptr, w.out);
    const bool last = k + 1 == s.layers;
    T* next = last ? w.z : maf_work(s, n, work, k + 1).in;
    for (int64_t r = 0; r < n; ++r) {
      for (int d = 0; d < D; ++d) {
        T y, ladj;
        e.forward(w.in[r * W + d], w.out + (r * D + d) * P, &y, &ladj);
        log_prob[r] += ladj;
        if (last) next[r * D + d] = y;
        else next[r * W + (D - 1 - d)] = y;  // the reversal before layer k + 1
      }
    }
  }
  const MafWork<T> w = maf_work(s, n, work, s.layers);
  for (int64_t r = 0; r < n; ++r) {
    T sq = T(0);
    for (int d = 0; d < D; ++d) sq += w.z[r * D + d] * w.z[r * D + d];
    log_prob[r] += T(-0.5) * sq - T(D * std_normal_log_density_constant());
    if (base)
      for (int d = 0; d < D; ++d) base[r * D + d] = w.z[r * D + d];
  }
}

// Gradients of scale · Σ_rows −log q(θ | x) (scale = 1 / N_total gives the mean NLL of a batch
// split into chunks): g_params [K·made] overwritten, zero at masked weights; g_theta [n, D] and
// g_ctx (row stride ctx_stride: with 0, one row summed over the batch) overwritten when not null.
// Runs the forward itself; returns scale · Σ_rows −log q.
template <class T, class E>
SBI_HD T maf_nll_backward(const MafShape& s, const E& e, int64_t n, const T* params, const uint8_t* mask, const T* theta,
                          const T* ctx, int64_t ctx_stride, T scale, T* g_params, T* g_theta, T* g_ctx, T* log_prob,
                          T* work) {
  const nn::MadeShape& m = s.made;
  const int D = m.dim, C = m.context, W = m.dim + m.context, P = m.params_per_dim;
  const int64_t made_count = nn::made_param_count(m);
  maf_log_prob(s, e, n, params, theta, ctx, ctx_stride, log_prob, static_cast<T*>(nullptr), work);
  T loss = T(0);
  for (int64_t r = 0; r < n; ++r) loss -= scale * log_prob[r];
  MafWork<T> top = maf_work(s, n, work, s.layers);
  // dL/du = scale · u (from −log N(u)); every log-det enters with weight −scale.
  for (int64_t i = 0; i < n * D; ++i) top.g_z[i] = scale * top.z[i];
  if (g_ctx)
    for (int64_t i = 0; i < (ctx_stride == 0 ? C : n * C); ++i) g_ctx[i] = T(0);
  for (int k = s.layers - 1; k >= 0; --k) {
    const MafWork<T> w = maf_work(s, n, work, k);
    // g_z holds dL/dz_{k+1} in layer k's output order; the elementwise backward gives dL/da_k
    // (direct path, kept in g_z in place) and dL/dout.
    for (int64_t r = 0; r < n; ++r)
      for (int d = 0; d < D; ++d) {
        const int64_t i = r * D + d;
        T g_a;
        e.backward(w.in[r * W + d], w.out + i * P, top.g_z[i], -scale, &g_a, top.g_out + i * P);
        top.g_z[i] = g_a;
      }
    nn::made_backward(m, n, params + k * made_count, mask, w.in, w.hidden,
                      nn::activation_needs_preactivation(m.act) ? w.pre : nullptr, top.g_out, g_params + k * made_count,
                      top.g_in, top.scratch);
    for (int64_t r = 0; r < n; ++r) {
      if (g_ctx)
        for (int c = 0; c < C; ++c) g_ctx[r * ctx_stride + c] += top.g_in[r * W + D + c];
      // dL/da_k = direct + through MADE_k; a_k = reverse(z_k) maps it back to z_k's order.
      for (int d = 0; d < D; ++d) top.g_in[r * W + d] += top.g_z[r * D + d];
      for (int d = 0; d < D; ++d) top.g_z[r * D + d] = top.g_in[r * W + (k > 0 ? D - 1 - d : d)];
    }
  }
  if (g_theta)
    for (int64_t i = 0; i < n * D; ++i) g_theta[i] = top.g_z[i];
  return loss;
}

// Base normals for rows first_row .. first_row + n − 1: row i draws D standard normals from
// Philox stream i of `seed`, so a row's draw depends on neither chunking nor thread count.
template <class T>
SBI_HD void maf_sample_base(uint64_t seed, int64_t first_row, int64_t n, int dim, T* u) {
  for (int64_t r = 0; r < n; ++r) {
    PhiloxStream rng(seed, static_cast<uint64_t>(first_row + r));
    for (int d = 0; d < dim; ++d) u[r * dim + d] = static_cast<T>(sample_std_normal(rng));
  }
}

// θ [n, D] = the flow's inverse at the base points u [n, D]; log q(θ | x) into log_prob when not
// null (= log N(u) − Σ log|det ∂θ/∂u|, accumulated from the inverse log-dets).
template <class T, class E>
SBI_HD void maf_sample(const MafShape& s, const E& e, int64_t n, const T* params, const T* ctx, int64_t ctx_stride,
                       const T* u, T* theta, T* log_prob, T* work) {
  const nn::MadeShape& m = s.made;
  const int D = m.dim, W = m.dim + m.context, P = m.params_per_dim;
  const int64_t made_count = nn::made_param_count(m);
  const MafWork<T> w = maf_work(s, n, work, 0);
  for (int64_t r = 0; r < n; ++r) {
    T sq = T(0);
    for (int d = 0; d < D; ++d) {
      w.z[r * D + d] = u[r * D + d];
      sq += u[r * D + d] * u[r * D + d];
    }
    if (log_prob) log_prob[r] = T(-0.5) * sq - T(D * std_normal_log_density_constant());
  }
  maf_fill_context(s, n, ctx, ctx_stride, w.in);
  for (int k = s.layers - 1; k >= 0; --k) {
    for (int64_t r = 0; r < n; ++r)
      for (int d = 0; d < D; ++d) w.in[r * W + d] = T(0);
    for (int pass = 0; pass < m.passes; ++pass) {
      nn::made_forward(m, n, params + k * made_count, w.in, w.hidden,
                       nn::activation_needs_preactivation(m.act) ? w.pre : nullptr, w.out);
      const int d0 = nn::made_group_begin(m, pass), d1 = nn::made_group_begin(m, pass + 1);
      for (int64_t r = 0; r < n; ++r)
        for (int d = d0; d < d1; ++d) {
          T a, ladj;
          e.inverse(w.z[r * D + d], w.out + (r * D + d) * P, &a, &ladj);
          w.in[r * W + d] = a;
          if (log_prob) log_prob[r] -= ladj;
        }
    }
    // z_k = reverse(a_k) for k ≥ 1; a_0 = θ.
    for (int64_t r = 0; r < n; ++r)
      for (int d = 0; d < D; ++d) w.z[r * D + d] = w.in[r * W + (k > 0 ? D - 1 - d : d)];
  }
  for (int64_t i = 0; i < n * D; ++i) theta[i] = w.z[i];
}

}  // namespace sbi
