#include "bpcore/init.hpp"

#include <numeric>
#include <string>

#include "bpcore/names.hpp"

namespace bpcore {

std::string_view init_name(Init id) { return name_in(init_table, id, "init"); }

Init init_from_name(std::string_view name) { return id_in(init_table, name, "init"); }

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::vector<Index> epoch_permutation(Index n, std::uint64_t seed, Index epoch) {
  require(n >= 0 && epoch >= 0, "n and epoch must be non-negative");
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  Rng rng(derive_seed(seed, static_cast<std::uint64_t>(epoch)));
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(rng.below(static_cast<std::uint64_t>(i + 1)));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace bpcore
