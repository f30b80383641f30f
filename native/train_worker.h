// A native training run as a Promise: the loop runs on a libuv worker thread (which never
// touches N-API), per-epoch losses reach an optional JS callback, an Int32Array flag cancels
// (the promise then rejects with SbiError ABORTED). Shared by every trainer's entry point
// (train_flow.cc, nre.cc). A Job provides:
//   using Epoch = ...;                 // { epoch, train_loss, validation_loss }
//   void Run(const int32_t* cancel, const std::function<void(const Epoch&)>& on_epoch);
//   bool Cancelled() const;
//   void Fill(Napi::Env env, Napi::Object& result) const;  // the resolved value's fields
#pragma once
#include <napi.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "napi_util.h"

namespace sbi_native {

inline Napi::Float64Array ToFloat64Array(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

// The fields every training result has: epochs, bestEpoch, bestValidationLoss and the losses per epoch.
inline void SetTrainingSummary(Napi::Env env, Napi::Object& o, const std::vector<double>& train_loss,
                               const std::vector<double>& validation_loss, int64_t best_epoch,
                               double best_validation_loss) {
  o.Set("epochs", static_cast<double>(train_loss.size()));
  o.Set("bestEpoch", static_cast<double>(best_epoch));
  o.Set("bestValidationLoss", best_validation_loss);
  o.Set("trainLoss", ToFloat64Array(env, train_loss));
  o.Set("validationLoss", ToFloat64Array(env, validation_loss));
}

template <class Job>
class TrainWorker : public Napi::AsyncProgressQueueWorker<typename Job::Epoch> {
  using Epoch = typename Job::Epoch;
  using Base = Napi::AsyncProgressQueueWorker<Epoch>;

 public:
  TrainWorker(Napi::Env env, std::unique_ptr<Job> job)
      : Base(env), job_(std::move(job)), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void SetOnEpoch(Napi::Function fn) { on_epoch_ = Napi::Persistent(fn); }
  void SetCancelFlag(Napi::Int32Array flag) {
    cancel_ref_ = Napi::Persistent(flag.As<Napi::Object>());
    cancel_ = flag.Data();
  }

 protected:
  void Execute(const typename Base::ExecutionProgress& progress) override {
    const bool report = !on_epoch_.IsEmpty();
    job_->Run(cancel_, [&](const Epoch& e) {
      if (report) progress.Send(&e, 1);
    });
  }
  void OnProgress(const Epoch* data, size_t count) override {
    if (on_epoch_.IsEmpty()) return;
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    for (size_t i = 0; i < count; ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("epoch", static_cast<double>(data[i].epoch));
      o.Set("trainLoss", data[i].train_loss);
      o.Set("validationLoss", data[i].validation_loss);
      try {
        on_epoch_.Call({o});
      } catch (const Napi::Error&) {
        // An exception thrown by the user's callback must not stop training.
      }
    }
  }
  void OnOK() override {
    Napi::Env env = this->Env();
    Napi::HandleScope scope(env);
    if (job_->Cancelled()) {
      deferred_.Reject(MakeSbiError(env, "ABORTED", "The operation was aborted").Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    job_->Fill(env, o);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::unique_ptr<Job> job_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference on_epoch_;
  Napi::ObjectReference cancel_ref_;
  const int32_t* cancel_ = nullptr;
};

// The training options every trainer shares (maxEpochs, batchSize, stopAfterEpochs, learningRate,
// validationFraction, clipMaxNorm, threads), read into any config with those fields; absent keys
// keep the config's defaults.
template <class Config>
void ReadTrainingOptions(Napi::Env env, const Napi::Object& o, Config& c) {
  const auto integer_option = [&o](const char* key, int64_t fallback, int64_t lo, int64_t hi) {
    const Napi::Value v = o.Get(key);
    return IsAbsent(v) ? fallback : GetInteger(v, key, lo, hi);
  };
  c.max_epochs = integer_option("maxEpochs", c.max_epochs, 1, c.max_epochs);
  c.batch_size = integer_option("batchSize", c.batch_size, 1, 1 << 20);
  c.stop_after_epochs = integer_option("stopAfterEpochs", c.stop_after_epochs, 1, (int64_t{1} << 31) - 1);
  c.learning_rate = GetNumberOption(o, "learningRate", c.learning_rate, 0.0, 1.0, false);
  if (!(c.learning_rate > 0.0)) ThrowRangeError(env, "Expected a positive `learningRate` but received 0");
  c.validation_fraction = GetNumberOption(o, "validationFraction", c.validation_fraction, 0.0, 1.0, true);
  c.clip_max_norm = GetNumberOption(o, "clipMaxNorm", c.clip_max_norm, 0.0, 1e300, false);
  if (!(c.clip_max_norm > 0.0)) ThrowRangeError(env, "Expected a positive `clipMaxNorm` but received 0");
  c.threads = GetThreads(o.Get("threads"));
}

// Checks the optional `onEpoch` callback and `cancelFlag` (an Int32Array of length ≥ 1), then
// queues the job on a TrainWorker and returns its promise.
template <class Job>
Napi::Promise QueueTrainWorker(Napi::Env env, std::unique_ptr<Job> job, const Napi::Value& on_epoch,
                               const Napi::Value& cancel_flag) {
  if (!IsAbsent(on_epoch) && !on_epoch.IsFunction())
    ThrowTypeError(env, "Expected a function or undefined for `onEpoch` but received " + Describe(on_epoch));
  Napi::Int32Array flag;
  if (!IsAbsent(cancel_flag)) {
    GetInt32Array(cancel_flag, "cancelFlag", 1);
    flag = cancel_flag.As<Napi::Int32Array>();
  }
  auto* worker = new TrainWorker<Job>(env, std::move(job));
  if (on_epoch.IsFunction()) worker->SetOnEpoch(on_epoch.As<Napi::Function>());
  if (!flag.IsEmpty()) worker->SetCancelFlag(flag);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace sbi_native
