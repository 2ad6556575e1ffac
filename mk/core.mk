# core/: freestanding C, built hosted for tests (sanitized, PH_DEBUG
# checks on) and for benchmarks (optimized). The guest build of core/ is
# in mk/guest.mk.
CORE_SRCS     := $(wildcard core/*.c)
CORE_HOST_OBJS := $(CORE_SRCS:%.c=$(BUILD)/host/%.o)
CORE_OPT_OBJS  := $(CORE_SRCS:%.c=$(BUILD)/opt/%.o)
SHIM_HOST_OBJS := $(BUILD)/host/tests/shim/platform.o
SHIM_OPT_OBJS  := $(BUILD)/opt/tests/shim/platform.o

TEST_LIB_OBJS += $(CORE_HOST_OBJS) $(SHIM_HOST_OBJS)

HOSTED_CORE_INC := -Icore -Itests/shim

$(BUILD)/host/core/%.o $(BUILD)/host/tests/shim/%.o: CFLAGS_EXTRA := $(SAN_FLAGS) -DPH_DEBUG=1
$(BUILD)/opt/core/%.o $(BUILD)/opt/tests/shim/%.o: CFLAGS_EXTRA := -DNDEBUG

# One pattern rule per output directory: a pattern rule with several
# targets would tell make that one run of the recipe makes all of them.
define hosted_cc
$(BUILD)/$(1)/$(2)/%.o: $(2)/%.c
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HOST_CFLAGS) $$(CFLAGS_EXTRA) $$(HOSTED_CORE_INC) -c $$< -o $$@
endef
$(foreach set,host opt,$(foreach dir,core tests/shim,$(eval $(call hosted_cc,$(set),$(dir)))))
