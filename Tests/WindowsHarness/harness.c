// A Windows program that runs the functions of Sources/CPortSys/windows.c (compiled in
// beside it) against a live system and prints what they return as a records dump (the
// format Tests/PortKitTests parses with WindowsRecordDump): its own sockets, every socket
// of the four tables, every process, every service, the handle-based termination of a
// child it started, and bind probes. Built and run under Wine by run-under-wine.sh; it runs
// as is on Windows too.
//
//   harness.exe [SPEC…]   SPEC: a port a Linux (or other) process holds on 127.0.0.1 over
//                         TCP (`8080`), or `tcp4:PORT`, `udp4:PORT` (127.0.0.1),
//                         `tcp6:PORT`, `udp6:PORT` (::1)
//   harness.exe child EVENT   the holder child: listens, sets the named event, sleeps
//
// Exit status 0 when every call worked, 1 when one failed (the dump then says which on
// standard error), 2 on a usage error.
#include "CPortSys.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
// clang-format on
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void fail(const char *what, unsigned long error) {
  fprintf(stderr, "harness: %s failed with error %lu.\n", what, error);
  failures += 1;
}

// MARK: Output

/// Prints bytes as a dump value: `\`, TAB, LF, CR and the other bytes below 0x20 escaped.
static void put_escaped(const char *text, size_t length) {
  for (size_t i = 0; i < length; i++) {
    unsigned char byte = (unsigned char)text[i];
    switch (byte) {
    case '\\': fputs("\\\\", stdout); break;
    case '\t': fputs("\\t", stdout); break;
    case '\n': fputs("\\n", stdout); break;
    case '\r': fputs("\\r", stdout); break;
    default:
      if (byte < 0x20) {
        printf("\\x%02X", byte);
      } else {
        putchar(byte);
      }
    }
  }
}

/// Prints a TAB, `key=` and the UTF-16 text converted to UTF-8, escaped.
static void put_text(const char *key, const uint16_t *text, size_t length) {
  printf("\t%s=", key);
  if (length == 0 || length > INT_MAX) return;
  const WCHAR *wide = (const WCHAR *)text;
  int bytes = WideCharToMultiByte(CP_UTF8, 0, wide, (int)length, NULL, 0, NULL, NULL);
  if (bytes <= 0) return;
  char *utf8 = malloc((size_t)bytes);
  if (!utf8) return;
  WideCharToMultiByte(CP_UTF8, 0, wide, (int)length, utf8, bytes, NULL, NULL);
  put_escaped(utf8, (size_t)bytes);
  free(utf8);
}

static void put_pool_text(const char *key, cportsys_win_text text, const cportsys_win_table *table) {
  if ((size_t)text.offset + text.length > table->text_length) {
    printf("\t%s=", key);
    return;
  }
  put_text(key, table->text + text.offset, text.length);
}

/// The textual form of an address in network byte order (family 4 or 6).
static void format_address(int family, const uint8_t *address, char *out, size_t size) {
  if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, address, out, size)) snprintf(out, size, "?");
}

// MARK: Sockets of our own

/// Opens a socket on the loopback address of `family` on a port the system picks, listening
/// for TCP. Returns INVALID_SOCKET on failure; the port in `port`.
static SOCKET open_socket(int family, int protocol, uint16_t *port) {
  *port = 0;
  BOOL tcp = protocol == 6;
  SOCKET s = socket(family == 4 ? AF_INET : AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM, tcp ? IPPROTO_TCP : IPPROTO_UDP);
  if (s == INVALID_SOCKET) {
    fail("socket", (unsigned long)WSAGetLastError());
    return s;
  }
  struct sockaddr_storage storage;
  memset(&storage, 0, sizeof(storage));
  int length;
  if (family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = (int)sizeof(*v4);
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    length = (int)sizeof(*v6);
  }
  if (bind(s, (struct sockaddr *)&storage, length) != 0 || (tcp && listen(s, 8) != 0)) {
    fail("bind or listen", (unsigned long)WSAGetLastError());
    closesocket(s);
    return INVALID_SOCKET;
  }
  length = (int)sizeof(storage);
  if (getsockname(s, (struct sockaddr *)&storage, &length) != 0) {
    fail("getsockname", (unsigned long)WSAGetLastError());
    closesocket(s);
    return INVALID_SOCKET;
  }
  *port = ntohs(family == 4 ? ((struct sockaddr_in *)&storage)->sin_port : ((struct sockaddr_in6 *)&storage)->sin6_port);
  return s;
}

// MARK: The child

