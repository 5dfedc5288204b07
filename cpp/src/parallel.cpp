#include "bpcore/parallel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace bpcore {

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

int resolve_threads(int requested) { return requested > 0 ? requested : default_threads(); }

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
