// The CPU reference engine: reads each matrix once (one head at a time, on the calling thread),
// builds its candidate table, then runs the beam searches of many matrices at once.
//
// Determinism: every unit of parallel work writes only its own slot (a row block of a table, a
// profile, one job's paths), and results are appended in plan order afterwards, so the output is
// the same for any thread count. Memory: one head buffer (plus the mean/max accumulators when an
// aggregate is traced) and the small candidate tables of the matrices waiting for their jobs.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "ratrace/beam_search.hpp"
#include "ratrace/candidate_table.hpp"
#include "ratrace/engine.hpp"
#include "reference/aggregate.hpp"
#include "reference/candidate_rows.hpp"
#include "util/parallel_for.hpp"
#include "util/stopwatch.hpp"

namespace ratrace {
namespace {

constexpr int kRowsPerTask = 64;                                  // rows of one matrix per task
// The jobs of several matrices (across layers and sequences) run as one batch, so that short
// target lists still fill the threads; a batch is run when its tables or job count reach these.
constexpr std::size_t kMaxPendingTableBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxPendingJobs = 4096;

// A traced matrix whose table is built and whose jobs have not run yet.
struct PendingMatrix {
  const SequencePlan* seq = nullptr;
  int layer = 0;
  int head = 0;  // or kHeadMean / kHeadMax
  CandidateTable table;
};

class CpuEngine final : public Engine {
 public:
  explicit CpuEngine(int threads) : pool_(threads) {}

  std::string device_description() const override {
    return fmt::format("cpu ({} thread{})", pool_.size(), pool_.size() == 1 ? "" : "s");
  }

  RunReport run(const CorpusReader& reader, const TracePlan& plan, const SearchParams& params, BatchSink& sink,
                const ProgressFn& progress) override {
    const auto start = std::chrono::steady_clock::now();
    params.validate();
    Run run{reader, plan, params, sink, progress, pool_, {}, {}, {}, 0, 0, {}};
    run.total_matrices = plan.num_matrices();
    for (const SequencePlan& seq : plan.sequences) run.trace_sequence(seq);
    run.flush();
    EngineTimes& t = run.times;
    t.total_s = seconds_since(start);
    t.compute_s = std::max(0.0, t.total_s - t.read_s - t.deliver_s);  // everything else is the tracing
    return RunReport{run.row_sums, t};
  }

 private:
  // The state of one run().
  struct Run {
    const CorpusReader& reader;
    const TracePlan& plan;
    const SearchParams& params;
    BatchSink& sink;
    const ProgressFn& progress;
    ThreadPool& pool;
    RowSumTally row_sums;
    std::vector<PendingMatrix> pending;
    std::vector<AttentionProfile> pending_profiles;  // of the matrices traced since the last flush
    std::int64_t done_matrices;
    std::int64_t total_matrices;
    EngineTimes times;

    void trace_sequence(const SequencePlan& seq) {
      const std::vector<SequenceInfo>& infos = reader.sequences();
      if (seq.seq_index < 0 || seq.seq_index >= static_cast<int>(infos.size()))
        throw std::invalid_argument(fmt::format("plan: sequence index {} is outside [0, {})", seq.seq_index,
                                                infos.size()));
      const SequenceInfo& info = infos[seq.seq_index];
      if (seq.seq_len != info.seq_len)
        throw std::invalid_argument(fmt::format("plan: sequence '{}' has length {}, the plan says {}", info.name,
                                                info.seq_len, seq.seq_len));
      const auto check_size = [&](const std::vector<std::uint8_t>& v, const char* what) {
        if (!v.empty() && v.size() != static_cast<std::size_t>(seq.seq_len))
          throw std::invalid_argument(fmt::format("plan: {} of sequence '{}' has {} entries, expected {}", what,
                                                  info.name, v.size(), seq.seq_len));
      };
      check_size(seq.key_mask, "key_mask");
      check_size(seq.is_bos, "is_bos");
      for (const int t : seq.targets)
        if (t < 0 || t >= seq.seq_len)
          throw std::invalid_argument(
              fmt::format("plan: target {} of sequence '{}' is outside [0, {})", t, info.name, seq.seq_len));
      for (const int layer : seq.layers) {
        if (layer < 0 || layer >= info.num_layers)
          throw std::invalid_argument(
              fmt::format("plan: layer {} of sequence '{}' is outside [0, {})", layer, info.name, info.num_layers));
        trace_layer(seq, info, layer);
      }
    }

