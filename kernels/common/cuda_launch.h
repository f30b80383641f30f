// Host entry points of the CUDA launchers (kernels/<family>/*.cu). Plain C++, so that the N-API
// boundary of the CUDA addon (native/cuda/, built by the host compiler) needs no CUDA headers.
// Each launcher copies its inputs to the device, runs one kernel over all rows, copies the
// outputs back and frees what it allocated, on every path. Row i of a batch uses Philox stream
// (stream_offset + i), exactly as the CPU batches do, so results do not depend on the backend.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sbi {
namespace cuda {

// code: the cudaError_t value (0: success); message: the failing call and CUDA's description.
struct Status {
  int code = 0;
  std::string message;
  bool ok() const { return code == 0; }
};

// True for the error codes that mean "no usable device": no device, no driver or a driver too
// old for the runtime linked in.
bool is_no_device(int code);

// Number of CUDA devices; a failure (e.g. no driver) sets *count = 0 and says why.
Status device_count(int* count);
// The current device's name and compute capability ("NVIDIA H100 80GB HBM3, sm_90").
Status device_description(std::string* description);

// out[4·i .. 4·i + 4) = Philox4x32-10 block (first_block + i) of stream (seed, stream): the words
// PhiloxStream(seed, stream, first_block) hands out (kernels/random/philox.h).
Status philox_blocks(uint64_t seed, uint64_t stream, uint64_t first_block, int64_t blocks, uint32_t* out);

// The CPU's `sample` op for uniform(low = p0, high = p1) and normal(mean = p0, sd = p1):
// out[i] from PhiloxStream(seed, stream_offset + i).
enum class Sampler : int { Uniform = 0, Normal = 1 };
Status sample(Sampler sampler, double p0, double p1, int64_t n, uint64_t seed, uint64_t stream_offset, double* out);
// The CPU's samplerFill from a fresh stream: out[0..n) = n uniform() draws (sample_uniform_fill),
// or n/2 sample_std_normal_pair draws (sample_std_normal_fill; n even), of stream (seed, stream).
Status sampler_fill(Sampler sampler, uint64_t seed, uint64_t stream, int64_t n, double* out);

// The simulators with a CUDA launcher (kernels/simulators/simulators.cu).
struct SimulatorInfo {
  const char* name;
  int theta_dim;
  int x_dim;
  int design_dim;  // design variables shared by all rows (0: none)
};
int simulator_count();
const SimulatorInfo& simulator_info(int id);
// theta [n, theta_dim], design [design_dim] (null when design_dim is 0) -> x [n, x_dim], failed [n]
// (1: the row failed or was not finite and is NaN), as the CPU's RunRows; *failed_rows = number
// of failed rows.
Status simulate(int id, const double* theta, const double* design, int64_t n, uint64_t seed, uint64_t stream_offset,
                float* x, uint8_t* failed, int64_t* failed_rows);

// Y = act(X · Wᵀ + b) (kernels/nn/dense.h; activation as sbi::nn::Activation), pre = Z or null.
Status dense_forward(int activation, int64_t n, int64_t in_dim, int64_t out_dim, const float* x, const float* w,
                     const float* b, float* y, float* pre);
Status dense_forward(int activation, int64_t n, int64_t in_dim, int64_t out_dim, const double* x, const double* w,
                     const double* b, double* y, double* pre);

// The MLP ops in float (kernels/nn/mlp.cu; mlp.h's layout): sizes [layers + 1] layer widths,
// `activation` (sbi::nn::Activation) after every hidden layer, params flat (W_l, then b_l, per layer).
// out [n, sizes[layers]] = the MLP's output for x [n, sizes[0]].
Status mlp_forward(int activation, int layers, const int64_t* sizes, int64_t n, const float* x, const float* params,
                   float* out);
// grads [params] = the parameter gradients of Σ dout ⊙ output over the n rows.
Status mlp_gradients(int activation, int layers, const int64_t* sizes, int64_t n, const float* x, const float* params,
                     const float* dout, float* grads);
// sbi::nn::AdamConfig, without the kernel headers.
struct AdamSettings {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
};
// One Adam step per batch (step b + 1), from params (updated in place), m = v = 0: batch b has
// rows[b] rows, its x and target concatenated in order ([rows[b], sizes[0]] and
// [rows[b], sizes[layers]]); loss 0: BCE with logits, 1: MSE; losses[b] = batch b's loss before its step.
Status mlp_train(int activation, int layers, const int64_t* sizes, int loss, const AdamSettings& adam, int batches,
                 const int64_t* rows, const float* x, const float* target, float* params, double* losses);

// The trellis's inside pass and, with `marginals`, its marginal pass (kernels/trellis/trellis.cu):
// energy 0: Ginkgo, params [λ, λ_root, t_cut]; 1: Gaussian linkage, params [σ]; leaves [n·4],
// 1 <= n <= 22. As native/trellis.cc's result: log Z, the MAP energy, the MAP hierarchy's splits
// (pre-order (parent, part holding its lowest leaf) pairs; has_map false when no hierarchy has
// finite energy) and P(cluster) by bitmask [2^n].
struct TrellisOutput {
  double log_z = 0, map_energy = 0;
  bool has_map = false;
  std::vector<uint32_t> map_splits;
  std::vector<double> marginals;
};
Status trellis(int energy, const double* params, const double* leaves, int n, bool marginals, TrellisOutput* out);

}  // namespace cuda
}  // namespace sbi
