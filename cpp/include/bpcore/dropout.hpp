// Inverted dropout: the masks of training, drawn from a counter-based hash.
//
// During training, hidden layer l (1 <= l < L) with rate p_l keeps each unit of each row with
// probability 1 - p_l and rescales what it keeps:
//   H^[l] <- H^[l] ⊙ M^[l] / (1 - p_l),   M^[l]_ij in {0, 1},  P(M^[l]_ij = 0) = p_l
// so that E[H^[l] ⊙ M^[l] / (1 - p_l)] = H^[l], and back-propagation passes delta through the same
// mask: delta^[l] = ((delta^[l+1] W^[l+1]^T) ⊙ M^[l] / (1 - p_l)) ⊙ f'(Z^[l]). Outside training
// (predict, loss, forward without rows) nothing is masked.
//
// M^[l]_ij of row i of the data set (its index in the whole data set, never its place in a batch
// or a shard) in epoch e of a run seeded s is kept iff u >= p_l, where u in [0, 1) is a hash of
// (s, e, l, i, j) built from derive_seed (splitmix64). There is no generator state: a row's mask is
// the same whatever batch it falls in, the thread count or the sharding, so dropout training is
// reproducible from the seed, bitwise the same for any number of threads, and P processes draw the
// masks that one process draws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpcore/init.hpp"
#include "bpcore/types.hpp"

namespace bpcore {

/// The rows of a training batch, for the masks: batch row i is row ids[i] of the data set, or
/// row first + i when ids is null, in epoch `epoch` of a run seeded `seed`.
struct DropoutRows {
  std::uint64_t seed = 0;
  Index epoch = 0;
  const Index* ids = nullptr;
  Index first = 0;
  Index id(Index i) const { return ids ? ids[i] : first + i; }
};

/// Stream of derive_seed that keeps the masks apart from the shuffle (which uses the seed itself).
inline constexpr std::uint64_t kDropoutStream = 0xD809'0A7E'5EED'0001ULL;

/// The key of hidden layer k = l - 1 of epoch `epoch` under `seed`.
inline std::uint64_t dropout_key(std::uint64_t seed, Index epoch, Index k) {
  const std::uint64_t run = derive_seed(seed ^ kDropoutStream, std::uint64_t(epoch));
  return derive_seed(run, std::uint64_t(k));
}

/// The key of data-set row `row` under a layer's key.
inline std::uint64_t dropout_row_key(std::uint64_t key, Index row) {
  return derive_seed(key, std::uint64_t(row));
}

/// u in [0, 1) (53 bits) of unit j of data-set row `row` under a layer's key.
inline double dropout_uniform(std::uint64_t key, Index row, Index j) {
  return double(derive_seed(dropout_row_key(key, row), std::uint64_t(j)) >> 11) * 0x1.0p-53;
}

/// M / (1 - p) for batch rows r0 … r0+nr-1 of a layer of `width` units into `factor` (row-major,
/// nr × width): 0 where the unit is dropped, 1 / (1 - p) where it is kept.
template <class T>
void dropout_factors(std::uint64_t key, double p, const DropoutRows& rows, Index r0, Index nr,
                     Index width, T* factor) {
  const T keep = T(1.0 / (1.0 - p));
  for (Index i = 0; i < nr; ++i) {
    // dropout_uniform(key, row, j) with the row's key hashed once
    const std::uint64_t row_key = dropout_row_key(key, rows.id(r0 + i));
    for (Index j = 0; j < width; ++j) {
      const double u = double(derive_seed(row_key, std::uint64_t(j)) >> 11) * 0x1.0p-53;
      factor[i * width + j] = u >= p ? keep : T(0);
    }
  }
}

/// ArgumentError unless 0 <= p < 1 for every rate (`what` names them in the message).
inline void check_dropout_rates(const std::vector<double>& rates, const std::string& what) {
  for (std::size_t k = 0; k < rates.size(); ++k)
    require(
        rates[k] >= 0 && rates[k] < 1,
        what + "[" + std::to_string(k) + "] must be in [0, 1), got " + std::to_string(rates[k]));
}

}  // namespace bpcore
