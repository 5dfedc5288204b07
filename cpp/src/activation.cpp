#include "bpcore/activation.hpp"

#include <algorithm>
#include <string>

#include "bpcore/names.hpp"

namespace bpcore {

namespace {

// Eigen's vector kernels peel an unaligned head of an array onto a scalar path, and the scalar exp
// and tanh round differently from the vector ones. Running them in fixed chunks through an aligned
// buffer makes each element's result independent of where the data lies in memory.
template <class T, class F>
void elementwise_aligned(const T* in, T* out, Index size, F&& f) {
  constexpr Index kChunk = 256;
  alignas(64) T buffer[kChunk];
  for (Index i = 0; i < size; i += kChunk) {
    const Index n = std::min(kChunk, size - i);
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64> b(buffer, n);
    b = ConstArrayMap<T>(in + i, n);
    b = f(b);
    ArrayMap<T>(out + i, n) = b;
  }
}

}  // namespace

std::string_view activation_name(Activation id) {
  return name_in(activation_table, id, "activation");
}

Activation activation_from_name(std::string_view name) {
  return id_in(activation_table, name, "activation");
}

template <class T>
void activate(Activation f, const T* Zp, T* Hp, Index rows, Index cols, T alpha) {
  const Index size = rows * cols;
  ConstArrayMap<T> Z(Zp, size);
  ArrayMap<T> H(Hp, size);
  switch (f) {
    case Activation::identity:
      H = Z;
      break;
    case Activation::sigmoid:
      // H = 1 / (1 + e^-Z)
      elementwise_aligned(Zp, Hp, size, [](const auto& z) { return T(1) / (T(1) + (-z).exp()); });
      break;
    case Activation::tanh:
      elementwise_aligned(Zp, Hp, size, [](const auto& z) { return z.tanh(); });
      break;
    case Activation::relu:
      // H = max(Z, 0)
      H = Z.max(T(0));
      break;
    case Activation::prelu:
      // H = max(Z, 0) + alpha min(0, Z)
      H = Z.max(T(0)) + alpha * Z.min(T(0));
      break;
    case Activation::softmax: {
      // H_ij = e^(Z_ij - max_k Z_ik) / sum_k e^(Z_ik - max_k Z_ik), row by row
      Eigen::Map<const Matrix<T>> Zm(Zp, rows, cols);
      Eigen::Map<Matrix<T>> Hm(Hp, rows, cols);
      for (Index i = 0; i < rows; ++i) {
        const T zmax = Zm.row(i).maxCoeff();
        elementwise_aligned(Zp + i * cols, Hp + i * cols, cols,
                            [zmax](const auto& z) { return (z - zmax).exp(); });
        T total = 0;
        for (Index j = 0; j < cols; ++j) total += Hm(i, j);
        Hm.row(i) /= total;
      }
      break;
    }
  }
}

template <class T>
void multiply_by_derivative(Activation f, const T* Zp, const T* Hp, T* Gp, Index size, T alpha) {
  ConstArrayMap<T> Z(Zp, size), H(Hp, size);
  ArrayMap<T> G(Gp, size);
  switch (f) {
    case Activation::identity:
      break;
    case Activation::sigmoid:
      G *= H * (T(1) - H);
      break;
    case Activation::tanh:
      G *= T(1) - H.square();
      break;
    case Activation::relu:
      G = (Z > T(0)).select(G, T(0));
      break;
    case Activation::prelu:
      G = (Z > T(0)).select(G, alpha * G);
      break;
    case Activation::softmax:
      throw ArgumentError(
          "softmax has no element-wise derivative; it is only used as the output of a "
          "cross_entropy network");
  }
}

template <class T>
void derivative(Activation f, const T* Z, const T* H, T* D, Index size, T alpha) {
  // f'(Z) = 1 ⊙ f'(Z)
  ArrayMap<T>(D, size).setOnes();
  multiply_by_derivative(f, Z, H, D, size, alpha);
}

template <class T>
T prelu_alpha_product(const T* Zp, const T* Gp, Index size) {
  ConstArrayMap<T> Z(Zp, size), G(Gp, size);
  return (G * Z.min(T(0))).sum();
}

#define BPCORE_INSTANTIATE_ACTIVATION(T)                                                 \
  template void activate<T>(Activation, const T*, T*, Index, Index, T);                  \
  template void derivative<T>(Activation, const T*, const T*, T*, Index, T);             \
  template void multiply_by_derivative<T>(Activation, const T*, const T*, T*, Index, T); \
  template T prelu_alpha_product<T>(const T*, const T*, Index);
BPCORE_INSTANTIATE_ACTIVATION(float)
BPCORE_INSTANTIATE_ACTIVATION(double)

}  // namespace bpcore
