// The small products (small_gemm.hpp) against the in-order sums they are defined by: every element
// bitwise the same as a plain loop over the depth, one multiply-add at a time (fused where the
// instruction set has FMA), at sizes that cover full and masked vectors, every row remainder of a
// tile and several depth chunks of times_transpose's stack panel.
//
// Included by test_small_gemm.cpp (the portable core) and by test_small_gemm_avx2.cpp and
// test_small_gemm_avx512.cpp, which are built with small_gemm.cpp compiled in for that instruction
// set on x86-64; a variant the CPU running it lacks says so and checks nothing.
#pragma once

#include <cmath>
#include <cstring>
#include <vector>

#include "bpcore/small_gemm.hpp"
#include "doctest.h"
#include "test_support.hpp"

namespace {

using bpcore::Index;
namespace sg = bpcore::small_gemm;

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
constexpr bool kFused = true;
#else
constexpr bool kFused = false;
#endif

template <class T>
T madd(T a, T b, T c) {
  if constexpr (kFused)
    return std::fma(a, b, c);
  else
    return a * b + c;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(T) * a.size()) == 0;
}

const Index kRowsList[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 31, 32, 33};
const Index kColsList[] = {1, 3, 7, 8, 10, 15, 16, 17, 31, 33, 48, 63, 64, 65, 100, 130};

}  // namespace

TEST_CASE_TEMPLATE("affine: Z = b + A W, each element the in-order sum from b_j", T, float,
                   double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  for (Index m : kRowsList)
    for (Index n : kColsList)
      for (Index k : {Index(1), Index(5), Index(64)}) {
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        const Index lda = k + 3;  // rows of A further apart than k
        const auto A = bpcore_test::uniform<T>(m * lda, 1, -1, 1);
        const auto W = bpcore_test::uniform<T>(k * n, 2, -1, 1);
        const auto b = bpcore_test::uniform<T>(n, 3, -1, 1);
        std::vector<T> Z(std::size_t(m * n + 1), T(7)), want(Z);
        for (Index i = 0; i < m; ++i)
          for (Index j = 0; j < n; ++j) {
            T z = b[std::size_t(j)];
            for (Index p = 0; p < k; ++p)
              z = madd(A[std::size_t(i * lda + p)], W[std::size_t(p * n + j)], z);
            want[std::size_t(i * n + j)] = z;
          }
        sg::affine(A.data(), lda, W.data(), b.data(), Z.data(), m, k, n);
        CHECK(same_bits(Z, want));  // and the element past the end is untouched
      }
}

TEST_CASE_TEMPLATE("times_transpose: G = D W^T over any depth, in order from 0", T, float, double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  // depths past the stack panel's chunk (16 KB: 32 to 512 rows of W^T) run in several chunks
  for (Index m : kRowsList)
    for (Index k : kColsList)
      for (Index n : {Index(1), Index(10), Index(70), Index(300), Index(1100)}) {
        if (m * k * n > 2000000) continue;
        CAPTURE(m);
        CAPTURE(k);
        CAPTURE(n);
        const auto D = bpcore_test::uniform<T>(m * n, 4, -1, 1);
        const auto W = bpcore_test::uniform<T>(k * n, 5, -1, 1);
        std::vector<T> G(std::size_t(m * k + 1), T(7)), want(G);
        for (Index i = 0; i < m; ++i)
          for (Index p = 0; p < k; ++p) {
            T g = 0;
            for (Index j = 0; j < n; ++j)
              g = madd(D[std::size_t(i * n + j)], W[std::size_t(p * n + j)], g);
            want[std::size_t(i * k + p)] = g;
          }
        sg::times_transpose(D.data(), W.data(), G.data(), m, k, n);
        CHECK(same_bits(G, want));
      }
}

