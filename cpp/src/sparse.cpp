// CSR input (sparse.hpp): the first layer's two products, the checks, gathered batches, the
// Network entry points for a CSR batch and the training epoch over a CSR data set.
#include "bpcore/sparse.hpp"

#include <Eigen/SparseCore>
#include <cmath>
#include <string>

#include "bpcore/fp_mode.hpp"
#include "bpcore/network.hpp"
#include "bpcore/small_gemm.hpp"

namespace bpcore {

namespace {

// The rows [r0, r0 + nr) of X as Eigen's row-major sparse matrix over X's own arrays (the offsets
// in indptr are absolute, so a shifted indptr is a view of those rows).
template <class T, class I>
Eigen::Map<const Eigen::SparseMatrix<T, Eigen::RowMajor, I>> sparse_rows(const T* data,
                                                                         const I* indices,
                                                                         const I* indptr, Index r0,
                                                                         Index nr, Index cols) {
  return {nr, cols, Index(indptr[r0 + nr] - indptr[r0]), indptr + r0, indices, data};
}

// Z = X_rows W + b, on the index type I of X. Eigen's sparse-dense product: measured about 10 %
// faster than a plain loop over the rows' stored values, with the same bits.
template <class T, class I>
void affine_rows(const T* data, const I* indices, const I* indptr, Index r0, Index nr, Index cols,
                 const T* W, const T* b, Index n_out, T* Z) {
  MatrixMap<T> Zm(Z, nr, n_out);
  Zm.noalias() =
      sparse_rows(data, indices, indptr, r0, nr, cols) * ConstMatrixMap<T>(W, cols, n_out);
  Zm.rowwise() += ConstRowVectorMap<T>(b, n_out);
}

// gW = X_rows^T delta, gb = sum of the rows of delta.
template <class T, class I>
void transpose_product_rows(const T* data, const I* indices, const I* indptr, Index r0, Index nr,
                            const T* delta, Index n_out, Index cols, T* gW, T* gb) {
  ConstMatrixMap<T> D(delta, nr, n_out);
  MatrixMap<T>(gW, cols, n_out).noalias() =
      sparse_rows(data, indices, indptr, r0, nr, cols).transpose() * D;
  if (gb) small_gemm::column_sums(delta, gb, nr, n_out, T(1));
}

template <class I>
const I* as(const void* p) {
  return static_cast<const I*>(p);
}

// Sets `slot` for the lifetime of the scope: Network::csr_ during a CSR forward/backward.
template <class T>
class CsrScope {
 public:
  CsrScope(const Csr<T>*& slot, const Csr<T>* value) : slot_(slot) { slot_ = value; }
  ~CsrScope() { slot_ = nullptr; }
  CsrScope(const CsrScope&) = delete;
  CsrScope& operator=(const CsrScope&) = delete;

