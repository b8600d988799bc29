#ifndef ARCHIVER_CZLIB_SHIM_H
#define ARCHIVER_CZLIB_SHIM_H
#include <zlib.h>

/// zlib's init macros pass sizeof(z_stream); Swift cannot call macros, so wrap them.
static inline int archiver_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, strategy);
}
static inline int archiver_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
