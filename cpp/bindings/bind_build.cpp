// What this build of the core is: its version, its instruction set, OpenMP, and which builds the
// CPU can run (bpcore/_loader.py picks one at import).
#include "bindings.hpp"
#include "bpcore/parallel.hpp"

namespace bpcore::bindings {

namespace {

// Whether this CPU runs the core built for `feature` ("avx2": AVX2 + FMA, "avx512": F, BW, DQ, VL).
bool cpu_supports(const std::string& feature) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (feature == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (feature == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  (void)feature;
  return false;
}

}  // namespace

void bind_build(py::module_& m) {
  m.attr("__version__") = BPCORE_VERSION;
  m.attr("simd") = BPCORE_SIMD;
  m.def("has_openmp", &has_openmp, "True when the core was built with OpenMP.");
  m.def(
      "in_epoch_poll", [] { return in_epoch_poll(); },
      "True while a training epoch of the core runs Python's signal handlers (see bindings.hpp).");
  m.def("default_threads", &default_threads,
        "The number of threads used when n_threads is not given (OpenMP's default).");
  m.def("cpu_supports", &cpu_supports, py::arg("feature"),
        "Whether this CPU runs the 'avx2' or 'avx512' build of the core.");
}

}  // namespace bpcore::bindings
