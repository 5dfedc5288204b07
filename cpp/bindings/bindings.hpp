// Shared by the binding units: NumPy <-> core conversions, the option-struct binder, and the
// adapters between a training epoch and Python (signal poll, reducer). No logic of the core lives
// here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bpcore/dropout.hpp"
#include "bpcore/fp_mode.hpp"
#include "bpcore/lbfgs_run.hpp"
#include "bpcore/trainer.hpp"
#include "bpcore/types.hpp"

namespace bpcore::bindings {

namespace py = pybind11;

/// A C-ordered array of T: read in place (the bindings never convert; the Python layer does).
template <class T>
using CArray = py::array_t<T, py::array::c_style>;

/// Rows of a (rows × cols) C-ordered matrix argument; ValueError naming `what` otherwise.
template <class T>
Index matrix_rows(const CArray<T>& a, Index cols, const char* what) {
  if (a.ndim() != 2 || a.shape(1) != cols)
    throw ArgumentError(std::string(what) + " must have shape (n, " + std::to_string(cols) +
                        "), got ndim " + std::to_string(a.ndim()) +
                        (a.ndim() >= 2 ? " with " + std::to_string(a.shape(1)) + " columns" : ""));
  return static_cast<Index>(a.shape(0));
}

/// Rows of a batch (X, Y and optional sample weights) after checking their shapes agree.
template <class T>
Index batch_rows(Index n_inputs, Index n_outputs, const CArray<T>& X, const CArray<T>& Y,
                 const std::optional<CArray<T>>& w) {
  const Index rows = matrix_rows(X, n_inputs, "X");
  if (matrix_rows(Y, n_outputs, "Y") != rows)
    throw ArgumentError("X and Y must have the same number of rows");
  if (w && (w->ndim() != 1 || w->shape(0) != rows))
    throw ArgumentError("sample_weight must have shape (n,)");
  return rows;
}

/// A NumPy view of core memory `data` with the given shape; `owner` is kept alive by the view.
template <class T>
py::array_t<T> view(T* data, std::vector<py::ssize_t> shape, py::handle owner) {
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = sizeof(T);
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::array_t<T>(shape, strides, data, owner);
}

/// A fresh NumPy copy of a row-major block of core memory.
template <class T>
py::array_t<T> copy(const T* data, py::ssize_t rows, py::ssize_t cols) {
  py::array_t<T> out({rows, cols});
  std::copy(data, data + rows * cols, out.mutable_data());
  return out;
}

/// Binds the fields of an option struct C (OptimizerConfig, EpochOptions) as read-write attributes,
/// and a constructor C(**fields): C's own default-constructed value (the core's defaults), then
/// each keyword set through the same field, then `check` (may be null). No default is restated.
template <class C>
class OptionFields {
 public:
  using Check = void (*)(const C&);

  OptionFields(py::class_<C>& cls, const char* type_name, Check check)
      : cls_(cls), setters_(std::make_shared<Setters>()) {
    cls_.def(py::init<>());
    auto setters = setters_;
    cls_.def(py::init([setters, type_name, check](const py::kwargs& fields) {
      C c;
      for (const auto& [key, value] : fields) {
        const std::string name = py::str(key);
        auto it = std::find_if(setters->begin(), setters->end(),
                               [&](const auto& s) { return s.first == name; });
        if (it == setters->end())
          throw py::type_error(std::string(type_name) + "() got an unexpected keyword argument '" +
                               name + "'");
        it->second(c, value);
      }
      if (check) check(c);
      return c;
    }));
  }

  /// A field read and written as itself.
  template <class M>
  OptionFields& field(const char* name, M C::* member) {
    cls_.def_readwrite(name, member);
    add_setter(name, [member](C& c, py::handle v) { c.*member = py::cast<M>(v); });
    return *this;
  }

  /// A field read and written through a conversion (an enum as its name).
  template <class V, class Get, class Set>
  OptionFields& field_as(const char* name, Get get, Set set) {
    cls_.def_property(name, get, set);
    add_setter(name, [set](C& c, py::handle v) { set(c, py::cast<V>(v)); });
    return *this;
  }

 private:
  using Setters = std::vector<std::pair<std::string, std::function<void(C&, py::handle)>>>;

  void add_setter(const char* name, std::function<void(C&, py::handle)> set) {
    setters_->emplace_back(name, [name, set](C& c, py::handle v) {
      try {
        set(c, v);
      } catch (const py::cast_error&) {
        throw py::type_error(std::string(name) + " has the wrong type: got " +
                             std::string(Py_TYPE(v.ptr())->tp_name));
      }
    });
  }

