// Activation functions f and their derivatives f', one name table.
//
// Each activation is a pair of element-wise functions on a contiguous block of rows, written
// side by side in activation.cpp and, where that is exact and cheap, with f' taken from the
// output H = f(Z) (the table's `from_output`):
//   sigmoid'(Z) = H (1 - H),   tanh'(Z) = 1 - H^2,   elu'(Z) = H + 1 for Z <= 0,
//   softplus'(Z) = 1 - e^-H,   exp'(Z) = H
// softmax acts on each row and is only used as the output of a cross-entropy network, where the
// loss gives delta^[L] = Y - Y_hat directly (loss.hpp). exp is element-wise but output-only too:
// the log link of the poisson loss (delta^[L] = Y - Y_hat again); in a hidden layer it overflows.
#pragma once

#include <array>
#include <string_view>

#include "bpcore/types.hpp"

namespace bpcore {

enum class Activation {
  identity,
  sigmoid,
  tanh,
  relu,
  prelu,
  softmax,
  leaky_relu,
  elu,
  softplus,
  gelu,
  silu,
  exp
};

/// One activation and its properties, as data.
struct ActivationInfo {
  Activation id;
  std::string_view name;
  bool hidden;               // usable in a hidden layer (softmax and exp are output-only)
  bool from_output;          // f'(Z) is computed from H = f(Z) alone
  bool learnable;            // has a learnable slope alpha^[l] (prelu)
  std::string_view formula;  // f, plain text in the project notation
  std::string_view derivative_formula;  // f'
};

inline constexpr std::array<ActivationInfo, 12> activation_table{{
    {Activation::identity, "identity", true, false, false, "f(z) = z", "f′(z) = 1"},
    {Activation::sigmoid, "sigmoid", true, true, false, "σ(z) = 1 / (1 + e^(−z))",
     "σ′(z) = h (1 − h)"},
    {Activation::tanh, "tanh", true, true, false, "tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))",
     "tanh′(z) = 1 − h²"},
    {Activation::relu, "relu", true, false, false, "relu(z) = max(z, 0)", "relu′(z) = [z > 0]"},
    {Activation::prelu, "prelu", true, false, true, "prelu(z) = max(z, 0) + α min(z, 0)",
     "prelu′(z) = [z > 0] + α [z ≤ 0]"},
    {Activation::softmax, "softmax", false, false, false,
     "softmax(z)_j = e^(z_j) / Σ_k e^(z_k), per row",
     "no element-wise f′: with cross_entropy, δ^[L] = Y − Ŷ"},
    {Activation::leaky_relu, "leaky_relu", true, false, false,
     "leaky_relu(z) = max(z, 0) + 0.01 min(z, 0)", "leaky_relu′(z) = [z > 0] + 0.01 [z ≤ 0]"},
    {Activation::elu, "elu", true, true, false, "elu(z) = z if z > 0, e^z − 1 otherwise",
     "elu′(z) = 1 if z > 0, h + 1 otherwise"},
    {Activation::softplus, "softplus", true, true, false, "softplus(z) = log(1 + e^z)",
     "softplus′(z) = σ(z) = 1 − e^(−h)"},
    {Activation::gelu, "gelu", true, false, false, "gelu(z) = z Φ(z), Φ(z) = (1 + erf(z / √2)) / 2",
     "gelu′(z) = Φ(z) + z φ(z), φ(z) = e^(−z²/2) / √(2π)"},
    {Activation::silu, "silu", true, false, false, "silu(z) = z σ(z)",
     "silu′(z) = σ(z) (1 + z (1 − σ(z)))"},
    {Activation::exp, "exp", false, true, false, "exp(z) = e^z", "exp′(z) = e^z = h"},
}};

/// Initial value of the learnable prelu slope alpha (one per layer).
inline constexpr double prelu_alpha_init = 0.25;
/// The fixed slope of leaky_relu for z <= 0.
inline constexpr double leaky_relu_slope = 0.01;

std::string_view activation_name(Activation f);
/// Throws ArgumentError listing the valid names.
Activation activation_from_name(std::string_view name);
/// The table entry of f.
const ActivationInfo& activation_info(Activation f);

/// H = f(Z) on `rows` rows of width `cols` (contiguous, row-major). `alpha` is prelu's slope.
template <class T>
void activate(Activation f, const T* Z, T* H, Index rows, Index cols, T alpha);

/// H = softmax(Z) row by row, as activate; when `lse` is given, also each row's log-sum-exp
/// lse_i = log sum_k e^(Z_ik) (`rows` values), for the cross-entropy (loss_sum) of the same rows.
template <class T>
void softmax(const T* Z, T* H, Index rows, Index cols, double* lse);

/// H = f(Z) and D = f'(Z) together, for element-wise f (softmax throws), `size` elements: the
/// values of activate and derivative, bit for bit, in one pass where f' comes from H (sigmoid,
/// tanh), so that a backward pass needs only G ⊙ D.
template <class T>
void activate_with_derivative(Activation f, const T* Z, T* H, T* D, Index size, T alpha);

/// D = f'(Z) element-wise (not defined for softmax: throws).
template <class T>
void derivative(Activation f, const T* Z, const T* H, T* D, Index size, T alpha);

/// G <- G ⊙ f'(Z) in place, the step delta^[l] = (delta^[l+1] W^[l+1]^T) ⊙ f'(Z^[l]).
template <class T>
void multiply_by_derivative(Activation f, const T* Z, const T* H, T* G, Index size, T alpha);

/// sum_ij G_ij * min(0, Z_ij): with G = -dJ/dH this is -dJ/dalpha of a prelu layer.
template <class T>
T prelu_alpha_product(const T* Z, const T* G, Index size);

#define BPCORE_EXTERN_ACTIVATION(T)                                                             \
  extern template void activate<T>(Activation, const T*, T*, Index, Index, T);                  \
  extern template void derivative<T>(Activation, const T*, const T*, T*, Index, T);             \
  extern template void activate_with_derivative<T>(Activation, const T*, T*, T*, Index, T);     \
  extern template void multiply_by_derivative<T>(Activation, const T*, const T*, T*, Index, T); \
  extern template T prelu_alpha_product<T>(const T*, const T*, Index);
BPCORE_EXTERN_ACTIVATION(float)
BPCORE_EXTERN_ACTIVATION(double)
#undef BPCORE_EXTERN_ACTIVATION

}  // namespace bpcore
