// CSR input: Csr32/Csr64 hold a CSR matrix's three NumPy arrays (read in place, never copied) and
// add CSR overloads to Network32/64's forward, backward, loss and predict and to the epochs.
// bpcore/types.hpp first: it sets up Eigen's assertions before pybind11's Eigen support includes
// Eigen (in sanitizer builds they throw instead of aborting)
// clang-format off
#include "bpcore/types.hpp"
#include <pybind11/eigen.h>
// clang-format on

#include "bindings.hpp"
#include "bpcore/network.hpp"
#include "bpcore/sparse_epoch.hpp"

namespace bpcore::bindings {

namespace {

template <class T>
using IndexArray = py::array_t<T, py::array::c_style>;

/// A CSR matrix of the core over NumPy arrays it keeps alive: data (nnz values of T), indices
/// and indptr (both int32 or both int64), checked once when made (check_csr).
template <class T>
struct CsrArrays {
  CArray<T> data;
  py::array indices, indptr;
  Csr<T> csr;

  CsrArrays(CArray<T> data_, py::array indices_, py::array indptr_, Index rows, Index cols)
      : data(std::move(data_)), indices(std::move(indices_)), indptr(std::move(indptr_)) {
    const bool i32 = py::isinstance<IndexArray<std::int32_t>>(indices) &&
                     py::isinstance<IndexArray<std::int32_t>>(indptr);
    const bool i64 = py::isinstance<IndexArray<std::int64_t>>(indices) &&
                     py::isinstance<IndexArray<std::int64_t>>(indptr);
    if (!i32 && !i64)
      throw ArgumentError(
          "CSR indices and indptr must be C-ordered arrays of one type, int32 or int64");
    if (data.ndim() != 1 || indices.ndim() != 1 || indptr.ndim() != 1)
      throw ArgumentError("CSR data, indices and indptr must be 1-D");
    if (rows < 0 || cols < 0) throw ArgumentError("a CSR matrix needs a non-negative shape");
    if (indptr.shape(0) != rows + 1)
      throw ArgumentError("CSR indptr must have rows + 1 = " + std::to_string(rows + 1) +
                          " entries; got " + std::to_string(indptr.shape(0)));
    if (data.shape(0) != indices.shape(0))
      throw ArgumentError("CSR data and indices must have the same length");
    csr = Csr<T>{rows, cols, data.data(), indices.data(), indptr.data(), i64};
    const Index nnz = static_cast<Index>(data.shape(0));
    if (csr.offset(0) != 0 || csr.offset(rows) > nnz)
      throw ArgumentError("CSR indptr must start at 0 and end at most at nnz = " +
                          std::to_string(nnz));
    py::gil_scoped_release release;
    check_csr(csr);
  }
};

template <class T>
Index target_rows(const Csr<T>& X, Index n_outputs, const CArray<T>& Y,
                  const std::optional<CArray<T>>& w) {
  if (matrix_rows(Y, n_outputs, "Y") != X.rows)
    throw ArgumentError("X and Y must have the same number of rows");
  if (w && (w->ndim() != 1 || w->shape(0) != X.rows))
    throw ArgumentError("sample_weight must have shape (n,)");
  return X.rows;
}

template <class T>
void bind_sparse_t(py::module_& m, const char* csr_name, const char* net_name, const char* bits) {
  using Net = Network<T>;
  using Arrays = CsrArrays<T>;
  py::class_<Arrays>(m, csr_name, py::module_local(),
                     "A CSR matrix over NumPy arrays read in place (see sparse.hpp).")
      .def(py::init([](CArray<T> data, py::array indices, py::array indptr,
                       std::pair<Index, Index> shape) {
             return std::make_unique<Arrays>(std::move(data), std::move(indices), std::move(indptr),
                                             shape.first, shape.second);
           }),
           py::arg("data").noconvert(), py::arg("indices"), py::arg("indptr"), py::arg("shape"))
      .def_property_readonly("shape",
                             [](const Arrays& a) { return std::make_pair(a.csr.rows, a.csr.cols); })
      .def_property_readonly("nnz", [](const Arrays& a) { return a.csr.nnz(); });

  auto net = py::reinterpret_borrow<py::class_<Net>>(m.attr(net_name));
  net.def(
         "forward",
         [](Net& n, const Arrays& X, int n_threads, std::optional<std::uint64_t> dropout_seed,
            Index dropout_epoch, Index first_row) {
           if (X.csr.rows <= 0) throw ArgumentError("forward needs at least one row");
           DropoutScope<Net> scope(n, dropout_seed, dropout_epoch, first_row);
           py::gil_scoped_release release;
           n.forward(X.csr, n_threads);
         },
         py::arg("X"), py::arg("n_threads") = 0, py::arg("dropout_seed") = py::none(),
         py::arg("dropout_epoch") = 0, py::arg("first_row") = 0)
      .def(
          "backward",
          [](Net& n, const Arrays& X, const CArray<T>& Y, std::optional<CArray<T>> w, int n_threads,
             std::optional<std::uint64_t> dropout_seed, Index dropout_epoch, Index first_row) {
            target_rows(X.csr, n.n_outputs(), Y, w);
            const T* wp = w ? w->data() : nullptr;
            DropoutScope<Net> scope(n, dropout_seed, dropout_epoch, first_row);
            py::gil_scoped_release release;
            return n.backward(X.csr, Y.data(), wp, n_threads);
          },
          py::arg("X"), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert() = py::none(),
          py::arg("n_threads") = 0, py::arg("dropout_seed") = py::none(),
          py::arg("dropout_epoch") = 0, py::arg("first_row") = 0)
      .def(
          "loss",
          [](const Net& n, const Arrays& X, const CArray<T>& Y, std::optional<CArray<T>> w,
             int n_threads) {
            target_rows(X.csr, n.n_outputs(), Y, w);
            const T* wp = w ? w->data() : nullptr;
            py::gil_scoped_release release;
            return n.loss(X.csr, Y.data(), wp, n_threads);
          },
          py::arg("X"), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert() = py::none(),
          py::arg("n_threads") = 0)
      .def(
          "predict",
          [](const Net& n, const Arrays& X, int n_threads) {
            if (X.csr.cols != n.n_inputs())
              throw ArgumentError("X must have " + std::to_string(n.n_inputs()) +
                                  " features (columns); got " + std::to_string(X.csr.cols));
            py::array_t<T> out(
                {static_cast<py::ssize_t>(X.csr.rows), static_cast<py::ssize_t>(n.n_outputs())});
            T* dst = out.mutable_data();
            bool z1_finite = true;
            {
              py::gil_scoped_release release;
              if (X.csr.rows > 0) z1_finite = n.predict(X.csr, dst, n_threads);
            }
            return py::make_tuple(out, z1_finite);
          },
          py::arg("X"), py::arg("n_threads") = 0);

  m.def((std::string("train_epoch") + bits).c_str(),
        [](Net& n, Optimizer<T>& optimizer, const Arrays& X, const CArray<T>& Y,
           std::optional<CArray<T>> w, const EpochOptions& options, py::object reduce) {
          target_rows(X.csr, n.n_outputs(), Y, w);
          const T* wp = w ? w->data() : nullptr;
          SignalPoll poll;
          PythonReducer<T> reducer(n, std::move(reduce));
          EpochResult result;
          {
            py::gil_scoped_release release;
            result = train_epoch(n, optimizer, X.csr, Y.data(), wp, options, poll.function(),
                                 reducer.get());
          }
          poll.rethrow_if_signalled();
          return result;
        },
        py::arg("net"), py::arg("optimizer"), py::arg("X"), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::arg("options"),
        py::arg("reduce") = py::none());
  m.def((std::string("fullbatch_epoch") + bits).c_str(),
        [](Net& n, Optimizer<T>& optimizer, const Arrays& X, const CArray<T>& Y,
           std::optional<CArray<T>> w, const EpochOptions& options) {
          target_rows(X.csr, n.n_outputs(), Y, w);
          const T* wp = w ? w->data() : nullptr;
          SignalPoll poll;
          EpochResult result;
          {
            py::gil_scoped_release release;
            result = fullbatch_epoch(n, optimizer, X.csr, Y.data(), wp, options, poll.function());
          }
          poll.rethrow_if_signalled();
          return result;
        },
        py::arg("net"), py::arg("optimizer"), py::arg("X"), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::arg("options"));
  const LbfgsRunSettings d;
  m.def((std::string("lbfgs_run") + bits).c_str(),
        [](Net& n, const Arrays& X, const CArray<T>& Y, std::optional<CArray<T>> w,
           Index history_size, Index max_iter, Index max_fun, Index max_linesearch, double grad_tol,
           double loss_tol, double l2, int n_threads) {
          target_rows(X.csr, n.n_outputs(), Y, w);
          LbfgsRunSettings settings{history_size, max_iter, max_fun, max_linesearch,
                                    grad_tol,     loss_tol, l2,      n_threads};
          SignalPoll poll;
          LbfgsRunResult r;
          {
            py::gil_scoped_release release;
            r = lbfgs_run(n, X.csr, Y.data(), w ? w->data() : nullptr, settings, poll.function());
          }
          poll.rethrow_if_signalled();
          return lbfgs_run_dict(r);
        },
        py::arg("net"), py::arg("X"), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::kw_only(),
        py::arg("history_size") = d.history_size, py::arg("max_iter") = d.max_iter,
        py::arg("max_fun") = d.max_fun, py::arg("max_linesearch") = d.max_linesearch,
        py::arg("grad_tol") = d.grad_tol, py::arg("loss_tol") = d.loss_tol, py::arg("l2") = d.l2,
        py::arg("n_threads") = d.n_threads);
  m.def((std::string("lm_normal_equations") + bits).c_str(),
        [](const Net& n, const Arrays& X, const CArray<T>& Y, std::optional<CArray<T>> w,
           int n_threads) {
          target_rows(X.csr, n.n_outputs(), Y, w);
          Eigen::MatrixXd JtJ;
          Eigen::VectorXd Jte;
          double J = 0;
          {
            py::gil_scoped_release release;
            J = lm_normal_equations(n, X.csr, Y.data(), w ? w->data() : nullptr, n_threads, JtJ,
                                    Jte);
          }
          return py::make_tuple(JtJ, Jte, J);
        },
        py::arg("net"), py::arg("X"), py::arg("Y").noconvert(),
        py::arg("sample_weight").noconvert().none(true), py::arg("n_threads") = 0);
}

}  // namespace

void bind_sparse(py::module_& m) {
  bind_sparse_t<float>(m, "Csr32", "Network32", "32");
  bind_sparse_t<double>(m, "Csr64", "Network64", "64");
}

}  // namespace bpcore::bindings
