#include "bpcore/activation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "bpcore/exp_fixed.hpp"
#include "bpcore/names.hpp"
#include "softmax_rows.hpp"

// The selects of exp_fixed (bpcore/exp_fixed.hpp) vectorise only when comparisons are taken not to
// trap (GCC keeps them as branches otherwise). That changes no value: every operation is still done
// as written.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace bpcore {

namespace {

// Eigen's vector kernels peel an unaligned head of an array onto a scalar path, and the scalar
// exp and tanh round differently from the vector ones. Running them in fixed chunks through
// aligned buffers makes each element's result independent of where the data lies in memory.
// body(i, n, x, tmp) gets x = in[i … i+n-1] in an aligned buffer and a second aligned buffer.
template <class T, class Body>
void in_aligned_chunks(const T* in, Index size, Body&& body) {
  constexpr Index kChunk = 256;
  alignas(64) T x_buffer[kChunk];
  alignas(64) T tmp_buffer[kChunk];
  using Aligned = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;
  for (Index i = 0; i < size; i += kChunk) {
    const Index n = std::min(kChunk, size - i);
    Aligned x(x_buffer, n), tmp(tmp_buffer, n);
    x = ConstArrayMap<T>(in + i, n);
    body(i, n, x, tmp);
  }
}

// out = g(in) element-wise, through aligned chunks.
template <class T, class F>
void elementwise_aligned(const T* in, T* out, Index size, F&& g) {
  in_aligned_chunks(in, size, [&](Index i, Index n, auto& x, auto&) {
    x = g(x);
    ArrayMap<T>(out + i, n) = x;
  });
}

// G <- G ⊙ d(in) element-wise, through aligned chunks.
template <class T, class F>
void multiply_aligned(const T* in, T* G, Index size, F&& d) {
  in_aligned_chunks(in, size, [&](Index i, Index n, auto& x, auto&) {
    x = d(x);
    ArrayMap<T>(G + i, n) *= x;
  });
}

constexpr double kSqrtHalf = 0.70710678118654752440;    // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

template <class T>
T erfc_of(T x) {
  return std::erfc(x);
}

using scalar::exp_of;  // e^x and the sigmoid: bpcore/exp_fixed.hpp
using scalar::sigmoid_of;

// One kernel per activation: f (H = f(Z)) and times_df (G <- G ⊙ f'(Z)) side by side. Softmax
// acts on whole rows and is handled in activate().
template <Activation A>
struct Kernel;

template <>
struct Kernel<Activation::identity> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    ArrayMap<T>(H, n) = ConstArrayMap<T>(Z, n);
  }
  template <class T>
  static void times_df(const T*, const T*, T*, Index, T) {}
};

template <>
struct Kernel<Activation::sigmoid> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = 1 / (1 + e^-Z)
    for (Index i = 0; i < n; ++i) H[i] = sigmoid_of(Z[i]);
  }
  template <class T>
  static void times_df(const T*, const T* Hp, T* Gp, Index n, T) {
    // sigmoid' = H (1 - H)
    ConstArrayMap<T> H(Hp, n);
    ArrayMap<T>(Gp, n) *= H * (T(1) - H);
  }
};

template <>
struct Kernel<Activation::tanh> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // Eigen has no vectorised double tanh: the core's own (bpcore/exp_fixed.hpp) vectorises and
    // needs no buffers. float has Eigen's vectorised rational approximation, which the buffers
    // keep position-independent.
    if constexpr (std::is_same_v<T, double>) {
      for (Index i = 0; i < n; ++i) H[i] = scalar::tanh_fixed(Z[i]);
    } else {
      elementwise_aligned(Z, H, n, [](const auto& z) { return z.tanh(); });
    }
  }
  template <class T>
  static void times_df(const T*, const T* Hp, T* Gp, Index n, T) {
    // tanh' = 1 - H^2
    ArrayMap<T>(Gp, n) *= T(1) - ConstArrayMap<T>(Hp, n).square();
  }
};

template <>
struct Kernel<Activation::relu> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = max(Z, 0)
    ArrayMap<T>(H, n) = ConstArrayMap<T>(Z, n).max(T(0));
  }
  template <class T>
  static void times_df(const T* Zp, const T*, T* Gp, Index n, T) {
    // relu' = [Z > 0]
    ArrayMap<T> G(Gp, n);
    G = (ConstArrayMap<T>(Zp, n) > T(0)).select(G, T(0));
  }
};

