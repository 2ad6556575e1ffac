# bench/: hosted benchmarks, optimized, no sanitizers.
