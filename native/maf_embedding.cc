// N-API test entry point of the MAF with an embedding network (kernels/flows/maf_embedding.h),
// in the precision of `params` (Float64Array: double, Float32Array: float):
//   mafEmbeddedLogProbBackward(arch, transform, hyper, params, embeddingSizes Int32Array [L + 1],
//                              embeddingParams, theta [n·dim], x [n·sizes[0]], gParams,
//                              gEmbeddingParams) -> mean −log q(θ | e(x))
//   arch, transform, hyper, params as in maf.cc; the last of embeddingSizes must be contextDim.
//   gParams and gEmbeddingParams (overwritten) receive the gradients of the returned mean.
// One call, single-threaded: the training loop (native/flow_trainer.cc) runs the same kernel in chunks.
#include <string>
#include <vector>

#include "../kernels/flows/maf_embedding.h"
#include "flow_spec.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 24;

template <class T>
double EmbeddedBackward(Napi::Env env, const MafSpec& s, const Napi::CallbackInfo& info) {
  std::vector<uint8_t> mask;
  const T* params = GetParams<T>(env, s, info[3], mask);
  const View<int32_t> sz = GetInt32Array(info[4], "embeddingSizes", -1);
  if (sz.length < 2 || sz.length > 65)
    ThrowRangeError(env, "Expected `embeddingSizes` to hold 2 to 65 layer widths but received " + std::to_string(sz.length));
  std::vector<int64_t> sizes(sz.data, sz.data + sz.length);
  for (size_t l = 0; l < sizes.size(); ++l)
    if (sizes[l] < 1 || sizes[l] > (1 << 16))
      ThrowRangeError(env, "Expected `embeddingSizes` to hold widths in [1, 65536] but index " + std::to_string(l) +
                               " is " + std::to_string(sizes[l]));
  const int C = s.shape.made.context, D = s.shape.made.dim;
  if (sizes.back() != C)
    ThrowRangeError(env, "Expected the last of `embeddingSizes` to be the flow's contextDim = " + std::to_string(C) +
                             " but received " + std::to_string(sizes.back()));
  const sbi::MafEmbedding em{sbi::nn::Activation::ReLU, static_cast<int>(sizes.size()) - 1, sizes.data()};
  const int64_t q = sbi::nn::mlp_param_count(em.layers, em.sizes);
  const T* eparams = GetFloatArray<T>(info[5], "embeddingParams", q).data;
  const auto theta = GetFloatArray<T>(info[6], "theta", -1);
  if (theta.length == 0 || theta.length % D != 0 || static_cast<int64_t>(theta.length / D) > kMaxRows)
    ThrowRangeError(env, "Expected `theta` to hold a positive multiple of dim = " + std::to_string(D) +
                             " values but received " + std::to_string(theta.length));
  const int64_t n = static_cast<int64_t>(theta.length / D);
  const T* x = GetFloatArray<T>(info[7], "x", n * sizes[0]).data;
  T* g_params = GetFloatArray<T>(info[8], "gParams", s.param_count).data;
  T* g_eparams = GetFloatArray<T>(info[9], "gEmbeddingParams", q).data;
  std::vector<T> work(static_cast<size_t>(sbi::maf_workspace_size(s.shape, n)));
  std::vector<T> ework(static_cast<size_t>(sbi::maf_embedding_work_size(em, n)));
  std::vector<T> log_prob(static_cast<size_t>(n));
  const T scale = T(1) / static_cast<T>(n);
  if (s.transform.kind == Transform::Affine) {
    const sbi::AffineElement<T> e{static_cast<T>(s.transform.scale_bound)};
    return static_cast<double>(sbi::maf_embedded_nll_backward(s.shape, e, em, n, params, mask.data(), eparams,
                                                              theta.data, x, scale, g_params, g_eparams,
                                                              log_prob.data(), work.data(), ework.data()));
  }
  const sbi::RqSplineElement<T> e{SplineConfig<T>(s.transform)};
  return static_cast<double>(sbi::maf_embedded_nll_backward(s.shape, e, em, n, params, mask.data(), eparams, theta.data,
                                                            x, scale, g_params, g_eparams, log_prob.data(), work.data(),
                                                            ework.data()));
}

Napi::Value MafEmbeddedLogProbBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  const double loss = IsSinglePrecision(env, info[3], "params") ? EmbeddedBackward<float>(env, s, info)
                                                                  : EmbeddedBackward<double>(env, s, info);
  return Napi::Number::New(env, loss);
}

}  // namespace
SBI_NATIVE_FUNCTION("mafEmbeddedLogProbBackward", MafEmbeddedLogProbBackward);
}  // namespace sbi_native
