// HTTP response compression for the long-polling transport, as engine.io's polling transport
// does it: gzip or deflate (zlib format), chosen from the request's Accept-Encoding the way the
// `accepts`/`negotiator` packages choose between ["gzip", "deflate"]. Pure functions over bytes
// (zlib, no I/O); any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace socketio::net {

enum class ContentCoding : unsigned char { identity, gzip, deflate };

// "gzip" / "deflate" (the Content-Encoding value); "" for identity.
std::string_view coding_name(ContentCoding c) noexcept;

// The coding to answer with: the highest-q of gzip/deflate the header accepts (exact names
// before "*", then the header's order, then gzip first); identity when it accepts neither, or
// when there is no header (negotiator treats a missing Accept-Encoding as identity only).
ContentCoding negotiate_coding(std::optional<std::string_view> accept_encoding);

// Compresses in (whole body, zlib's default level, as Node's createGzip/createDeflate) into out.
// False (out unspecified) if zlib fails.
bool compress_body(ContentCoding coding, std::string_view in, std::string& out);

}  // namespace socketio::net
