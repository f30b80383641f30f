// N-API boundary of the flows on Tᴰ and Sᴰ (kernels/manifold/flow.h), double precision.
// `spec` is { space: "torus" | "sphere", dim, layers, bins, hidden, hiddenLayers,
//   circleTransform?: "spline" | "moebius" | "ncp", components?, conditioner?: "coupling" | "autoregressive" }.
//   manifoldFlowInfo(spec) -> { paramCount, coords, outputWidth }
//   manifoldFlowLayout(spec) -> the FlowShape as plain data, for the device kernels
//     (src/backend/manifold_webgpu.ts): { space, dim, coords, isAngle [coords], circleKind, bins,
//     components, minBinWidth, minBinHeight, minDerivative, minAlpha, baseLogDensity,
//     layers: [{ interval, perElement, active, cond, sizes, paramOffset, paramCount }] }
//   manifoldFlowInit(spec, seed, params [P])
//   manifoldFlowSample(spec, params, n, seed, stream, x [n·W], logq [n], threads?, base? [n·coords])
//   manifoldFlowLogProb(spec, params, x [n·W], logq [n], threads?, base? [n·coords])
//     base (optional): the base-space points (angles; (z, φ) on S²) the rows map from / to
//   manifoldFlowLoss(spec, params, options, grad [P]) -> loss      (one training step's loss and gradient)
//   manifoldFlowTrain(spec, params, options, onProgress?, cancelFlag?) -> Promise<result>
// options: { loss: "reverseKl" | "nll", target? ("torus-unimodal" | "torus-multimodal" |
//   "torus-correlated" | "sphere-vmf4" | "sphere3-vmf4"; required for reverseKl), data? (Float64Array [m·W], nll),
//   batchSize, seed, step (loss only), steps, learningRate, clipMaxNorm?, reportEvery?, evalSize?,
//   threads? }.
// Batches split into fixed chunks of rows, each with its own gradient buffer, summed in chunk
// order: results are identical for any thread count.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/manifold/flow.h"
#include "../kernels/nn/adam.h"
#include "manifold_flow_spec.h"
#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {
namespace {

namespace mf = sbi::manifold;
using manifold_spec::CheckPoints;
using manifold_spec::GetParams;
using manifold_spec::GetShape;
using manifold_spec::IntField;
constexpr int64_t kChunkRows = 32;
constexpr uint64_t kEvalStream = uint64_t{1} << 62;  // evaluation draws, apart from the training steps' streams

std::string Manifold(mf::Space space, int dim) {
  return std::string(space == mf::Space::Sphere ? "S" : "T") + std::to_string(dim);
}

struct TargetEntry {
  const char* name;
  mf::TargetKind kind;
  mf::Space space;
  int dim;
};
constexpr TargetEntry kTargets[] = {
    {"torus-unimodal", mf::TargetKind::TorusUnimodal, mf::Space::Torus, 2},
    {"torus-multimodal", mf::TargetKind::TorusMultimodal, mf::Space::Torus, 2},
    {"torus-correlated", mf::TargetKind::TorusCorrelated, mf::Space::Torus, 2},
    {"sphere-vmf4", mf::TargetKind::SphereVmf4, mf::Space::Sphere, 2},
    {"sphere3-vmf4", mf::TargetKind::Sphere3Vmf4, mf::Space::Sphere, 3},
};

mf::TargetKind GetTarget(Napi::Env env, const Napi::Value& v, const mf::FlowShape& s) {
  const std::string t = GetString(v, "target");
  std::string known;
  for (const TargetEntry& e : kTargets) {
    if (t == e.name) {
      if (e.space != s.space || e.dim != s.dim)
        ThrowRangeError(env, "Expected a target on the flow's manifold (" + Manifold(s.space, s.dim) + ") but `target` " +
                                 t + " lives on " + Manifold(e.space, e.dim));
      return e.kind;
    }
    known += std::string(known.empty() ? "" : ", ") + "\"" + e.name + "\"";
  }
  ThrowRangeError(env, "Expected one of " + known + " for `target` but received " + Describe(v));
}


// Per-chunk workspaces and gradient buffers for batches of up to `batch` rows.
struct Chunks {
  const mf::FlowShape& s;
  int64_t count;
  std::vector<std::vector<double>> work, grad;
  std::vector<double> loss;
  Chunks(const mf::FlowShape& shape, int64_t batch)
      : s(shape), count((batch + kChunkRows - 1) / kChunkRows),
        work(count, std::vector<double>(mf::flow_work_size(shape, kChunkRows))),
        grad(count, std::vector<double>(shape.param_count)), loss(count) {}
  mf::FlowWork<double> Bind(int64_t k) { return mf::flow_work_bind(s, kChunkRows, work[k].data()); }
  int64_t Rows(int64_t k, int64_t n) const { return std::min(kChunkRows, n - k * kChunkRows); }

