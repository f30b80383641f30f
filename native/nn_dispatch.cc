#include "nn_dispatch.h"

#include "runtime.h"

namespace sbi_native {
namespace {

// One argument block per kernel; the range arguments of SBI_MULTIVERSION are unused (one call).
struct ResNetArgs {
  const sbi::nn::ResNetShape* s;
  int64_t n;
  const float *params, *x, *saved_in, *dy;
  float *saved, *y, *grads, *scratch, *dx;
};
inline void ResNetForwardBody(const ResNetArgs& a, int64_t, int64_t) {
  sbi::nn::resnet_forward(*a.s, a.n, a.params, a.x, a.saved, a.y);
}
inline void ResNetBackwardBody(const ResNetArgs& a, int64_t, int64_t) {
  sbi::nn::resnet_backward(*a.s, a.n, a.params, a.x, a.saved_in, a.dy, a.grads, a.scratch, a.dx);
}
SBI_MULTIVERSION(ResNetForwardV, ResNetArgs, ResNetForwardBody)
SBI_MULTIVERSION(ResNetBackwardV, ResNetArgs, ResNetBackwardBody)

struct MlpArgs {
  sbi::nn::Activation act;
  int layers;
  const int64_t* sizes;
  int64_t n;
  const float *x, *params, *saved_in, *dout;
  float *saved, *grads, *scratch;
  const float** out;
};
inline void MlpForwardBody(const MlpArgs& a, int64_t, int64_t) {
  *a.out = sbi::nn::mlp_forward(a.act, a.layers, a.sizes, a.n, a.x, a.params, a.saved);
}
inline void MlpBackwardBody(const MlpArgs& a, int64_t, int64_t) {
  sbi::nn::mlp_backward(a.act, a.layers, a.sizes, a.n, a.x, a.params, a.saved_in, a.dout, a.grads, a.scratch);
}
SBI_MULTIVERSION(MlpForwardV, MlpArgs, MlpForwardBody)
SBI_MULTIVERSION(MlpBackwardV, MlpArgs, MlpBackwardBody)

template <class E>
struct MafArgs {
  const sbi::MafShape* s;
  const E* e;
  int64_t n;
  const float *params, *theta, *ctx, *u;
  int64_t ctx_stride;
  float *log_prob, *base, *work, *theta_out;
};
template <class E>
inline void MafLogProbBody(const MafArgs<E>& a, int64_t, int64_t) {
  sbi::maf_log_prob(*a.s, *a.e, a.n, a.params, a.theta, a.ctx, a.ctx_stride, a.log_prob, a.base, a.work);
}
template <class E>
inline void MafSampleBody(const MafArgs<E>& a, int64_t, int64_t) {
  sbi::maf_sample(*a.s, *a.e, a.n, a.params, a.ctx, a.ctx_stride, a.u, a.theta_out, a.log_prob, a.work);
}
using AffineMafArgs = MafArgs<sbi::AffineElement<float>>;
using SplineMafArgs = MafArgs<sbi::RqSplineElement<float>>;
SBI_MULTIVERSION(AffineLogProbV, AffineMafArgs, MafLogProbBody)
SBI_MULTIVERSION(SplineLogProbV, SplineMafArgs, MafLogProbBody)
SBI_MULTIVERSION(AffineSampleV, AffineMafArgs, MafSampleBody)
SBI_MULTIVERSION(SplineSampleV, SplineMafArgs, MafSampleBody)

template <class Args>
using Fn = void (*)(const Args&, int64_t, int64_t);
template <class Args>
void Dispatch(const Fn<Args> (&table)[3], const Args& a) {
  table[static_cast<int>(ActiveIsa())](a, 0, 1);
}

}  // namespace

void ResNetForward(const sbi::nn::ResNetShape& s, int64_t n, const float* params, const float* x, float* saved,
                   float* y) {
  static const Fn<ResNetArgs> kTable[3] = SBI_MULTIVERSION_TABLE(ResNetForwardV);
  Dispatch(kTable, ResNetArgs{&s, n, params, x, nullptr, nullptr, saved, y, nullptr, nullptr, nullptr});
}

void ResNetBackward(const sbi::nn::ResNetShape& s, int64_t n, const float* params, const float* x, const float* saved,
                    const float* dy, float* grads, float* scratch, float* dx) {
  static const Fn<ResNetArgs> kTable[3] = SBI_MULTIVERSION_TABLE(ResNetBackwardV);
  Dispatch(kTable, ResNetArgs{&s, n, params, x, saved, dy, nullptr, nullptr, grads, scratch, dx});
}

const float* MlpForward(sbi::nn::Activation act, int layers, const int64_t* sizes, int64_t n, const float* x,
                        const float* params, float* saved) {
  static const Fn<MlpArgs> kTable[3] = SBI_MULTIVERSION_TABLE(MlpForwardV);
  const float* out = nullptr;
  Dispatch(kTable, MlpArgs{act, layers, sizes, n, x, params, nullptr, nullptr, saved, nullptr, nullptr, &out});
  return out;
}

void MlpBackward(sbi::nn::Activation act, int layers, const int64_t* sizes, int64_t n, const float* x,
                 const float* params, const float* saved, const float* dout, float* grads, float* scratch) {
  static const Fn<MlpArgs> kTable[3] = SBI_MULTIVERSION_TABLE(MlpBackwardV);
  Dispatch(kTable, MlpArgs{act, layers, sizes, n, x, params, saved, dout, nullptr, grads, scratch, nullptr});
}

#define SBI_DEFINE_MAF_DISPATCH(E, ARGS, LOGPROB, SAMPLE)                                                          \
  template <>                                                                                                     \
  void MafLogProb<float, E>(const sbi::MafShape& s, const E& e, int64_t n, const float* params, const float* theta, \
                            const float* ctx, int64_t ctx_stride, float* log_prob, float* base, float* work) {     \
    static const Fn<ARGS> kTable[3] = SBI_MULTIVERSION_TABLE(LOGPROB);                                            \
    Dispatch(kTable, ARGS{&s, &e, n, params, theta, ctx, nullptr, ctx_stride, log_prob, base, work, nullptr});    \
  }                                                                                                               \
  template <>                                                                                                     \
  void MafSample<float, E>(const sbi::MafShape& s, const E& e, int64_t n, const float* params, const float* ctx,     \
                           int64_t ctx_stride, const float* u, float* theta, float* log_prob, float* work) {       \
    static const Fn<ARGS> kTable[3] = SBI_MULTIVERSION_TABLE(SAMPLE);                                             \
    Dispatch(kTable, ARGS{&s, &e, n, params, nullptr, ctx, u, ctx_stride, log_prob, nullptr, work, theta});       \
  }
SBI_DEFINE_MAF_DISPATCH(sbi::AffineElement<float>, AffineMafArgs, AffineLogProbV, AffineSampleV)
SBI_DEFINE_MAF_DISPATCH(sbi::RqSplineElement<float>, SplineMafArgs, SplineLogProbV, SplineSampleV)
#undef SBI_DEFINE_MAF_DISPATCH

}  // namespace sbi_native
