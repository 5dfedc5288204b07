#include "bpcore/small_gemm.hpp"

#include <algorithm>

#include "simd.hpp"

namespace bpcore::small_gemm {

namespace {

using simd::Simd;

// Vectors of C per tile row, by the registers of the instruction set (simd.hpp: Simd<T>)
#if defined(__AVX512F__)
constexpr int kVectors = 4;  // 32 registers
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kVectors = 2;  // 16 registers
#else
constexpr int kVectors = 2;
#endif

// Rows of C per tile: with one vector per row, 8 rows keep 8 independent sums in flight (enough to
// hide the multiply-add's latency); a full-width panel takes 6 rows (24 or 12 sums: nearly every
// register, the fewest loads per multiply-add), a narrower one 4. With AVX-512 a two-vector panel
// (9-16 doubles, 17-32 floats: the narrow layers of small networks) takes 8 rows: 4 rows gave only
// the 8 sums that two multiply-add pipes of latency 4 need, and any load that came late stalled
// them; with 16 the products of such widths took 8-19 % less time (one core, 256 rows).
template <int NV>
constexpr int kRows = NV == 1 || (kVectors == 4 && NV == 2) ? 8 : (NV == kVectors ? 6 : 4);
constexpr Index kPackBytes = 16384;   // the W^T panel of times_transpose, on the stack
constexpr Index kBlockRows = 64;      // rows of C per pass of the panels of B
constexpr Index kDepthBytes = 32768;  // a panel's rows of B per chunk of the depth

enum class Start { zero, bias, c };  // what each sum starts from: 0, b_j, or C's own value

// The operands of one product C (m × n) = start + op(A) B over depth k: element (i, p) of op(A) at
// A[i a_rs + p a_cs], B row-major with rows ldb apart, C with rows ldc apart; s multiplies the
// sums as they are stored when `scaled`.
template <class T>
struct Operands {
  const T* A;
  Index a_rs, a_cs;
  const T* B;
  Index ldb;
  const T* bias;
  T* C;
  Index ldc;
  Start start;
  bool scaled;
  T s;
};

// A tile of R rows × NV vectors of C (the last one masked when `Masked`), its sums in registers
// over the whole depth.
template <class T, int R, int NV, bool Masked>
inline void tile(const Operands<T>& o, Index k, typename Simd<T>::Mask mask) {
  using O = Simd<T>;
  using V = typename O::V;
  constexpr int S = O::size;
  auto load = [&](const T* p, int v) {
    return Masked && v == NV - 1 ? O::load(p + v * S, mask) : O::load(p + v * S);
  };
  V acc[R][NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const V b0 = o.start == Start::bias ? load(o.bias, v) : O::zero();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][v] = o.start == Start::c ? load(o.C + r * o.ldc, v) : b0;
  }
  const T* a = o.A;
  const T* b = o.B;
  for (Index p = 0; p < k; ++p, a += o.a_cs, b += o.ldb) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = load(b, v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V ar = O::set1(a[r * o.a_rs]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = O::madd(ar, bv[v], acc[r][v]);
    }
  }
  const V scale = O::set1(o.s);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const V x = o.scaled ? O::mul(scale, acc[r][v]) : acc[r][v];
      T* c = o.C + r * o.ldc + v * S;
      if (Masked && v == NV - 1)
        O::store(c, x, mask);
      else
        O::store(c, x);
    }
}

// Every row of one column panel (NV vectors wide), kRows rows at a time, then 4 (when kRows is 8)
// and the rest by 3, 2, 1.
template <class T, int NV, bool Masked>
void panel(Operands<T> o, Index m, Index k, typename Simd<T>::Mask mask) {
  constexpr int R = kRows<NV>;
  Index i = 0;
  for (; i + R <= m; i += R) {
    tile<T, R, NV, Masked>(o, k, mask);
    o.A += R * o.a_rs;
    o.C += R * o.ldc;
  }
  if (R > 4 && i + 4 <= m) {
    tile<T, 4, NV, Masked>(o, k, mask);
    o.A += 4 * o.a_rs;
    o.C += 4 * o.ldc;
    i += 4;
  }
  switch (m - i) {
    case 3:
      tile<T, 3, NV, Masked>(o, k, mask);
      break;
    case 2:
      tile<T, 2, NV, Masked>(o, k, mask);
      break;
    case 1:
      tile<T, 1, NV, Masked>(o, k, mask);
      break;
    default:
      break;
  }
}

