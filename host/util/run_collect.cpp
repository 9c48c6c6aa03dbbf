#include "ratrace/engine.hpp"

namespace ratrace {

TraceOutput run_collect(Engine& engine, const CorpusReader& reader, const TracePlan& plan, const SearchParams& params,
                        const ProgressFn& progress) {
  TraceOutput out;
  BatchSink gather([&out](TraceBatch&& batch) {
    out.results.append(batch.results);
    out.profiles.insert(out.profiles.end(), batch.profiles.begin(), batch.profiles.end());
  });
  out.row_sums = engine.run(reader, plan, params, gather, progress).row_sums;
  return out;
}

}  // namespace ratrace
