#ifndef ARCHIVER_CZSTD_SHIM_H
#define ARCHIVER_CZSTD_SHIM_H
#include <zstd.h>
/// The error codes (ZSTD_getErrorCode), so the decoder can tell a too-large window from corrupt data.
#include <zstd_errors.h>
#endif