static int child_main(const char *event_name) {
  WSADATA data;
  if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 3;
  uint16_t port = 0;
  SOCKET listener = open_socket(4, 6, &port);
  if (listener == INVALID_SOCKET) return 4;
  HANDLE ready = OpenEventA(EVENT_MODIFY_STATE, FALSE, event_name);
  if (!ready) return 5;
  SetEvent(ready);
  CloseHandle(ready);
  // The parent terminates this process long before this ends.
  Sleep(120000);
  closesocket(listener);
  return 0;
}

/// Starts this program again as the holder child and waits until it listens. The child's
/// pid, or 0.
static DWORD start_child(void) {
  WCHAR exe[MAX_PATH * 4];
  DWORD length = GetModuleFileNameW(NULL, exe, MAX_PATH * 4);
  if (length == 0 || length >= MAX_PATH * 4) {
    fail("GetModuleFileNameW", GetLastError());
    return 0;
  }
  char event_name[64];
  snprintf(event_name, sizeof(event_name), "Local\\portctl-harness-ready-%lu", GetCurrentProcessId());
  HANDLE ready = CreateEventA(NULL, TRUE, FALSE, event_name);
  if (!ready) {
    fail("CreateEventA", GetLastError());
    return 0;
  }
  WCHAR command[MAX_PATH * 4 + 80];
  _snwprintf(command, sizeof(command) / sizeof(command[0]), L"\"%ls\" child %hs", exe, event_name);
  command[sizeof(command) / sizeof(command[0]) - 1] = 0;
  STARTUPINFOW startup;
  memset(&startup, 0, sizeof(startup));
  startup.cb = sizeof(startup);
  PROCESS_INFORMATION info;
  if (!CreateProcessW(exe, command, NULL, NULL, FALSE, 0, NULL, NULL, &startup, &info)) {
    fail("CreateProcessW", GetLastError());
    CloseHandle(ready);
    return 0;
  }
  CloseHandle(info.hThread);
  // Ready, or exited early, or 30 s passed.
  HANDLE both[2] = {ready, info.hProcess};
  DWORD waited = WaitForMultipleObjects(2, both, FALSE, 30000);
  CloseHandle(info.hProcess);
  CloseHandle(ready);
  if (waited != WAIT_OBJECT_0) {
    fail("waiting for the child to listen", waited);
    return 0;
  }
  return info.dwProcessId;
}

// MARK: Dumps

static void print_sockets(void) {
  cportsys_win_table table;
  uint32_t error =
    cportsys_win_sockets(CPORTSYS_WIN_TCP4 | CPORTSYS_WIN_TCP6 | CPORTSYS_WIN_UDP4 | CPORTSYS_WIN_UDP6, &table);
  if (error != 0) {
    fail("cportsys_win_sockets", error);
    return;
  }
  const cportsys_win_socket *sockets = table.records;
  for (size_t i = 0; i < table.count; i++) {
    const cportsys_win_socket *s = &sockets[i];
    char local[INET6_ADDRSTRLEN], remote[INET6_ADDRSTRLEN];
    format_address(s->family, s->local_address, local, sizeof(local));
    format_address(s->family, s->remote_address, remote, sizeof(remote));
    printf("socket\tproto=%s\tfamily=%u\tstate=%u\tlocal=%s\tlport=%u\tremote=%s\trport=%u\tlscope=%lu\trscope=%lu"
           "\tpid=%lu\n",
           s->protocol == 6 ? "tcp" : s->protocol == 17 ? "udp" : "?", s->family, s->state, local, s->local_port,
           remote, s->remote_port, (unsigned long)s->local_scope, (unsigned long)s->remote_scope,
           (unsigned long)s->pid);
  }
  cportsys_win_table_free(&table);
}

static void print_processes(void) {
  cportsys_win_table table;
  uint32_t error = cportsys_win_processes(NULL, 0, &table);
  if (error != 0) {
    fail("cportsys_win_processes", error);
    return;
  }
  const cportsys_win_process *processes = table.records;
  for (size_t i = 0; i < table.count; i++) {
    const cportsys_win_process *p = &processes[i];
    printf("process\tpid=%lu\tppid=%lu\tthreads=%lu\tdenied=%lu\tcreated=%llu", (unsigned long)p->pid,
           (unsigned long)p->ppid, (unsigned long)p->threads, (unsigned long)p->denied,
           (unsigned long long)p->created);
    put_pool_text("name", p->name, &table);
    put_pool_text("image", p->image, &table);
    put_pool_text("user", p->user, &table);
    put_pool_text("cmd", p->command_line, &table);
    putchar('\n');
  }
  cportsys_win_table_free(&table);
}

