# vmm/: the hypervisor, build/pagehint. vmm/main.c holds main(); every
# other vmm/*.c is also built sanitized into the test library.
