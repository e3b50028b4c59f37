// libFuzzer target for the forwarding messages nodes exchange over Redis
// (src/adapter/cluster/forward_message.cpp): what decodes re-encodes to the same bytes, and no
// input makes the decoder read past its end. Built by scripts/fuzz.sh.
#include "adapter/cluster/forward_message.hpp"
#include "fuzz_check.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto m = socketio::cluster::decode_forward_message(input);
  if (!m) return 0;
  socketio::fuzz::check(socketio::cluster::encode(*m) == input, "a decoded message re-encodes to its bytes");
  return 0;
}