  // Runs loss_k = chunk(k, rows_k, grad_k, work_k) over the chunks of n rows on the pool, then sums
  // losses and gradients in chunk order into out (overwritten): independent of the thread count.
  template <class F>
  double RunAndSum(int64_t n, int threads, double* out, F&& chunk) {
    const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
    ParallelFor(chunks, 1, threads, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        mf::FlowWork<double> w = Bind(k);
        loss[k] = chunk(k, Rows(k, n), grad[k].data(), w);
      }
    });
    double total = 0.0;
    std::fill(out, out + s.param_count, 0.0);
    for (int64_t k = 0; k < chunks; ++k) {
      total += loss[k];
      for (int64_t j = 0; j < s.param_count; ++j) out[j] += grad[k][j];
    }
    return total;
  }
};

struct LossConfig {
  bool reverse_kl = true;
  bool has_target = false;
  mf::TargetKind target = mf::TargetKind::TorusUnimodal;
  const double* data = nullptr;  // nll: [data_rows, W]
  int64_t data_rows = 0;
  int64_t batch = 256;
  uint64_t seed = 0;
  int threads = 0;
};

// One step's loss (batch mean) and gradient (summed over chunks in order) into grad.
double StepLossAndGrad(const mf::FlowShape& s, const LossConfig& c, const double* params, uint64_t step, Chunks& ch,
                       double* grad, std::vector<double>& batch_x) {
  const int64_t n = c.batch;
  const double scale = 1.0 / static_cast<double>(n);
  const int W = mf::flow_output_width(s);
  if (!c.reverse_kl) {
    // Rows drawn with replacement: row r of step t is data row ⌊u·m⌋, u from Philox (seed, t) word r.
    batch_x.resize(n * W);
    sbi::PhiloxStream rng(c.seed, step);
    for (int64_t r = 0; r < n; ++r) {
      const int64_t i = std::min<int64_t>(c.data_rows - 1, static_cast<int64_t>(rng.uniform() * c.data_rows));
      std::copy(c.data + i * W, c.data + (i + 1) * W, batch_x.data() + r * W);
    }
  }
  return ch.RunAndSum(n, c.threads, grad, [&](int64_t k, int64_t rows, double* g, mf::FlowWork<double>& w) {
    return c.reverse_kl ? mf::flow_reverse_kl_chunk(s, mf::KernelTarget{c.target}, params, c.seed, step, k * kChunkRows, rows,
                                                    scale, g, w, static_cast<double*>(nullptr), static_cast<double*>(nullptr))
                        : mf::flow_nll_chunk(s, params, batch_x.data() + k * kChunkRows * W, rows, scale, g, w,
                                             static_cast<double*>(nullptr));
  });
}

// KL, log Z and ESS from n draws of the flow on the evaluation stream.
struct Evaluation {
  double kl = 0, log_z = 0, kl_normalised = 0, ess = 0;
};

