/*
 * halab-nfsfuse: a small read-only FUSE client for one NFSv4 export (libnfs sync API + libfuse3
 * high-level API). Debian packages no FUSE NFS client and the host kernel has no NFS client, so
 * container nodes mount their web content with this.
 *
 * It survives the server's floating IP moving to another server: every NFS call runs with a short
 * RPC timeout and a deadline; a call failing with anything but a definite answer (ENOENT, EACCES,
 * ...) drops the context, mounts again on a fresh one (the new owner of the IP) and retries by path
 * until a deadline. Files are opened on the server at their first read (lazily: a file the kernel
 * serves from its page cache costs no NFS call) and reopen by path after a reconnect. Calls go through
 * libnfs's async API with our own wait loop (see wait_call: libnfs 4.0's sync API crashes the
 * client when a connection fails). One lock serialises the libnfs context (it is not
 * thread-safe); the kernel's attribute, entry and page caches keep most of Apache's requests from
 * reaching this process at all.
 *
 * JSON lines on stderr: each reconnect {"t","source","type":"reconnect","stall_ms","error"} (or
 * "gave-up"), each failed mount attempt ("mount-failed", with its deadline), and each definite
 * answer within 1 s of a reconnect ("answer-after-reconnect").
 *
 * Usage: halab-nfsfuse SERVER EXPORT MOUNTPOINT [-o fuse options] [-f]
 *   env NFSFUSE_TIMEOUT_MS (RPC timeout, default 300), NFSFUSE_RETRY_MS (give up after, 30000),
 *       NFSFUSE_OPEN (set: have the kernel send every open and release, as before no_open)
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <nfsc/libnfs.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *server, *export_path;
static int timeout_ms = 300, retry_ms = 30000;
static struct nfs_context *nfs;
static unsigned long generation; /* bumped on every (re)mount: open handles of older ones are dead */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct handle {
  char *path;
  struct nfsfh *fh;
  unsigned long gen;
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A definite answer from a live server: retrying elsewhere would give the same. */
static int definite(int err) {
  switch (-err) {
  case ENOENT: case ENOTDIR: case EISDIR: case EACCES: case EPERM: case EEXIST:
  case ENOTEMPTY: case ENAMETOOLONG: case EROFS: case ELOOP: case EFBIG: case ENOSPC:
    return 1;
  }
  return 0;
}

/*
 * Our own synchronous calls on libnfs's async API. libnfs 4.0's sync API (nfs_stat64, nfs_open,
 * ...) keeps a pointer to a struct on its caller's stack in the queued RPC and, when the socket
 * fails (the server's RST once the floating IP has moved), returns with that RPC still queued;
 * destroying the context afterwards (to reconnect) cancels it and runs its callback, which then
 * writes into a stack frame that is gone: the client segfaulted during failovers (exit 139 in
 * nfs-fuse.log), its mount died ("Transport endpoint is not connected": Apache answered 403) and
 * until the supervisor remounted it the docroot was an empty directory (404). Here a call that
 * ends without an answer — connection lost, or no answer within its deadline (libnfs has none
 * while a TCP connect hangs on a dead server's address) — destroys the context before it returns,
 * so every callback has run while its `struct call` is still alive.
 */
enum call_kind { K_NONE, K_STAT, K_PTR, K_READ, K_READLINK, K_STATVFS };
struct call {
  int done, status;
  enum call_kind kind;
  void *out;
  size_t outlen;
};
static char last_err[160]; /* why the last call failed (for the reconnect log) */
static uint64_t last_reconnect_ms;
/*
 * NFSv4 client id. libnfs 4.0 names a client "Libnfs pid:<pid> <unix seconds>": the FUSE client
 * has the same pid on every traffic node (same container layout), and at a failover all nodes
 * reconnect in the same second, so the server saw ONE client: each node's SETCLIENTID replaced the
 * other's (the other's next call: NFS4ERR_EXPIRED, or NFS4ERR_BAD_SEQID through the shared
 * open-owner, or NFS4ERR_CLID_INUSE), which reconnected in turn — a storm of reconnects, one per
 * open. Ours holds the node's hostname and is kept for the process's life; the verifier changes
 * with every context, so a reconnect replaces this client's own old state at once.
 */
static char client_name[200];
static uint64_t contexts;
static int mount_timeouts; /* consecutive mounts that got no answer in time: each next one waits longer */
static void json_clean(char *s);

static void call_cb(int status, struct nfs_context *n, void *data, void *priv) {
  (void)n;
  struct call *c = priv;
  c->done = 1;
  c->status = status;
  if (status < 0) {
    snprintf(last_err, sizeof last_err, "%s", data ? (const char *)data : "error");
    return;
  }
  switch (c->kind) {
  case K_STAT: memcpy(c->out, data, sizeof(struct nfs_stat_64)); break;
  case K_PTR: *(void **)c->out = data; break;
  case K_READ: memcpy(c->out, data, (size_t)status < c->outlen ? (size_t)status : c->outlen); break;
  case K_READLINK: {
    size_t l = strlen(data);
    if (l >= c->outlen) c->status = -ENAMETOOLONG;
    else memcpy(c->out, data, l + 1);
    break;
  }
  case K_STATVFS: memcpy(c->out, data, sizeof(struct statvfs)); break;
  case K_NONE: break;
  }
}

static void drop_context(void) {
  if (nfs) nfs_destroy_context(nfs); /* cancels what is still queued: callbacks run now */
  nfs = NULL;
}

static void set_err(const char *what, const char *detail) {
  size_t n = strlen(what);
  if (n > sizeof last_err - 1) n = sizeof last_err - 1;
  memmove(last_err, what, n);
  last_err[n] = 0;
  if (detail) {
    strncat(last_err, ": ", sizeof last_err - 1 - strlen(last_err));
    strncat(last_err, detail, sizeof last_err - 1 - strlen(last_err));
  }
}

/* Serve the context until `c` is answered, the connection fails or limit_ms passes. */
static int wait_call(struct call *c, int queue_result, int limit_ms) {
  if (queue_result != 0) {
    char why[sizeof last_err];
    snprintf(why, sizeof why, "%s", nfs_get_error(nfs) ? nfs_get_error(nfs) : "?");
    drop_context();
    set_err("queueing the call failed", why);
    return -EIO;
  }
  uint64_t end = now_ms() + (uint64_t)limit_ms;
  while (!c->done) {
    uint64_t t = now_ms();
    if (t >= end) {
      char d[48];
      snprintf(d, sizeof d, "%d ms", limit_ms);
      drop_context(); /* before set_err: the cancelled call's callback sets last_err too */
      set_err("no answer within", d);
      return -ETIMEDOUT;
    }
    struct pollfd p = {.fd = nfs_get_fd(nfs), .events = (short)nfs_which_events(nfs), .revents = 0};
    int left = (int)(end - t);
    int ret = poll(&p, 1, left < 20 ? left : 20); /* nfs_service also expires RPCs past their timeout */
    if (ret < 0 && errno == EINTR) continue;
    if (nfs_service(nfs, ret < 0 ? -1 : p.revents) < 0) {
      int answered = c->done, status = c->status;
      char why[sizeof last_err];
      snprintf(why, sizeof why, "%s", nfs_get_error(nfs) ? nfs_get_error(nfs) : "socket closed");
      drop_context();
      set_err("connection lost", why);
      return answered ? status : -ECONNRESET;
    }
  }
  return c->status;
}

/* A call's deadline: libnfs's RPC timeout ends a call to a dead server sooner; this catches what it misses. */
#define CALL_LIMIT_MS (4 * timeout_ms)

static int x_stat(const char *path, struct nfs_stat_64 *st) {
  struct call c = {.kind = K_STAT, .out = st};
  return wait_call(&c, nfs_stat64_async(nfs, path, call_cb, &c), CALL_LIMIT_MS);
}
static int x_open(const char *path, struct nfsfh **fh) {
  struct call c = {.kind = K_PTR, .out = fh};
  return wait_call(&c, nfs_open_async(nfs, path, O_RDONLY, call_cb, &c), CALL_LIMIT_MS);
}
static int x_opendir(const char *path, struct nfsdir **dir) {
  struct call c = {.kind = K_PTR, .out = dir};
  return wait_call(&c, nfs_opendir_async(nfs, path, call_cb, &c), CALL_LIMIT_MS);
}
static int x_pread(struct nfsfh *fh, char *buf, size_t size, off_t off) {
  struct call c = {.kind = K_READ, .out = buf, .outlen = size};
  return wait_call(&c, nfs_pread_async(nfs, fh, (uint64_t)off, size, call_cb, &c), CALL_LIMIT_MS);
}
static int x_readlink(const char *path, char *buf, size_t size) {
  struct call c = {.kind = K_READLINK, .out = buf, .outlen = size};
  return wait_call(&c, nfs_readlink_async(nfs, path, call_cb, &c), CALL_LIMIT_MS);
}
static int x_statvfs(const char *path, struct statvfs *sv) {
  struct call c = {.kind = K_STATVFS, .out = sv};
  return wait_call(&c, nfs_statvfs_async(nfs, path, call_cb, &c), CALL_LIMIT_MS);
}

/*
 * Fresh context + mount. Called with the lock held. A mount that gets no answer is given up after
 * one RPC timeout: a healthy server mounts in a few ms, while a connect sent before the floating
 * IP moved hangs until TCP retransmits its SYN a second later (measured: mounts refused at once
 * while the address was nowhere, then the one in flight when it moved hung 1.1 s). Each attempt in
 * a row that took an RPC timeout or more allows one RPC timeout more (a slow server), up to 10;
 * attempts refused at once do not count.
 */
static int reconnect(void) {
  drop_context();
  nfs = nfs_init_context();
  if (!nfs) return -ENOMEM;
  nfs_set_version(nfs, 4); /* NFS_V4: its header is not in libnfs.h */
  nfs_set_timeout(nfs, timeout_ms);
  nfs_set_autoreconnect(nfs, 0); /* we reconnect ourselves, on a fresh context */
  nfs4_set_client_name(nfs, client_name);
  uint64_t v = (wall_ms() << 16) | (++contexts & 0xffff);
  char verifier[8];
  memcpy(verifier, &v, sizeof verifier);
  nfs4_set_verifier(nfs, verifier);
  int limit = timeout_ms * (1 + (mount_timeouts < 9 ? mount_timeouts : 9));
  uint64_t t0 = now_ms();
  struct call c = {.kind = K_NONE};
  int r = wait_call(&c, nfs_mount_async(nfs, server, export_path, call_cb, &c), limit);
  if (r) {
    drop_context();
    if (now_ms() - t0 >= (uint64_t)timeout_ms) mount_timeouts++; /* slow, not refused */
    { /* each failed attempt is a line: how a stall was spent */
      char e[sizeof last_err];
      snprintf(e, sizeof e, "%s", last_err);
      json_clean(e);
      fprintf(stderr, "{\"t\":%llu,\"source\":\"nfs-fuse\",\"type\":\"mount-failed\",\"limit_ms\":%d,\"error\":\"%s\"}\n",
              (unsigned long long)wall_ms(), limit, e);
    }
    return r < 0 ? r : -EIO;
  }
  mount_timeouts = 0;
  generation++;
  last_reconnect_ms = now_ms();
  return 0;
}

/*
 * Run `call` (an expression using `nfs` that returns <0 on error) until it succeeds, fails
 * definitely, or retry_ms passes; reconnecting in between. Sets `r`. Lock held by the caller.
 * A definite answer within 1 s of a reconnect is logged too ("answer-after-reconnect"): a new server
 * that denied what the old one served would show there.
 */
#define RETRY(r, what, call)                                                                     \
  do {                                                                                           \
    uint64_t t0_ = now_ms(), first_fail_ = 0;                                                    \
    char err_[160] = "";                                                                         \
    for (;;) {                                                                                   \
      if (!nfs) set_err("not connected", NULL);                                                  \
      r = nfs ? (call) : -ENOTCONN;                                                              \
      if (r >= 0 || definite(r)) break;                                                          \
      if (!first_fail_) {                                                                        \
        first_fail_ = now_ms();                                                                  \
        snprintf(err_, sizeof err_, "%s", last_err);                                             \
        json_clean(err_);                                                                        \
      }                                                                                          \
      if (now_ms() - t0_ > (uint64_t)retry_ms) break;                                            \
      if (reconnect() < 0) usleep(50000);                                                        \
    }                                                                                            \
    if (first_fail_)                                                                             \
      fprintf(stderr,                                                                            \
              "{\"t\":%llu,\"source\":\"nfs-fuse\",\"type\":\"%s\",\"stall_ms\":%llu,\"error\":\"%s\"}\n", \
              (unsigned long long)wall_ms(), r >= 0 || definite(r) ? "reconnect" : "gave-up",    \
              (unsigned long long)(now_ms() - first_fail_), err_);                               \
    if (r < 0 && definite(r) && last_reconnect_ms && now_ms() - last_reconnect_ms < 1000) {      \
      char e_[160];                                                                              \
      snprintf(e_, sizeof e_, "%s", last_err);                                                   \
      json_clean(e_);                                                                            \
      fprintf(stderr,                                                                            \
              "{\"t\":%llu,\"source\":\"nfs-fuse\",\"type\":\"answer-after-reconnect\",\"op\":\"%s\",\"errno\":%d,\"since_reconnect_ms\":%llu,\"error\":\"%s\"}\n", \
              (unsigned long long)wall_ms(), what, -r, (unsigned long long)(now_ms() - last_reconnect_ms), e_); \
    }                                                                                            \
  } while (0)

static void json_clean(char *s) {
  for (; *s; s++)
    if (*s == '"' || *s == '\\' || (unsigned char)*s < 32) *s = '\'';
}

static void copy_stat(const struct nfs_stat_64 *s, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = s->nfs_ino;
  st->st_mode = s->nfs_mode;
  st->st_nlink = s->nfs_nlink;
  st->st_uid = s->nfs_uid;
  st->st_gid = s->nfs_gid;
  st->st_size = s->nfs_size;
  st->st_blksize = 65536;
  st->st_blocks = (s->nfs_size + 511) / 512;
  st->st_atim.tv_sec = s->nfs_atime, st->st_atim.tv_nsec = s->nfs_atime_nsec;
  st->st_mtim.tv_sec = s->nfs_mtime, st->st_mtim.tv_nsec = s->nfs_mtime_nsec;
  st->st_ctim.tv_sec = s->nfs_ctime, st->st_ctim.tv_nsec = s->nfs_ctime_nsec;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  struct nfs_stat_64 s;
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, "getattr", x_stat(path, &s));
  pthread_mutex_unlock(&lock);
  if (r < 0) return r;
  copy_stat(&s, st);
  return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  struct nfsdir *dir = NULL;
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, "readdir", x_opendir(path, &dir));
  if (r == 0) {
    struct nfsdirent *e;
    while ((e = nfs_readdir(nfs, dir))) fill(buf, e->name, NULL, 0, 0);
    nfs_closedir(nfs, dir);
  }
  pthread_mutex_unlock(&lock);
  return r < 0 ? r : 0;
}

