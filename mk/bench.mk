# bench/: hosted benchmarks, optimized, no sanitizers.
#   build/bench/buddy_bench   core/buddy ns per alloc+free, hook off vs on
# Linked through an archive of the optimized core/ and shim objects, so a
# benchmark pulls in only the core/ files it uses.
BENCH_LIB := $(BUILD)/opt/libpagehint-opt.a
BENCHES   := $(BUILD)/bench/buddy_bench

$(BENCH_LIB): $(CORE_OPT_OBJS) $(SHIM_OPT_OBJS)
	$(call say,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bench/%: bench/%.c $(BENCH_LIB)
	$(call say,CCLD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -O2 -DNDEBUG $(HOSTED_CORE_INC) $< $(BENCH_LIB) -o $@

ALL_TARGETS += $(BENCHES)

bench: $(BENCHES)
