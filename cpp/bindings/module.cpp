// bpcore._core: the binding of the C++ core. Each unit has one bind_<unit>() function.
#include "bindings.hpp"
#include "bpcore/parallel.hpp"

#ifndef BPCORE_MODULE
#define BPCORE_MODULE _core
#endif

namespace py = pybind11;

PYBIND11_MODULE(BPCORE_MODULE, m) {
  m.doc() = "bpcore's C++ core: layers, forward pass, delta back-propagation, losses, optimizers "
            "and the training epoch. Private: use the bpcore package.";
  m.attr("__version__") = BPCORE_VERSION;
  m.attr("simd") = BPCORE_SIMD;
  m.def("has_openmp", &bpcore::has_openmp, "True when the core was built with OpenMP.");
  m.def("default_threads", &bpcore::default_threads,
        "The number of threads used when n_threads is not given (OpenMP's default).");
  m.def("cpu_supports", [](const std::string& feature) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (feature == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (feature == "avx512")
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
    (void)feature;
    return false;
  }, py::arg("feature"), "Whether this CPU runs the 'avx2' or 'avx512' build of the core.");

  bpcore::bindings::bind_activation(m);
  bpcore::bindings::bind_network(m);
  bpcore::bindings::bind_training(m);
}
