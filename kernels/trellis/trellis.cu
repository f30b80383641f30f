// CUDA launcher of the trellis's inside and marginal passes (trellis.h), in double as on the CPU.
// The host does what native/trellis.cc's RunTrellis does around the passes: the per-set features
// (trellis_subset_features, on the host), the sets ordered by size, and the MAP hierarchy from
// the recorded splits (trellis_map_splits). On the device:
//   inside    one level (set size) per launch, one thread per set: trellis_inside, whose splits'
//             parts are all of smaller sizes, done by earlier launches;
//   marginals per level from the top, the CPU's kTrellisScatterBuffers slices of the level's parents,
//             one thread per slice (trellis_scatter into that slice's buffer), then one thread per
//             set of the next level sums the buffers in buffer order: the CPU's partial sums, in
//             its order. Only kTrellisScatterBuffers threads scatter: a first, deterministic
//             version (the WGSL pass, trellis.wgsl, parallelises the scatter differently).
#include <vector>

#include "../common/cuda_util.cuh"
// nvcc's front end reports TrellisSplits (no constructor) as used before set when its begin() is
// called; begin() assigns every member it or next() reads (kernels/trellis/trellis.h).
#pragma nv_diag_suppress 549
#include "trellis.h"

namespace sbi {
namespace cuda {
namespace {

template <class E>
__global__ void inside_level_kernel(E energy, typename E::Table tab, TrellisTables t, const uint32_t* order,
                                    int64_t count, uint32_t full) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += step) {
    TrellisBlock w;
    trellis_inside(energy, tab, order[i], full, t, w);
  }
}

// Slice c of the level's parents [c·len/K, (c+1)·len/K) adds into buffer c (K = kTrellisScatterBuffers).
template <class E>
__global__ void scatter_level_kernel(E energy, typename E::Table tab, TrellisTables t, const uint32_t* order,
                                     int64_t level_size, uint32_t full, const double* marginal, double* buffers) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= kTrellisScatterBuffers) return;
  const size_t sets = size_t{full} + 1u;
  double* into = buffers + static_cast<size_t>(c) * sets;
  const int64_t lo = level_size * c / kTrellisScatterBuffers, hi = level_size * (c + 1) / kTrellisScatterBuffers;
  TrellisBlock w;
  for (int64_t i = lo; i < hi; ++i) trellis_scatter(energy, tab, order[i], full, t, marginal, into, w);
}

// marginal[s] = Σ_c buffers[c][s], c in order, for the level's sets (every parent done).
__global__ void gather_level_kernel(const uint32_t* order, int64_t level_size, const double* buffers, uint32_t full,
                                    double* marginal) {
  const size_t sets = size_t{full} + 1u;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < level_size; i += step) {
    const uint32_t s = order[i];
    double m = 0.0;
    for (int c = 0; c < kTrellisScatterBuffers; ++c) m += buffers[static_cast<size_t>(c) * sets + s];
    marginal[s] = m;
  }
}

