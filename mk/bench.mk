# bench/: `pagehint bench` and `pagehint peers` (bench/*.c), linked into
# build/pagehint (mk/cmd.mk), and
# the micro-benchmarks (bench/micro/), one program each:
#   build/bench/micro/buddy_bench      core/buddy ns per alloc+free, hook off vs on
#   build/bench/micro/discard_bench    discard through the balloon device vs raw madvise
#   build/bench/micro/exitless_bench   memory back through the exitless map's scanner
#   build/bench/micro/resident_bench   one resident-memory sample of the telemetry
#   build/bench/micro/api_bench        GET /metrics while the counters move at full speed
# and the figures' tools (bench/tools/):
#   build/bench/marks                  reclaim_marks() over a samples CSV (make demo's
#                                      QEMU path, tests/figures/analyze_py.sh)
# The bench's objects are also built sanitized into the test library.
# Its front ends share cmd/front.c with `pagehint run` (-Icmd).
BENCH_SRCS      := $(wildcard bench/*.c)
BENCH_OBJS      := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
BENCH_HOST_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/host/%.o)
BENCH_INC       := -Ibench -Icmd $(VMM_INC)

TEST_LIB_OBJS += $(BENCH_HOST_OBJS)

$(BUILD)/bench/%.o: CFLAGS_EXTRA := -O2
$(BUILD)/host/bench/%.o: CFLAGS_EXTRA := $(SAN_FLAGS)

$(BUILD)/bench/%.o: bench/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS_EXTRA) $(BENCH_INC) -c $< -o $@

$(BUILD)/host/bench/%.o: bench/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(CFLAGS_EXTRA) $(BENCH_INC) -c $< -o $@

# The micro-benchmarks of core/ link an archive of the optimized core/
# and shim objects, so each pulls in only the core/ files it uses; those
# of the device and telemetry link the optimized (unsanitized) vmm/
# objects.
BENCH_LIB      := $(BUILD)/opt/libpagehint-opt.a
MICRO_CORE     := $(BUILD)/bench/micro/buddy_bench
MICRO_VMM      := $(BUILD)/bench/micro/discard_bench $(BUILD)/bench/micro/exitless_bench \
                  $(BUILD)/bench/micro/resident_bench $(BUILD)/bench/micro/api_bench
MICRO_BENCHES  := $(MICRO_CORE) $(MICRO_VMM)

$(BENCH_LIB): $(CORE_OPT_OBJS) $(SHIM_OPT_OBJS)
	$(call say,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(MICRO_CORE): $(BUILD)/bench/micro/%: bench/micro/%.c $(BENCH_LIB)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -O2 -DNDEBUG $(HOSTED_CORE_INC) $< $(BENCH_LIB) -o $@

$(MICRO_VMM): $(BUILD)/bench/micro/%: bench/micro/%.c $(VMM_OBJS) $(VMM_CORE_OBJS)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) $(VMM_INC) $(filter %.c %.o,$^) -o $@ $(VMM_LIBS)

ALL_TARGETS += $(MICRO_BENCHES)

$(BUILD)/bench/marks: bench/tools/marks.c $(BUILD)/vmm/reclaim_marks.o
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -O2 $(VMM_INC) $(filter %.c %.o,$^) -o $@ -lm

ALL_TARGETS += $(BUILD)/bench/marks

bench: $(MICRO_BENCHES)
