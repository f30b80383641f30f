// N-API boundary of the lattice flows, in double throughout: the checkerboard affine coupling
// flow for φ⁴ theory (kernels/lattice/checkerboard_flow.h, kernels/lattice/phi4.h) and the
// gauge-equivariant coupling flow for U(1) (kernels/lattice/gauge_flow.h, kernels/lattice/u1.h).
// Both share one reverse-KL trainer and one sampler over a "model" (flow shape + target, below);
// each has the same six entry points, prefixed phi4Flow / u1Flow:
//   shape    φ⁴: Int32Array [L, layers, hidden, depth, K];  U(1): [L, layers, hidden, depth, K, components]
//   coupling φ⁴: Float64Array [m², λ];                     U(1): [β]
//   params   Float64Array of the flow's parameter count; configurations [n, D], D = L·L (φ⁴) or 2·L·L (U(1) links)
//   xxxFlowInit(shape, seed, params)
//     torch's Conv2d default U(±1/√fan_in) for weights and biases, value i from Philox stream
//     kInitStream of seed (fan_in = c_in·K·K).
//   xxxFlowForward(shape, params, z [n·D], x [n·D], logq [n], threads?)   x = f(z), log q(x)
//   xxxFlowInverse(shape, params, x [n·D], z [n·D], logq [n], threads?)   z = f⁻¹(x), log q(x)
//   xxxFlowLossGrad(shape, coupling, params, z [n·D], grad [P], gz? [n·D]) -> loss
//     the reverse-KL loss mean_b(log q(x_b) + S(x_b)) at x_b = f(z_b), its parameter gradient and,
//     with gz, its gradient in z.
//   xxxFlowTrain(shape, coupling, params, { seed, steps, batchSize, learningRate, threads? },
//                onStep, cancelFlag) -> Promise<{ params, loss [steps], ess [steps] }>
//     Adam on the reverse-KL loss; step t draws z of configuration b from Philox stream
//     t·2³² + b of seed (φ⁴: N(0, 1) per site; U(1): uniform links in [0, 2π)). onStep({ epoch:
//     t + 1, trainLoss: loss, validationLoss: ESS of the batch }) (the shared TrainWorker's field
//     names). The batch is cut into fixed chunks of kChunk configurations whose gradients are
//     summed in chunk order: identical bits for any thread count.
//   xxxFlowSample(shape, coupling, params, { seed, n, offset?, threads? }, observable [n],
//                 action [n], logq [n], x [n·D] | undefined)
//   xxxFlowSampleAsync(..same.., onProgress(done, n), cancelFlag) -> Promise<void>
//     draw i: z from Philox stream offset + i of seed, x = f(z); records the observable
//     (φ⁴: magnetisation M; U(1): topological charge Q), S(x), log q(x).
//     φ⁴ only, options.symmetric: draws from the Z2-symmetrised proposal q_s(φ) = ½(q(φ) + q(−φ))
//     of the action's symmetry φ → −φ instead: φ = f(z) flipped to −φ when the uniform from block
//     2⁶³ of the draw's stream is below ½, and log q_s = log ½(e^{log q(φ)} + e^{log q(−φ)}), q(−φ)
//     by the inverse pass.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/lattice/checkerboard_flow.h"
#include "../kernels/lattice/gauge_flow.h"
#include "../kernels/lattice/phi4.h"
#include "../kernels/lattice/u1.h"
#include "../kernels/nn/adam.h"
#include "batch.h"
#include "finite_checks.h"
#include "lattice_spec.h"
#include "napi_util.h"
#include "runtime.h"
#include "train_worker.h"
#include "trainer.h"

