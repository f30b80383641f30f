// The ratio classifier with a jointly trained embedding network of x (sbi's
// classifier_nn(..., embedding_net_x=...)):
//   f(θ, x) = resnet([z(θ), e_φ(z(x))]),
// e_φ an MLP (kernels/nn/mlp.h: `act` after every hidden layer, identity output) with widths
// sizes [L + 1], sizes[0] = x's width, sizes[L] = E, the embedding's width; the residual network
// (resnet.h) takes D + E inputs.
//
// Contrastive losses (ratio_loss.h) score every x row against several θ. The n x rows of a batch
// are therefore embedded once, e = e_φ(X) [n, E], and pair p of the m = n·A classifier rows
// reads the features of its x row: input_p = [θ[pair_theta[p]], feat[pair_x[p]]] (feat = e, or
// z(x) itself without an embedding). Backward: the residual network's input gradient dI [m, D+E]
// gives de_i = Σ_{p : pair_x[p] = i} dI_p[D..D+E), which mlp_backward takes down to φ. So the
// MLP runs on n rows, not m — A times less work (A = 10 for NRE-B's default atoms).
// Portable, templated on float / double, caller-owned memory, no allocation.
#pragma once
#include <cstdint>

#include "../common/portable.h"
#include "mlp.h"
#include "ratio_loss.h"
#include "resnet.h"

namespace sbi {
namespace nn {

// input [m, D + E]: row p = [theta[pair_theta[p]] (D values), feat[pair_x[p]] (E values)].
template <class T>
SBI_HD void ratio_gather_pairs(int64_t D, int64_t E, int64_t m, const T* theta, const int64_t* pair_theta,
                               const T* feat, const int64_t* pair_x, T* input) {
  for (int64_t p = 0; p < m; ++p) {
    T* row = input + p * (D + E);
    const T* t = theta + pair_theta[p] * D;
    const T* f = feat + pair_x[p] * E;
    for (int64_t d = 0; d < D; ++d) row[d] = t[d];
    for (int64_t j = 0; j < E; ++j) row[D + j] = f[j];
  }
}

// d_feat[pair_x[p]] += d_input[p, D..D+E) for p = 0..m−1 in order (the caller zeroes d_feat).
template <class T>
SBI_HD void ratio_scatter_feature_grad(int64_t D, int64_t E, int64_t m, const T* d_input, const int64_t* pair_x,
                                       T* d_feat) {
  for (int64_t p = 0; p < m; ++p) {
    const T* g = d_input + p * (D + E) + D;
    T* f = d_feat + pair_x[p] * E;
    for (int64_t j = 0; j < E; ++j) f[j] += g[j];
  }
}

struct RatioEmbeddedNet {
  ResNetShape net;       // net.in = D + sizes[layers]
  Activation act;        // the embedding's hidden activation
  int layers;            // L dense layers of the embedding
  const int64_t* sizes;  // [L + 1]
};

// Workspace of ratio_embedded_loss_backward for n x rows and m = n · A pairs.
SBI_HD int64_t ratio_embedded_work_size(const RatioEmbeddedNet& s, int64_t n, int64_t m) {
  const int64_t in = s.net.in, E = s.sizes[s.layers];
  return mlp_saved_size(s.act, s.layers, s.sizes, n) + 2 * m * in + resnet_saved_size(s.net, m) +
         resnet_scratch_size(s.net, m) + 2 * m + n * E + mlp_scratch_size(s.layers, s.sizes, n);
}

// The batch-mean loss of `loss` over n x rows x [n, sizes[0]] and θ rows theta [·, D], pair p
// of the m = n · A logits (A = ratio_logits_per_row(loss)) being (theta[pair_theta[p]],
// x[pair_x[p]]) — ratio_loss's layout has pair_x[p] = ⌊p / A⌋ — with its gradient w.r.t. the
// residual network's parameters (grads, resnet layout) and the embedding's (egrads, mlp layout),
// both overwritten. One pass, one thread: the trainer (native/ratio_trainer.cc) runs the same
// steps split into chunks of pairs and of x rows.
template <class T>
SBI_HD T ratio_embedded_loss_backward(const RatioLossConfig& loss, const RatioEmbeddedNet& s, int64_t n,
                                      const T* theta, const T* x, const int64_t* pair_theta, const int64_t* pair_x,
                                      const T* params, const T* eparams, T* grads, T* egrads, T* work) {
  const int64_t A = ratio_logits_per_row(loss), m = n * A, in = s.net.in, E = s.sizes[s.layers], D = in - E;
  T* esaved = work;
  T* input = esaved + mlp_saved_size(s.act, s.layers, s.sizes, n);
  T* d_input = input + m * in;
  T* rsaved = d_input + m * in;
  T* rscratch = rsaved + resnet_saved_size(s.net, m);
  T* logits = rscratch + resnet_scratch_size(s.net, m);
  T* dlogits = logits + m;
  T* d_feat = dlogits + m;
  T* escratch = d_feat + n * E;
  const T* feat = mlp_forward(s.act, s.layers, s.sizes, n, x, eparams, esaved);
  ratio_gather_pairs(D, E, m, theta, pair_theta, feat, pair_x, input);
  resnet_forward(s.net, m, params, input, rsaved, logits);
  const T value = ratio_loss(loss, n, logits, dlogits);
  resnet_backward(s.net, m, params, input, rsaved, dlogits, grads, rscratch, d_input);
  for (int64_t k = 0; k < n * E; ++k) d_feat[k] = T(0);
  ratio_scatter_feature_grad(D, E, m, d_input, pair_x, d_feat);
  mlp_backward(s.act, s.layers, s.sizes, n, x, eparams, esaved, d_feat, egrads, escratch);
  return value;
}

}  // namespace nn
}  // namespace sbi
