# groupvault: plain make + pkg-config over Debian's packages.
#   make        build build/groupvaultd, build/groupvault-agent, build/groupvault
#   make run    build and run with an embedded default (data in ./data)
#   make test   unit + black-box tests under ASan/UBSan
#   make tsan   the black-box suite against a ThreadSanitizer build
#   make install  binaries, man pages and bash completion under PREFIX (DESTDIR)
#   make image  the container image groupvault:local, offline (scripts/image.sh)
#
# Every entry point first runs scripts/deps.sh, then re-runs make for the
# real work (GV_INNER=1): pkg-config and the compilers only run once the
# packages are installed, so `make -j2` on a fresh machine cannot race them.
ifeq ($(GV_INNER),)

ENTRY := all run run-agent routes test fuzz fuzz-build valgrind bench bench-fleet tsan install image
.PHONY: $(ENTRY) clean FORCE
.DEFAULT_GOAL := all

# Which deps.sh set each entry point needs.
deps_for = $(or $(if $(filter test tsan valgrind bench fuzz,$(1)),$(1)), \
	$(if $(filter bench-fleet run-agent,$(1)),build), \
	$(if $(filter fuzz-build build/fuzz/%,$(1)),fuzz), \
	$(if $(filter build/tsan/% build/tobj/%,$(1)),tsan), \
	$(if $(filter build/test/% build/replay/% build/san/% build/sobj/%,$(1)),test), \
	build)

$(ENTRY):
	@scripts/deps.sh $(call deps_for,$@)
	@$(MAKE) --no-print-directory GV_INNER=1 $@

# `make build/...` for a single file goes the same way (FORCE: the inner
# make decides whether the file is up to date).
build/%: FORCE
	@scripts/deps.sh $(call deps_for,$@)
	@$(MAKE) --no-print-directory GV_INNER=1 $@

Makefile: ;
FORCE: ;

# Goals one after another here (`make all test` must not build the same
# objects twice at once); each inner make still runs with the -j given.
.NOTPARALLEL:

clean:
	rm -rf build

else

PKGS     := libmicrohttpd libcrypto libargon2 sqlite3 jansson libseccomp gnutls
CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla -Wnull-dereference
CSTD     := -std=c11 -D_GNU_SOURCE
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
OPT      ?= -O2 -g
# Evaluated once, in the inner make, after deps.sh has installed the packages.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
CFLAGS   += $(CSTD) $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS)
LDFLAGS  += -pie -Wl,-z,relro,-z,now
LDLIBS   += $(PKG_LIBS) -lpthread

