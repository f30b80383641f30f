// The optimizer step after each batch of the native training loops (flow_trainer.cc for NPE /
// NLE's flows, trainer.h for NRE and MDN): the chunks' gradients summed in chunk order, clipped
// at global norm, then Adam. The same operations on every element, in the same order, as
// copying chunk 0, adding chunks 1.. in turn, adam.h's clip_grad_norm and adam_step, so the
// bits are those of that sequence for any thread count; but in two passes over the parameters
// instead of five, the second on the pool:
//  1. on the calling thread, block by block (kSumBlock elements, in L1): the chunk sum
//     (vectorised), then the block's squares added to the norm's running sum. That sum is a
//     chain of dependent double adds in index order, the one part that stays serial: any other
//     order could change the clip factor's bits.
//  2. on the pool, blocks of kAdamBlock parameters: the clip factor, then Adam. The pool hands
//     block k to the same thread step after step (runtime.h), so each thread keeps its share of
//     Adam's moments in its own cache.
// Before, all of it ran on the calling thread while the other threads waited for the next batch.
#pragma once
#include <cmath>
#include <cstdint>

#include "../kernels/nn/adam.h"
#include "runtime.h"

namespace sbi_native {
namespace training {

constexpr int64_t kSumBlock = 256;
constexpr int64_t kAdamBlock = 2048;

struct OptimizerStepArgs {
  const sbi::nn::AdamConfig* adam;
  int64_t step, p;
  const float* const* chunk_grads;  // [chunks][p]; chunks == 0: `grad` already holds the sum
  int64_t chunks;
  float *params, *grad, *m, *v;
  double* sq;   // pass 1's output: Σ grad²
  float scale;  // pass 2's clip factor (adam.h clip_scale)
};

// Pass 1 over the whole vector (b, e unused: one call).
inline void SumChunksAndSquaresBody(const OptimizerStepArgs& a, int64_t, int64_t) {
  double sq = 0.0;
  for (int64_t b = 0; b < a.p; b += kSumBlock) {
    const int64_t n = a.p - b < kSumBlock ? a.p - b : kSumBlock;
    float* g = a.grad + b;
    if (a.chunks > 0) {
      const float* g0 = a.chunk_grads[0] + b;
      for (int64_t j = 0; j < n; ++j) g[j] = g0[j];
      for (int64_t k = 1; k < a.chunks; ++k) {
        const float* gk = a.chunk_grads[k] + b;
        for (int64_t j = 0; j < n; ++j) g[j] += gk[j];
      }
    }
    sq = sbi::nn::grad_sq_sum(n, g, sq);
  }
  *a.sq = sq;
}

// Pass 2 over the parameters [b, e).
inline void ClipAdamBody(const OptimizerStepArgs& a, int64_t b, int64_t e) {
  if (a.scale != 1.0f)
    for (int64_t i = b; i < e; ++i) a.grad[i] *= a.scale;
  sbi::nn::adam_step(*a.adam, a.step, e - b, a.params + b, a.grad + b, a.m + b, a.v + b);
}

SBI_MULTIVERSION(SumChunksAndSquares, OptimizerStepArgs, SumChunksAndSquaresBody)
SBI_MULTIVERSION(ClipAdam, OptimizerStepArgs, ClipAdamBody)

// One step: grad [p] receives the clipped sum of chunk_grads[0..chunks) (chunks == 0: grad
// holds it already and is clipped in place); params, m, v [p] are updated. Returns the
// gradient's norm before clipping.
inline double OptimizerStep(const sbi::nn::AdamConfig& adam, int64_t step, int64_t p, const float* const* chunk_grads,
                            int64_t chunks, double clip_max_norm, float* params, float* grad, float* m, float* v,
                            int threads) {
  static const decltype(&SumChunksAndSquares_scalar) kSum[3] = SBI_MULTIVERSION_TABLE(SumChunksAndSquares);
  static const decltype(&ClipAdam_scalar) kClipAdam[3] = SBI_MULTIVERSION_TABLE(ClipAdam);
  const int isa = static_cast<int>(ActiveIsa());
  double sq = 0.0;
  OptimizerStepArgs a{&adam, step, p, chunk_grads, chunks, params, grad, m, v, &sq, 1.0f};
  kSum[isa](a, 0, p);
  const double norm = std::sqrt(sq);
  a.scale = sbi::nn::clip_scale<float>(norm, clip_max_norm);
  const auto clip_adam = kClipAdam[isa];
  ParallelFor(p, kAdamBlock, threads, [&](int64_t b, int64_t e) { clip_adam(a, b, e); });
  return norm;
}

}  // namespace training
}  // namespace sbi_native
