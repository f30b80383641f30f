// Host entry points of the CUDA launchers of the density estimators' ops (flow.maf_log_prob,
// flow.maf_sample, flow.mdn_log_prob, flow.mdn_sample, flow.mdn_train, nre.log_ratio, nre.train):
// kernels/flows/maf.cu,
// kernels/flows/mdn.cu and kernels/nn/resnet.cu. Plain C++ like cuda_launch.h (the kernel headers
// it names are portable C++), so that native/cuda/flow_ops.cc needs no CUDA headers. float32
// throughout, as the CPU's float paths; each call copies its inputs to the device, runs one thread
// per row through the CPU's own functions (maf_log_prob, maf_sample, mlp_forward,
// mdn_row_log_prob, mdn_row_sample, resnet_forward) and copies the outputs back. Row i's random
// draws come from Philox stream i of `seed`, as on the CPU.
#pragma once
#include <cstdint>

#include "../flows/maf.h"
#include "../flows/mdn.h"
#include "../nn/ratio_loss.h"
#include "../nn/resnet.h"
#include "cuda_launch.h"

namespace sbi {
namespace cuda {

// The MAF's elementwise transform: the affine element (scale_bound) or, with `spline`, the
// rational-quadratic spline element (spline_config), as native/flow_spec.h parses them.
struct MafElementSpec {
  bool spline = false;
  float scale_bound = 0;
  RqSplineConfig<float> spline_config{};
};

// log q(θ | x) [n] of θ [n, D]: maf_log_prob. ctx: [C] with ctx_stride 0 (one context for all
// rows), [n, C] with ctx_stride C, or null when C = 0. params: maf_param_count(s) values.
Status maf_log_prob(const MafShape& s, const MafElementSpec& e, int64_t n, const float* params, const float* theta,
                    const float* ctx, int64_t ctx_stride, float* log_prob);
// θ [n, D] and log q [n] of n draws: maf_sample_base (row i: Philox stream i of seed), then maf_sample.
Status maf_sample(const MafShape& s, const MafElementSpec& e, int64_t n, const float* params, const float* ctx,
                  int64_t ctx_stride, uint64_t seed, float* theta, float* log_prob);

// The MDN's conditioner: a ReLU MLP of `layers` layers with widths sizes [layers + 1]
// (sizes[0] = C, sizes[layers] = K · W; at most kMdnMaxLayers layers), mlp.h's parameter layout.
constexpr int kMdnMaxLayers = 17;
// The head's per-row workspace bound (mdn_work_size: K + D, K <= 100, D <= 64).
constexpr int kMdnMaxWork = 164;
// log q(y | c) [n] of z-scored y [n, D]; ctx [ctx_rows, C] with ctx_rows 1 (one context for all
// rows: the conditioner runs once) or n.
Status mdn_log_prob(const MdnShape& head, int layers, const int64_t* sizes, const float* params, int64_t n,
                    const float* y, const float* ctx, int64_t ctx_rows, float* log_prob);
// y [n, D]: n draws, row i from Philox stream i of seed (mdn_row_sample).
Status mdn_sample(const MdnShape& head, int layers, const int64_t* sizes, const float* params, int64_t n,
                  const float* ctx, int64_t ctx_rows, uint64_t seed, float* y);

// One training step per batch (op flow.mdn_train), as src/backend/mdn_train_cpu.ts takes them:
// batch b has rows[b] rows, its z-scored y [rows[b], D] and context [rows[b], C] concatenated in
// order; the gradient of the batch-mean −log q, clip_grad_norm at clip_max_norm, adam_step (step
// b + 1, learning_rate, adam.h's other defaults; m = v = 0 at the start). params is updated in
// place; losses[b] = batch b's mean −log q before its step.
Status mdn_train(const MdnShape& head, int layers, const int64_t* sizes, double learning_rate, double clip_max_norm,
                 int batches, const int64_t* rows, const float* y, const float* ctx, float* params, double* losses);

// The widest embedding network of x the NRE launchers take: embed_sizes has at most this many widths.
constexpr int kNreMaxEmbedWidths = 65;
// out [n] = the ratio classifier's logit log r(θ_i, x_i) (native/ratio_trainer.cc RatioLogits):
// the network `net` (net.out = 1) on [z(θ_i), z(x_i)] (net.in = D + C), or, with an embedding
// network (embed_layers >= 1: a ReLU MLP of widths embed_sizes [embed_layers + 1], identity output,
// parameters embed_params), on [z(θ_i), e(z(x_i))] (net.in = D + embed_sizes[embed_layers]);
// z-scored by standardize_to_float with stats = [θ mean (D), θ std (D), x mean (C), x std (C)].
// x: [n, C], or [C] for every row when x_broadcast.
Status nre_log_ratio(const nn::ResNetShape& net, int theta_dim, int x_dim, const float* params, const double* stats,
                     int64_t n, const double* theta, const double* x, bool x_broadcast, double* out,
                     int embed_layers = 0, const int64_t* embed_sizes = nullptr, const float* embed_params = nullptr);

// One training step per batch (op nre.train), as src/backend/ratio_ops.ts's cpuNreTrainSteps:
// batch b has rows[b] rows, i.e. rows[b] · ratio_logits_per_row(loss) gathered input pairs
// [pairs, net.in] (gatherRatioBatch), concatenated in order in `input`; resnet_forward, ratio_loss,
// resnet_backward, clip_grad_norm at clip_max_norm, adam_step (step b + 1, learning_rate, adam.h's
// other defaults). params is updated in place; losses[b] = batch b's loss before its step.
Status nre_train(const nn::ResNetShape& net, const nn::RatioLossConfig& loss, double learning_rate,
                 double clip_max_norm, int batches, const int64_t* rows, const float* input, float* params,
                 double* losses);

}  // namespace cuda
}  // namespace sbi
