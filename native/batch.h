// Batched work over rows [0, n): run synchronously on the thread pool, or as a Promise on a
// libuv worker thread with progress events and cancellation. The worker thread never touches
// N-API; JS objects the kernel reads or writes are pinned by references until it settles.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

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

}  // namespace sbi_native
