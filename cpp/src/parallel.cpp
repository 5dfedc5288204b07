#include "bpcore/parallel.hpp"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define BPCORE_FORK_GUARD 1
#endif
#endif

namespace bpcore {

namespace {

// GNU OpenMP cannot start threads in a child forked after a parallel region (it hangs). A child
// process (multiprocessing with fork, joblib, Dask) therefore runs bpcore on one thread.
std::atomic<bool> forked_child{false};

#ifdef BPCORE_FORK_GUARD
void mark_forked_child() { forked_child.store(true); }
[[maybe_unused]] const bool fork_guard_installed =
    pthread_atfork(nullptr, nullptr, &mark_forked_child) == 0;
#endif

}  // namespace

bool in_forked_child() { return forked_child.load(); }

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int default_threads() {
#ifdef _OPENMP
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

int resolve_threads(int requested) {
  if (in_forked_child()) return 1;
  return requested > 0 ? requested : default_threads();
}

RowBlocks partition_rows(Index rows, Index min_block, Index max_blocks) {
  RowBlocks blocks;
  blocks.rows = rows;
  if (rows <= 0) return blocks;
  const Index even = (rows + max_blocks - 1) / max_blocks;
  blocks.block = std::max(min_block, even);
  blocks.count = (rows + blocks.block - 1) / blocks.block;
  return blocks;
}

namespace {

// True when no value in p[0 … n-1] is NaN or infinite: an exponent of all ones. Integer tests on
// the bit patterns vectorise, where a floating-point isfinite runs element by element.
template <class T>
bool all_finite(const T* p, Index n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  Bits bad = 0;
  for (Index i = 0; i < n; ++i) {
    Bits u;
    std::memcpy(&u, p + i, sizeof u);
    bad |= Bits((u & exponent) == exponent);
  }
  return bad == 0;
}

}  // namespace

template <class T>
Index first_nonfinite(const T* data, Index size, int n_threads) {
  if (size <= 0) return -1;
  const int threads = resolve_threads(n_threads);
  const RowBlocks chunks = partition_rows(size, Index(1) << 16, kMaxBlocks);
  std::vector<Index> first(static_cast<std::size_t>(chunks.count), -1);
  for_each_block(chunks.count, threads, size >= (Index(1) << 20), [&](Index c) {
    const Index begin = chunks.begin(c), n = chunks.size(c);
    if (all_finite(data + begin, n)) return;
    for (Index i = 0; i < n; ++i)
      if (!std::isfinite(data[begin + i])) {
        first[static_cast<std::size_t>(c)] = begin + i;
        return;
      }
  });
  for (Index f : first)
    if (f >= 0) return f;
  return -1;
}

template Index first_nonfinite<float>(const float*, Index, int);
template Index first_nonfinite<double>(const double*, Index, int);

}  // namespace bpcore
