// The Linux system calls that Swift cannot reach through Glibc (the raw syscall(2) entry
// is variadic, and older C libraries lack the pidfd wrappers), and the Windows backend's
// flat records with the functions that fill them (windows.c, built only on Windows). The
// records are declared for every OS, so the Swift code that maps them is compiled and
// tested everywhere.
#ifndef CPORTSYS_H
#define CPORTSYS_H

#include <stddef.h>
#include <stdint.h>

// MARK: Windows records

/// A piece of UTF-16 text in a table's text pool: `length` code units from `offset`, no
/// terminator. An empty text (length 0) means not known or not readable.
typedef struct cportsys_win_text {
  uint32_t offset;
  uint32_t length;
} cportsys_win_text;

/// One row of the IP Helper tables (GetExtendedTcpTable with TCP_TABLE_OWNER_PID_ALL,
/// GetExtendedUdpTable with UDP_TABLE_OWNER_PID).
typedef struct cportsys_win_socket {
  /// dwOwningPid; 0 where the system names no owner (Wine before 9.17 names none).
  uint32_t pid;
  /// The IPv6 scope ids (0 for IPv4).
  uint32_t local_scope;
  uint32_t remote_scope;
  /// Ports in host byte order.
  uint16_t local_port;
  uint16_t remote_port;
  /// 6 for TCP, 17 for UDP.
  uint8_t protocol;
  /// 4 or 6.
  uint8_t family;
  /// MIB_TCP_STATE (1 CLOSED, 2 LISTEN, 3 SYN_SENT, 4 SYN_RCVD, 5 ESTAB, 6 FIN_WAIT1,
  /// 7 FIN_WAIT2, 8 CLOSE_WAIT, 9 CLOSING, 10 LAST_ACK, 11 TIME_WAIT, 12 DELETE_TCB);
  /// 0 for UDP.
  uint8_t state;
  uint8_t reserved;
  /// Addresses in network byte order; IPv4 in the first 4 bytes, the rest zero.
  uint8_t local_address[16];
  uint8_t remote_address[16];
} cportsys_win_socket;

/// Bits of cportsys_win_process.denied: the reads Windows refused for that process.
enum {
  CPORTSYS_WIN_DENIED_OPEN = 1,
  CPORTSYS_WIN_DENIED_IMAGE = 2,
  CPORTSYS_WIN_DENIED_TIMES = 4,
  CPORTSYS_WIN_DENIED_USER = 8,
  CPORTSYS_WIN_DENIED_COMMAND_LINE = 16,
};

/// One process: Toolhelp32's entry, plus, for the processes asked for, what opening it
/// tells (image path, creation time, owner, command line).
typedef struct cportsys_win_process {
  uint32_t pid;
  /// th32ParentProcessID: may name a process that has exited (and a reused pid), so a
  /// parent counts only when it was created before the child.
  uint32_t ppid;
  uint32_t threads;
  /// CPORTSYS_WIN_DENIED_* bits; 0 when every read worked or none was asked for.
  uint32_t denied;
  /// GetProcessTimes' creation time as a FILETIME: 100 ns units since 1601-01-01 UTC;
  /// 0 when not known.
  uint64_t created;
  /// szExeFile (`node.exe`).
  cportsys_win_text name;
  /// QueryFullProcessImageNameW (`C:\Program Files\nodejs\node.exe`).
  cportsys_win_text image;
  /// The token's user as `DOMAIN\user`.
  cportsys_win_text user;
  /// The command line as the process was given it (one string; split with Windows'
  /// CommandLineToArgvW rules).
  cportsys_win_text command_line;
} cportsys_win_process;

/// One Win32 service (EnumServicesStatusExW, SC_ENUM_PROCESS_INFO): the key name is not
/// localised.
typedef struct cportsys_win_service {
  /// The hosting process; 0 when the service is not running.
  uint32_t pid;
  /// SERVICE_STOPPED 1 … SERVICE_PAUSED 7.
  uint32_t state;
  cportsys_win_text name;
  cportsys_win_text display_name;
} cportsys_win_service;

