#include "bpcore/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "bpcore/exp_fixed.hpp"
#include "bpcore/names.hpp"
#include "softmax_rows.hpp"

// The selects of exp_fixed vectorise only when comparisons are taken not to trap (see
// bpcore/exp_fixed.hpp); that changes no value.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace bpcore {

std::string_view loss_name(Loss id) { return name_in(loss_table, id, "loss"); }

Loss loss_from_name(std::string_view name) { return id_in(loss_table, name, "loss"); }

const LossInfo& loss_info(Loss id) { return info_in(loss_table, id, "loss"); }

void check_output_pairing(Activation output, Loss loss) {
  const LossInfo& info = loss_info(loss);
  if (!activation_info(output).hidden && info.output != output) {
    std::string users;
    for (const auto& l : loss_table)
      if (l.output == output) users += (users.empty() ? "'" : ", '") + std::string(l.name) + "'";
    throw ArgumentError("output_activation '" + std::string(activation_name(output)) +
                        "' is only used with loss " + users + ", got '" + std::string(info.name) +
                        "'");
  }
  if (info.output && *info.output != output)
    throw ArgumentError("loss '" + std::string(info.name) + "' needs output_activation '" +
                        std::string(activation_name(*info.output)) + "', got '" +
                        std::string(activation_name(output)) + "'");
}

namespace {

// The exponentials of a softplus go through one aligned buffer of kBuffer values at a time, so
// that the loops over them vectorise (libm's exp and log1p are scalar calls, and took most of the
// time of J on narrow outputs).
constexpr Index kBuffer = 256;

// The row sums of w_i J_i over rows [0, rows) in row order, J_i = -sum_j y_j log softmax(z)_j
// = -sum_j y_j (z_j - logsumexp(z)), from Z^[L] and the softmax H^[L] = Y_hat: at the largest z_j*
// of a row, softmax_rows takes e^0 = 1 exactly, the largest e of the row, so Y_hat_ij* = 1 / sum_k
// e^(z_k - z_j*) is the largest Y_hat of the row and logsumexp(z) = max_j z_j - log max_j Y_hat_ij.
// That is one log per row and no exponential, the log is accurate, as Y_hat_ij* >= 1/q, and the
// two maxima need no index (a select on the index made each row wait on the one before). The
// maxima of a buffer of rows come first, then their logs (log_fixed, a loop that vectorises:
// libm's log, a call a row, was a quarter of J's time for digits' ten outputs), then the sums, with
// selects instead of branches on y (one-hot rows mispredict a branch per row).
// With `lse` given (softmax_rows took the same maxima and logs as it normalised), only the sums.
template <class T, class Row>
double cross_entropy_rows(const T* Z, const T* Yhat, const T* Y, const T* w, Index rows, Index cols,
                          const double* lse, Row row_J) {
  alignas(64) double zmax[kBuffer], log_top[kBuffer];
  double total = 0;
  for (Index i0 = 0; i0 < rows; i0 += kBuffer) {
    const Index n = std::min(kBuffer, rows - i0);
    for (Index r = 0; r < n && !lse; ++r) {
      const T* z = Z + (i0 + r) * cols;
      const T* yh = Yhat + (i0 + r) * cols;
      T zm = z[0], ym = yh[0];
      for (Index j = 1; j < cols; ++j) {
        zm = z[j] > zm ? z[j] : zm;
        ym = yh[j] > ym ? yh[j] : ym;
      }
      zmax[r] = double(zm);
      log_top[r] = double(ym);
    }
    if (!lse)
      for (Index r = 0; r < n; ++r) log_top[r] = scalar::log_fixed(log_top[r]);
    for (Index r = 0; r < n; ++r) {
      const double lse_r = lse ? lse[i0 + r] : zmax[r] - log_top[r];
      const double J = row_J(Z + (i0 + r) * cols, Y + (i0 + r) * cols, cols, lse_r);
      total += w ? double(w[i0 + r]) * J : J;
    }
  }
  return total;
}

template <class T>
double cross_entropy_sum(const T* Z, const T* Yhat, const T* Y, const T* w, Index rows, Index cols,
                         const double* lse) {
  using softmax_detail::EntropyRow;
  if constexpr (std::is_same_v<T, double>)
    return softmax_detail::with_row_vectors<double>(cols, [&](auto nv) {
      return cross_entropy_rows(Z, Yhat, Y, w, rows, cols, lse, EntropyRow<decltype(nv)::value>{});
    });
  else
    return cross_entropy_rows(Z, Yhat, Y, w, rows, cols, lse, EntropyRow<0>{});
}

// The same for the binary cross-entropy of sigmoid outputs: log sigmoid(z) = -softplus(-z) and
// log(1 - sigmoid(z)) = -softplus(z), so J_i = sum_j [y softplus(-z) + (1 - y) softplus(z)], where
// softplus(+-z) = max(+-z, 0) + log(1 + e^-|z|), without overflow for any z.
template <class T>
double binary_cross_entropy_sum(const T* Z, const T* Y, const T* w, Index rows, Index cols) {
  alignas(64) double e[kBuffer];
  double total = 0, J = 0;
  Index j = 0;  // the column of the next element
  const Index size = rows * cols;
  for (Index k0 = 0; k0 < size; k0 += kBuffer) {
    const Index n = std::min(kBuffer, size - k0);
    for (Index k = 0; k < n; ++k) {
      const double z = Z[k0 + k];
      e[k] = scalar::log1p_unit(scalar::exp_fixed(z < 0 ? z : -z));
    }
    for (Index k = 0; k < n; ++k) {
      const double z = Z[k0 + k], y = Y[k0 + k], L = e[k];
      J += y * (std::max(-z, 0.0) + L) + (1 - y) * (std::max(z, 0.0) + L);
      if (++j == cols) {
        const Index i = (k0 + k) / cols;
        total += w ? double(w[i]) * J : J;
        J = 0;
        j = 0;
      }
    }
  }
  return total;
}

}  // namespace

