#include "bpcore/parallel.hpp"

#include <atomic>

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
[[maybe_unused]] const bool fork_guard_installed = pthread_atfork(nullptr, nullptr, &mark_forked_child) == 0;
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

}  // namespace bpcore