static void print_services(void) {
  cportsys_win_table table;
  uint32_t error = cportsys_win_services(&table);
  if (error != 0) {
    fail("cportsys_win_services", error);
    return;
  }
  const cportsys_win_service *services = table.records;
  for (size_t i = 0; i < table.count; i++) {
    printf("service\tpid=%lu\tstate=%lu", (unsigned long)services[i].pid, (unsigned long)services[i].state);
    put_pool_text("name", services[i].name, &table);
    put_pool_text("display", services[i].display_name, &table);
    putchar('\n');
  }
  cportsys_win_table_free(&table);
}

/// The processes again, with details asked for `pid` only: prints that process's creation
/// time and image, and how many others were opened (none should be).
static void print_detailed(DWORD pid) {
  cportsys_win_table table;
  uint32_t wanted = pid;
  uint32_t error = cportsys_win_processes(&wanted, 1, &table);
  if (error != 0) {
    fail("cportsys_win_processes for one pid", error);
    return;
  }
  const cportsys_win_process *processes = table.records;
  unsigned long others = 0;
  const cportsys_win_process *found = NULL;
  for (size_t i = 0; i < table.count; i++) {
    if (processes[i].pid == pid) {
      found = &processes[i];
    } else if (processes[i].created != 0 || processes[i].image.length != 0 || processes[i].denied != 0) {
      others += 1;
    }
  }
  printf("detailed\tpid=%lu\tfound=%d\tcreated=%llu", pid, found ? 1 : 0,
         found ? (unsigned long long)found->created : 0ULL);
  if (found) {
    put_pool_text("image", found->image, &table);
  } else {
    printf("\timage=");
  }
  printf("\tothers=%lu\n", others);
  cportsys_win_table_free(&table);
}

/// cportsys_win_wait_any's answer in WaitForMultipleObjects' terms: an index i as
/// WAIT_OBJECT_0 + i, -1 as WAIT_TIMEOUT (258), -2 as WAIT_FAILED.
static unsigned long wait_code(int32_t result) {
  if (result >= 0) return (unsigned long)(WAIT_OBJECT_0 + (DWORD)result);
  return result == -1 ? (unsigned long)WAIT_TIMEOUT : (unsigned long)WAIT_FAILED;
}

/// Opens the child by pid, checks it runs, terminates it through the handle and waits.
static void terminate_child(DWORD pid) {
  uint64_t created = 0;
  uint32_t error = 0;
  int32_t handle = cportsys_win_open_process(pid, &created, &error);
  if (handle == 0) {
    fail("cportsys_win_open_process", error);
    printf("terminate\tpid=%lu\topened=0\tcreated=0\tbefore=0\tresult=%lu\twait=0\tms=0\texit=0\n", pid,
           (unsigned long)error);
    return;
  }
  int32_t before = cportsys_win_wait_any(&handle, 1, 0);
  uint32_t result = cportsys_win_terminate(handle, 1);
  ULONGLONG start = GetTickCount64();
  int32_t waited = cportsys_win_wait_any(&handle, 1, 5000);
  ULONGLONG elapsed = GetTickCount64() - start;
  uint32_t code = cportsys_win_exit_code(handle);
  cportsys_win_close(handle);
  printf("terminate\tpid=%lu\topened=1\tcreated=%llu\tbefore=%lu\tresult=%lu\twait=%lu\tms=%llu\texit=%lu\n", pid,
         (unsigned long long)created, wait_code(before), (unsigned long)result, wait_code(waited),
         (unsigned long long)elapsed, (unsigned long)code);
  if (result != 0) fail("cportsys_win_terminate", result);
  if (waited != 0) fail("waiting for the terminated child", (unsigned long)waited);
}

// MARK: Probes

static void probe(const char *label, int family, int protocol, const char *address, uint16_t port, int v6_only) {
  uint8_t bytes[16];
  memset(bytes, 0, sizeof(bytes));
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, address, bytes) != 1) {
    fail("inet_pton", (unsigned long)WSAGetLastError());
    return;
  }
  uint32_t error = cportsys_win_try_bind((uint8_t)family, (uint8_t)protocol, bytes, port, v6_only);
  printf("probe\tlabel=%s\tfamily=%d\tproto=%s\taddress=%s\tport=%u\tv6only=%d\terror=%lu\n", label, family,
         protocol == 6 ? "tcp" : "udp", address, port, family == 6 ? (v6_only ? 1 : 0) : 0, (unsigned long)error);
}

/// A port no socket holds right now: one the system picks for a socket that is then closed.
static uint16_t free_port(void) {
  uint16_t port = 0;
  SOCKET s = open_socket(4, 6, &port);
  if (s != INVALID_SOCKET) closesocket(s);
  return port;
}

