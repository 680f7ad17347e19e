# tracelamp - build, test, bench, fuzz. See README.md.
CC      ?= cc
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT     ?= -O2 -g
PKGS    := sqlite3 libevent libevent_pthreads zlib libzstd yaml-0.1 jansson libcurl libnghttp2
CFLAGS  += $(CSTD) $(WARN) $(OPT) -Isrc -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread

BUILD   := build
# The library holds every module; src/cli/config.c is in it too so its unit test can
# link it. The other src/cli files are the binary's subcommands.
SRCS    := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort) src/cli/config.c
CLISRCS := $(filter-out src/cli/config.c,$(shell find src/cli -name '*.c' | sort))
GENSRCS := $(BUILD)/gen/prices_builtin.c $(BUILD)/gen/ui_assets.c
OBJS    := $(SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/prices_builtin.o $(BUILD)/obj/gen/ui_assets.o
UI_SRCS := $(wildcard web/*.js web/*.css web/*.html)
UI_DIST := web/node_modules/uplot/dist/uPlot.iife.min.js web/node_modules/uplot/dist/uPlot.min.css
CLIOBJS := $(CLISRCS:%.c=$(BUILD)/obj/%.o)
UNIT    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(filter-out tests/unit/tl_test.c,$(wildcard tests/unit/test_*.c)))

.PHONY: all run test unit bench fuzz fuzz-replay asan clean deps check-banned
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

# The web UI (web/) and uPlot (npm) are embedded into the binary, gzip-compressed.
$(UI_DIST) &: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $(UI_DIST)

$(BUILD)/gen/ui_assets.c: $(UI_SRCS) $(UI_DIST) scripts/embed-ui.sh
	@mkdir -p $(dir $@)
	bash scripts/embed-ui.sh web web/node_modules/uplot/dist > $@

$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c src/ui/ui.h
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

test: deps all sdk trace-propagation unit fuzz-replay
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

# ---- libtracelamp: the C SDK (sdk/, examples/agent.c, docs/sdk.md) -----------
SDKSRCS   := $(sort $(wildcard sdk/src/*.c))
SDKSHARED := src/core/core.c src/proto/proto.c src/otlp/encode.c
SDKOBJS   := $(SDKSRCS:%.c=$(BUILD)/sdkobj/%.o) $(SDKSHARED:%.c=$(BUILD)/sdkobj/%.o)
SDKCFLAGS := $(CSTD) $(WARN) $(OPT) -Isrc -Isdk/include -pthread -fPIC -fvisibility=hidden
SDKLIBS   := -lcurl -lz -pthread

.PHONY: sdk sdk-bench sdk-e2e
sdk: $(BUILD)/libtracelamp.so $(BUILD)/libtracelamp.a $(BUILD)/examples/agent

$(BUILD)/sdkobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SDKCFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtracelamp.so: $(SDKOBJS)
	$(CC) -shared -Wl,-soname,libtracelamp.so -Wl,--no-undefined -o $@ $^ $(SDKLIBS)

$(BUILD)/libtracelamp.a: $(SDKOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/examples/agent: examples/agent.c sdk/include/tracelamp.h $(BUILD)/libtracelamp.so
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -Isdk/include -o $@ $< -L$(BUILD) -l:libtracelamp.so -Wl,-rpath,'$$ORIGIN/..'

$(BUILD)/sdk/bench_noop: sdk/bench/bench_noop.c sdk/include/tracelamp.h $(BUILD)/libtracelamp.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -Isdk/include -o $@ $< $(BUILD)/libtracelamp.a $(SDKLIBS)

# Explicit rule: overrides the $(BUILD)/tests/% pattern (the test compiles the SDK
# sources itself and wraps malloc to prove the disabled path allocates nothing).
$(BUILD)/tests/test_sdk: tests/unit/test_sdk.c tests/unit/tl_test.h $(SDKSRCS) sdk/src/sdk_int.h sdk/include/tracelamp.h $(BUILD)/libtl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isdk/include -Itests/unit -o $@ $< $(SDKSRCS) $(BUILD)/libtl.a $(LDLIBS) $(SDKLIBS) \
	  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc

sdk-bench: $(BUILD)/sdk/bench_noop
	$(BUILD)/sdk/bench_noop

sdk-e2e: $(BUILD)/tracelamp $(BUILD)/examples/agent
	bash tests/sdk/e2e.sh

-include $(shell find $(BUILD)/sdkobj -name '*.d' 2>/dev/null)

include tests/integration/trace-propagation/rules.mk

check-banned:
	@bash scripts/check-banned.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
