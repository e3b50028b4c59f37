// The slow-client policy (eio/outbox): when a client is over the high-water mark, when it times
// out, the hard limit, and what is counted.
#include "eio/outbox.hpp"

#include <gtest/gtest.h>

namespace {

using socketio::eio::OutboxLimits;
using socketio::eio::OutboxPolicy;
using socketio::eio::OutboxStats;
using V = OutboxPolicy::Verdict;
using std::chrono::milliseconds;

// The policy's counters, read back from a registry of their own.
struct Counted {
  socketio::Metrics metrics{1};
  OutboxStats stats{metrics};
  double over() const { return metrics.value("socketio_outbox_over_high_water_total"); }
  double slow() const {
    return metrics.value("socketio_slow_client_disconnects_total", {{"limit", "slow_client_timeout"}});
  }
  double overflow() const {
    return metrics.value("socketio_slow_client_disconnects_total", {{"limit", "hard_limit"}});
  }
};

TEST(OutboxPolicy, UnderTheHighWaterNothingHappens) {
  OutboxLimits limits{1000, milliseconds(500), 10'000};
  Counted c;
  OutboxPolicy p(limits, c.stats);
  const auto t0 = OutboxPolicy::Clock::now();
  EXPECT_EQ(p.check(1000, t0), V::ok);
  EXPECT_EQ(p.check(0, t0 + milliseconds(10'000)), V::ok);
  EXPECT_FALSE(p.over_high_water(1000));
  EXPECT_TRUE(p.over_high_water(1001));
  EXPECT_EQ(c.over(), 0.0);
}

TEST(OutboxPolicy, OverTheHighWaterForTheTimeoutDisconnects) {
  OutboxLimits limits{1000, milliseconds(500), 10'000};
  Counted c;
  OutboxPolicy p(limits, c.stats);
  const auto t0 = OutboxPolicy::Clock::now();
  EXPECT_EQ(p.check(1001, t0), V::arm_timer);
  EXPECT_EQ(p.deadline(), t0 + milliseconds(500));
  EXPECT_EQ(p.check(5000, t0 + milliseconds(499)), V::arm_timer);
  EXPECT_EQ(p.check(5000, t0 + milliseconds(500)), V::disconnect);
  EXPECT_TRUE(p.slow());
  EXPECT_EQ(c.over(), 1.0);
  EXPECT_EQ(c.slow(), 1.0);
}

TEST(OutboxPolicy, GoingBackUnderRestartsTheClock) {
  OutboxLimits limits{1000, milliseconds(500), 10'000};
  Counted c;
  OutboxPolicy p(limits, c.stats);
  const auto t0 = OutboxPolicy::Clock::now();
  EXPECT_EQ(p.check(2000, t0), V::arm_timer);
  EXPECT_EQ(p.check(10, t0 + milliseconds(400)), V::ok);
  EXPECT_EQ(p.check(2000, t0 + milliseconds(600)), V::arm_timer);
  EXPECT_EQ(p.deadline(), t0 + milliseconds(1100));
  EXPECT_EQ(p.check(2000, t0 + milliseconds(1000)), V::arm_timer);
  EXPECT_EQ(c.over(), 2.0);
  EXPECT_EQ(c.slow(), 0.0);
}

TEST(OutboxPolicy, OverTheHardLimitDisconnectsAtOnce) {
  OutboxLimits limits{1000, milliseconds(500), 10'000};
  Counted c;
  OutboxPolicy p(limits, c.stats);
  EXPECT_EQ(p.check(10'001, OutboxPolicy::Clock::now()), V::disconnect);
  EXPECT_FALSE(p.slow());
  EXPECT_EQ(c.overflow(), 1.0);
}

}  // namespace

// Publisher backpressure (eio/flow.hpp): a client over the mark holds its senders for
// hold_timeout, then for another period each time its queue is below the last period's peak.
static OutboxLimits holding_limits() {
  OutboxLimits limits{1000, milliseconds(5000), 1'000'000};
  limits.hold_timeout = milliseconds(100);
  return limits;
}

TEST(OutboxPolicy, HoldsSendersWhileTheQueueShrinks) {
  const OutboxLimits limits = holding_limits();
  Counted c;
  OutboxPolicy p(limits, c.stats);
  const auto t0 = OutboxPolicy::Clock::now();
  EXPECT_FALSE(p.may_hold(500, t0)) << "under the mark: nobody to hold";
  EXPECT_EQ(p.check(3000, t0), V::arm_timer);
  EXPECT_TRUE(p.may_hold(3000, t0));
  EXPECT_TRUE(p.may_hold(8000, t0 + milliseconds(50)));  // the peak of this period: 8000
  EXPECT_EQ(p.next_deadline(t0 + milliseconds(50)), t0 + milliseconds(100))
      << "the timer looks at the hold's end";
  EXPECT_TRUE(p.may_hold(6000, t0 + milliseconds(100))) << "below the peak: progress, another period";
  EXPECT_EQ(p.next_deadline(t0 + milliseconds(150)), t0 + milliseconds(200));
  EXPECT_FALSE(p.may_hold(6000, t0 + milliseconds(200))) << "no lower than the last peak: no progress";
  EXPECT_EQ(p.next_deadline(t0 + milliseconds(200)), t0 + milliseconds(5000))
      << "then the slow deadline alone";
}

TEST(OutboxPolicy, ANewStretchOverTheMarkHoldsAfresh) {
  const OutboxLimits limits = holding_limits();
  Counted c;
  OutboxPolicy p(limits, c.stats);
  const auto t0 = OutboxPolicy::Clock::now();
  EXPECT_EQ(p.check(3000, t0), V::arm_timer);
  EXPECT_FALSE(p.may_hold(3000, t0 + milliseconds(150)));
  EXPECT_EQ(p.check(10, t0 + milliseconds(200)), V::ok);
  EXPECT_FALSE(p.may_hold(10, t0 + milliseconds(200)));
  EXPECT_EQ(p.check(3000, t0 + milliseconds(300)), V::arm_timer);
  EXPECT_TRUE(p.may_hold(3000, t0 + milliseconds(350)));
}

TEST(OutboxPolicy, HoldingCanBeTurnedOff) {
  OutboxLimits limits{1000, milliseconds(5000), 1'000'000};
  limits.hold_senders = false;
  Counted c;
  OutboxPolicy p(limits, c.stats);
  const auto t0 = OutboxPolicy::Clock::now();
  EXPECT_EQ(p.check(3000, t0), V::arm_timer);
  EXPECT_FALSE(p.may_hold(3000, t0));
  EXPECT_EQ(p.next_deadline(t0), t0 + milliseconds(5000));
}
