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
