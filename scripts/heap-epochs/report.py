#!/usr/bin/env python3
"""Symbolizes and sums up a heap_epochs dump (see heap_epochs.cpp).

  report.py DUMP [--min-epoch 1] [--depth 4] [--top 30] [--exe PATH]

Groups the dump's (epoch, stack) lines by call site: the first --depth frames of the program
(frames in libc, libstdc++, libgcc and the shim, and allocator plumbing, skipped), symbolized
with addr2line (function, file:line, inlined frames included). Prints, for the blocks of epochs
>= --min-epoch still live: blocks, bytes, 4 KiB pages touched, pages pinned (no epoch-0 block
on them) and pages pinned by that site alone; then the same per epoch.
"""
import argparse
import collections
import os
import re
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("dump")
ap.add_argument("--min-epoch", type=int, default=1)
ap.add_argument("--depth", type=int, default=4)
ap.add_argument("--top", type=int, default=30)
ap.add_argument("--by-epoch", action="store_true", help="one row per (site, epoch)")
args = ap.parse_args()

header, groups = [], []
for line in open(args.dump):
    if line.startswith("#"):
        header.append(line.rstrip())
        continue
    head, _, frames = line.partition("|")
    _, epoch, count, nbytes, pages, pinned, sole = head.split()
    groups.append((int(epoch), int(count), int(nbytes), int(pages), int(pinned), int(sole), frames.split()))

SKIP_MODULES = re.compile(r"(libc\.so|libstdc\+\+|libgcc_s|heap_epochs|ld-linux|libm\.so)")
# Allocator plumbing: the site is whoever called it.
SKIP_FUNCS = re.compile(
    r"^(operator new|std::allocator|std::__new_allocator|__gnu_cxx::new_allocator|std::allocator_traits|"
    r"std::_Vector_base<.*>::_M_allocate|boost::asio::detail::thread_info_base::allocate|"
    r"boost::asio::aligned_new|boost::asio::detail::recycling_allocator|"
    r"boost::asio::recycling_allocator|std::__allocated_ptr|std::_Sp_counted_ptr_inplace|"
    r"std::__shared_count|std::__shared_ptr|std::shared_ptr<.*>::shared_ptr|std::allocate_shared|"
    r"std::make_shared|std::__make_shared|std::__allocate_shared|"
    r"boost::asio::detail::default_allocate|boost::asio::asio_handler_allocate|"
    r"std::__cxx11::basic_string<.*>::_M_create|std::__cxx11::basic_string<.*>::_M_mutate|"
    r"std::__cxx11::basic_string<.*>::reserve|std::__cxx11::basic_string<.*>::_M_construct|"
    r"std::vector<.*>::_M_realloc_insert|std::vector<.*>::reserve|std::vector<.*>::_M_default_append|"
    r"std::vector<.*>::_M_realloc_append)")

# Symbolize every module+offset once, per module.
by_module = collections.defaultdict(set)
for g in groups:
    for f in g[6]:
        mod, _, off = f.rpartition("+")
        by_module[mod].add(off)
sym = {}
for mod, offs in by_module.items():
    offs = sorted(offs)
    if SKIP_MODULES.search(mod) or not os.path.exists(mod):
        for o in offs:
            sym[f"{mod}+{o}"] = [(os.path.basename(mod), "")]
        continue
    out = subprocess.run(["addr2line", "-e", mod, "-f", "-C", "-i", "-a", *offs],
                         capture_output=True, text=True).stdout.splitlines()
    cur = None
    i = 0
    while i < len(out):
        line = out[i]
        if line.startswith("0x") and re.fullmatch(r"0x[0-9a-f]+", line):
            cur = f"{mod}+0x{int(line, 16):x}"
            sym[cur] = []
            i += 1
            continue
        func, loc = line, out[i + 1] if i + 1 < len(out) else "?"
        loc = re.sub(r" \(discriminator \d+\)", "", loc)
        loc = re.sub(r"^.*/(src|app|include|bench)/", r"\1/", loc)
        loc = re.sub(r"^.*/boost/", "boost/", loc)
        sym[cur].append((func, loc))
        i += 2
    for o in offs:  # addr2line prints 0x000...: keep the key form ours
        k = f"{mod}+{o}"
        if k not in sym:
            sym[k] = sym.get(f"{mod}+0x{int(o, 16):x}", [("?", "")])


def short(func):
    func = re.sub(r"\(.*\)( const)?$", "", func)  # no argument lists
    while True:  # no template arguments
        f2 = re.sub(r"<[^<>]*>", "", func)
        if f2 == func:
            return func
        func = f2


def site(frames):
    parts = []
    for f in frames:
        mod = f.rpartition("+")[0]
        if SKIP_MODULES.search(mod):
            continue
        # Inlined chain: innermost first. Keep what is not allocator plumbing.
        for func, loc in sym.get(f, [("?", "")]):
            if SKIP_FUNCS.search(func) and not parts:
                continue
            parts.append(f"{short(func)} ({loc})")
            if len(parts) >= args.depth:
                return " <- ".join(parts)
    return " <- ".join(parts) or "?"


for h in header:
    print(h)
rows = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
for epoch, count, nbytes, pages, pinned, sole, frames in groups:
    if epoch < args.min_epoch:
        continue
    key = (epoch if args.by_epoch else -1, site(frames))
    r = rows[key]
    for i, v in enumerate((count, nbytes, pages, pinned, sole)):
        r[i] += v
tot = [sum(r[i] for r in rows.values()) for i in range(5)]
print(f"\nlive blocks of epochs >= {args.min_epoch}: {tot[0]} blocks, {tot[1]} bytes; per site (pages "
      f"summed per site: a page shared by sites counts for each)")
print(f"{'blocks':>8} {'bytes':>10} {'pages':>7} {'pinned':>7} {'sole':>6}  {'ep':>3}  site")
for (epoch, s), r in sorted(rows.items(), key=lambda kv: (-kv[1][3], -kv[1][1]))[: args.top]:
    print(f"{r[0]:>8} {r[1]:>10} {r[2]:>7} {r[3]:>7} {r[4]:>6}  {epoch if epoch >= 0 else '*':>3}  {s}")
