// Row batching of the per-row launchers (kernels/flows/maf.cu, mdn.cu, kernels/nn/resnet.cu): one
// thread per row, each with its own slice of a device workspace. The rows of a call go in launches
// of rows_per_launch rows, so that the workspace stays bounded whatever n is.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda_util.cuh"

namespace sbi {
namespace cuda {

// Workspace bound of one launch (bytes).
constexpr int64_t kRowWorkspaceBytes = int64_t{256} << 20;

// Rows per launch when each row needs floats_per_row workspace values (at least one row).
inline int64_t rows_per_launch(int64_t n, int64_t floats_per_row) {
  const int64_t per_row = (floats_per_row < 1 ? 1 : floats_per_row) * static_cast<int64_t>(sizeof(float));
  const int64_t fit = kRowWorkspaceBytes / per_row;
  return fit < 1 ? 1 : (fit < n ? fit : n);
}

// A device copy of `count` host values (none copied when count is 0 or host is null).
template <class T>
Status upload_copy(DeviceBuffer<T>& buffer, const T* host, int64_t count, const char* name) {
  SBI_CUDA_TRY(buffer.allocate(static_cast<size_t>(count), name));
  if (count > 0 && host != nullptr) SBI_CUDA_TRY(buffer.upload(host));
  return Status{};
}

}  // namespace cuda
}  // namespace sbi
