// Event arguments: a JSON array in which binary values are placeholders
// ({"_placeholder":true,"num":i}) referring to attachments[i]. This is the wire representation
// of Socket.IO v5, so an event is relayed or broadcast without rebuilding anything. A value
// type; not synchronized (copy it to hand it to another thread; attachments are shared and
// immutable, so copies are cheap).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace socketio {

using Bytes = std::shared_ptr<const std::string>;  // immutable binary payload

class Args {
 public:
  Args() = default;
  Args(boost::json::array values, std::vector<Bytes> attachments)
      : values_(std::move(values)), attachments_(std::move(attachments)) {}

  // Builders: Args().add("room").add(42).add_binary("\x01\x02")
  Args& add(boost::json::value v) {
    values_.push_back(std::move(v));
    return *this;
  }
  // A std::string (boost::json::value has no constructor from it); literals, numbers, bools,
  // nullptr, string_views and JSON values go through the overload above.
  template <class S>
  requires std::same_as<std::remove_cvref_t<S>, std::string> Args& add(S&& s) {
    return add(boost::json::value(boost::json::string_view(s.data(), s.size())));
  }
  Args& add_binary(std::string bytes) {
    return add_binary(std::make_shared<const std::string>(std::move(bytes)));
  }
  Args& add_binary(Bytes bytes);
  // A JSON value that may itself contain placeholders for binary added with attach().
  boost::json::value attach(Bytes bytes);

  std::size_t size() const noexcept { return values_.size(); }
  bool empty() const noexcept { return values_.empty(); }
  const boost::json::value& operator[](std::size_t i) const { return values_[i]; }

  // The binary payload a value stands for (a placeholder), or nullptr.
  const Bytes* binary(const boost::json::value& v) const noexcept;
  const Bytes* binary_at(std::size_t i) const noexcept { return i < size() ? binary(values_[i]) : nullptr; }
  bool is_binary(std::size_t i) const noexcept { return binary_at(i) != nullptr; }
  // The i-th value as a string, or empty when it is not one.
  std::string_view string_at(std::size_t i) const noexcept;

  const boost::json::array& values() const noexcept { return values_; }
  boost::json::array& values() noexcept { return values_; }
  const std::vector<Bytes>& attachments() const noexcept { return attachments_; }
  std::vector<Bytes>& attachments() noexcept { return attachments_; }

  // Removes the first n values (e.g. the room of "chat message" before relaying the rest).
  void drop_front(std::size_t n = 1);

 private:
  boost::json::array values_;
  std::vector<Bytes> attachments_;
};

}  // namespace socketio