SRC      := $(filter-out src/main.c,$(wildcard src/*.c))
# The agent (src/agent/) and the CLI (src/cli/) are their own rooms; they
# link the daemon's small shared modules (COMMON) and libcurl, nothing else.
CURL_CFLAGS := $(shell pkg-config --cflags libcurl)
CURL_LIBS   := $(shell pkg-config --libs libcurl)
COMMON   := util log crypto jalloc reqid jtext
AGENT_SRC := $(filter-out src/agent/main.c,$(wildcard src/agent/*.c))
CLI_SRC  := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
AGENT_OBJ := $(AGENT_SRC:src/%.c=build/obj/%.o) $(COMMON:%=build/obj/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=build/obj/%.o) $(COMMON:%=build/obj/%.o)
AGENT_SOBJ := $(AGENT_SRC:src/%.c=build/sobj/%.o)
CLI_SOBJ := $(CLI_SRC:src/%.c=build/sobj/%.o)
OBJ      := $(SRC:src/%.c=build/obj/%.o)
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSRC     := $(wildcard tests/unit/*_test.c)
TBIN     := $(TSRC:tests/unit/%.c=build/test/%)
SOBJ     := $(SRC:src/%.c=build/sobj/%.o)
VOBJ     := $(SRC:src/%.c=build/vobj/%.o)
TOBJ     := $(SRC:src/%.c=build/tobj/%.o)

.PHONY: all run run-agent test clean routes fuzz fuzz-build valgrind bench bench-fleet tsan image

BINS     := build/groupvaultd $(if $(wildcard src/agent/main.c),build/groupvault-agent) \
            $(if $(wildcard src/cli/main.c),build/groupvault)
all: $(BINS)

build/obj/%.o: src/%.c src/*.h | build/obj
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Agent and CLI objects: their own headers plus the shared ones in src/.
build/obj/agent/%.o: src/agent/%.c src/agent/*.h src/*.h
	@mkdir -p $(@D); echo "  CC      $@"
	@$(CC) $(CFLAGS) $(CURL_CFLAGS) -Isrc -c -o $@ $<

build/obj/cli/%.o: src/cli/%.c src/cli/*.h src/*.h
	@mkdir -p $(@D); echo "  CC      $@"
	@$(CC) $(CFLAGS) $(CURL_CFLAGS) -Isrc -c -o $@ $<

build/sobj/agent/%.o: src/agent/%.c src/agent/*.h src/*.h
	@mkdir -p $(@D); echo "  CC san  $@"
	@$(CC) $(CFLAGS) $(CURL_CFLAGS) $(SAN) -O1 -Isrc -c -o $@ $<

build/sobj/cli/%.o: src/cli/%.c src/cli/*.h src/*.h
	@mkdir -p $(@D); echo "  CC san  $@"
	@$(CC) $(CFLAGS) $(CURL_CFLAGS) $(SAN) -O1 -Isrc -c -o $@ $<

build/groupvault-agent: $(AGENT_OBJ) build/obj/agent/main.o
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(CURL_LIBS) $(LDLIBS)

build/groupvault: $(CLI_OBJ) build/obj/cli/main.o
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(CURL_LIBS) $(LDLIBS)

build/san/groupvault-agent: $(AGENT_SOBJ) $(COMMON:%=build/sobj/%.o) build/sobj/agent/main.o | build/san
	@echo "  LD san  $@"
	@$(CC) $(LDFLAGS) $(SAN) -o $@ $^ $(CURL_LIBS) $(LDLIBS)

build/san/groupvault: $(CLI_SOBJ) $(COMMON:%=build/sobj/%.o) build/sobj/cli/main.o | build/san
	@echo "  LD san  $@"
	@$(CC) $(LDFLAGS) $(SAN) -o $@ $^ $(CURL_LIBS) $(LDLIBS)

build/groupvaultd: $(OBJ) build/obj/main.o
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Sanitized build for the tests.
build/sobj/%.o: src/%.c src/*.h | build/sobj
	@echo "  CC san  $@"
	@$(CC) $(CFLAGS) $(SAN) -O1 -DGV_FAULT_INJECTION -c -o $@ $<

build/san/groupvaultd: $(SOBJ) build/sobj/main.o | build/san
	@echo "  LD san  $@"
	@$(CC) $(LDFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

# crypto_test watches what crypto_wipe_free hands to free() (--wrap=free).
build/test/crypto_test: TEST_LDFLAGS := -Wl,--wrap=free

build/test/%_test: tests/unit/%_test.c tests/unit/*.h $(SOBJ) | build/test
	@echo "  CC test $@"
	@$(CC) $(CFLAGS) $(SAN) -O1 -Isrc -o $@ $< $(SOBJ) $(TEST_LDFLAGS) $(LDLIBS) -lcmocka

# agent_*_test and cli_*_test also link their room (shorter stem wins).
build/test/agent_%_test: tests/unit/agent_%_test.c tests/unit/*.h $(SOBJ) $(AGENT_SOBJ) | build/test
	@echo "  CC test $@"
	@$(CC) $(CFLAGS) $(CURL_CFLAGS) $(SAN) -O1 -Isrc -Isrc/agent -o $@ $< $(SOBJ) $(AGENT_SOBJ) $(CURL_LIBS) $(LDLIBS) -lcmocka

build/test/cli_%_test: tests/unit/cli_%_test.c tests/unit/*.h $(SOBJ) $(CLI_SOBJ) | build/test
	@echo "  CC test $@"
	@$(CC) $(CFLAGS) $(CURL_CFLAGS) $(SAN) -O1 -Isrc -Isrc/cli -o $@ $< $(SOBJ) $(CLI_SOBJ) $(CURL_LIBS) $(LDLIBS) -lcmocka

# Fuzz drivers. `make test` replays their corpora with a plain main()
# (gcc + ASan/UBSan); `make fuzz` runs them under clang's libFuzzer.
FUZZ       := path token import record body jtext migrate share clientaddr query agent
RBIN       := $(FUZZ:%=build/replay/fuzz_%)
FUZZ_SECONDS ?= 60
FUZZ_CC    ?= clang
FSAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FOBJ       := $(SRC:src/%.c=build/fuzz/obj/%.o)

build/replay/fuzz_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/*.h $(SOBJ) | build/replay
	@echo "  CC fuzz $@"
	@$(CC) $(CFLAGS) $(SAN) -O1 -Isrc -o $@ $< fuzz/replay.c $(SOBJ) $(LDLIBS)

# fuzz_agent also links the agent's room.
build/replay/fuzz_agent: fuzz/fuzz_agent.c fuzz/replay.c $(SOBJ) $(AGENT_SOBJ) | build/replay
	@echo "  CC fuzz $@"
	@$(CC) $(CFLAGS) $(SAN) -O1 -Isrc -o $@ $< fuzz/replay.c $(SOBJ) $(AGENT_SOBJ) $(CURL_LIBS) $(LDLIBS)

FAOBJ      := $(AGENT_SRC:src/%.c=build/fuzz/obj/%.o)

build/fuzz/obj/agent/%.o: src/agent/%.c src/agent/*.h src/*.h
	@mkdir -p $(@D); echo "  CC fuzz $@"
	@$(FUZZ_CC) $(CSTD) -O1 -g $(PKG_CFLAGS) $(CURL_CFLAGS) $(FSAN) -fsanitize=fuzzer-no-link -Isrc -c -o $@ $<

build/fuzz/fuzz_agent: fuzz/fuzz_agent.c $(FOBJ) $(FAOBJ)
	@echo "  LD fuzz $@"
	@$(FUZZ_CC) $(CSTD) -O1 -g $(PKG_CFLAGS) $(FSAN) -fsanitize=fuzzer -Isrc -o $@ $< \
		$(FOBJ) $(FAOBJ) $(CURL_LIBS) $(LDLIBS)

build/fuzz/obj/%.o: src/%.c src/*.h | build/fuzz/obj
	@echo "  CC fuzz $@"
	@$(FUZZ_CC) $(CSTD) -O1 -g $(PKG_CFLAGS) $(FSAN) -fsanitize=fuzzer-no-link \
		-DGV_STORE_NOSYNC -c -o $@ $<

build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/*.h $(FOBJ)
	@echo "  LD fuzz $@"
	@$(FUZZ_CC) $(CSTD) -O1 -g $(PKG_CFLAGS) $(FSAN) -fsanitize=fuzzer -Isrc -o $@ $< \
		$(FOBJ) $(LDLIBS)

# Keep the object files that only pattern rules name.
.SECONDARY: $(FOBJ) $(FAOBJ) $(SOBJ) $(AGENT_SOBJ) $(VOBJ) $(TOBJ)

fuzz-build: $(FUZZ:%=build/fuzz/fuzz_%)

fuzz: fuzz-build
	@for t in $(FUZZ); do \
		mkdir -p build/fuzz/work-$$t; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build/fuzz/ \
			build/fuzz/work-$$t fuzz/corpus/$$t 2>&1 | grep -E "stat::number_of_executed_units|ERROR|Done" || exit 1; \
	done

build/obj build/sobj build/san build/test build/replay build/fuzz/obj:
	@mkdir -p $@

run: all
	@scripts/run.sh

run-agent: all
	@scripts/run-agent.sh

# 1,000 vaults through the agent's process backend (FLEET_N to change).
bench-fleet: all
	@python3 bench/fleet.py

test: $(TBIN) $(RBIN) build/san/groupvaultd $(BINS) $(subst build/,build/san/,$(filter-out build/groupvaultd,$(BINS)))
	@REPLAY="$(RBIN)" tests/run.sh $(TBIN)

# The black-box suite against an unsanitized build (with the fault hook)
# under valgrind: any memory error or definite leak makes the daemon exit
# 99, which fails its test.

build/vobj/%.o: src/%.c src/*.h | build/vobj
	@echo "  CC vg   $@"
	@$(CC) $(CSTD) -O1 -g $(WARN) $(PKG_CFLAGS) -DGV_FAULT_INJECTION -c -o $@ $<

build/vg/groupvaultd: $(VOBJ) build/vobj/main.o | build/vg
	@echo "  LD vg   $@"
	@$(CC) -o $@ $^ $(LDLIBS)

build/vobj build/vg:
	@mkdir -p $@

# The suite also drives the CLI and the agent (sanitized builds, as in make test).
CLIENTS := $(subst build/,build/san/,$(filter-out build/groupvaultd,$(BINS)))

valgrind: build/groupvaultd build/vg/groupvaultd $(CLIENTS)
	@GROUPVAULTD=build/vg/groupvaultd GV_TIMEOUT=300 GV_LOAD_SECONDS=5 \
	SECCOMP=0 GV_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
		python3 tests/api/run.py $(ONLY)

# The black-box suite against a ThreadSanitizer build (with the fault hook).
# A race report makes the daemon exit 66 (halt_on_error), which fails its
# test; the harness also fails on any "ThreadSanitizer" line in its output.
TSAN := -fsanitize=thread -fno-omit-frame-pointer

build/tobj/%.o: src/%.c src/*.h | build/tobj
	@echo "  CC tsan $@"
	@$(CC) $(CFLAGS) $(TSAN) -O1 -DGV_FAULT_INJECTION -c -o $@ $<

build/tsan/groupvaultd: $(TOBJ) build/tobj/main.o | build/tsan
	@echo "  LD tsan $@"
	@$(CC) $(LDFLAGS) $(TSAN) -o $@ $^ $(LDLIBS)

# Unit tests whose module is shared between threads, under TSan too.
TSAN_UNIT := ratelimit store_ckpt
TSAN_TBIN := $(TSAN_UNIT:%=build/tsan/%_test)

build/tsan/%_test: tests/unit/%_test.c tests/unit/*.h $(TOBJ) | build/tsan
	@echo "  CC tsan $@"
	@$(CC) $(CFLAGS) $(TSAN) -O1 -Isrc -o $@ $< $(TOBJ) $(LDLIBS) -lcmocka

build/tobj build/tsan:
	@mkdir -p $@

tsan: build/groupvaultd build/tsan/groupvaultd $(TSAN_TBIN) $(CLIENTS)
	@for t in $(TSAN_TBIN); do \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66" $$t >build/tsan/unit.log 2>&1 \
			|| { cat build/tsan/unit.log; exit 1; }; \
		echo "ok   $$t (ThreadSanitizer)"; \
	done
	@GROUPVAULTD=build/tsan/groupvaultd GV_TIMEOUT=120 GV_LOAD_SECONDS=5 \
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		python3 tests/api/run.py $(ONLY)

# Benchmarks: figures and ratios against nginx measured in the same run.
build/bench/argon2_raw: bench/argon2_raw.c | build/bench
	@$(CC) -O2 -o $@ $< $(shell pkg-config --cflags --libs libargon2)

build/bench:
	@mkdir -p $@

build/bench/floor: bench/floor.c | build/bench
	@echo "  CC      $@"
	@$(CC) $(CSTD) -O2 $(HARDEN) -pie -o $@ $< -Wl,--no-as-needed $(PKG_LIBS) -lpthread

bench: all build/bench/argon2_raw build/bench/floor
	@python3 bench/bench.py

routes: build/groupvaultd
	@build/groupvaultd --routes

# make install [PREFIX=/usr/local] [DESTDIR=]: the binaries built (the agent
# once it exists), the man pages, and the CLI's bash completion.
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/groupvault.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/groupvaultd.8 man/groupvault-agent.8 $(DESTDIR)$(MANDIR)/man8/
	build/groupvault --completion bash >$(DESTDIR)$(BASHCOMPDIR)/groupvault

# The container image, assembled from the release binary (no registry).
image: build/groupvaultd
	@scripts/image.sh

endif