template <>
struct Kernel<Activation::prelu> {
  template <class T>
  static void f(const T* Zp, T* H, Index n, T alpha) {
    // H = max(Z, 0) + alpha min(0, Z)
    ConstArrayMap<T> Z(Zp, n);
    ArrayMap<T>(H, n) = Z.max(T(0)) + alpha * Z.min(T(0));
  }
  template <class T>
  static void times_df(const T* Zp, const T*, T* Gp, Index n, T alpha) {
    // prelu' = [Z > 0] + alpha [Z <= 0]
    ArrayMap<T> G(Gp, n);
    G = (ConstArrayMap<T>(Zp, n) > T(0)).select(G, alpha * G);
  }
};

template <>
struct Kernel<Activation::leaky_relu> {
  template <class T>
  static void f(const T* Zp, T* H, Index n, T) {
    // H = max(Z, 0) + 0.01 min(0, Z)
    ConstArrayMap<T> Z(Zp, n);
    ArrayMap<T>(H, n) = Z.max(T(0)) + T(leaky_relu_slope) * Z.min(T(0));
  }
  template <class T>
  static void times_df(const T* Zp, const T*, T* Gp, Index n, T) {
    // leaky_relu' = [Z > 0] + 0.01 [Z <= 0]
    ArrayMap<T> G(Gp, n);
    G = (ConstArrayMap<T>(Zp, n) > T(0)).select(G, T(leaky_relu_slope) * G);
  }
};

template <>
struct Kernel<Activation::elu> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = Z for Z > 0, e^Z - 1 otherwise (expm1: no cancellation near 0)
    elementwise_aligned(Z, H, n, [](const auto& z) { return (z > T(0)).select(z, z.expm1()); });
  }
  template <class T>
  static void times_df(const T*, const T* Hp, T* Gp, Index n, T) {
    // elu' = 1 for Z > 0, H + 1 otherwise; H > 0 exactly when Z > 0
    ConstArrayMap<T> H(Hp, n);
    ArrayMap<T> G(Gp, n);
    G = (H > T(0)).select(G, G * (H + T(1)));
  }
};

template <>
struct Kernel<Activation::softplus> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = log(1 + e^Z) = log1p(e^-|Z|) + max(Z, 0), which cannot overflow
    elementwise_aligned(Z, H, n,
                        [](const auto& z) { return (-z.abs()).exp().log1p() + z.max(T(0)); });
  }
  template <class T>
  static void times_df(const T*, const T* H, T* G, Index n, T) {
    // softplus' = sigmoid(Z) = 1 - e^-H
    multiply_aligned(H, G, n, [](const auto& h) { return -(-h).expm1(); });
  }
};

template <>
struct Kernel<Activation::gelu> {
  // Phi(z) = (1 + erf(z / sqrt 2)) / 2, computed as erfc(-z / sqrt 2) / 2, which keeps its
  // relative accuracy for z << 0. Eigen's Core has no vectorised erf: it runs element by element.
  template <class X>
  static auto Phi(const X& z) {
    using T = typename X::Scalar;
    return T(0.5) * (z * T(-kSqrtHalf)).unaryExpr([](T x) { return erfc_of(x); });
  }
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = Z Phi(Z)
    in_aligned_chunks(Z, n, [&](Index i, Index m, auto& z, auto& tmp) {
      tmp = z * Phi(z);
      ArrayMap<T>(H + i, m) = tmp;
    });
  }
  template <class T>
  static void times_df(const T* Z, const T*, T* G, Index n, T) {
    // gelu' = Phi(Z) + Z phi(Z),  phi(z) = e^(-z^2 / 2) / sqrt(2 pi)
    const T inv_sqrt_2pi = T(kInvSqrt2Pi);
    in_aligned_chunks(Z, n, [&](Index i, Index m, auto& z, auto& tmp) {
      tmp = Phi(z) + z * (T(-0.5) * z.square()).exp() * inv_sqrt_2pi;
      ArrayMap<T>(G + i, m) *= tmp;
    });
  }
};

template <>
struct Kernel<Activation::silu> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = Z sigmoid(Z)
    for (Index i = 0; i < n; ++i) H[i] = Z[i] / (T(1) + exp_of(-Z[i]));
  }
  template <class T>
  static void times_df(const T* Z, const T*, T* G, Index n, T) {
    // silu' = s (1 + Z (1 - s)),  s = sigmoid(Z)
    for (Index i = 0; i < n; ++i) {
      const T s = sigmoid_of(Z[i]);
      G[i] *= s * (T(1) + Z[i] * (T(1) - s));
    }
  }
};

template <>
struct Kernel<Activation::exp> {
  template <class T>
  static void f(const T* Z, T* H, Index n, T) {
    // H = e^Z (+inf past the overflow threshold)
    for (Index i = 0; i < n; ++i) H[i] = exp_of(Z[i]);
  }
  template <class T>
  static void times_df(const T*, const T* Hp, T* Gp, Index n, T) {
    // exp' = e^Z = H
    ArrayMap<T>(Gp, n) *= ConstArrayMap<T>(Hp, n);
  }
};

