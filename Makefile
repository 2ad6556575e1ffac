# pagehint — the whole build, one non-recursive make (fragments in mk/).
#
#   make            build everything into build/
#   make check      build, then run every test through prove (TAP)
#   make demo       the main job: a default VM with our guest, memory back
#   make bench      build the micro-benchmarks (bench/micro/)
#   make V=1        show the commands
#   make compile_commands.json   the compilation database, nothing rebuilt
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

# The compilation database for editors and the linters
# (tests/lint/clang_tidy.sh), from `make -n -B`: nothing is built or
# cleaned, so build/ keeps its objects, cached kernels and unpacked
# packages. One entry per compile of each file (core/ has several: guest,
# sanitized, optimized, fuzz); see scripts/compile_commands.py.
compile_commands.json:
	$(Q)python3 scripts/compile_commands.py 'BUILD=$(BUILD)' 'CC=$(CC)' > $@.tmp && mv $@.tmp $@

# Only our compilers' dependency files (build/ also holds unpacked packages).
-include $(shell find $(BUILD) -name '*.d' -type f -not -path '$(BUILD)/linux-ref/*' 2>/dev/null)

# The main job: see scripts/demo.sh.
demo: all
	scripts/demo.sh
