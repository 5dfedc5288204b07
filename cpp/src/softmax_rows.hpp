// The rows of softmax, for activation.cpp (activate and softmax) and its per-instruction-set tests:
// H_ij = e^(Z_ij - max_k Z_ik) / sum_k e^(Z_ik - max_k Z_ik), and optionally each row's
// log-sum-exp; and the cross-entropy of a row from it, for loss.cpp. Header-only (inline) so that
// the tests build it for each instruction set.
//
// Three passes over each 256 rows. (1) Per row, its largest z and H = Z - max. (2) e^H over all
// of them in one loop through the core's branch-free exp (bpcore/exp_fixed.hpp), so that it
// vectorises however narrow the rows are. (3) Per row, the sum s of its e, one division 1 / s, and
// H = e * (1 / s). The largest z of a row gives e^0 = 1 exactly, so H_ij* = 1 / s exactly and is
// the row's largest H: the cross-entropy reads log-sum-exp back as max z - log max H (loss.cpp),
// and with `lse` given that value is stored here instead, its logs a buffer of rows at a time.
//
// With AVX2 or AVX-512, rows up to kMaxVectors vectors wide run (1) and (3) as vectors, the last
// one masked (simd.hpp): a row's sum adds its vectors in order, then the lanes in the fixed order
// of Simd::reduce_add. Wider rows, and the SSE2 baseline, run plain loops that add in order of j.
// Either way a row's values depend only on that row, never on where it lies in the batch.
#pragma once

#include <algorithm>
#include <limits>
#include <type_traits>

#include "bpcore/exp_fixed.hpp"
#include "bpcore/types.hpp"
#include "simd.hpp"

namespace bpcore::softmax_detail {

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
inline constexpr int kMaxVectors = 4;
#else
inline constexpr int kMaxVectors = 0;  // plain loops only
#endif

// (1) for rows NV vectors wide: the largest z (lanes past the row read as -inf), then H = Z - it
template <class T, int NV>
inline void shift_rows(const T* Z, T* H, Index rows, Index cols, double* lse) {
  using S = simd::Simd<T>;
  const auto last = S::mask(cols - (NV - 1) * S::size);
  for (Index i = 0; i < rows; ++i) {
    const T* z = Z + i * cols;
    T* h = H + i * cols;
    typename S::V v[NV];
    for (int k = 0; k + 1 < NV; ++k) v[k] = S::load(z + k * S::size);
    v[NV - 1] = S::load_or(z + (NV - 1) * S::size, last, -std::numeric_limits<T>::infinity());
    typename S::V top = v[0];
    for (int k = 1; k < NV; ++k) top = S::max(top, v[k]);
    const T zmax = S::reduce_max(top);  // (a NaN in z makes the row NaN, as below)
    const auto m = S::set1(zmax);
    for (int k = 0; k + 1 < NV; ++k) S::store(h + k * S::size, S::sub(v[k], m));
    S::store(h + (NV - 1) * S::size, S::sub(v[NV - 1], m), last);
    if (lse) lse[i] = double(zmax);
  }
}

// (3) for rows NV vectors wide: s = the sum of the row's e (lanes past the row read as 0),
// H = e * (1 / s); top[i] = 1 / s
template <class T, int NV>
inline void normalise_rows(T* H, Index rows, Index cols, double* top) {
  using S = simd::Simd<T>;
  const auto last = S::mask(cols - (NV - 1) * S::size);
  for (Index i = 0; i < rows; ++i) {
    T* h = H + i * cols;
    typename S::V e[NV];
    for (int k = 0; k + 1 < NV; ++k) e[k] = S::load(h + k * S::size);
    e[NV - 1] = S::load(h + (NV - 1) * S::size, last);
    typename S::V sum = e[0];
    for (int k = 1; k < NV; ++k) sum = S::add(sum, e[k]);
    const T inverse = T(1) / S::reduce_add(sum);  // H_ij* = 1 * inverse, exactly
    const auto r = S::set1(inverse);
    for (int k = 0; k + 1 < NV; ++k) S::store(h + k * S::size, S::mul(e[k], r));
    // The last lanes element by element: the next row's loads would wait for a masked store
    // that overlaps them (it cannot forward), most of this pass's time on 10-wide rows.
    alignas(64) T out[S::size];
    S::store(out, S::mul(e[NV - 1], r));
    for (Index j = (NV - 1) * S::size; j < cols; ++j) h[j] = out[j - (NV - 1) * S::size];
    if (top) top[i] = double(inverse);
  }
}

// (1) and (3) in plain loops, for any width
template <class T>
inline void shift_rows_plain(const T* Z, T* H, Index rows, Index cols, double* lse) {
  for (Index i = 0; i < rows; ++i) {
    const T* z = Z + i * cols;
    T* h = H + i * cols;
    T zmax = z[0];
    for (Index j = 1; j < cols; ++j) zmax = z[j] > zmax ? z[j] : zmax;
    for (Index j = 0; j < cols; ++j) h[j] = z[j] - zmax;  // (a NaN in z makes the row NaN)
    if (lse) lse[i] = double(zmax);
  }
}
template <class T>
inline void normalise_rows_plain(T* H, Index rows, Index cols, double* top) {
  for (Index i = 0; i < rows; ++i) {
    T* h = H + i * cols;
    T total = 0;
    for (Index j = 0; j < cols; ++j) total += h[j];
    const T inverse = T(1) / total;  // one division a row: H_ij* = 1 * inverse, exactly
    for (Index j = 0; j < cols; ++j) h[j] *= inverse;
    if (top) top[i] = double(inverse);
  }
}

// The number of vectors of a row of `cols` when the vector passes take it, else 0
template <class T>
inline int row_vectors(Index cols) {
  if constexpr (kMaxVectors == 0) {
    return 0;
  } else {
    const Index nv = (cols + simd::Simd<T>::size - 1) / simd::Simd<T>::size;
    return nv <= kMaxVectors ? int(nv) : 0;
  }
}

// f(std::integral_constant<int, NV>{}) with NV = row_vectors<T>(cols): the one place that turns
// the width of a row into the passes' template argument (0: the plain loops)
template <class T, class F>
inline decltype(auto) with_row_vectors(Index cols, F&& f) {
  static_assert(kMaxVectors == 0 || kMaxVectors == 4, "one case below for each width");
  if constexpr (kMaxVectors > 0) {
    switch (row_vectors<T>(cols)) {
      case 1:
        return f(std::integral_constant<int, 1>{});
      case 2:
        return f(std::integral_constant<int, 2>{});
      case 3:
        return f(std::integral_constant<int, 3>{});
      case 4:
        return f(std::integral_constant<int, 4>{});
      default:
        break;
    }
  }
  return f(std::integral_constant<int, 0>{});
}

// The cross-entropy of one row from its log-sum-exp (loss.cpp): -sum_j [y_j != 0] y_j (z_j - lse),
// in double. NV = 0: in order of j. NV > 0, for a row of doubles NV vectors wide: the vectors in
// order and then their lanes (the lanes past the row read as y = 0).
template <int NV>
struct EntropyRow {
  template <class T>
  double operator()(const T* z, const T* y, Index cols, double lse) const {
    if constexpr (NV == 0) {
      double J = 0;
      for (Index j = 0; j < cols; ++j) {
        const double yj = double(y[j]);
        J -= yj != 0 ? yj * (double(z[j]) - lse) : 0.0;
      }
      return J;
    } else {
      static_assert(std::is_same_v<T, double>, "float rows sum in order, in double");
      using S = simd::Simd<double>;
      const auto last = S::mask(cols - (NV - 1) * S::size);
      const auto m = S::set1(lse);
      auto sum = S::zero();
      for (int k = 0; k < NV; ++k) {
        const bool full = k + 1 < NV;
        const auto yk = full ? S::load(y + k * S::size) : S::load(y + k * S::size, last);
        const auto zk = full ? S::load(z + k * S::size) : S::load(z + k * S::size, last);
        sum = S::add(sum, S::mul_nonzero(yk, S::sub(zk, m)));
      }
      return -S::reduce_add(sum);
    }
  }
};

}  // namespace bpcore::softmax_detail

