// N-API plumbing shared by the lattice HMC baselines (kernels/lattice/hmc.h): the arguments
//   (..., field [chains·D] Float64Array (start, overwritten by the last state),
//    { seed, steps, leapfrogSteps, stepSize, stepJitter? (0), stepOffset?, threads? },
//    observable [chains·steps], action [chains·steps] Float64Array, accepted [chains·steps] Uint8Array,
//    onProgress?, cancelFlag?)
// at positions 2..8, one chain per task; record (c, t) at c·steps + t. Trajectory t of chain c
// draws from Philox stream c·2³² + stepOffset + t, so continuing a run with stepOffset = steps
// done reproduces one long run. A set cancel flag stops every chain within one trajectory.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/lattice/hmc.h"
#include "batch.h"
#include "finite_checks.h"
#include "lattice_spec.h"
#include "napi_util.h"

namespace sbi_native {

constexpr int64_t kHmcMaxSteps = int64_t{1} << 32;

// `make_model(extra)` builds a chain's Model (kernels/lattice/hmc.h) over D = `size` doubles,
// `extra` pointing at `extra_scratch` doubles of that chain's own scratch.
template <class MakeModel>
PreparedBatch PrepareHmcChains(const Napi::CallbackInfo& info, int64_t size, const char* field_name, int extra_scratch,
                               MakeModel make_model) {
  struct Run {
    sbi::HmcConfig cfg{};
    uint64_t seed = 0, step_offset = 0;
    int64_t steps = 0;
    double* field = nullptr;
    double* observable = nullptr;
    double* action = nullptr;
    uint8_t* accepted = nullptr;
    const int32_t* cancel = nullptr;
  };
  Napi::Env env = info.Env();
  auto run = std::make_shared<Run>();
  const View<double> field = GetFloat64Array(info[2], field_name, -1);
  if (field.length == 0 || field.length % size != 0)
    ThrowRangeError(env, std::string("Expected `") + field_name + "` to hold one or more configurations of " +
                             std::to_string(size) + " values but it has " + std::to_string(field.length));
  CheckFiniteArray(env, field, field_name);
  const int64_t chains = static_cast<int64_t>(field.length) / size;
  if (!info[3].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[3]));
  const Napi::Object o = info[3].As<Napi::Object>();
  run->seed = GetSeed(o.Get("seed"), "seed");
  run->steps = GetInteger(o.Get("steps"), "steps", 1, kHmcMaxSteps);
  run->cfg.leapfrog_steps = static_cast<int>(GetInteger(o.Get("leapfrogSteps"), "leapfrogSteps", 1, 1 << 20));
  run->cfg.step_size = GetNumber(o.Get("stepSize"), "stepSize");
  if (!(run->cfg.step_size > 0))
    ThrowRangeError(env, "Expected a positive `stepSize` but received " + Describe(o.Get("stepSize")));
  run->cfg.step_jitter = GetNumberOption(o, "stepJitter", 0.0, 0.0, 1.0, true);
  const Napi::Value offset = o.Get("stepOffset");
  run->step_offset = IsAbsent(offset) ? 0 : static_cast<uint64_t>(GetInteger(offset, "stepOffset", 0, kHmcMaxSteps));
  if (run->step_offset + static_cast<uint64_t>(run->steps) > static_cast<uint64_t>(kHmcMaxSteps))
    ThrowRangeError(env, "Expected stepOffset + steps <= 2^32 but received " + std::to_string(run->step_offset) + " + " +
                             std::to_string(run->steps));
  const int threads = GetThreads(o.Get("threads"));
  const int64_t records = chains * run->steps;
  run->observable = GetFloat64Array(info[4], "observable", records).data;
  run->action = GetFloat64Array(info[5], "action", records).data;
  run->accepted = GetUint8Array(info[6], "accepted", records).data;
  if (!IsAbsent(info[8])) run->cancel = GetInt32Array(info[8], "cancelFlag", 1).data;
  run->field = field.data;

  PreparedBatch prepared;
  prepared.job.n = chains;
  prepared.job.grain = 1;
  prepared.job.threads = threads;
  prepared.job.range = [run, size, extra_scratch, make_model](int64_t b, int64_t e) {
    const int hmc = sbi::hmc_scratch(static_cast<int>(size));
    std::vector<double> scratch(static_cast<size_t>(hmc + extra_scratch));
    const auto model = make_model(scratch.data() + hmc);
    for (int64_t ch = b; ch < e; ++ch) {
      double* q = run->field + ch * size;
      for (int64_t t = 0; t < run->steps; ++t) {
        if (run->cancel != nullptr && __atomic_load_n(run->cancel, __ATOMIC_RELAXED) != 0) return;
        const uint64_t stream = (static_cast<uint64_t>(ch) << 32) + run->step_offset + static_cast<uint64_t>(t);
        const sbi::HmcRecord r = sbi::hmc_trajectory(model, run->cfg, run->seed, stream, q, scratch.data());
        const int64_t k = ch * run->steps + t;
        run->observable[k] = r.observable;
        run->action[k] = r.action;
        run->accepted[k] = r.accepted ? 1 : 0;
      }
    }
  };
  prepared.pinned = {info[2], info[4], info[5], info[6]};
  prepared.result = [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return prepared;
}

}  // namespace sbi_native