 private:
  const Csr<T>*& slot_;
};

}  // namespace

template <class T>
Csr<T> Csr<T>::rows_view(Index first, Index count) const {
  Csr v = *this;
  v.rows = count;
  v.indptr = index64 ? static_cast<const void*>(as<std::int64_t>(indptr) + first)
                     : static_cast<const void*>(as<std::int32_t>(indptr) + first);
  return v;
}

template <class T>
void check_csr(const Csr<T>& X) {
  require(X.rows >= 0 && X.cols >= 0, "a CSR matrix needs a non-negative shape");
  require(X.offset(0) >= 0, "CSR indptr must start at a non-negative offset");
  // the messages are built only on a failure: this loop visits every stored value
  for (Index i = 0; i < X.rows; ++i) {
    const Index begin = X.offset(i), end = X.offset(i + 1);
    if (begin > end)
      throw ArgumentError("CSR indptr must be non-decreasing (row " + std::to_string(i) + ")");
    Index previous = -1;
    for (Index p = begin; p < end; ++p) {
      const Index j = X.column(p);
      if (j < 0 || j >= X.cols)
        throw ArgumentError("CSR column index " + std::to_string(j) + " in row " +
                            std::to_string(i) + " is outside [0, " + std::to_string(X.cols) + ")");
      if (j <= previous)
        throw ArgumentError(
            "CSR column indices must be sorted without duplicates within a row (row " +
            std::to_string(i) + "); call X.sum_duplicates() first");
      previous = j;
    }
  }
}

template <class T>
void csr_affine(const Csr<T>& X, Index r0, Index nr, const T* W, const T* b, Index n_out, T* Z) {
  if (X.index64)
    affine_rows(X.data, as<std::int64_t>(X.indices), as<std::int64_t>(X.indptr), r0, nr, X.cols, W,
                b, n_out, Z);
  else
    affine_rows(X.data, as<std::int32_t>(X.indices), as<std::int32_t>(X.indptr), r0, nr, X.cols, W,
                b, n_out, Z);
}

template <class T>
void csr_transpose_product(const Csr<T>& X, Index r0, Index nr, const T* delta, Index n_out, T* gW,
                           T* gb) {
  if (X.index64)
    transpose_product_rows(X.data, as<std::int64_t>(X.indices), as<std::int64_t>(X.indptr), r0, nr,
                           delta, n_out, X.cols, gW, gb);
  else
    transpose_product_rows(X.data, as<std::int32_t>(X.indices), as<std::int32_t>(X.indptr), r0, nr,
                           delta, n_out, X.cols, gW, gb);
}

template <class T>
void CsrRows<T>::gather(const Csr<T>& X, const Index* src, Index count) {
  rows_ = count;
  cols_ = X.cols;
  data_.clear();
  indices_.clear();
  indptr_.assign(1, 0);
  for (Index i = 0; i < count; ++i) {
    const Index end = X.offset(src[i] + 1);
    for (Index p = X.offset(src[i]); p < end; ++p) {
      data_.push_back(X.data[p]);
      indices_.push_back(std::int64_t(X.column(p)));
    }
    indptr_.push_back(std::int64_t(data_.size()));
  }
}

template <class T>
Csr<T> CsrRows<T>::view() const {
  return Csr<T>{rows_, cols_, data_.data(), indices_.data(), indptr_.data(), true};
}

// ------------------------------------------------------------------ Network with a CSR batch

template <class T>
void Network<T>::forward(const Csr<T>& X, int n_threads) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require_inputs(X, n_inputs());
  CsrScope<T> scope(csr_, &X);
  forward(nullptr, X.rows, n_threads);
}

template <class T>
double Network<T>::backward(const Csr<T>& X, const T* Y, const T* sample_weight, int n_threads,
                            const PassHooks* hooks) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require_inputs(X, n_inputs());
  CsrScope<T> scope(csr_, &X);
  return backward(nullptr, Y, sample_weight, X.rows, n_threads, hooks);
}

template <class T>
double Network<T>::loss(const Csr<T>& X, const T* Y, const T* sample_weight, int n_threads) const {
  require_inputs(X, n_inputs());
  return loss_impl(nullptr, &X, Y, sample_weight, X.rows, n_threads);
}

template <class T>
bool Network<T>::predict(const Csr<T>& X, T* out, int n_threads) const {
  require_inputs(X, n_inputs());
  return predict_impl(nullptr, &X, X.rows, out, n_threads);
}

#define BPCORE_SPARSE(T)                                                                          \
  template struct Csr<T>;                                                                         \
  template class CsrRows<T>;                                                                      \
  template void check_csr<T>(const Csr<T>&);                                                      \
  template void csr_affine<T>(const Csr<T>&, Index, Index, const T*, const T*, Index, T*);        \
  template void csr_transpose_product<T>(const Csr<T>&, Index, Index, const T*, Index, T*, T*);   \
  template void Network<T>::forward(const Csr<T>&, int);                                          \
  template double Network<T>::backward(const Csr<T>&, const T*, const T*, int, const PassHooks*); \
  template double Network<T>::loss(const Csr<T>&, const T*, const T*, int) const;                 \
  template bool Network<T>::predict(const Csr<T>&, T*, int) const;
BPCORE_SPARSE(float)
BPCORE_SPARSE(double)
#undef BPCORE_SPARSE

}  // namespace bpcore