// The exp loop vectorises only where comparisons are taken not to trap (exp_fixed.hpp), and GCC
// inlines a function only into code compiled alike: so softmax_rows is compiled so, and the row
// passes above (which inline Simd's functions) are not. No value changes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

namespace bpcore {

/// H = softmax(Z) on `rows` rows of width `cols`; with `lse`, lse_i = max_j Z_ij - log max_j H_ij,
/// the log-sum-exp of row i (see the top of this file).
template <class T>
inline void softmax_rows(const T* Z, T* H, Index rows, Index cols, double* lse) {
  namespace d = softmax_detail;
  constexpr Index kLogBuffer = 256;  // rows whose logs are taken in one loop
  alignas(64) double top[kLogBuffer];
  d::with_row_vectors<T>(cols, [&](auto nv) {
    constexpr int NV = decltype(nv)::value;
    for (Index i0 = 0; i0 < rows; i0 += kLogBuffer) {
      const Index n = std::min(kLogBuffer, rows - i0);
      const T* z = Z + i0 * cols;
      T* h = H + i0 * cols;
      double* row_lse = lse ? lse + i0 : nullptr;
      if constexpr (NV > 0)
        d::shift_rows<T, NV>(z, h, n, cols, row_lse);
      else
        d::shift_rows_plain(z, h, n, cols, row_lse);
      const Index size = n * cols;
      for (Index k = 0; k < size; ++k) h[k] = scalar::exp_of(h[k]);
      double* row_top = lse ? top : nullptr;
      if constexpr (NV > 0)
        d::normalise_rows<T, NV>(h, n, cols, row_top);
      else
        d::normalise_rows_plain(h, n, cols, row_top);
      if (lse) {
        for (Index r = 0; r < n; ++r) top[r] = scalar::log_fixed(top[r]);
        for (Index r = 0; r < n; ++r) lse[i0 + r] -= top[r];
      }
    }
  });
}

}  // namespace bpcore

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
