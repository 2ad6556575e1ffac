# guest/: the freestanding x86-64 guest kernel, build/pagehint-guest.elf.
GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -MMD -MP \
	-ffreestanding -nostdlib -nostdinc -isystem $(shell $(CC) -print-file-name=include) \
	-fno-pic -fno-pie -fno-stack-protector -fno-builtin -mno-red-zone -mgeneral-regs-only \
	-mcmodel=small -Icore -Iguest
CORE_GUEST_OBJS := $(CORE_SRCS:%.c=$(BUILD)/guest/%.o)

$(BUILD)/guest/core/%.o: core/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

# The kernel proper: guest/*.c and guest/*.S, linked with the guest build of
# core/ at 1 MiB (guest/kernel.ld). -fno-tree-loop-distribute-patterns keeps
# GCC from turning lib.c's loops back into calls to themselves.
GUEST_SRCS   := $(wildcard guest/*.c) $(wildcard guest/*.S)
GUEST_OBJS   := $(patsubst %,$(BUILD)/guest/%.o,$(basename $(GUEST_SRCS)))
# (clang has no such flag: LLVM leaves functions named memset/memcpy alone.)
CC_IS_CLANG  := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
GUEST_KFLAGS := $(if $(CC_IS_CLANG),,-fno-tree-loop-distribute-patterns) -fno-omit-frame-pointer
GUEST_ELF    := $(BUILD)/pagehint-guest.elf

$(BUILD)/guest/guest/%.o: guest/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_KFLAGS) -c $< -o $@

$(BUILD)/guest/guest/%.o: guest/%.S
	$(call say,AS,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(GUEST_CFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(GUEST_ELF): $(GUEST_OBJS) $(CORE_GUEST_OBJS) guest/kernel.ld
	$(call say,LD,$@)
	$(Q)$(CC) -nostdlib -static -no-pie -Wl,-T,guest/kernel.ld -Wl,--build-id=none \
		-Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments \
		$(GUEST_OBJS) $(CORE_GUEST_OBJS) $(shell $(CC) -print-libgcc-file-name) -o $@

ALL_TARGETS += $(GUEST_ELF)
