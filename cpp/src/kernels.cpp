#include "bpcore/kernels.hpp"

#include <cmath>
#include <type_traits>

#include "bpcore/exp_fixed.hpp"
#include "bpcore/network.hpp"

// The online forward's sigmoid vectorises only when comparisons are taken not to trap (see
// bpcore/exp_fixed.hpp). That changes no value: every operation is still done as written.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

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

// The activations the online forward evaluates itself, with f' from h in the same loop.
enum class OnlineF { other, sigmoid, tanh };

template <class T, OnlineF F>
inline void activate_in_place(const T* z, T* __restrict h, T* __restrict fp, Index n) {
  if constexpr (F == OnlineF::sigmoid) {
    // h = 1 / (1 + e^-z), f' = h (1 - h)
    for (Index j = 0; j < n; ++j) {
      const T hj = scalar::sigmoid_of(z[j]);
      h[j] = hj;
      fp[j] = T(1) * (hj * (T(1) - hj));
    }
  } else if constexpr (F == OnlineF::tanh) {
    // h = tanh(z), f' = 1 - h^2
    for (Index j = 0; j < n; ++j) {
      const T hj = scalar::tanh_of(z[j]);
      h[j] = hj;
      fp[j] = T(1) * (T(1) - hj * hj);
    }
  }
}

template <class T, int N, OnlineF F>
void online_forward(const T* __restrict a, const T* __restrict W, const T* __restrict b,
                    T* __restrict z, T* __restrict h, T* __restrict fp, Index n_in, Index n_out) {
  if constexpr (N > 0) {
    // z = b + a W, accumulated in registers as in affine
    T acc[N];
    for (Index j = 0; j < N; ++j) acc[j] = b[j];
    for (Index p = 0; p < n_in; ++p) {
      BPCORE_KEEP_SCALAR_LOOP;
      const T ap = a[p];
      const T* __restrict w = W + p * N;
      for (Index j = 0; j < N; ++j) acc[j] += ap * w[j];
    }
    for (Index j = 0; j < N; ++j) z[j] = acc[j];
    activate_in_place<T, F>(acc, h, fp, N);
  } else {
    affine<T, 0>(a, W, b, z, 1, n_in, n_out);
    activate_in_place<T, F>(z, h, fp, n_out);
  }
}

template <class T, int N, bool Grads>
void online_backward(const T* __restrict a, const T* __restrict d, T* __restrict W, T* __restrict b,
                     T* __restrict gW, T* __restrict gb, T* __restrict g, const T* __restrict fp,
                     Index n_in, Index n_out, T lr) {
  const Index n = N > 0 ? N : n_out;
  for (Index p = 0; p < n_in; ++p) {
    BPCORE_KEEP_SCALAR_LOOP;
    T* __restrict w = W + p * n;
    // g_p = (d W_p^T) f'_p, from W_p before its step
    if (g) {
      const T gp = dot_row(d, w, n);
      g[p] = fp ? gp * fp[p] : gp;
    }
    // dJ/dW_p = -(a_p d), then W_p <- W_p - lr dJ/dW_p
    const T ap = a[p];
    for (Index j = 0; j < n; ++j) {
      const T gj = (ap * d[j]) * T(-1);
      if constexpr (Grads) gW[p * n + j] = gj;
      w[j] = w[j] - lr * gj;
    }
  }
  for (Index j = 0; j < n; ++j) {
    const T gj = d[j] * T(-1);
    if constexpr (Grads) gb[j] = gj;
    b[j] = b[j] - lr * gj;
  }
}

template <class T, int N>
OnlineOps<T> online_of(Activation f) {
  OnlineOps<T> ops{&online_forward<T, N, OnlineF::other>, &online_backward<T, N, true>,
                   &online_backward<T, N, false>, false, N};
  if (f == Activation::sigmoid) {
    ops.forward = &online_forward<T, N, OnlineF::sigmoid>;
    ops.fused = true;
  } else if (f == Activation::tanh && std::is_same_v<T, double>) {
    // float's tanh is Eigen's vectorised one: left to activate
    ops.forward = &online_forward<T, N, OnlineF::tanh>;
    ops.fused = true;
  }
  return ops;
}

template <class T, int... Widths>
OnlineOps<T> pick_online(Index n_out, Activation f, std::integer_sequence<int, Widths...>) {
  OnlineOps<T> ops = online_of<T, 0>(f);
  ((n_out == Widths ? (ops = online_of<T, Widths>(f), 0) : 0), ...);
  return ops;
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

// The widths with kernels of their own; any other width runs on the run-time-width ones.
using FixedWidths = std::integer_sequence<int, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                          16, 20, 24, 28, 32>;

}  // namespace

template <class T>
RowOps<T> row_ops(Index n_out, bool generic) {
  if (generic) return ops_of<T, 0>();
  return pick<T>(n_out, FixedWidths{});
}

template <class T>
OnlineOps<T> online_ops(Index n_out, Activation f, bool generic) {
  if (generic) return online_of<T, 0>(f);
  return pick_online<T>(n_out, f, FixedWidths{});
}

template RowOps<float> row_ops<float>(Index, bool);
template RowOps<double> row_ops<double>(Index, bool);
template OnlineOps<float> online_ops<float>(Index, Activation, bool);
template OnlineOps<double> online_ops<double>(Index, Activation, bool);

}  // namespace kernels
}  // namespace bpcore
