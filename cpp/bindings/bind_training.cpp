// The optimizer table and options, optimizers and the training epoch. The epoch runs with the GIL
// released; between batches it asks Python whether a signal such as Ctrl-C arrived (SignalPoll).
// bpcore/types.hpp first: it sets up Eigen's assertions before pybind11's Eigen support includes
// Eigen (in sanitizer builds they throw instead of aborting)
// clang-format off
#include "bpcore/types.hpp"
#include <pybind11/eigen.h>
// clang-format on

#include <limits>

#include "bindings.hpp"
#include "bpcore/fullbatch.hpp"
#include "bpcore/lbfgs_run.hpp"
#include "bpcore/names.hpp"
#include "bpcore/trainer.hpp"

namespace bpcore::bindings {

namespace {

std::vector<std::string> words(std::string_view list) {
  std::vector<std::string> out;
  for (auto w : split_words(list)) out.emplace_back(w);
  return out;
}

py::list optimizer_entries() {
  py::list out;
  for (const auto& info : optimizer_table) {
    py::dict entry;
    entry["name"] = std::string(info.name);
    entry["options"] = py::tuple(py::cast(words(info.options)));
    entry["full_batch"] = info.full_batch;
    out.append(entry);
  }
  return out;
}

std::vector<std::string> schedule_entries() {
  std::vector<std::string> out;
  for (const auto& info : schedule_table) out.emplace_back(info.name);
  return out;
}

py::array_t<std::int64_t> permutation_array(Index n, std::uint64_t seed, Index epoch) {
  const auto order = epoch_permutation(n, seed, epoch);
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(order.size()));
  std::copy(order.begin(), order.end(), out.mutable_data());
  return out;
}

template <class T>
EpochResult train_epoch_arrays(Network<T>& net, Optimizer<T>& optimizer, const CArray<T>& X,
                               const CArray<T>& Y, std::optional<CArray<T>> w,
                               const EpochOptions& options, py::object reduce) {
  const Index rows = batch_rows(net.n_inputs(), net.n_outputs(), X, Y, w);
  const T* wp = w ? w->data() : nullptr;
  SignalPoll poll;
  PythonReducer<T> reducer(net, std::move(reduce));
  EpochResult result;
  {
    py::gil_scoped_release release;
    result = train_epoch(net, optimizer, X.data(), Y.data(), wp, rows, options, poll.function(),
                         reducer.get());
  }
  poll.rethrow_if_signalled();  // e.g. KeyboardInterrupt, after the roll-back
  return result;
}

// The epochs of train_epochs; the J, learning rate and seconds of each finished one (ok, converged
// or stalled: not a rolled-back one) appended to three lists, also when a signal's exception is
// raised, and the status of the last epoch run returned ("ok" when none ran). Python floats in
// lists, not an object an epoch: a Python loop over per-epoch results took 0.4 us an epoch, a
// tenth of a full-batch epoch of a 4-8-3 network on iris.
template <class T>
std::string train_epochs_arrays(Network<T>& net, Optimizer<T>& optimizer, const CArray<T>& X,
                                const CArray<T>& Y, std::optional<CArray<T>> w,
                                const EpochOptions& options, Index epochs,
                                std::optional<double> tol, py::list loss, py::list lr,
                                py::list seconds) {
  const Index rows = batch_rows(net.n_inputs(), net.n_outputs(), X, Y, w);
  const T* wp = w ? w->data() : nullptr;
  SignalPoll poll;
  std::vector<TimedEpoch> done;
  auto report = [&] {
    for (const auto& d : done) {
      const EpochStatus s = d.result.status;
      if (s == EpochStatus::nonfinite || s == EpochStatus::interrupted) break;
      loss.append(d.result.loss);
      lr.append(d.result.lr);
      seconds.append(d.seconds);
    }
  };
  try {
    py::gil_scoped_release release;
    train_epochs(net, optimizer, X.data(), Y.data(), wp, rows, options, epochs,
                 tol ? *tol : std::numeric_limits<double>::quiet_NaN(), poll.function(), done);
  } catch (...) {
    report();
    throw;
  }
  report();
  poll.rethrow_if_signalled();  // after the finished epochs are reported
  return std::string(done.empty() ? "ok" : epoch_status_name(done.back().result.status));
}

template <class T>
EpochResult fullbatch_epoch_arrays(Network<T>& net, Optimizer<T>& optimizer, const CArray<T>& X,
                                   const CArray<T>& Y, std::optional<CArray<T>> w,
                                   const EpochOptions& options) {
  const Index rows = batch_rows(net.n_inputs(), net.n_outputs(), X, Y, w);
  const T* wp = w ? w->data() : nullptr;
  SignalPoll poll;
  EpochResult result;
  {
    py::gil_scoped_release release;
    result =
        fullbatch_epoch(net, optimizer, X.data(), Y.data(), wp, rows, options, poll.function());
  }
  poll.rethrow_if_signalled();
  return result;
}

template <class T>
py::dict lbfgs_run_arrays(Network<T>& net, const CArray<T>& X, const CArray<T>& Y,
                          std::optional<CArray<T>> w, Index history_size, Index max_iter,
                          Index max_fun, Index max_linesearch, double grad_tol, double loss_tol,
                          double l2, int n_threads) {
  const Index rows = batch_rows(net.n_inputs(), net.n_outputs(), X, Y, w);
  LbfgsRunSettings settings{history_size, max_iter, max_fun, max_linesearch,
                            grad_tol,     loss_tol, l2,      n_threads};
  SignalPoll poll;
  LbfgsRunResult r;
  {
    py::gil_scoped_release release;
    r = lbfgs_run(net, X.data(), Y.data(), w ? w->data() : nullptr, rows, settings,
                  poll.function());
  }
  poll.rethrow_if_signalled();
  return lbfgs_run_dict(r);
}

template <class T>
py::tuple lm_normal_equations_arrays(const Network<T>& net, const CArray<T>& X, const CArray<T>& Y,
                                     std::optional<CArray<T>> w, int n_threads) {
  const Index rows = batch_rows(net.n_inputs(), net.n_outputs(), X, Y, w);
  Eigen::MatrixXd JtJ;
  Eigen::VectorXd Jte;
  double J = 0;
  {
    py::gil_scoped_release release;
    J = lm_normal_equations(net, X.data(), Y.data(), w ? w->data() : nullptr, rows, n_threads, JtJ,
                            Jte);
  }
  return py::make_tuple(JtJ, Jte, J);
}

template <class T>
void bind_training_t(py::module_& m, const char* optimizer_name_, const char* train_name) {
  using Opt = Optimizer<T>;
  py::class_<Opt>(m, optimizer_name_, py::module_local(), "Optimizer state (see optimizer.hpp).")
      .def(py::init<const OptimizerConfig&, Index>(), py::arg("config"), py::arg("n_params"))
      .def_property("config", &Opt::config, &Opt::set_config)
      .def_property_readonly("steps", &Opt::steps)
      .def_property_readonly("n_params", &Opt::n_params)
      .def(
          "step",
          [](Opt& o, Network<T>& net, double lr) {
            py::gil_scoped_release release;
            o.step(net, lr);
          },
          py::arg("net"), py::arg("lr"), "One update of net's parameters from net's gradients.")
      .def("reset", &Opt::reset)
      .def(
          "state",
          [](const Opt& o) {
            auto copy = [](const Eigen::Array<T, Eigen::Dynamic, 1>& a) {
              py::array_t<T> out(a.size());
              std::copy(a.data(), a.data() + a.size(), out.mutable_data());
              return out;
            };
            return py::make_tuple(copy(o.first_moment()), copy(o.second_moment()), o.steps());
          },
          "(m, s, steps): copies of the moments and the step count, for a checkpoint.")
      .def(
          "set_state",
          [](Opt& o, py::array_t<T, py::array::c_style | py::array::forcecast> m,
             py::array_t<T, py::array::c_style | py::array::forcecast> s, Index steps) {
            if (m.ndim() != 1 || s.ndim() != 1)
              throw std::invalid_argument("optimizer state: m and s must be 1-D arrays");
            using Vec = Eigen::Array<T, Eigen::Dynamic, 1>;
            o.set_state(Eigen::Map<const Vec>(m.data(), m.shape(0)),
                        Eigen::Map<const Vec>(s.data(), s.shape(0)), steps);
          },
          py::arg("m"), py::arg("s"), py::arg("steps"),
          "Restores a state returned by state() (same kind and number of parameters).");

  m.def(train_name, &train_epoch_arrays<T>, py::arg("net"), py::arg("optimizer"),
        py::arg("X").noconvert(), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::arg("options"),
        py::arg("reduce") = py::none(),
        "Runs one epoch (trainer.hpp). On a signal the epoch is rolled back and the signal's "
        "exception (KeyboardInterrupt for Ctrl-C) is raised. With `reduce`, the epoch is one "
        "process's part of data-parallel training: reduce(gradient, sums) must sum both arrays "
        "(zero-copy views) over all processes in place; an exception it raises rolls the epoch "
        "back and passes on.");
  m.def(std::string("train_epochs").append(train_name + 11).c_str(), &train_epochs_arrays<T>,
        py::arg("net"), py::arg("optimizer"), py::arg("X").noconvert(), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::arg("options"), py::arg("epochs"),
        py::arg("tol").none(true), py::arg("loss"), py::arg("lr"), py::arg("seconds"),
        "Runs up to `epochs` epochs from options.epoch in one call (trainer.hpp, train_epochs), "
        "stopping after one that is not ok or whose loss is below `tol`; appends the loss, lr "
        "and seconds of each finished epoch (not a rolled-back one) to the three lists, also "
        "when a signal's exception (Ctrl-C) is raised, and returns the status of the last epoch "
        "run ('ok' when none ran).");
  m.def(std::string("fullbatch_epoch").append(train_name + 11).c_str(), &fullbatch_epoch_arrays<T>,
        py::arg("net"), py::arg("optimizer"), py::arg("X").noconvert(), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::arg("options"),
        "One lbfgs or lm iteration on the full data set (fullbatch.hpp); Ctrl-C as train_epoch.");
  const LbfgsRunSettings d;
  m.def(std::string("lbfgs_run").append(train_name + 11).c_str(), &lbfgs_run_arrays<T>,
        py::arg("net"), py::arg("X").noconvert(), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::kw_only(),
        py::arg("history_size") = d.history_size, py::arg("max_iter") = d.max_iter,
        py::arg("max_fun") = d.max_fun, py::arg("max_linesearch") = d.max_linesearch,
        py::arg("grad_tol") = d.grad_tol, py::arg("loss_tol") = d.loss_tol, py::arg("l2") = d.l2,
        py::arg("n_threads") = d.n_threads,
        "A whole L-BFGS minimisation of J + l2/2 sum ||W||^2 with scipy's L-BFGS-B stopping rules "
        "(lbfgs_run.hpp): {stop, iterations, evaluations, loss, penalty}; Ctrl-C as train_epoch.");
  m.def(std::string("lm_normal_equations").append(train_name + 11).c_str(),
        &lm_normal_equations_arrays<T>, py::arg("net"), py::arg("X").noconvert(),
        py::arg("Y").noconvert(), py::arg("sample_weight").noconvert().none(true),
        py::arg("n_threads") = 0,
        "(Jac^T Jac, Jac^T e, J) of lm at the network's parameters (fullbatch.hpp).");
}

}  // namespace