/// Records and the UTF-16 text they point into. Filled by the functions below, released
/// with cportsys_win_table_free.
typedef struct cportsys_win_table {
  void *records;
  size_t count;
  uint16_t *text;
  size_t text_length;
} cportsys_win_table;

#ifdef _WIN32
/// Which sockets cportsys_win_sockets reads.
enum {
  CPORTSYS_WIN_TCP4 = 1,
  CPORTSYS_WIN_TCP6 = 2,
  CPORTSYS_WIN_UDP4 = 4,
  CPORTSYS_WIN_UDP6 = 8,
};

/// The sockets of the tables `which` names (CPORTSYS_WIN_TCP4 | …) as cportsys_win_socket
/// records, retrying while a table grows. 0, or the Win32 error code.
uint32_t cportsys_win_sockets(uint32_t which, cportsys_win_table *out);

/// Every process (Toolhelp32) as cportsys_win_process records; the processes whose pids
/// are in `detailed` (`count` of them; every process when `detailed` is NULL) are opened
/// for their image, creation time, owner and command line. 0, or the Win32 error code.
uint32_t cportsys_win_processes(const uint32_t *detailed, size_t count, cportsys_win_table *out);

/// Every Win32 service, running or not, as cportsys_win_service records. 0, or the Win32
/// error code.
uint32_t cportsys_win_services(cportsys_win_table *out);

/// Releases what a table holds and zeroes it.
void cportsys_win_table_free(cportsys_win_table *table);

/// Opens `pid` for terminating, waiting and querying: while the handle is open the pid
/// cannot name another process. Returns the handle as a 32-bit value (HandleToLong; 64-bit
/// Windows keeps handles within 32 significant bits), with the process's creation time
/// (FILETIME, as above) in `created`; 0 with the Win32 error in `error` when it cannot
/// be opened.
int32_t cportsys_win_open_process(uint32_t pid, uint64_t *created, uint32_t *error);

/// TerminateProcess on an opened handle. 0, or the Win32 error (5 ERROR_ACCESS_DENIED).
uint32_t cportsys_win_terminate(int32_t handle, uint32_t exit_code);

/// WaitForMultipleObjects over at most 64 handles, for any one: the index of an exited
/// process, -1 when `milliseconds` pass first, -2 on an error.
int32_t cportsys_win_wait_any(const int32_t *handles, uint32_t count, uint32_t milliseconds);

/// The exit code of an exited process; 259 (STILL_ACTIVE) while it runs.
uint32_t cportsys_win_exit_code(int32_t handle);

/// Closes an opened handle.
void cportsys_win_close(int32_t handle);

/// Binds a fresh socket to `address`:`port` (family 4 or 6, protocol 6 or 17) with
/// SO_EXCLUSIVEADDRUSE (never SO_REUSEADDR, which on Windows lets a bind take a port in
/// use), IPV6_V6ONLY as `v6_only` says on IPv6, listens for TCP, and closes it. 0 when it
/// binds, otherwise the Winsock error (10048 WSAEADDRINUSE, 10013 WSAEACCES, 10049
/// WSAEADDRNOTAVAIL, 10047 WSAEAFNOSUPPORT, …).
uint32_t cportsys_win_try_bind(uint8_t family, uint8_t protocol, const uint8_t address[16], uint16_t port,
                               int v6_only);

/// Turns on ENABLE_VIRTUAL_TERMINAL_PROCESSING for the console on `stream` (1 standard
/// output, 2 standard error): 1 when escape sequences will be drawn, 0 when not (not a
/// console, or a console too old for them).
int cportsys_win_enable_virtual_terminal(int stream);

/// The width in columns of the console window on `stream`; 0 when it is not a console.
int cportsys_win_console_columns(int stream);
#endif

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
