// The Windows backend's native reads and process control (declared in CPortSys.h): the IP
// Helper socket tables with owner pids, Toolhelp32 and per-process queries, the service
// control manager's services, process handles, the Winsock bind probe and the console.
// Only Windows' own headers and types are used. On other systems this file holds nothing
// but the header.
#include "CPortSys.h"

#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <iphlpapi.h>
#include <tlhelp32.h>
#include <winternl.h>
// clang-format on
#include <stdlib.h>
#include <string.h>

#ifndef ENABLE_VIRTUAL_TERMINAL_PROCESSING
#define ENABLE_VIRTUAL_TERMINAL_PROCESSING 0x0004
#endif

// PROCESSINFOCLASS ProcessCommandLineInformation (Windows 8.1 and later): a UNICODE_STRING
// followed by its text. The SDK's winternl.h does not name it.
#define CPORTSYS_PROCESS_COMMAND_LINE_INFORMATION 60
// NTSTATUS values NtQueryInformationProcess answers a buffer that is too small with.
#define CPORTSYS_STATUS_INFO_LENGTH_MISMATCH ((LONG)0xC0000004L)
#define CPORTSYS_STATUS_BUFFER_TOO_SMALL ((LONG)0xC0000023L)
#define CPORTSYS_STATUS_BUFFER_OVERFLOW ((LONG)0x80000005L)

// How many times a table that keeps growing between the size query and the read is asked
// for again before giving up.
#define CPORTSYS_TABLE_ATTEMPTS 8

// MARK: Growing arrays

/// Records of one size, and the UTF-16 pool their texts point into.
typedef struct cportsys_builder {
  unsigned char *records;
  size_t count;
  size_t capacity;
  size_t size;
  uint16_t *text;
  size_t text_length;
  size_t text_capacity;
} cportsys_builder;

/// Room for one more record, zeroed; NULL when memory runs out.
static void *builder_add(cportsys_builder *builder) {
  if (builder->count == builder->capacity) {
    size_t capacity = builder->capacity ? builder->capacity * 2 : 64;
    unsigned char *grown = realloc(builder->records, capacity * builder->size);
    if (!grown) return NULL;
    builder->records = grown;
    builder->capacity = capacity;
  }
  void *record = builder->records + builder->count * builder->size;
  memset(record, 0, builder->size);
  builder->count += 1;
  return record;
}

/// Appends `length` UTF-16 code units to the pool and describes them in `out`. FALSE when
/// memory runs out or the pool would pass what 32-bit offsets can name.
static BOOL builder_text(cportsys_builder *builder, const WCHAR *text, size_t length, cportsys_win_text *out) {
  out->offset = 0;
  out->length = 0;
  if (length == 0) return TRUE;
  if (length > UINT32_MAX - builder->text_length) return FALSE;
  if (builder->text_length + length > builder->text_capacity) {
    size_t capacity = builder->text_capacity ? builder->text_capacity : 4096;
    while (capacity < builder->text_length + length) capacity *= 2;
    uint16_t *grown = realloc(builder->text, capacity * sizeof(uint16_t));
    if (!grown) return FALSE;
    builder->text = grown;
    builder->text_capacity = capacity;
  }
  memcpy(builder->text + builder->text_length, text, length * sizeof(uint16_t));
  out->offset = (uint32_t)builder->text_length;
  out->length = (uint32_t)length;
  builder->text_length += length;
  return TRUE;
}

/// Hands what the builder holds to `out`.
static void builder_finish(cportsys_builder *builder, cportsys_win_table *out) {
  out->records = builder->records;
  out->count = builder->count;
  out->text = builder->text;
  out->text_length = builder->text_length;
  memset(builder, 0, sizeof(*builder));
}

static void builder_discard(cportsys_builder *builder) {
  free(builder->records);
  free(builder->text);
  memset(builder, 0, sizeof(*builder));
}

void cportsys_win_table_free(cportsys_win_table *table) {
  if (!table) return;
  free(table->records);
  free(table->text);
  memset(table, 0, sizeof(*table));
}

// MARK: Sockets

