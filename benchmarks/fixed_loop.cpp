// A reference ceiling for W1, not shipped code: the notes' online BP on a network whose sizes are
// compile-time constants (4-5-3 for W1), so the compiler unrolls and vectorises every loop and keeps
// W, b in registers. benchmarks/native.py compiles it with c++ -O2 -march=native -shared -fPIC and
// loads it with ctypes; the benchmark feeds it W1's data, bpcore's initial parameters and bpcore's
// sample order, and times the epoch loop here (steady_clock), outside Python.
//
// Per sample i (row x of X, target y), with f the logistic and f' = f (1 - f):
//   H^[1] = f(x W^[1] + b^[1]),  Y_hat = f(H^[1] W^[2] + b^[2]),
//   delta^[2] = (y - Y_hat) (.) f'(Z^[2]),  delta^[1] = (delta^[2] W^[2]^T) (.) f'(Z^[1]),
//   W^[l] <- W^[l] + alpha H^[l-1]^T delta^[l],  b^[l] <- b^[l] + alpha delta^[l].
// Parameters are laid out as bpcore's: W^[l] (n_{l-1}, n_l) row-major, then b^[l], for l = 1, 2.
#include <chrono>
#include <cmath>
#include <cstddef>

namespace {

template <int D, int H, int Q>
double train(const double* X, const double* Y, const int* orders, int n, int epochs, double alpha,
             double* params) {
  double W1[D][H], b1[H], W2[H][Q], b2[Q];
  const double* p = params;
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < H; ++j) W1[i][j] = *p++;
  for (int j = 0; j < H; ++j) b1[j] = *p++;
  for (int j = 0; j < H; ++j)
    for (int k = 0; k < Q; ++k) W2[j][k] = *p++;
  for (int k = 0; k < Q; ++k) b2[k] = *p++;

  const auto t0 = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    const int* order = orders + static_cast<std::ptrdiff_t>(e) * n;
    for (int r = 0; r < n; ++r) {
      const double* x = X + static_cast<std::ptrdiff_t>(order[r]) * D;
      const double* y = Y + static_cast<std::ptrdiff_t>(order[r]) * Q;
      double h1[H], h2[Q], d1[H], d2[Q];
      for (int j = 0; j < H; ++j) {
        double z = b1[j];
        for (int i = 0; i < D; ++i) z += x[i] * W1[i][j];
        h1[j] = 1.0 / (1.0 + std::exp(-z));
      }
      for (int k = 0; k < Q; ++k) {
        double z = b2[k];
        for (int j = 0; j < H; ++j) z += h1[j] * W2[j][k];
        h2[k] = 1.0 / (1.0 + std::exp(-z));
        d2[k] = (y[k] - h2[k]) * h2[k] * (1.0 - h2[k]);
      }
      for (int j = 0; j < H; ++j) {
        double s = 0.0;
        for (int k = 0; k < Q; ++k) s += W2[j][k] * d2[k];
        d1[j] = s * h1[j] * (1.0 - h1[j]);
      }
      for (int j = 0; j < H; ++j)
        for (int k = 0; k < Q; ++k) W2[j][k] += alpha * h1[j] * d2[k];
      for (int k = 0; k < Q; ++k) b2[k] += alpha * d2[k];
      for (int i = 0; i < D; ++i)
        for (int j = 0; j < H; ++j) W1[i][j] += alpha * x[i] * d1[j];
      for (int j = 0; j < H; ++j) b1[j] += alpha * d1[j];
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  double* out = params;
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < H; ++j) *out++ = W1[i][j];
  for (int j = 0; j < H; ++j) *out++ = b1[j];
  for (int j = 0; j < H; ++j)
    for (int k = 0; k < Q; ++k) *out++ = W2[j][k];
  for (int k = 0; k < Q; ++k) *out++ = b2[k];
  return seconds;
}

}  // namespace

// Trains in place: `params` holds the initial parameters on entry and the trained ones on exit.
// `orders` holds epochs x n row indices. Returns the seconds of the epoch loop, or -1 when the
// sizes are not ones compiled here (only W1's 4-5-3) or an index is out of range.
extern "C" double fixed_loop_train(int d, int h, int q, const double* X, const double* Y,
                                   const int* orders, int n, int epochs, double alpha,
                                   double* params) {
  for (std::ptrdiff_t r = 0; r < static_cast<std::ptrdiff_t>(epochs) * n; ++r)
    if (orders[r] < 0 || orders[r] >= n) return -1.0;
  if (d == 4 && h == 5 && q == 3) return train<4, 5, 3>(X, Y, orders, n, epochs, alpha, params);
  return -1.0;
}
