// The Linux system calls that Swift cannot reach through Glibc: the raw syscall(2) entry
// is variadic, and older C libraries lack the pidfd wrappers.
#ifndef CPORTSYS_H
#define CPORTSYS_H

#ifdef __linux__
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/// pidfd_open(2): a descriptor that refers to one process for as long as it is open, and
/// becomes readable when that process exits. -1 with errno on failure.
static inline int cportsys_pidfd_open(pid_t pid, unsigned int flags) {
  return (int)syscall(SYS_pidfd_open, pid, flags);
}

/// getdents64(2): directory entries straight into a caller's buffer (struct linux_dirent64:
/// u64 inode, s64 offset, u16 record length, u8 type, then the NUL-terminated name).
static inline long cportsys_getdents64(int fd, void *buffer, unsigned long size) {
  return syscall(SYS_getdents64, fd, buffer, size);
}

/// kcmp(2) with KCMP_FILES: 0 when the two tasks (threads) share one descriptor table, a
/// positive number when they do not, -1 with errno when it cannot tell (no kcmp, no access).
static inline int cportsys_same_files(pid_t first, pid_t second) {
#ifdef SYS_kcmp
  return (int)syscall(SYS_kcmp, first, second, 2 /* KCMP_FILES */, 0ul, 0ul);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/// pidfd_send_signal(2): signal the process the descriptor refers to, never a reused pid.
static inline int cportsys_pidfd_send_signal(int pidfd, int sig) {
  return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, (void *)0, 0u);
}

#ifdef __GLIBC__
#include <malloc.h>
/// Large blocks (64 KiB and up) always from mmap, so that a freed array goes back to the
/// system at once, and one arena for every thread: glibc's default raises the mmap
/// threshold after each large free and gives each thread its own arena, which keeps freed
/// tables resident. Returns 1 when both settings took.
static inline int cportsys_tune_allocator(void) {
  int threshold = mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  int arenas = mallopt(M_ARENA_MAX, 1);
  return threshold == 1 && arenas == 1;
}
#else
static inline int cportsys_tune_allocator(void) { return 0; }
#endif
#endif

#endif
