// N-API boundary of the checkerboard affine coupling flow for φ⁴ theory
// (kernels/lattice/checkerboard_flow.h, kernels/lattice/phi4.h), in double throughout.
// `shape` is an Int32Array [L, layers, hidden, depth, K]; `params` a Float64Array of
// cbf_param_count(shape) values; configurations [n, L·L].
//   phi4FlowInit(shape, seed, params)
//     torch's Conv2d default U(±1/√fan_in) for weights and biases, value i from Philox stream
//     kInitStream of seed (fan_in = c_in·K·K).
//   phi4FlowForward(shape, params, z [n·V], phi [n·V], logq [n], threads?)   φ = f(z), log q(φ)
//   phi4FlowInverse(shape, params, phi [n·V], z [n·V], logq [n], threads?)   z = f⁻¹(φ), log q(φ)
//   phi4FlowLossGrad(shape, coupling [m², λ], params, z [n·V], grad [P]) -> loss
//     the reverse-KL loss mean_b(log q(φ_b) + S(φ_b)) at φ_b = f(z_b) and its parameter gradient.
//   phi4FlowTrain(shape, coupling, params, { seed, steps, batchSize, learningRate, threads? },
//                 onStep, cancelFlag) -> Promise<{ params, loss [steps], ess [steps] }>
//     Adam on the reverse-KL loss; step t draws z of configuration b from Philox stream
//     t·2³² + b of seed. onStep({ epoch: t + 1, trainLoss: loss, validationLoss: ESS of the
//     batch }) (the shared TrainWorker's field names). The batch is cut into fixed chunks of
//     kChunk configurations whose gradients are summed in chunk order: identical bits for any
//     thread count.
//   phi4FlowSample(shape, coupling, params, { seed, n, offset?, threads? }, magnetization [n],
//                  action [n], logq [n], phi [n·V] | undefined)
//   phi4FlowSampleAsync(..same.., onProgress(done, n), cancelFlag) -> Promise<void>
//     draw i: z from Philox stream offset + i of seed, φ = f(z); records M, S(φ), log q(φ).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/lattice/checkerboard_flow.h"
#include "../kernels/lattice/phi4.h"
#include "../kernels/nn/adam.h"
#include "batch.h"
#include "finite_checks.h"
#include "napi_util.h"
#include "runtime.h"
#include "train_worker.h"
#include "trainer.h"

