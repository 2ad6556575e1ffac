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
