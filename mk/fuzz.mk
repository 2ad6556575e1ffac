# Fuzz targets (clang libFuzzer), see tests/fuzz/.
