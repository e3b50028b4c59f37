// Checks shared by the fuzz targets of the Redis adapter's decoders (redis_message, redis_stream):
// an invariant that breaks aborts, so that libFuzzer keeps the input.
#pragma once

#include "adapter/redis/msgpack_codec.hpp"
#include "fuzz_check.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>

namespace socketio::fuzz {

// Every placeholder names an existing attachment (the decoders drop the others).
inline void check_placeholders(const boost::json::value& v, std::size_t attachments) {
  if (v.is_array()) {
    for (const auto& e : v.get_array()) check_placeholders(e, attachments);
    return;
  }
  if (!v.is_object()) return;
  const auto& o = v.get_object();
  const auto* flag = o.if_contains("_placeholder");
  if (attachments > 0 && flag && flag->is_bool() && flag->get_bool() && o.size() == 2 && o.contains("num")) {
    check(redis::checked_uint(o.if_contains("num"), attachments - 1).has_value(),
          "placeholder names an attachment");
    return;
  }
  for (const auto& kv : o) check_placeholders(kv.value(), attachments);
}

}  // namespace socketio::fuzz
