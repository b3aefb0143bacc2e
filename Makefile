# c1m build. Out-of-tree: release objects in build/, sanitizer objects in
# build/asan/. Every .c file under core/ engine/ proto/ goes into libc1m.a;
# tools/*.c make build/c1m; tests/unit/test_*.c each make one cmocka binary;
# bench/*.c each make one benchmark program.
#
#   make            release build (-O2): build/c1m, the man page build/c1m.1
#   make asan       ASan + UBSan build:  build/asan/c1m
#   make MODE=tsan all unit   ThreadSanitizer build (build/tsan/) and unit tests
#   make test       both builds, unit tests under both, integration tests
#   make bench      benchmark programs (build/bench/*)
#   make fuzz       libFuzzer targets (clang): build/fuzz/*
#   make fuzz-long  each fuzz target to 10 million executions
#   make faults     fault suite, short form (tests/faults/, ~1.5 min, root)
#   make soak       fault suite, long form (50,000 connections, ~10 min)
#   make mutate     mutation check: every tests/mutations/*.mut is killed
#   make install    PREFIX=/usr/local DESTDIR=: libraries, headers, c1m,
#                   c1m.pc (+ man page and bash completion when present)
#   make uninstall  removes exactly what install put there

MODE  ?= release
ifeq ($(MODE),asan)
BUILD ?= build/asan
OPT    = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(MODE),tsan)
# ThreadSanitizer: `make MODE=tsan all unit` (not part of `make test`)
BUILD ?= build/tsan
OPT    = -O1 -fsanitize=thread -fno-omit-frame-pointer
else
BUILD ?= build
OPT    = -O2
endif

CC      ?= gcc
CFLAGS  ?=
CFLAGS  += -std=gnu11 -Iinclude -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_GNU_SOURCE -I. -pthread -MMD -MP $(OPT)
LDFLAGS += -pthread $(filter -fsanitize=%,$(OPT))
# what libc1m itself links (also Libs.private of c1m.pc)
LIB_LIBS := -lm -lnettle -luring   # nettle: the WebSocket handshake (SHA-1, base64); liburing: the io_uring backend
LDLIBS  += $(LIB_LIBS)

# The version lives in core/version.h (C1M_VERSION); 0.1.0 until it exists.
VERSION := $(or $(shell sed -n 's/^\#define C1M_VERSION "\([0-9.]*\)".*/\1/p' core/version.h 2>/dev/null),0.1.0)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libc1m.so.$(SOMAJOR)

