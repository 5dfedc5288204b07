// The rows of softmax (cpp/src/softmax_rows.hpp) against long double: every H within a few ulp,
// the largest H of a row exactly 1 / (the row's sum) so that the cross-entropy's read-back
// log-sum-exp is the one stored, a row's bits the same alone and anywhere in a batch, widths that
// take one to four vectors, wider ones and every masked width, and NaN and -inf inputs.
//
// Included by test_activation.cpp (the portable build: the plain loops) and by
// test_softmax_avx2.cpp and test_softmax_avx512.cpp, built for those instruction sets on x86-64,
// where rows up to four vectors wide run as vectors; a variant the CPU running it lacks says so
// and checks nothing. Header-only: the functions are inline.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "doctest.h"
#include "softmax_rows.hpp"
#include "test_support.hpp"

TEST_CASE_TEMPLATE("softmax rows: H within a few ulp of long double, max H = 1 / sum exactly", T,
                   float, double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  using bpcore::Index;
  const double ulp = std::numeric_limits<T>::epsilon();
  for (Index cols :
       {1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 15, 16, 17, 24, 31, 32, 33, 40, 47, 63, 64, 65, 130}) {
    CAPTURE(cols);
    const Index rows = 300;  // past the 256 rows of one buffer of logs
    auto Z = bpcore_test::uniform<T>(rows * cols, std::uint64_t(cols), -40, 40);
    for (Index j = 0; j < cols; ++j) Z[std::size_t(5 * cols + j)] = T(3);  // row 5: all tied
    // row 6: a -inf (all of the row when it is one wide: NaN, as row 7)
    if (cols > 1) Z[std::size_t(6 * cols)] = -std::numeric_limits<T>::infinity();
    Z[std::size_t(7 * cols + cols / 2)] = std::numeric_limits<T>::quiet_NaN();  // row 7: a NaN
    std::vector<T> H(Z.size());
    std::vector<double> lse(static_cast<std::size_t>(rows));
    bpcore::softmax_rows(Z.data(), H.data(), rows, cols, lse.data());
    for (Index i = 0; i < rows; ++i) {
      CAPTURE(i);
      const T* z = Z.data() + i * cols;
      const T* h = H.data() + i * cols;
      if (i == 7) {
        for (Index j = 0; j < cols; ++j) CHECK(std::isnan(h[j]));
        CHECK(std::isnan(lse[std::size_t(i)]));
        continue;
      }
      long double top = z[0], sum = 0;
      for (Index j = 0; j < cols; ++j) top = std::max<long double>(top, z[j]);
      for (Index j = 0; j < cols; ++j) sum += std::exp((long double)z[j] - top);
      T hmax = h[0];
      bool in_range = true;
      for (Index j = 0; j < cols; ++j) {
        const long double want = std::exp((long double)z[j] - top) / sum;
        // z_j - max z is rounded in T: an error of |z_j - max z| ulp in the exponent
        const long double tol = (8 + ((long double)top - z[j])) * ulp * want;
        in_range =
            in_range && (std::isinf(z[j]) ? h[j] == 0 : std::fabs((long double)h[j] - want) <= tol);
        hmax = std::max(hmax, h[j]);
      }
      CHECK(in_range);
      // the largest z gives e^0 = 1, so its H is 1 * (1 / sum): lse = max z - log max H
      const double read_back = double(T(top)) - bpcore::scalar::log_fixed(double(hmax));
      CHECK(std::memcmp(&read_back, &lse[std::size_t(i)], sizeof read_back) == 0);
      CHECK(lse[std::size_t(i)] == doctest::Approx(double(top + std::log(sum))).epsilon(8 * ulp));
    }
    // each row alone gives the bits it has in the batch (and without lse, the same H)
    bool same = true;
    for (Index i = 0; i < rows; ++i) {
      std::vector<T> one(static_cast<std::size_t>(cols));
      bpcore::softmax_rows(Z.data() + i * cols, one.data(), 1, cols, nullptr);
      same =
          same && std::memcmp(one.data(), H.data() + i * cols, sizeof(T) * std::size_t(cols)) == 0;
    }
    CHECK(same);
  }
}

// The cross-entropy of a row as loss.cpp takes it: as vectors where the build runs them
inline double entropy_row(const double* z, const double* y, bpcore::Index cols, double lse) {
  namespace d = bpcore::softmax_detail;
  return d::with_row_vectors<double>(
      cols, [&](auto nv) { return d::EntropyRow<decltype(nv)::value>{}(z, y, cols, lse); });
}

TEST_CASE("the cross-entropy of a row: as vectors, the in-order sum to rounding; y = 0 drops z") {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  using bpcore::Index;
  for (Index cols : {1, 2, 3, 7, 8, 9, 10, 16, 17, 25, 31, 32, 33, 40}) {
    CAPTURE(cols);
    const Index rows = 50;
    const auto Z = bpcore_test::uniform<double>(rows * cols, 11, -30, 30);
    auto Y = bpcore_test::uniform<double>(rows * cols, 12, 0, 1);
    for (Index k = 0; k < rows * cols; k += 3) Y[std::size_t(k)] = 0;  // some labels are 0
    for (Index i = 0; i < rows; ++i) {
      const double* z = Z.data() + i * cols;
      const double* y = Y.data() + i * cols;
      const double lse = 31.5 - 0.1 * double(i);
      const double want = bpcore::softmax_detail::EntropyRow<0>{}(z, y, cols, lse);
      double size = 0;  // sum of |terms|: the scale of the rounding
      for (Index j = 0; j < cols; ++j) size += std::fabs(y[j] * (z[j] - lse));
      CHECK(std::fabs(entropy_row(z, y, cols, lse) - want) <= 4e-16 * double(cols) * size);
    }
  }
  // z = -inf where y = 0 is dropped; where y > 0 it makes J infinite; a NaN label gives NaN
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> z{1, -inf, 2, 0.5, -1, 3, 0, 2, 1, 0};
  std::vector<double> y{0.5, 0, 0.5, 0, 0, 0, 0, 0, 0, 0};
  CHECK(entropy_row(z.data(), y.data(), 10, 4.0) ==
        doctest::Approx(-(0.5 * (1 - 4.0) + 0.5 * (2 - 4.0))));
  y[1] = 0.25;
  CHECK(entropy_row(z.data(), y.data(), 10, 4.0) == inf);
  y[1] = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(entropy_row(z.data(), y.data(), 10, 4.0)));
}