namespace sbi_native {
namespace {

constexpr int64_t kChunk = 8;                                // configurations per gradient chunk
constexpr uint64_t kInitStream = ~uint64_t{0};               // above every training stream
constexpr int64_t kMaxTrainSteps = (int64_t{1} << 32) - 1;   // so t·2³² + b < kInitStream

// torch's Conv2d default U(±1/√fan_in) for the convs of `layers` nets of shape `net`.
void InitConvNets(uint64_t seed, int layers, const sbi::ConvNetShape& net, double* p) {
  sbi::PhiloxStream rng(seed, kInitStream);
  for (int l = 0; l < layers; ++l)
    for (int k = 0; k <= net.depth; ++k) {
      const sbi::Conv2dShape c = sbi::conv_net_layer(net, k);
      const double bound = 1.0 / std::sqrt(static_cast<double>(c.c_in * c.K * c.K));
      const int n = sbi::conv2d_weight_count(c) + c.c_out;
      for (int i = 0; i < n; ++i) *p++ = bound * (2.0 * rng.uniform() - 1.0);
    }
}

// A lattice flow and its target as the shared trainer and sampler see them: the kernels'
// models (kernels/lattice/flow_sampler.h) with their N-API parsing and initialisation.
struct Phi4FlowModel : sbi::Phi4FlowKernel {
  static constexpr const char* kIn = "z";    // names of the prior draw and the output in errors
  static constexpr const char* kOut = "phi";

  static Phi4FlowModel Get(const Napi::Value& shape, const Napi::Value* coupling) {
    Phi4FlowModel m;
    m.s = GetPhi4FlowShape(shape);
    if (coupling != nullptr) m.p = GetPhi4FlowCoupling(*coupling, m.s.L);
    return m;
  }
  void Init(uint64_t seed, double* params) const { InitConvNets(seed, s.layers, sbi::cbf_net_shape(s), params); }
};

struct U1FlowModel : sbi::U1FlowKernel {
  static constexpr const char* kIn = "z";
  static constexpr const char* kOut = "theta";

  static U1FlowModel Get(const Napi::Value& shape, const Napi::Value* coupling) {
    U1FlowModel m;
    m.s = GetU1FlowShape(shape);
    if (coupling != nullptr) m.p = GetU1FlowCoupling(*coupling, m.s.L);
    return m;
  }
  void Init(uint64_t seed, double* params) const { InitConvNets(seed, s.layers, sbi::gf_net_shape(s), params); }
};

// Whole configurations of D values: the count n.
View<double> GetConfigs(const Napi::Value& v, const char* name, int D) {
  const View<double> a = GetFloat64Array(v, name, -1);
  if (a.length == 0 || a.length % D != 0)
    ThrowRangeError(v.Env(), std::string("Expected `") + name + "` to hold one or more configurations of " + std::to_string(D) +
                                 " values but it has " + std::to_string(a.length) + " values");
  CheckFiniteArray(v.Env(), a, name);
  return a;
}

template <class Model>
Napi::Value FlowInit(const Napi::CallbackInfo& info) {
  const Model m = Model::Get(info[0], nullptr);
  const uint64_t seed = GetSeed(info[1], "seed");
  m.Init(seed, GetFloat64Array(info[2], "params", m.param_count()).data);
  return info.Env().Undefined();
}

// Forward or inverse over n configurations, parallel over configurations.
template <class Model, bool kInverse>
Napi::Value FlowTransform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Model m = Model::Get(info[0], nullptr);
  const View<double> params = GetLatticeFlowParams(info[1], m);
  const int D = m.size();
  const char* in_name = kInverse ? Model::kOut : Model::kIn;
  const char* out_name = kInverse ? Model::kIn : Model::kOut;
  const View<double> in = GetConfigs(info[2], in_name, D);
  const int64_t n = static_cast<int64_t>(in.length) / D;
  double* out = GetFloat64Array(info[3], out_name, n * D).data;
  double* logq = GetFloat64Array(info[4], "logq", n).data;
  BatchJob job;
  job.n = n;
  job.grain = 4;
  job.threads = GetThreads(info[5]);
  const double* pd = params.data;
  const double* x = in.data;
  job.range = [=](int64_t b, int64_t e) {
    std::vector<double> tape(kInverse ? 0 : m.tape_size()), scratch(m.scratch_size());
    for (int64_t i = b; i < e; ++i) {
      if (kInverse) {
        logq[i] = m.Inverse(pd, x + i * D, out + i * D, scratch.data());
      } else {
        logq[i] = m.Forward(pd, x + i * D, tape.data(), scratch.data());
        std::copy(tape.end() - D, tape.end(), out + i * D);
      }
    }
  };
  RunBatch(job, nullptr, nullptr);
  return env.Undefined();
}

// The reverse-KL loss of a batch and its gradient, in fixed chunks summed in order.
template <class Model>
class ReverseKl {
 public:
  ReverseKl(const Model& m, int64_t batch)
      : m_(m), D_(m.size()), P_(m.param_count()), chunks_((batch + kChunk - 1) / kChunk),
        grads_(chunks_, std::vector<double>(P_)), tapes_(chunks_, std::vector<double>(m.tape_size())),
        scratch_(chunks_, std::vector<double>(std::max<int64_t>(m.scratch_size(), D_ + 1))),
        gx_(chunks_, std::vector<double>(D_)), losses_(chunks_), log_w_(batch) {}

