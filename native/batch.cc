#include "batch.h"

#include <algorithm>

#include "napi_util.h"

namespace sbi_native {

static bool Cancelled(const int32_t* flag) { return flag != nullptr && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; }

bool RunBatch(const BatchJob& job, const int32_t* cancel_flag, const std::function<void(int64_t)>& on_progress) {
  const int threads = job.threads > 0 ? job.threads : DefaultThreads();
  // Blocks of ~1/64 of the batch keep progress and cancellation responsive without
  // starving threads; a block always spans several grains per thread.
  const int64_t min_block = job.grain * threads * 4;
  const int64_t block = std::max(min_block, (job.n + 63) / 64);
  for (int64_t start = 0; start < job.n; start += block) {
    if (Cancelled(cancel_flag)) return false;
    const int64_t end = std::min(job.n, start + block);
    ParallelFor(end - start, job.grain, threads,
                [&](int64_t b, int64_t e) { job.range(start + b, start + e); });
    if (on_progress) on_progress(end);
  }
  return true;
}

namespace {

class BatchWorker : public Napi::AsyncProgressWorker<int64_t> {
 public:
  BatchWorker(Napi::Env env, BatchJob job, std::function<Napi::Value(Napi::Env)> on_done)
      : Napi::AsyncProgressWorker<int64_t>(env), job_(std::move(job)), on_done_(std::move(on_done)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void SetProgress(Napi::Function fn) { progress_ = Napi::Persistent(fn); }
  void SetCancelFlag(Napi::Int32Array flag) {
    cancel_ref_ = Napi::Persistent(flag.As<Napi::Object>());
    cancel_flag_ = flag.Data();
  }
  void Pin(const Napi::Value& v) {
    if (v.IsObject()) pinned_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    const bool report = !progress_.IsEmpty();
    const bool finished = RunBatch(job_, cancel_flag_, [&](int64_t done) {
      if (report) progress.Send(&done, 1);
    });
    if (!finished || Cancelled(cancel_flag_)) aborted_ = true;
  }
  void OnProgress(const int64_t* data, size_t count) override {
    if (count == 0 || progress_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      progress_.Call({Napi::Number::New(env, static_cast<double>(data[count - 1])),
                      Napi::Number::New(env, static_cast<double>(job_.n))});
    } catch (const Napi::Error&) {
      // An exception thrown by the user's progress callback must not abort the batch.
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (aborted_) {
      deferred_.Reject(MakeSbiError(env, "ABORTED", "The operation was aborted").Value());
      return;
    }
    try {
      deferred_.Resolve(on_done_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  BatchJob job_;
  std::function<Napi::Value(Napi::Env)> on_done_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference progress_;
  Napi::ObjectReference cancel_ref_;
  const int32_t* cancel_flag_ = nullptr;
  std::vector<Napi::ObjectReference> pinned_;
  bool aborted_ = false;
};

}  // namespace

Napi::Promise StartBatch(Napi::Env env, BatchJob job, const Napi::Value& progress, const Napi::Value& cancel_flag,
                         const std::vector<Napi::Value>& pinned, std::function<Napi::Value(Napi::Env)> on_done) {
  if (!IsAbsent(progress) && !progress.IsFunction())
    ThrowTypeError(env, "Expected a function or undefined for `onProgress` but received " + Describe(progress));
  Napi::Int32Array flag;
  if (!IsAbsent(cancel_flag)) {
    GetInt32Array(cancel_flag, "cancelFlag", 1);
    flag = cancel_flag.As<Napi::Int32Array>();
  }
  auto* worker = new BatchWorker(env, std::move(job), std::move(on_done));
  if (progress.IsFunction()) worker->SetProgress(progress.As<Napi::Function>());
  if (!flag.IsEmpty()) worker->SetCancelFlag(flag);
  for (const auto& v : pinned) worker->Pin(v);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace sbi_native
