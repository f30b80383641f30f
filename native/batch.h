// Batched work over rows [0, n): run synchronously on the thread pool, or as a Promise on a
// libuv worker thread with progress events and cancellation. The worker thread never touches
// N-API; JS objects the kernel reads or writes are pinned by references until it settles.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {

struct BatchJob {
  int64_t n = 0;
  int threads = 0;     // <= 0: default
  int64_t grain = 1024;  // rows per task handed to a thread
  std::function<void(int64_t, int64_t)> range;
};

// Runs the job in blocks; between blocks polls `cancel_flag` (may be null: nonzero means stop)
// and reports rows done. Returns false if cancelled.
bool RunBatch(const BatchJob& job, const int32_t* cancel_flag, const std::function<void(int64_t)>& on_progress);

// Starts `job` off the event loop. `progress` (a function or undefined) is called as
// progress(rowsDone, rowsTotal); `cancel_flag` is an Int32Array (or undefined) whose element 0
// is set non-zero by JS to cancel: the promise then rejects with SbiError code "ABORTED".
// `pinned` values stay referenced until the promise settles; `on_done` builds the resolution value.
Napi::Promise StartBatch(Napi::Env env, BatchJob job, const Napi::Value& progress, const Napi::Value& cancel_flag,
                         const std::vector<Napi::Value>& pinned, std::function<Napi::Value(Napi::Env)> on_done);

// A batch built from a call's arguments: the job, the JS values it reads or writes (pinned while
// it runs off the event loop) and the call's result once the job has run. The builder checks
// every argument; the kernel state the job captures must be plain (no N-API values).
struct PreparedBatch {
  BatchJob job;
  std::vector<Napi::Value> pinned;
  std::function<Napi::Value(Napi::Env)> result;
};
using PrepareBatchFn = PreparedBatch (*)(const Napi::CallbackInfo& info);

// Exports the pair built by PREPARE from the same arguments: `name` runs the batch on the thread
// pool and returns its result; `name`Async returns a Promise of it, taking the progress callback
// and the cancel flag (see StartBatch) as arguments PROGRESS_ARG and PROGRESS_ARG + 1.
template <PrepareBatchFn PREPARE, size_t PROGRESS_ARG>
void ExportBatchPair(Napi::Env env, Napi::Object exports, const std::string& name) {
  ExportFunction(env, exports, name.c_str(), [](const Napi::CallbackInfo& info) {
    PreparedBatch p = PREPARE(info);
    RunBatch(p.job, nullptr, nullptr);
    return p.result(info.Env());
  });
  ExportFunction(env, exports, (name + "Async").c_str(), [](const Napi::CallbackInfo& info) -> Napi::Value {
    PreparedBatch p = PREPARE(info);
    return StartBatch(info.Env(), std::move(p.job), info[PROGRESS_ARG], info[PROGRESS_ARG + 1], p.pinned, std::move(p.result));
  });
}

}  // namespace sbi_native
