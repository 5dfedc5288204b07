// bpcore._core: the binding of the C++ core. Each unit has one bind_<unit>() function.
#include "bindings.hpp"

#ifndef BPCORE_MODULE
#define BPCORE_MODULE _core
#endif

PYBIND11_MODULE(BPCORE_MODULE, m) {
  m.doc() =
      "bpcore's C++ core: layers, forward pass, delta back-propagation, losses, optimizers "
      "and the training epoch. Private: use the bpcore package.";
  using namespace bpcore::bindings;
  bind_build(m);       // __version__, simd, has_openmp, default_threads, cpu_supports
  bind_activation(m);  // activation_table, activate, derivative
  bind_network(m);     // loss_table, init_names, Network32/64, first_nonfinite
  bind_training(m);    // optimizer_table, OptimizerConfig, EpochOptions, Optimizer32/64, epochs
  bind_sparse(m);      // Csr32/64 and the CSR overloads (after Network32/64 and the epochs)
}
