// One SIMD vector of T on the instruction set the including file is compiled for (AVX-512, AVX2
// with FMA, else 16 bytes through GCC's vector extensions), for the core's hand-vectorised loops:
// the small products (small_gemm.cpp) and the rows of softmax (softmax_rows.hpp).
//
// Every operation has a masked form for the last, partial vector of a row: load(p, m) reads (and
// store(p, v, m) writes) the first `lanes` elements only, the others read as 0, or as `fill` with
// load_or. The reductions run in one fixed order of the lanes for a given instruction set.
#pragma once

#include <cstring>

#include "bpcore/types.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

// Each operation is one instruction or a few: always inlined, also into functions compiled with
// other optimisation options (GCC inlines nothing else across them; see softmax_rows.hpp).
#if defined(__GNUC__)
#define BPCORE_SIMD_OP __attribute__((always_inline)) static inline
#else
#define BPCORE_SIMD_OP static inline
#endif

namespace bpcore::simd {

template <class T>
struct Simd;

#if defined(__AVX512F__)
template <>
struct Simd<float> {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int size = 16;
  BPCORE_SIMD_OP Mask mask(Index lanes) { return Mask((1u << lanes) - 1u); }
  BPCORE_SIMD_OP V zero() { return _mm512_setzero_ps(); }
  BPCORE_SIMD_OP V set1(float x) { return _mm512_set1_ps(x); }
  BPCORE_SIMD_OP V load(const float* p) { return _mm512_loadu_ps(p); }
  BPCORE_SIMD_OP V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  BPCORE_SIMD_OP V load_or(const float* p, Mask m, float fill) {
    return _mm512_mask_loadu_ps(set1(fill), m, p);
  }
  BPCORE_SIMD_OP void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  BPCORE_SIMD_OP void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  BPCORE_SIMD_OP V madd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  BPCORE_SIMD_OP V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  BPCORE_SIMD_OP V add(V a, V b) { return _mm512_add_ps(a, b); }
  BPCORE_SIMD_OP V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  BPCORE_SIMD_OP V max(V a, V b) { return _mm512_mask_max_ps(a, Mask(0xFFFF), a, b); }
  // a b where a != 0 (or NaN), else 0 (also where b is infinite or NaN)
  BPCORE_SIMD_OP V mul_nonzero(V a, V b) {
    return _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(a, zero(), _CMP_NEQ_UQ), a, b);
  }
  // halves, quarters, pairs, then the last two lanes. (GCC 12's unmasked _mm512_max_*, its
  // 512-to-256 casts and extracts and its _mm512_reduce_* fill a register they leave undefined,
  // and then warn that it may be used uninitialised, GCC bug 105593: the masked forms here
  // compute the same without one.)
  template <int I>
  BPCORE_SIMD_OP __m256 half(V v) {
    return _mm256_castpd_ps(
        _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, _mm512_castps_pd(v), I));
  }
  BPCORE_SIMD_OP float reduce_add(V v) {
    const __m256 q = _mm256_add_ps(half<0>(v), half<1>(v));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
  }
  BPCORE_SIMD_OP float reduce_max(V v) {
    const __m256 q = _mm256_max_ps(half<0>(v), half<1>(v));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
  }
};
template <>
struct Simd<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int size = 8;
  BPCORE_SIMD_OP Mask mask(Index lanes) { return Mask((1u << lanes) - 1u); }
  BPCORE_SIMD_OP V zero() { return _mm512_setzero_pd(); }
  BPCORE_SIMD_OP V set1(double x) { return _mm512_set1_pd(x); }
  BPCORE_SIMD_OP V load(const double* p) { return _mm512_loadu_pd(p); }
  BPCORE_SIMD_OP V load(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  BPCORE_SIMD_OP V load_or(const double* p, Mask m, double fill) {
    return _mm512_mask_loadu_pd(set1(fill), m, p);
  }
  BPCORE_SIMD_OP void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  BPCORE_SIMD_OP void store(double* p, V v, Mask m) { _mm512_mask_storeu_pd(p, m, v); }
  BPCORE_SIMD_OP V madd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  BPCORE_SIMD_OP V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  BPCORE_SIMD_OP V add(V a, V b) { return _mm512_add_pd(a, b); }
  BPCORE_SIMD_OP V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  BPCORE_SIMD_OP V max(V a, V b) { return _mm512_mask_max_pd(a, Mask(0xFF), a, b); }
  BPCORE_SIMD_OP V mul_nonzero(V a, V b) {
    return _mm512_maskz_mul_pd(_mm512_cmp_pd_mask(a, zero(), _CMP_NEQ_UQ), a, b);
  }
  // halves, quarters, then the last two lanes (masked forms: see Simd<float>)
  template <int I>
  BPCORE_SIMD_OP __m256d half(V v) {
    return _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xF, v, I);
  }
  BPCORE_SIMD_OP double reduce_add(V v) {
    const __m256d q = _mm256_add_pd(half<0>(v), half<1>(v));
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd(q, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
  }
  BPCORE_SIMD_OP double reduce_max(V v) {
    const __m256d q = _mm256_max_pd(half<0>(v), half<1>(v));
    const __m128d h = _mm_max_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd(q, 1));
    return _mm_cvtsd_f64(_mm_max_sd(h, _mm_unpackhi_pd(h, h)));
  }
};
#elif defined(__AVX2__) && defined(__FMA__)
template <>
struct Simd<float> {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int size = 8;
  BPCORE_SIMD_OP Mask mask(Index lanes) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(lanes)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  BPCORE_SIMD_OP V zero() { return _mm256_setzero_ps(); }
  BPCORE_SIMD_OP V set1(float x) { return _mm256_set1_ps(x); }
  BPCORE_SIMD_OP V load(const float* p) { return _mm256_loadu_ps(p); }
  BPCORE_SIMD_OP V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  BPCORE_SIMD_OP V load_or(const float* p, Mask m, float fill) {
    return _mm256_blendv_ps(set1(fill), load(p, m), _mm256_castsi256_ps(m));
  }
  BPCORE_SIMD_OP void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  BPCORE_SIMD_OP void store(float* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  BPCORE_SIMD_OP V madd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  BPCORE_SIMD_OP V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  BPCORE_SIMD_OP V add(V a, V b) { return _mm256_add_ps(a, b); }
  BPCORE_SIMD_OP V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  BPCORE_SIMD_OP V max(V a, V b) { return _mm256_max_ps(a, b); }
  BPCORE_SIMD_OP V mul_nonzero(V a, V b) {
    return _mm256_and_ps(_mm256_cmp_ps(a, zero(), _CMP_NEQ_UQ), _mm256_mul_ps(a, b));
  }
  // halves, then pairs, then the last two lanes
  BPCORE_SIMD_OP float reduce_add(V v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
  }
  BPCORE_SIMD_OP float reduce_max(V v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
  }
};
template <>
struct Simd<double> {
  using V = __m256d;
  using Mask = __m256i;
  static constexpr int size = 4;
  BPCORE_SIMD_OP Mask mask(Index lanes) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(lanes), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  BPCORE_SIMD_OP V zero() { return _mm256_setzero_pd(); }
  BPCORE_SIMD_OP V set1(double x) { return _mm256_set1_pd(x); }
  BPCORE_SIMD_OP V load(const double* p) { return _mm256_loadu_pd(p); }
  BPCORE_SIMD_OP V load(const double* p, Mask m) { return _mm256_maskload_pd(p, m); }
  BPCORE_SIMD_OP V load_or(const double* p, Mask m, double fill) {
    return _mm256_blendv_pd(set1(fill), load(p, m), _mm256_castsi256_pd(m));
  }
  BPCORE_SIMD_OP void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  BPCORE_SIMD_OP void store(double* p, V v, Mask m) { _mm256_maskstore_pd(p, m, v); }
  BPCORE_SIMD_OP V madd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  BPCORE_SIMD_OP V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  BPCORE_SIMD_OP V add(V a, V b) { return _mm256_add_pd(a, b); }
  BPCORE_SIMD_OP V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  BPCORE_SIMD_OP V max(V a, V b) { return _mm256_max_pd(a, b); }
  BPCORE_SIMD_OP V mul_nonzero(V a, V b) {
    return _mm256_and_pd(_mm256_cmp_pd(a, zero(), _CMP_NEQ_UQ), _mm256_mul_pd(a, b));
  }
  // halves, then the last two lanes
  BPCORE_SIMD_OP double reduce_add(V v) {
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
  }
  BPCORE_SIMD_OP double reduce_max(V v) {
    const __m128d h = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(h, _mm_unpackhi_pd(h, h)));
  }
};
#else
// SSE2 (the portable x86-64 baseline) and any other target: vectors of 16 bytes written with
// GCC's vector extensions, a multiply then an add (no FMA), partial vectors through a copy.
template <class T>
struct Simd {
  static constexpr int size = int(16 / sizeof(T));
  typedef T V __attribute__((vector_size(16)));
  using Mask = Index;  // the lanes in use
  BPCORE_SIMD_OP Mask mask(Index lanes) { return lanes; }
  BPCORE_SIMD_OP V zero() { return V{}; }
  BPCORE_SIMD_OP V set1(T x) { return V{} + x; }
  BPCORE_SIMD_OP V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  BPCORE_SIMD_OP V load(const T* p, Mask m) {
    V v{};
    std::memcpy(&v, p, sizeof(T) * std::size_t(m));
    return v;
  }
  BPCORE_SIMD_OP V load_or(const T* p, Mask m, T fill) {
    V v = set1(fill);
    std::memcpy(&v, p, sizeof(T) * std::size_t(m));
    return v;
  }
  BPCORE_SIMD_OP void store(T* p, V v) { std::memcpy(p, &v, sizeof v); }
  BPCORE_SIMD_OP void store(T* p, V v, Mask m) { std::memcpy(p, &v, sizeof(T) * std::size_t(m)); }
  BPCORE_SIMD_OP V madd(V a, V b, V c) { return a * b + c; }
  BPCORE_SIMD_OP V mul(V a, V b) { return a * b; }
  BPCORE_SIMD_OP V add(V a, V b) { return a + b; }
  BPCORE_SIMD_OP V sub(V a, V b) { return a - b; }
  BPCORE_SIMD_OP V max(V a, V b) { return a > b ? a : b; }  // b where either is NaN, as maxpd
  BPCORE_SIMD_OP V mul_nonzero(V a, V b) { return a != zero() ? a * b : zero(); }
  BPCORE_SIMD_OP T reduce_add(V v) {
    T s = v[0];
    for (int i = 1; i < size; ++i) s += v[i];
    return s;
  }
  BPCORE_SIMD_OP T reduce_max(V v) {
    T s = v[0];
    for (int i = 1; i < size; ++i) s = v[i] > s ? v[i] : s;
    return s;
  }
};
#endif

}  // namespace bpcore::simd

#undef BPCORE_SIMD_OP
