// Portable kernel bodies: one definition compiled for the host (inline C++) and,
// under nvcc, for the device. Kernel headers include only this and <cstdint>/<cmath>.
#pragma once
#include <cstdint>
#include <cmath>

#if defined(__CUDACC__)
#define SBI_HD __host__ __device__ inline
#else
#define SBI_HD inline
#endif

// Fully unrolls the next loop (constant trip count). Kernels meant to vectorise across rows
// use it on their short inner loops: a loop left inside the row loop stops vectorisation.
#if defined(__CUDACC__)
#define SBI_UNROLL _Pragma("unroll")
#elif defined(__clang__)
#define SBI_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define SBI_UNROLL _Pragma("GCC unroll 64")
#else
#define SBI_UNROLL
#endif

// A constant table (array) that SBI_HD code indexes at run time. nvcc does not let device code
// read a namespace-scope host variable, so under nvcc the table is a __device__ constexpr variable
// (the kernels' host-side instantiations in .cu files are never called).
#if defined(__CUDACC__)
#define SBI_TABLE __device__ constexpr
#else
#define SBI_TABLE constexpr
#endif

namespace sbi {
constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoPi = 6.28318530717958647692;
constexpr double kLogSqrtTwoPi = 0.91893853320467274178;  // log(sqrt(2*pi))
}  // namespace sbi
