#ifndef ARCHIVER_CSHIMS_H
#define ARCHIVER_CSHIMS_H

/// renameat2(2) with RENAME_NOREPLACE: renames unless the target exists, atomically.
/// Returns 0, or -1 with errno set (EINVAL/ENOSYS where the file system or kernel lacks the flag).
int archiver_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

#endif
