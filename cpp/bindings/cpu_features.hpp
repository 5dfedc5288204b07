// Which instruction-set builds of the core this CPU runs: shared by bpcore._cpu, which
// bpcore/_loader.py asks before it loads any build, and bpcore._core.cpu_supports.
#pragma once

#include <cstring>

namespace bpcore::bindings {

// Whether this CPU runs the core built for `feature` ("avx2": AVX2 + FMA, "avx512": F, BW, DQ, VL).
inline bool cpu_supports(const char* feature) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (std::strcmp(feature, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (std::strcmp(feature, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  (void)feature;
  return false;
}

}  // namespace bpcore::bindings
