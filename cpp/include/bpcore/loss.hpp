// Losses J and the output delta^[L].
//
// Per sample (docs/notation.md):
//   mse                   J = 1/2 sum_j e_j^2, e = y - y_hat        delta^[L] = E ⊙ f'(Z^[L])
//   cross_entropy         J = -sum_j y_j log y_hat_j  (softmax)     delta^[L] = Y - Y_hat
//   binary_cross_entropy  J = -sum_j [y log y_hat + (1-y) log(1-y_hat)]  (sigmoid)  delta^[L] = Y -
//   Y_hat
//   poisson               J = sum_j [y_hat_j - y_j + y_j log(y_j / y_hat_j)]  (exp, y >= 0: half
//                         the Poisson deviance, 0 log 0 = 0)                  delta^[L] = Y - Y_hat
// A batch reports and differentiates the (weighted) mean of the per-sample J.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "bpcore/activation.hpp"

namespace bpcore {

enum class Loss { mse, cross_entropy, binary_cross_entropy, poisson };

/// One loss and its properties, as data.
struct LossInfo {
  Loss id;
  std::string_view name;
  std::optional<Activation> output;  // the output activation f^[L] it needs (none: any with f')
  bool delta_is_error;               // delta^[L] = Y - Y_hat, with no f'(Z^[L]) factor
  std::string_view task;             // "regression", "classification" or "multilabel"
  std::string_view formula;          // J per sample, plain text in the project notation
};

inline constexpr std::array<LossInfo, 4> loss_table{{
    {Loss::mse, "mse", std::nullopt, false, "regression", "J = ½ Σ_j (y_j − ŷ_j)²"},
    {Loss::cross_entropy, "cross_entropy", Activation::softmax, true, "classification",
     "J = −Σ_j y_j log ŷ_j"},
    {Loss::binary_cross_entropy, "binary_cross_entropy", Activation::sigmoid, true, "multilabel",
     "J = −Σ_j [y_j log ŷ_j + (1 − y_j) log(1 − ŷ_j)]"},
    {Loss::poisson, "poisson", Activation::exp, true, "regression",
     "J = Σ_j [ŷ_j − y_j + y_j log(y_j / ŷ_j)]"},
}};

std::string_view loss_name(Loss loss);
Loss loss_from_name(std::string_view name);
/// The table entry of `loss`.
const LossInfo& loss_info(Loss loss);

/// Throws ArgumentError unless the output activation and the loss go together, by the tables:
/// a loss with an `output` needs that f^[L]; an f^[L] without an element-wise f' (softmax) is
/// only used with the losses that name it.
void check_output_pairing(Activation output, Loss loss);

/// Sum over the rows of w_i * J_i (w_i = 1 when `weights` is null), from Z^[L], Y_hat = H^[L], Y.
/// The cross-entropy takes each row's log-sum-exp from `lse` when given (softmax's), else reads
/// it back from Z and Y_hat, which must be the softmax of Z (activate): the same value either way.
template <class T>
double loss_sum(Loss loss, const T* Z, const T* Y_hat, const T* Y, const T* weights, Index rows,
                Index cols, const double* lse = nullptr);

/// G = -dJ_i/dY_hat-side term of the output layer before f' is applied, per sample:
/// G = E = Y - Y_hat, which is delta^[L] when the loss's `delta_is_error` (the cross-entropy
/// pairings); otherwise the caller multiplies it by f'(Z^[L]).
template <class T>
void output_error(const T* Y_hat, const T* Y, T* G, Index size);

extern template double loss_sum<float>(Loss, const float*, const float*, const float*, const float*,
                                       Index, Index, const double*);
extern template double loss_sum<double>(Loss, const double*, const double*, const double*,
                                        const double*, Index, Index, const double*);
extern template void output_error<float>(const float*, const float*, float*, Index);
extern template void output_error<double>(const double*, const double*, double*, Index);

}  // namespace bpcore