/*
 * Opens cost nothing. Where the kernel allows it (FUSE_CAP_NO_OPEN_SUPPORT), open answers ENOSYS
 * once and the kernel stops sending OPEN and RELEASE at all, keeping each file's page cache
 * (FOPEN_KEEP_CACHE): Apache's open/read/close of a cached file then never wakes this process.
 * The two FUSE round trips per request were ~20 % of a capped node's CPU. Reads that miss the
 * page cache then come with no handle: they use an NFS handle from a small cache by path
 * (handle_for), closed on the server once read to its end, or when evicted.
 *
 * Otherwise opens are lazy: the NFS OPEN is sent on the first read that reaches us, and a cached
 * file's open/read/close costs no NFS call; an eager OPEN + CLOSE per request was most of a capped
 * node's CPU and a round trip to the server each. A file that does not exist never gets here: the
 * kernel's lookup (getattr) answered ENOENT first.
 */
static int no_open; /* the kernel skips OPEN/RELEASE after one ENOSYS */

#define HANDLE_CACHE 64
static struct handle handle_cache[HANDLE_CACHE]; /* reads without an open handle; under `lock` */
static uint64_t handle_clock[HANDLE_CACHE], handle_ticks;

static void close_handle(struct handle *h) {
  if (h->fh && h->gen == generation && nfs) {
    /* Waited for: libnfs counts the open-owner's seqid up when an answer comes, so an OPEN sent
     * before the CLOSE's answer would reuse its seqid (NFS4ERR_BAD_SEQID). A lost connection here
     * only drops the context; the next call reconnects. */
    struct call c = {.kind = K_NONE};
    wait_call(&c, nfs_close_async(nfs, h->fh, call_cb, &c), CALL_LIMIT_MS);
  }
  h->fh = NULL;
}

