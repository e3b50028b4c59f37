// libFuzzer target for the forwarding messages nodes exchange over Redis
// (src/adapter/cluster/forward_message.cpp): what decodes re-encodes to the same bytes, and no
// input makes the decoder read past its end. Built by scripts/fuzz.sh.
#include "adapter/cluster/forward_message.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto m = socketio::cluster::decode_forward_message(input);
  if (!m) return 0;
  if (socketio::cluster::encode(*m) != input) {
    std::fprintf(stderr, "invariant broken: a decoded message does not re-encode to its bytes\n");
    std::abort();
  }
  return 0;
}