/// A command-line port: `PORT` (TCP on 127.0.0.1) or `tcp4:`, `udp4:`, `tcp6:`, `udp6:`
/// before it. FALSE when it is not one.
static BOOL parse_spec(const char *spec, int *family, int *protocol, uint16_t *port) {
  *family = 4;
  *protocol = 6;
  const char *number = spec;
  if (strlen(spec) > 5 && spec[4] == ':') {
    if (strncmp(spec, "tcp", 3) == 0) {
      *protocol = 6;
    } else if (strncmp(spec, "udp", 3) == 0) {
      *protocol = 17;
    } else {
      return FALSE;
    }
    if (spec[3] == '4') {
      *family = 4;
    } else if (spec[3] == '6') {
      *family = 6;
    } else {
      return FALSE;
    }
    number = spec + 5;
  }
  char *end = NULL;
  unsigned long value = strtoul(number, &end, 10);
  if (!*number || !end || *end || value == 0 || value > 65535) return FALSE;
  *port = (uint16_t)value;
  return TRUE;
}

// MARK: Main

static const char *wine_version(void) {
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  FARPROC found = ntdll ? GetProcAddress(ntdll, "wine_get_version") : NULL;
  if (!found) return NULL;
  typedef const char *(CDECL * version_function)(void);
  version_function function;
  memcpy(&function, &found, sizeof(function));
  return function();
}

int main(int argc, char **argv) {
  // Unbuffered: nothing is lost if the harness is stopped, and lines come out in order.
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 3 && strcmp(argv[1], "child") == 0) return child_main(argv[2]);
  for (int i = 1; i < argc; i++) {
    int family, protocol;
    uint16_t port;
    if (!parse_spec(argv[i], &family, &protocol, &port)) {
      fprintf(stderr, "harness: '%s' is not a port (PORT, or tcp4:, udp4:, tcp6:, udp6: and a port).\n", argv[i]);
      return 2;
    }
  }
  WSADATA data;
  int started = WSAStartup(MAKEWORD(2, 2), &data);
  if (started != 0) {
    fail("WSAStartup", (unsigned long)started);
    return 1;
  }

  uint16_t tcp4 = 0, tcp6 = 0, udp4 = 0, udp6 = 0;
  SOCKET own[4] = {open_socket(4, 6, &tcp4), open_socket(6, 6, &tcp6), open_socket(4, 17, &udp4),
                   open_socket(6, 17, &udp6)};
  DWORD child = start_child();
  const char *wine = wine_version();

  printf("# portctl Windows harness: records from Sources/CPortSys/windows.c\n");
  printf("harness\twine=");
  if (wine) {
    put_escaped(wine, strlen(wine));
  } else {
    fputs("none", stdout);
  }
  printf("\tpid=%lu\tchild=%lu\ttcp4=%u\ttcp6=%u\tudp4=%u\tudp6=%u\n", GetCurrentProcessId(), child, tcp4, tcp6,
         udp4, udp6);

  print_sockets();
  print_processes();
  print_services();
  if (child != 0) print_detailed(child);
  // Standard output is a file or a pipe here, not a console: both answer 0.
  printf("console\tstream=1\tvt=%d\tcolumns=%d\n", cportsys_win_enable_virtual_terminal(1),
         cportsys_win_console_columns(1));
  if (child != 0) terminate_child(child);

  for (int i = 1; i < argc; i++) {
    int family, protocol;
    uint16_t port;
    parse_spec(argv[i], &family, &protocol, &port);
    probe("linux-held", family, protocol, family == 4 ? "127.0.0.1" : "::1", port, 1);
  }
  uint16_t unused = free_port();
  if (unused != 0) {
    probe("free", 4, 6, "127.0.0.1", unused, 1);
    probe("free", 6, 6, "::1", unused, 1);
  }
  if (tcp4 != 0) {
    probe("own", 4, 6, "127.0.0.1", tcp4, 1);
    probe("own", 4, 6, "0.0.0.0", tcp4, 1);
    // A dual-stack wildcard covers 0.0.0.0 as well.
    probe("own", 6, 6, "::", tcp4, 0);
  }
  if (tcp6 != 0) {
    probe("own", 6, 6, "::1", tcp6, 1);
    probe("own", 6, 6, "::", tcp6, 1);
  }
  if (udp4 != 0) probe("own", 4, 17, "127.0.0.1", udp4, 1);
  if (udp6 != 0) probe("own", 6, 17, "::1", udp6, 1);
  // TEST-NET-1 and the IPv6 documentation prefix: addresses no interface here has.
  probe("absent", 4, 6, "192.0.2.1", unused, 1);
  probe("absent", 6, 6, "2001:db8::1", unused, 1);

  for (int i = 0; i < 4; i++) {
    if (own[i] != INVALID_SOCKET) closesocket(own[i]);
  }
  WSACleanup();
  return failures == 0 ? 0 : 1;
}