Evaluation Evaluate(const mf::FlowShape& s, mf::TargetKind target, const double* params, uint64_t seed, int64_t n,
                    int threads) {
  std::vector<double> logq(n), logp(n);
  Chunks ch(s, std::min<int64_t>(n, 64 * kChunkRows));
  // Waves of ch.count chunks (one workspace each); each row's values do not depend on the wave.
  const int64_t total = (n + kChunkRows - 1) / kChunkRows;
  for (int64_t w0 = 0; w0 < total; w0 += ch.count) {
    const int64_t wn = std::min(ch.count, total - w0);
    ParallelFor(wn, 1, threads, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const int64_t k = w0 + i;
        mf::FlowWork<double> w = ch.Bind(i);
        mf::flow_reverse_kl_chunk(s, mf::KernelTarget{target}, params, seed, kEvalStream, k * kChunkRows, ch.Rows(k, n), 1.0,
                                  static_cast<double*>(nullptr), w, logq.data() + k * kChunkRows,
                                  logp.data() + k * kChunkRows);
      }
    });
  }
  Evaluation ev;
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    ev.kl += logq[i] - logp[i];
    m = std::max(m, logp[i] - logq[i]);
  }
  ev.kl /= static_cast<double>(n);
  double sw = 0, sw2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double w = std::exp(logp[i] - logq[i] - m);
    sw += w;
    sw2 += w * w;
  }
  ev.log_z = m + std::log(sw / static_cast<double>(n));
  ev.kl_normalised = ev.kl + ev.log_z;
  ev.ess = 100.0 * sw * sw / (static_cast<double>(n) * sw2);
  return ev;
}

LossConfig ReadLossConfig(Napi::Env env, const Napi::Value& v, const mf::FlowShape& s) {
  if (!v.IsObject()) ThrowTypeError(env, "Expected an object for `options` but received " + Describe(v));
  const Napi::Object o = v.As<Napi::Object>();
  LossConfig c;
  const Napi::Value loss = o.Get("loss");
  const std::string kind = IsAbsent(loss) ? "reverseKl" : GetString(loss, "loss");
  if (kind != "reverseKl" && kind != "nll")
    ThrowRangeError(env, "Expected \"reverseKl\" or \"nll\" for `loss` but received " + Describe(loss));
  c.reverse_kl = kind == "reverseKl";
  if (!IsAbsent(o.Get("target"))) {
    c.target = GetTarget(env, o.Get("target"), s);
    c.has_target = true;
  } else if (c.reverse_kl) {
    ThrowTypeError(env, "Expected a `target` for reverse-KL training but received undefined");
  }
  if (!c.reverse_kl) {
    const View<double> data = GetFloat64Array(o.Get("data"), "data");
    CheckPoints(env, s, data, "data");
    c.data = data.data;
    c.data_rows = static_cast<int64_t>(data.length) / mf::flow_output_width(s);
    if (c.data_rows == 0) ThrowRangeError(env, "Expected at least one row in `data` but it is empty");
  }
  c.batch = IntField(o, "batchSize", 256, 1, 1 << 20);
  c.seed = IsAbsent(o.Get("seed")) ? 0 : GetSeed(o.Get("seed"), "seed");
  c.threads = GetThreads(o.Get("threads"));
  return c;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  Napi::Object o = Napi::Object::New(env);
  o.Set("paramCount", static_cast<double>(s.param_count));
  o.Set("coords", s.coords);
  o.Set("outputWidth", mf::flow_output_width(s));
  return o;
}

Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  const auto ints = [&](const int* v, int n) {
    Napi::Array a = Napi::Array::New(env, n);
    for (int i = 0; i < n; ++i) a.Set(i, v[i]);
    return a;
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("space", s.space == mf::Space::Sphere ? "sphere" : "torus");
  o.Set("dim", s.dim);
  o.Set("coords", s.coords);
  Napi::Array angle = Napi::Array::New(env, s.coords);
  for (int i = 0; i < s.coords; ++i) angle.Set(i, s.is_angle[i]);
  o.Set("isAngle", angle);
  const char* kinds[] = {"spline", "moebius", "ncp"};
  o.Set("circleKind", kinds[static_cast<int>(s.elem.circle_kind)]);
  o.Set("bins", s.elem.bins);
  o.Set("components", s.elem.components);
  o.Set("minBinWidth", s.elem.min_bin_width);
  o.Set("minBinHeight", s.elem.min_bin_height);
  o.Set("minDerivative", s.elem.min_derivative);
  o.Set("minAlpha", s.elem.min_alpha);
  o.Set("baseLogDensity", mf::flow_base_log_density(s));
  Napi::Array layers = Napi::Array::New(env, s.n_layers);
  for (int l = 0; l < s.n_layers; ++l) {
    const mf::FlowLayer& f = s.layers[l];
    Napi::Object lo = Napi::Object::New(env);
    lo.Set("interval", f.interval);
    lo.Set("perElement", f.per_element);
    lo.Set("active", ints(f.active, f.n_active));
    lo.Set("cond", ints(f.cond, f.n_cond));
    Napi::Array sizes = Napi::Array::New(env, f.mlp_layers == 0 ? 0 : f.mlp_layers + 1);
    for (int k = 0; f.mlp_layers > 0 && k <= f.mlp_layers; ++k) sizes.Set(k, static_cast<double>(f.sizes[k]));
    lo.Set("sizes", sizes);
    lo.Set("paramOffset", static_cast<double>(f.param_offset));
    lo.Set("paramCount", static_cast<double>(f.param_count));
    layers.Set(l, lo);
  }
  o.Set("layers", layers);
  return o;
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  const uint64_t seed = GetSeed(info[1], "seed");
  View<double> p = GetFloat64Array(info[2], "params", s.param_count);
  mf::flow_init(s, seed, p.data);
  return env.Undefined();
}