namespace sbi_native {
namespace {

constexpr int64_t kChunk = 8;                                // configurations per gradient chunk
constexpr uint64_t kInitStream = ~uint64_t{0};               // above every training stream
constexpr int64_t kMaxTrainSteps = (int64_t{1} << 32) - 1;   // so t·2³² + b < kInitStream

sbi::CheckerboardFlowShape GetFlowShape(const Napi::Value& v) {
  Napi::Env env = v.Env();
  const View<int32_t> a = GetInt32Array(v, "shape", 5);
  const char* names[5] = {"L", "layers", "hidden", "depth", "K"};
  const int lo[5] = {2, 1, 1, 0, 1};
  const int hi[5] = {1024, 1024, 1024, sbi::kCbfMaxDepth - 1, 15};
  for (int i = 0; i < 5; ++i)
    if (a.data[i] < lo[i] || a.data[i] > hi[i])
      ThrowRangeError(env, std::string("Expected shape[") + std::to_string(i) + "] (" + names[i] + ") in [" +
                               std::to_string(lo[i]) + ", " + std::to_string(hi[i]) + "] but received " +
                               std::to_string(a.data[i]));
  if (a.data[4] % 2 == 0) ThrowRangeError(env, "Expected an odd kernel extent K but received " + std::to_string(a.data[4]));
  return {a.data[0], a.data[1], a.data[2], a.data[3], a.data[4]};
}

sbi::Phi4Params<double> GetPhi4(const Napi::Value& v, int L) {
  const View<double> c = GetFloat64Array(v, "coupling", 2);
  if (!std::isfinite(c.data[0]) || !std::isfinite(c.data[1]) || c.data[1] < 0 || (c.data[1] == 0 && c.data[0] <= 0))
    ThrowRangeError(v.Env(), "Expected finite [m2, lambda] with lambda > 0, or lambda = 0 and m2 > 0 (a normalisable e^-S), "
                             "but received [" + std::to_string(c.data[0]) + ", " + std::to_string(c.data[1]) + "]");
  return {L, c.data[0], c.data[1]};
}

View<double> GetParams(const Napi::Value& v, const sbi::CheckerboardFlowShape& s) {
  const View<double> p = GetFloat64Array(v, "params", sbi::cbf_param_count(s));
  CheckFiniteArray(v.Env(), p, "params");
  return p;
}

// z [V] of one draw from `stream` (sample_std_normal_fill needs an even count: one spare).
void DrawZ(uint64_t seed, uint64_t stream, int V, double* z) {
  sbi::PhiloxStream rng(seed, stream);
  sbi::sample_std_normal_fill(rng, z, V + (V & 1));
}

Napi::Value Phi4FlowInit(const Napi::CallbackInfo& info) {
  const sbi::CheckerboardFlowShape s = GetFlowShape(info[0]);
  const uint64_t seed = GetSeed(info[1], "seed");
  double* p = GetFloat64Array(info[2], "params", sbi::cbf_param_count(s)).data;
  sbi::PhiloxStream rng(seed, kInitStream);
  for (int l = 0; l < s.layers; ++l)
    for (int k = 0; k <= s.depth; ++k) {
      const sbi::Conv2dShape c = sbi::cbf_conv_shape(s, k);
      const double bound = 1.0 / std::sqrt(static_cast<double>(c.c_in * c.K * c.K));
      const int n = sbi::conv2d_weight_count(c) + c.c_out;
      for (int i = 0; i < n; ++i) *p++ = bound * (2.0 * rng.uniform() - 1.0);
    }
  return info.Env().Undefined();
}

// Forward or inverse over n configurations, parallel over configurations.
Napi::Value Transform(const Napi::CallbackInfo& info, bool inverse) {
  Napi::Env env = info.Env();
  const sbi::CheckerboardFlowShape s = GetFlowShape(info[0]);
  const View<double> params = GetParams(info[1], s);
  const int V = sbi::cbf_sites(s);
  const View<double> in = GetFloat64Array(info[2], inverse ? "phi" : "z", -1);
  if (in.length == 0 || in.length % V != 0)
    ThrowRangeError(env, std::string("Expected `") + (inverse ? "phi" : "z") + "` to hold one or more configurations of L·L = " +
                             std::to_string(V) + " sites but it has " + std::to_string(in.length) + " values");
  CheckFiniteArray(env, in, inverse ? "phi" : "z");
  const int64_t n = static_cast<int64_t>(in.length) / V;
  double* out = GetFloat64Array(info[3], inverse ? "z" : "phi", n * V).data;
  double* logq = GetFloat64Array(info[4], "logq", n).data;
  BatchJob job;
  job.n = n;
  job.grain = 4;
  job.threads = GetThreads(info[5]);
  const double* pd = params.data;
  const double* x = in.data;
  job.range = [=](int64_t b, int64_t e) {
    if (inverse) {
      std::vector<double> scratch(sbi::cbf_scratch_size(s));
      for (int64_t i = b; i < e; ++i)
        logq[i] = sbi::checkerboard_flow_inverse(s, pd, x + i * V, out + i * V, scratch.data());
    } else {
      std::vector<double> tape(sbi::cbf_tape_size(s)), scratch(V);
      for (int64_t i = b; i < e; ++i) {
        logq[i] = sbi::checkerboard_flow_forward(s, pd, x + i * V, tape.data(), scratch.data());
        std::copy(tape.end() - V, tape.end(), out + i * V);
      }
    }
  };
  RunBatch(job, nullptr, nullptr);
  return env.Undefined();
}

Napi::Value Phi4FlowForward(const Napi::CallbackInfo& info) { return Transform(info, false); }
Napi::Value Phi4FlowInverse(const Napi::CallbackInfo& info) { return Transform(info, true); }

// The reverse-KL loss of a batch and its gradient, in fixed chunks summed in order.
class ReverseKl {
 public:
  ReverseKl(const sbi::CheckerboardFlowShape& s, const sbi::Phi4Params<double>& p, int64_t batch)
      : s_(s), p_(p), V_(sbi::cbf_sites(s)), P_(sbi::cbf_param_count(s)), chunks_((batch + kChunk - 1) / kChunk),
        grads_(chunks_, std::vector<double>(P_)), tapes_(chunks_, std::vector<double>(sbi::cbf_tape_size(s))),
        scratch_(chunks_, std::vector<double>(sbi::cbf_scratch_size(s))),
        gphi_(chunks_, std::vector<double>(V_)), losses_(chunks_), log_w_(batch) {}

  int64_t param_count() const { return P_; }

