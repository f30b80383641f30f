// The float network kernels that training, sampling and MCMC call in their hot loops, compiled
// once per instruction set (SBI_MULTIVERSION) and dispatched on the active path, so that the
// dense layers run with the widest vectors the CPU has (kernels/common/simd_width.h). Same
// arguments and results as the kernels they wrap (bit-identical on every path).
#pragma once
#include <cstdint>

#include "../kernels/flows/maf.h"
#include "../kernels/nn/mlp.h"
#include "../kernels/nn/resnet.h"

namespace sbi_native {

void ResNetForward(const sbi::nn::ResNetShape& s, int64_t n, const float* params, const float* x, float* saved,
                   float* y);
void ResNetBackward(const sbi::nn::ResNetShape& s, int64_t n, const float* params, const float* x, const float* saved,
                    const float* dy, float* grads, float* scratch, float* dx = nullptr);
const float* MlpForward(sbi::nn::Activation act, int layers, const int64_t* sizes, int64_t n, const float* x,
                        const float* params, float* saved);
void MlpBackward(sbi::nn::Activation act, int layers, const int64_t* sizes, int64_t n, const float* x,
                 const float* params, const float* saved, const float* dout, float* grads, float* scratch);

// maf_log_prob / maf_sample for the float elements; other scalar types run the portable kernel.
template <class T, class E>
void MafLogProb(const sbi::MafShape& s, const E& e, int64_t n, const T* params, const T* theta, const T* ctx,
                int64_t ctx_stride, T* log_prob, T* base, T* work) {
  sbi::maf_log_prob(s, e, n, params, theta, ctx, ctx_stride, log_prob, base, work);
}
template <class T, class E>
void MafSample(const sbi::MafShape& s, const E& e, int64_t n, const T* params, const T* ctx, int64_t ctx_stride,
               const T* u, T* theta, T* log_prob, T* work) {
  sbi::maf_sample(s, e, n, params, ctx, ctx_stride, u, theta, log_prob, work);
}
#define SBI_DECLARE_MAF_DISPATCH(E)                                                                                 \
  template <>                                                                                                     \
  void MafLogProb<float, E>(const sbi::MafShape& s, const E& e, int64_t n, const float* params, const float* theta, \
                            const float* ctx, int64_t ctx_stride, float* log_prob, float* base, float* work);      \
  template <>                                                                                                     \
  void MafSample<float, E>(const sbi::MafShape& s, const E& e, int64_t n, const float* params, const float* ctx,     \
                           int64_t ctx_stride, const float* u, float* theta, float* log_prob, float* work);
SBI_DECLARE_MAF_DISPATCH(sbi::AffineElement<float>)
SBI_DECLARE_MAF_DISPATCH(sbi::RqSplineElement<float>)
#undef SBI_DECLARE_MAF_DISPATCH

}  // namespace sbi_native
