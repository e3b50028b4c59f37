#include "core/base64.hpp"

#include <openssl/evp.h>

namespace socketio::core {

void base64_encode(std::string_view in, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + 4 * ((in.size() + 2) / 3) + 1);
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + start),
                      reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(start + static_cast<std::size_t>(n));
}

std::string base64_encode(std::string_view in) {
  std::string out;
  base64_encode(in, out);
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const bool alpha =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=') {
      if (i + 2 < in.size()) return std::nullopt;  // '=' only in the last two places
      ++pad;
    } else if (!alpha || pad != 0) {
      return std::nullopt;
    }
  }
  std::string out(3 * (in.size() / 4), '\0');
  if (in.empty()) return out;
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

}  // namespace socketio::core
