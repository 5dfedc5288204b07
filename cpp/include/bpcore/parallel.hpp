// The only OpenMP policy of bpcore: a batch is cut into fixed row blocks, and threads share the
// blocks.
//
// The cut depends only on the number of rows, never on the number of threads, and per-block results
// are reduced in block order. So a result is bitwise the same for any thread count. A second cut,
// of a result's columns or rows into fixed pieces (for_each_block_then_task), is exact in the same
// way: the backward pass takes the deltas by row blocks and then each dJ/dW^[l] over the whole
// batch in fixed row ranges, with no per-block sums to reduce. Eigen's own threading is off
// (EIGEN_DONT_PARALLELIZE): there is one level of parallelism.
#pragma once

#include <algorithm>
#include <exception>

#include "bpcore/fp_mode.hpp"
#include "bpcore/types.hpp"

namespace bpcore {

/// True when the core was compiled with OpenMP.
bool has_openmp();
/// The OpenMP default (OMP_NUM_THREADS, threadpoolctl), or 1 without OpenMP.
int default_threads();
/// `requested` if positive, else the default; always 1 in a process forked from one that loaded
/// the core (GNU OpenMP hangs there).
int resolve_threads(int requested);
/// True in a child process created by fork() after the core was loaded.
bool in_forked_child();

struct RowBlocks {
  Index rows = 0, block = 0, count = 0;
  Index begin(Index b) const { return b * block; }
  Index size(Index b) const { return std::min(block, rows - b * block); }
};

/// Blocks of at least `min_block` rows, at most `max_blocks` of them.
inline constexpr Index kMinBlockRows = 64;
inline constexpr Index kMaxBlocks = 16;
RowBlocks partition_rows(Index rows, Index min_block = kMinBlockRows,
                         Index max_blocks = kMaxBlocks);

/// A network's row blocks hold at least this many multiply-adds (and kMinBlockRows rows).
inline constexpr double kBlockWork = 1 << 16;

/// Above this many values to add up (n_params times the extra row blocks), a backward pass takes
/// its gradient by whole-batch pieces instead of per-block sums (Network::splits_backward).
inline constexpr double kSplitReduction = 1 << 15;

/// Threads pay off only above this many multiply-adds in one call (waking a sleeping thread costs
/// tens of microseconds).
inline constexpr double kParallelWork = 1 << 20;

#ifdef _OPENMP
namespace detail {

// The OpenMP team's loop over blocks 0 … count-1: a `Scratch` made once per thread, then
// f(b, scratch) for this thread's share of blocks. The first exception thrown by f is rethrown on
// the calling thread once the team has finished.
template <class Scratch, class F>
void parallel_blocks(Index count, int threads, F&& f) {
  std::exception_ptr error;
  const int team = static_cast<int>(std::min<Index>(threads, count));
#pragma omp parallel num_threads(team)
  {
    const FlushSubnormals flush;  // each thread computes as the calling one (fp_mode.hpp)
    Scratch scratch;
#pragma omp for schedule(static)
    for (Index b = 0; b < count; ++b) {
      try {
        f(b, scratch);
      } catch (...) {
#pragma omp critical(bpcore_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

// Two loops in one OpenMP team: f(b) for b < count, a barrier, then g(t) for t < tasks (shared
// dynamically: each g(t) must not depend on which thread runs it). The second loop is skipped once
// the first has thrown; the first exception is rethrown on the calling thread.
template <class F, class G>
void parallel_two_phases(Index count, Index tasks, int threads, F&& f, G&& g) {
  std::exception_ptr error;
  auto record = [&error] {
#pragma omp critical(bpcore_error)
    if (!error) error = std::current_exception();
  };
  const int team = static_cast<int>(std::min<Index>(threads, std::max(count, tasks)));
#pragma omp parallel num_threads(team)
  {
    const FlushSubnormals flush;  // each thread computes as the calling one (fp_mode.hpp)
#pragma omp for schedule(static)
    for (Index b = 0; b < count; ++b) {
      try {
        f(b);
      } catch (...) {
        record();
      }
    }
    // the implicit barrier of the loop above: every block is done, and `error` is seen by all
    bool failed = false;
#pragma omp critical(bpcore_error)
    failed = bool(error);
    if (!failed) {
#pragma omp for schedule(dynamic, 1)
      for (Index t = 0; t < tasks; ++t) {
        try {
          g(t);
        } catch (...) {
          record();
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace detail
#endif

/// Calls f(b, scratch) for b = 0 … count-1 with a `Scratch` made once per thread, over `threads`
/// threads when `parallel` is set and there is more than one block. An exception thrown by f is
/// rethrown on the calling thread.
template <class Scratch, class F>
void for_each_block_with_scratch(Index count, int threads, bool parallel, F&& f) {
#ifdef _OPENMP
  if (parallel && threads > 1 && count > 1) {
    detail::parallel_blocks<Scratch>(count, threads, f);
    return;
  }
#else
  (void)threads;
  (void)parallel;
#endif
  Scratch scratch;
  for (Index b = 0; b < count; ++b) f(b, scratch);
}

/// Like for_each_block_with_scratch, without the scratch: f(b).
template <class F>
void for_each_block(Index count, int threads, bool parallel, F&& f) {
  struct None {};
  for_each_block_with_scratch<None>(count, threads, parallel, [&](Index b, None&) { f(b); });
}

/// Calls f(b) for b = 0 … count-1, then, once every f has returned, g(t) for t = 0 … tasks-1, in
/// one team of `threads` threads when `parallel` is set (in index order otherwise). The two loops
/// can split one computation two ways (rows, then columns) with a single barrier between them. An
/// exception thrown by f or g is rethrown on the calling thread (g is not run after f threw).
template <class F, class G>
void for_each_block_then_task(Index count, Index tasks, int threads, bool parallel, F&& f, G&& g) {
#ifdef _OPENMP
  if (parallel && threads > 1 && std::max(count, tasks) > 1) {
    detail::parallel_two_phases(count, tasks, threads, f, g);
    return;
  }
#else
  (void)threads;
  (void)parallel;
#endif
  for (Index b = 0; b < count; ++b) f(b);
  for (Index t = 0; t < tasks; ++t) g(t);
}

/// Index of the first NaN or infinite value among data[0 … size-1], or -1 when all are finite.
template <class T>
Index first_nonfinite(const T* data, Index size, int n_threads);

extern template Index first_nonfinite<float>(const float*, Index, int);
extern template Index first_nonfinite<double>(const double*, Index, int);

}  // namespace bpcore