/// One IP Helper table (TCP or UDP, one family) into a fresh buffer, asked for again while
/// it grows. 0 with the buffer in `out` (free it), or the Win32 error.
static DWORD fetch_table(BOOL tcp, ULONG family, void **out) {
  *out = NULL;
  DWORD size = 0;
  void *buffer = NULL;
  for (int attempt = 0; attempt < CPORTSYS_TABLE_ATTEMPTS; attempt++) {
    DWORD result = tcp ? GetExtendedTcpTable(buffer, &size, FALSE, family, TCP_TABLE_OWNER_PID_ALL, 0)
                       : GetExtendedUdpTable(buffer, &size, FALSE, family, UDP_TABLE_OWNER_PID, 0);
    if (result == NO_ERROR && buffer) {
      *out = buffer;
      return NO_ERROR;
    }
    free(buffer);
    buffer = NULL;
    if (result != NO_ERROR && result != ERROR_INSUFFICIENT_BUFFER) return result;
    // Room for the rows the table gained since it was measured, and some more.
    size += size / 8 + 1024;
    buffer = malloc(size);
    if (!buffer) return ERROR_NOT_ENOUGH_MEMORY;
  }
  free(buffer);
  return ERROR_INSUFFICIENT_BUFFER;
}

/// A port from an IP Helper row: the low 16 bits, in network byte order.
static uint16_t row_port(DWORD port) { return ntohs((u_short)(port & 0xFFFF)); }

static DWORD add_tcp4(cportsys_builder *builder) {
  void *buffer;
  DWORD result = fetch_table(TRUE, AF_INET, &buffer);
  if (result != NO_ERROR) return result;
  const MIB_TCPTABLE_OWNER_PID *table = buffer;
  for (DWORD i = 0; i < table->dwNumEntries; i++) {
    const MIB_TCPROW_OWNER_PID *row = &table->table[i];
    cportsys_win_socket *record = builder_add(builder);
    if (!record) {
      free(buffer);
      return ERROR_NOT_ENOUGH_MEMORY;
    }
    record->pid = row->dwOwningPid;
    record->protocol = 6;
    record->family = 4;
    record->state = (uint8_t)row->dwState;
    record->local_port = row_port(row->dwLocalPort);
    record->remote_port = row_port(row->dwRemotePort);
    // The DWORD holds the address's bytes in network order: copied as they lie.
    memcpy(record->local_address, &row->dwLocalAddr, 4);
    memcpy(record->remote_address, &row->dwRemoteAddr, 4);
  }
  free(buffer);
  return NO_ERROR;
}

static DWORD add_tcp6(cportsys_builder *builder) {
  void *buffer;
  DWORD result = fetch_table(TRUE, AF_INET6, &buffer);
  if (result != NO_ERROR) return result;
  const MIB_TCP6TABLE_OWNER_PID *table = buffer;
  for (DWORD i = 0; i < table->dwNumEntries; i++) {
    const MIB_TCP6ROW_OWNER_PID *row = &table->table[i];
    cportsys_win_socket *record = builder_add(builder);
    if (!record) {
      free(buffer);
      return ERROR_NOT_ENOUGH_MEMORY;
    }
    record->pid = row->dwOwningPid;
    record->protocol = 6;
    record->family = 6;
    record->state = (uint8_t)row->dwState;
    record->local_port = row_port(row->dwLocalPort);
    record->remote_port = row_port(row->dwRemotePort);
    record->local_scope = row->dwLocalScopeId;
    record->remote_scope = row->dwRemoteScopeId;
    memcpy(record->local_address, row->ucLocalAddr, 16);
    memcpy(record->remote_address, row->ucRemoteAddr, 16);
  }
  free(buffer);
  return NO_ERROR;
}

