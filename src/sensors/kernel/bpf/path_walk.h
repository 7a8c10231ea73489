/* What d_path() does, by hand (bpf_d_path is not allowed in tracepoint programs): the absolute
 * path of a (dentry, vfsmount) pair as seen from a root, built backwards in a per-CPU buffer by
 * a bpf_loop() over the components, so that the verifier checks the step once. Shared by the
 * process sensor (executable, cwd) and the file sensor (opened files, directories).
 *
 * The walk runs on every reported open, so it reads the dentry and mount fields with direct
 * loads through bpf_rdonly_cast() (kernel 6.2+; a faulting load reads zero) instead of a
 * bpf_probe_read_kernel() call each: one helper call per component (its name) instead of five. */
#ifndef RINGSIDE_PATH_WALK_H
#define RINGSIDE_PATH_WALK_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "path_abi.h"

extern void* bpf_rdonly_cast(const void* obj, __u32 btf_id) __ksym;

/* A kernel pointer held as a number (in a map, or read with a helper) as a typed, read-only
 * pointer whose fields can be loaded directly. */
#define RS_CAST(ptr, type) \
  ((type*)bpf_rdonly_cast((const void*)(__u64)(ptr), bpf_core_type_id_kernel(type)))

/* State of the walk; kept in a map so that every value is unknown to the verifier after the
 * loop and the caller's states converge at once. */
struct walk_state {
  __u64 dentry, vfsmnt, root_dentry, root_mnt;
  __u32 pos, leaf, done, cut;
};

/* A path is built backwards, ending at buf[RS_PATH_MAX - 1]; the second half of the buffer is
 * slack, so that a fixed-size read starting anywhere in the path stays inside it. */
struct path_walk {
  __u8 buf[2 * RS_PATH_MAX];
  struct walk_state walk;
};

struct walk_ctx {
  struct path_walk* pw;
};

/* One step up: a dentry name, or a crossing from a mount's root to where it is mounted. */
static long walk_step(__u32 i, struct walk_ctx* ctx) {
  struct path_walk* pw = ctx->pw;
  struct walk_state* w = &pw->walk;
  struct dentry* dentry = RS_CAST(w->dentry, struct dentry);
  struct vfsmount* vfsmnt = RS_CAST(w->vfsmnt, struct vfsmount);
  const __u32 mask = RS_PATH_MAX - 1;

  if (w->dentry == w->root_dentry && w->vfsmnt == w->root_mnt) {
    w->done = 1; /* the process's root (chroot) */
    return 1;
  }
  __u64 mnt_root = (__u64)vfsmnt->mnt_root;
  __u64 parent = (__u64)dentry->d_parent;
  if (w->dentry == mnt_root || w->dentry == parent) {
    struct mount* mnt = RS_CAST(w->vfsmnt - bpf_core_field_offset(struct mount, mnt), struct mount);
    __u64 up = (__u64)mnt->mnt_parent;
    if (w->dentry != mnt_root || w->vfsmnt - bpf_core_field_offset(struct mount, mnt) == up) {
      w->done = 1; /* root of the mount tree, or of a detached file system */
      return 1;
    }
    w->dentry = (__u64)mnt->mnt_mountpoint;
    w->vfsmnt = up + bpf_core_field_offset(struct mount, mnt);
    return 0;
  }
  __u32 n = dentry->d_name.len;
  const unsigned char* name = dentry->d_name.name;
  __u32 pos = w->pos;
  if (pos > mask || n + 1 > pos) {
    w->cut = 1;
    return 1;
  }
  pos -= n + 1;
  if (bpf_probe_read_kernel(&pw->buf[(pos + 1) & mask], n & mask, name)) {
    w->cut = 1;
    return 1;
  }
  pw->buf[pos & mask] = '/';
  if (!w->leaf) w->leaf = n;
  w->pos = pos;
  w->dentry = parent;
  return 0;
}

/* Builds the absolute path of (dentry, vfsmnt) as seen from (root_dentry, root_mnt) in pw->buf,
 * NUL-terminated at buf[RS_PATH_MAX - 1]. Returns where it starts (its length with the NUL is
 * RS_PATH_MAX - start), or RS_PATH_MAX when there is nothing to walk. *leaf gets the length of
 * the last component; *cut is set when a limit kept only the deepest components. */
static __always_inline __u32 walk_path(struct path_walk* pw, struct dentry* dentry,
                                       struct vfsmount* vfsmnt, struct dentry* root_dentry,
                                       struct vfsmount* root_mnt, __u32* leaf, int* cut) {
  struct walk_ctx wc = {.pw = pw};
  __u32 pos;

  *leaf = 0;
  *cut = 0;
  if (!dentry || !vfsmnt) return RS_PATH_MAX;
  pw->walk.dentry = (__u64)dentry;
  pw->walk.vfsmnt = (__u64)vfsmnt;
  pw->walk.root_dentry = (__u64)root_dentry;
  pw->walk.root_mnt = (__u64)root_mnt;
  pw->walk.pos = RS_PATH_MAX - 1;
  pw->walk.leaf = 0;
  pw->walk.done = 0;
  pw->walk.cut = 0;
  pw->buf[RS_PATH_MAX - 1] = '\0';
  bpf_loop(RS_PATH_COMPONENTS, walk_step, &wc, 0);

  pos = pw->walk.pos;
  if (pos >= RS_PATH_MAX) return RS_PATH_MAX;
  if (pos == RS_PATH_MAX - 1) { /* no component: the root itself */
    pos = RS_PATH_MAX - 2;
    pw->buf[RS_PATH_MAX - 2] = '/';
  }
  *leaf = pw->walk.leaf;
  *cut = pw->walk.cut || !pw->walk.done;
  return pos;
}

#endif /* RINGSIDE_PATH_WALK_H */
