#include "core/inline_callback.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <utility>

using socketio::core::InlineCallback;
using Callback = InlineCallback<48>;

TEST(InlineCallback, EmptyUntilGivenACallable) {
  Callback c;
  EXPECT_FALSE(c);
  Callback n = nullptr;
  EXPECT_FALSE(n);
  int calls = 0;
  c = [&calls] { ++calls; };
  ASSERT_TRUE(c);
  c();
  c();
  EXPECT_EQ(calls, 2);
  c = nullptr;
  EXPECT_FALSE(c);
}

// What it holds is owned like std::function's: copied, moved and destroyed with it, once.
TEST(InlineCallback, OwnsWhatItCaptures) {
  auto shared = std::make_shared<int>(7);
  std::weak_ptr<int> weak = shared;
  int seen = 0;
  {
    Callback a = [shared, &seen] { seen = *shared; };
    EXPECT_EQ(shared.use_count(), 2);
    Callback b = a;  // a copy: one more owner
    EXPECT_EQ(shared.use_count(), 3);
    Callback c = std::move(a);  // a move: the same owners
    EXPECT_FALSE(a);            // NOLINT: moved-from is empty, by contract
    EXPECT_EQ(shared.use_count(), 3);
    b = std::move(c);  // b's own capture is destroyed
    EXPECT_EQ(shared.use_count(), 2);
    b();
    EXPECT_EQ(seen, 7);
    b = b;  // NOLINT: self-assignment keeps it
    EXPECT_EQ(shared.use_count(), 2);
  }
  EXPECT_EQ(shared.use_count(), 1);
  shared.reset();
  EXPECT_TRUE(weak.expired());
}

// The held poll's abort callback (eio/session.cpp): a weak_ptr and three words fit.
TEST(InlineCallback, TheSessionsAbortCallbackFits) {
  auto owner = std::make_shared<int>(1);
  int* raw = owner.get();
  void* pool = nullptr;
  std::size_t shard = 3;
  bool ran = false;
  Callback c = [w = std::weak_ptr<int>(owner), raw, pool, shard, &ran] {
    ran = !w.expired() && raw && !pool && shard == 3;
  };
  static_assert(sizeof(std::weak_ptr<int>) + 3 * sizeof(void*) <= 48);
  std::function<void()> f = c;  // copyable, so it can be posted where a std::function is wanted
  f();
  EXPECT_TRUE(ran);
}