static DWORD add_udp4(cportsys_builder *builder) {
  void *buffer;
  DWORD result = fetch_table(FALSE, AF_INET, &buffer);
  if (result != NO_ERROR) return result;
  const MIB_UDPTABLE_OWNER_PID *table = buffer;
  for (DWORD i = 0; i < table->dwNumEntries; i++) {
    const MIB_UDPROW_OWNER_PID *row = &table->table[i];
    cportsys_win_socket *record = builder_add(builder);
    if (!record) {
      free(buffer);
      return ERROR_NOT_ENOUGH_MEMORY;
    }
    record->pid = row->dwOwningPid;
    record->protocol = 17;
    record->family = 4;
    record->local_port = row_port(row->dwLocalPort);
    memcpy(record->local_address, &row->dwLocalAddr, 4);
  }
  free(buffer);
  return NO_ERROR;
}

static DWORD add_udp6(cportsys_builder *builder) {
  void *buffer;
  DWORD result = fetch_table(FALSE, AF_INET6, &buffer);
  if (result != NO_ERROR) return result;
  const MIB_UDP6TABLE_OWNER_PID *table = buffer;
  for (DWORD i = 0; i < table->dwNumEntries; i++) {
    const MIB_UDP6ROW_OWNER_PID *row = &table->table[i];
    cportsys_win_socket *record = builder_add(builder);
    if (!record) {
      free(buffer);
      return ERROR_NOT_ENOUGH_MEMORY;
    }
    record->pid = row->dwOwningPid;
    record->protocol = 17;
    record->family = 6;
    record->local_port = row_port(row->dwLocalPort);
    record->local_scope = row->dwLocalScopeId;
    memcpy(record->local_address, row->ucLocalAddr, 16);
  }
  free(buffer);
  return NO_ERROR;
}

uint32_t cportsys_win_sockets(uint32_t which, cportsys_win_table *out) {
  if (!out) return ERROR_INVALID_PARAMETER;
  memset(out, 0, sizeof(*out));
  cportsys_builder builder = {.size = sizeof(cportsys_win_socket)};
  DWORD result = NO_ERROR;
  if (result == NO_ERROR && (which & CPORTSYS_WIN_TCP4)) result = add_tcp4(&builder);
  if (result == NO_ERROR && (which & CPORTSYS_WIN_TCP6)) result = add_tcp6(&builder);
  if (result == NO_ERROR && (which & CPORTSYS_WIN_UDP4)) result = add_udp4(&builder);
  if (result == NO_ERROR && (which & CPORTSYS_WIN_UDP6)) result = add_udp6(&builder);
  if (result != NO_ERROR) {
    builder_discard(&builder);
    return result;
  }
  builder_finish(&builder, out);
  return NO_ERROR;
}

// MARK: Processes

/// NtQueryInformationProcess, looked up in ntdll when first needed (it has no import
/// library in every toolchain, and a system may lack it).
typedef LONG(NTAPI *cportsys_query_process)(HANDLE, PROCESSINFOCLASS, PVOID, ULONG, PULONG);

static cportsys_query_process query_process;

static BOOL CALLBACK find_query_process(PINIT_ONCE once, PVOID parameter, PVOID *context) {
  (void)once;
  (void)parameter;
  (void)context;
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  FARPROC found = ntdll ? GetProcAddress(ntdll, "NtQueryInformationProcess") : NULL;
  // Through memcpy: a cast between unrelated function pointer types draws a warning.
  if (found) memcpy(&query_process, &found, sizeof(found));
  return TRUE;
}

static cportsys_query_process query_process_function(void) {
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  // InitOnceExecuteOnce makes what the callback stored visible to every caller after it.
  if (!InitOnceExecuteOnce(&once, find_query_process, NULL, NULL)) return NULL;
  return query_process;
}

/// The full image path, or FALSE.
static BOOL read_image(HANDLE process, cportsys_builder *builder, cportsys_win_text *out) {
  DWORD capacity = MAX_PATH;
  for (int attempt = 0; attempt < 4; attempt++) {
    WCHAR *path = malloc(capacity * sizeof(WCHAR));
    if (!path) return FALSE;
    DWORD length = capacity;
    if (QueryFullProcessImageNameW(process, 0, path, &length)) {
      BOOL added = builder_text(builder, path, length, out);
      free(path);
      return added;
    }
    DWORD error = GetLastError();
    free(path);
    if (error != ERROR_INSUFFICIENT_BUFFER) return FALSE;
    capacity *= 4;  // up to 32768 code units, the longest path Windows has
    if (capacity > 32768) capacity = 32768;
  }
  return FALSE;
}