Napi::Value Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  const double* params = GetParams(env, info[1], s).data;
  const int64_t n = GetInteger(info[2], "n", 1, int64_t{1} << 40);
  const uint64_t seed = GetSeed(info[3], "seed");
  const uint64_t stream = GetSeed(info[4], "stream");  // a number, or a bigint up to 2^64 (the evaluation stream is 2^62)
  const int W = mf::flow_output_width(s);
  double* x = GetFloat64Array(info[5], "x", n * W).data;
  double* logq = GetFloat64Array(info[6], "logq", n).data;
  const int threads = GetThreads(info[7]);
  double* base_out = IsAbsent(info[8]) ? nullptr : GetFloat64Array(info[8], "base", n * s.coords).data;
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  ParallelFor(chunks, 1, threads, [&](int64_t b, int64_t e) {
    std::vector<double> mem(mf::flow_work_size(s, kChunkRows));
    mf::FlowWork<double> w = mf::flow_work_bind(s, kChunkRows, mem.data());
    for (int64_t k = b; k < e; ++k) {
      const int64_t r0 = k * kChunkRows, rows = std::min(kChunkRows, n - r0);
      mf::flow_base_draw(s, seed, stream, r0, rows, w.states);
      if (base_out) std::copy(w.states, w.states + rows * s.coords, base_out + r0 * s.coords);
      mf::flow_forward(s, params, rows, w);
      const double* fin = w.states + s.n_layers * rows * s.coords;
      for (int64_t r = 0; r < rows; ++r) {
        mf::flow_state_to_point(s, fin + r * s.coords, x + (r0 + r) * W);
        logq[r0 + r] = mf::flow_log_density(s, w.states + r * s.coords, fin + r * s.coords, -w.ladj[r]);
      }
    }
  });
  return env.Undefined();
}

Napi::Value LogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  const double* params = GetParams(env, info[1], s).data;
  const View<double> x = GetFloat64Array(info[2], "x");
  CheckPoints(env, s, x, "x");
  const int W = mf::flow_output_width(s);
  const int64_t n = static_cast<int64_t>(x.length) / W;
  double* logq = GetFloat64Array(info[3], "logq", n).data;
  const int threads = GetThreads(info[4]);
  double* base_out = IsAbsent(info[5]) ? nullptr : GetFloat64Array(info[5], "base", n * s.coords).data;
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  ParallelFor(chunks, 1, threads, [&](int64_t b, int64_t e) {
    std::vector<double> mem(mf::flow_work_size(s, kChunkRows));
    mf::FlowWork<double> w = mf::flow_work_bind(s, kChunkRows, mem.data());
    for (int64_t k = b; k < e; ++k) {
      const int64_t r0 = k * kChunkRows, rows = std::min(kChunkRows, n - r0);
      mf::flow_nll_chunk(s, params, x.data + r0 * W, rows, 1.0, static_cast<double*>(nullptr), w, logq + r0);
      if (base_out) std::copy(w.states, w.states + rows * s.coords, base_out + r0 * s.coords);
    }
  });
  return env.Undefined();
}