    // Reads the heads this layer needs and adds one pending matrix per planned head, in plan order.
    void trace_layer(const SequencePlan& seq, const SequenceInfo& info, int layer) {
      const int S = seq.seq_len;
      const bool want_mean = std::find(seq.heads.begin(), seq.heads.end(), kHeadMean) != seq.heads.end();
      const bool want_max = std::find(seq.heads.begin(), seq.heads.end(), kHeadMax) != seq.heads.end();
      for (const int h : seq.heads)
        if (h != kHeadMean && h != kHeadMax && (h < 0 || h >= info.num_heads))
          throw std::invalid_argument(
              fmt::format("plan: head {} of sequence '{}' is outside [0, {})", h, info.name, info.num_heads));

      const std::size_t first_slot = pending.size();
      for (const int h : seq.heads) pending.push_back(PendingMatrix{&seq, layer, h, CandidateTable(S, params.top_k)});
      std::vector<AttentionProfile> profiles(seq.heads.size());
      for (std::size_t s = 0; s < seq.heads.size(); ++s)
        profiles[s] = AttentionProfile{seq.seq_index, layer, seq.heads[s], {}, {}};

      std::unique_ptr<HeadAggregate> aggregate;
      if (want_mean || want_max) aggregate = std::make_unique<HeadAggregate>(S, want_mean, want_max);
      std::vector<float> buffer(static_cast<std::size_t>(S) * S);
      const std::string label = reader.dataset_label(seq.seq_index, "attention");

      for (const int h : seq.heads_read(info.num_heads)) {
        {
          const PhaseTimer reading(times.read_s);
          reader.read_heads(seq.seq_index, layer, h, 1, buffer.data());
        }
        check_attention_values(buffer.data(), S, fmt::format("{} layer {} head {}", label, layer, h), row_sums);
        std::vector<std::function<void()>> tasks;
        if (aggregate) add_row_tasks(tasks, S, [&, data = buffer.data()](int b, int e) { aggregate->add_rows(data, b, e); });
        for (std::size_t s = 0; s < seq.heads.size(); ++s)
          if (seq.heads[s] == h) add_trace_tasks(tasks, buffer.data(), seq, pending[first_slot + s], profiles[s]);
        run_tasks(tasks);
      }
      if (aggregate) {
        buffer.clear();
        buffer.shrink_to_fit();
        for (std::size_t s = 0; s < seq.heads.size(); ++s) {
          if (seq.heads[s] != kHeadMean && seq.heads[s] != kHeadMax) continue;
          const std::vector<float> matrix =
              seq.heads[s] == kHeadMean ? aggregate->mean(info.num_heads) : aggregate->max();
          std::vector<std::function<void()>> tasks;
          add_trace_tasks(tasks, matrix.data(), seq, pending[first_slot + s], profiles[s]);
          run_tasks(tasks);
        }
      }
      pending_profiles.insert(pending_profiles.end(), profiles.begin(), profiles.end());

      std::size_t table_bytes = 0, jobs = 0;
      for (const PendingMatrix& m : pending) {
        table_bytes += static_cast<std::size_t>(m.table.seq_len()) * m.table.top_k() * sizeof(Candidate);
        jobs += m.seq->targets.size();
      }
      if (table_bytes >= kMaxPendingTableBytes || jobs >= kMaxPendingJobs) flush();
    }

    // Row-block tasks over [0, S), so one matrix is shared among threads.
    static void add_row_tasks(std::vector<std::function<void()>>& tasks, int S,
                              const std::function<void(int, int)>& rows) {
      for (int b = 0; b < S; b += kRowsPerTask) {
        const int e = std::min(S, b + kRowsPerTask);
        tasks.push_back([rows, b, e] { rows(b, e); });
      }
    }

    void add_trace_tasks(std::vector<std::function<void()>>& tasks, const float* matrix, const SequencePlan& seq,
                         PendingMatrix& m, AttentionProfile& profile) const {
      const int S = seq.seq_len;
      tasks.push_back([matrix, S, &profile] { accumulate_attention_profile(matrix, S, profile); });
      const std::uint8_t* mask = seq.key_mask.empty() ? nullptr : seq.key_mask.data();
      const double min_attn = params.min_attn;
      add_row_tasks(tasks, S, [matrix, S, mask, min_attn, &m](int b, int e) {
        build_candidate_rows(matrix, S, mask, min_attn, b, e, m.table);
      });
    }

    void run_tasks(const std::vector<std::function<void()>>& tasks) {
      pool.parallel_for(static_cast<std::int64_t>(tasks.size()), [&](std::int64_t i) { tasks[i](); });
    }

    // Runs every job of the pending matrices, hands their paths to the sink in plan order, reports
    // progress.
    void flush() {
      struct Job {
        std::size_t matrix;
        int target;
      };
      std::vector<Job> jobs;
      for (std::size_t m = 0; m < pending.size(); ++m)
        for (const int t : pending[m].seq->targets) jobs.push_back(Job{m, t});
      std::vector<std::vector<PathResult>> paths(jobs.size());
      pool.parallel_for(static_cast<std::int64_t>(jobs.size()), [&](std::int64_t k) {
        const PendingMatrix& m = pending[jobs[k].matrix];
        const std::uint8_t* is_bos = m.seq->is_bos.empty() ? nullptr : m.seq->is_bos.data();
        paths[k] = beam_search(m.table.ref(), jobs[k].target, is_bos, params);
      });
      TraceBatch batch = sink.spare();
      batch.profiles.swap(pending_profiles);  // pending_profiles takes the spare's empty one
      std::size_t k = 0;
      for (const PendingMatrix& m : pending) {
        for (const int t : m.seq->targets) {
          batch.results.append(JobKey{m.seq->seq_index, m.layer, m.head, t}, paths[k]);
          std::vector<PathResult>().swap(paths[k]);  // release as we go
          ++k;
        }
      }
      const auto matrices = static_cast<std::int64_t>(pending.size());
      pending.clear();
      if (!batch.results.jobs.empty() || !batch.profiles.empty()) {
        const PhaseTimer delivering(times.deliver_s);
        sink.consume(std::move(batch));
      }
      for (std::int64_t m = 0; m < matrices; ++m)
        if (++done_matrices; progress) progress(done_matrices, total_matrices);
    }
  };

  ThreadPool pool_;
};

}  // namespace

std::unique_ptr<Engine> make_cpu_engine(int threads) { return std::make_unique<CpuEngine>(threads); }

}  // namespace ratrace
