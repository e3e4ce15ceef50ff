// The floor for finding a socket's holders on Linux: one walk of every process's
// descriptors and nothing else. Lists /proc with getdents64, splits the pids across one
// thread per online core (every n-th pid to thread i, as portctl does), opens /proc/PID/fd,
// lists it with getdents64 and reads each link with readlinkat relative to it, comparing
// the link with "socket:[INODE]" for the inodes given. Prints "PID FD" for each match.
//
// It reads no socket table (the inodes are arguments), no process details and no
// threads' own tables; it checks nothing and handles nothing but a vanished process.
// Whatever portctl does beyond this is its overhead.
//
// Build: cc -O2 -pthread -o floor floor.c          Usage: floor INODE...
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int proc_fd;
static int *pids;
static int pid_count;
static int workers;
static char (*wanted)[32];
static size_t *wanted_length;
static int wanted_count;

struct match {
  int pid, fd;
};

struct result {
  struct match *matches;
  int count, capacity;
};

static int number(const char *name) {
  int value = 0;
  if (!*name) return -1;
  for (; *name; name++) {
    if (*name < '0' || *name > '9') return -1;
    value = value * 10 + (*name - '0');
  }
  return value;
}

static void *walk(void *argument) {
  long worker = (long)argument;
  struct result *result = calloc(1, sizeof *result);
  char entries[32768];
  char link[64];
  char path[32];
  for (int index = (int)worker; index < pid_count; index += workers) {
    snprintf(path, sizeof path, "%d/fd", pids[index]);
    int dir = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) continue;
    long count;
    while ((count = syscall(SYS_getdents64, dir, entries, sizeof entries)) > 0) {
      for (long offset = 0; offset < count;) {
        struct linux_dirent64 *entry = (struct linux_dirent64 *)(entries + offset);
        offset += entry->d_reclen;
        if (entry->d_name[0] == '.') continue;
        ssize_t length = readlinkat(dir, entry->d_name, link, sizeof link);
        if (length < 10 || memcmp(link, "socket:[", 8) != 0) continue;
        for (int w = 0; w < wanted_count; w++) {
          if ((size_t)length == wanted_length[w] && memcmp(link, wanted[w], (size_t)length) == 0) {
            if (result->count == result->capacity) {
              result->capacity = result->capacity ? result->capacity * 2 : 16;
              result->matches = realloc(result->matches, (size_t)result->capacity * sizeof *result->matches);
            }
            result->matches[result->count++] = (struct match){pids[index], number(entry->d_name)};
          }
        }
      }
    }
    close(dir);
  }
  return result;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s INODE...\n", argv[0]);
    return 64;
  }
  wanted_count = argc - 1;
  wanted = calloc((size_t)wanted_count, sizeof *wanted);
  wanted_length = calloc((size_t)wanted_count, sizeof *wanted_length);
  for (int i = 0; i < wanted_count; i++) {
    int written = snprintf(wanted[i], sizeof wanted[i], "socket:[%s]", argv[i + 1]);
    wanted_length[i] = (size_t)written;
  }
  proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_fd < 0) {
    perror("/proc");
    return 2;
  }
  int capacity = 1024;
  pids = malloc((size_t)capacity * sizeof *pids);
  char entries[32768];
  long count;
  while ((count = syscall(SYS_getdents64, proc_fd, entries, sizeof entries)) > 0) {
    for (long offset = 0; offset < count;) {
      struct linux_dirent64 *entry = (struct linux_dirent64 *)(entries + offset);
      offset += entry->d_reclen;
      int pid = number(entry->d_name);
      if (pid <= 0) continue;
      if (pid_count == capacity) pids = realloc(pids, (size_t)(capacity *= 2) * sizeof *pids);
      pids[pid_count++] = pid;
    }
  }
  workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (workers < 1) workers = 1;
  pthread_t threads[256];
  if (workers > 256) workers = 256;
  for (long i = 1; i < workers; i++) pthread_create(&threads[i], NULL, walk, (void *)i);
  struct result *results[256];
  results[0] = walk((void *)0);
  for (int i = 1; i < workers; i++) pthread_join(threads[i], (void **)&results[i]);
  for (int i = 0; i < workers; i++)
    for (int m = 0; m < results[i]->count; m++) printf("%d %d\n", results[i]->matches[m].pid, results[i]->matches[m].fd);
  return 0;
}
