// The OpenMP policy: fixed row blocks, block loops that rethrow on the caller, thread counts.
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpcore/network.hpp"
#include "bpcore/parallel.hpp"
#include "doctest.h"

using bpcore::Index;
using bpcore::RowBlocks;

namespace {

// The blocks tile 0 … rows-1 in order with no gap and no overlap.
void check_tiling(const RowBlocks& blocks, Index rows) {
  CHECK(blocks.rows == rows);
  Index next = 0;
  for (Index b = 0; b < blocks.count; ++b) {
    CHECK(blocks.begin(b) == next);
    CHECK(blocks.size(b) > 0);
    CHECK(blocks.size(b) <= blocks.block);
    next += blocks.size(b);
  }
  CHECK(next == rows);
}

struct Counted {
  static std::atomic<int> made;
  int calls = 0;
  Counted() { ++made; }
};
std::atomic<int> Counted::made{0};

}  // namespace

TEST_CASE("partition_rows at known sizes") {
  struct Case {
    Index rows, block, count;
  };
  // blocks of max(64, ceil(rows / 16)) rows
  for (const Case& c : {Case{1, 64, 1}, Case{63, 64, 1}, Case{64, 64, 1}, Case{65, 64, 2},
                        Case{128, 64, 2}, Case{129, 64, 3}, Case{1000, 64, 16}, Case{1024, 64, 16},
                        Case{1025, 65, 16}, Case{10000, 625, 16}, Case{10001, 626, 16}}) {
    CAPTURE(c.rows);
    const RowBlocks blocks = bpcore::partition_rows(c.rows);
    CHECK(blocks.block == c.block);
    CHECK(blocks.count == c.count);
    check_tiling(blocks, c.rows);
  }
  const RowBlocks last = bpcore::partition_rows(65);
  CHECK(last.size(0) == 64);
  CHECK(last.size(1) == 1);
  for (Index rows : {Index(0), Index(-3)}) {
    const RowBlocks none = bpcore::partition_rows(rows);
    CHECK(none.count == 0);
  }
}

TEST_CASE("partition_rows depends on the rows only and honours its bounds") {
  for (Index rows = 1; rows <= 3000; rows += 7) {
    CAPTURE(rows);
    const RowBlocks blocks = bpcore::partition_rows(rows);
    CHECK(blocks.count <= bpcore::kMaxBlocks);
    CHECK(blocks.block >= bpcore::kMinBlockRows);
    check_tiling(blocks, rows);
  }
  for (Index rows : {Index(1), Index(10), Index(99), Index(1000)}) {
    for (Index min_block : {Index(1), Index(8), Index(256)}) {
      for (Index max_blocks : {Index(1), Index(3), Index(16), rows}) {
        CAPTURE(rows);
        CAPTURE(min_block);
        CAPTURE(max_blocks);
        const RowBlocks blocks = bpcore::partition_rows(rows, min_block, max_blocks);
        CHECK(blocks.count <= max_blocks);
        CHECK(blocks.block >= min_block);
        check_tiling(blocks, rows);
      }
    }
  }
}

TEST_CASE("thread counts") {
  CHECK(bpcore::default_threads() >= 1);
  CHECK(bpcore::resolve_threads(0) == bpcore::default_threads());
  CHECK(bpcore::resolve_threads(-2) == bpcore::default_threads());
  CHECK(bpcore::resolve_threads(3) == 3);
  if (!bpcore::has_openmp()) CHECK(bpcore::default_threads() == 1);
  MESSAGE("has_openmp() = " << bpcore::has_openmp()
                            << ", default_threads() = " << bpcore::default_threads());
}

TEST_CASE("for_each_block calls every block exactly once") {
  for (Index count : {Index(0), Index(1), Index(2), Index(16), Index(37)}) {
    for (int threads : {1, 2, 3, 4}) {
      for (bool parallel : {false, true}) {
        CAPTURE(count);
        CAPTURE(threads);
        CAPTURE(parallel);
        std::vector<std::atomic<int>> calls(static_cast<std::size_t>(count));
        for (auto& c : calls) c = 0;
        bpcore::for_each_block(count, threads, parallel,
                               [&](Index b) { ++calls[static_cast<std::size_t>(b)]; });
        for (auto& c : calls) CHECK(c.load() == 1);
      }
    }
  }
}