/* The cached handle for a path, or the least recently used slot, closed and given the path. Under `lock`. */
static struct handle *handle_for(const char *path) {
  int victim = 0;
  for (int i = 0; i < HANDLE_CACHE; i++) {
    if (handle_cache[i].path && !strcmp(handle_cache[i].path, path)) {
      handle_clock[i] = ++handle_ticks;
      return &handle_cache[i];
    }
    if (handle_clock[i] < handle_clock[victim]) victim = i;
  }
  struct handle *h = &handle_cache[victim];
  close_handle(h);
  free(h->path);
  if (!(h->path = strdup(path))) return NULL;
  handle_clock[victim] = ++handle_ticks;
  return h;
}

static int op_open(const char *path, struct fuse_file_info *fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  if (no_open) return -ENOSYS;
  struct handle *h = calloc(1, sizeof *h);
  if (!h || !(h->path = strdup(path))) return free(h), -ENOMEM;
  fi->fh = (uint64_t)(uintptr_t)h;
  return 0;
}

/* pread on the handle, opening it by path first (lazy open) or again if its context is gone. */
static int pread_handle(struct handle *h, char *buf, size_t size, off_t off) {
  if (!h->fh || h->gen != generation) {
    h->fh = NULL; /* not opened yet, or died with its context */
    int r = x_open(h->path, &h->fh);
    if (r < 0) return r;
    h->gen = generation;
  }
  return x_pread(h->fh, buf, size, off);
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  size_t done = 0;
  int r = 0;
  pthread_mutex_lock(&lock);
  /* fh 0: no open was sent (no_open), the handle comes from the cache */
  struct handle *h = fi->fh ? (struct handle *)(uintptr_t)fi->fh : path ? handle_for(path) : NULL;
  if (!h) {
    pthread_mutex_unlock(&lock);
    return -ENOMEM;
  }
  while (done < size) { /* the server may return less than asked (its read maximum) */
    RETRY(r, "read", pread_handle(h, buf + done, size - done, off + done));
    if (r <= 0) break;
    done += r;
  }
  /* A cached handle read to its end is closed now, while its connection just answered: a file is
   * read once and then served from the page cache, and closing it later, at eviction, could wait
   * on a connection that has died since (a NIC down) inside another file's read. */
  if (!fi->fh && r == 0 && done < size) {
    close_handle(h);
    free(h->path);
    h->path = NULL;
    handle_clock[h - handle_cache] = 0;
  }
  pthread_mutex_unlock(&lock);
  return r < 0 && done == 0 ? r : (int)done;
}

