#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// SwiftPM links an executable's `main` to `<module>_main` (--defsym main=archiver_fuzz_main), which a module compiled
// with -parse-as-library does not define. This is that symbol: it hands the command line to libFuzzer's driver,
// which calls LLVMFuzzerTestOneInput (main.swift) for every input.
int archiver_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