template <class T, int NV>
void last_panel(const Operands<T>& o, Index m, Index k, Index lanes) {
  using O = Simd<T>;
  if (lanes == O::size)
    panel<T, NV, false>(o, m, k, O::mask(lanes));
  else
    panel<T, NV, true>(o, m, k, O::mask(lanes));
}

// C = start + op(A) B on rows of C that share the panels: panels of kVectors vectors of columns
// from the left, each over all the rows (its rows of B stay in the cache), then one narrower panel
// for the columns left.
template <class T>
void panels(Operands<T> o, Index m, Index n, Index k) {
  constexpr Index S = Simd<T>::size;
  constexpr Index width = kVectors * S;
  Index j = 0;
  for (; j + width <= n; j += width) {
    panel<T, kVectors, false>(o, m, k, Simd<T>::mask(S));
    o.B += width;
    o.C += width;
    if (o.bias) o.bias += width;
  }
  if (j == n) return;
  const Index rest = n - j;
  const Index nv = (rest + S - 1) / S;
  const Index lanes = rest - (nv - 1) * S;
  switch (nv) {
    case 1:
      last_panel<T, 1>(o, m, k, lanes);
      break;
    case 2:
      if constexpr (kVectors >= 2) last_panel<T, 2>(o, m, k, lanes);
      break;
    case 3:
      if constexpr (kVectors >= 3) last_panel<T, 3>(o, m, k, lanes);
      break;
    case 4:
      if constexpr (kVectors >= 4) last_panel<T, 4>(o, m, k, lanes);
      break;
    default:
      break;
  }
}

// C = start + op(A) B, kBlockRows rows of C at a time (their rows of op(A) stay in the cache while
// the panels of B pass over them) and, over a deep product, a chunk of the depth at a time (a
// panel's rows of B then stay in the L1 cache): each sum goes on from C where the previous chunk
// stored it, so it is the same in-order sum, scaled once at the end.
template <class T>
void product(Operands<T> o, Index m, Index n, Index k) {
  constexpr Index chunk = kDepthBytes / Index(sizeof(T)) / (kVectors * Simd<T>::size);
  for (Index i0 = 0; i0 < m; i0 += kBlockRows) {
    const Index mb = std::min(kBlockRows, m - i0);
    for (Index p0 = 0; p0 == 0 || p0 < k; p0 += chunk) {  // once when k = 0: C = start
      Operands<T> oc = o;
      oc.A += i0 * o.a_rs + p0 * o.a_cs;
      oc.B += p0 * o.ldb;
      oc.C += i0 * o.ldc;
      if (p0 > 0) oc.start = Start::c;
      oc.scaled = o.scaled && p0 + chunk >= k;
      panels(oc, mb, n, std::min(chunk, k - p0));
    }
  }
}

}  // namespace

template <class T>
bool worth(Op op, Index m, Index k, Index n) {
  // The bounds are where these kernels stayed ahead of Eigen 3.4's GEMM, one thread, over layer
  // widths 10 … 784 and 16 … 512 rows: with AVX-512 by 1.03-1.7x (the forward product at every
  // size), with AVX2 by 1.05-1.4x on fewer sizes.
  [[maybe_unused]] const double work = double(m) * double(k) * double(n);
  [[maybe_unused]] const double bytes = double(sizeof(T));
  if (m > 512 || k > 1024 || n > 1024) return false;
#if defined(__AVX512F__)
  switch (op) {
    case Op::affine:  // W (k × n) from the L2 cache, a depth chunk of a panel from L1
      return true;
    case Op::times_transpose:  // W^T copied to the stack: pays off once m rows share it
      return m >= n;
    case Op::transpose_times:  // D (m × n, m the depth) read again for each block of rows of C
      return double(m) * double(n) * bytes <= 256.0 * 1024 && (m <= 128 || work <= 0x1p24);
  }
#elif defined(__AVX2__) && defined(__FMA__)
  switch (op) {
    case Op::affine: {
      const double w_bytes = double(k) * double(n) * bytes;
      return (work <= 0x1p21 && w_bytes <= 256.0 * 1024) || (m <= 128 && w_bytes <= 1024.0 * 1024);
    }
    case Op::times_transpose:
      return m >= 8 * n;
    case Op::transpose_times:
      return work <= 0x1p20 && double(m) * double(n) * bytes <= 64.0 * 1024;
  }
#else
  (void)op;
#endif
  return false;
}