template <class E>
Status run_trellis(const E& energy, const double* leaves, int n, bool marginals, TrellisOutput* out) {
  using Subset = typename E::Subset;
  const uint32_t sets = uint32_t{1} << n, full = sets - 1u;
  // Features on the host, exactly as the CPU computes them, then the table goes to the device.
  std::vector<Subset> subsets(sets);
  std::vector<double> table_memory(static_cast<size_t>(E::kTableColumns) * sets);
  sbi::trellis_subset_features(energy, leaves, n, subsets.data(), energy.table(table_memory.data(), sets));
  // sets ordered by size (counting sort): level k is order[start[k] .. start[k + 1])
  std::vector<uint32_t> order(sets), start(static_cast<size_t>(n) + 2, 0);
  for (uint32_t s = 1; s < sets; ++s) ++start[static_cast<size_t>(popcount32(s)) + 1];
  for (int k = 1; k <= n + 1; ++k) start[k] += start[k - 1];
  {
    std::vector<uint32_t> fill(start.begin(), start.end());
    for (uint32_t s = 1; s < sets; ++s) order[fill[popcount32(s)]++] = s;
  }

  DeviceBuffer<double> d_table, d_z_map, d_marginal, d_buffers;
  DeviceBuffer<uint32_t> d_map_left, d_order;
  DeviceBuffer<U128> d_count;
  SBI_CUDA_TRY(d_table.allocate(table_memory.size(), "trellis table"));
  SBI_CUDA_TRY(d_z_map.allocate(2 * static_cast<size_t>(sets), "log Z and MAP energies"));
  SBI_CUDA_TRY(d_map_left.allocate(sets, "MAP splits"));
  SBI_CUDA_TRY(d_count.allocate(sets, "hierarchy counts"));
  SBI_CUDA_TRY(d_order.allocate(sets, "sets by size"));
  SBI_CUDA_TRY(d_table.upload(table_memory.data()));
  SBI_CUDA_TRY(d_order.upload(order.data()));
  const typename E::Table tab = energy.table(d_table.get(), sets);
  const TrellisTables t{d_z_map.get(), d_map_left.get(), d_count.get()};
  for (int size = 1; size <= n; ++size) {
    const int64_t count = start[size + 1] - start[size];
    inside_level_kernel<E><<<grid_blocks(count), kThreadsPerBlock>>>(energy, tab, t, d_order.get() + start[size], count, full);
    SBI_CUDA_TRY(finish_launch("inside_level_kernel"));
  }
  std::vector<double> z_map(2 * static_cast<size_t>(sets));
  std::vector<uint32_t> map_left(sets);
  SBI_CUDA_TRY(d_z_map.download(z_map.data()));
  SBI_CUDA_TRY(d_map_left.download(map_left.data()));
  const TrellisTables host{z_map.data(), map_left.data(), nullptr};  // trellis_map_splits reads map_left
  out->log_z = host.log_z(full);
  out->map_energy = host.map_energy(full);
  std::vector<uint32_t> stack(2 * static_cast<size_t>(n) + 2);
  out->map_splits.assign(2 * static_cast<size_t>(n - 1), 0);
  out->has_map = n == 1 || trellis_map_splits(host, full, out->map_splits.data(), stack.data()) == n - 1;
  if (!marginals) return Status{};

  constexpr int kBuffers = kTrellisScatterBuffers;
  SBI_CUDA_TRY(d_marginal.allocate(sets, "marginals"));
  SBI_CUDA_TRY(d_buffers.allocate(static_cast<size_t>(kBuffers) * sets, "scatter buffers"));
  SBI_CUDA_CALL(cudaMemset(d_marginal.get(), 0, static_cast<size_t>(sets) * sizeof(double)));
  SBI_CUDA_CALL(cudaMemset(d_buffers.get(), 0, static_cast<size_t>(kBuffers) * sets * sizeof(double)));
  if (out->log_z > -INFINITY) {
    const double one = 1.0;
    SBI_CUDA_CALL(cudaMemcpy(d_marginal.get() + full, &one, sizeof one, cudaMemcpyHostToDevice));
  }
  for (int size = n; size >= 1; --size) {
    const int64_t begin = start[size], level_size = start[size + 1] - begin;
    if (size < n) {  // every parent of these sets is done: their marginals are final
      gather_level_kernel<<<grid_blocks(level_size), kThreadsPerBlock>>>(d_order.get() + begin, level_size,
                                                                         d_buffers.get(), full, d_marginal.get());
      SBI_CUDA_TRY(finish_launch("gather_level_kernel"));
    }
    if (size > 1) {
      scatter_level_kernel<E><<<1, kBuffers>>>(energy, tab, t, d_order.get() + begin, level_size, full, d_marginal.get(),
                                               d_buffers.get());
      SBI_CUDA_TRY(finish_launch("scatter_level_kernel"));
    }
  }
  out->marginals.assign(sets, 0.0);
  return d_marginal.download(out->marginals.data());
}

}  // namespace

Status trellis(int energy, const double* params, const double* leaves, int n, bool marginals, TrellisOutput* out) {
  if (n < 1 || n > kTrellisMaxLeaves) {
    Status s;
    s.code = static_cast<int>(cudaErrorInvalidValue);
    s.message = "trellis: expected 1 to " + std::to_string(kTrellisMaxLeaves) + " leaves, got " + std::to_string(n);
    return s;
  }
  if (energy == 0) {
    GinkgoModel m;
    m.lambda = params[0];
    m.lambda_root = params[1];
    m.t_cut = params[2];
    return run_trellis(GinkgoEnergy(m), leaves, n, marginals, out);
  }
  return run_trellis(GaussianLinkageEnergy(params[0]), leaves, n, marginals, out);
}

}  // namespace cuda
}  // namespace sbi
