#include "bpcore/loss.hpp"

#include <cmath>
#include <string>

#include "bpcore/names.hpp"

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
// log(1 + e^x) without overflow
inline double softplus(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
}  // namespace

template <class T>
double loss_sum(Loss loss, const T* Zp, const T* Yhp, const T* Yp, const T* w, Index rows,
                Index cols) {
  ConstMatrixMap<T> Z(Zp, rows, cols), Y_hat(Yhp, rows, cols), Y(Yp, rows, cols);
  double total = 0;
  for (Index i = 0; i < rows; ++i) {
    double J = 0;
    switch (loss) {
      case Loss::mse: {
        // J = 1/2 sum_j e_j^2, summed in order of j (a plain loop: rows are a few outputs wide)
        const T* y = Yp + i * cols;
        const T* yh = Yhp + i * cols;
        T sum = 0;
        for (Index j = 0; j < cols; ++j) {
          const T e = y[j] - yh[j];
          sum += e * e;
        }
        J = 0.5 * static_cast<double>(sum);
        break;
      }
      case Loss::cross_entropy: {
        // J = -sum_j y_j log softmax(z)_j = -sum_j y_j (z_j - logsumexp(z)), computed from Z^[L]
        const double zmax = Z.row(i).maxCoeff();
        double s = 0;
        for (Index j = 0; j < cols; ++j) s += std::exp(double(Z(i, j)) - zmax);
        const double lse = zmax + std::log(s);
        for (Index j = 0; j < cols; ++j)
          if (Y(i, j) != T(0)) J -= double(Y(i, j)) * (double(Z(i, j)) - lse);
        break;
      }
      case Loss::binary_cross_entropy:
        // log sigmoid(z) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z)
        for (Index j = 0; j < cols; ++j) {
          const double z = Z(i, j), y = Y(i, j);
          J += y * softplus(-z) + (1 - y) * softplus(z);
        }
        break;
      case Loss::poisson:
        // J = sum_j [y_hat - y + y (log y - z)] with log y_hat = z, and 0 log 0 = 0
        for (Index j = 0; j < cols; ++j) {
          const double z = Z(i, j), y = Y(i, j);
          J += double(Y_hat(i, j)) - y + (y != 0 ? y * (std::log(y) - z) : 0.0);
        }
        break;
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
                                Index);
template double loss_sum<double>(Loss, const double*, const double*, const double*, const double*,
                                 Index, Index);
template void output_error<float>(const float*, const float*, float*, Index);
template void output_error<double>(const double*, const double*, double*, Index);

}  // namespace bpcore
