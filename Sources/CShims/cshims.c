#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>
#include "cshims.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int archiver_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    /* Through syscall(2) so older C libraries without a renameat2 wrapper work too. */
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void archiver_tune_malloc(int arenas, int mmap_threshold) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, arenas);
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
#else
    (void)arenas;
    (void)mmap_threshold;
#endif
}

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct archiver_chacha_sealer {
    EVP_CIPHER_CTX *ctx;
};

/* One context for either direction, keyed once; `encrypt` picks sealing or opening. */
static archiver_chacha_sealer *chacha_context_new(const uint8_t *key32, int encrypt) {
    /* Only the built-in cipher is used: skip reading openssl.cnf and its modules (memory and start-up time). */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    archiver_chacha_sealer *sealer = malloc(sizeof *sealer);
    if (sealer == NULL) return NULL;
    sealer->ctx = EVP_CIPHER_CTX_new();
    if (sealer->ctx == NULL
        || EVP_CipherInit_ex(sealer->ctx, EVP_chacha20_poly1305(), NULL, key32, NULL, encrypt) != 1) {
        archiver_chacha_sealer_free(sealer);
        return NULL;
    }
    return sealer;
}

archiver_chacha_sealer *archiver_chacha_sealer_new(const uint8_t *key32) { return chacha_context_new(key32, 1); }

archiver_chacha_sealer *archiver_chacha_opener_new(const uint8_t *key32) { return chacha_context_new(key32, 0); }

void archiver_chacha_sealer_free(archiver_chacha_sealer *sealer) {
    if (sealer == NULL) return;
    EVP_CIPHER_CTX_free(sealer->ctx);
    free(sealer);
}

int archiver_chacha_open(archiver_chacha_sealer *opener, const uint8_t *nonce12, const uint8_t *input, size_t length,
                         const uint8_t *tag16, uint8_t *output) {
    int written = 0, final_written = 0;
    if (length > 0x7fffffff) return 0;
    if (EVP_DecryptInit_ex(opener->ctx, NULL, NULL, NULL, nonce12) != 1) return 0;
    if (length > 0 && EVP_DecryptUpdate(opener->ctx, output, &written, input, (int)length) != 1) return 0;
    if (EVP_CIPHER_CTX_ctrl(opener->ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag16) != 1) return 0;
    /* The tag is checked here: on failure `output` holds unauthenticated bytes that the caller must drop. */
    if (EVP_DecryptFinal_ex(opener->ctx, output + written, &final_written) != 1) return 0;
    return (size_t)(written + final_written) == length;
}

int archiver_chacha_seal(archiver_chacha_sealer *sealer, const uint8_t *nonce12, const uint8_t *input, size_t length,
                         uint8_t *output) {
    int written = 0, final_written = 0;
    if (length > 0x7fffffff) return 0;
    if (EVP_EncryptInit_ex(sealer->ctx, NULL, NULL, NULL, nonce12) != 1) return 0;
    if (length > 0 && EVP_EncryptUpdate(sealer->ctx, output, &written, input, (int)length) != 1) return 0;
    if (EVP_EncryptFinal_ex(sealer->ctx, output + written, &final_written) != 1) return 0;
    if ((size_t)(written + final_written) != length) return 0;
    return EVP_CIPHER_CTX_ctrl(sealer->ctx, EVP_CTRL_AEAD_GET_TAG, 16, output + length) == 1;
}

#include <sys/syscall.h>
#include <unistd.h>

int archiver_set_io_priority(int io_class, int level) {
#ifdef SYS_ioprio_set
    // IOPRIO_WHO_PROCESS = 1, pid 0 = this process; the value is class << 13 | data.
    return (int)syscall(SYS_ioprio_set, 1, 0, (io_class << 13) | level);
#else
    (void)io_class;
    (void)level;
    return -1;
#endif
}
