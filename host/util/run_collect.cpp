#include <utility>

#include "ratrace/engine.hpp"

namespace ratrace {

void RecyclingSink::consume(TraceBatch&& batch) {
  read_(batch);
  batch.results.clear();  // keeps the arrays' memory for the engine's next fill
  batch.profiles.clear();
  spare_ = std::move(batch);
}

TraceBatch RecyclingSink::spare() { return std::exchange(spare_, TraceBatch{}); }

TraceOutput run_collect(Engine& engine, const CorpusReader& reader, const TracePlan& plan, const SearchParams& params,
                        const ProgressFn& progress) {
  TraceOutput out;
  RecyclingSink collect([&out](const TraceBatch& batch) {
    out.results.append(batch.results);
    out.profiles.insert(out.profiles.end(), batch.profiles.begin(), batch.profiles.end());
  });
  out.row_sums = engine.run(reader, plan, params, collect, progress).row_sums;
  return out;
}

}  // namespace ratrace