// The owner of the process's token as `DOMAIN\user` (only the user when there is no
// domain), or FALSE.
static BOOL read_user(HANDLE process, cportsys_builder *builder, cportsys_win_text *out) {
  HANDLE token = NULL;
  if (!OpenProcessToken(process, TOKEN_QUERY, &token)) return FALSE;
  BOOL ok = FALSE;
  DWORD size = 0;
  TOKEN_USER *user = NULL;
  WCHAR *name = NULL;
  WCHAR *domain = NULL;
  WCHAR *joined = NULL;
  GetTokenInformation(token, TokenUser, NULL, 0, &size);
  if (size == 0 || !(user = malloc(size))) goto done;
  if (!GetTokenInformation(token, TokenUser, user, size, &size)) goto done;
  DWORD name_length = 0;
  DWORD domain_length = 0;
  SID_NAME_USE use;
  LookupAccountSidW(NULL, user->User.Sid, NULL, &name_length, NULL, &domain_length, &use);
  if (name_length == 0) goto done;
  name = malloc((name_length + 1) * sizeof(WCHAR));
  domain = malloc((domain_length + 1) * sizeof(WCHAR));
  if (!name || !domain) goto done;
  if (!LookupAccountSidW(NULL, user->User.Sid, name, &name_length, domain, &domain_length, &use)) goto done;
  // On success the lengths no longer count the terminators.
  joined = malloc((domain_length + 1 + name_length) * sizeof(WCHAR));
  if (!joined) goto done;
  size_t length = 0;
  if (domain_length > 0) {
    memcpy(joined, domain, domain_length * sizeof(WCHAR));
    joined[domain_length] = L'\\';
    length = domain_length + 1;
  }
  memcpy(joined + length, name, name_length * sizeof(WCHAR));
  length += name_length;
  ok = builder_text(builder, joined, length, out);
done:
  free(joined);
  free(domain);
  free(name);
  free(user);
  CloseHandle(token);
  return ok;
}

/// The command line the process was started with, or FALSE when the process does not
/// allow it or the system cannot tell.
static BOOL read_command_line(HANDLE process, cportsys_builder *builder, cportsys_win_text *out) {
  cportsys_query_process query = query_process_function();
  if (!query) return FALSE;
  ULONG size = 1024;
  for (int attempt = 0; attempt < 4; attempt++) {
    // Room for the UNICODE_STRING and the text after it, aligned for both.
    void *buffer = malloc(size);
    if (!buffer) return FALSE;
    ULONG needed = 0;
    LONG status = query(process, (PROCESSINFOCLASS)CPORTSYS_PROCESS_COMMAND_LINE_INFORMATION, buffer, size, &needed);
    if (status >= 0) {
      BOOL ok = FALSE;
      const UNICODE_STRING *string = buffer;
      const unsigned char *start = buffer;
      const unsigned char *text = (const unsigned char *)string->Buffer;
      size_t bytes = string->Length;
      if (bytes == 0) {
        ok = TRUE;  // an empty command line
      } else if (text && text >= start + sizeof(UNICODE_STRING) && text <= start + size && bytes <= size &&
                 (size_t)(start + size - text) >= bytes) {
        // Only text that lies inside the buffer is read.
        ok = builder_text(builder, string->Buffer, bytes / sizeof(WCHAR), out);
      }
      free(buffer);
      return ok;
    }
    free(buffer);
    if (status != CPORTSYS_STATUS_INFO_LENGTH_MISMATCH && status != CPORTSYS_STATUS_BUFFER_TOO_SMALL &&
        status != CPORTSYS_STATUS_BUFFER_OVERFLOW)
      return FALSE;
    ULONG grown = needed > size ? needed : size * 2;
    if (grown > 1024 * 1024) return FALSE;
    size = grown;
  }
  return FALSE;
}

