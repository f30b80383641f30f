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

namespace sbi {
constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoPi = 6.28318530717958647692;
constexpr double kLogSqrtTwoPi = 0.91893853320467274178;  // log(sqrt(2*pi))
}  // namespace sbi
