// heap_epochs: an LD_PRELOAD shim that answers "which live blocks were allocated when, and where".
// Not part of any build: scripts/frag-repro.sh compiles it with g++ (see the usage there).
//
//   LD_PRELOAD=heap_epochs.so HEAP_EPOCHS_OUT=/tmp/dump socketio-server ...
//   kill -USR1 PID   the epoch goes up by one (epoch 0 is the start)
//   kill -USR2 PID   the live blocks are written to $HEAP_EPOCHS_OUT.N (N: 0, 1, ...), grouped by
//                    (epoch, call stack): count, bytes, 4 KiB pages touched, and pages "pinned"
//                    (touched by blocks of epochs >= 1 and by no block of epoch 0: pages that were
//                    not needed before the first USR1 and are kept now by later survivors).
//
// Each malloc/calloc/realloc/memalign (and so operator new) records its block in a table beside
// the heap (mmap'd, so the heap's layout is the program's own): size, epoch, call stack (glibc's
// backtrace(), 16 frames). The real allocator is glibc's (__libc_malloc and friends). The dump
// runs on a thread of the shim (signals only set flags) and writes frames as module+offset
// (dladdr) for scripts/heap-epochs/report.py to symbolize with addr2line.
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

constexpr int kFrames = 16;
constexpr std::uint64_t kBlockSlots = 1ull << 23;  // live blocks (open addressing, linear probing)
constexpr std::uint64_t kStackSlots = 1ull << 18;  // distinct call stacks

struct Block {
  std::uintptr_t ptr;  // 0: empty
  std::uint32_t size;
  std::uint32_t stack;  // index into stacks
  std::uint32_t epoch;
  std::uint32_t pad;
};

struct Stack {
  std::uint64_t hash;  // 0: empty
  int depth;
  void* frames[kFrames];
};

Block* blocks;
Stack* stacks;
std::uint64_t live;
std::uint32_t stack_count;
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
std::atomic<std::uint32_t> epoch{0};
std::atomic<int> dump_requests{0};
std::atomic<bool> ready{false};
__attribute__((tls_model("initial-exec"))) thread_local bool in_hook = false;

void* map(std::uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// Under the lock.
std::uint32_t intern(void* const* frames, int depth) {
  std::uint64_t h = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < depth; ++i) h = mix(h ^ reinterpret_cast<std::uintptr_t>(frames[i]));
  if (h == 0) h = 1;
  for (std::uint64_t i = h & (kStackSlots - 1);; i = (i + 1) & (kStackSlots - 1)) {
    Stack& s = stacks[i];
    if (s.hash == 0) {
      if (stack_count + 1 >= kStackSlots / 2) return static_cast<std::uint32_t>(i);  // full: share
      s.hash = h;
      s.depth = depth;
      std::memcpy(s.frames, frames, sizeof(void*) * depth);
      ++stack_count;
      return static_cast<std::uint32_t>(i);
    }
    if (s.hash == h && s.depth == depth && std::memcmp(s.frames, frames, sizeof(void*) * depth) == 0)
      return static_cast<std::uint32_t>(i);
  }
}

std::uint64_t slot_of(std::uintptr_t p) {
  return mix(p) & (kBlockSlots - 1);
}

// Under the lock.
void insert(std::uintptr_t p, std::size_t size, std::uint32_t stack) {
  if (live + 1 >= kBlockSlots * 3 / 4) return;  // full: untracked
  std::uint64_t i = slot_of(p);
  while (blocks[i].ptr != 0 && blocks[i].ptr != p) i = (i + 1) & (kBlockSlots - 1);
  if (blocks[i].ptr == 0) ++live;
  blocks[i] = Block{p, static_cast<std::uint32_t>(std::min<std::size_t>(size, 0xffffffffu)), stack,
                    epoch.load(std::memory_order_relaxed), 0};
}

// Under the lock. Backward-shift deletion keeps the probe chains whole.
void erase(std::uintptr_t p) {
  std::uint64_t i = slot_of(p);
  while (blocks[i].ptr != p) {
    if (blocks[i].ptr == 0) return;  // not ours (allocated before the shim, or by its own calls)
    i = (i + 1) & (kBlockSlots - 1);
  }
  --live;
  std::uint64_t hole = i;
  for (std::uint64_t j = (i + 1) & (kBlockSlots - 1); blocks[j].ptr != 0; j = (j + 1) & (kBlockSlots - 1)) {
    const std::uint64_t home = slot_of(blocks[j].ptr);
    // Move j into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    blocks[hole] = blocks[j];
    hole = j;
  }
  blocks[hole].ptr = 0;
}

__attribute__((noinline)) void record(void* p, std::size_t size) {
  if (p == nullptr || in_hook || !ready.load(std::memory_order_acquire)) return;
  in_hook = true;
  void* frames[kFrames + 2];
  int depth = backtrace(frames, kFrames + 2);
  // Frame 0 is record(), frame 1 the wrapper (malloc, ...): skipped.
  const int skip = std::min(depth, 2);
  pthread_mutex_lock(&lock);
  insert(reinterpret_cast<std::uintptr_t>(p), size, intern(frames + skip, depth - skip));
  pthread_mutex_unlock(&lock);
  in_hook = false;
}

