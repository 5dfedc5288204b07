// Losses J and the output delta^[L].
//
// Per sample (shared/NOTATION.md):
//   mse                   J = 1/2 sum_j e_j^2, e = y - y_hat        delta^[L] = E ⊙ f'(Z^[L])
//   cross_entropy         J = -sum_j y_j log y_hat_j  (softmax)     delta^[L] = Y - Y_hat
//   binary_cross_entropy  J = -sum_j [y log y_hat + (1-y) log(1-y_hat)]  (sigmoid)  delta^[L] = Y - Y_hat
// A batch reports and differentiates the (weighted) mean of the per-sample J.
#pragma once

#include <array>
#include <string_view>

#include "bpcore/activation.hpp"

namespace bpcore {

enum class Loss { mse, cross_entropy, binary_cross_entropy };

struct LossInfo {
  Loss id;
  std::string_view name;
};

inline constexpr std::array<LossInfo, 3> loss_table{{
    {Loss::mse, "mse"},
    {Loss::cross_entropy, "cross_entropy"},
    {Loss::binary_cross_entropy, "binary_cross_entropy"},
}};

std::string_view loss_name(Loss loss);
Loss loss_from_name(std::string_view name);

/// Throws ArgumentError unless the output activation and the loss go together:
/// softmax <=> cross_entropy, binary_cross_entropy => sigmoid.
void check_output_pairing(Activation output, Loss loss);

/// Sum over the rows of w_i * J_i (w_i = 1 when `weights` is null), from Z^[L], Y_hat = H^[L], Y.
template <class T>
double loss_sum(Loss loss, const T* Z, const T* Y_hat, const T* Y, const T* weights, Index rows,
                Index cols);

/// G = -dJ_i/dY_hat-side term of the output layer before f' is applied, per sample:
/// mse: G = E = Y - Y_hat (the caller multiplies by f'(Z^[L]));
/// cross-entropy losses: G = Y - Y_hat, which is already delta^[L].
template <class T>
void output_error(const T* Y_hat, const T* Y, T* G, Index size);

/// True when delta^[L] = G needs no multiplication by f'(Z^[L]) (the cross-entropy pairings).
bool output_delta_is_error(Loss loss);

extern template double loss_sum<float>(Loss, const float*, const float*, const float*,
                                       const float*, Index, Index);
extern template double loss_sum<double>(Loss, const double*, const double*, const double*,
                                        const double*, Index, Index);
extern template void output_error<float>(const float*, const float*, float*, Index);
extern template void output_error<double>(const double*, const double*, double*, Index);

}  // namespace bpcore
