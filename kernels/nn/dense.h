// Dense (fully connected) layer over a batch, with the activation fused into the bias add.
//   forward : Z = X · Wᵀ + b,  Y = act(Z)       X [N, in], W [out, in] row-major, b [out], Y, Z [N, out]
//   backward: dZ = dY ⊙ act'(Z)                  (act' from Y where Y determines it, else from Z)
//             dX = dZ · W      [N, in]           (overwritten)
//             dW = dZᵀ · X     [out, in]         (overwritten; sum over the batch)
//             db = Σ_n dZ[n]   [out]             (overwritten; sum over the batch)
// Templated on the scalar: float for training, double for finite-difference gradient checks.
// Caller-owned memory throughout; no allocation. Every inner loop runs over a contiguous row.
// Math and shapes: docs/nn.md.
#pragma once
#include "../common/portable.h"

namespace sbi {
namespace nn {

enum class Activation : int { Identity = 0, ReLU = 1, Tanh = 2, ELU = 3, SiLU = 4 };

// SiLU is the only activation whose derivative is not a function of its output (it is not
// monotone), so only SiLU needs the pre-activation Z saved for the backward pass.
SBI_HD bool activation_needs_preactivation(Activation act) { return act == Activation::SiLU; }

template <class T>
SBI_HD T sigmoid(T z) {
  // exp of a non-positive argument only: no overflow for either sign.
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

template <class T>
SBI_HD T activate(Activation act, T z) {
  switch (act) {
    case Activation::ReLU: return z > T(0) ? z : T(0);
    case Activation::Tanh: return std::tanh(z);
    case Activation::ELU: return z > T(0) ? z : std::expm1(z);  // alpha = 1 (torch's default)
    case Activation::SiLU: return z * sigmoid(z);
    case Activation::Identity: break;
  }
  return z;
}

// d act / dz at pre-activation z with output y = act(z). z is read only for SiLU, y only for
// ReLU / tanh / ELU, so callers may pass 0 for the one their activation does not use.
template <class T>
SBI_HD T activation_derivative(Activation act, T z, T y) {
  switch (act) {
    case Activation::ReLU: return y > T(0) ? T(1) : T(0);
    case Activation::Tanh: return T(1) - y * y;
    case Activation::ELU: return y > T(0) ? T(1) : y + T(1);  // z <= 0: d expm1(z) = exp(z) = y + 1
    case Activation::SiLU: {
      const T s = sigmoid(z);
      return s * (T(1) + z * (T(1) - s));
    }
    case Activation::Identity: break;
  }
  return T(1);
}

// Σ_i a[i] b[i] with kDotLanes independent partial sums: the lane loop is a fixed-width
// element-wise update, which the compiler turns into SIMD without reassociating anything (a
// single running sum would stay scalar under strict IEEE semantics). The summation order is
// fixed, so results do not depend on the instruction set.
constexpr int kDotLanes = 8;
template <class T>
SBI_HD T dot(const T* a, const T* b, int64_t n) {
  T acc[kDotLanes] = {};
  int64_t i = 0;
  for (; i + kDotLanes <= n; i += kDotLanes) {
    SBI_UNROLL
    for (int k = 0; k < kDotLanes; ++k) acc[k] += a[i + k] * b[i + k];
  }
  for (int k = 0; i < n; ++i, ++k) acc[k] += a[i] * b[i];
  T s = T(0);
  SBI_UNROLL
  for (int k = 0; k < kDotLanes; ++k) s += acc[k];
  return s;
}

// y[i] += alpha * x[i]: contiguous, no reduction, vectorises as written.
template <class T>
SBI_HD void axpy(T alpha, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// Y = act(X · Wᵀ + b). `pre` [N, out] receives Z; it may be null unless
// activation_needs_preactivation(act). Y may not alias X.
template <class T>
SBI_HD void dense_forward(Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w,
                          const T* b, T* y, T* pre) {
  for (int64_t r = 0; r < n; ++r) {
    const T* xr = x + r * in_dim;
    T* yr = y + r * out_dim;
    for (int64_t o = 0; o < out_dim; ++o) {
      // W row o and X row r are both contiguous: Z[r, o] is one dot product.
      const T z = dot(xr, w + o * in_dim, in_dim) + b[o];
      if (pre) pre[r * out_dim + o] = z;
      yr[o] = activate(act, z);
    }
  }
}

// Gradients from dY [N, out], given the forward's X, W, Y and (SiLU only) Z. dx may be null (an
// input layer needs no input gradient); y may be null for the identity and pre for all but SiLU.
template <class T>
SBI_HD void dense_backward(Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w,
                           const T* y, const T* pre, const T* dy, T* dx, T* dw, T* db) {
  for (int64_t i = 0; i < out_dim * in_dim; ++i) dw[i] = T(0);
  for (int64_t o = 0; o < out_dim; ++o) db[o] = T(0);
  if (dx)
    for (int64_t i = 0; i < n * in_dim; ++i) dx[i] = T(0);
  for (int64_t r = 0; r < n; ++r) {
    const T* xr = x + r * in_dim;
    T* dxr = dx ? dx + r * in_dim : nullptr;
    for (int64_t o = 0; o < out_dim; ++o) {
      const int64_t k = r * out_dim + o;
      const T z = pre ? pre[k] : T(0);
      const T yk = y ? y[k] : T(0);
      const T dz = dy[k] * activation_derivative(act, z, yk);
      db[o] += dz;
      // Both updates run along contiguous rows (W row o, dW row o, X row r, dX row r).
      axpy(dz, xr, dw + o * in_dim, in_dim);
      if (dxr) axpy(dz, w + o * in_dim, dxr, in_dim);
    }
  }
}

}  // namespace nn
}  // namespace sbi
