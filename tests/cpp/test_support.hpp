// Shared helpers of the C++ unit tests: seeded data, error measures, and an independent oracle.
//
// The oracle recomputes the forward pass, delta back-propagation and the gradient of the batch mean
// J with plain loops over every row at once, from the formulas of docs/notation.md:
//   Z^[l] = H^[l-1] W^[l] + b^[l],  H^[l] = f(Z^[l]),  delta^[l] = -dJ_i/dZ^[l]
//   dJ/dW^[l] = -(1/n) H^[l-1]^T delta^[l],  dJ/db^[l] = -(1/n) sum_rows delta^[l]
// It shares no code with the core beyond the parameter layout, so the core is tested against it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bpcore/network.hpp"

namespace bpcore_test {

using bpcore::Activation;
using bpcore::Index;
using bpcore::Loss;

/// Whether the CPU running the test has the instruction set this file was compiled for (the
/// per-variant tests are built for AVX2 + FMA or AVX-512 whatever machine builds them).
inline bool cpu_runs_this_build() {
#if defined(__AVX512F__)
  return __builtin_cpu_supports("avx512f");
#elif defined(__AVX2__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;
#endif
}

/// At the top of a test case of a per-instruction-set build: when the CPU running it lacks that
/// instruction set, the case says so and returns, checking nothing (doctest's MESSAGE).
#define BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD()                             \
  do {                                                                              \
    if (!bpcore_test::cpu_runs_this_build()) {                                      \
      MESSAGE("this CPU lacks the instruction set of this build: nothing checked"); \
      return;                                                                       \
    }                                                                               \
  } while (false)

/// A copy of every parameter theta of `net`.
template <class T>
std::vector<T> params_of(const bpcore::Network<T>& net) {
  return std::vector<T>(net.params(), net.params() + net.n_params());
}

/// Whether a and b hold bitwise the same values.
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

/// n values uniform on [lo, hi), from bpcore's seeded generator.
template <class T>
std::vector<T> uniform(Index n, std::uint64_t seed, double lo, double hi) {
  bpcore::Rng rng(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = T(rng.uniform(lo, hi));
  return v;
}

/// rows × classes one-hot targets with a seeded class per row.
template <class T>
std::vector<T> one_hot(Index rows, Index classes, std::uint64_t seed) {
  bpcore::Rng rng(seed);
  std::vector<T> Y(static_cast<std::size_t>(rows * classes), T(0));
  for (Index i = 0; i < rows; ++i)
    Y[static_cast<std::size_t>(i * classes +
                               Index(rng.below(static_cast<std::uint64_t>(classes))))] = T(1);
  return Y;
}

/// max_i |a_i - b_i| / max(|a_i|, |b_i|, floor).
template <class A, class B>
double max_relative_error(const A* a, const B* b, Index n, double floor) {
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    const double x = double(a[i]), y = double(b[i]);
    const double scale = std::max({std::abs(x), std::abs(y), floor});
    worst = std::max(worst, std::abs(x - y) / scale);
  }
  return worst;
}

/// ||a - b||_2 / max(||a||_2, ||b||_2).
template <class A, class B>
double norm_relative_error(const A* a, const B* b, Index n) {
  double diff = 0, na = 0, nb = 0;
  for (Index i = 0; i < n; ++i) {
    const double x = double(a[i]), y = double(b[i]);
    diff += (x - y) * (x - y);
    na += x * x;
    nb += y * y;
  }
  const double scale = std::sqrt(std::max(na, nb));
  return scale > 0 ? std::sqrt(diff) / scale : std::sqrt(diff);
}

/// Phi(z), the standard normal distribution function.
inline double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

/// f(z) of one element, from the formulas of docs/notation.md (not for softmax).
inline double f_scalar(Activation f, double z, double alpha) {
  switch (f) {
    case Activation::identity:
      return z;
    case Activation::sigmoid:
      return 1.0 / (1.0 + std::exp(-z));
    case Activation::tanh:
      return (1.0 - std::exp(-2 * z)) / (1.0 + std::exp(-2 * z));
    case Activation::relu:
      return z > 0 ? z : 0.0;
    case Activation::prelu:
      return std::max(z, 0.0) + alpha * std::min(0.0, z);
    case Activation::leaky_relu:
      return z > 0 ? z : 0.01 * z;
    case Activation::elu:
      return z > 0 ? z : std::exp(z) - 1;
    case Activation::softplus:
      return std::log(1 + std::exp(z));
    case Activation::gelu:
      return z * normal_cdf(z);
    case Activation::silu:
      return z / (1 + std::exp(-z));
    case Activation::exp:
      return std::exp(z);
    case Activation::softmax:
      break;
  }
  return NAN;
}

/// f'(z) of one element (not for softmax).
inline double fprime_scalar(Activation f, double z, double alpha) {
  switch (f) {
    case Activation::identity:
      return 1;
    case Activation::sigmoid: {
      const double s = f_scalar(f, z, alpha);
      return s * (1 - s);
    }
    case Activation::tanh: {
      const double t = f_scalar(f, z, alpha);
      return 1 - t * t;
    }
    case Activation::relu:
      return z > 0 ? 1.0 : 0.0;
    case Activation::prelu:
      return z > 0 ? 1.0 : alpha;
    case Activation::leaky_relu:
      return z > 0 ? 1.0 : 0.01;
    case Activation::elu:
      return z > 0 ? 1.0 : std::exp(z);
    case Activation::softplus:
      return 1 / (1 + std::exp(-z));
    case Activation::gelu:
      return normal_cdf(z) + z * std::exp(-z * z / 2) / std::sqrt(2 * std::acos(-1.0));
    case Activation::silu: {
      const double s = 1 / (1 + std::exp(-z));
      return s + z * s * (1 - s);
    }
    case Activation::exp:
      return std::exp(z);
    case Activation::softmax:
      break;
  }
  return NAN;
}

/// The activations usable in a hidden layer (element-wise, with f'), in table order.
inline std::vector<Activation> hidden_activations() {
  std::vector<Activation> out;
  for (const auto& info : bpcore::activation_table)
    if (info.hidden) out.push_back(info.id);
  return out;
}

/// Whether f' or f'' jumps at 0 (relu, prelu, leaky_relu, elu), by the core's own f': there a
/// finite difference must not straddle 0.
inline bool has_kink(Activation f) {
  if (!bpcore::activation_info(f).hidden) return false;  // softmax: smooth
  const double e = 1e-4;
  const double z[] = {-2 * e, -e, e, 2 * e};
  double d[4];
  for (int i = 0; i < 4; ++i) {
    double hi = 0;
    bpcore::activate(f, &z[i], &hi, 1, 1, 0.3);
    bpcore::derivative(f, &z[i], &hi, &d[i], 1, 0.3);
  }
  const bool jump = std::abs(d[2] - d[1]) > 1e-3;
  const bool bend = std::abs((d[3] - d[2]) - (d[1] - d[0])) / e > 0.1;
  return jump || bend;
}

/// A loss with an output activation it accepts: one case per (loss, f^[L]) pair, from the tables.
struct OutputCase {
  Loss loss;
  Activation f;
};
inline std::vector<OutputCase> output_cases() {
  std::vector<OutputCase> out;
  for (const auto& loss : bpcore::loss_table) {
    if (loss.output) {
      out.push_back({loss.id, *loss.output});
      continue;
    }
    for (Activation f : hidden_activations()) out.push_back({loss.id, f});
  }
  return out;
}

/// Everything the oracle computes for a batch: per layer k = l - 1, row-major n × n_l.
struct Reference {
  std::vector<std::vector<double>> Z, H, delta;
  std::vector<double> grad;  // dJ/dtheta in the core's flat layout
  double J = 0;              // batch (weighted) mean
};

/// Forward pass, J, delta and dJ/dtheta of the batch with plain loops. `w` may be null.
template <class T>
Reference reference_backprop(const bpcore::Network<T>& net, const T* X, const T* Y, const T* w,
                             Index n) {
  const T* theta = net.params();
  const Index L = net.n_layers();
  Reference r;
  r.Z.resize(std::size_t(L));
  r.H.resize(std::size_t(L));
  r.delta.resize(std::size_t(L));
  r.grad.assign(std::size_t(net.n_params()), 0.0);
  auto alpha_of = [&](const bpcore::LayerSpec& s) {
    return s.alpha_offset >= 0 ? double(theta[s.alpha_offset]) : 0.0;
  };

  // forward: Z^[l] = H^[l-1] W^[l] + b^[l], H^[l] = f(Z^[l])
  for (Index k = 0; k < L; ++k) {
    const auto& s = net.layer(k);
    auto& Z = r.Z[std::size_t(k)];
    auto& H = r.H[std::size_t(k)];
    Z.assign(std::size_t(n * s.n_out), 0.0);
    H.assign(std::size_t(n * s.n_out), 0.0);
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < s.n_out; ++j) {
        double z = double(theta[s.b_offset + j]);
        for (Index p = 0; p < s.n_in; ++p) {
          const double h = k == 0 ? double(X[i * s.n_in + p])
                                  : r.H[std::size_t(k - 1)][std::size_t(i * s.n_in + p)];
          z += h * double(theta[s.w_offset + p * s.n_out + j]);
        }
        Z[std::size_t(i * s.n_out + j)] = z;
      }
    for (Index i = 0; i < n; ++i) {
      if (s.f == Activation::softmax) {
        double zmax = -INFINITY, sum = 0;
        for (Index j = 0; j < s.n_out; ++j) zmax = std::max(zmax, Z[std::size_t(i * s.n_out + j)]);
        for (Index j = 0; j < s.n_out; ++j) sum += std::exp(Z[std::size_t(i * s.n_out + j)] - zmax);
        for (Index j = 0; j < s.n_out; ++j)
          H[std::size_t(i * s.n_out + j)] = std::exp(Z[std::size_t(i * s.n_out + j)] - zmax) / sum;
      } else {
        for (Index j = 0; j < s.n_out; ++j)
          H[std::size_t(i * s.n_out + j)] =
              f_scalar(s.f, Z[std::size_t(i * s.n_out + j)], alpha_of(s));
      }
    }
  }