/// Opens the process for querying and fills what it tells; the reads that fail set their
/// CPORTSYS_WIN_DENIED_* bits (all of them when the process cannot be opened). FALSE only
/// when memory runs out.
static BOOL read_details(cportsys_win_process *record, cportsys_builder *builder) {
  HANDLE process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, record->pid);
  if (!process) {
    record->denied = CPORTSYS_WIN_DENIED_OPEN | CPORTSYS_WIN_DENIED_IMAGE | CPORTSYS_WIN_DENIED_TIMES |
                     CPORTSYS_WIN_DENIED_USER | CPORTSYS_WIN_DENIED_COMMAND_LINE;
    return TRUE;
  }
  if (!read_image(process, builder, &record->image)) record->denied |= CPORTSYS_WIN_DENIED_IMAGE;
  FILETIME creation, exit, kernel, user;
  if (GetProcessTimes(process, &creation, &exit, &kernel, &user)) {
    record->created = ((uint64_t)creation.dwHighDateTime << 32) | creation.dwLowDateTime;
  } else {
    record->denied |= CPORTSYS_WIN_DENIED_TIMES;
  }
  if (!read_user(process, builder, &record->user)) record->denied |= CPORTSYS_WIN_DENIED_USER;
  if (!read_command_line(process, builder, &record->command_line)) record->denied |= CPORTSYS_WIN_DENIED_COMMAND_LINE;
  CloseHandle(process);
  return TRUE;
}

static int compare_pids(const void *left, const void *right) {
  uint32_t a = *(const uint32_t *)left;
  uint32_t b = *(const uint32_t *)right;
  return a < b ? -1 : a > b;
}

uint32_t cportsys_win_processes(const uint32_t *detailed, size_t count, cportsys_win_table *out) {
  if (!out) return ERROR_INVALID_PARAMETER;
  memset(out, 0, sizeof(*out));
  // The pids asked for, sorted for a binary search.
  uint32_t *wanted = NULL;
  if (detailed && count > 0) {
    wanted = malloc(count * sizeof(uint32_t));
    if (!wanted) return ERROR_NOT_ENOUGH_MEMORY;
    memcpy(wanted, detailed, count * sizeof(uint32_t));
    qsort(wanted, count, sizeof(uint32_t), compare_pids);
  }
  HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snapshot == INVALID_HANDLE_VALUE) {
    DWORD error = GetLastError();
    free(wanted);
    return error;
  }
  cportsys_builder builder = {.size = sizeof(cportsys_win_process)};
  DWORD result = NO_ERROR;
  PROCESSENTRY32W entry;
  memset(&entry, 0, sizeof(entry));
  entry.dwSize = sizeof(entry);
  if (!Process32FirstW(snapshot, &entry)) {
    DWORD error = GetLastError();
    // An empty snapshot is no error.
    if (error != ERROR_NO_MORE_FILES) result = error;
  } else {
    do {
      cportsys_win_process *record = builder_add(&builder);
      if (!record) {
        result = ERROR_NOT_ENOUGH_MEMORY;
        break;
      }
      record->pid = entry.th32ProcessID;
      record->ppid = entry.th32ParentProcessID;
      record->threads = entry.cntThreads;
      size_t name_length = wcsnlen(entry.szExeFile, sizeof(entry.szExeFile) / sizeof(entry.szExeFile[0]));
      if (!builder_text(&builder, entry.szExeFile, name_length, &record->name)) {
        result = ERROR_NOT_ENOUGH_MEMORY;
        break;
      }
      // (Text goes to the pool, which is apart from the records: `record` stays valid.)
      BOOL want = !detailed || (wanted && bsearch(&record->pid, wanted, count, sizeof(uint32_t), compare_pids));
      if (want && !read_details(record, &builder)) {
        result = ERROR_NOT_ENOUGH_MEMORY;
        break;
      }
      entry.dwSize = sizeof(entry);
    } while (Process32NextW(snapshot, &entry));
  }
  CloseHandle(snapshot);
  free(wanted);
  if (result != NO_ERROR) {
    builder_discard(&builder);
    return result;
  }
  builder_finish(&builder, out);
  return NO_ERROR;
}

// MARK: Services

