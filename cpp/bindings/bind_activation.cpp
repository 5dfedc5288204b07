// The activation table and the element-wise activation functions (for bpcore.activate, plots and
// tests), for float32 and float64 arrays.
#include "bindings.hpp"
#include "bpcore/activation.hpp"

namespace bpcore::bindings {

namespace {

py::list activation_entries() {
  py::list out;
  for (const auto& info : activation_table) {
    py::dict entry;
    entry["name"] = std::string(info.name);
    entry["hidden"] = info.hidden;
    entry["from_output"] = info.from_output;
    entry["learnable"] = info.learnable;
    entry["formula"] = std::string(info.formula);
    entry["derivative_formula"] = std::string(info.derivative_formula);
    out.append(entry);
  }
  return out;
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// H = f(Z): element-wise, or softmax per row of a 2-D array.
template <class T>
py::array_t<T> activate_array(const std::string& name, const CArray<T>& z, T alpha) {
  const Activation f = activation_from_name(name);
  py::array_t<T> h(shape_of(z));
  Index rows = 1, cols = static_cast<Index>(z.size());
  if (f == Activation::softmax) {
    if (z.ndim() != 2) throw ArgumentError("softmax needs a 2-D array of rows");
    rows = z.shape(0);
    cols = z.shape(1);
  }
  T* out = h.mutable_data();
  {
    py::gil_scoped_release release;
    if (rows * cols > 0) activate(f, z.data(), out, rows, cols, alpha);
  }
  return h;
}

// f'(Z) element-wise (softmax has none: ValueError).
template <class T>
py::array_t<T> derivative_array(const std::string& name, const CArray<T>& z, T alpha) {
  const Activation f = activation_from_name(name);
  const Index size = static_cast<Index>(z.size());
  py::array_t<T> h(shape_of(z)), d(shape_of(z));
  T* hp = h.mutable_data();
  T* dp = d.mutable_data();
  {
    py::gil_scoped_release release;
    if (size > 0) {
      if (f != Activation::softmax) activate(f, z.data(), hp, 1, size, alpha);
      derivative(f, z.data(), hp, dp, size, alpha);
    }
  }
  return d;
}

template <class T>
void bind_functions(py::module_& m) {
  m.def("activate", &activate_array<T>, py::arg("name"), py::arg("z").noconvert(),
        py::arg("alpha") = T(prelu_alpha_init),
        "H = f(Z) element-wise (softmax: per row of a 2-D array), computed by the core.");
  m.def("derivative", &derivative_array<T>, py::arg("name"), py::arg("z").noconvert(),
        py::arg("alpha") = T(prelu_alpha_init),
        "f'(Z) element-wise, computed by the core (softmax has none: ValueError).");
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("activation_table", &activation_entries,
        "The activation table, in order: name, hidden, from_output, learnable, formula, "
        "derivative_formula.");
  bind_functions<float>(m);
  bind_functions<double>(m);
}

}  // namespace bpcore::bindings
