// Scalar and Eigen aliases of the core, declared once.
//
// One orientation everywhere (docs/notation.md): samples are rows, Z = H W + b, W has shape
// (n_in, n_out). Storage is row-major, so a C-ordered NumPy batch maps onto these types with no
// copy.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef BPCORE_EIGEN_ASSERT_THROWS
// Debug and sanitizer builds: a failed Eigen assertion throws instead of aborting the process.
namespace bpcore {
struct EigenAssertionError : std::logic_error {
  using std::logic_error::logic_error;
};
}  // namespace bpcore
#define eigen_assert(x)                                                           \
  do {                                                                            \
    if (!(x)) throw ::bpcore::EigenAssertionError("Eigen assertion failed: " #x); \
  } while (false)
#endif

#include <Eigen/Core>

namespace bpcore {

using Index = Eigen::Index;

/// A batch or a weight matrix: row-major, samples (or inputs) are rows.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// A bias b^[l]: one row, broadcast over the samples.
template <class T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <class T>
using RowVectorMap = Eigen::Map<RowVector<T>>;
template <class T>
using ConstRowVectorMap = Eigen::Map<const RowVector<T>>;
/// Flat element-wise view (activations act element by element on contiguous rows).
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

/// A wrong shape, size or argument given to the core. The bindings turn it into ValueError.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

inline void require(bool ok, const std::string& message) {
  if (!ok) throw ArgumentError(message);
}

}  // namespace bpcore
