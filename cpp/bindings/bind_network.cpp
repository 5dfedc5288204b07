// Network<float> and Network<double>: weights as NumPy views of the core's flat parameter buffer;
// the loss table, the initialisations, and the scan for non-finite values.
#include "bindings.hpp"
#include "bpcore/network.hpp"
#include "bpcore/parallel.hpp"

namespace bpcore::bindings {

namespace {

py::list loss_entries() {
  py::list out;
  for (const auto& info : loss_table) {
    py::dict entry;
    entry["name"] = std::string(info.name);
    entry["output_activation"] =
        info.output ? py::object(py::str(std::string(activation_name(*info.output)))) : py::none();
    entry["delta_is_error"] = info.delta_is_error;
    entry["task"] = std::string(info.task);
    entry["formula"] = std::string(info.formula);
    out.append(entry);
  }
  return out;
}

std::vector<std::string> init_entries() {
  std::vector<std::string> out;
  for (const auto& info : init_table) out.emplace_back(info.name);
  return out;
}

template <class T>
Index first_nonfinite_array(const CArray<T>& a, int n_threads) {
  py::gil_scoped_release release;
  return first_nonfinite(a.data(), static_cast<Index>(a.size()), n_threads);
}

template <class T>
void bind_network_t(py::module_& m, const char* name) {
  using Net = Network<T>;
  py::class_<Net>(m, name, py::module_local(),
                  "A fully connected network of the core (see network.hpp).")
      .def(py::init([](std::vector<Index> sizes, const std::vector<std::string>& activations,
                       const std::string& loss) {
             std::vector<Activation> fs;
             for (const auto& a : activations) fs.push_back(activation_from_name(a));
             return std::make_unique<Net>(std::move(sizes), std::move(fs), loss_from_name(loss));
           }),
           py::arg("sizes"), py::arg("activations"), py::arg("loss"))
      .def_property_readonly("n_layers", &Net::n_layers)
      .def_property_readonly("n_inputs", &Net::n_inputs)
      .def_property_readonly("n_outputs", &Net::n_outputs)
      .def_property_readonly("n_params", &Net::n_params)
      .def_property_readonly("loss_name",
                             [](const Net& n) { return std::string(loss_name(n.loss_kind())); })
      .def_property_readonly("sizes",
                             [](const Net& n) {
                               std::vector<Index> out{n.n_inputs()};
                               for (const auto& s : n.layers()) out.push_back(s.n_out);
                               return out;
                             })
      .def_property_readonly("activations",
                             [](const Net& n) {
                               std::vector<std::string> out;
                               for (const auto& s : n.layers())
                                 out.emplace_back(activation_name(s.f));
                               return out;
                             })
      .def(
          "layout",
          [](const Net& n, Index k) {
            const auto& s = n.layer(k);
            return py::make_tuple(s.w_offset, s.b_offset, s.alpha_offset);
          },
          py::arg("k"), "Offsets (W, b, alpha or -1) of layer k = l - 1 in the flat buffers.")
      .def(
          "initialize",
          [](Net& n, const std::string& init, std::uint64_t seed, double scale) {
            n.initialize(init_from_name(init), seed, scale);
          },
          py::arg("init"), py::arg("seed"), py::arg("scale") = small_uniform_scale)
      // Views: writing into them writes the core's parameters. Each keeps the network alive.
      .def(
          "params",
          [](py::object self) {
            Net& n = self.cast<Net&>();
            return view<T>(n.params(), {n.n_params()}, self);
          },
          "Flat view of every parameter theta.")
      .def(
          "grads",
          [](py::object self) {
            Net& n = self.cast<Net&>();
            return view<T>(n.grads(), {n.n_params()}, self);
          },
          "Flat view of dJ/dtheta of the last backward (same layout as params).")
      .def(
          "weight",
          [](py::object self, Index k) {
            Net& n = self.cast<Net&>();
            const auto& s = n.layer(k);
            return view<T>(n.params() + s.w_offset, {s.n_in, s.n_out}, self);
          },
          py::arg("k"), "View of W^[k+1], shape (n_in, n_out).")
      .def(
          "bias",
          [](py::object self, Index k) {
            Net& n = self.cast<Net&>();
            const auto& s = n.layer(k);
            return view<T>(n.params() + s.b_offset, {s.n_out}, self);
          },
          py::arg("k"), "View of b^[k+1], shape (n_out,).")
      .def(
          "forward",
          [](Net& n, const CArray<T>& X, int n_threads, std::optional<std::uint64_t> dropout_seed,
             Index dropout_epoch, Index first_row) {
            const Index rows = matrix_rows(X, n.n_inputs(), "X");
            DropoutScope<Net> scope(n, dropout_seed, dropout_epoch, first_row);
            py::gil_scoped_release release;
            n.forward(X.data(), rows, n_threads);
          },
          py::arg("X").noconvert(), py::arg("n_threads") = 0, py::arg("dropout_seed") = py::none(),
          py::arg("dropout_epoch") = 0, py::arg("first_row") = 0,
          "Forward pass; with dropout_seed, training-mode dropout masks of rows first_row … of "
          "epoch dropout_epoch.")
      .def(
          "backward",
          [](Net& n, const CArray<T>& X, const CArray<T>& Y, std::optional<CArray<T>> w,
             int n_threads, std::optional<std::uint64_t> dropout_seed, Index dropout_epoch,
             Index first_row) {
            const Index rows = batch_rows(n.n_inputs(), n.n_outputs(), X, Y, w);
            const T* wp = w ? w->data() : nullptr;
            DropoutScope<Net> scope(n, dropout_seed, dropout_epoch, first_row);
            py::gil_scoped_release release;
            return n.backward(X.data(), Y.data(), wp, rows, n_threads);
          },
          py::arg("X").noconvert(), py::arg("Y").noconvert(),
          py::arg("sample_weight").noconvert() = py::none(), py::arg("n_threads") = 0,
          py::arg("dropout_seed") = py::none(), py::arg("dropout_epoch") = 0,
          py::arg("first_row") = 0,
          "Forward and back-propagation; with dropout_seed, training-mode dropout masks of rows "
          "first_row … of epoch dropout_epoch (the J returned is then the masked one).")
      .def(
          "loss",
          [](const Net& n, const CArray<T>& X, const CArray<T>& Y, std::optional<CArray<T>> w,
             int n_threads) {
            const Index rows = batch_rows(n.n_inputs(), n.n_outputs(), X, Y, w);
            const T* wp = w ? w->data() : nullptr;
            py::gil_scoped_release release;
            return n.loss(X.data(), Y.data(), wp, rows, n_threads);
          },
          py::arg("X").noconvert(), py::arg("Y").noconvert(),
          py::arg("sample_weight").noconvert() = py::none(), py::arg("n_threads") = 0)
      .def(
          "predict",
          [](const Net& n, const CArray<T>& X, int n_threads) {
            const Index rows = matrix_rows(X, n.n_inputs(), "X");
            py::array_t<T> out(
                {static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(n.n_outputs())});
            T* dst = out.mutable_data();
            bool z1_finite = true;
            {
              py::gil_scoped_release release;
              if (rows > 0) z1_finite = n.predict(X.data(), rows, dst, n_threads);
            }
            return py::make_tuple(out, z1_finite);
          },
          py::arg("X").noconvert(), py::arg("n_threads") = 0,
          "(Y_hat, z1_finite): z1_finite is false when a row of Z^[1] is not finite, as every NaN "
          "or infinite value in X makes it.")
      .def_property_readonly("cached_rows", &Net::cached_rows)
      .def_property_readonly("has_delta", &Net::has_delta)
      .def(
          "cached_Z",
          [](const Net& n, Index k) {
            auto Z = n.cached_Z(k);
            return copy(Z.data(), Z.rows(), Z.cols());
          },
          py::arg("k"), "Copy of Z^[k+1] of the last forward/backward.")
      .def(
          "cached_H",
          [](const Net& n, Index k) {
            auto H = n.cached_H(k);
            return copy(H.data(), H.rows(), H.cols());
          },
          py::arg("k"), "Copy of H^[k+1] of the last forward/backward.")
      .def(
          "cached_delta",
          [](const Net& n, Index k) {
            auto D = n.cached_delta(k);
            return copy(D.data(), D.rows(), D.cols());
          },
          py::arg("k"), "Copy of delta^[k+1] of the last backward.")
      .def("release_workspace", &Net::release_workspace)
      .def_property(
          "dropout", [](const Net& n) { return n.dropout(); },
          [](Net& n, std::vector<double> rates) { n.set_dropout(std::move(rates)); },
          "Dropout rates p_l of the hidden layers l = 1 … L-1 (dropout.hpp), each in [0, 1).")
      .def_property_readonly("has_dropout", &Net::has_dropout)
      .def("has_mask", &Net::has_mask, py::arg("k"),
           "True when the last forward/backward masked layer k = l - 1 (training with dropout).")
      .def(
          "cached_mask",
          [](const Net& n, Index k) {
            auto M = n.cached_mask(k);
            return copy(M.data(), M.rows(), M.cols());
          },
          py::arg("k"), "Copy of M^[k+1] / (1 - p) of the last masked forward/backward.");
}

}  // namespace

void bind_network(py::module_& m) {
  m.def("loss_table", &loss_entries,
        "The loss table, in order: name, output_activation (None: any), delta_is_error, task, "
        "formula.");
  m.def("init_names", &init_entries, "The initialisations, in table order.");
  m.def("first_nonfinite", &first_nonfinite_array<float>, py::arg("a").noconvert(),
        py::arg("n_threads") = 0);
  m.def("first_nonfinite", &first_nonfinite_array<double>, py::arg("a").noconvert(),
        py::arg("n_threads") = 0,
        "Flat index of the first NaN or inf in a C-ordered array, or -1.");
  bind_network_t<float>(m, "Network32");
  bind_network_t<double>(m, "Network64");
}

}  // namespace bpcore::bindings