void bind_training(py::module_& m) {
  m.def("optimizer_table", &optimizer_entries,
        "The optimizer table, in order: name and the OptimizerConfig fields its rule reads.");
  m.attr("common_optimizer_options") = py::tuple(py::cast(words(common_optimizer_options)));
  m.def("schedule_names", &schedule_entries, "The learning-rate schedules, in table order.");

  py::class_<OptimizerConfig> config(m, "OptimizerConfig", py::module_local(),
                                     "The optimizer's options, with the core's defaults.");
  OptionFields<OptimizerConfig>(config, "OptimizerConfig", &validate_config)
      .field_as<std::string>(
          "kind", [](const OptimizerConfig& c) { return std::string(optimizer_name(c.kind)); },
          [](OptimizerConfig& c, const std::string& name) { c.kind = optimizer_from_name(name); })
      .field("lr", &OptimizerConfig::lr)
      .field("momentum", &OptimizerConfig::momentum)
      .field("beta1", &OptimizerConfig::beta1)
      .field("beta2", &OptimizerConfig::beta2)
      .field("epsilon", &OptimizerConfig::epsilon)
      .field("weight_decay", &OptimizerConfig::weight_decay)
      .field_as<std::string>(
          "schedule",
          [](const OptimizerConfig& c) { return std::string(schedule_name(c.schedule)); },
          [](OptimizerConfig& c, const std::string& name) {
            c.schedule = schedule_from_name(name);
          })
      .field("power_t", &OptimizerConfig::power_t)
      .field("step_size", &OptimizerConfig::step_size)
      .field("gamma", &OptimizerConfig::gamma)
      .field_as<std::pair<double, double>>(
          "etas", [](const OptimizerConfig& c) { return std::make_pair(c.etas[0], c.etas[1]); },
          [](OptimizerConfig& c, const std::pair<double, double>& p) {
            c.etas = {p.first, p.second};
          })
      .field_as<std::pair<double, double>>(
          "step_sizes",
          [](const OptimizerConfig& c) { return std::make_pair(c.step_sizes[0], c.step_sizes[1]); },
          [](OptimizerConfig& c, const std::pair<double, double>& p) {
            c.step_sizes = {p.first, p.second};
          })
      .field("history_size", &OptimizerConfig::history_size)
      .field("max_fun", &OptimizerConfig::max_fun)
      .field("grad_tol", &OptimizerConfig::grad_tol)
      .field("loss_tol", &OptimizerConfig::loss_tol);
  m.attr("lm_max_params") = lm_max_params;
  m.def("lm_step", &lm_step, py::arg("JtJ"), py::arg("Jte"), py::arg("mu"),
        "The solution of (JtJ + mu I) Dtheta = Jte by Cholesky (lm's step).");
  m.def("validate_config", &validate_config, py::arg("config"),
        "ValueError naming the first field out of range (the one range check of the options).");
  m.def("learning_rate", &learning_rate, py::arg("config"), py::arg("epoch"),
        "The learning rate of a 0-based epoch under the config's schedule.");

  py::class_<EpochOptions> epoch_options(m, "EpochOptions", py::module_local(),
                                         "Options of one epoch, with the core's defaults.");
  OptionFields<EpochOptions>(epoch_options, "EpochOptions", nullptr)
      .field("batch_size", &EpochOptions::batch_size)
      .field("shuffle", &EpochOptions::shuffle)
      .field("drop_last", &EpochOptions::drop_last)
      .field("seed", &EpochOptions::seed)
      .field("epoch", &EpochOptions::epoch)
      .field("n_threads", &EpochOptions::n_threads)
      .field("global_rows", &EpochOptions::global_rows)
      .field("row_offset", &EpochOptions::row_offset);

  py::class_<EpochResult>(m, "EpochResult", py::module_local())
      .def_property_readonly(
          "status", [](const EpochResult& r) { return std::string(epoch_status_name(r.status)); })
      .def_readonly("loss", &EpochResult::loss)
      .def_readonly("lr", &EpochResult::lr)
      .def_readonly("batches", &EpochResult::batches)
      .def_readonly("samples", &EpochResult::samples);

  m.def("epoch_permutation", &permutation_array, py::arg("n"), py::arg("seed"), py::arg("epoch"),
        "The order in which epoch `epoch` visits rows 0 … n-1 when shuffling.");

  bind_training_t<float>(m, "Optimizer32", "train_epoch32");
  bind_training_t<double>(m, "Optimizer64", "train_epoch64");
}

}  // namespace bpcore::bindings
