// libFuzzer target for what the node registry reads back from Redis (a node's record, JSON,
// src/adapter/cluster/node_record.cpp) and the public-URL check it applies to the URL inside.
// Invariants: a record that decodes re-encodes and decodes to the same record, within the size
// bounds; its URL passes the check. Built by scripts/fuzz.sh.
#include "adapter/cluster/node_record.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using socketio::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace socketio::cluster;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string why;
  check_public_url(input, &why);
  const auto record = decode_node_record(input, &why);
  if (!record) return 0;
  check(input.size() <= kMaxRecordBytes, "decoded an oversized record");
  check(!record->id.empty() && record->id.size() <= kMaxIdBytes, "id within bounds");
  check(check_public_url(record->url), "url passes the check");
  check(record->weight <= kMaxNodeWeight && record->load <= 100, "numbers within bounds");
  const auto again = decode_node_record(encode(*record));
  check(again.has_value(), "re-encoded record decodes");
  check(again->id == record->id && again->url == record->url && again->clients == record->clients &&
            again->load == record->load && again->weight == record->weight &&
            again->started == record->started && again->updated == record->updated,
        "round trip keeps every field");
  return 0;
}