uint32_t cportsys_win_services(cportsys_win_table *out) {
  if (!out) return ERROR_INVALID_PARAMETER;
  memset(out, 0, sizeof(*out));
  SC_HANDLE manager = OpenSCManagerW(NULL, NULL, SC_MANAGER_ENUMERATE_SERVICE);
  if (!manager) return GetLastError();
  cportsys_builder builder = {.size = sizeof(cportsys_win_service)};
  DWORD result = NO_ERROR;
  DWORD size = 64 * 1024;
  void *buffer = NULL;
  DWORD resume = 0;
  // Each call hands over what fits and moves `resume` past it; ERROR_MORE_DATA says more
  // follow. The bound only guards against a manager that never finishes.
  for (int call = 0; call < 1024; call++) {
    void *grown = realloc(buffer, size);
    if (!grown) {
      result = ERROR_NOT_ENOUGH_MEMORY;
      break;
    }
    buffer = grown;
    DWORD needed = 0;
    DWORD returned = 0;
    BOOL ok = EnumServicesStatusExW(manager, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_STATE_ALL, (LPBYTE)buffer, size,
                                    &needed, &returned, &resume, NULL);
    DWORD error = ok ? NO_ERROR : GetLastError();
    if (!ok && error != ERROR_MORE_DATA) {
      result = error;
      break;
    }
    const ENUM_SERVICE_STATUS_PROCESSW *services = buffer;
    for (DWORD i = 0; i < returned && result == NO_ERROR; i++) {
      cportsys_win_service *record = builder_add(&builder);
      if (!record) {
        result = ERROR_NOT_ENOUGH_MEMORY;
        break;
      }
      record->pid = services[i].ServiceStatusProcess.dwProcessId;
      record->state = services[i].ServiceStatusProcess.dwCurrentState;
      const WCHAR *service_name = services[i].lpServiceName;
      const WCHAR *display_name = services[i].lpDisplayName;
      if ((service_name && !builder_text(&builder, service_name, wcslen(service_name), &record->name)) ||
          (display_name && !builder_text(&builder, display_name, wcslen(display_name), &record->display_name))) {
        result = ERROR_NOT_ENOUGH_MEMORY;
        break;
      }
    }
    if (result != NO_ERROR || ok) break;
    // Nothing fitted: the next call gets the room the manager asked for.
    if (returned == 0) {
      if (needed <= size) {
        result = ERROR_MORE_DATA;
        break;
      }
      size = needed;
    }
  }
  free(buffer);
  CloseServiceHandle(manager);
  if (result != NO_ERROR) {
    builder_discard(&builder);
    return result;
  }
  builder_finish(&builder, out);
  return NO_ERROR;
}

// MARK: Process control

int32_t cportsys_win_open_process(uint32_t pid, uint64_t *created, uint32_t *error) {
  if (created) *created = 0;
  if (error) *error = 0;
  HANDLE process = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!process && GetLastError() == ERROR_ACCESS_DENIED) {
    // Not ours to end, but it can still be waited on and compared (terminate then says 5).
    process = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  }
  if (!process) {
    if (error) *error = GetLastError();
    return 0;
  }
  FILETIME creation, exit, kernel, user;
  if (created && GetProcessTimes(process, &creation, &exit, &kernel, &user)) {
    *created = ((uint64_t)creation.dwHighDateTime << 32) | creation.dwLowDateTime;
  }
  return (int32_t)HandleToLong(process);
}

uint32_t cportsys_win_terminate(int32_t handle, uint32_t exit_code) {
  if (handle == 0) return ERROR_INVALID_HANDLE;
  return TerminateProcess(LongToHandle(handle), exit_code) ? NO_ERROR : GetLastError();
}

int32_t cportsys_win_wait_any(const int32_t *handles, uint32_t count, uint32_t milliseconds) {
  if (!handles || count == 0 || count > MAXIMUM_WAIT_OBJECTS) return -2;
  HANDLE objects[MAXIMUM_WAIT_OBJECTS];
  for (uint32_t i = 0; i < count; i++) objects[i] = LongToHandle(handles[i]);
  DWORD result = WaitForMultipleObjects(count, objects, FALSE, milliseconds);
  if (result < WAIT_OBJECT_0 + count) return (int32_t)(result - WAIT_OBJECT_0);
  if (result == WAIT_TIMEOUT) return -1;
  return -2;
}