void forget(void* p) {
  if (p == nullptr || blocks == nullptr) return;
  pthread_mutex_lock(&lock);
  erase(reinterpret_cast<std::uintptr_t>(p));
  pthread_mutex_unlock(&lock);
}

// ---- the dump (on the shim's thread) ----

struct Out {
  int fd;
  char buf[1 << 16];
  std::size_t n = 0;
  void flush() {
    std::size_t off = 0;
    while (off < n) {
      ssize_t w = ::write(fd, buf + off, n - off);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    n = 0;
  }
  void printf(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (n > sizeof(buf) - 4096) flush();
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    if (w > 0) n += std::min<std::size_t>(static_cast<std::size_t>(w), sizeof(buf) - n - 1);
  }
};

struct PageRef {
  std::uintptr_t page;
  std::uint32_t group;
  std::uint32_t epoch;
};

struct Group {
  std::uint32_t epoch, stack;
  std::uint64_t count = 0, bytes = 0, pages = 0, pinned = 0, sole = 0;
};

constexpr std::uintptr_t kPage = 4096;
constexpr std::size_t kMmapped = 128 * 1024;  // at or above: glibc's own mmap, not an arena page

void dump(int n) {
  char path[4096];
  const char* base = getenv("HEAP_EPOCHS_OUT");
  char tmp[4200];
  std::snprintf(path, sizeof path, "%s.%d", base ? base : "/tmp/heap-epochs", n);
  std::snprintf(tmp, sizeof tmp, "%s.tmp", path);  // renamed to path when complete
  int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;

  // A copy of the table, taken under the lock (the program goes on meanwhile).
  pthread_mutex_lock(&lock);
  const std::uint64_t count = live;
  auto* copy = static_cast<Block*>(map(sizeof(Block) * (count + 1)));
  std::uint64_t k = 0;
  if (copy != nullptr)
    for (std::uint64_t i = 0; i < kBlockSlots && k < count; ++i)
      if (blocks[i].ptr != 0) copy[k++] = blocks[i];
  pthread_mutex_unlock(&lock);
  if (copy == nullptr) {
    ::close(fd);
    return;
  }

  // Groups: (epoch, stack).
  std::sort(copy, copy + k, [](const Block& a, const Block& b) {
    return a.epoch != b.epoch ? a.epoch < b.epoch : a.stack != b.stack ? a.stack < b.stack : a.ptr < b.ptr;
  });
  std::uint64_t ngroups = 0;
  for (std::uint64_t i = 0; i < k; ++i)
    if (i == 0 || copy[i].epoch != copy[i - 1].epoch || copy[i].stack != copy[i - 1].stack) ++ngroups;
  auto* groups = static_cast<Group*>(map(sizeof(Group) * (ngroups + 1)));
  std::uint64_t npages = 0;
  for (std::uint64_t i = 0; i < k; ++i) {
    if (copy[i].size >= kMmapped) continue;
    const std::uintptr_t first = (copy[i].ptr - 16) / kPage, last = (copy[i].ptr + copy[i].size - 1) / kPage;
    npages += last - first + 1;
  }
  auto* refs = static_cast<PageRef*>(map(sizeof(PageRef) * (npages + 1)));
  if (groups == nullptr || refs == nullptr) {
    ::close(fd);
    return;
  }
  std::uint64_t g = 0, r = 0;
  for (std::uint64_t i = 0; i < k; ++i) {
    if (i > 0 && (copy[i].epoch != copy[i - 1].epoch || copy[i].stack != copy[i - 1].stack)) ++g;
    Group& gr = groups[g];
    gr.epoch = copy[i].epoch;
    gr.stack = copy[i].stack;
    ++gr.count;
    gr.bytes += copy[i].size;
    if (copy[i].size >= kMmapped) continue;
    const std::uintptr_t first = (copy[i].ptr - 16) / kPage, last = (copy[i].ptr + copy[i].size - 1) / kPage;
    for (std::uintptr_t p = first; p <= last; ++p)
      refs[r++] = PageRef{p, static_cast<std::uint32_t>(g), copy[i].epoch};
  }
  // Pages: touched (per group, distinct), pinned (no epoch-0 block on the page), sole (pinned,
  // and this group the only one on it).
  std::sort(refs, refs + r, [](const PageRef& a, const PageRef& b) {
    return a.page != b.page ? a.page < b.page : a.group < b.group;
  });
  std::uint64_t pages_total = 0, pages_pinned = 0;
  std::uint64_t pinned_by_epoch[64] = {};
  for (std::uint64_t i = 0; i < r;) {
    std::uint64_t j = i;
    bool has0 = false;
    std::uint32_t distinct = 0, min_epoch = ~0u;
    for (; j < r && refs[j].page == refs[i].page; ++j) {
      has0 = has0 || refs[j].epoch == 0;
      if (j == i || refs[j].group != refs[j - 1].group) ++distinct;
      min_epoch = std::min(min_epoch, refs[j].epoch);
    }
    ++pages_total;
    if (!has0) {
      ++pages_pinned;
      ++pinned_by_epoch[std::min<std::uint32_t>(min_epoch, 63)];
    }
    for (std::uint64_t x = i; x < j; ++x) {
      if (x != i && refs[x].group == refs[x - 1].group) continue;
      Group& gr = groups[refs[x].group];
      ++gr.pages;
      if (!has0) {
        ++gr.pinned;
        if (distinct == 1) ++gr.sole;
      }
    }
    i = j;
  }

  Out out;
  out.fd = fd;
  out.printf("# heap_epochs dump %d: %llu live blocks, %llu call stacks, epoch now %u\n", n,
             static_cast<unsigned long long>(k), static_cast<unsigned long long>(stack_count), epoch.load());
  out.printf("# arena pages with a live block: %llu, of which %llu with no epoch-0 block\n",
             static_cast<unsigned long long>(pages_total), static_cast<unsigned long long>(pages_pinned));
  for (int e = 0; e < 64; ++e)
    if (pinned_by_epoch[e] != 0)
      out.printf("# pinned pages whose oldest block is of epoch %d: %llu\n", e,
                 static_cast<unsigned long long>(pinned_by_epoch[e]));
  out.printf("# group: G epoch count bytes pages pinned sole | frames (module+offset)\n");
  for (std::uint64_t i = 0; i <= g && k > 0; ++i) {
    const Group& gr = groups[i];
    out.printf("G %u %llu %llu %llu %llu %llu |", gr.epoch, static_cast<unsigned long long>(gr.count),
               static_cast<unsigned long long>(gr.bytes), static_cast<unsigned long long>(gr.pages),
               static_cast<unsigned long long>(gr.pinned), static_cast<unsigned long long>(gr.sole));
    const Stack& s = stacks[gr.stack];
    for (int f = 0; f < s.depth; ++f) {
      Dl_info info;
      if (dladdr(s.frames[f], &info) != 0 && info.dli_fname != nullptr) {
        // The return address minus one: the call instruction (addr2line names its line).
        out.printf(" %s+0x%lx", info.dli_fname,
                   static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(s.frames[f]) - 1 -
                                              reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
      } else {
        out.printf(" ?+0x%lx", static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(s.frames[f])));
      }
    }
    out.printf("\n");
  }
  out.flush();
  ::close(fd);
  ::rename(tmp, path);
  munmap(copy, sizeof(Block) * (count + 1));
  munmap(groups, sizeof(Group) * (ngroups + 1));
  munmap(refs, sizeof(PageRef) * (npages + 1));
}

void* watcher(void*) {
  in_hook = true;  // what the dump allocates (dladdr, stdio) is not the program's
  int done = 0;
  for (;;) {
    usleep(100 * 1000);
    while (dump_requests.load() > done) dump(done++);
  }
  return nullptr;
}

void on_usr1(int) {
  epoch.fetch_add(1);
}
void on_usr2(int) {
  dump_requests.fetch_add(1);
}

__attribute__((constructor)) void start() {
  in_hook = true;
  blocks = static_cast<Block*>(map(sizeof(Block) * kBlockSlots));
  stacks = static_cast<Stack*>(map(sizeof(Stack) * kStackSlots));
  void* warm[4];
  backtrace(warm, 4);  // loads libgcc_s now, not inside the first malloc
  struct sigaction sa {};
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, nullptr);
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, nullptr);
  pthread_t t;
  pthread_create(&t, nullptr, watcher, nullptr);
  pthread_detach(t);
  in_hook = false;
  if (blocks != nullptr && stacks != nullptr) ready.store(true, std::memory_order_release);
}

}  // namespace

extern "C" {

void* malloc(size_t n) {
  void* p = __libc_malloc(n);
  record(p, n);
  return p;
}

void free(void* p) {
  forget(p);
  __libc_free(p);
}

void* calloc(size_t a, size_t b) {
  void* p = __libc_calloc(a, b);
  record(p, a * b);
  return p;
}

void* realloc(void* old, size_t n) {
  forget(old);
  void* p = __libc_realloc(old, n);
  if (p == nullptr && n != 0 && old != nullptr) {
    record(old, n);  // failed: the old block lives on (its size approximate)
    return p;
  }
  record(p, n);
  return p;
}

void* memalign(size_t align, size_t n) {
  void* p = __libc_memalign(align, n);
  record(p, n);
  return p;
}

void* aligned_alloc(size_t align, size_t n) {
  return memalign(align, n);
}

int posix_memalign(void** out, size_t align, size_t n) {
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return 12;  // ENOMEM
  record(p, n);
  *out = p;
  return 0;
}

}  // extern "C"
