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

}  // namespace sbi_native