template <class T>
void affine(const T* A, Index lda, const T* W, const T* b, T* Z, Index m, Index k, Index n) {
  // Z = b + A W
  product(Operands<T>{A, lda, 1, W, n, b, Z, n, Start::bias, false, T(1)}, m, n, k);
}

template <class T>
void times_transpose(const T* D, const T* W, T* G, Index m, Index k, Index n) {
  // G = D W^T: W^T (n × k) is read in panels of its columns (kVectors vectors of G) and rows
  // (depth chunks), copied to the stack; a sum continues from C from one depth chunk to the next
  constexpr Index width = kVectors * Simd<T>::size;
  constexpr Index depth = kPackBytes / Index(sizeof(T)) / width;
  alignas(64) T pack[width * depth];
  for (Index p0 = 0; p0 < k; p0 += width) {
    const Index pw = std::min(width, k - p0);
    for (Index j0 = 0; j0 == 0 || j0 < n; j0 += depth) {  // once when n = 0: G = 0
      const Index dc = std::min(depth, n - j0);
      // pack[jj][pp] = W^T(j0 + jj, p0 + pp) = W(p0 + pp, j0 + jj)
      for (Index pp = 0; pp < pw; ++pp) {
        const T* w = W + (p0 + pp) * n + j0;
        for (Index jj = 0; jj < dc; ++jj) pack[jj * width + pp] = w[jj];
      }
      const Start start = j0 == 0 ? Start::zero : Start::c;
      product(Operands<T>{D + j0, n, 1, pack, width, nullptr, G + p0, k, start, false, T(1)}, m, pw,
              dc);
    }
  }
}

template <class T>
void transpose_times(const T* A, Index lda, const T* D, T* C, Index m, Index kp, Index n, T s) {
  // C = s A^T D: element (p, i) of A^T at A[p + i lda]; depth m
  product(Operands<T>{A, 1, lda, D, n, nullptr, C, n, Start::zero, true, s}, kp, n, m);
}

template <class T>
void column_sums(const T* D, T* out, Index m, Index n, T s) {
  // One vector of columns at a time, down the rows: four rows summed in a pair of pairs, then
  // added to the running sum (independent adds, so the sum is not one long chain of latencies).
  using S = Simd<T>;
  for (Index j0 = 0; j0 < n; j0 += S::size) {
    const Index lanes = std::min<Index>(S::size, n - j0);
    const auto mask = S::mask(lanes);
    const T* d = D + j0;
    const auto row = [&](Index i) {
      return lanes == S::size ? S::load(d + i * n) : S::load(d + i * n, mask);
    };
    typename S::V sum = m > 0 ? row(0) : S::zero();
    Index i = 1;
    for (; i + 4 <= m; i += 4)
      sum = S::add(sum, S::add(S::add(row(i), row(i + 1)), S::add(row(i + 2), row(i + 3))));
    for (; i < m; ++i) sum = S::add(sum, row(i));
    sum = S::mul(sum, S::set1(s));
    if (lanes == S::size)
      S::store(out + j0, sum);
    else
      S::store(out + j0, sum, mask);
  }
}

#define BPCORE_INSTANTIATE_SMALL_GEMM(T)                                                   \
  template bool worth<T>(Op, Index, Index, Index);                                         \
  template void affine<T>(const T*, Index, const T*, const T*, T*, Index, Index, Index);   \
  template void times_transpose<T>(const T*, const T*, T*, Index, Index, Index);           \
  template void transpose_times<T>(const T*, Index, const T*, T*, Index, Index, Index, T); \
  template void column_sums<T>(const T*, T*, Index, Index, T);
BPCORE_INSTANTIATE_SMALL_GEMM(float)
BPCORE_INSTANTIATE_SMALL_GEMM(double)

}  // namespace bpcore::small_gemm
