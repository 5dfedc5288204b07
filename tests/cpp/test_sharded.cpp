// Data-parallel epochs (trainer.hpp): P processes, each with a shard of the rows, summing their
// gradients with a reducer. Here the processes are threads and the reducer an in-memory
// all-reduce, so the core's side of distributed training is tested without MPI: the shards must
// train exactly like one process on the whole data set.
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bpcore/trainer.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::EpochOptions;
using bpcore::EpochResult;
using bpcore::EpochStatus;
using bpcore::GradientReducer;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore::Optimizer;
using bpcore::OptimizerConfig;
using bpcore::OptimizerKind;
using bpcore_test::params_of;
using bpcore_test::same_bits;

namespace {

constexpr Index kRows = 11, kIn = 3, kOut = 2;

Network<double> make_network() {
  Network<double> net({kIn, 4, kOut}, {Activation::tanh, Activation::sigmoid}, Loss::mse);
  net.initialize(Init::small_uniform, 9, 0.5);
  return net;
}

struct Data {
  std::vector<double> X = bpcore_test::uniform<double>(kRows * kIn, 21, -1, 1);
  std::vector<double> Y = bpcore_test::uniform<double>(kRows * kOut, 22, 0, 1);
  std::vector<double> w = bpcore_test::uniform<double>(kRows, 23, 0.1, 2);
};

// An all-reduce among `size` threads: every caller blocks until all have called, then each gets
// the sums over ranks 0 … size-1 (added in rank order, so every rank gets the same bits).
class AllReduce {
 public:
  explicit AllReduce(int size) : size_(size), parts_(std::size_t(size)) {}

  void operator()(int rank, double* data, Index n) {
    std::unique_lock<std::mutex> lock(mutex_);
    parts_[std::size_t(rank)].assign(data, data + n);
    const long round = round_;
    if (++arrived_ == size_) {
      total_.assign(std::size_t(n), 0.0);
      for (const auto& part : parts_)
        for (Index i = 0; i < n; ++i) total_[std::size_t(i)] += part[std::size_t(i)];
      arrived_ = 0;
      ++round_;
      done_.notify_all();
    } else {
      done_.wait(lock, [&] { return round_ != round; });
    }
    std::copy(total_.begin(), total_.end(), data);
  }

 private:
  int size_, arrived_ = 0;
  long round_ = 0;
  std::vector<std::vector<double>> parts_;
  std::vector<double> total_;
  std::mutex mutex_;
  std::condition_variable done_;
};

struct Shard {
  Index offset, rows;
};

// Consecutive shards of the given sizes (which may be uneven or zero).
std::vector<Shard> shards_of(const std::vector<Index>& sizes) {
  std::vector<Shard> out;
  Index offset = 0;
  for (Index n : sizes) {
    out.push_back({offset, n});
    offset += n;
  }
  return out;
}

struct RankRun {
  Network<double> net = make_network();
  std::vector<EpochResult> results;
  std::string error;
};

// Trains `epochs` epochs on every shard at once, one thread per shard. `poll_of(rank)` and
// `fail_on` (the reducer of that rank throws on its 2nd call) inject interruptions and errors.
std::vector<RankRun> train_sharded(const Data& data, const std::vector<Shard>& shards,
                                   const OptimizerConfig& config, EpochOptions options,
                                   bool weighted, Index epochs,
                                   std::function<bool(int)> poll_of = nullptr, int fail_on = -1,
                                   double dropout = 0) {
  const int size = int(shards.size());
  AllReduce all_reduce(size);
  std::vector<RankRun> runs(static_cast<std::size_t>(size));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      RankRun& run = runs[std::size_t(rank)];
      run.net.set_dropout({dropout});
      const Shard s = shards[std::size_t(rank)];
      Optimizer<double> opt(config, run.net.n_params());
      int calls = 0;
      const GradientReducer<double> reduce = [&](double* g, Index n, double* sums, Index ns) {
        if (rank == fail_on && ++calls == 2) {
          // tell the others to stop, as a real reducer's failure would end the job
          sums[2] = 1;
          all_reduce(rank, sums, ns);
          throw std::runtime_error("reducer failed");
        }
        all_reduce(rank, sums, ns);
        if (sums[2] > 0) return;  // stopping: the gradient is not needed
        all_reduce(rank, g, n);
      };
      const std::function<bool()> poll = [&] { return poll_of && poll_of(rank); };
      EpochOptions o = options;
      o.global_rows = kRows;
      o.row_offset = s.offset;
      try {
        for (Index e = 0; e < epochs; ++e) {
          o.epoch = e;
          run.results.push_back(bpcore::train_epoch<double>(
              run.net, opt, data.X.data() + s.offset * kIn, data.Y.data() + s.offset * kOut,
              weighted ? data.w.data() + s.offset : nullptr, s.rows, o, &poll, &reduce));
        }
      } catch (const std::exception& exc) {
        run.error = exc.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return runs;
}

// The same epochs in one process on the whole data.
std::vector<EpochResult> train_whole(Network<double>& net, const Data& data,
                                     const OptimizerConfig& config, EpochOptions options,
                                     bool weighted, Index epochs) {
  Optimizer<double> opt(config, net.n_params());
  std::vector<EpochResult> out;
  for (Index e = 0; e < epochs; ++e) {
    options.epoch = e;
    out.push_back(bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(),
                                              weighted ? data.w.data() : nullptr, kRows, options));
  }
  return out;
}

}  // namespace

