// Sparse input: a batch X in compressed sparse row (CSR) form, read by the first layer only.
//
// Only layer 1 sees X, so only its two products change; every later layer is dense as before:
//   Z^[1] = X W^[1] + b^[1]:        Z_i = b + sum_{(j, x) stored in row i} x W^[1]_j
//   dJ/dW^[1] = -(1/n) X^T delta^[1]:  row j of X^T delta gets x delta_i for every stored (i, j, x)
// Each costs O(nnz(X) n_1) instead of O(n d n_1), and X is never densified. Row i of X is
//   data[indptr[i] … indptr[i+1]-1] in columns indices[indptr[i] … indptr[i+1]-1],
// with indices strictly increasing within a row (scipy's canonical form). The arrays are read in
// place: int32 or int64 indices (one type for both index arrays), values of the network's type.
// The products visit the stored values in row order, so a result does not depend on the threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpcore/types.hpp"

namespace bpcore {

template <class T>
struct Csr {
  Index rows = 0, cols = 0;
  const T* data = nullptr;
  const void* indices = nullptr;  // nnz column indices, std::int32_t or std::int64_t
  const void* indptr = nullptr;   // rows + 1 offsets into data and indices, the same type
  bool index64 = false;           // true: both index arrays are std::int64_t

  Index offset(Index i) const {
    return index64 ? Index(static_cast<const std::int64_t*>(indptr)[i])
                   : Index(static_cast<const std::int32_t*>(indptr)[i]);
  }
  Index column(Index p) const {
    return index64 ? Index(static_cast<const std::int64_t*>(indices)[p])
                   : Index(static_cast<const std::int32_t*>(indices)[p]);
  }
  /// Stored values of the rows [first, first + count) (offsets into data and indices).
  Index nnz_of(Index first, Index count) const { return offset(first + count) - offset(first); }
  Index nnz() const { return offset(rows) - offset(0); }
  /// Rows [first, first + count) as a CSR view of the same arrays (no copy).
  Csr rows_view(Index first, Index count) const;
};

/// ArgumentError unless X is well formed: rows, cols >= 0, indptr[0] >= 0 and non-decreasing,
/// every index in [0, cols) and strictly increasing within its row (no duplicates). O(nnz).
template <class T>
void check_csr(const Csr<T>& X);

/// Z = X_rows W + b for the rows [r0, r0 + nr) of X: Z (nr x n_out) and W (X.cols x n_out) are
/// row-major, b has n_out entries.
template <class T>
void csr_affine(const Csr<T>& X, Index r0, Index nr, const T* W, const T* b, Index n_out, T* Z);

/// gW = X_rows^T delta (X.cols x n_out, overwritten) and gb = the column sums of delta, for the
/// rows [r0, r0 + nr) of X; delta is (nr x n_out) row-major. Unscaled, as backward_rows' sums.
/// gb may be null (only gW is wanted).
template <class T>
void csr_transpose_product(const Csr<T>& X, Index r0, Index nr, const T* delta, Index n_out, T* gW,
                           T* gb);

/// Owned CSR rows: the shuffled batches of an epoch, gathered from the data set's rows.
template <class T>
class CsrRows {
 public:
  /// Replaces the content by the rows src[0 … count-1] of X, in that order.
  void gather(const Csr<T>& X, const Index* src, Index count);
  Csr<T> view() const;

 private:
  Index rows_ = 0, cols_ = 0;
  std::vector<T> data_;
  std::vector<std::int64_t> indices_, indptr_{0};
};

/// Checks that X has n_inputs columns (ArgumentError naming X otherwise).
template <class T>
void require_inputs(const Csr<T>& X, Index n_inputs) {
  require(X.cols == n_inputs, "X must have " + std::to_string(n_inputs) +
                                  " features (columns); got " + std::to_string(X.cols));
}

#define BPCORE_EXTERN_SPARSE(T)                                                                   \
  extern template struct Csr<T>;                                                                  \
  extern template class CsrRows<T>;                                                               \
  extern template void check_csr<T>(const Csr<T>&);                                               \
  extern template void csr_affine<T>(const Csr<T>&, Index, Index, const T*, const T*, Index, T*); \
  extern template void csr_transpose_product<T>(const Csr<T>&, Index, Index, const T*, Index, T*, \
                                                T*);
BPCORE_EXTERN_SPARSE(float)
BPCORE_EXTERN_SPARSE(double)
#undef BPCORE_EXTERN_SPARSE

}  // namespace bpcore