  py::class_<C>& cls_;
  std::shared_ptr<Setters> setters_;
};

/// True while a SignalPoll runs Python's signal handlers from inside an epoch of the core: a
/// Python handler can tell a signal it may act on at once (the core then rolls the epoch back)
/// from one that arrives between epochs, while Python records the last one.
inline bool& in_epoch_poll() {
  thread_local bool flag = false;
  return flag;
}

/// The `poll` of a training epoch run with the GIL released: every 8th call, at most every
/// 50 ms, it takes the GIL and asks Python whether a signal such as Ctrl-C arrived. After the
/// epoch, rethrow_if_signalled() raises the signal's exception (e.g. KeyboardInterrupt).
class SignalPoll {
 public:
  SignalPoll() : last_(clock::now()) {
    function_ = [this] { return poll(); };
  }
  SignalPoll(const SignalPoll&) = delete;
  SignalPoll& operator=(const SignalPoll&) = delete;

  const std::function<bool()>* function() const { return &function_; }
  void rethrow_if_signalled() const {
    if (signalled_) throw py::error_already_set();
  }

 private:
  using clock = std::chrono::steady_clock;

  bool poll() {
    if ((++calls_ & 7u) != 0) return false;
    const auto now = clock::now();
    if (now - last_ < std::chrono::milliseconds(50)) return false;
    last_ = now;
    py::gil_scoped_acquire acquire;
    const CallerFpMode caller;  // Python runs in the floating-point mode it had
    in_epoch_poll() = true;
    signalled_ = PyErr_CheckSignals() != 0;
    in_epoch_poll() = false;
    return signalled_;
  }

  std::function<bool()> function_;
  clock::time_point last_;
  unsigned calls_ = 0;
  bool signalled_ = false;
};

/// The core's GradientReducer over a Python callable reduce(gradient, sums), which must sum both
/// arrays over all processes in place. It hands Python zero-copy views: the network's flat
/// gradient buffer and the kReduceSums sums. get() is null when `reduce` is None.
template <class T>
class PythonReducer {
 public:
  PythonReducer(Network<T>& net, py::object reduce) {
    if (reduce.is_none()) return;
    // The existing Python object of `net` owns the view (it keeps the network alive).
    gradient_view_ =
        view<T>(net.grads(), {net.n_params()}, py::cast(&net, py::return_value_policy::reference));
    sums_view_ = py::array_t<double>(kReduceSums);
    const T* expected = net.grads();
    reducer_ = [this, expected, reduce](T* gradient, Index, double* sums, Index n_sums) {
      py::gil_scoped_acquire acquire;
      const CallerFpMode caller;  // Python runs in the floating-point mode it had
      if (gradient != expected) throw std::logic_error("reducer: unexpected buffer");
      std::copy(sums, sums + n_sums, sums_view_.mutable_data());
      reduce(gradient_view_, sums_view_);
      std::copy(sums_view_.data(), sums_view_.data() + n_sums, sums);
    };
  }
  PythonReducer(const PythonReducer&) = delete;
  PythonReducer& operator=(const PythonReducer&) = delete;

  const GradientReducer<T>* get() const { return reducer_ ? &reducer_ : nullptr; }

 private:
  py::array_t<T> gradient_view_;
  py::array_t<double> sums_view_;
  GradientReducer<T> reducer_;
};

void bind_build(py::module_& m);
void bind_activation(py::module_& m);
void bind_network(py::module_& m);
void bind_training(py::module_& m);
void bind_sparse(py::module_& m);

// Training-mode dropout masks (dropout.hpp) for one call when a seed is given: batch row i is
// row first + i of the data set in epoch `epoch`. Without a seed the call is evaluation: no masks.
template <class Net>
class DropoutScope {
 public:
  DropoutScope(Net& net, std::optional<std::uint64_t> seed, Index epoch, Index first) : net_(net) {
    if (!seed) return;
    require(epoch >= 0, "dropout_epoch must be non-negative, got " + std::to_string(epoch));
    require(first >= 0, "first_row must be non-negative, got " + std::to_string(first));
    rows_ = DropoutRows{*seed, epoch, nullptr, first};
    net_.set_dropout_rows(&rows_);
  }
  ~DropoutScope() { net_.set_dropout_rows(nullptr); }
  DropoutScope(const DropoutScope&) = delete;
  DropoutScope& operator=(const DropoutScope&) = delete;

 private:
  Net& net_;
  DropoutRows rows_;
};

// The result of lbfgs_run as the dict the Python layer reads.
inline py::dict lbfgs_run_dict(const LbfgsRunResult& r) {
  py::dict out;
  out["stop"] = std::string(lbfgs_stop_name(r.stop));
  out["iterations"] = r.iterations;
  out["evaluations"] = r.evaluations;
  out["loss"] = r.loss;
  out["penalty"] = r.penalty;
  return out;
}

}  // namespace bpcore::bindings