// Calls fn(Kernel<f>{}) for an element-wise activation; ArgumentError for softmax.
template <class Fn>
void with_kernel(Activation f, Fn&& fn) {
  switch (f) {
    case Activation::identity:
      return fn(Kernel<Activation::identity>{});
    case Activation::sigmoid:
      return fn(Kernel<Activation::sigmoid>{});
    case Activation::tanh:
      return fn(Kernel<Activation::tanh>{});
    case Activation::relu:
      return fn(Kernel<Activation::relu>{});
    case Activation::prelu:
      return fn(Kernel<Activation::prelu>{});
    case Activation::leaky_relu:
      return fn(Kernel<Activation::leaky_relu>{});
    case Activation::elu:
      return fn(Kernel<Activation::elu>{});
    case Activation::softplus:
      return fn(Kernel<Activation::softplus>{});
    case Activation::gelu:
      return fn(Kernel<Activation::gelu>{});
    case Activation::silu:
      return fn(Kernel<Activation::silu>{});
    case Activation::exp:
      return fn(Kernel<Activation::exp>{});
    case Activation::softmax:
      break;
  }
  throw ArgumentError(
      "softmax has no element-wise derivative; it is only used as the output of a "
      "cross_entropy network");
}

}  // namespace

std::string_view activation_name(Activation id) {
  return name_in(activation_table, id, "activation");
}

Activation activation_from_name(std::string_view name) {
  return id_in(activation_table, name, "activation");
}

const ActivationInfo& activation_info(Activation id) {
  return info_in(activation_table, id, "activation");
}

template <class T>
void activate(Activation f, const T* Z, T* H, Index rows, Index cols, T alpha) {
  if (f == Activation::softmax) return softmax_rows(Z, H, rows, cols, nullptr);
  with_kernel(f, [&](auto kernel) { kernel.f(Z, H, rows * cols, alpha); });
}

template <class T>
void softmax(const T* Z, T* H, Index rows, Index cols, double* lse) {
  softmax_rows(Z, H, rows, cols, lse);
}

template <class T>
void multiply_by_derivative(Activation f, const T* Z, const T* H, T* G, Index size, T alpha) {
  with_kernel(f, [&](auto kernel) { kernel.times_df(Z, H, G, size, alpha); });
}

template <class T>
void derivative(Activation f, const T* Z, const T* H, T* D, Index size, T alpha) {
  // f'(Z) = 1 ⊙ f'(Z)
  ArrayMap<T>(D, size).setOnes();
  multiply_by_derivative(f, Z, H, D, size, alpha);
}

template <class T>
void activate_with_derivative(Activation f, const T* Z, T* H, T* D, Index size, T alpha) {
  if (f == Activation::softmax) with_kernel(f, [](auto) {});  // throws: no element-wise f'
  switch (f) {
    case Activation::sigmoid:
      // H = sigmoid(Z), D = H (1 - H)
      for (Index i = 0; i < size; ++i) {
        const T h = sigmoid_of(Z[i]);
        H[i] = h;
        D[i] = T(1) * (h * (T(1) - h));
      }
      return;
    case Activation::tanh:
      if constexpr (std::is_same_v<T, double>) {
        // H = tanh(Z), D = 1 - H^2
        for (Index i = 0; i < size; ++i) {
          const T h = scalar::tanh_fixed(Z[i]);
          H[i] = h;
          D[i] = T(1) * (T(1) - h * h);
        }
        return;
      }
      break;
    default:
      break;
  }
  activate(f, Z, H, 1, size, alpha);
  derivative(f, Z, H, D, size, alpha);
}

template <class T>
T prelu_alpha_product(const T* Zp, const T* Gp, Index size) {
  ConstArrayMap<T> Z(Zp, size), G(Gp, size);
  return (G * Z.min(T(0))).sum();
}

#define BPCORE_INSTANTIATE_ACTIVATION(T)                                                 \
  template void activate<T>(Activation, const T*, T*, Index, Index, T);                  \
  template void softmax<T>(const T*, T*, Index, Index, double*);                         \
  template void derivative<T>(Activation, const T*, const T*, T*, Index, T);             \
  template void activate_with_derivative<T>(Activation, const T*, T*, T*, Index, T);     \
  template void multiply_by_derivative<T>(Activation, const T*, const T*, T*, Index, T); \
  template T prelu_alpha_product<T>(const T*, const T*, Index);
BPCORE_INSTANTIATE_ACTIVATION(float)
BPCORE_INSTANTIATE_ACTIVATION(double)

}  // namespace bpcore
