// Name tables and the element-wise activation functions (for plots and tests).
#include "bindings.hpp"
#include "bpcore/init.hpp"
#include "bpcore/loss.hpp"
#include "bpcore/optimizer.hpp"

namespace bpcore::bindings {

namespace {

template <class Table>
std::vector<std::string> names(const Table& table) {
  std::vector<std::string> out;
  for (const auto& info : table) out.emplace_back(info.name);
  return out;
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("activation_names", [] { return names(activation_table); });
  m.def("hidden_activation_names", [] {
    std::vector<std::string> out;
    for (const auto& info : activation_table)
      if (info.hidden) out.emplace_back(info.name);
    return out;
  });
  m.def("loss_names", [] { return names(loss_table); });
  m.def("init_names", [] { return names(init_table); });
  m.def("optimizer_names", [] { return names(optimizer_table); });
  m.def("schedule_names", [] { return names(schedule_table); });

  m.def(
      "activate",
      [](const std::string& name, const CArray<double>& z, double alpha) {
        const Activation f = activation_from_name(name);
        py::array_t<double> h(std::vector<py::ssize_t>(z.shape(), z.shape() + z.ndim()));
        Index rows = 1, cols = static_cast<Index>(z.size());
        if (f == Activation::softmax) {
          if (z.ndim() != 2) throw ArgumentError("softmax needs a 2-D array of rows");
          rows = z.shape(0);
          cols = z.shape(1);
        }
        {
          py::gil_scoped_release release;
          if (rows * cols > 0) activate(f, z.data(), h.mutable_data(), rows, cols, alpha);
        }
        return h;
      },
      py::arg("name"), py::arg("z").noconvert(), py::arg("alpha") = prelu_alpha_init,
      "H = f(Z) element-wise (softmax: per row of a 2-D array), computed by the core.");
  m.def(
      "derivative",
      [](const std::string& name, const CArray<double>& z, double alpha) {
        const Activation f = activation_from_name(name);
        const Index size = static_cast<Index>(z.size());
        std::vector<py::ssize_t> shape(z.shape(), z.shape() + z.ndim());
        py::array_t<double> h(shape), d(shape);
        {
          py::gil_scoped_release release;
          if (size > 0) {
            activate(f, z.data(), h.mutable_data(), 1, size, alpha);
            derivative(f, z.data(), h.data(), d.mutable_data(), size, alpha);
          }
        }
        return d;
      },
      py::arg("name"), py::arg("z").noconvert(), py::arg("alpha") = prelu_alpha_init,
      "f'(Z) element-wise, computed by the core (softmax has none: ValueError).");
}

}  // namespace bpcore::bindings
