// N-API boundary of the trellis (kernels/trellis/): exact inference over hierarchical clusterings.
//   trellis(leaves, energy, params, options) -> result          (on the thread pool, blocking)
//   trellisAsync(leaves, energy, params, options, onProgress, cancelFlag) -> Promise of result
//     leaves Float64Array [N·4], 1 <= N <= 22; energy 'ginkgo' (params [λ, λ_root, t_cut]) or
//     'gaussian' (params [σ]); options { threads?, marginals?: boolean, samples?: integer, seed? }.
//     result { logZ, count: decimal string, mapLogLH, mapSplits: Uint32Array [2(N-1)] | null,
//              marginals?: Float64Array [2^N] (P(cluster) by bitmask), samples?: Uint32Array
//              [K·2(N-1)], splitsEvaluated }. Splits are (parent mask, part holding its lowest leaf).
//     onProgress(done, total) counts levels (set sizes) of the inside and marginal passes;
//     splitsEvaluated counts the splits visited (ψ is evaluated on whole blocks of them).
//   trellisBeam(leaves, energy, params, width) -> { logLH, splits: Uint32Array | null }  (width 1: greedy)
//   trellisEnergy(leaves, energy, params, splits Uint32Array [2K]) -> Float64Array [K] of ψ per split
//   trellisTable(leaves, energy, params) -> { columns, table: Float64Array [columns·2^N], constants: Float64Array }
//     the per-set features the accelerator passes read (N <= 22), from the same
//     trellis_subset_features as the CPU passes, column-major: 'ginkgo': t = m², s = √t and the
//     parent's leaf-child term g(t_S, t <= t_cut) of every set S; constants [λ, C(λ), C(λ) + log λ,
//     λ_root, C(λ_root), C(λ_root) + log λ_root, t_cut]. 'gaussian': the 4 mean coordinates;
//     constants [1 / (2σ²)].
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "../kernels/trellis/beam.h"
#include "../kernels/trellis/trellis.h"
#include "arg_checks.h"
#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {
namespace {

template <class F>
void WithEnergy(const EnergySpec& spec, F&& f) {
  if (spec.kind == EnergyKind::Ginkgo)
    f(sbi::GinkgoEnergy(spec.ginkgo));
  else
    f(sbi::GaussianLinkageEnergy(spec.sigma));
}

struct TrellisJob {
  EnergySpec energy;
  int n = 0;
  std::vector<double> leaves;
  bool marginals = false;
  int64_t samples = 0;
  uint64_t seed = 0;
  int threads = 0;
  // results
  double log_z = 0, map_energy = 0;
  std::string count;
  bool has_map = false;
  std::vector<uint32_t> map_splits, sample_splits;
  std::vector<double> marginal;
  uint64_t evaluated = 0;
  bool cancelled = false;
  std::string error;
};

std::string ToDecimal(sbi::U128 v) {
  std::string s;
  do s.push_back(static_cast<char>('0' + sbi::u128_divmod10(v)));
  while (!sbi::u128_is_zero(v));
  std::reverse(s.begin(), s.end());
  return s;
}

bool Cancelled(const int32_t* flag) { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; }

using Progress = std::function<void(int64_t, int64_t)>;

// One level's sets [b, e) of the inside pass, or slices [b, e) of the marginal pass's parents of
// one size (slice c: parents c, c + K, c + 2K, ... of the level, adding into buffer c, K =
// kTrellisScatterBuffers: dealt round-robin, the slices carry nearly equal work even where the
// sets that cannot split cluster by mask); compiled per instruction set.
template <class E>
struct LevelArgs {
  const E* energy;
  typename E::Table table;
  sbi::TrellisTables t;
  const uint32_t* order;  // the level's sets
  int64_t level_size;     // marginal pass: sets in the level
  uint32_t full;
  bool marginal_pass;
  const double* marginal;  // [2^N] final for every set of this level and above
  double* buffers;         // [K][2^N]
  const int32_t* cancel;
  std::atomic<uint64_t>* visited;
};

template <class E>
inline void LevelRange(const LevelArgs<E>& a, int64_t b, int64_t e) {
  sbi::TrellisBlock w;
  uint64_t local = 0;
  if (!a.marginal_pass) {
    for (int64_t i = b; i < e; ++i) {
      if (Cancelled(a.cancel)) break;
      local += sbi::trellis_inside(*a.energy, a.table, a.order[i], a.full, a.t, w);
    }
  } else {
    const size_t sets = size_t{a.full} + 1u;
    for (int64_t c = b; c < e; ++c) {
      double* into = a.buffers + static_cast<size_t>(c) * sets;
      for (int64_t i = c; i < a.level_size; i += sbi::kTrellisScatterBuffers) {
        if (Cancelled(a.cancel)) break;
        local += sbi::trellis_scatter(*a.energy, a.table, a.order[i], a.full, a.t, a.marginal, into, w);
      }
    }
  }
  a.visited->fetch_add(local, std::memory_order_relaxed);
}
SBI_MULTIVERSION(GinkgoLevel, LevelArgs<sbi::GinkgoEnergy>, LevelRange)
SBI_MULTIVERSION(GaussianLevel, LevelArgs<sbi::GaussianLinkageEnergy>, LevelRange)
template <class E>
using LevelFn = void (*)(const LevelArgs<E>&, int64_t, int64_t);
const LevelFn<sbi::GinkgoEnergy> kGinkgoLevel[3] = SBI_MULTIVERSION_TABLE(GinkgoLevel);
const LevelFn<sbi::GaussianLinkageEnergy> kGaussianLevel[3] = SBI_MULTIVERSION_TABLE(GaussianLevel);
LevelFn<sbi::GinkgoEnergy> LevelFor(const sbi::GinkgoEnergy&) { return kGinkgoLevel[static_cast<int>(ActiveIsa())]; }
LevelFn<sbi::GaussianLinkageEnergy> LevelFor(const sbi::GaussianLinkageEnergy&) {
  return kGaussianLevel[static_cast<int>(ActiveIsa())];
}

template <class E>
void RunTrellis(const E& energy, TrellisJob& j, const int32_t* cancel, const Progress& progress) {
  using Subset = typename E::Subset;
  const int n = j.n;
  const uint32_t sets = uint32_t{1} << n, full = sets - 1u;
  std::vector<Subset> subsets(sets);
  std::vector<double> z_map(2 * static_cast<size_t>(sets));
  std::vector<uint32_t> map_left(sets);
  std::vector<sbi::U128> count(sets);
  const sbi::TrellisTables t{z_map.data(), map_left.data(), count.data()};
  std::vector<double> table_memory(static_cast<size_t>(E::kTableColumns) * sets);
  const typename E::Table table = energy.table(table_memory.data(), sets);
  sbi::trellis_subset_features(energy, j.leaves.data(), n, subsets.data(), table);

  // sets ordered by size (counting sort): level k is order[start[k] .. start[k + 1])
  std::vector<uint32_t> order(sets), start(n + 2, 0);
  for (uint32_t s = 1; s < sets; ++s) ++start[__builtin_popcount(s) + 1];
  for (int k = 1; k <= n + 1; ++k) start[k] += start[k - 1];
  {
    std::vector<uint32_t> fill(start.begin(), start.end());
    for (uint32_t s = 1; s < sets; ++s) order[fill[__builtin_popcount(s)]++] = s;
  }
  const int64_t total = j.marginals ? 2 * n : n;
  std::atomic<uint64_t> visited{0};
  const LevelFn<E> fn = LevelFor(energy);
  LevelArgs<E> args{&energy, table, t, nullptr, 0, full, false, nullptr, nullptr, cancel, &visited};
  int64_t done = 0;
  for (int size = 1; size <= n; ++size) {
    // work per set: 2^(size - 1) splits
    const int64_t grain = std::max<int64_t>(1, 4096 >> std::min(size - 1, 12));
    args.order = order.data() + start[size];
    ParallelFor(start[size + 1] - start[size], grain, j.threads, [&](int64_t b, int64_t e) { fn(args, b, e); });
    if (Cancelled(cancel)) return void(j.cancelled = true);
    progress(++done, total);
  }
  j.log_z = t.log_z(full);
  j.map_energy = t.map_energy(full);
  j.count = ToDecimal(count[full]);
  std::vector<uint32_t> stack(2 * n + 2);
  j.map_splits.assign(2 * (n - 1), 0);
  j.has_map = n == 1 || sbi::trellis_map_splits(t, full, j.map_splits.data(), stack.data()) == n - 1;
  if (j.marginals) {
    constexpr int kBuffers = sbi::kTrellisScatterBuffers;
    std::vector<double> buffers(static_cast<size_t>(kBuffers) * sets, 0.0);
    j.marginal.assign(sets, 0.0);
    if (t.log_z(full) > -INFINITY) j.marginal[full] = 1.0;
    args.marginal_pass = true;
    args.marginal = j.marginal.data();
    args.buffers = buffers.data();
    for (int size = n; size >= 1; --size) {
      const int64_t begin = start[size], level_size = start[size + 1] - begin;
      if (size < n)  // every parent of these sets is done: their marginals are final
        for (int64_t i = begin; i < begin + level_size; ++i) {
          const uint32_t s = order[i];
          double m = 0.0;
          for (int c = 0; c < kBuffers; ++c) m += buffers[static_cast<size_t>(c) * sets + s];
          j.marginal[s] = m;
        }
      if (size > 1) {
        args.order = order.data() + begin;
        args.level_size = level_size;
        ParallelFor(kBuffers, 1, j.threads, [&](int64_t b, int64_t e) { fn(args, b, e); });
      }
      if (Cancelled(cancel)) return void(j.cancelled = true);
      progress(++done, total);
    }
  }
  if (j.samples > 0 && t.log_z(full) > -INFINITY) {
    const int64_t per = 2 * (n - 1);
    j.sample_splits.assign(static_cast<size_t>(j.samples * per), 0);
    ParallelFor(j.samples, 16, j.threads, [&](int64_t b, int64_t e) {
      std::vector<uint32_t> st(2 * n + 2);
      for (int64_t k = b; k < e; ++k) {
        if (Cancelled(cancel)) break;
        sbi::PhiloxStream rng(j.seed, static_cast<uint64_t>(k));
        sbi::trellis_sample(energy, subsets.data(), full, t, rng, j.sample_splits.data() + k * per, st.data());
      }
    });
    if (Cancelled(cancel)) return void(j.cancelled = true);
  }
  j.evaluated = visited.load();
}

void Execute(TrellisJob& j, const int32_t* cancel, const Progress& progress) {
  try {
    WithEnergy(j.energy, [&](const auto& e) { RunTrellis(e, j, cancel, progress); });
  } catch (const std::bad_alloc&) {
    j.error = "Out of memory for the trellis tables of N = " + std::to_string(j.n) + " leaves (2^N sets)";
  }
}

std::unique_ptr<TrellisJob> PrepareTrellis(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto j = std::make_unique<TrellisJob>();
  j->leaves = GetLeaves(env, info[0], sbi::kTrellisMaxLeaves, &j->n);
  j->energy = GetEnergy(env, info[1], info[2]);
  if (!IsAbsent(info[3])) {
    if (!info[3].IsObject() || info[3].IsArray() || info[3].IsTypedArray() || info[3].IsFunction())
      ThrowTypeError(env, "Expected an options object or undefined for `options` but received " + Describe(info[3]));
    const Napi::Object o = info[3].As<Napi::Object>();
    j->threads = GetThreads(o.Get("threads"));
    const Napi::Value m = o.Get("marginals");
    if (!IsAbsent(m)) {
      if (!m.IsBoolean()) ThrowTypeError(env, "Expected a boolean for `marginals` but received " + Describe(m));
      j->marginals = m.As<Napi::Boolean>().Value();
    }
    if (!IsAbsent(o.Get("samples"))) j->samples = GetInteger(o.Get("samples"), "samples", 0, int64_t(1) << 24);
    if (j->samples > 0) j->seed = GetSeed(o.Get("seed"), "seed");
  }
  return j;
}

Napi::Value TrellisResult(Napi::Env env, const TrellisJob& j) {
  if (!j.error.empty()) ThrowSbiError(env, "OUT_OF_MEMORY", j.error);
  Napi::Object o = Napi::Object::New(env);
  o.Set("logZ", j.log_z);
  o.Set("count", j.count);
  o.Set("mapLogLH", j.map_energy);
  if (j.has_map) {
    Napi::Uint32Array a = Napi::Uint32Array::New(env, j.map_splits.size());
    std::copy(j.map_splits.begin(), j.map_splits.end(), a.Data());
    o.Set("mapSplits", a);
  } else {
    o.Set("mapSplits", env.Null());
  }
  if (j.marginals) {
    Napi::Float64Array a = Napi::Float64Array::New(env, j.marginal.size());
    std::copy(j.marginal.begin(), j.marginal.end(), a.Data());
    o.Set("marginals", a);
  }
  if (j.samples > 0) {
    Napi::Uint32Array a = Napi::Uint32Array::New(env, j.sample_splits.size());
    std::copy(j.sample_splits.begin(), j.sample_splits.end(), a.Data());
    o.Set("samples", a);
  }
  o.Set("splitsEvaluated", static_cast<double>(j.evaluated));
  return o;
}

Napi::Value Trellis(const Napi::CallbackInfo& info) {
  auto j = PrepareTrellis(info);
  Execute(*j, nullptr, [](int64_t, int64_t) {});
  return TrellisResult(info.Env(), *j);
}

struct ProgressStep {
  int64_t done, total;
};

class TrellisWorker : public Napi::AsyncProgressWorker<ProgressStep> {
 public:
  TrellisWorker(Napi::Env env, std::unique_ptr<TrellisJob> job)
      : Napi::AsyncProgressWorker<ProgressStep>(env), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void SetProgress(Napi::Function fn) { progress_ = Napi::Persistent(fn); }
  void SetCancelFlag(Napi::Int32Array flag) {
    cancel_ref_ = Napi::Persistent(flag.As<Napi::Object>());
    cancel_ = flag.Data();
  }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    const bool report = !progress_.IsEmpty();
    sbi_native::Execute(*job_, cancel_, [&](int64_t done, int64_t total) {
      if (report) {
        ProgressStep p{done, total};
        progress.Send(&p, 1);
      }
    });
  }
  void OnProgress(const ProgressStep* data, size_t count) override {
    if (count == 0 || progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      progress_.Call({Napi::Number::New(env, static_cast<double>(data[count - 1].done)),
                      Napi::Number::New(env, static_cast<double>(data[count - 1].total))});
    } catch (const Napi::Error&) {
      // An exception thrown by the user's callback must not stop the run.
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (job_->cancelled) {
      deferred_.Reject(MakeSbiError(env, "ABORTED", "The operation was aborted").Value());
      return;
    }
    try {
      deferred_.Resolve(TrellisResult(env, *job_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::unique_ptr<TrellisJob> job_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference progress_;
  Napi::ObjectReference cancel_ref_;
  const int32_t* cancel_ = nullptr;
};

Napi::Value TrellisAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto j = PrepareTrellis(info);
  const Napi::Value on_progress = info[4], cancel_flag = info[5];
  if (!IsAbsent(on_progress) && !on_progress.IsFunction())
    ThrowTypeError(env, "Expected a function or undefined for `onProgress` but received " + Describe(on_progress));
  Napi::Int32Array flag;
  if (!IsAbsent(cancel_flag)) {
    GetInt32Array(cancel_flag, "cancelFlag", 1);
    flag = cancel_flag.As<Napi::Int32Array>();
  }
  auto* worker = new TrellisWorker(env, std::move(j));
  if (on_progress.IsFunction()) worker->SetProgress(on_progress.As<Napi::Function>());
  if (!flag.IsEmpty()) worker->SetCancelFlag(flag);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

constexpr int kBeamMaxWidth = 1024;

Napi::Value TrellisBeam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  const std::vector<double> leaves = GetLeaves(env, info[0], 32, &n);
  const EnergySpec spec = GetEnergy(env, info[1], info[2]);
  const int width = static_cast<int>(GetInteger(info[3], "width", 1, kBeamMaxWidth));
  double energy_value = 0.0;
  std::vector<uint32_t> splits(2 * (n - 1));
  WithEnergy(spec, [&](const auto& e) {
    using E = std::decay_t<decltype(e)>;
    using Subset = typename E::Subset;
    std::vector<uint32_t> masks[2], sp[2];
    std::vector<Subset> feats[2];
    std::vector<double> score[2];
    std::vector<uint64_t> hash[2];
    sbi::BeamWorkspace<E> w;
    for (int g = 0; g < 2; ++g) {
      masks[g].resize(static_cast<size_t>(width) * n);
      feats[g].resize(static_cast<size_t>(width) * n);
      sp[g].resize(static_cast<size_t>(width) * 2 * n);
      score[g].resize(width);
      hash[g].resize(width);
      w.masks[g] = masks[g].data();
      w.features[g] = feats[g].data();
      w.splits[g] = sp[g].data();
      w.score[g] = score[g].data();
      w.hash[g] = hash[g].data();
    }
    std::vector<double> cs(width);
    std::vector<uint64_t> ch(width);
    std::vector<int32_t> cst(width), ci(width), cj(width);
    w.cand_score = cs.data();
    w.cand_hash = ch.data();
    w.cand_state = cst.data();
    w.cand_i = ci.data();
    w.cand_j = cj.data();
    energy_value = sbi::beam_search(e, leaves.data(), n, width, w, splits.data());
  });
  Napi::Object o = Napi::Object::New(env);
  o.Set("logLH", energy_value);
  if (energy_value > -INFINITY) {
    Napi::Uint32Array a = Napi::Uint32Array::New(env, splits.size());
    std::copy(splits.begin(), splits.end(), a.Data());
    o.Set("splits", a);
  } else {
    o.Set("splits", env.Null());
  }
  return o;
}

Napi::Value TrellisEnergy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  const std::vector<double> leaves = GetLeaves(env, info[0], 32, &n);
  const EnergySpec spec = GetEnergy(env, info[1], info[2]);
  const View<uint32_t> splits = GetUint32Array(info[3], "splits");
  if (splits.length % 2 != 0) ThrowRangeError(env, "Expected `splits` to hold (parent, part) pairs but received " + std::to_string(splits.length) + " values");
  const uint32_t full = n == 32 ? 0xffffffffu : (uint32_t{1} << n) - 1u;
  for (size_t k = 0; k < splits.length; k += 2) {
    const uint32_t p = splits.data[k], a = splits.data[k + 1];
    if ((p & ~full) != 0 || a == 0 || (a & ~p) != 0 || a == p)
      ThrowRangeError(env, "Expected split " + std::to_string(k / 2) + " to be (parent ⊆ leaves, ∅ ≠ part ⊊ parent) but received (" +
                               std::to_string(p) + ", " + std::to_string(a) + ")");
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, splits.length / 2);
  WithEnergy(spec, [&](const auto& e) {
    using Subset = typename std::decay_t<decltype(e)>::Subset;
    auto features = [&](uint32_t mask) {
      Subset acc{}, leaf{}, next{};
      bool first = true;
      for (int i = 0; i < n; ++i)
        if (mask & (uint32_t{1} << i)) {
          e.leaf(leaves.data() + sbi::kLeafValues * i, leaf);
          if (first) acc = leaf;
          else {
            e.merge(acc, leaf, next);
            acc = next;
          }
          first = false;
        }
      return acc;
    };
    for (size_t k = 0; k < splits.length; k += 2) {
      const uint32_t p = splits.data[k], a = splits.data[k + 1];
      const Subset fp = features(p), fa = features(a), fb = features(p ^ a);
      out[k / 2] = e.can_split(fp) ? e.psi(fa, fb, fp, p == full) : -INFINITY;
    }
  });
  return out;
}

Napi::Value TrellisTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  const std::vector<double> leaves = GetLeaves(env, info[0], sbi::kTrellisMaxLeaves, &n);
  const EnergySpec spec = GetEnergy(env, info[1], info[2]);
  const uint32_t sets = uint32_t{1} << n;
  Napi::Object out = Napi::Object::New(env);
  WithEnergy(spec, [&](const auto& e) {
    using E = std::decay_t<decltype(e)>;
    std::vector<typename E::Subset> subsets(sets);
    std::vector<double> memory(static_cast<size_t>(E::kTableColumns) * sets);
    const typename E::Table tab = e.table(memory.data(), sets);
    sbi::trellis_subset_features(e, leaves.data(), n, subsets.data(), tab);
    std::vector<double> columns, constants;
    if constexpr (std::is_same_v<E, sbi::GinkgoEnergy>) {
      columns.resize(3 * size_t{sets});
      for (uint32_t s = 1; s < sets; ++s) {
        columns[s] = tab.t(s);
        columns[sets + s] = tab.s(s);
        columns[2 * size_t{sets} + s] = tab.leaf_g[s];
      }
      const sbi::GinkgoModel& m = e.model;
      constants = {m.lambda, e.log_norm, e.log_norm + std::log(m.lambda), m.lambda_root, e.log_norm_root,
                   e.log_norm_root + std::log(m.lambda_root), m.t_cut};
    } else {
      columns.resize(4 * size_t{sets});
      for (uint32_t s = 1; s < sets; ++s)
        for (int k = 0; k < 4; ++k) columns[k * size_t{sets} + s] = tab.mean[k][s];
      constants = {e.inv_two_var};
    }
    Napi::Float64Array t = Napi::Float64Array::New(env, columns.size());
    std::copy(columns.begin(), columns.end(), t.Data());
    Napi::Float64Array c = Napi::Float64Array::New(env, constants.size());
    std::copy(constants.begin(), constants.end(), c.Data());
    out.Set("columns", Napi::Number::New(env, static_cast<double>(columns.size() / sets)));
    out.Set("table", t);
    out.Set("constants", c);
  });
  return out;
}

void InitTrellis(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "trellisTable", TrellisTable);
  ExportFunction(env, exports, "trellis", Trellis);
  ExportFunction(env, exports, "trellisAsync", TrellisAsync);
  ExportFunction(env, exports, "trellisBeam", TrellisBeam);
  ExportFunction(env, exports, "trellisEnergy", TrellisEnergy);
}

}  // namespace
SBI_NATIVE_MODULE(InitTrellis);
}  // namespace sbi_native
