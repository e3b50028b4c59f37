#include "net/handshake_slots.hpp"

namespace socketio::net {

void HandshakeSlots::Ticket::release() noexcept {
  if (owner_ == nullptr) return;
  owner_->erase(key_, it_);
  owner_ = nullptr;
}

void HandshakeSlots::Ticket::take(Ticket& other) noexcept {
  owner_ = other.owner_;
  holder_ = other.holder_;
  key_ = other.key_;
  it_ = other.it_;
  if (owner_ != nullptr) *it_ = this;  // the list points at the ticket, wherever it moved
  other.owner_ = nullptr;
}

HandshakeSlots::~HandshakeSlots() {
  // Tickets outliving the table must not touch it.
  for (auto& [key, tickets] : by_address_)
    for (Ticket* t : tickets) t->owner_ = nullptr;
}

std::size_t HandshakeSlots::held_by(const Key& key) const noexcept {
  const auto it = by_address_.find(key);
  return it == by_address_.end() ? 0 : it->second.size();
}

void HandshakeSlots::erase(const Key& key, std::list<Ticket*>::iterator it) noexcept {
  const auto entry = by_address_.find(key);
  entry->second.erase(it);
  if (entry->second.empty()) by_address_.erase(entry);
  --in_progress_;
}

bool HandshakeSlots::take_from_biggest(const Key& newcomer) {
  // Linear in the addresses holding slots (at most capacity_), and only when the slots are full:
  // cheap next to the handshake it makes room for.
  auto biggest = by_address_.end();
  for (auto it = by_address_.begin(); it != by_address_.end(); ++it)
    if (biggest == by_address_.end() || it->second.size() > biggest->second.size()) biggest = it;
  if (biggest == by_address_.end()) return false;
  // The newcomer must hold fewer than the biggest even after it is admitted; otherwise it is
  // (one of) the biggest, and its own handshake is the one refused.
  if (held_by(newcomer) + 1 >= biggest->second.size()) return false;
  Ticket* victim = biggest->second.front();
  Holder* holder = victim->holder_;
  victim->owner_ = nullptr;
  biggest->second.pop_front();
  if (biggest->second.empty()) by_address_.erase(biggest);
  --in_progress_;
  holder->slot_taken();
  return true;
}

HandshakeSlots::Ticket HandshakeSlots::admit(const Key& key, Holder& holder, Outcome& outcome) {
  outcome = Outcome::admitted;
  if (in_progress_ >= capacity_) {
    if (capacity_ == 0 || !take_from_biggest(key)) {
      outcome = Outcome::refused;
      return {};
    }
    outcome = Outcome::admitted_by_taking;
  }
  Ticket t;
  auto& tickets = by_address_[key];
  tickets.push_back(&t);
  t.owner_ = this;
  t.holder_ = &holder;
  t.key_ = key;
  t.it_ = std::prev(tickets.end());
  ++in_progress_;
  return t;  // NRVO or the move constructor re-points the list entry
}

}  // namespace socketio::net