Napi::Value Loss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  const double* params = GetParams(env, info[1], s).data;
  const LossConfig c = ReadLossConfig(env, info[2], s);
  const uint64_t step = IsAbsent(info[2].As<Napi::Object>().Get("step"))
                            ? 0
                            : static_cast<uint64_t>(GetInteger(info[2].As<Napi::Object>().Get("step"), "step", 0,
                                                               int64_t{1} << 53));
  double* grad = GetFloat64Array(info[3], "grad", s.param_count).data;
  Chunks ch(s, c.batch);
  std::vector<double> batch_x;
  return Napi::Number::New(env, StepLossAndGrad(s, c, params, step, ch, grad, batch_x));
}

// manifoldFlowTabulatedLoss(spec, params, { seed, step, batchSize?, threads? }, logp [n], gradLogp [n, W], grad)
// -> loss: the reverse-KL step loss and gradient of StepLossAndGrad for a target evaluated outside
// the kernel (a TypeScript function) at the step's draws — manifoldFlowSample(spec, params, n,
// seed, step) gives those points. Same chunks, same order: with the values a native target would
// give, the same bits as manifoldFlowLoss.
Napi::Value TabulatedLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = GetShape(env, info[0]);
  const double* params = GetParams(env, info[1], s).data;
  if (!info[2].IsObject()) ThrowTypeError(env, "Expected an object for `options` but received " + Describe(info[2]));
  const Napi::Object o = info[2].As<Napi::Object>();
  const int64_t n = IntField(o, "batchSize", 256, 1, 1 << 20);
  const uint64_t seed = IsAbsent(o.Get("seed")) ? 0 : GetSeed(o.Get("seed"), "seed");
  const uint64_t step = IsAbsent(o.Get("step")) ? 0 : static_cast<uint64_t>(GetInteger(o.Get("step"), "step", 0, int64_t{1} << 53));
  const int threads = GetThreads(o.Get("threads"));
  const int W = mf::flow_output_width(s);
  const View<double> logp = GetFloat64Array(info[3], "logp", n);
  const View<double> glogp = GetFloat64Array(info[4], "gradLogp", n * W);
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(logp.data[i])) ThrowRangeError(env, "Expected finite values in `logp` but row " + std::to_string(i) + " is " + std::to_string(logp.data[i]));
  for (int64_t i = 0; i < n * W; ++i)
    if (!std::isfinite(glogp.data[i]))
      ThrowRangeError(env, "Expected finite values in `gradLogp` but row " + std::to_string(i / W) + ", column " + std::to_string(i % W) + " is " + std::to_string(glogp.data[i]));
  double* grad = GetFloat64Array(info[5], "grad", s.param_count).data;
  const mf::TabulatedTarget<double> target{logp.data, glogp.data, W};
  Chunks ch(s, n);
  const double scale = 1.0 / static_cast<double>(n);
  const double loss = ch.RunAndSum(n, threads, grad, [&](int64_t k, int64_t rows, double* g, mf::FlowWork<double>& w) {
    return mf::flow_reverse_kl_chunk(s, target, params, seed, step, k * kChunkRows, rows, scale, g, w,
                                     static_cast<double*>(nullptr), static_cast<double*>(nullptr));
  });
  return Napi::Number::New(env, loss);
}

// ---- training off the event loop ----

struct Progress {
  int64_t step;
  double loss;  // mean of the last reportEvery steps' batch losses
};

struct TrainJob {
  mf::FlowShape s;
  LossConfig c;
  std::vector<double> params, data;
  int64_t steps = 1000, report_every = 100, eval_size = 4096;
  double lr = 1e-3, clip = std::numeric_limits<double>::infinity();
  bool cancelled = false;
  int64_t steps_done = 0;
  std::vector<double> hist_step, hist_loss;
  Evaluation final_eval;
  double final_nll = std::numeric_limits<double>::quiet_NaN();

