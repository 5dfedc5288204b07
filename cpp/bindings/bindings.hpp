// Shared by the binding units: NumPy <-> core conversions. No logic of the core lives here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

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

void bind_activation(py::module_& m);
void bind_network(py::module_& m);
void bind_training(py::module_& m);

}  // namespace bpcore::bindings