uint32_t cportsys_win_exit_code(int32_t handle) {
  DWORD code = 0;
  // A handle that cannot be asked is reported as still running: nothing is known to have
  // exited.
  if (handle == 0 || !GetExitCodeProcess(LongToHandle(handle), &code)) return STILL_ACTIVE;
  return code;
}

void cportsys_win_close(int32_t handle) {
  if (handle != 0) CloseHandle(LongToHandle(handle));
}

// MARK: Bind probe

static int winsock_started;

static BOOL CALLBACK start_winsock(PINIT_ONCE once, PVOID parameter, PVOID *context) {
  (void)once;
  (void)parameter;
  (void)context;
  WSADATA data;
  winsock_started = WSAStartup(MAKEWORD(2, 2), &data);
  return TRUE;
}

/// Starts Winsock once for the process (it stays started): 0, or WSAStartup's error.
static int winsock_ready(void) {
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  if (!InitOnceExecuteOnce(&once, start_winsock, NULL, NULL)) return WSASYSNOTREADY;
  return winsock_started;
}

uint32_t cportsys_win_try_bind(uint8_t family, uint8_t protocol, const uint8_t address[16], uint16_t port,
                               int v6_only) {
  int started = winsock_ready();
  if (started != 0) return (uint32_t)started;
  if (family != 4 && family != 6) return WSAEAFNOSUPPORT;
  if (protocol != 6 && protocol != 17) return WSAEPROTONOSUPPORT;
  static const uint8_t any[16] = {0};
  if (!address) address = any;

  struct sockaddr_storage storage;
  memset(&storage, 0, sizeof(storage));
  int length;
  if (family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    memcpy(&v4->sin_addr, address, 4);
    length = (int)sizeof(*v4);
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    memcpy(&v6->sin6_addr, address, 16);
    length = (int)sizeof(*v6);
  }

  BOOL tcp = protocol == 6;
  SOCKET probe = socket(family == 4 ? AF_INET : AF_INET6, tcp ? SOCK_STREAM : SOCK_DGRAM,
                        tcp ? IPPROTO_TCP : IPPROTO_UDP);
  if (probe == INVALID_SOCKET) return (uint32_t)WSAGetLastError();
  int error = 0;
  BOOL exclusive = TRUE;
  if (setsockopt(probe, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&exclusive, sizeof(exclusive)) != 0) {
    error = WSAGetLastError();
  }
  if (error == 0 && family == 6) {
    DWORD only = v6_only ? 1 : 0;
    if (setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&only, sizeof(only)) != 0) {
      error = WSAGetLastError();
    }
  }
  if (error == 0 && bind(probe, (const struct sockaddr *)&storage, length) != 0) error = WSAGetLastError();
  if (error == 0 && tcp && listen(probe, 1) != 0) error = WSAGetLastError();
  closesocket(probe);
  return (uint32_t)error;
}

// MARK: Console

static HANDLE stream_handle(int stream) {
  if (stream == 1) return GetStdHandle(STD_OUTPUT_HANDLE);
  if (stream == 2) return GetStdHandle(STD_ERROR_HANDLE);
  return INVALID_HANDLE_VALUE;
}

int cportsys_win_enable_virtual_terminal(int stream) {
  HANDLE console = stream_handle(stream);
  if (console == INVALID_HANDLE_VALUE || console == NULL) return 0;
  DWORD mode = 0;
  if (!GetConsoleMode(console, &mode)) return 0;
  if (mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING) return 1;
  return SetConsoleMode(console, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING) ? 1 : 0;
}

int cportsys_win_console_columns(int stream) {
  HANDLE console = stream_handle(stream);
  if (console == INVALID_HANDLE_VALUE || console == NULL) return 0;
  CONSOLE_SCREEN_BUFFER_INFO info;
  if (!GetConsoleScreenBufferInfo(console, &info)) return 0;
  int columns = (int)info.srWindow.Right - (int)info.srWindow.Left + 1;
  return columns > 0 ? columns : 0;
}

#endif
