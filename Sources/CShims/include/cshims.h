#ifndef ARCHIVER_CSHIMS_H
#define ARCHIVER_CSHIMS_H

/// renameat2(2) with RENAME_NOREPLACE: renames unless the target exists, atomically.
/// Returns 0, or -1 with errno set (EINVAL/ENOSYS where the file system or kernel lacks the flag).
int archiver_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

#endif

#ifndef ARCHIVER_CSHIMS_MALLOC
#define ARCHIVER_CSHIMS_MALLOC
/// Limits glibc to `arenas` malloc arenas and fixes the mmap threshold at `mmap_threshold` bytes, so large
/// buffers go back to the kernel when freed. No effect on other C libraries.
void archiver_tune_malloc(int arenas, int mmap_threshold);
#endif

#ifndef ARCHIVER_CSHIMS_AEAD
#define ARCHIVER_CSHIMS_AEAD
#include <stddef.h>
#include <stdint.h>

/// A ChaCha20-Poly1305 sealing context over the system OpenSSL (libcrypto), keyed once and reused for every
/// chunk, writing straight into the caller's buffer: no allocation and no copy per chunk.
typedef struct archiver_chacha_sealer archiver_chacha_sealer;

/// Creates a sealer for a 32-byte key, or returns NULL when OpenSSL cannot.
archiver_chacha_sealer *archiver_chacha_sealer_new(const uint8_t *key32);
void archiver_chacha_sealer_free(archiver_chacha_sealer *sealer);
/// Encrypts `length` bytes of `input` under the 12-byte nonce and writes ciphertext then the 16-byte tag to
/// `output` (length + 16 bytes). Returns 1 on success, 0 on failure.
int archiver_chacha_seal(archiver_chacha_sealer *sealer, const uint8_t *nonce12, const uint8_t *input, size_t length,
                         uint8_t *output);

/// The same context keyed for opening: `archiver_chacha_open` authenticates `length` bytes of ciphertext against
/// the 16-byte tag and writes the plaintext to `output` (length bytes). Returns 1 only when the tag matches; on 0
/// the output must not be used. Free with `archiver_chacha_sealer_free`.
archiver_chacha_sealer *archiver_chacha_opener_new(const uint8_t *key32);
int archiver_chacha_open(archiver_chacha_sealer *opener, const uint8_t *nonce12, const uint8_t *input, size_t length,
                         const uint8_t *tag16, uint8_t *output);
#endif

#ifndef ARCHIVER_CSHIMS_PRIORITY
#define ARCHIVER_CSHIMS_PRIORITY
/// ioprio_set(2) for this process (glibc has no wrapper): `io_class` 1 real-time, 2 best-effort, 3 idle; `level`
/// 0 (highest) to 7 for best-effort. Returns 0, or -1 with errno set.
int archiver_set_io_priority(int io_class, int level);
#endif
