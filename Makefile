# pagehint — the whole build, one non-recursive make (fragments in mk/).
#
#   make            build everything into build/
#   make check      build, then run every test through prove (TAP)
#   make demo       the main job: a default VM with our guest, memory back
#   make bench      build the micro-benchmarks (bench/micro/)
#   make V=1        show the commands
#
# Three flag sets: hosted (the VMM, tests, benchmarks), guest (freestanding
# x86-64 kernel) and, for tests, hosted plus ASan/UBSan. core/*.c is built
# once per set: build/guest/core, build/host/core (sanitized, debug checks)
# and build/opt/core (benchmarks).

BUILD  := build
# One spelling of the build directory whatever the caller passed (build,
# ./build, $PWD/build: the test scripts pass it absolute): the dependency
# files name their targets by it, and make matches them only to rules
# spelled the same way, so a header change would go unseen.
override BUILD := $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))
Q      := $(if $(filter 1,$(V)),,@)
say     = $(if $(Q),@printf '  %-6s %s\n' '$(1)' '$(2)';)

CC     ?= cc
WARN   := -Wall -Wextra -Werror -Wformat=2 -Wundef -Wstrict-prototypes -Wmissing-prototypes \
          -Wredundant-decls -Wwrite-strings
HOST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -MMD -MP -pthread
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer

# Objects for test binaries (sanitized); fragments append to these.
TEST_LIB_OBJS :=
# Programs that `make` builds; fragments append.
ALL_TARGETS   :=

.PHONY: all check lint demo bench clean compile_commands.json
all:

include mk/core.mk
include mk/vmm.mk
include mk/guest.mk
include mk/bench.mk
include mk/cmd.mk
include mk/fuzz.mk
include mk/tests.mk

all: $(ALL_TARGETS)

clean:
	rm -rf $(BUILD)

compile_commands.json:
	$(MAKE) clean && bear -- $(MAKE) all

# Only our compilers' dependency files (build/ also holds unpacked packages).
-include $(shell find $(BUILD) -name '*.d' -type f -not -path '$(BUILD)/linux-ref/*' 2>/dev/null)

# The main job: see scripts/demo.sh.
demo: all
	scripts/demo.sh
