# Fuzz targets (clang libFuzzer), see tests/fuzz/ and docs/hardening.md.
#
#   make fuzz         build/fuzz/fuzz_{mmio,balloon_dev,virtq_driver,api}
#   make fuzz-long    run each for FUZZ_SECONDS (300) over its corpus;
#                     new inputs go to build/fuzz/corpus/<target>, crashes
#                     to build/fuzz/artifacts/
#   make tsan         the hosted multi-threaded tests under ThreadSanitizer
#
# The fuzzers' own flag set: clang, -fsanitize=fuzzer,address,undefined;
# the core/ and vmm/ sources they need are compiled again with it into
# build/fuzz/obj (never the gcc objects). Not part of `make`: tests/fuzz/
# run.sh builds them for `make check` and skips if clang's fuzzer runtime
# is missing.

FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -MMD -MP -pthread \
                -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
                -Icore -Itests/shim -Ivmm -Itests/fuzz -I$(LLHTTP_INC)
FUZZ_LDFLAGS := -pthread -fsanitize=fuzzer $(FUZZ_SAN)
FUZZ_OBJ     := $(BUILD)/fuzz/obj

FUZZ_NAMES   := fuzz_mmio fuzz_balloon_dev fuzz_virtq_driver fuzz_api
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)
# vmm/fault.c: the faulty-device modes balloon.c calls into (when present)
FUZZ_DEV_SRCS := vmm/virtio_mmio.c vmm/balloon.c vmm/balloon_exitless.c vmm/vring_dev.c \
                 vmm/guest_mem.c vmm/log.c vmm/fault.c vmm/latency_hist.c core/exitless.c tests/shim/platform.c
FUZZ_DRV_SRCS := core/virtq.c tests/shim/platform.c

fuzz_objs = $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(1))
# The control API: ours instrumented, llhttp's C too (not our code: no
# warnings), jansson as Debian built it.
FUZZ_API_SRCS  := vmm/api.c vmm/exits.c vmm/latency_hist.c
FUZZ_LLHTTP_OBJS := $(LLHTTP_SRCS:%.c=$(FUZZ_OBJ)/llhttp/%.o)

$(FUZZ_OBJ)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(LLHTTP_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@

$(FUZZ_OBJ)/%.o: %.c
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/fuzz_mmio: $(call fuzz_objs,tests/fuzz/fuzz_mmio.c $(FUZZ_DEV_SRCS))
$(BUILD)/fuzz/fuzz_balloon_dev: $(call fuzz_objs,tests/fuzz/fuzz_balloon_dev.c $(FUZZ_DEV_SRCS))
$(BUILD)/fuzz/fuzz_virtq_driver: $(call fuzz_objs,tests/fuzz/fuzz_virtq_driver.c $(FUZZ_DRV_SRCS))
$(BUILD)/fuzz/fuzz_api: $(call fuzz_objs,tests/fuzz/fuzz_api.c $(FUZZ_API_SRCS)) $(FUZZ_LLHTTP_OBJS)
$(BUILD)/fuzz/fuzz_api: FUZZ_LIBS := -ljansson

$(FUZZ_BINS):
	$(call say,FUZZLD,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) $^ -o $@ $(FUZZ_LIBS)

.PHONY: fuzz fuzz-long tsan
fuzz: $(FUZZ_BINS)

FUZZ_SECONDS ?= 300
fuzz-long: fuzz
	@for t in $(FUZZ_NAMES); do \
		mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/artifacts; \
		echo "== $$t for $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- \
			$(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# ThreadSanitizer: the hosted tests that run threads (the per-CPU list
# stress, every engine under concurrency, the balloon driver's concurrent
# reporters, the exitless map between guest CPUs and a host scanner), built
# from the same sources as the unit tests but with -fsanitize=thread into
# build/tsan/, and run. TSAN_NAMES is the one list: tests/sanitizers/tsan.sh
# reads it (make print-tsan-tests) and runs it inside `make check`. clang, because GCC refuses atomic_thread_fence under
# -fsanitize=thread (-Wtsan) and core/virtq.c orders the ring with fences;
# TSan does not model a standalone fence, so a report on ring fields that a
# fence orders needs reading against the comment at the fence.
TSAN_CC     ?= clang
TSAN_NAMES  := test_buddy_pcp test_engine_stress test_balloon_driver test_exitless_buddy
TSAN_CFLAGS := -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -MMD -MP -pthread -fsanitize=thread \
               -DPH_DEBUG=1 $(HOSTED_CORE_INC) -Ivmm -Itests/unit
TSAN_LIB    := $(BUILD)/tsan/libpagehint-tsan.a
TSAN_OBJS   := $(patsubst %.c,$(BUILD)/tsan/%.o,$(CORE_SRCS) tests/shim/platform.c)
TSAN_BINS   := $(TSAN_NAMES:%=$(BUILD)/tsan/tests/%)

$(BUILD)/tsan/%.o: %.c
	$(call say,TSANCC,$@)
	@mkdir -p $(@D)
	$(Q)$(TSAN_CC) $(TSAN_CFLAGS) -c $< -o $@

$(TSAN_LIB): $(TSAN_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tsan/tests/%: tests/unit/%.c $(TSAN_LIB)
	$(call say,TSANLD,$@)
	@mkdir -p $(@D)
	$(Q)$(TSAN_CC) $(TSAN_CFLAGS) $< $(TSAN_LIB) -lcmocka -o $@

.PHONY: tsan-build
tsan-build: $(TSAN_BINS)

# The names, one line, for tests/sanitizers/tsan.sh.
.PHONY: print-tsan-tests
print-tsan-tests:
	@echo $(TSAN_NAMES)

# halt_on_error: the first race fails the run; the report is on stderr.
tsan: tsan-build
	@for t in $(TSAN_BINS); do \
		echo "== $$t"; \
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 $(TSAN_OPTIONS)" $$t || exit 1; \
	done
