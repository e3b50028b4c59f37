#include "socketio/args.hpp"

#include "sio/parser/packet.hpp"

namespace socketio {

Args& Args::add_binary(Bytes bytes) {
  values_.push_back(attach(std::move(bytes)));
  return *this;
}

boost::json::value Args::attach(Bytes bytes) {
  attachments_.push_back(std::move(bytes));
  return sio::make_placeholder(attachments_.size() - 1);
}

const Bytes* Args::binary(const boost::json::value& v) const noexcept {
  std::size_t num = 0;
  if (attachments_.empty() || !sio::is_placeholder(v, num) || num >= attachments_.size()) return nullptr;
  return &attachments_[num];
}

std::string_view Args::string_at(std::size_t i) const noexcept {
  if (i >= values_.size() || !values_[i].is_string()) return {};
  const auto& s = values_[i].get_string();
  return std::string_view(s.data(), s.size());
}

void Args::drop_front(std::size_t n) {
  if (n >= values_.size()) {
    values_.clear();
    return;
  }
  values_.erase(values_.begin(), values_.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace socketio