  int64_t param_count() const { return P_; }

  // z [batch, D] (or null: draw z of configuration b from stream `stream_base` + b of `seed`).
  // Returns the mean loss; grad [P] overwritten; g_z [batch, D] (unless null) = dL/dz;
  // log_w() holds −S − log q per configuration.
  double Run(const double* params, int64_t batch, const double* z, uint64_t seed, uint64_t stream_base, double* grad,
             double* g_z, int threads) {
    const double inv = 1.0 / static_cast<double>(batch);
    ParallelFor(chunks_, 1, threads, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        std::vector<double>& g = grads_[c];
        std::fill(g.begin(), g.end(), 0.0);
        double* tape = tapes_[c].data();
        double* scratch = scratch_[c].data();
        double* gx = gx_[c].data();
        double sum = 0.0;
        const int64_t e = std::min(batch, (c + 1) * kChunk);
        for (int64_t b = c * kChunk; b < e; ++b) {
          // z lands at the tape's start, where forward keeps it.
          if (z != nullptr) std::copy(z + b * D_, z + (b + 1) * D_, scratch);
          else m_.Draw(seed, stream_base + static_cast<uint64_t>(b), scratch);
          std::copy(scratch, scratch + D_, tape);
          const double logq = m_.Forward(params, tape, tape, scratch);
          const double* x = tape + m_.tape_size() - D_;
          const double S = m_.ActionGrad(x, gx, scratch);
          for (int i = 0; i < D_; ++i) gx[i] *= inv;
          sum += logq + S;
          log_w_[b] = -S - logq;
          m_.Backward(params, tape, gx, inv, g.data(), g_z != nullptr ? g_z + b * D_ : nullptr, scratch);
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
  Model m_;
  int D_;
  int64_t P_, chunks_;
  std::vector<std::vector<double>> grads_, tapes_, scratch_, gx_;
  std::vector<double> losses_, log_w_;
};

template <class Model>
Napi::Value FlowLossGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Napi::Value coupling = info[1];
  const Model m = Model::Get(info[0], &coupling);
  const View<double> params = GetLatticeFlowParams(info[2], m);
  const View<double> z = GetConfigs(info[3], Model::kIn, m.size());
  const int64_t n = static_cast<int64_t>(z.length) / m.size();
  double* grad = GetFloat64Array(info[4], "grad", m.param_count()).data;
  double* g_z = IsAbsent(info[5]) ? nullptr : GetFloat64Array(info[5], "gz", n * m.size()).data;
  ReverseKl<Model> kl(m, n);
  return Napi::Number::New(env, kl.Run(params.data, n, z.data, 0, 0, grad, g_z, 1));
}

template <class Model>
struct TrainJob {
  using Epoch = training::Epoch;
  Model m{};
  std::vector<double> params;
  uint64_t seed = 0;
  int64_t steps = 0, batch = 0;
  sbi::nn::AdamConfig adam{};
  int threads = 0;
  std::vector<double> loss, ess;
  bool cancelled = false;

  void Run(const int32_t* cancel, const std::function<void(const Epoch&)>& on_step) {
    ReverseKl<Model> kl(m, batch);
    const int64_t P = kl.param_count();
    std::vector<double> grad(P), mom(P, 0.0), var(P, 0.0);
    for (int64_t t = 0; t < steps; ++t) {
      if (cancel != nullptr && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) {
        cancelled = true;
        return;
      }
      const double l = kl.Run(params.data(), batch, nullptr, seed, static_cast<uint64_t>(t) << 32, grad.data(), nullptr,
                              threads);
      const double e = kl.Ess();
      sbi::nn::adam_step(adam, t + 1, P, params.data(), grad.data(), mom.data(), var.data());
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

template <class Model>
Napi::Value FlowTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<TrainJob<Model>>();
  const Napi::Value coupling = info[1];
  job->m = Model::Get(info[0], &coupling);
  const View<double> params = GetLatticeFlowParams(info[2], job->m);
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

template <class Model>
struct SampleRun {
  Model m{};
  const double* params = nullptr;
  LatticeSampleOptions o{};
  double *observable = nullptr, *action = nullptr, *logq = nullptr, *x = nullptr;
};

template <class Model>
PreparedBatch PrepareSample(const Napi::CallbackInfo& info) {
  auto run = std::make_shared<SampleRun<Model>>();
  const Napi::Value coupling = info[1];
  run->m = Model::Get(info[0], &coupling);
  run->params = GetLatticeFlowParams(info[2], run->m).data;
  run->o = GetLatticeSampleOptions(info[3], Model::kReflectable);
  const int64_t n = run->o.n;
  const int D = run->m.size();
  run->observable = GetFloat64Array(info[4], "observable", n).data;
  run->action = GetFloat64Array(info[5], "action", n).data;
  run->logq = GetFloat64Array(info[6], "logq", n).data;
  if (!IsAbsent(info[7])) run->x = GetFloat64Array(info[7], Model::kOut, n * D).data;
  PreparedBatch prepared;
  prepared.job.n = n;
  prepared.job.grain = 16;
  prepared.job.threads = GetThreads(info[3].As<Napi::Object>().Get("threads"));
  prepared.job.range = [run, D](int64_t b, int64_t e) {
    std::vector<double> work(sbi::lattice_flow_draw_size(run->m, run->o.symmetric));
    for (int64_t i = b; i < e; ++i) {
      const double* x = sbi::lattice_flow_draw(run->m, run->params, run->o.seed, run->o.offset + static_cast<uint64_t>(i),
                                               run->o.symmetric, work.data(), &run->logq[i], &run->action[i],
                                               &run->observable[i]);
      if (run->x != nullptr) std::copy(x, x + D, run->x + i * D);
    }
  };
  prepared.pinned = {info[2], info[4], info[5], info[6]};
  if (run->x != nullptr) prepared.pinned.push_back(info[7]);
  prepared.result = [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return prepared;
}

template <class Model>
void ExportFlow(Napi::Env env, Napi::Object exports, const std::string& prefix) {
  ExportFunction(env, exports, (prefix + "Init").c_str(), FlowInit<Model>);
  ExportFunction(env, exports, (prefix + "Forward").c_str(), FlowTransform<Model, false>);
  ExportFunction(env, exports, (prefix + "Inverse").c_str(), FlowTransform<Model, true>);
  ExportFunction(env, exports, (prefix + "LossGrad").c_str(), FlowLossGrad<Model>);
  ExportFunction(env, exports, (prefix + "Train").c_str(), FlowTrain<Model>);
  ExportBatchPair<PrepareSample<Model>, 8>(env, exports, prefix + "Sample");
}

void InitLatticeFlow(Napi::Env env, Napi::Object exports) {
  ExportFlow<Phi4FlowModel>(env, exports, "phi4Flow");
  ExportFlow<U1FlowModel>(env, exports, "u1Flow");
}

}  // namespace
SBI_NATIVE_MODULE(InitLatticeFlow);
}  // namespace sbi_native