TEST_CASE("for_each_block runs in block order when not parallel") {
  std::vector<Index> order;
  bpcore::for_each_block(10, 4, false, [&](Index b) { order.push_back(b); });
  CHECK(order == std::vector<Index>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("for_each_block rethrows an exception on the calling thread") {
  for (int threads : {1, 2, 3}) {
    for (bool parallel : {false, true}) {
      CAPTURE(threads);
      CAPTURE(parallel);
      std::atomic<int> calls{0};
      CHECK_THROWS_WITH_AS(bpcore::for_each_block(16, threads, parallel,
                                                  [&](Index b) {
                                                    ++calls;
                                                    if (b == 5)
                                                      throw bpcore::ArgumentError("block 5 failed");
                                                  }),
                           "block 5 failed", bpcore::ArgumentError);
      CHECK(calls.load() >= 1);
      // every block throws: exactly one exception reaches the caller
      CHECK_THROWS_AS(bpcore::for_each_block(16, threads, parallel,
                                             [&](Index) { throw std::runtime_error("every"); }),
                      std::runtime_error);
    }
  }
  // after a failure the loop is usable again
  std::atomic<int> calls{0};
  bpcore::for_each_block(8, 2, true, [&](Index) { ++calls; });
  CHECK(calls.load() == 8);
}

TEST_CASE("for_each_block_with_scratch makes one scratch per thread and rethrows") {
  for (int threads : {1, 2, 3}) {
    for (bool parallel : {false, true}) {
      CAPTURE(threads);
      CAPTURE(parallel);
      Counted::made = 0;
      std::vector<std::atomic<int>> calls(20);
      for (auto& c : calls) c = 0;
      std::atomic<int> scratch_calls{0};
      bpcore::for_each_block_with_scratch<Counted>(20, threads, parallel,
                                                   [&](Index b, Counted& scratch) {
                                                     ++scratch.calls;
                                                     ++scratch_calls;
                                                     ++calls[static_cast<std::size_t>(b)];
                                                   });
      for (auto& c : calls) CHECK(c.load() == 1);
      CHECK(scratch_calls.load() == 20);
      CHECK(Counted::made.load() >= 1);
      CHECK(Counted::made.load() <= threads);
      if (!parallel) CHECK(Counted::made.load() == 1);

      CHECK_THROWS_WITH_AS(
          bpcore::for_each_block_with_scratch<Counted>(20, threads, parallel,
                                                       [&](Index b, Counted&) {
                                                         if (b == 19)
                                                           throw std::out_of_range("last block");
                                                       }),
          "last block", std::out_of_range);
    }
  }
}

TEST_CASE_TEMPLATE("first_nonfinite finds the first NaN or infinity", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  std::vector<T> v(100, T(1));
  CHECK(bpcore::first_nonfinite(v.data(), 100, 1) == -1);
  CHECK(bpcore::first_nonfinite(v.data(), 0, 1) == -1);
  v[42] = inf;
  v[70] = nan;
  CHECK(bpcore::first_nonfinite(v.data(), 100, 2) == 42);
  v[3] = -inf;
  CHECK(bpcore::first_nonfinite(v.data(), 100, 2) == 3);
  CHECK(bpcore::first_nonfinite(v.data(), 3, 2) == -1);

  // large enough to be cut into chunks and run in parallel: the earliest chunk wins
  const Index n = (Index(1) << 20) + 12345;
  std::vector<T> big(static_cast<std::size_t>(n), T(0.5));
  for (int threads : {1, 2, 3}) CHECK(bpcore::first_nonfinite(big.data(), n, threads) == -1);
  big[std::size_t(n - 1)] = nan;
  big[std::size_t(700000)] = inf;
  big[std::size_t(300001)] = nan;
  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    CHECK(bpcore::first_nonfinite(big.data(), n, threads) == 300001);
  }
}