LIB_SRC   := $(sort $(wildcard core/*.c engine/*.c proto/*.c proto/*/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
ITEST_SRC := $(sort $(wildcard tests/integration/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libc1m.a
SHLIB     := $(BUILD)/libc1m.so.$(VERSION)
C1M       := $(BUILD)/c1m
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MAN       := $(BUILD)/c1m.1
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/tests/%)

.PHONY: all release asan test unit unit-bin integration bench fuzz fuzz-long clean mutate install uninstall faults soak FORCE
all: $(C1M) $(SHLIB) $(ITEST_BIN) $(MAN)

release:
	$(MAKE) MODE=release all
asan:
	$(MAKE) MODE=asan all

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Library objects are position-independent (one set for libc1m.a and
# libc1m.so) and hide every symbol but the API: public declarations carry
# C1M_API (default visibility, include/c1m/common.h). Programs linked with
# libc1m.a still reach the private c1m_ and c1m__ functions.
$(LIB_OBJ): CFLAGS += -fPIC -fvisibility=hidden

# The commit c1m --version reports: from git when this is a checkout, else
# none. The stamp changes only when the commit does, so version.o is
# rebuilt only then.
GIT_COMMIT := $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
                { git diff --quiet HEAD 2>/dev/null && echo "$$c" || echo "$$c-dirty"; })
$(BUILD)/commit.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(GIT_COMMIT)' | cmp -s - $@ || echo '$(GIT_COMMIT)' >$@
$(BUILD)/obj/core/version.o: $(BUILD)/commit.stamp
$(BUILD)/obj/core/version.o: CFLAGS += -DC1M_GIT_COMMIT='"$(GIT_COMMIT)"'
FORCE:

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# -z defs: the shared library must not depend on symbols of the programs
# that link it (tools/ stays outside the library).
$(SHLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,-z,defs $(LDFLAGS) -o $@ $^ -pthread $(LIB_LIBS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libc1m.so

$(C1M): $(TOOL_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(LIB) $(LDLIBS) -ljansson

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka -ljansson

$(BUILD)/tests/%: tests/integration/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# the man page, c1m(1), from its scdoc source (Debian package scdoc)
$(MAN): man/c1m.1.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@

# extra libraries of a benchmark program: its peer or its I/O interface
BENCH_LIBS_http_parse := -lhttp_parser
BENCH_LIBS_ws_frame := -lwslay

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) $(BENCH_LIBS_$*)

unit-bin: $(UNIT_BIN)
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

bench: $(BENCH_BIN) $(C1M)

# libFuzzer targets: tests/fuzz/fuzz_*.c, built with clang. The library
# sources are compiled once, instrumented (fuzzer-no-link: coverage without
# libFuzzer's main), into build/fuzz/libc1m.a; each target links it. (The
# whole library per target cost ~50 s each, most of `make test`'s fuzz time.)
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -Iinclude -pthread -MMD -MP
FUZZ_SAN   := address,undefined
FUZZ_OBJ   := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@
build/fuzz/libc1m.a: $(FUZZ_OBJ)
	rm -f $@
	$(AR) rcs $@ $^
build/fuzz/%: tests/fuzz/%.c build/fuzz/libc1m.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< build/fuzz/libc1m.a $(LIB_LIBS)
-include $(FUZZ_OBJ:.o=.d) $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%.d)

# Each target to 10 million executions (10 h cap each); CPU-heavy: niced.
fuzz-long: fuzz
	FUZZ_RUNS=10000000 FUZZ_UNIT_TIMEOUT=120 nice -n 10 tests/run_fuzz.sh 36000

# `make test` (the README's test command, CI): both builds with every core
# (CI calls it without -j), unit tests under both, the integration suites
# three at a time in network namespaces of their own (as root;
# tests/run_integration.sh), each fuzz target for 10 s (`make fuzz-long`
# is the long run).
NPROC := $(shell nproc 2>/dev/null || echo 2)
test:
	$(MAKE) -j$(NPROC) MODE=release all unit-bin
	$(MAKE) MODE=release unit
	$(MAKE) -j$(NPROC) MODE=asan all unit-bin
	$(MAKE) MODE=asan unit
	tests/run_integration.sh build build/asan
	@if [ -n "$(FUZZ_SRC)" ]; then $(MAKE) -j$(NPROC) fuzz && tests/run_fuzz.sh 10; fi

# Fault suite (tests/faults/): kill -9 storms, the fd cap, vanishing peers,
# SIGTERM under load, slow readers. `make test` runs the short form among
# the integration suites (release build); `make soak` is the long one
# (50,000 connections, about 10 min); root for the network namespaces.
faults: all
	tests/faults/run.sh $(BUILD)
soak: all
	SOAK=1 tests/faults/run.sh $(BUILD)

# Mutation check (tests/mutations/*.mut): every deliberate breakage must
# make one of its tests fail. Not part of `make test` (about 10 minutes).
mutate:
	tests/mutate.sh

clean:
	rm -rf build

# ---- install -------------------------------------------------------------
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL    ?= install
PUB_HDR    := $(wildcard include/c1m/*.h)
# the man page (built from man/c1m.1.scd) and the completion, when present
MAN_PAGE   := $(if $(wildcard man/c1m.1.scd),$(BUILD)/c1m.1)
COMPLETION := $(wildcard completion/c1m.bash)
# a directory under PREFIX as ${prefix}/... in c1m.pc (pkg-config's habit)
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: $(C1M) $(LIB) $(SHLIB) $(MAN_PAGE) c1m.pc.in
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/c1m
	$(INSTALL) -m 755 $(C1M) $(DESTDIR)$(BINDIR)/c1m
	$(INSTALL) -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libc1m.a
	$(INSTALL) -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/libc1m.so.$(VERSION)
	ln -sf libc1m.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libc1m.so
	$(INSTALL) -m 644 $(PUB_HDR) $(DESTDIR)$(INCLUDEDIR)/c1m/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@LIBS_PRIVATE@|-pthread $(LIB_LIBS)|g' c1m.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/c1m.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/c1m.pc
ifneq ($(MAN_PAGE),)
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 644 $(MAN_PAGE) $(DESTDIR)$(MANDIR)/man1/c1m.1
endif
ifneq ($(COMPLETION),)
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 644 $(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/c1m
endif

# Removes the files install creates (and include/c1m if it is then empty);
# directories shared with other software stay.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/c1m
	rm -f $(DESTDIR)$(LIBDIR)/libc1m.a $(DESTDIR)$(LIBDIR)/libc1m.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libc1m.so
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/c1m.pc
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/c1m/,$(notdir $(PUB_HDR)))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/c1m 2>/dev/null
	rm -f $(DESTDIR)$(MANDIR)/man1/c1m.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/c1m

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