TEST_CASE_TEMPLATE("transpose_times: C = s A[:, p0:]^T D, in order over the rows", T, float,
                   double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  for (Index m : kRowsList)
    for (Index kp : kColsList)
      for (Index n : {Index(1), Index(10), Index(17), Index(64), Index(100)}) {
        CAPTURE(m);
        CAPTURE(kp);
        CAPTURE(n);
        const Index p0 = 2, lda = kp + 5;  // a column range inside wider rows
        const T s = T(-1) / T(3);
        const auto A = bpcore_test::uniform<T>(m * lda, 6, -1, 1);
        const auto D = bpcore_test::uniform<T>(m * n, 7, -1, 1);
        std::vector<T> C(std::size_t(kp * n + 1), T(7)), want(C);
        for (Index p = 0; p < kp; ++p)
          for (Index j = 0; j < n; ++j) {
            T c = 0;
            for (Index i = 0; i < m; ++i)
              c = madd(A[std::size_t(i * lda + p0 + p)], D[std::size_t(i * n + j)], c);
            want[std::size_t(p * n + j)] = s * c;
          }
        sg::transpose_times(A.data() + p0, lda, D.data(), C.data(), m, kp, n, s);
        CHECK(same_bits(C, want));
      }
}

TEST_CASE_TEMPLATE("column_sums: c = s 1^T D, each column in its fixed order of the rows", T, float,
                   double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  for (Index m : {Index(0), Index(1), Index(2), Index(4), Index(5), Index(6), Index(8), Index(9),
                  Index(13), Index(64), Index(113)})
    for (Index n : kColsList) {
      CAPTURE(m);
      CAPTURE(n);
      const T s = T(-1) / T(7);
      // values of many magnitudes, so that a different order of the sum would show in the bits
      auto D = bpcore_test::uniform<T>(m * n, 8, -1, 1);
      for (std::size_t k = 0; k < D.size(); ++k) D[k] *= T(1 << (k % 13));
      std::vector<T> c(std::size_t(n + 1), T(7)), want(c);
      for (Index j = 0; j < n; ++j) {
        const auto d = [&](Index i) { return D[std::size_t(i * n + j)]; };
        T sum = m > 0 ? d(0) : T(0);
        Index i = 1;
        for (; i + 4 <= m; i += 4) sum = sum + ((d(i) + d(i + 1)) + (d(i + 2) + d(i + 3)));
        for (; i < m; ++i) sum = sum + d(i);
        want[std::size_t(j)] = s * sum;
      }
      sg::column_sums(D.data(), c.data(), m, n, s);
      CHECK(same_bits(c, want));  // c[n] untouched: 7
    }
}

TEST_CASE_TEMPLATE("deep products run in depth chunks and give the in-order sums, scaled once", T,
                   float, double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  // depths past one chunk (32 KB of a panel's rows of B: 64 to 1024 rows by instruction set) and
  // more than one block of 64 rows of C
  for (Index depth : {Index(300), Index(1100)})
    for (Index rows : {Index(5), Index(70)})
      for (Index n : {Index(10), Index(65)}) {
        CAPTURE(depth);
        CAPTURE(rows);
        CAPTURE(n);
        // affine: Z (rows × n) = b + A W over k = depth
        const auto A = bpcore_test::uniform<T>(rows * depth, 11, -1, 1);
        const auto W = bpcore_test::uniform<T>(depth * n, 12, -1, 1);
        const auto b = bpcore_test::uniform<T>(n, 13, -1, 1);
        std::vector<T> Z(std::size_t(rows * n)), want_z(Z.size());
        for (Index i = 0; i < rows; ++i)
          for (Index j = 0; j < n; ++j) {
            T z = b[std::size_t(j)];
            for (Index p = 0; p < depth; ++p)
              z = madd(A[std::size_t(i * depth + p)], W[std::size_t(p * n + j)], z);
            want_z[std::size_t(i * n + j)] = z;
          }
        sg::affine(A.data(), depth, W.data(), b.data(), Z.data(), rows, depth, n);
        CHECK(same_bits(Z, want_z));
        // transpose_times: C (rows × n) = s H^T D with H depth × rows, D depth × n
        const T s = T(-1) / T(7);
        const auto D = bpcore_test::uniform<T>(depth * n, 14, -1, 1);
        std::vector<T> C(std::size_t(rows * n)), want_c(C.size());
        for (Index p = 0; p < rows; ++p)
          for (Index j = 0; j < n; ++j) {
            T c = 0;
            for (Index i = 0; i < depth; ++i)
              c = madd(A[std::size_t(i * rows + p)], D[std::size_t(i * n + j)], c);
            want_c[std::size_t(p * n + j)] = s * c;
          }
        sg::transpose_times(A.data(), rows, D.data(), C.data(), depth, rows, n, s);
        CHECK(same_bits(C, want_c));
      }
}