  void Run(const int32_t* cancel, const std::function<void(const Progress&)>& report) {
    const int64_t P = s.param_count;
    std::vector<double> grad(P), m(P, 0.0), v(P, 0.0), batch_x;
    Chunks ch(s, c.batch);
    sbi::nn::AdamConfig adam;
    adam.lr = lr;
    double acc = 0.0;
    int64_t acc_n = 0;
    for (int64_t t = 0; t < steps; ++t) {
      if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) {
        cancelled = true;
        return;
      }
      const double loss = StepLossAndGrad(s, c, params.data(), static_cast<uint64_t>(t), ch, grad.data(), batch_x);
      if (std::isfinite(clip)) sbi::nn::clip_grad_norm(P, grad.data(), clip);
      bool finite = std::isfinite(loss);
      for (int64_t j = 0; finite && j < P; ++j) finite = std::isfinite(grad[j]);
      if (!finite) {
        error = "The loss or its gradient became non-finite at step " + std::to_string(t) +
                " (lower the learning rate)";
        return;
      }
      sbi::nn::adam_step(adam, t + 1, P, params.data(), grad.data(), m.data(), v.data());
      acc += loss;
      ++acc_n;
      steps_done = t + 1;
      if ((t + 1) % report_every == 0 || t + 1 == steps) {
        hist_step.push_back(static_cast<double>(t + 1));
        hist_loss.push_back(acc / static_cast<double>(acc_n));
        report(Progress{t + 1, acc / static_cast<double>(acc_n)});
        acc = 0.0;
        acc_n = 0;
      }
    }
    if (c.has_target) final_eval = Evaluate(s, c.target, params.data(), c.seed, eval_size, c.threads);
    if (!c.reverse_kl) {
      // Mean −log q over the whole data set.
      const int W = mf::flow_output_width(s);
      std::vector<double> logq(c.data_rows);
      const int64_t chunks = (c.data_rows + kChunkRows - 1) / kChunkRows;
      ParallelFor(chunks, 1, c.threads, [&](int64_t b, int64_t e) {
        std::vector<double> mem(mf::flow_work_size(s, kChunkRows));
        mf::FlowWork<double> w = mf::flow_work_bind(s, kChunkRows, mem.data());
        for (int64_t k = b; k < e; ++k) {
          const int64_t r0 = k * kChunkRows, rows = std::min(kChunkRows, c.data_rows - r0);
          mf::flow_nll_chunk(s, params.data(), c.data + r0 * W, rows, 1.0, static_cast<double*>(nullptr), w,
                             logq.data() + r0);
        }
      });
      double sum = 0.0;
      for (double l : logq) sum -= l;
      final_nll = sum / static_cast<double>(c.data_rows);
    }
  }
  std::string error;
};