TEST_CASE("shards trained together equal one process on the whole data (to rounding)") {
  const Data data;
  const std::vector<std::vector<Index>> splits = {
      {6, 5}, {10, 1}, {4, 0, 7}, {0, 11}, {3, 3, 3, 2}};
  for (const auto& info : bpcore::optimizer_table) {
    // lbfgs and lm run in fullbatch_epoch, which does not train on shards
    if (info.id == bpcore::OptimizerKind::lbfgs || info.id == bpcore::OptimizerKind::lm) continue;
    for (const auto& split : splits) {
      for (Index batch : {1, 4, 0}) {
        for (bool shuffle : {true, false}) {
          for (bool weighted : {false, true}) {
            CAPTURE(info.name);
            CAPTURE(split.size());
            CAPTURE(split[0]);
            CAPTURE(batch);
            CAPTURE(shuffle);
            CAPTURE(weighted);
            OptimizerConfig c;
            c.kind = info.id;
            c.lr = info.id == OptimizerKind::adam ? 0.02 : 0.4;
            c.weight_decay = 0.01;
            EpochOptions o;
            o.batch_size = batch;
            o.shuffle = shuffle;
            o.seed = 4;
            o.n_threads = 1;
            auto whole = make_network();
            const auto expected = train_whole(whole, data, c, o, weighted, 3);
            const auto runs = train_sharded(data, shards_of(split), c, o, weighted, 3);
            for (const auto& run : runs) {
              REQUIRE(run.error.empty());
              REQUIRE(run.results.size() == 3);
              for (std::size_t e = 0; e < 3; ++e) {
                CHECK(run.results[e].status == EpochStatus::ok);
                CHECK(run.results[e].batches == expected[e].batches);
                CHECK(run.results[e].samples == expected[e].samples);
                CHECK(run.results[e].loss == doctest::Approx(expected[e].loss).epsilon(1e-13));
              }
              CHECK(bpcore_test::max_relative_error(run.net.params(), whole.params(),
                                                    whole.n_params(), 1e-3) < 1e-12);
              // every rank applied the same updates: bitwise the same parameters
              CHECK(same_bits(params_of(run.net), params_of(runs[0].net)));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("dropout masks follow the global row: shards with dropout equal one process") {
  const Data data;
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam}) {
    for (const auto& split : std::vector<std::vector<Index>>{{6, 5}, {4, 0, 7}, {3, 3, 3, 2}}) {
      for (Index batch : {1, 4, 0}) {
        for (bool shuffle : {true, false}) {
          CAPTURE(bpcore::optimizer_name(kind));
          CAPTURE(split.size());
          CAPTURE(batch);
          CAPTURE(shuffle);
          OptimizerConfig c;
          c.kind = kind;
          c.lr = kind == OptimizerKind::adam ? 0.02 : 0.4;
          EpochOptions o;
          o.batch_size = batch;
          o.shuffle = shuffle;
          o.seed = 6;
          o.n_threads = 1;
          auto whole = make_network();
          whole.set_dropout({0.5});
          const auto expected = train_whole(whole, data, c, o, false, 3);
          auto plain = make_network();
          train_whole(plain, data, c, o, false, 3);
          // the masks changed the training
          CHECK(bpcore_test::max_relative_error(plain.params(), whole.params(), whole.n_params(),
                                                1e-3) > 1e-6);
          const auto runs = train_sharded(data, shards_of(split), c, o, false, 3, nullptr, -1, 0.5);
          for (const auto& run : runs) {
            REQUIRE(run.error.empty());
            for (std::size_t e = 0; e < 3; ++e)
              CHECK(run.results[e].loss == doctest::Approx(expected[e].loss).epsilon(1e-13));
            CHECK(bpcore_test::max_relative_error(run.net.params(), whole.params(),
                                                  whole.n_params(), 1e-3) < 1e-12);
            CHECK(same_bits(params_of(run.net), params_of(runs[0].net)));
          }
        }
      }
    }
  }
}

TEST_CASE("a stop asked for by one rank's poll stops every rank and restores the epoch start") {
  const Data data;
  OptimizerConfig c;
  c.kind = OptimizerKind::momentum;
  c.lr = 0.3;
  EpochOptions o;
  o.batch_size = 2;
  int calls_rank1 = 0;
  const auto start = params_of(make_network());
  // rank 1 asks to stop at its 4th batch of the first epoch
  const auto runs = train_sharded(data, shards_of({5, 6}), c, o, false, 1,
                                  [&](int rank) { return rank == 1 && ++calls_rank1 == 4; });
  for (const auto& run : runs) {
    REQUIRE(run.results.size() == 1);
    CHECK(run.results[0].status == EpochStatus::interrupted);
    CHECK(run.results[0].batches == 3);
    CHECK(same_bits(params_of(run.net), start));
  }
}

TEST_CASE("a NaN in one shard makes every rank report nonfinite and roll back") {
  Data data;
  data.X[std::size_t(8 * kIn + 1)] = std::numeric_limits<double>::quiet_NaN();  // row 8: rank 1
  OptimizerConfig c;
  c.lr = 0.3;
  EpochOptions o;
  o.batch_size = 3;
  const auto start = params_of(make_network());
  const auto runs = train_sharded(data, shards_of({6, 5}), c, o, false, 1);
  for (const auto& run : runs) {
    REQUIRE(run.results.size() == 1);
    CHECK(run.results[0].status == EpochStatus::nonfinite);
    CHECK(same_bits(params_of(run.net), start));
  }
}

TEST_CASE("an exception from the reducer rolls the epoch back and passes on") {
  const Data data;
  OptimizerConfig c;
  c.lr = 0.3;
  EpochOptions o;
  o.batch_size = 2;
  const auto start = params_of(make_network());
  const auto runs = train_sharded(data, shards_of({6, 5}), c, o, false, 1, nullptr, 0);
  CHECK(runs[0].error == "reducer failed");
  CHECK(runs[0].results.empty());
  REQUIRE(runs[1].results.size() == 1);
  CHECK(runs[1].results[0].status == EpochStatus::interrupted);
  for (const auto& run : runs) CHECK(same_bits(params_of(run.net), start));
}

TEST_CASE("sharded epochs reject inconsistent arguments") {
  const Data data;
  auto net = make_network();
  Optimizer<double> opt(OptimizerConfig{}, net.n_params());
  const GradientReducer<double> alone = [](double*, Index, double*, Index) {};
  EpochOptions o;
  o.global_rows = kRows;
  // sharded without a reducer
  CHECK_THROWS_WITH_AS(
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, 5, o),
      doctest::Contains("reducer"), ArgumentError);
  // a shard that runs past global_rows
  o.row_offset = 8;
  CHECK_THROWS_WITH_AS(bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr,
                                                   5, o, nullptr, &alone),
                       doctest::Contains("global_rows"), ArgumentError);
  o.row_offset = -1;
  CHECK_THROWS_AS(bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, 5, o,
                                              nullptr, &alone),
                  ArgumentError);
  // an empty shard is allowed when sharded, never alone
  o.row_offset = 0;
  CHECK(bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, 0, o, nullptr,
                                    &alone)
            .status == EpochStatus::ok);
  EpochOptions alone_options;
  CHECK_THROWS_AS(bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, 0,
                                              alone_options),
                  ArgumentError);
}
