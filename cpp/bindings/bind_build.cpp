// What this build of the core is: its version, its instruction set, OpenMP, and which builds the
// CPU can run (the answer of bpcore._cpu, which bpcore/_loader.py asks before it loads a build).
#include "bindings.hpp"
#include "bpcore/parallel.hpp"
#include "cpu_features.hpp"

namespace bpcore::bindings {

void bind_build(py::module_& m) {
  m.attr("__version__") = BPCORE_VERSION;
  m.attr("simd") = BPCORE_SIMD;
  m.def("has_openmp", &has_openmp, "True when the core was built with OpenMP.");
  m.def(
      "in_epoch_poll", [] { return in_epoch_poll(); },
      "True while a training epoch of the core runs Python's signal handlers (see bindings.hpp).");
  m.def("default_threads", &default_threads,
        "The number of threads used when n_threads is not given (OpenMP's default).");
  m.def(
      "cpu_supports", [](const std::string& feature) { return cpu_supports(feature.c_str()); },
      py::arg("feature"), "Whether this CPU runs the 'avx2' or 'avx512' build of the core.");
}

}  // namespace bpcore::bindings
