// The TLS handshakes one shard runs at once, shared fairly between client addresses.
//
// A handshake costs the server a private-key operation and a few KiB of state, so a shard runs at
// most `capacity` at once. A plain cap lets one address take every slot: a flood of TLS
// connections from one host (each a legitimate-looking ClientHello) would then shut out every
// other client for as long as it keeps the slots filled. So when the slots are full, a handshake
// from an address that holds fewer of them than the biggest holder takes the biggest holder's
// oldest slot (that handshake is abandoned: its connection is closed); only a handshake from the
// biggest holder itself is refused. One address alone may still use every slot.
//
// One instance per shard, used by that shard's thread only: no lock. Pure (no Asio): the holder of
// a slot is told through HandshakeSlots::Holder.
#pragma once

#include "net/address_limits.hpp"

#include <cstddef>
#include <list>
#include <unordered_map>

namespace socketio::net {

class HandshakeSlots {
 public:
  using Key = AddressLimits::Key;

  // What holds a slot: told when its slot is taken by another address's handshake.
  class Holder {
   public:
    virtual void slot_taken() = 0;

   protected:
    ~Holder() = default;
  };

  // One slot; destroying it (or release()) gives it back. Move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { take(other); }
    Ticket& operator=(Ticket&& other) noexcept {
      if (this != &other) {
        release();
        take(other);
      }
      return *this;
    }
    ~Ticket() { release(); }
    explicit operator bool() const noexcept { return owner_ != nullptr; }
    void release() noexcept;

   private:
    friend class HandshakeSlots;
    void take(Ticket& other) noexcept;

    HandshakeSlots* owner_ = nullptr;
    Holder* holder_ = nullptr;
    Key key_{};
    std::list<Ticket*>::iterator it_{};
  };

  enum class Outcome : std::uint8_t { admitted, admitted_by_taking, refused };

  explicit HandshakeSlots(std::size_t capacity) : capacity_(capacity) {}
  HandshakeSlots(const HandshakeSlots&) = delete;
  HandshakeSlots& operator=(const HandshakeSlots&) = delete;
  ~HandshakeSlots();

  // A slot for a new handshake from key, held by holder; an empty ticket when refused. When the
  // slots are full, may take one from the address holding the most (its holder is told).
  Ticket admit(const Key& key, Holder& holder, Outcome& outcome);

  std::size_t in_progress() const noexcept { return in_progress_; }
  std::size_t addresses() const noexcept { return by_address_.size(); }
  std::size_t held_by(const Key& key) const noexcept;

 private:
  void erase(const Key& key, std::list<Ticket*>::iterator it) noexcept;
  bool take_from_biggest(const Key& newcomer);

  const std::size_t capacity_;
  std::size_t in_progress_ = 0;
  // Per address, its tickets oldest first.
  std::unordered_map<Key, std::list<Ticket*>, AddressLimits::KeyHash> by_address_;
};

}  // namespace socketio::net
