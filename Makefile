# c1m build. Out-of-tree: release objects in build/, sanitizer objects in
# build/asan/. Every .c file under core/ engine/ proto/ goes into libc1m.a;
# tools/*.c make build/c1m; tests/unit/test_*.c each make one cmocka binary;
# bench/*.c each make one benchmark program.
#
#   make            release build (-O2): build/c1m, the man page build/c1m.1
#   make asan       ASan + UBSan build:  build/asan/c1m
#   make test       both builds, unit tests under both, integration tests
#   make bench      benchmark programs (build/bench/*)
#   make fuzz       libFuzzer targets (clang): build/fuzz/*
#   make fuzz-long  each fuzz target to 10 million executions
#   make mutate     mutation check: every tests/mutations/*.mut is killed

MODE  ?= release
ifeq ($(MODE),asan)
BUILD ?= build/asan
OPT    = -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
OPT    = -O2
endif

CC      ?= gcc
CFLAGS  ?=
CFLAGS  += -std=gnu11 -Iinclude -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_GNU_SOURCE -I. -pthread -MMD -MP $(OPT)
LDFLAGS += -pthread $(filter -fsanitize=%,$(OPT))
LDLIBS  += -lm -lcrypto -luring   # libcrypto: WebSocket handshake; liburing: the io_uring backend (engine/backend_uring.c)

LIB_SRC   := $(sort $(wildcard core/*.c engine/*.c proto/*.c proto/*/*.c))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
ITEST_SRC := $(sort $(wildcard tests/integration/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libc1m.a
C1M       := $(BUILD)/c1m
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MAN       := $(BUILD)/c1m.1
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/tests/%)

.PHONY: all release asan test unit integration bench fuzz fuzz-long clean mutate FORCE
all: $(C1M) $(ITEST_BIN) $(MAN)

release:
	$(MAKE) MODE=release all
asan:
	$(MAKE) MODE=asan all

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

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
	$(AR) rcs $@ $^

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

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

bench: $(BENCH_BIN) $(C1M)

# libFuzzer targets: tests/fuzz/fuzz_*.c, built with clang against the
# library sources directly (instrumented).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -Iinclude -pthread -fsanitize=fuzzer,address,undefined \
	    -o $@ $< $(LIB_SRC) -lm -lcrypto -luring

# Each target to 10 million executions (10 h cap each); CPU-heavy: niced.
fuzz-long: fuzz
	FUZZ_RUNS=10000000 nice -n 10 tests/run_fuzz.sh 36000

test:
	$(MAKE) MODE=release all unit
	$(MAKE) MODE=asan all unit
	tests/run_integration.sh build
	tests/run_integration.sh build/asan
	@if [ -n "$(FUZZ_SRC)" ]; then $(MAKE) fuzz && tests/run_fuzz.sh; fi

# Mutation check (tests/mutations/*.mut): every deliberate breakage must
# make one of its tests fail. Not part of `make test` (about 10 minutes).
mutate:
	tests/mutate.sh

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