class FlowTrainWorker : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  FlowTrainWorker(Napi::Env env, std::unique_ptr<TrainJob> job)
      : Napi::AsyncProgressQueueWorker<Progress>(env), job_(std::move(job)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void SetOnProgress(Napi::Function fn) { on_progress_ = Napi::Persistent(fn); }
  void SetCancel(Napi::Int32Array flag) {
    cancel_ref_ = Napi::Persistent(flag.As<Napi::Object>());
    cancel_ = flag.Data();
  }
  Napi::ObjectReference data_ref;

 protected:
  void Execute(const ExecutionProgress& progress) override {
    const bool report = !on_progress_.IsEmpty();
    job_->Run(cancel_, [&](const Progress& p) {
      if (report) progress.Send(&p, 1);
    });
  }
  void OnProgress(const Progress* data, size_t count) override {
    if (on_progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count; ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("step", static_cast<double>(data[i].step));
      o.Set("steps", static_cast<double>(job_->steps));
      o.Set("loss", data[i].loss);
      try {
        on_progress_.Call({o});
      } catch (const Napi::Error&) {
        // A throwing progress callback must not stop training.
      }
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (job_->cancelled) {
      deferred_.Reject(MakeSbiError(env, "ABORTED", "The operation was aborted").Value());
      return;
    }
    if (!job_->error.empty()) {
      deferred_.Reject(MakeSbiError(env, "NUMERICAL_ERROR", job_->error).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    Napi::Float64Array p = Napi::Float64Array::New(env, job_->params.size());
    std::copy(job_->params.begin(), job_->params.end(), p.Data());
    o.Set("params", p);
    o.Set("steps", static_cast<double>(job_->steps_done));
    Napi::Float64Array hs = Napi::Float64Array::New(env, job_->hist_step.size());
    std::copy(job_->hist_step.begin(), job_->hist_step.end(), hs.Data());
    Napi::Float64Array hl = Napi::Float64Array::New(env, job_->hist_loss.size());
    std::copy(job_->hist_loss.begin(), job_->hist_loss.end(), hl.Data());
    o.Set("historyStep", hs);
    o.Set("historyLoss", hl);
    if (job_->c.has_target) {
      Napi::Object ev = Napi::Object::New(env);
      ev.Set("kl", job_->final_eval.kl);
      ev.Set("logZ", job_->final_eval.log_z);
      ev.Set("klNormalised", job_->final_eval.kl_normalised);
      ev.Set("ess", job_->final_eval.ess);
      ev.Set("samples", static_cast<double>(job_->eval_size));
      o.Set("evaluation", ev);
    }
    if (!job_->c.reverse_kl) o.Set("nll", job_->final_nll);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::unique_ptr<TrainJob> job_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_progress_;
  Napi::ObjectReference cancel_ref_;
  const int32_t* cancel_ = nullptr;
};

Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<TrainJob>();
  job->s = GetShape(env, info[0]);
  const View<double> p0 = GetParams(env, info[1], job->s);
  job->params.assign(p0.data, p0.data + p0.length);
  job->c = ReadLossConfig(env, info[2], job->s);
  const Napi::Object o = info[2].As<Napi::Object>();
  if (!job->c.reverse_kl) {
    // The worker reads a copy: the caller may reuse its array while training runs.
    job->data.assign(job->c.data, job->c.data + job->c.data_rows * mf::flow_output_width(job->s));
    job->c.data = job->data.data();
  }
  job->steps = GetInteger(o.Get("steps"), "steps", 1, int64_t{1} << 40);
  job->report_every = IntField(o, "reportEvery", std::max<int64_t>(1, job->steps / 100), 1, int64_t{1} << 40);
  job->eval_size = IntField(o, "evalSize", 4096, 2, int64_t{1} << 30);
  job->lr = GetNumberOption(o, "learningRate", 1e-3, 0.0, 1.0, false);
  if (!(job->lr > 0)) ThrowRangeError(env, "Expected a positive `learningRate` but received 0");
  job->clip = GetNumberOption(o, "clipMaxNorm", std::numeric_limits<double>::infinity(), 0.0,
                              std::numeric_limits<double>::infinity(), false);
  if (!(job->clip > 0)) ThrowRangeError(env, "Expected a positive `clipMaxNorm` but received 0");
  const Napi::Value on_progress = info[3], cancel_flag = info[4];
  if (!IsAbsent(on_progress) && !on_progress.IsFunction())
    ThrowTypeError(env, "Expected a function or undefined for `onProgress` but received " + Describe(on_progress));
  Napi::Int32Array flag;
  if (!IsAbsent(cancel_flag)) {
    GetInt32Array(cancel_flag, "cancelFlag", 1);
    flag = cancel_flag.As<Napi::Int32Array>();
  }
  auto* worker = new FlowTrainWorker(env, std::move(job));
  if (on_progress.IsFunction()) worker->SetOnProgress(on_progress.As<Napi::Function>());
  if (!flag.IsEmpty()) worker->SetCancel(flag);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void InitModule(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "manifoldFlowInfo", Info);
  ExportFunction(env, exports, "manifoldFlowLayout", Layout);
  ExportFunction(env, exports, "manifoldFlowInit", Init);
  ExportFunction(env, exports, "manifoldFlowSample", Sample);
  ExportFunction(env, exports, "manifoldFlowLogProb", LogProb);
  ExportFunction(env, exports, "manifoldFlowLoss", Loss);
  ExportFunction(env, exports, "manifoldFlowTabulatedLoss", TabulatedLoss);
  ExportFunction(env, exports, "manifoldFlowTrain", Train);
}

}  // namespace
SBI_NATIVE_MODULE(InitModule);
}  // namespace sbi_native
