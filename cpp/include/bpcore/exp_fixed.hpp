// The element-wise exp, sigmoid, double tanh, log and log1p that every path of the core shares (the
// activations in activation.cpp, the fused online step in kernels.cpp, the losses), so that each
// gives an element the same bits. Their selects vectorise only where comparisons are taken not to
// trap: the functions here are compiled so (no value changes), and a file whose loops call them
// says the same with `#pragma GCC optimize("no-trapping-math")` (GCC does not inline a function
// that traps less into one that traps more, or the other way round for loops to vectorise).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

namespace bpcore {
namespace scalar {

// a b + c, rounded once (a fused multiply-add) where the instruction set has one, else a product
// and a sum. Every use below is written out, so a scalar and a vector lane of one build give the
// same bits (the build forbids contracting anything else); builds with and without FMA differ in
// the last bits, as the products of small_gemm and Eigen do.
inline double mul_add(double a, double b, double c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// exp_fixed's reduction (below) as a function, for tanh: x = k ln2 + r and e^r - 1 = r + r^2 P(r),
// the same operations in the same order. `tk` holds k in its low bits. exp_fixed keeps its own
// inline copy: built on this function, the online sgd step of a 4-5-3 sigmoid network, which
// waits on exp in every layer, took 97 instead of 92 ns an update (GCC schedules it otherwise).
struct ExpReduced {
  double tk, k, em1;  // em1 = e^r - 1
};
inline ExpReduced exp_reduce(double x) {
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kInvLn2 = 1.44269504088896338700e+00;
  constexpr double kShift = 0x1.8p52;  // t + kShift rounds t to an integer held in t's low bits
  // 1/n! for n = 2 … 13, rounded to the nearest double
  constexpr double c2 = 0x1p-1, c3 = 0x1.5555555555555p-3, c4 = 0x1.5555555555555p-5,
                   c5 = 0x1.1111111111111p-7, c6 = 0x1.6c16c16c16c17p-10,
                   c7 = 0x1.a01a01a01a01ap-13, c8 = 0x1.a01a01a01a01ap-16,
                   c9 = 0x1.71de3a556c734p-19, c10 = 0x1.27e4fb7789f5cp-22,
                   c11 = 0x1.ae64567f544e4p-26, c12 = 0x1.1eed8eff8d898p-29,
                   c13 = 0x1.6124613a86d09p-33;
  const double tk = mul_add(x, kInvLn2, kShift);
  const double k = tk - kShift;  // round(x / ln2)
  const double r = mul_add(-k, kLn2Lo, mul_add(-k, kLn2Hi, x));
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double p0 = mul_add(r, c3, c2), p1 = mul_add(r, c5, c4), p2 = mul_add(r, c7, c6),
               p3 = mul_add(r, c9, c8), p4 = mul_add(r, c11, c10), p5 = mul_add(r, c13, c12);
  const double q0 = mul_add(r2, p1, p0), q1 = mul_add(r2, p3, p2), q2 = mul_add(r2, p5, p4);
  const double P = mul_add(r8, q2, mul_add(r4, q1, q0));
  return {tk, k, mul_add(r2, P, r)};
}

// 2^j for an integer j held in the low bits of t (t = j + 0x1.8p52), |j| < 1023
inline double pow2_from(double t) {
  std::uint64_t one, bits;
  const double unit = 1.0;
  std::memcpy(&one, &unit, sizeof one);
  std::memcpy(&bits, &t, sizeof bits);
  const std::uint64_t p = one + (bits << 52);
  double v;
  std::memcpy(&v, &p, sizeof v);
  return v;
}

// e^x with an error below 1 ulp: x = k ln2 + r with |r| <= ln2 / 2 (ln 2 in two parts, as
// fdlibm's e_exp.c), e^r = 1 + (r + r^2 P(r)) with P the Taylor polynomial of (e^r - 1 - r) / r^2
// to r^11 (truncated at below 0.04 ulp on that range) in Estrin's scheme, and the scaling by
// 2^k = 2^k1 2^k2 (k1 ~ k / 2, two exact products for every normal result). Estrin's pairs are
// independent, and there is no division: the chain of dependent operations is about two thirds
// as long as that of fdlibm's rational approximation (online training waits on it in every
// layer), and loops over it vectorise without a table lookup. Branch-free IEEE operations in one
// fixed order, each multiply-add of the reduction and the polynomial written as mul_add (fused on
// instruction sets with FMA: 29 % less time for a batch, and a shorter chain), so that an element
// gets the same bits in a scalar or a vector lane and wherever it lies.
inline double exp_fixed(double x) {
  constexpr double kOverflow = 7.09782712893383973096e+02;    // log(DBL_MAX)
  constexpr double kUnderflow = -7.45133219101941108420e+02;  // log(smallest subnormal / 2)
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kInvLn2 = 1.44269504088896338700e+00;
  constexpr double kShift = 0x1.8p52;  // t + kShift rounds t to an integer held in t's low bits
  // 1/n! for n = 2 … 13, rounded to the nearest double
  constexpr double c2 = 0x1p-1, c3 = 0x1.5555555555555p-3, c4 = 0x1.5555555555555p-5,
                   c5 = 0x1.1111111111111p-7, c6 = 0x1.6c16c16c16c17p-10,
                   c7 = 0x1.a01a01a01a01ap-13, c8 = 0x1.a01a01a01a01ap-16,
                   c9 = 0x1.71de3a556c734p-19, c10 = 0x1.27e4fb7789f5cp-22,
                   c11 = 0x1.ae64567f544e4p-26, c12 = 0x1.1eed8eff8d898p-29,
                   c13 = 0x1.6124613a86d09p-33;
  const auto bits_of = [](double v) {
    std::uint64_t u;
    std::memcpy(&u, &v, sizeof u);
    return u;
  };
  const auto from_bits = [](std::uint64_t u) {
    double v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  };
  // x outside [kUnderflow, kOverflow] (or NaN) gives some e, replaced by the select at the end
  const double tk = mul_add(x, kInvLn2, kShift);
  const double k = tk - kShift;  // round(x / ln2)
  const double r = mul_add(-k, kLn2Lo, mul_add(-k, kLn2Hi, x));
  const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const double p0 = mul_add(r, c3, c2), p1 = mul_add(r, c5, c4), p2 = mul_add(r, c7, c6),
               p3 = mul_add(r, c9, c8), p4 = mul_add(r, c11, c10), p5 = mul_add(r, c13, c12);
  const double q0 = mul_add(r2, p1, p0), q1 = mul_add(r2, p3, p2), q2 = mul_add(r2, p5, p4);
  const double P = mul_add(r8, q2, mul_add(r4, q1, q0));
  const double y = 1.0 + mul_add(r2, P, r);
  const double t1 = k * 0.5 + kShift;  // k1 = round(k / 2), k2 = k - k1
  const double t2 = (k - (t1 - kShift)) + kShift;
  const std::uint64_t one = bits_of(1.0);
  const double s1 = from_bits(one + (bits_of(t1) << 52));  // 2^k1
  const double s2 = from_bits(one + (bits_of(t2) << 52));  // 2^k2
  const double e = (y * s1) * s2;
  return x != x ? x
                : (x > kOverflow ? std::numeric_limits<double>::infinity()
                                 : (x < kUnderflow ? 0.0 : e));
}

// tanh z with an error of a few ulp, branch-free like exp_fixed (so that loops over it vectorise
// and an element gets the same bits in a scalar or a vector lane). With a = |z| (at most 20, where
// tanh is 1 to the last bit) and x = 2a: tanh a = m / (m + 2) with m = e^x - 1, and m from
// exp_fixed's reduction x = k ln2 + r: m = 2^k (e^r - 1) + (2^k - 1), e^r - 1 = r + r^2 P(r) with
// P exp_fixed's polynomial (exp_reduce). Both terms are exact but for the rounding of e^r - 1 (up
// to k = 53; above, tanh is 1), so m keeps its accuracy near 0 (k = 0: m = e^r - 1) and everywhere
// else; one polynomial and one division. The sign of z is put back at the end.
inline double tanh_fixed(double z) {
  const double magnitude = z < 0 ? -z : z;
  const double a = magnitude < 20.0 ? magnitude : 20.0;  // (infinity too)
  const ExpReduced red = exp_reduce(a + a);              // k = 0 … 58
  const double s = pow2_from(red.tk);                    // 2^k
  const double m = mul_add(s, red.em1, s - 1.0);         // e^x - 1
  const double t = m / (m + 2.0);
  return z != z ? z : std::copysign(t, z);  // tanh(-0) = -0
}

// log(1 + u) for u in [-0.3, 1], within a few ulp, branch-free like exp_fixed (the softplus of the
// binary cross-entropy takes it at u = e^-|z|, a whole batch at a time; log_fixed below at
// u in [-0.3, 0.42]): log(1 + u) = 2 atanh(s) with s = u / (2 + u) in [-0.18, 1/3], and
// 2 atanh(s) = 2s (1 + s^2/3 + s^4/5 + ...), the series to s^34 (the first term left out is below
// 2e-19 of the sum on that range) in Estrin's scheme.
inline double log1p_unit(double u) {
  constexpr double d1 = 1.0 / 3, d2 = 1.0 / 5, d3 = 1.0 / 7, d4 = 1.0 / 9, d5 = 1.0 / 11,
                   d6 = 1.0 / 13, d7 = 1.0 / 15, d8 = 1.0 / 17, d9 = 1.0 / 19, d10 = 1.0 / 21,
                   d11 = 1.0 / 23, d12 = 1.0 / 25, d13 = 1.0 / 27, d14 = 1.0 / 29, d15 = 1.0 / 31,
                   d16 = 1.0 / 33, d17 = 1.0 / 35;
  const double s = u / (2.0 + u);
  const double t = s * s, t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
  // R = 1/3 + t/5 + t^2/7 + ... + t^16/35
  const double p0 = mul_add(t, d2, d1), p1 = mul_add(t, d4, d3), p2 = mul_add(t, d6, d5),
               p3 = mul_add(t, d8, d7), p4 = mul_add(t, d10, d9), p5 = mul_add(t, d12, d11),
               p6 = mul_add(t, d14, d13), p7 = mul_add(t, d16, d15);
  const double q0 = mul_add(t2, p1, p0), q1 = mul_add(t2, p3, p2), q2 = mul_add(t2, p5, p4),
               q3 = mul_add(t2, p7, p6);
  const double R = mul_add(t8 * t8, d17, mul_add(t8, mul_add(t4, q3, q2), mul_add(t4, q1, q0)));
  // 2s exactly, then the small rest: the rounding of s is most of the error
  const double s2 = s + s;
  return mul_add(s2, t * R, s2);
}

// log x for a positive normal x, within a few ulp, branch-free like exp_fixed (the cross-entropy
// takes it of a buffer of rows' largest Y_hat at once, where libm's log is a scalar call a row):
// x = 2^k m with m in [sqrt(1/2), sqrt(2)) (k from the exponent bits of x / sqrt(1/2)), so that
// u = m - 1 is exact and s = u / (2 + u) lies in [-0.172, 0.172], where log1p_unit's series
// holds (it is odd in s); log x = k ln2 + log(1 + u), ln 2 in two parts as in exp_fixed. A NaN
// gives itself; other inputs outside the domain give some number.
inline double log_fixed(double x) {
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  constexpr std::uint64_t kSqrtHalfBits = 0x3fe6a09e667f3bcdULL;  // sqrt(1/2)
  constexpr double kShift = 0x1.8p52;                             // as in exp_fixed
  std::uint64_t bits, shift_bits;
  std::memcpy(&bits, &x, sizeof bits);
  std::memcpy(&shift_bits, &kShift, sizeof shift_bits);
  // k = floor(log2(x / sqrt(1/2))): the exponent field of bits - bits(sqrt(1/2)), signed
  const std::uint64_t offset = bits - kSqrtHalfBits;
  const std::uint64_t k_field = offset >> 52;  // k + 2^12 (mod 2^12) for negative k
  const std::int64_t k = std::int64_t(k_field) - (k_field >= 2048 ? 4096 : 0);
  const std::uint64_t m_bits = bits - (std::uint64_t(k) << 52);
  double m, kd;
  std::memcpy(&m, &m_bits, sizeof m);
  const std::uint64_t kd_bits = shift_bits + std::uint64_t(k);  // k in the low bits of kShift
  std::memcpy(&kd, &kd_bits, sizeof kd);
  kd -= kShift;
  const double L = log1p_unit(m - 1.0);
  const double y = mul_add(kd, kLn2Hi, mul_add(kd, kLn2Lo, L));
  return x != x ? x : y;
}

// tanh in T: double through tanh_fixed; float keeps the C library's (the batch path of float uses
// Eigen's vectorised rational approximation, see activation.cpp)
template <class T>
inline T tanh_of(T z) {
  if constexpr (sizeof(T) == sizeof(double))
    return T(tanh_fixed(double(z)));
  else
    return std::tanh(z);
}

// e^x in T: float through the double above, rounded once.
template <class T>
inline T exp_of(T x) {
  return T(exp_fixed(double(x)));
}

// 1 / (1 + e^-z)
template <class T>
inline T sigmoid_of(T z) {
  return T(1) / (T(1) + exp_of(-z));
}

}  // namespace scalar
}  // namespace bpcore

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