template <class T>
double loss_sum(Loss loss, const T* Zp, const T* Yhp, const T* Yp, const T* w, Index rows,
                Index cols, const double* lse) {
  if (rows <= 0 || cols <= 0) return 0;
  if (loss == Loss::cross_entropy) return cross_entropy_sum(Zp, Yhp, Yp, w, rows, cols, lse);
  if (loss == Loss::binary_cross_entropy) return binary_cross_entropy_sum(Zp, Yp, w, rows, cols);
  double total = 0;
  for (Index i = 0; i < rows; ++i) {
    const T* y = Yp + i * cols;
    const T* yh = Yhp + i * cols;
    const T* z = Zp + i * cols;
    double J = 0;
    switch (loss) {
      case Loss::mse: {
        // J = 1/2 sum_j e_j^2, summed in order of j (a plain loop: rows are a few outputs wide)
        T sum = 0;
        for (Index j = 0; j < cols; ++j) {
          const T e = y[j] - yh[j];
          sum += e * e;
        }
        J = 0.5 * static_cast<double>(sum);
        break;
      }
      case Loss::poisson:
        // J = sum_j [y_hat - y + y (log y - z)] with log y_hat = z, and 0 log 0 = 0
        for (Index j = 0; j < cols; ++j) {
          const double yj = y[j];
          J += double(yh[j]) - yj + (yj != 0 ? yj * (std::log(yj) - double(z[j])) : 0.0);
        }
        break;
      case Loss::cross_entropy:
      case Loss::binary_cross_entropy:
        break;  // taken above, a buffer of rows at a time
    }
    total += w ? double(w[i]) * J : J;
  }
  return total;
}

template <class T>
void output_error(const T* Y_hat, const T* Y, T* G, Index size) {
  // E = Y - Y_hat
  ArrayMap<T>(G, size) = ConstArrayMap<T>(Y, size) - ConstArrayMap<T>(Y_hat, size);
}

template double loss_sum<float>(Loss, const float*, const float*, const float*, const float*, Index,
                                Index, const double*);
template double loss_sum<double>(Loss, const double*, const double*, const double*, const double*,
                                 Index, Index, const double*);
template void output_error<float>(const float*, const float*, float*, Index);
template void output_error<double>(const double*, const double*, double*, Index);

}  // namespace bpcore
