// Pre-activation residual block of nflows' / sbi's ResidualNet (no batch norm, no dropout, no
// context), width D:
//   A0 = act(X),  Y1 = act(A0 · W1ᵀ + b1),  Y = X + (Y1 · W2ᵀ + b2)
// X, Y [N, D]; W1, W2 [D, D]; b1, b2 [D]. He et al., "Identity Mappings in Deep Residual
// Networks" (arXiv:1603.05027).
// Backward: dT = dY; (dY1, dW2, db2) from the identity layer 2; (dA0, dW1, db1) from layer 1;
//   dX = dY + dA0 ⊙ act'(X)   (the skip path plus the path through both layers).
// Caller-owned memory: `saved` [3·N·D] holds A0, Z1 (the hidden pre-activation; the backward reads it for SiLU only) and Y1
// between forward and backward; `scratch` [N·D] is backward workspace.
#pragma once
#include "dense.h"

namespace sbi {
namespace nn {

SBI_HD int64_t residual_saved_size(int64_t n, int64_t dim) { return 3 * n * dim; }
SBI_HD int64_t residual_scratch_size(int64_t n, int64_t dim) { return n * dim; }

template <class T>
SBI_HD void residual_forward(Activation act, int64_t n, int64_t dim, const T* x, const T* w1, const T* b1,
                             const T* w2, const T* b2, T* saved, T* y) {
  const int64_t nd = n * dim;
  T* a0 = saved;
  T* z1 = saved + nd;
  T* y1 = saved + 2 * nd;
  activate_row(act, nd, x, a0);
  dense_forward(act, n, dim, dim, a0, w1, b1, y1, z1);
  dense_forward(Activation::Identity, n, dim, dim, y1, w2, b2, y, static_cast<T*>(nullptr));
  for (int64_t i = 0; i < nd; ++i) y[i] += x[i];
}

template <class T>
SBI_HD void residual_backward(Activation act, int64_t n, int64_t dim, const T* x, const T* w1, const T* w2,
                              const T* saved, const T* dy, T* scratch, T* dx, T* dw1, T* db1, T* dw2, T* db2) {
  const int64_t nd = n * dim;
  const T* a0 = saved;
  const T* z1 = saved + nd;
  const T* y1 = saved + 2 * nd;
  T* dy1 = scratch;
  dense_backward(Activation::Identity, n, dim, dim, y1, w2, static_cast<const T*>(nullptr),
                 static_cast<const T*>(nullptr), dy, dy1, dw2, db2);
  dense_backward(act, n, dim, dim, a0, w1, y1, z1, dy1, dx, dw1, db1);  // dx holds dA0
  activation_backward_row(act, nd, x, a0, dx, dx);  // dA0 ⊙ act'(X)
  for (int64_t i = 0; i < nd; ++i) dx[i] = dy[i] + dx[i];
}

}  // namespace nn
}  // namespace sbi
