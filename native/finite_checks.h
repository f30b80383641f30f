// Rejects a non-finite element of a typed array with a RangeError naming the argument and index.
#pragma once
#include <cmath>
#include <string>

#include "napi_util.h"

namespace sbi_native {

template <class T>
void CheckFiniteArray(Napi::Env env, const View<T>& a, const char* name) {
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(static_cast<double>(a.data[i])))
      ThrowRangeError(env, std::string("Expected finite values in `") + name + "` but `" + name + "[" + std::to_string(i) +
                               "]` is " + std::to_string(static_cast<double>(a.data[i])));
}

}  // namespace sbi_native
