// Weight initialisation from an explicit seed, and the core's random numbers.
//
//   small_uniform  W, b ~ U(-s, s), s = 0.1 by default: the notes' "small random non-zero values"
//   xavier         W ~ U(-r, r), r = sqrt(6 / (n_in + n_out)), b = 0   (Glorot uniform)
//   he             W ~ U(-r, r), r = sqrt(6 / n_in), b = 0             (He/Kaiming uniform)
// prelu slopes start at 0.25. The generator is std::mt19937_64, whose sequence the C++ standard
// fixes, and the conversions below are bpcore's own, so a seed gives the same numbers everywhere.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "bpcore/types.hpp"

namespace bpcore {

enum class Init { small_uniform, xavier, he };

struct InitInfo {
  Init id;
  std::string_view name;
};

inline constexpr std::array<InitInfo, 3> init_table{{
    {Init::small_uniform, "small_uniform"},
    {Init::xavier, "xavier"},
    {Init::he, "he"},
}};

std::string_view init_name(Init init);
Init init_from_name(std::string_view name);

inline constexpr double small_uniform_scale = 0.1;

/// Seeded generator with the few draws the core needs.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  /// Uniform on [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer on [0, n), n > 0, without modulo bias (draws below 2^64 mod n are redrawn).
  std::uint64_t below(std::uint64_t n) {
    std::uint64_t r = engine_();
    // skip = 2^64 mod n is below n, so a draw r >= n is never redrawn: the division that finds
    // skip is only needed for the rare r < n (the same draws as computing it every time).
    if (r < n) {
      const std::uint64_t skip = (0 - n) % n;
      while (r < skip) r = engine_();
    }
    return r % n;
  }

 private:
  std::mt19937_64 engine_;
};

/// A seed for stream `stream` (e.g. an epoch) derived from `seed` (splitmix64 mixing).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

/// The order in which an epoch visits the rows 0 … n-1 (Fisher–Yates, seeded by seed and epoch).
/// ArgumentError unless n and epoch are non-negative.
std::vector<Index> epoch_permutation(Index n, std::uint64_t seed, Index epoch);

}  // namespace bpcore
