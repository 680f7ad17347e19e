# tracelamp - build, test, bench, fuzz. See README.md.
CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT     ?= -O2 -g
PKGS    := sqlite3 libevent libevent_pthreads zlib libzstd yaml-0.1 jansson
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Isrc -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread

BUILD   := build
# The library holds every module; src/cli/config.c is in it too so its unit test can
# link it. The other src/cli files are the binary's subcommands.
SRCS    := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort) src/cli/config.c
CLISRCS := $(filter-out src/cli/config.c,$(shell find src/cli -name '*.c' | sort))
GENSRCS := $(BUILD)/gen/prices_builtin.c
OBJS    := $(SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/prices_builtin.o
CLIOBJS := $(CLISRCS:%.c=$(BUILD)/obj/%.o)
UNIT    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(filter-out tests/unit/tl_test.c,$(wildcard tests/unit/test_*.c)))

.PHONY: all run test unit bench fuzz asan clean deps check-banned
all: $(BUILD)/tracelamp

deps:
	@bash scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/prices_builtin.c: prices/prices.yaml scripts/embed.sh
	@mkdir -p $(dir $@)
	bash scripts/embed.sh tl_builtin_prices prices/prices.yaml > $@

$(BUILD)/obj/gen/prices_builtin.o: $(BUILD)/gen/prices_builtin.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtl.a: $(OBJS) Makefile
	@rm -f $@
	ar rcs $@ $(OBJS)

$(BUILD)/tracelamp: $(CLIOBJS) $(BUILD)/libtl.a
	$(CC) $(CFLAGS) -o $@ $(CLIOBJS) $(BUILD)/libtl.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tl_test.h $(BUILD)/libtl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libtl.a $(LDLIBS)

unit: $(UNIT)

run: deps all
	$(BUILD)/tracelamp serve

test: deps all unit fuzz-replay
	@bash scripts/run-tests.sh

bench: deps all
	@bash bench/run.sh

# libFuzzer targets (clang); `make fuzz FUZZ_SECONDS=60` runs each for that long.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRCS    := $(SRCS) $(GENSRCS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
	clang $(CSTD) -g -O1 -Isrc -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS)) -o $@ $< $(FUZZ_SRCS) $(LDLIBS)
# Replays every corpus file through each target once (plain build, no libFuzzer).
$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libtl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libtl.a $(LDLIBS)
fuzz-replay: $(addprefix $(BUILD)/fuzz-replay/,$(FUZZ_TARGETS))
fuzz: $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz-corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 $(BUILD)/fuzz-corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  LDLIBS="$(LDLIBS) -fsanitize=address,undefined" all unit

check-banned:
	@bash scripts/check-banned.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
