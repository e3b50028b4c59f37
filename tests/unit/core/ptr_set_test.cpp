// core::PtrSet against std::set as the model: random inserts and erases across the sizes where
// the index is built and dropped; every member once, size and contains agree after each step.
#include "core/ptr_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace {

using socketio::core::PtrSet;

void expect_same(const PtrSet<int>& s, const std::set<int*>& model) {
  ASSERT_EQ(s.size(), model.size());
  std::vector<int*> items(s.begin(), s.end());
  std::sort(items.begin(), items.end());
  ASSERT_TRUE(std::equal(items.begin(), items.end(), model.begin(), model.end()));
}

TEST(PtrSet, InsertEraseContains) {
  int a = 0, b = 0;
  PtrSet<int> s;
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.insert(&a));
  EXPECT_FALSE(s.insert(&a));
  EXPECT_TRUE(s.insert(&b));
  EXPECT_TRUE(s.contains(&a));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.erase(&a));
  EXPECT_FALSE(s.erase(&a));
  EXPECT_FALSE(s.contains(&a));
  EXPECT_TRUE(s.contains(&b));
  EXPECT_EQ(s.size(), 1u);
}

TEST(PtrSet, MatchesASetThroughRandomChanges) {
  std::vector<int> pool(300);
  std::mt19937 rng(15);
  for (int round = 0; round < 4; ++round) {
    PtrSet<int> s;
    std::set<int*> model;
    // Grow past the linear limit, shrink below it (the index dropped), grow again.
    const std::size_t span = round % 2 ? pool.size() : 40;
    for (int step = 0; step < 20000; ++step) {
      int* p = &pool[rng() % span];
      const bool grow = (step / 2000) % 2 == 0;
      if ((rng() % 3 != 0) == grow) {
        ASSERT_EQ(s.insert(p), model.insert(p).second);
      } else {
        ASSERT_EQ(s.erase(p), model.erase(p) == 1);
      }
      ASSERT_EQ(s.contains(p), model.count(p) == 1);
      if (step % 97 == 0) expect_same(s, model);
    }
    expect_same(s, model);
    for (int* p : std::vector<int*>(model.begin(), model.end())) ASSERT_TRUE(s.erase(p));
    EXPECT_TRUE(s.empty());
  }
}

}  // namespace
