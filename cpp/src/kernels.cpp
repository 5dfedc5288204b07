#include "bpcore/kernels.hpp"

#include "bpcore/network.hpp"

namespace bpcore {
namespace kernels {

bool is_small(const std::vector<LayerSpec>& layers) {
  if (layers.empty() || layers.front().n_in > kSmallInputs) return false;
  for (const auto& s : layers)
    if (s.n_out > kSmallWidth) return false;
  return true;
}

namespace {
// With the width fixed, GCC vectorises the loops over p (across rows of W, with shuffles) instead
// of the loops over j, which costs more than it saves at these sizes; an empty asm statement keeps
// a loop over p scalar (the loop over j inside it still vectorises). No value changes.
#define BPCORE_KEEP_SCALAR_LOOP \
  if constexpr (N > 0) asm volatile("")

// N > 0: the width n_out fixed at compile time (the loops over j unroll and vectorise fully);
// N = 0: read at run time. Both run the same operations in the same order.

template <class T, int N>
void affine(const T* __restrict A, const T* __restrict W, const T* __restrict b, T* __restrict Z,
            Index nr, Index n_in, Index n_out) {
  const Index n = N > 0 ? N : n_out;
  for (Index i = 0; i < nr; ++i) {
    const T* __restrict a = A + i * n_in;
    T* __restrict z = Z + i * n;
    if constexpr (N > 0) {
      // z = b + a W, accumulated in registers
      T acc[N > 0 ? N : 1];
      for (Index j = 0; j < N; ++j) acc[j] = b[j];
      for (Index p = 0; p < n_in; ++p) {
        BPCORE_KEEP_SCALAR_LOOP;
        const T ap = a[p];
        const T* __restrict w = W + p * N;
        for (Index j = 0; j < N; ++j) acc[j] += ap * w[j];
      }
      for (Index j = 0; j < N; ++j) z[j] = acc[j];
    } else {
      for (Index j = 0; j < n; ++j) z[j] = b[j];
      for (Index p = 0; p < n_in; ++p) {
        BPCORE_KEEP_SCALAR_LOOP;
        const T ap = a[p];
        const T* __restrict w = W + p * n;
        for (Index j = 0; j < n; ++j) z[j] += ap * w[j];
      }
    }
  }
}

template <class T, int N>
void grad(const T* __restrict A, const T* __restrict D, T* __restrict gW, T* __restrict gb,
          Index nr, Index n_in, Index n_out) {
  const Index n = N > 0 ? N : n_out;
  // gW = a_0^T d_0, gb = d_0, then + a_i^T d_i, + d_i for the other rows in order
  for (Index p = 0; p < n_in; ++p) {
    BPCORE_KEEP_SCALAR_LOOP;
    const T ap = A[p];
    T* __restrict g = gW + p * n;
    for (Index j = 0; j < n; ++j) g[j] = ap * D[j];
  }
  for (Index j = 0; j < n; ++j) gb[j] = D[j];
  for (Index i = 1; i < nr; ++i) {
    const T* __restrict a = A + i * n_in;
    const T* __restrict d = D + i * n;
    for (Index p = 0; p < n_in; ++p) {
      BPCORE_KEEP_SCALAR_LOOP;
      const T ap = a[p];
      T* __restrict g = gW + p * n;
      for (Index j = 0; j < n; ++j) g[j] += ap * d[j];
    }
    for (Index j = 0; j < n; ++j) gb[j] += d[j];
  }
}

// g_p = sum_j d_j W_pj. Below kLanes terms the sum runs in order of j; from kLanes on, term j goes
// to lane j mod kLanes (each lane in order of j) and the lanes are added in a fixed tree, so that
// the products vectorise without changing which additions are made.
constexpr Index kLanes = 8;

template <class T>
inline T dot_row(const T* __restrict d, const T* __restrict w, Index n) {
  if (n < kLanes) {
    T acc = d[0] * w[0];
    for (Index j = 1; j < n; ++j) acc += d[j] * w[j];
    return acc;
  }
  T lane[kLanes];
  for (Index l = 0; l < kLanes; ++l) lane[l] = d[l] * w[l];
  Index j = kLanes;
  for (; j + kLanes <= n; j += kLanes)
    for (Index l = 0; l < kLanes; ++l) lane[l] += d[j + l] * w[j + l];
  for (Index l = 0; j + l < n; ++l) lane[l] += d[j + l] * w[j + l];
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

template <class T, int N>
void back(const T* __restrict D, const T* __restrict W, T* __restrict G, Index nr, Index n_in,
          Index n_out) {
  const Index n = N > 0 ? N : n_out;
  for (Index i = 0; i < nr; ++i) {
    const T* __restrict d = D + i * n;
    T* __restrict g = G + i * n_in;
    for (Index p = 0; p < n_in; ++p) g[p] = dot_row(d, W + p * n, n);
  }
}

template <class T, int N>
void sgd_row(const T* __restrict a, const T* __restrict d, T* __restrict W, T* __restrict b,
             T* __restrict gW, T* __restrict gb, Index n_in, Index n_out, T lr) {
  const Index n = N > 0 ? N : n_out;
  // dJ/dW = -(a^T d) (the mean over one row), then W <- W - lr dJ/dW
  for (Index p = 0; p < n_in; ++p) {
    const T ap = a[p];
    T* __restrict w = W + p * n;
    T* __restrict g = gW + p * n;
    for (Index j = 0; j < n; ++j) {
      const T gj = (ap * d[j]) * T(-1);
      g[j] = gj;
      w[j] = w[j] - lr * gj;
    }
  }
  for (Index j = 0; j < n; ++j) {
    const T gj = d[j] * T(-1);
    gb[j] = gj;
    b[j] = b[j] - lr * gj;
  }
}

template <class T, int N>
RowOps<T> ops_of() {
  return {&affine<T, N>, &grad<T, N>, &back<T, N>, &sgd_row<T, N>, N};
}

template <class T, int... Widths>
RowOps<T> pick(Index n_out, std::integer_sequence<int, Widths...>) {
  RowOps<T> ops = ops_of<T, 0>();
  ((n_out == Widths ? (ops = ops_of<T, Widths>(), 0) : 0), ...);
  return ops;
}

}  // namespace

template <class T>
RowOps<T> row_ops(Index n_out, bool generic) {
  if (generic) return ops_of<T, 0>();
  return pick<T>(n_out, std::integer_sequence<int, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                              15, 16, 20, 24, 28, 32>{});
}

template RowOps<float> row_ops<float>(Index, bool);
template RowOps<double> row_ops<double>(Index, bool);

}  // namespace kernels
}  // namespace bpcore
