// A conditional MAF whose context is the output of an embedding network e_φ(x) (an MLP,
// kernels/nn/mlp.h: `act` after every hidden layer, identity output), trained jointly:
//   log q(θ | x) = log q_MAF(θ | e_φ(x)),
// and the gradient of the NLL with respect to φ is the flow's context gradient (maf_nll_backward's
// g_ctx) back-propagated through the MLP. Embedding sizes [L + 1]: sizes[0] = x's width,
// sizes[L] = the flow's context width. Parameters: the flow's vector, then the MLP's
// (mlp.h layout). Portable, templated on float / double, caller-owned memory, no allocation.
#pragma once
#include <cstdint>

#include "../nn/mlp.h"
#include "maf.h"

namespace sbi {

struct MafEmbedding {
  nn::Activation act;
  int layers;            // L dense layers
  const int64_t* sizes;  // [L + 1]
};

// Scratch for n rows: the MLP's saved outputs, the context gradient and the MLP's backward scratch.
SBI_HD int64_t maf_embedding_work_size(const MafEmbedding& em, int64_t n) {
  return nn::mlp_saved_size(em.act, em.layers, em.sizes, n) + n * em.sizes[em.layers] +
         nn::mlp_scratch_size(em.layers, em.sizes, n);
}

// The embedding of x [n, sizes[0]]: a pointer to [n, sizes[L]] inside `ework`.
template <class T>
SBI_HD const T* maf_embed(const MafEmbedding& em, int64_t n, const T* eparams, const T* x, T* ework) {
  return nn::mlp_forward(em.act, em.layers, em.sizes, n, x, eparams, ework);
}

// log q(θ | x) per row with the context e_φ(x) (x [n, sizes[0]]); `work` as maf_log_prob.
template <class T, class E>
SBI_HD void maf_embedded_log_prob(const MafShape& s, const E& e, const MafEmbedding& em, int64_t n, const T* params,
                                  const T* eparams, const T* theta, const T* x, T* log_prob, T* work, T* ework) {
  const T* ctx = maf_embed(em, n, eparams, x, ework);
  maf_log_prob(s, e, n, params, theta, ctx, em.sizes[em.layers], log_prob, static_cast<T*>(nullptr), work);
}

// Gradients of scale · Σ_rows −log q(θ | x) with respect to the flow's parameters (g_params,
// as maf_nll_backward) and the embedding's (g_eparams, mlp layout); both overwritten. Returns
// scale · Σ_rows −log q.
template <class T, class E>
SBI_HD T maf_embedded_nll_backward(const MafShape& s, const E& e, const MafEmbedding& em, int64_t n, const T* params,
                                   const uint8_t* mask, const T* eparams, const T* theta, const T* x, T scale,
                                   T* g_params, T* g_eparams, T* log_prob, T* work, T* ework) {
  const int64_t C = em.sizes[em.layers];
  const T* ctx = maf_embed(em, n, eparams, x, ework);
  T* g_ctx = ework + nn::mlp_saved_size(em.act, em.layers, em.sizes, n);
  T* scratch = g_ctx + n * C;
  const T loss = maf_nll_backward(s, e, n, params, mask, theta, ctx, C, scale, g_params, static_cast<T*>(nullptr),
                                  g_ctx, log_prob, work);
  nn::mlp_backward(em.act, em.layers, em.sizes, n, x, eparams, ework, g_ctx, g_eparams, scratch);
  return loss;
}

}  // namespace sbi
