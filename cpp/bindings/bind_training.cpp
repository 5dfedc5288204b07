// Optimizers and the training epoch. The epoch runs with the GIL released; between batches it asks
// Python (at most every 50 ms) whether a signal such as Ctrl-C arrived.
#include <chrono>
#include <stdexcept>

#include "bindings.hpp"
#include "bpcore/trainer.hpp"

namespace bpcore::bindings {

namespace {

template <class T>
void bind_training_t(py::module_& m, const char* optimizer_name_, const char* train_name) {
  using Opt = Optimizer<T>;
  py::class_<Opt>(m, optimizer_name_, py::module_local(), "Optimizer state (see optimizer.hpp).")
      .def(py::init<const OptimizerConfig&, Index>(), py::arg("config"), py::arg("n_params"))
      .def_property("config", &Opt::config, &Opt::set_config)
      .def_property_readonly("steps", &Opt::steps)
      .def_property_readonly("n_params", &Opt::n_params)
      .def("step", [](Opt& o, Network<T>& net, double lr) {
        py::gil_scoped_release release;
        o.step(net, lr);
      }, py::arg("net"), py::arg("lr"), "One update of net's parameters from net's gradients.")
      .def("reset", &Opt::reset);

  m.def(
      train_name,
      [](Network<T>& net, Opt& optimizer, const CArray<T>& X, const CArray<T>& Y,
         std::optional<CArray<T>> w, const EpochOptions& options, py::object reduce) {
        const Index rows = batch_rows(net.n_inputs(), net.n_outputs(), X, Y, w);
        const T* wp = w ? w->data() : nullptr;
        using clock = std::chrono::steady_clock;
        bool signalled = false;
        auto last = clock::now();
        unsigned calls = 0;
        const std::function<bool()> poll = [&]() {
          if ((++calls & 7u) != 0) return false;
          const auto now = clock::now();
          if (now - last < std::chrono::milliseconds(50)) return false;
          last = now;
          py::gil_scoped_acquire acquire;
          signalled = PyErr_CheckSignals() != 0;
          return signalled;
        };
        // The reducer hands Python zero-copy views: the flat gradient buffer and the sums.
        GradientReducer<T> reducer;
        py::array_t<T> gradient_view;
        py::array_t<double> sums_view;
        if (!reduce.is_none()) {
          // The existing Python object of `net` owns the view (it keeps the network alive).
          gradient_view = view<T>(net.grads(), {net.n_params()},
                                  py::cast(&net, py::return_value_policy::reference));
          sums_view = py::array_t<double>(kReduceSums);
          reducer = [&](T* gradient, Index, double* sums, Index n_sums) {
            py::gil_scoped_acquire acquire;
            if (gradient != net.grads()) throw std::logic_error("reducer: unexpected buffer");
            std::copy(sums, sums + n_sums, sums_view.mutable_data());
            reduce(gradient_view, sums_view);
            std::copy(sums_view.data(), sums_view.data() + n_sums, sums);
          };
        }
        EpochResult result;
        {
          py::gil_scoped_release release;
          result = train_epoch(net, optimizer, X.data(), Y.data(), wp, rows, options, &poll,
                               reduce.is_none() ? nullptr : &reducer);
        }
        if (signalled) throw py::error_already_set();  // e.g. KeyboardInterrupt, after roll-back
        return result;
      },
      py::arg("net"), py::arg("optimizer"), py::arg("X").noconvert(), py::arg("Y").noconvert(),
      py::arg("sample_weight").noconvert().none(true), py::arg("options"),
      py::arg("reduce") = py::none(),
      "Runs one epoch (trainer.hpp). On a signal the epoch is rolled back and the signal's "
      "exception (KeyboardInterrupt for Ctrl-C) is raised. With `reduce`, the epoch is one "
      "process's part of data-parallel training: reduce(gradient, sums) must sum both arrays "
      "(zero-copy views) over all processes in place; an exception it raises rolls the epoch back "
      "and passes on.");
}

}  // namespace

void bind_training(py::module_& m) {
  py::class_<OptimizerConfig>(m, "OptimizerConfig", py::module_local())
      .def(py::init([](const std::string& kind, double lr, double momentum, double beta1,
                       double beta2, double epsilon, double weight_decay,
                       const std::string& schedule, double power_t, Index step_size,
                       double gamma) {
             OptimizerConfig c;
             c.kind = optimizer_from_name(kind);
             c.lr = lr;
             c.momentum = momentum;
             c.beta1 = beta1;
             c.beta2 = beta2;
             c.epsilon = epsilon;
             c.weight_decay = weight_decay;
             c.schedule = schedule_from_name(schedule);
             c.power_t = power_t;
             c.step_size = step_size;
             c.gamma = gamma;
             validate(c);
             return c;
           }),
           py::arg("kind") = "sgd", py::arg("lr") = 0.01, py::arg("momentum") = 0.9,
           py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("epsilon") = 1e-8,
           py::arg("weight_decay") = 0.0, py::arg("schedule") = "constant",
           py::arg("power_t") = 0.5, py::arg("step_size") = 10, py::arg("gamma") = 0.1)
      .def_property_readonly("kind", [](const OptimizerConfig& c) { return std::string(optimizer_name(c.kind)); })
      .def_property_readonly("schedule", [](const OptimizerConfig& c) { return std::string(schedule_name(c.schedule)); })
      .def_readonly("lr", &OptimizerConfig::lr)
      .def_readonly("momentum", &OptimizerConfig::momentum)
      .def_readonly("beta1", &OptimizerConfig::beta1)
      .def_readonly("beta2", &OptimizerConfig::beta2)
      .def_readonly("epsilon", &OptimizerConfig::epsilon)
      .def_readonly("weight_decay", &OptimizerConfig::weight_decay)
      .def_readonly("power_t", &OptimizerConfig::power_t)
      .def_readonly("step_size", &OptimizerConfig::step_size)
      .def_readonly("gamma", &OptimizerConfig::gamma);
  m.def("learning_rate", &learning_rate, py::arg("config"), py::arg("epoch"),
        "The learning rate of a 0-based epoch under the config's schedule.");

  py::class_<EpochOptions>(m, "EpochOptions", py::module_local())
      .def(py::init([](Index batch_size, bool shuffle, bool drop_last, std::uint64_t seed,
                       Index epoch, int n_threads, Index global_rows, Index row_offset) {
             return EpochOptions{batch_size, shuffle, drop_last, seed,
                                 epoch,      n_threads, global_rows, row_offset};
           }),
           py::arg("batch_size") = 1, py::arg("shuffle") = true, py::arg("drop_last") = false,
           py::arg("seed") = 0, py::arg("epoch") = 0, py::arg("n_threads") = 0,
           py::arg("global_rows") = 0, py::arg("row_offset") = 0)
      .def_readwrite("epoch", &EpochOptions::epoch);

  py::class_<EpochResult>(m, "EpochResult", py::module_local())
      .def_property_readonly("status", [](const EpochResult& r) {
        switch (r.status) {
          case EpochStatus::ok: return "ok";
          case EpochStatus::nonfinite: return "nonfinite";
          case EpochStatus::interrupted: return "interrupted";
        }
        return "ok";
      })
      .def_readonly("loss", &EpochResult::loss)
      .def_readonly("lr", &EpochResult::lr)
      .def_readonly("batches", &EpochResult::batches)
      .def_readonly("samples", &EpochResult::samples);

  m.def("epoch_permutation", [](Index n, std::uint64_t seed, Index epoch) {
    require(n >= 0 && epoch >= 0, "n and epoch must be non-negative");
    const auto order = epoch_permutation(n, seed, std::uint64_t(epoch));
    py::array_t<std::int64_t> out(static_cast<py::ssize_t>(order.size()));
    std::copy(order.begin(), order.end(), out.mutable_data());
    return out;
  }, py::arg("n"), py::arg("seed"), py::arg("epoch"),
        "The order in which epoch `epoch` visits rows 0 … n-1 when shuffling.");

  bind_training_t<float>(m, "Optimizer32", "train_epoch32");
  bind_training_t<double>(m, "Optimizer64", "train_epoch64");
}

}  // namespace bpcore::bindings