TEST_CASE_TEMPLATE("a row of Z = b + H W has the same bits alone and anywhere in a batch", T, float,
                   double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  const Index m = 37, k = 64, n = 70;
  const auto A = bpcore_test::uniform<T>(m * k, 8, -1, 1);
  const auto W = bpcore_test::uniform<T>(k * n, 9, -1, 1);
  const auto b = bpcore_test::uniform<T>(n, 10, -1, 1);
  std::vector<T> Z(static_cast<std::size_t>(m * n));
  sg::affine(A.data(), k, W.data(), b.data(), Z.data(), m, k, n);
  for (Index i = 0; i < m; ++i) {
    std::vector<T> one(static_cast<std::size_t>(n));
    sg::affine(A.data() + i * k, k, W.data(), b.data(), one.data(), 1, k, n);
    CHECK(std::memcmp(one.data(), Z.data() + i * n, sizeof(T) * std::size_t(n)) == 0);
  }
}

TEST_CASE_TEMPLATE("an empty depth gives the start values: b, or 0", T, float, double) {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  const Index m = 5, n = 19;
  const auto b = bpcore_test::uniform<T>(n, 15, -1, 1);
  const std::vector<T> none(1, T(0));
  std::vector<T> Z(std::size_t(m * n), T(7));
  sg::affine(none.data(), 0, none.data(), b.data(), Z.data(), m, 0, n);
  for (Index i = 0; i < m; ++i)
    CHECK(std::memcmp(Z.data() + i * n, b.data(), sizeof(T) * std::size_t(n)) == 0);
  std::vector<T> G(std::size_t(m * n), T(7));
  sg::times_transpose(none.data(), none.data(), G.data(), m, n, 0);
  CHECK(same_bits(G, std::vector<T>(G.size(), T(0))));
  std::vector<T> C(std::size_t(m * n), T(7));
  sg::transpose_times(none.data(), m, none.data(), C.data(), 0, m, n, T(2));
  CHECK(same_bits(C, std::vector<T>(C.size(), T(0))));
}

TEST_CASE("worth: never beyond 512 rows or 1024 columns, and only with AVX2 or AVX-512") {
  using sg::Op;
  for (Op op : {Op::affine, Op::times_transpose, Op::transpose_times}) {
    CHECK_FALSE(sg::worth<float>(op, 513, 8, 8));
    CHECK_FALSE(sg::worth<double>(op, 8, 1025, 8));
    CHECK_FALSE(sg::worth<float>(op, 8, 8, 1025));
#if !defined(__AVX2__)
    CHECK_FALSE(sg::worth<float>(op, 32, 64, 64));
    CHECK_FALSE(sg::worth<double>(op, 32, 64, 10));
#endif
  }
#if defined(__AVX512F__)
  // the products of a 64-64-10 network on a batch of 32 rows
  CHECK(sg::worth<float>(Op::affine, 32, 64, 64));
  CHECK(sg::worth<float>(Op::affine, 32, 64, 10));
  CHECK(sg::worth<float>(Op::transpose_times, 32, 64, 64));
  CHECK(sg::worth<float>(Op::times_transpose, 32, 64, 10));
#endif
}