static int op_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&lock);
  close_handle(h);
  pthread_mutex_unlock(&lock);
  free(h->path);
  free(h);
  return 0;
}

static int op_readlink(const char *path, char *buf, size_t size) {
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, "readlink", x_readlink(path, buf, size));
  pthread_mutex_unlock(&lock);
  return r < 0 ? r : 0;
}

static int op_statfs(const char *path, struct statvfs *sv) {
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, "statfs", x_statvfs(path, sv));
  pthread_mutex_unlock(&lock);
  return r;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  cfg->use_ino = 1;
  no_open = !getenv("NFSFUSE_OPEN") && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
  return NULL;
}

static const struct fuse_operations ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .readlink = op_readlink,
    .statfs = op_statfs,
};

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s SERVER EXPORT MOUNTPOINT [fuse options]\n", argv[0]);
    return 2;
  }
  server = argv[1];
  export_path = argv[2];
  if (getenv("NFSFUSE_TIMEOUT_MS")) timeout_ms = atoi(getenv("NFSFUSE_TIMEOUT_MS"));
  if (getenv("NFSFUSE_RETRY_MS")) retry_ms = atoi(getenv("NFSFUSE_RETRY_MS"));
  setvbuf(stderr, NULL, _IOLBF, 0);
  char host[64] = "?";
  gethostname(host, sizeof host - 1);
  snprintf(client_name, sizeof client_name, "halab-nfsfuse %s pid %d since %llu", host, (int)getpid(), (unsigned long long)wall_ms());
  /* The first mount may time out under load too: retry it like any other call. */
  int r;
  uint64_t t0 = now_ms();
  while ((r = reconnect()) < 0 && now_ms() - t0 < (uint64_t)retry_ms) usleep(200000);
  if (r < 0) {
    fprintf(stderr, "halab-nfsfuse: mounting %s:%s failed: %s\n", server, export_path, strerror(-r));
    return 1;
  }
  argv[2] = argv[0]; /* fuse_main sees: prog MOUNTPOINT [options] */
  return fuse_main(argc - 2, argv + 2, &ops, NULL);
}
