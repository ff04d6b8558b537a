/*
 * halab-nfsfuse: a small read-only FUSE client for one NFSv4 export (libnfs sync API + libfuse3
 * high-level API). Debian packages no FUSE NFS client and the host kernel has no NFS client, so
 * container nodes mount their web content with this.
 *
 * It survives the server's floating IP moving to another server: every NFS call runs with a short
 * RPC timeout; a call failing with anything but a definite answer (ENOENT, EACCES, ...) drops the
 * context, mounts again on a fresh one (the new owner of the IP) and retries by path until a
 * deadline. Open files remember their path and reopen after a reconnect. One lock serialises the
 * libnfs context (its sync API is not thread-safe); the kernel's attribute, entry and page
 * caches keep most of Apache's requests from reaching this process at all.
 *
 * Each reconnect is logged as a JSON line on stderr: {"t","source","type","stall_ms","error"}.
 *
 * Usage: halab-nfsfuse SERVER EXPORT MOUNTPOINT [-o fuse options] [-f]
 *   env NFSFUSE_TIMEOUT_MS (RPC timeout, default 300), NFSFUSE_RETRY_MS (give up after, 30000)
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <nfsc/libnfs.h>
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

/* Fresh context + mount. Called with the lock held. */
static int reconnect(void) {
  if (nfs) nfs_destroy_context(nfs);
  nfs = nfs_init_context();
  if (!nfs) return -ENOMEM;
  nfs_set_version(nfs, 4); /* NFS_V4: its header is not in libnfs.h */
  nfs_set_timeout(nfs, timeout_ms);
  nfs_set_autoreconnect(nfs, 0); /* we reconnect ourselves, on a fresh context */
  int r = nfs_mount(nfs, server, export_path);
  if (r) {
    nfs_destroy_context(nfs);
    nfs = NULL;
    return r < 0 ? r : -EIO;
  }
  generation++;
  return 0;
}

/*
 * Run `call` (an expression using `nfs` that returns <0 on error) until it succeeds, fails
 * definitely, or retry_ms passes; reconnecting in between. Sets `r`. Lock held by the caller.
 */
#define RETRY(r, call)                                                                           \
  do {                                                                                           \
    uint64_t t0_ = now_ms(), first_fail_ = 0;                                                    \
    char err_[160] = "";                                                                         \
    for (;;) {                                                                                   \
      r = nfs ? (call) : -ENOTCONN;                                                              \
      if (r >= 0 || definite(r)) break;                                                          \
      if (!first_fail_) {                                                                        \
        first_fail_ = now_ms();                                                                  \
        snprintf(err_, sizeof err_, "%s", nfs ? nfs_get_error(nfs) : "not connected");           \
        for (char *c_ = err_; *c_; c_++)                                                         \
          if (*c_ == '"' || *c_ == '\\' || (unsigned char)*c_ < 32) *c_ = '\'';                \
      }                                                                                          \
      if (now_ms() - t0_ > (uint64_t)retry_ms) break;                                            \
      if (reconnect() < 0) usleep(50000);                                                        \
    }                                                                                            \
    if (first_fail_)                                                                             \
      fprintf(stderr,                                                                            \
              "{\"t\":%llu,\"source\":\"nfs-fuse\",\"type\":\"%s\",\"stall_ms\":%llu,\"error\":\"%s\"}\n", \
              (unsigned long long)wall_ms(), r >= 0 || definite(r) ? "reconnect" : "gave-up",    \
              (unsigned long long)(now_ms() - first_fail_), err_);                               \
  } while (0)

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
  RETRY(r, nfs_stat64(nfs, path, &s));
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
  RETRY(r, nfs_opendir(nfs, path, &dir));
  if (r == 0) {
    struct nfsdirent *e;
    while ((e = nfs_readdir(nfs, dir))) fill(buf, e->name, NULL, 0, 0);
    nfs_closedir(nfs, dir);
  }
  pthread_mutex_unlock(&lock);
  return r < 0 ? r : 0;
}

static int op_open(const char *path, struct fuse_file_info *fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  struct handle *h = calloc(1, sizeof *h);
  if (!h || !(h->path = strdup(path))) return free(h), -ENOMEM;
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, nfs_open(nfs, path, O_RDONLY, &h->fh));
  h->gen = generation;
  pthread_mutex_unlock(&lock);
  if (r < 0) return free(h->path), free(h), r;
  fi->fh = (uint64_t)(uintptr_t)h;
  return 0;
}

/* pread on the handle, reopening it by path if the context it was opened on is gone. */
static int pread_handle(struct handle *h, char *buf, size_t size, off_t off) {
  if (h->gen != generation) {
    h->fh = NULL; /* died with its context */
    int r = nfs_open(nfs, h->path, O_RDONLY, &h->fh);
    if (r < 0) return r;
    h->gen = generation;
  }
  return nfs_pread(nfs, h->fh, off, size, buf);
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  size_t done = 0;
  int r = 0;
  pthread_mutex_lock(&lock);
  while (done < size) { /* the server may return less than asked (its read maximum) */
    RETRY(r, pread_handle(h, buf + done, size - done, off + done));
    if (r <= 0) break;
    done += r;
  }
  pthread_mutex_unlock(&lock);
  return r < 0 && done == 0 ? r : (int)done;
}

static int op_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  pthread_mutex_lock(&lock);
  if (h->fh && h->gen == generation && nfs) nfs_close(nfs, h->fh);
  pthread_mutex_unlock(&lock);
  free(h->path);
  free(h);
  return 0;
}

static int op_readlink(const char *path, char *buf, size_t size) {
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, nfs_readlink(nfs, path, buf, size));
  pthread_mutex_unlock(&lock);
  return r < 0 ? r : 0;
}

static int op_statfs(const char *path, struct statvfs *sv) {
  int r;
  pthread_mutex_lock(&lock);
  RETRY(r, nfs_statvfs(nfs, path, sv));
  pthread_mutex_unlock(&lock);
  return r;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->use_ino = 1;
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