  // per-sample weights s_i = n w_i / sum(w), so that J = (1/n) sum s_i J_i
  std::vector<double> scale(std::size_t(n), 1.0);
  if (w) {
    double total = 0;
    for (Index i = 0; i < n; ++i) total += double(w[i]);
    for (Index i = 0; i < n; ++i) scale[std::size_t(i)] = double(n) * double(w[i]) / total;
  }

  const auto& out = net.layer(L - 1);
  const Index q = out.n_out;
  const auto& Zq = r.Z[std::size_t(L - 1)];
  const auto& Hq = r.H[std::size_t(L - 1)];
  auto& Dq = r.delta[std::size_t(L - 1)];
  Dq.assign(std::size_t(n * q), 0.0);
  for (Index i = 0; i < n; ++i) {
    double Ji = 0;
    for (Index j = 0; j < q; ++j) {
      const std::size_t e = std::size_t(i * q + j);
      const double y = double(Y[e]), y_hat = Hq[e];
      switch (net.loss_kind()) {
        case Loss::mse:
          Ji += 0.5 * (y - y_hat) * (y - y_hat);
          // delta^[L] = E ⊙ f'(Z^[L]); dJ_i/dalpha^[L] = -sum_j E_j min(0, Z_j)
          Dq[e] = scale[std::size_t(i)] * (y - y_hat) * fprime_scalar(out.f, Zq[e], alpha_of(out));
          if (out.alpha_offset >= 0)
            r.grad[std::size_t(out.alpha_offset)] -=
                scale[std::size_t(i)] * (y - y_hat) * std::min(0.0, Zq[e]) / double(n);
          break;
        case Loss::cross_entropy:
          if (y != 0) Ji -= y * std::log(y_hat);
          Dq[e] = scale[std::size_t(i)] * (y - y_hat);
          break;
        case Loss::binary_cross_entropy:
          Ji -= y * std::log(y_hat) + (1 - y) * std::log(1 - y_hat);
          Dq[e] = scale[std::size_t(i)] * (y - y_hat);
          break;
        case Loss::poisson:
          // half the Poisson deviance, 0 log 0 = 0
          Ji += y_hat - y + (y != 0 ? y * std::log(y / y_hat) : 0.0);
          Dq[e] = scale[std::size_t(i)] * (y - y_hat);
          break;
      }
    }
    r.J += scale[std::size_t(i)] * Ji / double(n);
  }

