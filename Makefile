# groupvault: plain make + pkg-config over Debian's packages.
#   make        build build/groupvaultd
#   make run    build and run with an embedded default (data in ./data)
#   make test   unit + black-box tests under ASan/UBSan
PKGS     := libmicrohttpd libcrypto libargon2 sqlite3 jansson
CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla -Wnull-dereference
CSTD     := -std=c11 -D_GNU_SOURCE
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
OPT      ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += $(CSTD) $(OPT) $(WARN) $(HARDEN) $(PKG_CFLAGS)
LDFLAGS  += -pie -Wl,-z,relro,-z,now
LDLIBS   += $(PKG_LIBS) -lpthread

SRC      := $(filter-out src/main.c,$(wildcard src/*.c))
OBJ      := $(SRC:src/%.c=build/obj/%.o)
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TSRC     := $(wildcard tests/unit/*_test.c)
TBIN     := $(TSRC:tests/unit/%.c=build/test/%)
SOBJ     := $(SRC:src/%.c=build/sobj/%.o)

.PHONY: all deps test-deps run test unit api clean routes

all: deps build/groupvaultd

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

build/obj/%.o: src/%.c src/*.h | build/obj
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) -c -o $@ $<

build/groupvaultd: $(OBJ) build/obj/main.o
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Sanitized build for the tests.
build/sobj/%.o: src/%.c src/*.h | build/sobj
	@echo "  CC san  $@"
	@$(CC) $(CFLAGS) $(SAN) -O1 -c -o $@ $<

build/san/groupvaultd: $(SOBJ) build/sobj/main.o | build/san
	@echo "  LD san  $@"
	@$(CC) $(LDFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

build/test/%_test: tests/unit/%_test.c $(SOBJ) | build/test
	@echo "  CC test $@"
	@$(CC) $(CFLAGS) $(SAN) -O1 -Isrc -o $@ $< $(SOBJ) $(LDLIBS) -lcmocka

build/obj build/sobj build/san build/test:
	@mkdir -p $@

run: all
	@scripts/run.sh

test: test-deps $(TBIN) build/san/groupvaultd
	@tests/run.sh $(TBIN)

routes: build/groupvaultd
	@build/groupvaultd --routes

clean:
	rm -rf build