  // z [batch, V] (or null: draw z of configuration b from stream `stream_base` + b of `seed`).
  // Returns the mean loss; grad [P] overwritten; log_w() holds −S − log q per configuration.
  double Run(const double* params, int64_t batch, const double* z, uint64_t seed, uint64_t stream_base, double* grad,
             int threads) {
    const double inv = 1.0 / static_cast<double>(batch);
    ParallelFor(chunks_, 1, threads, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        std::vector<double>& g = grads_[c];
        std::fill(g.begin(), g.end(), 0.0);
        double* tape = tapes_[c].data();
        double* scratch = scratch_[c].data();
        double* gphi = gphi_[c].data();
        double sum = 0.0;
        const int64_t e = std::min(batch, (c + 1) * kChunk);
        for (int64_t b = c * kChunk; b < e; ++b) {
          // z lands at the tape's start, where forward keeps it.
          if (z != nullptr) std::copy(z + b * V_, z + (b + 1) * V_, scratch);
          else DrawZ(seed, stream_base + static_cast<uint64_t>(b), V_, scratch);
          std::copy(scratch, scratch + V_, tape);
          const double logq = sbi::checkerboard_flow_forward(s_, params, tape, tape, scratch);
          const double* phi = tape + s_.layers * sbi::cbf_layer_tape(s_);
          const double S = sbi::phi4_action_grad(p_, phi, gphi);
          for (int i = 0; i < V_; ++i) gphi[i] *= inv;
          sum += logq + S;
          log_w_[b] = -S - logq;
          sbi::checkerboard_flow_backward(s_, params, tape, gphi, inv, g.data(), static_cast<double*>(nullptr), scratch);
        }
        losses_[c] = sum;
      }
    });
    std::copy(grads_[0].begin(), grads_[0].end(), grad);
    double loss = losses_[0];
    for (int64_t c = 1; c < chunks_; ++c) {
      loss += losses_[c];
      for (int64_t j = 0; j < P_; ++j) grad[j] += grads_[c][j];
    }
    return loss * inv;
  }

  // ESS / batch of the importance weights e^{−S − log q} of the last batch.
  double Ess() const {
    double mx = -INFINITY;
    for (double w : log_w_) mx = std::max(mx, w);
    double s1 = 0.0, s2 = 0.0;
    for (double w : log_w_) {
      const double e = std::exp(w - mx);
      s1 += e;
      s2 += e * e;
    }
    return s1 * s1 / (s2 * static_cast<double>(log_w_.size()));
  }

 private:
  sbi::CheckerboardFlowShape s_;
  sbi::Phi4Params<double> p_;
  int V_;
  int64_t P_, chunks_;
  std::vector<std::vector<double>> grads_, tapes_, scratch_, gphi_;
  std::vector<double> losses_, log_w_;
};

Napi::Value Phi4FlowLossGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const sbi::CheckerboardFlowShape s = GetFlowShape(info[0]);
  const sbi::Phi4Params<double> p = GetPhi4(info[1], s.L);
  const View<double> params = GetParams(info[2], s);
  const int V = sbi::cbf_sites(s);
  const View<double> z = GetFloat64Array(info[3], "z", -1);
  if (z.length == 0 || z.length % V != 0)
    ThrowRangeError(env, "Expected `z` to hold one or more configurations of L·L = " + std::to_string(V) +
                             " sites but it has " + std::to_string(z.length) + " values");
  CheckFiniteArray(env, z, "z");
  const int64_t n = static_cast<int64_t>(z.length) / V;
  double* grad = GetFloat64Array(info[4], "grad", sbi::cbf_param_count(s)).data;
  ReverseKl kl(s, p, n);
  return Napi::Number::New(env, kl.Run(params.data, n, z.data, 0, 0, grad, 1));
}

struct TrainJob {
  using Epoch = training::Epoch;
  sbi::CheckerboardFlowShape s{};
  sbi::Phi4Params<double> p{};
  std::vector<double> params;
  uint64_t seed = 0;
  int64_t steps = 0, batch = 0;
  sbi::nn::AdamConfig adam{};
  int threads = 0;
  std::vector<double> loss, ess;
  bool cancelled = false;

  void Run(const int32_t* cancel, const std::function<void(const Epoch&)>& on_step) {
    ReverseKl kl(s, p, batch);
    const int64_t P = kl.param_count();
    std::vector<double> grad(P), m(P, 0.0), v(P, 0.0);
    for (int64_t t = 0; t < steps; ++t) {
      if (cancel != nullptr && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) {
        cancelled = true;
        return;
      }
      const double l = kl.Run(params.data(), batch, nullptr, seed, static_cast<uint64_t>(t) << 32, grad.data(), threads);
      const double e = kl.Ess();
      sbi::nn::adam_step(adam, t + 1, P, params.data(), grad.data(), m.data(), v.data());
      loss.push_back(l);
      ess.push_back(e);
      on_step(Epoch{t + 1, l, e});
    }
  }
  bool Cancelled() const { return cancelled; }
  void Fill(Napi::Env env, Napi::Object& o) const {
    o.Set("params", ToFloat64Array(env, params));
    o.Set("loss", ToFloat64Array(env, loss));
    o.Set("ess", ToFloat64Array(env, ess));
  }
};

