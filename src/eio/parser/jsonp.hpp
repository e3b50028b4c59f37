// JSONP polling (engine.io's polling-jsonp transport, used by socket.io-client 2.x browsers when
// XHR cannot be used; the `j` query parameter): GET answers are a script call
// `___eio[<j digits>]("<payload as a JavaScript string>");`, POSTs arrive form-encoded as
// `d=<payload>` with its newlines escaped. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace socketio::eio {

// The digits of the `j` parameter (everything else dropped, as the reference does).
std::string jsonp_index(std::string_view j);

// `___eio[<index>](<JSON.stringify(payload)>);` with U+2028/U+2029 escaped too (valid JavaScript).
std::string jsonp_wrap(std::string_view index, std::string_view payload);

// The payload of a JSONP POST body: the `d` field of the form (percent-decoded, '+' as space),
// with `\n` turned back into newlines and `\\n` into `\n`. nullopt when there is no single `d`
// field or its encoding is invalid (the reference then ignores the POST).
std::optional<std::string> jsonp_unwrap_post(std::string_view form_body);

}  // namespace socketio::eio