  for (Index k = L - 1; k >= 0; --k) {
    const auto& s = net.layer(k);
    const auto& D = r.delta[std::size_t(k)];
    // dJ/dW^[l] = -(1/n) H^[l-1]^T delta^[l],  dJ/db^[l] = -(1/n) sum_rows delta^[l]
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < s.n_out; ++j) {
        const double d = D[std::size_t(i * s.n_out + j)];
        r.grad[std::size_t(s.b_offset + j)] -= d / double(n);
        for (Index p = 0; p < s.n_in; ++p) {
          const double h = k == 0 ? double(X[i * s.n_in + p])
                                  : r.H[std::size_t(k - 1)][std::size_t(i * s.n_in + p)];
          r.grad[std::size_t(s.w_offset + p * s.n_out + j)] -= h * d / double(n);
        }
      }
    if (k == 0) break;
    // delta^[l-1] = (delta^[l] W^[l]^T) ⊙ f'(Z^[l-1])
    const auto& p = net.layer(k - 1);
    auto& Dp = r.delta[std::size_t(k - 1)];
    Dp.assign(std::size_t(n * p.n_out), 0.0);
    for (Index i = 0; i < n; ++i)
      for (Index a = 0; a < p.n_out; ++a) {
        double g = 0;
        for (Index j = 0; j < s.n_out; ++j)
          g += D[std::size_t(i * s.n_out + j)] * double(theta[s.w_offset + a * s.n_out + j]);
        const double z = r.Z[std::size_t(k - 1)][std::size_t(i * p.n_out + a)];
        if (p.alpha_offset >= 0)
          r.grad[std::size_t(p.alpha_offset)] -= g * std::min(0.0, z) / double(n);
        Dp[std::size_t(i * p.n_out + a)] = g * fprime_scalar(p.f, z, alpha_of(p));
      }
  }
  return r;
}

/// Central differences of Network::loss with respect to every parameter: (J(θ+h) - J(θ-h)) / 2h.
inline std::vector<double> numeric_gradient(bpcore::Network<double>& net, const double* X,
                                            const double* Y, const double* w, Index n, double h) {
  std::vector<double> g(std::size_t(net.n_params()));
  double* theta = net.params();
  for (Index p = 0; p < net.n_params(); ++p) {
    const double saved = theta[p];
    theta[p] = saved + h;
    const double J_plus = net.loss(X, Y, w, n, 1);
    theta[p] = saved - h;
    const double J_minus = net.loss(X, Y, w, n, 1);
    theta[p] = saved;
    g[std::size_t(p)] = (J_plus - J_minus) / (2 * h);
  }
  return g;
}

}  // namespace bpcore_test
