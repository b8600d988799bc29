#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
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
