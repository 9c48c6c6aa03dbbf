// STUB: owned by a parallel work stream; replaced by the real implementation.
#include <stdexcept>
#include "ratrace/corpus_reader.hpp"
namespace ratrace {
std::string_view dtype_name(AttnDtype) { throw std::logic_error("stub"); }
std::size_t dtype_size(AttnDtype) { throw std::logic_error("stub"); }
struct CorpusReader::Impl {};
CorpusReader::CorpusReader(const std::string&) { throw std::logic_error("corpus reader not built yet"); }
CorpusReader::~CorpusReader() = default;
CorpusReader::CorpusReader(CorpusReader&&) noexcept = default;
CorpusReader& CorpusReader::operator=(CorpusReader&&) noexcept = default;
const std::string& CorpusReader::path() const { throw std::logic_error("stub"); }
const std::vector<SequenceInfo>& CorpusReader::sequences() const { throw std::logic_error("stub"); }
std::optional<std::int64_t> CorpusReader::bos_token_id() const { throw std::logic_error("stub"); }
std::optional<std::string> CorpusReader::model() const { throw std::logic_error("stub"); }
void CorpusReader::read_heads(int, int, int, int, float*) const { throw std::logic_error("stub"); }
void CorpusReader::read_heads_raw(int, int, int, int, void*) const { throw std::logic_error("stub"); }
std::vector<std::int64_t> CorpusReader::read_token_ids(int) const { throw std::logic_error("stub"); }
std::vector<std::string> CorpusReader::read_tokens(int) const { throw std::logic_error("stub"); }
std::vector<std::uint8_t> CorpusReader::read_mask(int) const { throw std::logic_error("stub"); }
std::string CorpusReader::dataset_label(int, std::string_view) const { throw std::logic_error("stub"); }
}  // namespace ratrace