Napi::Value Phi4FlowTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<TrainJob>();
  job->s = GetFlowShape(info[0]);
  job->p = GetPhi4(info[1], job->s.L);
  const View<double> params = GetParams(info[2], job->s);
  job->params.assign(params.data, params.data + params.length);
  if (!info[3].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[3]));
  const Napi::Object o = info[3].As<Napi::Object>();
  job->seed = GetSeed(o.Get("seed"), "seed");
  job->steps = GetInteger(o.Get("steps"), "steps", 1, kMaxTrainSteps);
  job->batch = GetInteger(o.Get("batchSize"), "batchSize", 1, int64_t{1} << 20);
  job->adam.lr = GetNumberOption(o, "learningRate", 1e-3, 0.0, 1.0, false);
  if (!(job->adam.lr > 0.0)) ThrowRangeError(env, "Expected a positive `learningRate` but received 0");
  job->threads = GetThreads(o.Get("threads"));
  return QueueTrainWorker(env, std::move(job), info[4], info[5]);
}

struct SampleRun {
  sbi::CheckerboardFlowShape s{};
  sbi::Phi4Params<double> p{};
  const double* params = nullptr;
  uint64_t seed = 0, offset = 0;
  double *magnetization = nullptr, *action = nullptr, *logq = nullptr, *phi = nullptr;
};

PreparedBatch PrepareSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto run = std::make_shared<SampleRun>();
  run->s = GetFlowShape(info[0]);
  run->p = GetPhi4(info[1], run->s.L);
  run->params = GetParams(info[2], run->s).data;
  if (!info[3].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[3]));
  const Napi::Object o = info[3].As<Napi::Object>();
  run->seed = GetSeed(o.Get("seed"), "seed");
  const int64_t n = GetInteger(o.Get("n"), "n", 1, int64_t{1} << 40);
  const Napi::Value offset = o.Get("offset");
  run->offset = IsAbsent(offset) ? 0 : static_cast<uint64_t>(GetInteger(offset, "offset", 0, int64_t{1} << 52));
  const int V = sbi::cbf_sites(run->s);
  run->magnetization = GetFloat64Array(info[4], "magnetization", n).data;
  run->action = GetFloat64Array(info[5], "action", n).data;
  run->logq = GetFloat64Array(info[6], "logq", n).data;
  if (!IsAbsent(info[7])) run->phi = GetFloat64Array(info[7], "phi", n * V).data;
  PreparedBatch prepared;
  prepared.job.n = n;
  prepared.job.grain = 16;
  prepared.job.threads = GetThreads(o.Get("threads"));
  prepared.job.range = [run, V](int64_t b, int64_t e) {
    const sbi::CheckerboardFlowShape& s = run->s;
    std::vector<double> tape(sbi::cbf_tape_size(s)), scratch(V + 1);
    const double* phi = tape.data() + s.layers * sbi::cbf_layer_tape(s);
    for (int64_t i = b; i < e; ++i) {
      DrawZ(run->seed, run->offset + static_cast<uint64_t>(i), V, scratch.data());
      std::copy(scratch.begin(), scratch.begin() + V, tape.begin());
      run->logq[i] = sbi::checkerboard_flow_forward(s, run->params, tape.data(), tape.data(), scratch.data());
      run->action[i] = sbi::phi4_action(run->p, phi);
      run->magnetization[i] = sbi::phi4_magnetization(s.L, phi);
      if (run->phi != nullptr) std::copy(phi, phi + V, run->phi + i * V);
    }
  };
  prepared.pinned = {info[2], info[4], info[5], info[6]};
  if (run->phi != nullptr) prepared.pinned.push_back(info[7]);
  prepared.result = [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return prepared;
}

void InitLatticeFlow(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "phi4FlowInit", Phi4FlowInit);
  ExportFunction(env, exports, "phi4FlowForward", Phi4FlowForward);
  ExportFunction(env, exports, "phi4FlowInverse", Phi4FlowInverse);
  ExportFunction(env, exports, "phi4FlowLossGrad", Phi4FlowLossGrad);
  ExportFunction(env, exports, "phi4FlowTrain", Phi4FlowTrain);
  ExportBatchPair<PrepareSample, 8>(env, exports, "phi4FlowSample");
}

}  // namespace
SBI_NATIVE_MODULE(InitLatticeFlow);
}  // namespace sbi_native
