// Activation functions f and their derivatives f', one name table.
//
// Each activation is a pair of element-wise functions on a contiguous block of rows, written, where
// the notes allow it, from the output H = f(Z):
//   sigmoid'(Z) = H (1 - H),   tanh'(Z) = 1 - H^2,   relu'(Z) = [Z > 0],   prelu'(Z) = [Z > 0] + a [Z <= 0]
// softmax acts on each row and is only used as the output of a cross-entropy network, where the
// loss gives delta^[L] = Y - Y_hat directly (loss.hpp).
#pragma once

#include <array>
#include <string_view>

#include "bpcore/types.hpp"

namespace bpcore {

enum class Activation { identity, sigmoid, tanh, relu, prelu, softmax };

struct ActivationInfo {
  Activation id;
  std::string_view name;
  bool hidden;  // usable in a hidden layer (softmax is output-only)
};

inline constexpr std::array<ActivationInfo, 6> activation_table{{
    {Activation::identity, "identity", true},
    {Activation::sigmoid, "sigmoid", true},
    {Activation::tanh, "tanh", true},
    {Activation::relu, "relu", true},
    {Activation::prelu, "prelu", true},
    {Activation::softmax, "softmax", false},
}};

/// Initial value of the learnable prelu slope alpha (one per layer).
inline constexpr double prelu_alpha_init = 0.25;

std::string_view activation_name(Activation f);
/// Throws ArgumentError listing the valid names.
Activation activation_from_name(std::string_view name);

/// H = f(Z) on `rows` rows of width `cols` (contiguous, row-major). `alpha` is prelu's slope.
template <class T>
void activate(Activation f, const T* Z, T* H, Index rows, Index cols, T alpha);

/// D = f'(Z) element-wise (not defined for softmax: throws).
template <class T>
void derivative(Activation f, const T* Z, const T* H, T* D, Index size, T alpha);

/// G <- G ⊙ f'(Z) in place, the step delta^[l] = (delta^[l+1] W^[l+1]^T) ⊙ f'(Z^[l]).
template <class T>
void multiply_by_derivative(Activation f, const T* Z, const T* H, T* G, Index size, T alpha);

/// sum_ij G_ij * min(0, Z_ij): with G = -dJ/dH this is -dJ/dalpha of a prelu layer.
template <class T>
T prelu_alpha_product(const T* Z, const T* G, Index size);

#define BPCORE_EXTERN_ACTIVATION(T)                                                        \
  extern template void activate<T>(Activation, const T*, T*, Index, Index, T);             \
  extern template void derivative<T>(Activation, const T*, const T*, T*, Index, T);        \
  extern template void multiply_by_derivative<T>(Activation, const T*, const T*, T*, Index, \
                                                 T);                                       \
  extern template T prelu_alpha_product<T>(const T*, const T*, Index);
BPCORE_EXTERN_ACTIVATION(float)
BPCORE_EXTERN_ACTIVATION(double)
#undef BPCORE_EXTERN_ACTIVATION

}  // namespace bpcore
