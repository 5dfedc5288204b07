// Row kernels of the small-network path: the three products of BP written as plain loops.
//
// On narrow layers (n_l of a few dozen at most) a general matrix product spends more time choosing
// and packing than multiplying. These kernels work row by row, with the width n_l either fixed at
// compile time (a table of common widths) or read at run time (any other width). For one row a of
// H^[l-1] (n_{l-1}), its delta d (n_l) and W = W^[l] (n_{l-1} × n_l, row-major):
//   affine   z = b + a W                 z_j = (((b_j + a_0 W_0j) + a_1 W_1j) + …)
//   grad     gW = sum_i a_i^T d_i,  gb = sum_i d_i          (rows summed in order)
//   back     g = d W^T                   g_p = ((d_0 W_p0 + d_1 W_p1) + …) for n_l < 8; wider
//                                        rows sum in 8 lanes (j mod 8), then a fixed tree
// Every sum runs in one fixed order, element by element, with no fused multiply-add, so the
// fixed-width and the run-time-width kernels give bitwise the same values, on every instruction
// set, wherever the arrays lie in memory.
#pragma once

#include <vector>

#include "bpcore/activation.hpp"
#include "bpcore/types.hpp"

namespace bpcore {

struct LayerSpec;

namespace kernels {

/// Widest n_l (and n_{l-1} of hidden layers) of a small network; see is_small.
inline constexpr Index kSmallWidth = 32;
/// Widest input d of a small network.
inline constexpr Index kSmallInputs = 64;

/// Most rows of a call that runs on these kernels (see Network::uses_row_kernels); above it a
/// general matrix product is faster, even on narrow layers.
inline constexpr Index kSmallRows = 8;

/// True when every layer has n_l <= kSmallWidth and the input has d <= kSmallInputs.
bool is_small(const std::vector<LayerSpec>& layers);

/// The kernels of one layer, picked once per network by its width n_l.
template <class T>
struct RowOps {
  /// Z_i = b + A_i W for rows i < nr (A: nr × n_in, Z: nr × n_out).
  void (*affine)(const T* A, const T* W, const T* b, T* Z, Index nr, Index n_in, Index n_out);
  /// gW = sum_i A_i^T D_i and gb = sum_i D_i over rows i < nr (overwritten).
  void (*grad)(const T* A, const T* D, T* gW, T* gb, Index nr, Index n_in, Index n_out);
  /// G_i = D_i W^T for rows i < nr (G: nr × n_in).
  void (*back)(const T* D, const T* W, T* G, Index nr, Index n_in, Index n_out);
  /// One row's sgd step on the layer: gW = -(a^T d), gb = -d (dJ/dW and dJ/db of that sample)
  /// and W <- W - lr gW, b <- b - lr gb, in one pass.
  void (*sgd_row)(const T* a, const T* d, T* W, T* b, T* gW, T* gb, Index n_in, Index n_out, T lr);
  /// Width the kernels were specialised for, or 0 for the run-time-width kernels.
  Index fixed_width;
};

/// The kernels for a layer n_out wide; `generic` forces the run-time-width ones (for tests).
template <class T>
RowOps<T> row_ops(Index n_out, bool generic = false);

/// The fused online (batch size 1) sgd step of one layer, picked once per network by the layer's
/// width n_l and activation f (see Network::sgd_row). For the row a = H^[l-1], W = W^[l], b =
/// b^[l]:
///   forward   z = b + a W (the sums of affine); for sigmoid (and tanh in double) also h = f(z)
///             and fp = f'(z) in the same pass, with the bits of activate_with_derivative
///   backward  for each row p of W: g_p = (d W_p^T) fp_p with W_p before its step (the sums of
///             back; skipped when g is null), then gW_p = -(a_p d), W_p <- W_p - lr gW_p, and
///             b <- b - lr gb with gb = -d: the bits of back, G ⊙ fp and sgd_row, in one pass over
///             W. gW, gb are written unless the kernel is the `no_grads` one.
template <class T>
struct OnlineOps {
  void (*forward)(const T* a, const T* W, const T* b, T* z, T* h, T* fp, Index n_in, Index n_out);
  void (*backward)(const T* a, const T* d, T* W, T* b, T* gW, T* gb, T* g, const T* fp, Index n_in,
                   Index n_out, T lr);
  void (*backward_no_grads)(const T* a, const T* d, T* W, T* b, T* gW, T* gb, T* g, const T* fp,
                            Index n_in, Index n_out, T lr);
  /// True when forward computed h and fp (f is sigmoid, or tanh in double); otherwise the caller
  /// applies f to z, and f' to g after backward.
  bool fused;
  /// Width the kernels were specialised for, or 0 for the run-time-width kernels.
  Index fixed_width;
};

/// The online kernels for a layer n_out wide with activation f; `generic` forces the
/// run-time-width ones (for tests).
template <class T>
OnlineOps<T> online_ops(Index n_out, Activation f, bool generic = false);

/// theta <- theta - lr g, element by element: sgd's rule, shared by the optimizer and the fused
/// online step so that both give the same bits.
template <class T>
inline void sgd_update(T* theta, const T* g, T lr, Index n) {
  for (Index i = 0; i < n; ++i) theta[i] = theta[i] - lr * g[i];
}

extern template RowOps<float> row_ops<float>(Index, bool);
extern template RowOps<double> row_ops<double>(Index, bool);
extern template OnlineOps<float> online_ops<float>(Index, Activation, bool);
extern template OnlineOps<double> online_ops<double>(Index, Activation, bool);

}  // namespace kernels
}  // namespace bpcore
